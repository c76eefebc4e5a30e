package verifiers_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

const testChainID = "verifiers-test"

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// testChain is a small ledger built with the real store, block by block the
// way the app's FinalizeBlock and Commit do it:
//
//	height 1: xaa files note1
//	height 2: xbb files note2
//	height 3: xaa proposes suspending xcc (prop), xbb proposes the same (prop2)
//	height 4: xaa votes yes on prop, xbb votes no
//	height 5: an empty block
type testChain struct {
	st      *store.Store
	members map[string]fixture.Member
	// ids of the records filed (see above), and the newest height
	note1, note2, prop, prop2, voteA, voteB string
	top                                     int64
}

var (
	chainOnce sync.Once
	chainVal  *testChain
	chainErr  error
)

// chain builds the test ledger once; it is only read afterwards.
func chain(t *testing.T) *testChain {
	t.Helper()
	chainOnce.Do(func() { chainVal, chainErr = buildChain() })
	if chainErr != nil {
		t.Fatalf("build test chain: %v", chainErr)
	}
	return chainVal
}

func buildChain() (*testChain, error) {
	ms := fixture.Dev(3, fixture.SeededKey)
	gs := fixture.Genesis(ms)
	fixture.SetValidator(gs, "xaa", fixture.SeededValidatorKey("xaa").PubKey().Bytes(), 10)
	st, err := store.OpenMem()
	if err != nil {
		return nil, err
	}
	if _, err := st.InitGenesis(testChainID, gs, 1, ledger.CurrentAppVersion); err != nil {
		return nil, err
	}
	c := &testChain{st: st, members: fixture.ByID(ms)}
	reg := ledger.DefaultRegistry()
	seq := map[string]uint64{}
	var height int64
	sign := func(author string, rec *pb.Record) ([]byte, error) {
		rec.SchemaVersion = 1
		seq[author]++
		return ledger.BuildTx(&pb.TxBody{ChainId: testChainID, Sequence: seq[author], Record: rec}, c.members[author].Signer())
	}
	block := func(txs ...[]byte) error {
		height++
		b := ledger.Block{ChainID: testChainID, Height: height, Time: t0.Add(time.Duration(height) * time.Minute), Params: ledger.DefaultParams()}
		if err := st.BeginBlock(height); err != nil {
			return err
		}
		bb, err := reg.BeginBlock(st.Working(), b)
		if err != nil {
			return err
		}
		if err := st.Write(bb); err != nil {
			return err
		}
		for i, tx := range txs {
			b.TxIndex = uint32(i)
			ch, err := reg.Apply(st.Working(), tx, b)
			if err != nil {
				return err
			}
			if err := st.Write(ch); err != nil {
				return err
			}
		}
		if _, _, err := st.EndBlock(); err != nil {
			return err
		}
		_, _, err = st.Commit()
		return err
	}
	note := func(summary string) *pb.Record {
		return &pb.Record{Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"lumen"}, Summary: summary}}}
	}
	proposal := func(title string) *pb.Record {
		return &pb.Record{Body: &pb.Record_Proposal{Proposal: &pb.Proposal{Title: title, Rationale: "test",
			Deadline: timestamppb.New(t0.Add(48 * time.Hour)),
			Action:   &pb.GovernanceAction{Action: &pb.GovernanceAction_SuspendMember{SuspendMember: &pb.MemberRef{Member: "xcc"}}}}}}
	}
	vote := func(pid string, opt pb.VoteOption) *pb.Record {
		return &pb.Record{Body: &pb.Record_Vote{Vote: &pb.Vote{ProposalId: pid, Option: opt}}}
	}

	tx1, err := sign("xaa", note("first note"))
	if err != nil {
		return nil, err
	}
	c.note1 = ledger.RecordID(tx1)
	if err := block(tx1); err != nil {
		return nil, err
	}
	tx2, err := sign("xbb", note("second note"))
	if err != nil {
		return nil, err
	}
	c.note2 = ledger.RecordID(tx2)
	if err := block(tx2); err != nil {
		return nil, err
	}
	tx3, err := sign("xaa", proposal("suspend xcc"))
	if err != nil {
		return nil, err
	}
	tx4, err := sign("xbb", proposal("suspend xcc, again"))
	if err != nil {
		return nil, err
	}
	c.prop, c.prop2 = ledger.RecordID(tx3), ledger.RecordID(tx4)
	if err := block(tx3, tx4); err != nil {
		return nil, err
	}
	tx5, err := sign("xaa", vote(c.prop, pb.VoteOption_VOTE_OPTION_YES))
	if err != nil {
		return nil, err
	}
	tx6, err := sign("xbb", vote(c.prop, pb.VoteOption_VOTE_OPTION_NO))
	if err != nil {
		return nil, err
	}
	c.voteA, c.voteB = ledger.RecordID(tx5), ledger.RecordID(tx6)
	if err := block(tx5, tx6); err != nil {
		return nil, err
	}
	if err := block(); err != nil {
		return nil, err
	}
	c.top = st.Version()
	return c, nil
}

func (c *testChain) view(t *testing.T, h int64) *store.View {
	t.Helper()
	v, err := c.st.At(h)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (c *testChain) root(t *testing.T, h int64) []byte { return c.view(t, h).RootHash() }

// proofOf proves key (present or absent) in v, as node/api does.
func proofOf(t *testing.T, v *store.View, key []byte) *pb.Proof {
	t.Helper()
	val, err := v.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Proof(key)
	if err != nil {
		t.Fatal(err)
	}
	bz, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return &pb.Proof{Key: key, Value: val, Proof: bz, Exists: val != nil}
}

// recordAnswer is GetRecord with prove=true as node/api assembles it (flags
// are left out: Record does not look at them). For an unknown id it is the
// absence answer the 404 carries.
func (c *testChain) recordAnswer(t *testing.T, h int64, id string) *pb.GetRecordResponse {
	t.Helper()
	v := c.view(t, h)
	rec, err := v.Record(id)
	if err != nil {
		t.Fatal(err)
	}
	idKey, err := layout.ID(id)
	if err != nil {
		t.Fatal(err)
	}
	out := &pb.GetRecordResponse{Record: ledger.Readable(rec), Height: v.Version(), Proofs: []*pb.Proof{proofOf(t, v, idKey)}}
	if rec != nil {
		out.Proofs = append(out.Proofs, proofOf(t, v, []byte(layout.KeyLog)))
		index, hashes, err := v.Inclusion(rec.Seq)
		if err != nil {
			t.Fatal(err)
		}
		out.Inclusion = &pb.LogInclusion{LogIndex: index, Hashes: hashes}
	}
	return out
}

// memberAnswer is GetMember with prove=true as node/api assembles it.
func (c *testChain) memberAnswer(t *testing.T, h int64, id string) *pb.GetMemberResponse {
	t.Helper()
	v := c.view(t, h)
	m, err := v.Member(id)
	if err != nil {
		t.Fatal(err)
	}
	if m == nil {
		t.Fatalf("no member %q at height %d", id, h)
	}
	// The view's members are shared: answer with a copy.
	return &pb.GetMemberResponse{Member: proto.Clone(m).(*pb.Member), Height: v.Version(), Proof: proofOf(t, v, layout.Member(id))}
}

// proposalAnswer is GetProposal with prove=true as node/api assembles it.
func (c *testChain) proposalAnswer(t *testing.T, h int64, id string) *pb.GetProposalResponse {
	t.Helper()
	v := c.view(t, h)
	p, err := v.Proposal(id)
	if err != nil {
		t.Fatal(err)
	}
	if p == nil {
		t.Fatalf("no proposal %s at height %d", id, h)
	}
	votes, err := v.Votes(id)
	if err != nil {
		t.Fatal(err)
	}
	out := &pb.GetProposalResponse{Proposal: p, Votes: votes, Height: v.Version(), Proofs: []*pb.Proof{proofOf(t, v, layout.Proposal(id))}}
	for _, e := range p.Electorate {
		out.Proofs = append(out.Proofs, proofOf(t, v, layout.Vote(id, e)))
	}
	return out
}

// record returns the stored record id as of the top height.
func (c *testChain) record(t *testing.T, id string) *pb.StoredRecord {
	t.Helper()
	rec, err := c.view(t, c.top).Record(id)
	if err != nil || rec == nil {
		t.Fatalf("record %s: %v", id, err)
	}
	return rec
}

// checkOutcome requires err to be nil (ok) or to wrap ErrVerification.
func checkOutcome(t *testing.T, ok bool, err error) {
	t.Helper()
	if ok {
		if err != nil {
			t.Fatalf("want ok, got %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("want a verification failure, got ok")
	}
	if !errors.Is(err, verifiers.ErrVerification) {
		t.Fatalf("error does not wrap ErrVerification: %v", err)
	}
	t.Logf("rejected: %v", err)
}

func flipped(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	out[i] ^= 0x01
	return out
}

// absentID is a record id nobody filed.
func absentID() string {
	h := sha256.Sum256([]byte("no such record"))
	return hex.EncodeToString(h[:])
}

// obligationAnswer is GetObligation with prove=true as node/api assembles it.
func (c *testChain) obligationAnswer(t *testing.T, h int64, id string) *pb.GetObligationResponse {
	t.Helper()
	v := c.view(t, h)
	o, err := v.Obligation(id)
	if err != nil {
		t.Fatal(err)
	}
	if o == nil {
		t.Fatalf("no obligation %s at height %d", id, h)
	}
	return &pb.GetObligationResponse{Obligation: proto.Clone(o).(*pb.Obligation), Height: v.Version(), Proof: proofOf(t, v, layout.Obligation(id))}
}
