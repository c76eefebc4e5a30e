package verifiers_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// caseChain is a ledger where xaa opened a case against xbb about xbb's
// notification (height 2); it returns the store and the case id.
func caseChain(t *testing.T) (*store.Store, string) {
	t.Helper()
	st, file := filer(t)
	n := file("xbb", &pb.Record{Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xaa"}, Summary: "An operation."}}})
	c := file("xaa", &pb.Record{Body: &pb.Record_CaseStep{CaseStep: &pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION,
		Respondent: "xbb", Subjects: []string{n}, Norm: "UN-GGE-2015-13f", Conduct: "unnotified_operation", Statement: "Consult."}}})
	return st, c
}

// filer is a fresh ledger at the current app version and a function that
// files one record per block, returning its id.
func filer(t *testing.T) (*store.Store, func(author string, rec *pb.Record) string) {
	t.Helper()
	ms := fixture.Dev(3, fixture.SeededKey)
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.InitGenesis(testChainID, fixture.Genesis(ms), 1, ledger.CurrentAppVersion); err != nil {
		t.Fatal(err)
	}
	members, reg := fixture.ByID(ms), ledger.DefaultRegistry()
	var height int64
	seq := map[string]uint64{}
	file := func(author string, rec *pb.Record) string {
		height++
		rec.SchemaVersion = 1
		seq[author]++
		tx, err := ledger.BuildTx(&pb.TxBody{ChainId: testChainID, Sequence: seq[author], Record: rec}, members[author].Signer())
		if err != nil {
			t.Fatal(err)
		}
		b := ledger.Block{ChainID: testChainID, Height: height, Time: t0.Add(time.Duration(height) * time.Minute), Params: ledger.DefaultParams()}
		if err := st.BeginBlock(height); err != nil {
			t.Fatal(err)
		}
		ch, err := reg.Apply(st.Working(), tx, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Write(ch); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.EndBlock(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Commit(); err != nil {
			t.Fatal(err)
		}
		return ch.Record.Id
	}
	return st, file
}

// caseAnswer is GET /v1/cases/{id}?prove=true as node/api assembles it.
func caseAnswer(t *testing.T, v *store.View, id string) *pb.GetCaseResponse {
	t.Helper()
	c, err := v.Case(id)
	if err != nil {
		t.Fatal(err)
	}
	out := &pb.GetCaseResponse{Case: c, Height: v.Version(), Proofs: []*pb.Proof{proofOf(t, v, layout.Case(id))}}
	for _, oid := range c.GetObligationIds() {
		o, err := v.Obligation(oid)
		if err != nil {
			t.Fatal(err)
		}
		out.Obligations = append(out.Obligations, o)
		out.Proofs = append(out.Proofs, proofOf(t, v, layout.Obligation(oid)))
	}
	return out
}

// A case answer verifies against the state root; every tamper with the
// case, its duties or their proofs is caught, and an absent case is proven
// absent (and cannot be shown present).
func TestCaseProofs(t *testing.T) {
	st, id := caseChain(t)
	v, err := st.At(0)
	if err != nil {
		t.Fatal(err)
	}
	root := v.RootHash()
	good := caseAnswer(t, v, id)
	c, obs, err := verifiers.Case(root, id, good)
	if err != nil || c == nil || c.Respondent != "xbb" || len(obs) != 2 || obs[0].Kind != pb.ObligationKind_OBLIGATION_KIND_REPLY_CONSULTATION || !ledger.Open(obs[0]) {
		t.Fatalf("verify: %v %v %v", c, obs, err)
	}
	for _, tc := range []struct {
		name string
		mut  func(a *pb.GetCaseResponse)
	}{
		{"the case's stage changed", func(a *pb.GetCaseResponse) { a.Case.Stage = pb.CaseStage_CASE_STAGE_REPLIED }},
		{"a reply added to the history", func(a *pb.GetCaseResponse) {
			a.Case.History = append(a.Case.History, &pb.CaseEvent{Step: "reply", By: "xbb"})
		}},
		{"the reply duty shown met", func(a *pb.GetCaseResponse) { a.Obligations[0].Status = pb.ObligationStatus_OBLIGATION_STATUS_MET }},
		{"a duty left out", func(a *pb.GetCaseResponse) { a.Obligations, a.Proofs = a.Obligations[:1], a.Proofs[:2] }},
		{"duties swapped", func(a *pb.GetCaseResponse) {
			a.Obligations[0], a.Obligations[1] = a.Obligations[1], a.Obligations[0]
			a.Proofs[1], a.Proofs[2] = a.Proofs[2], a.Proofs[1]
		}},
		{"the case proof's value changed", func(a *pb.GetCaseResponse) { a.Proofs[0].Value = append([]byte(nil), a.Proofs[0].Value[1:]...) }},
		{"a duty proof's bytes changed", func(a *pb.GetCaseResponse) { a.Proofs[1].Proof[len(a.Proofs[1].Proof)-1] ^= 1 }},
		{"the case shown absent", func(a *pb.GetCaseResponse) { a.Case, a.Proofs[0].Exists, a.Proofs[0].Value = nil, false, nil }},
		{"no proofs", func(a *pb.GetCaseResponse) { a.Proofs = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := proto.Clone(good).(*pb.GetCaseResponse)
			tc.mut(a)
			if _, _, err := verifiers.Case(root, id, a); err == nil {
				t.Fatal("tampered case answer verified")
			}
		})
	}
	if _, _, err := verifiers.Case(append([]byte(nil), root[:31]...), id, good); err == nil {
		t.Fatal("verified against another root")
	}
	// Absence: an unknown case id is proven absent; the absence proof
	// cannot carry a case.
	other := strings.Repeat("ab", 32)
	absent := &pb.GetCaseResponse{Height: v.Version(), Proofs: []*pb.Proof{proofOf(t, v, layout.Case(other))}}
	if c, _, err := verifiers.Case(root, other, absent); err != nil || c != nil {
		t.Fatalf("absence: %v %v", c, err)
	}
	absent.Case = good.Case
	if _, _, err := verifiers.Case(root, other, absent); err == nil {
		t.Fatal("an absence proof carried a case")
	}
	if _, _, err := verifiers.Case(root, id, &pb.GetCaseResponse{Height: v.Version(), Proofs: []*pb.Proof{proofOf(t, v, layout.Case(other))}}); err == nil {
		t.Fatal("another key's proof accepted")
	}
}
