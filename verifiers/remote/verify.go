package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/checkpoint"
)

// ErrAbsent is returned when a record is proven not to exist: a verified
// negative answer, not a failure to verify.
var ErrAbsent = errors.New("record proven absent")

// API is what the verifier asks a node (client.Client satisfies it).
type API interface {
	LightBlockSource
	ConsistencySource
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
	// Flags are the warnings the verifier itself derived from the signers'
	// member entries proven at Height (a signing key revoked as compromised
	// at or before the record); the node's own flags must say the same.
	Flags []*pb.RecordFlag `json:"flags,omitempty"`
	// FlagsChecked is false only for old bundles that carry no member
	// entries at the answer's height.
	FlagsChecked bool `json:"flags_checked"`
	// The record's place in the record log, and the log (size, root) at
	// Height that the inclusion proof verified against (0 for a v1 bundle).
	LogIndex uint64 `json:"log_index"`
	LogSize  uint64 `json:"log_size,omitempty"`
	LogRoot  string `json:"log_root,omitempty"`
	// LogConsistent says the log was checked against the newest one the
	// trust store accepted before (online verification only).
	LogConsistent bool `json:"log_consistent,omitempty"`
	// Cosigners are the witnesses whose cosignatures on the checkpoint
	// that covers the answer verified (with a witness policy only).
	Cosigners []string `json:"cosigners,omitempty"`
}

// Verifier checks answers from one node against headers verified by a
// light client that cross-checks other nodes.
type Verifier struct {
	API     API
	Light   *LightClient
	ChainID string
	// Policy, if set, accepts an answer only if a checkpoint cosigned by a
	// quorum of its witnesses covers it (docs/witnesses.md): the answer is
	// read at that checkpoint's height and must prove the log it names.
	Policy *checkpoint.Policy
	// At, if set (and no Policy), reads answers at this state height
	// instead of the newest attested one. Answers at a fixed height never
	// change, so HTTP caches between the verifier and the node serve them
	// (docs/verifying.md, section 8); they are verified all the same.
	At int64
}

// CheckpointSource lists a node's checkpoints (client.Client satisfies it).
type CheckpointSource interface {
	ListCheckpoints(ctx context.Context, before int64, limit int) (*pb.ListCheckpointsResponse, error)
}

// cosigned finds the newest checkpoint the node serves that verifies with
// a witness quorum of the policy (its header checked by the light client).
func (v *Verifier) cosigned(ctx context.Context) (*checkpoint.Checkpoint, error) {
	src, ok := v.API.(CheckpointSource)
	if !ok {
		return nil, errors.New("this API serves no checkpoints")
	}
	res, err := src.ListCheckpoints(ctx, 0, 20)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	var reasons []string
	for _, info := range res.Checkpoints {
		c, err := v.Policy.Check([]byte(info.Note), v.ChainID, v.Light.checkHeader(ctx))
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("height %d: %v", info.Height, err))
			continue
		}
		if c.Height != info.Height {
			reasons = append(reasons, fmt.Sprintf("height %d: the note is of height %d", info.Height, c.Height))
			continue
		}
		return c, nil
	}
	if len(reasons) == 0 {
		return nil, verifiers.Failf("no witness quorum: the node serves no checkpoints")
	}
	return nil, verifiers.Failf("no witness quorum on any of the node's %d newest checkpoints (%s)", len(res.Checkpoints), reasons[0])
}

// Record fetches record id with proofs, verifies the header that commits to
// the answer, the proofs, and every signature against member keys that are
// themselves proven at the record's height. It returns the verified record
// and an evidence bundle for offline re-checking. A proven absence is
// reported as ErrAbsent (with the verified height in Verified).
func (v *Verifier) Record(ctx context.Context, id string) (*Verified, *Bundle, error) {
	var cp *checkpoint.Checkpoint
	at := v.At
	if v.Policy != nil {
		c, err := v.cosigned(ctx)
		if err != nil {
			return nil, nil, err
		}
		cp, at = c, c.Height
	}
	resp, err := v.API.GetRecord(ctx, id, at, true)
	if err != nil {
		var ce codedError
		if errors.As(err, &ce) && ce.LedgerCode() == ledger.CodeUnknownRecord {
			out, b, err := v.absence(ctx, id, ce)
			if cp != nil && b != nil {
				b.Checkpoint = string(cp.Note)
				if out != nil {
					out.Cosigners = cp.Cosigners
				}
			}
			return out, b, err
		}
		return nil, nil, err
	}
	if at > 0 && resp.Height != at {
		return nil, nil, verifiers.Failf("asked for the record at height %d, got height %d", at, resp.Height)
	}
	if cp != nil && resp.Height != cp.Height {
		return nil, nil, verifiers.Failf("asked for the record at the cosigned checkpoint's height %d, got height %d", cp.Height, resp.Height)
	}
	lb, err := v.Light.Header(ctx, resp.Height+1)
	if err != nil {
		return nil, nil, err
	}
	rec, ls, err := verifiers.RecordWithLog(lb.AppHash, id, resp)
	if err != nil {
		return nil, nil, fmt.Errorf("answer at height %d: %w", resp.Height, err)
	}
	// The log must extend (or be a prefix of) the newest one this trust
	// store accepted.
	if err := v.Light.CheckLog(ctx, v.API, ls); err != nil {
		return nil, nil, fmt.Errorf("answer at height %d: %w", resp.Height, err)
	}
	if cp != nil && (cp.Size != ls.Size || !bytes.Equal(cp.Root, ls.Root)) {
		return nil, nil, verifiers.Failf("the answer's log (%d entries, root %X) is inconsistent with the cosigned checkpoint (%d, %X)", ls.Size, ls.Root, cp.Size, cp.Root)
	}
	signers, err := verifiers.Signers(rec)
	if err != nil {
		return nil, nil, verifiers.Failf("%v", err)
	}
	mh := verifiers.MemberHeight(rec.Height)
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
			return nil, nil, verifiers.Failf("asked for member %q at height %d, got height %d", s, mh, mr.Height)
		}
		m, err := verifiers.Member(mlb.AppHash, s, mr)
		if err != nil {
			return nil, nil, err
		}
		members[s] = m
		memberResps = append(memberResps, mr)
	}
	if err := verifiers.Signatures(rec, members); err != nil {
		return nil, nil, err
	}
	// Flags come from the member entries at the answer's height: a key may
	// have been revoked as compromised after the record.
	current := members
	var currentResps []*pb.GetMemberResponse
	if resp.Height != mh {
		current = map[string]*pb.Member{}
		for _, s := range signers {
			mr, err := v.API.GetMember(ctx, s, resp.Height, true)
			if err != nil {
				return nil, nil, fmt.Errorf("member %q at height %d: %w", s, resp.Height, err)
			}
			if mr.Height != resp.Height {
				return nil, nil, verifiers.Failf("asked for member %q at height %d, got height %d", s, resp.Height, mr.Height)
			}
			m, err := verifiers.Member(lb.AppHash, s, mr)
			if err != nil {
				return nil, nil, err
			}
			current[s] = m
			currentResps = append(currentResps, mr)
		}
	}
	flags, err := verifiers.CheckFlags(rec, current, resp.Flags)
	if err != nil {
		return nil, nil, err
	}
	out := verified(rec, signers, resp.Height, lb)
	out.Flags, out.FlagsChecked = flags, true
	out.LogSize, out.LogRoot, out.LogConsistent = ls.Size, fmt.Sprintf("%X", ls.Root), true
	bundle, err := v.bundle(id, resp, memberResps, resp.Height+1, mh+1)
	if err != nil {
		return out, nil, err
	}
	if cp != nil {
		out.Cosigners = cp.Cosigners
		bundle.Checkpoint = string(cp.Note)
	}
	for _, m := range currentResps {
		bz, err := protojson.Marshal(m)
		if err != nil {
			return out, nil, err
		}
		bundle.CurrentMembers = append(bundle.CurrentMembers, json.RawMessage(bz))
	}
	return out, bundle, nil
}

func (v *Verifier) absence(ctx context.Context, id string, ce codedError) (*Verified, *Bundle, error) {
	var resp *pb.GetRecordResponse
	for _, d := range ce.ErrorDetails() {
		if r, ok := d.(*pb.GetRecordResponse); ok {
			resp = r
		}
	}
	if resp == nil {
		return nil, nil, verifiers.Failf("node says %s is absent but sent no proof", id)
	}
	if v.At > 0 && v.Policy == nil && resp.Height != v.At {
		return nil, nil, verifiers.Failf("asked for the record at height %d, got an absence at height %d", v.At, resp.Height)
	}
	lb, err := v.Light.Header(ctx, resp.Height+1)
	if err != nil {
		return nil, nil, err
	}
	if err := verifiers.Absence(lb.AppHash, id, resp); err != nil {
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
		RecordHeight: rec.Height, BlockTime: rec.BlockTime.AsTime(), Height: height, LogIndex: rec.Seq - 1,
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

// EvidenceSource serves evidence with proofs (client.Client satisfies it).
type EvidenceSource interface {
	Evidence(ctx context.Context, id string, height int64, prove bool) (*pb.GetEvidenceResponse, error)
}

// VerifiedEvidence is evidence of validator misbehaviour whose every part
// was checked: the entry is proven at Height (app hash in header Height+1,
// verified by the light client), and, when it names a member, that
// member's entry holding the validator key is proven in the state the
// committing block built on (MemberHeight).
type VerifiedEvidence struct {
	ID               string    `json:"id"`
	Type             string    `json:"type"`
	ValidatorAddress string    `json:"validator_address"`
	ValidatorPower   int64     `json:"validator_power"`
	TotalPower       int64     `json:"total_voting_power"`
	Member           string    `json:"member,omitempty"`
	MisbehaviorAt    int64     `json:"misbehaviour_height"`
	MisbehaviorTime  time.Time `json:"misbehaviour_time"`
	CommittedHeight  int64     `json:"committed_height"`
	CommittedTime    time.Time `json:"committed_time"`
	Height           int64     `json:"height"`
	AppHash          string    `json:"app_hash"`
	HeaderHash       string    `json:"header_hash"`
	MemberHeight     int64     `json:"member_height,omitempty"`
}

// Evidence fetches evidence id with its proof and verifies it, and the
// link to the member it names, against light-client-verified headers.
func (v *Verifier) Evidence(ctx context.Context, id string) (*VerifiedEvidence, error) {
	src, ok := v.API.(EvidenceSource)
	if !ok {
		return nil, errors.New("this API serves no evidence")
	}
	resp, err := src.Evidence(ctx, id, 0, true)
	if err != nil {
		return nil, err
	}
	lb, err := v.Light.Header(ctx, resp.Height+1)
	if err != nil {
		return nil, err
	}
	ev, err := verifiers.Evidence(lb.AppHash, id, resp)
	if err != nil {
		return nil, fmt.Errorf("answer at height %d: %w", resp.Height, err)
	}
	if ev.CommittedHeight < 1 || ev.CommittedHeight > resp.Height {
		return nil, verifiers.Failf("evidence %s says it was committed at height %d, after the answer's height %d", id, ev.CommittedHeight, resp.Height)
	}
	out := &VerifiedEvidence{ID: ev.Id, Type: ev.Type.String(), ValidatorAddress: fmt.Sprintf("%X", ev.ValidatorAddress),
		ValidatorPower: ev.ValidatorPower, TotalPower: ev.TotalVotingPower, Member: ev.Member,
		MisbehaviorAt: ev.Height, MisbehaviorTime: ev.Time.AsTime(), CommittedHeight: ev.CommittedHeight, CommittedTime: ev.CommittedTime.AsTime(),
		Height: resp.Height, AppHash: fmt.Sprintf("%X", lb.AppHash), HeaderHash: fmt.Sprintf("%X", lb.Hash())}
	if ev.Member == "" {
		return out, nil
	}
	// The ledger links evidence to the member holding the validator key in
	// the state the committing block built on: prove that entry.
	mh := ev.CommittedHeight - 1
	mr, err := v.API.GetMember(ctx, ev.Member, mh, true)
	if err != nil {
		return nil, fmt.Errorf("member %q at height %d: %w", ev.Member, mh, err)
	}
	if mr.Height != mh {
		return nil, verifiers.Failf("asked for member %q at height %d, got height %d", ev.Member, mh, mr.Height)
	}
	mlb, err := v.Light.Header(ctx, mh+1)
	if err != nil {
		return nil, err
	}
	m, err := verifiers.Member(mlb.AppHash, ev.Member, mr)
	if err != nil {
		return nil, err
	}
	if err := verifiers.EvidenceMember(ev, m); err != nil {
		return nil, err
	}
	out.MemberHeight = mh
	return out, nil
}

// Member fetches member id's entry with its proof (at v.At, or the newest
// attested height) and verifies it against the light-client-verified
// header: what to encrypt a sealed notice to without trusting the node.
func (v *Verifier) Member(ctx context.Context, id string) (*pb.Member, int64, error) {
	resp, err := v.API.GetMember(ctx, id, v.At, true)
	if err != nil {
		return nil, 0, err
	}
	if v.At > 0 && resp.Height != v.At {
		return nil, 0, verifiers.Failf("asked for member %s at height %d, got height %d", id, v.At, resp.Height)
	}
	lb, err := v.Light.Header(ctx, resp.Height+1)
	if err != nil {
		return nil, 0, err
	}
	m, err := verifiers.Member(lb.AppHash, id, resp)
	if err != nil {
		return nil, 0, fmt.Errorf("member %s at height %d: %w", id, resp.Height, err)
	}
	return m, resp.Height, nil
}
