package verifiers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ErrAbsent is returned when a record is proven not to exist: a verified
// negative answer, not a failure to verify.
var ErrAbsent = errors.New("record proven absent")

// API is what the verifier asks a node (cli/client satisfies it).
type API interface {
	LightBlockSource
	GetRecord(ctx context.Context, id string, height int64, prove bool) (*pb.GetRecordResponse, error)
	GetMember(ctx context.Context, id string, height int64, prove bool) (*pb.GetMemberResponse, error)
}

// Verified describes a record whose every part was checked.
type Verified struct {
	RecordID     string    `json:"record_id"`
	Kind         string    `json:"kind"`
	Author       string    `json:"author"`
	Signers      []string  `json:"signers"`
	RecordHeight int64     `json:"record_height"`
	BlockTime    time.Time `json:"block_time"`
	// Height is the state height the answer was read at; its app hash is in
	// header Height+1, whose hash is HeaderHash.
	Height     int64  `json:"height"`
	AppHash    string `json:"app_hash"`
	HeaderHash string `json:"header_hash"`
}

// Verifier checks answers from one node against headers verified by a
// light client that cross-checks other nodes.
type Verifier struct {
	API     API
	Light   *LightClient
	ChainID string
}

// Record fetches record id with proofs, verifies the header that commits to
// the answer, the proofs, and every signature against member keys that are
// themselves proven at the record's height. It returns the verified record
// and an evidence bundle for offline re-checking. A proven absence is
// reported as ErrAbsent (with the verified height in Verified).
func (v *Verifier) Record(ctx context.Context, id string) (*Verified, *Bundle, error) {
	resp, err := v.API.GetRecord(ctx, id, 0, true)
	if err != nil {
		var ce codedError
		if errors.As(err, &ce) && ce.LedgerCode() == ledger.CodeUnknownRecord {
			return v.absence(ctx, id, ce)
		}
		return nil, nil, err
	}
	lb, err := v.Light.Header(ctx, resp.Height+1)
	if err != nil {
		return nil, nil, err
	}
	rec, err := Record(lb.AppHash, id, resp)
	if err != nil {
		return nil, nil, fmt.Errorf("answer at height %d: %w", resp.Height, err)
	}
	signers, err := Signers(rec)
	if err != nil {
		return nil, nil, failf("%v", err)
	}
	mh := memberHeight(rec.Height)
	mlb, err := v.Light.Header(ctx, mh+1)
	if err != nil {
		return nil, nil, err
	}
	members := map[string]*pb.Member{}
	var memberResps []*pb.GetMemberResponse
	for _, s := range signers {
		mr, err := v.API.GetMember(ctx, s, mh, true)
		if err != nil {
			return nil, nil, fmt.Errorf("member %q at height %d: %w", s, mh, err)
		}
		if mr.Height != mh {
			return nil, nil, failf("asked for member %q at height %d, got height %d", s, mh, mr.Height)
		}
		m, err := Member(mlb.AppHash, s, mr)
		if err != nil {
			return nil, nil, err
		}
		members[s] = m
		memberResps = append(memberResps, mr)
	}
	if err := Signatures(rec, members); err != nil {
		return nil, nil, err
	}
	out := verified(rec, signers, resp.Height, lb)
	bundle, err := v.bundle(id, resp, memberResps, resp.Height+1, mh+1)
	if err != nil {
		return out, nil, err
	}
	return out, bundle, nil
}

// memberHeight is the state a record's signatures were checked against:
// the state before its block (or the first state, for block 1).
func memberHeight(recordHeight int64) int64 {
	if recordHeight > 1 {
		return recordHeight - 1
	}
	return recordHeight
}

func (v *Verifier) absence(ctx context.Context, id string, ce codedError) (*Verified, *Bundle, error) {
	var resp *pb.GetRecordResponse
	for _, d := range ce.ErrorDetails() {
		if r, ok := d.(*pb.GetRecordResponse); ok {
			resp = r
		}
	}
	if resp == nil {
		return nil, nil, failf("node says %s is absent but sent no proof", id)
	}
	lb, err := v.Light.Header(ctx, resp.Height+1)
	if err != nil {
		return nil, nil, err
	}
	if err := Absence(lb.AppHash, id, resp); err != nil {
		return nil, nil, err
	}
	out := &Verified{RecordID: id, Height: resp.Height, AppHash: fmt.Sprintf("%X", lb.AppHash), HeaderHash: fmt.Sprintf("%X", lb.Hash())}
	b, err := v.bundle(id, resp, nil, resp.Height+1)
	if err != nil {
		return out, nil, err
	}
	return out, b, ErrAbsent
}

func verified(rec *pb.StoredRecord, signers []string, height int64, lb *types.LightBlock) *Verified {
	return &Verified{
		RecordID: rec.Id, Kind: ledger.KindNameOf(rec.Kind), Author: rec.Author, Signers: signers,
		RecordHeight: rec.Height, BlockTime: rec.BlockTime.AsTime(), Height: height,
		AppHash: fmt.Sprintf("%X", lb.AppHash), HeaderHash: fmt.Sprintf("%X", lb.Hash()),
	}
}

func (v *Verifier) bundle(id string, resp *pb.GetRecordResponse, members []*pb.GetMemberResponse, heights ...int64) (*Bundle, error) {
	top := int64(0)
	for _, h := range heights {
		top = max(top, h)
	}
	trace, err := v.Light.Trace(top)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Format: BundleFormat, ChainID: v.ChainID, RecordID: id}
	if b.Record, err = protojson.Marshal(resp); err != nil {
		return nil, err
	}
	for _, m := range members {
		bz, err := protojson.Marshal(m)
		if err != nil {
			return nil, err
		}
		b.Members = append(b.Members, json.RawMessage(bz))
	}
	// The trace holds the headers the light client actually verified; make
	// sure the ones the answers need are in it.
	have := map[int64]bool{}
	for _, lb := range trace {
		have[lb.Height] = true
	}
	for _, h := range heights {
		if !have[h] {
			lb, err := v.Light.Header(context.Background(), h)
			if err != nil {
				return nil, err
			}
			trace = insertSorted(trace, lb)
		}
	}
	for _, lb := range trace {
		p, err := lb.ToProto()
		if err != nil {
			return nil, err
		}
		bz, err := p.Marshal()
		if err != nil {
			return nil, err
		}
		b.LightBlocks = append(b.LightBlocks, bz)
	}
	return b, nil
}

func insertSorted(s []*types.LightBlock, lb *types.LightBlock) []*types.LightBlock {
	i := 0
	for i < len(s) && s[i].Height < lb.Height {
		i++
	}
	s = append(s, nil)
	copy(s[i+1:], s[i:])
	s[i] = lb
	return s
}
