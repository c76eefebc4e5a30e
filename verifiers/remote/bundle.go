package remote

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/checkpoint"
)

// BundleFormat names version 2 of the evidence bundle format: the record
// answer proves its RecordRef, the log state (meta/log) and the record's
// inclusion in the record log (app version 4 on).
const BundleFormat = "normledger-evidence/v2"

// BundleFormatV1 bundles (app versions 1-3: the record itself in the state)
// still verify.
const BundleFormatV1 = "normledger-evidence/v1"

// Bundle is offline evidence for one answer: the record (or its absence)
// with proofs, the signers' member entries with proofs, and the chain of
// signed headers (with validator sets) from a trust root up to the headers
// that commit to those answers. Checking it needs no network.
type Bundle struct {
	Format   string            `json:"format"`
	ChainID  string            `json:"chain_id"`
	RecordID string            `json:"record_id"`
	Record   json.RawMessage   `json:"record"`            // GetRecordResponse (protojson)
	Members  []json.RawMessage `json:"members,omitempty"` // GetMemberResponse (protojson), one per signer, before the record's block
	// CurrentMembers are the signers' entries at the answer's height (when
	// it differs from the members'), from which the record's flags follow.
	CurrentMembers []json.RawMessage `json:"current_members,omitempty"`
	// Protobuf-encoded tendermint.types.LightBlock, ascending heights; the
	// first is the trust root.
	LightBlocks [][]byte `json:"light_blocks"`
	// Checkpoint is the cosigned checkpoint note that covers the answer
	// (when the verifier had a witness policy): the answer is at its height.
	Checkpoint string `json:"checkpoint,omitempty"`
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
	return VerifyBundlePolicy(b, root, nil)
}

// VerifyBundlePolicy is VerifyBundle that, with a witness policy, also
// requires the bundle's checkpoint to carry a quorum of the policy's
// cosignatures, its header to be one of the bundle's verified headers, and
// the answer to prove exactly the log the checkpoint names.
func VerifyBundlePolicy(b *Bundle, root TrustRoot, policy *checkpoint.Policy) (*Verified, error) {
	if b.Format != BundleFormat && b.Format != BundleFormatV1 {
		return nil, verifiers.Failf("unknown bundle format %q", b.Format)
	}
	if root.Period == 0 {
		root.Period = DefaultTrustPeriod
	}
	decoded, err := verifiers.DecodeLightBlocks(b.LightBlocks)
	if err != nil {
		return nil, err
	}
	var blocks []*types.LightBlock
	for i, lb := range decoded {
		if err := lb.ValidateBasic(b.ChainID); err != nil {
			return nil, verifiers.Failf("light block %d: %v", i, err)
		}
		if i > 0 && lb.Height <= blocks[i-1].Height {
			return nil, verifiers.Failf("light blocks are not in ascending order")
		}
		blocks = append(blocks, lb)
	}
	if len(blocks) == 0 {
		return nil, verifiers.Failf("bundle has no headers")
	}
	first := blocks[0]
	if root.Height != 0 && first.Height != root.Height {
		return nil, verifiers.Failf("bundle starts at height %d, trust root is %d", first.Height, root.Height)
	}
	if len(root.Hash) != 0 && !bytes.Equal(first.Hash(), root.Hash) {
		return nil, verifiers.Failf("bundle's first header %X is not the trusted header %X", first.Hash(), root.Hash)
	}
	// Another valid commit check on the root itself: its own validators signed it.
	if err := first.ValidatorSet.VerifyCommitLight(b.ChainID, first.Commit.BlockID, first.Height, first.Commit); err != nil {
		return nil, verifiers.Failf("trust root header: %v", err)
	}
	now := blocks[len(blocks)-1].Time.Add(time.Minute)
	byHeight := map[int64]*types.LightBlock{first.Height: first}
	for i := 1; i < len(blocks); i++ {
		t, u := blocks[i-1], blocks[i]
		if err := light.Verify(t.SignedHeader, t.ValidatorSet, u.SignedHeader, u.ValidatorSet,
			root.Period, now, MaxClockDrift, light.DefaultTrustLevel); err != nil {
			return nil, verifiers.Failf("header %d from header %d: %v", u.Height, t.Height, err)
		}
		byHeight[u.Height] = u
	}
	resp := new(pb.GetRecordResponse)
	if err := protojson.Unmarshal(b.Record, resp); err != nil {
		return nil, verifiers.Failf("record answer does not decode: %v", err)
	}
	lb := byHeight[resp.Height+1]
	if lb == nil {
		return nil, verifiers.Failf("bundle lacks header %d that commits to the answer", resp.Height+1)
	}
	var cp *checkpoint.Checkpoint
	if policy != nil {
		if b.Checkpoint == "" {
			return nil, verifiers.Failf("no witness quorum: the bundle carries no cosigned checkpoint")
		}
		c, err := policy.Check([]byte(b.Checkpoint), b.ChainID, func(h *types.LightBlock) error {
			if v := byHeight[h.Height]; v == nil || !bytes.Equal(v.Hash(), h.Hash()) {
				return fmt.Errorf("header %d is not one of the bundle's verified headers", h.Height)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if c.Height != resp.Height {
			return nil, verifiers.Failf("the cosigned checkpoint is of height %d, the answer of height %d", c.Height, resp.Height)
		}
		cp = c
	}
	if resp.Record == nil {
		if err := verifiers.Absence(lb.AppHash, b.RecordID, resp); err != nil {
			return nil, err
		}
		out := &Verified{RecordID: b.RecordID, Height: resp.Height, AppHash: fmt.Sprintf("%X", lb.AppHash), HeaderHash: fmt.Sprintf("%X", lb.Hash())}
		if cp != nil {
			out.Cosigners = cp.Cosigners
		}
		return out, ErrAbsent
	}
	check := verifiers.Record
	if b.Format == BundleFormatV1 {
		check = verifiers.RecordV1
	}
	rec, err := check(lb.AppHash, b.RecordID, resp)
	if err != nil {
		return nil, err
	}
	signers, err := verifiers.Signers(rec)
	if err != nil {
		return nil, verifiers.Failf("%v", err)
	}
	members, err := bundleMembers(b.Members, byHeight, verifiers.MemberHeight(rec.Height), signers)
	if err != nil {
		return nil, err
	}
	if err := verifiers.Signatures(rec, members); err != nil {
		return nil, err
	}
	out := verified(rec, signers, resp.Height, lb)
	if b.Format == BundleFormat {
		ls, err := verifiers.ProvenLog(lb.AppHash, resp.Proofs[1], resp.Height)
		if err != nil {
			return nil, err
		}
		out.LogSize, out.LogRoot = ls.Size, fmt.Sprintf("%X", ls.Root)
		if cp != nil {
			if cp.Size != ls.Size || !bytes.Equal(cp.Root, ls.Root) {
				return nil, verifiers.Failf("the answer's log is inconsistent with the cosigned checkpoint")
			}
			out.Cosigners = cp.Cosigners
		}
	}
	current := members
	if resp.Height != verifiers.MemberHeight(rec.Height) {
		if len(b.CurrentMembers) == 0 {
			// A bundle made before flags existed: nothing to check them by.
			return out, nil
		}
		if current, err = bundleMembers(b.CurrentMembers, byHeight, resp.Height, signers); err != nil {
			return nil, err
		}
	}
	if out.Flags, err = verifiers.CheckFlags(rec, current, resp.Flags); err != nil {
		return nil, err
	}
	out.FlagsChecked = true
	return out, nil
}

// bundleMembers verifies member answers that must all be at height, one per
// signer: no signer missing, nobody else, nobody twice.
func bundleMembers(raws []json.RawMessage, byHeight map[int64]*types.LightBlock, height int64, signers []string) (map[string]*pb.Member, error) {
	if len(raws) != len(signers) {
		return nil, verifiers.Failf("bundle carries %d member entries at height %d for %d signers", len(raws), height, len(signers))
	}
	members := map[string]*pb.Member{}
	for _, raw := range raws {
		mr := new(pb.GetMemberResponse)
		if err := protojson.Unmarshal(raw, mr); err != nil {
			return nil, verifiers.Failf("member answer does not decode: %v", err)
		}
		mlb := byHeight[mr.Height+1]
		if mlb == nil {
			return nil, verifiers.Failf("bundle lacks header %d for a member proof", mr.Height+1)
		}
		if mr.Height != height || mr.Member == nil {
			return nil, verifiers.Failf("member proof is at height %d, want %d", mr.Height, height)
		}
		m, err := verifiers.Member(mlb.AppHash, mr.Member.Id, mr)
		if err != nil {
			return nil, err
		}
		if _, dup := members[m.Id]; dup || !slices.Contains(signers, m.Id) {
			return nil, verifiers.Failf("bundle's member entry for %q at height %d is not one per signer", m.Id, height)
		}
		members[m.Id] = m
	}
	return members, nil
}
