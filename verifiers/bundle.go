package verifiers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cometbft/cometbft/light"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// BundleFormat names version 1 of the evidence bundle format.
const BundleFormat = "normledger-evidence/v1"

// Bundle is offline evidence for one answer: the record (or its absence)
// with proofs, the signers' member entries with proofs, and the chain of
// signed headers (with validator sets) from a trust root up to the headers
// that commit to those answers. Checking it needs no network.
type Bundle struct {
	Format   string            `json:"format"`
	ChainID  string            `json:"chain_id"`
	RecordID string            `json:"record_id"`
	Record   json.RawMessage   `json:"record"`            // GetRecordResponse (protojson)
	Members  []json.RawMessage `json:"members,omitempty"` // GetMemberResponse (protojson), one per signer
	// Protobuf-encoded tendermint.types.LightBlock, ascending heights; the
	// first is the trust root.
	LightBlocks [][]byte `json:"light_blocks"`
}

// MaxClockDrift bounds how far a header's time may lie ahead of "now".
const MaxClockDrift = 10 * time.Second

// VerifyBundle re-checks a bundle against a trust root the checker chooses
// (root.Hash must match the bundle's first header; a zero root trusts the
// bundle's first header, which only proves internal consistency). Headers
// are verified hop by hop with CometBFT's light.Verify as of the newest
// header's time, so old bundles stay checkable. It returns the verified
// record, or ErrAbsent with the verified height for a proven absence.
func VerifyBundle(b *Bundle, root TrustRoot) (*Verified, error) {
	if b.Format != BundleFormat {
		return nil, failf("unknown bundle format %q", b.Format)
	}
	if root.Period == 0 {
		root.Period = DefaultTrustPeriod
	}
	var blocks []*types.LightBlock
	for i, bz := range b.LightBlocks {
		p := new(cmtproto.LightBlock)
		if err := p.Unmarshal(bz); err != nil {
			return nil, failf("light block %d does not decode: %v", i, err)
		}
		lb, err := types.LightBlockFromProto(p)
		if err != nil {
			return nil, failf("light block %d: %v", i, err)
		}
		if err := lb.ValidateBasic(b.ChainID); err != nil {
			return nil, failf("light block %d: %v", i, err)
		}
		if i > 0 && lb.Height <= blocks[i-1].Height {
			return nil, failf("light blocks are not in ascending order")
		}
		blocks = append(blocks, lb)
	}
	if len(blocks) == 0 {
		return nil, failf("bundle has no headers")
	}
	first := blocks[0]
	if root.Height != 0 && first.Height != root.Height {
		return nil, failf("bundle starts at height %d, trust root is %d", first.Height, root.Height)
	}
	if len(root.Hash) != 0 && !bytes.Equal(first.Hash(), root.Hash) {
		return nil, failf("bundle's first header %X is not the trusted header %X", first.Hash(), root.Hash)
	}
	// Another valid commit check on the root itself: its own validators signed it.
	if err := first.ValidatorSet.VerifyCommitLight(b.ChainID, first.Commit.BlockID, first.Height, first.Commit); err != nil {
		return nil, failf("trust root header: %v", err)
	}
	now := blocks[len(blocks)-1].Time.Add(time.Minute)
	byHeight := map[int64]*types.LightBlock{first.Height: first}
	for i := 1; i < len(blocks); i++ {
		t, u := blocks[i-1], blocks[i]
		if err := light.Verify(t.SignedHeader, t.ValidatorSet, u.SignedHeader, u.ValidatorSet,
			root.Period, now, MaxClockDrift, light.DefaultTrustLevel); err != nil {
			return nil, failf("header %d from header %d: %v", u.Height, t.Height, err)
		}
		byHeight[u.Height] = u
	}
	resp := new(pb.GetRecordResponse)
	if err := protojson.Unmarshal(b.Record, resp); err != nil {
		return nil, failf("record answer does not decode: %v", err)
	}
	lb := byHeight[resp.Height+1]
	if lb == nil {
		return nil, failf("bundle lacks header %d that commits to the answer", resp.Height+1)
	}
	if resp.Record == nil {
		if err := Absence(lb.AppHash, b.RecordID, resp); err != nil {
			return nil, err
		}
		return &Verified{RecordID: b.RecordID, Height: resp.Height, AppHash: fmt.Sprintf("%X", lb.AppHash), HeaderHash: fmt.Sprintf("%X", lb.Hash())}, ErrAbsent
	}
	rec, err := Record(lb.AppHash, b.RecordID, resp)
	if err != nil {
		return nil, err
	}
	signers, err := Signers(rec)
	if err != nil {
		return nil, failf("%v", err)
	}
	members := map[string]*pb.Member{}
	for _, raw := range b.Members {
		mr := new(pb.GetMemberResponse)
		if err := protojson.Unmarshal(raw, mr); err != nil {
			return nil, failf("member answer does not decode: %v", err)
		}
		mlb := byHeight[mr.Height+1]
		if mlb == nil {
			return nil, failf("bundle lacks header %d for a member proof", mr.Height+1)
		}
		if mr.Height != memberHeight(rec.Height) || mr.Member == nil {
			return nil, failf("member proof is at height %d, want %d", mr.Height, memberHeight(rec.Height))
		}
		m, err := Member(mlb.AppHash, mr.Member.Id, mr)
		if err != nil {
			return nil, err
		}
		members[m.Id] = m
	}
	if err := Signatures(rec, members); err != nil {
		return nil, err
	}
	return verified(rec, signers, resp.Height, lb), nil
}
