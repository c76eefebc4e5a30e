package ledger_test

import (
	"sort"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// memState is a map-backed ledger.State for tests.
type memState struct {
	members     map[string]*pb.Member
	seq         map[string]uint64
	records     map[string]*pb.StoredRecord
	content     map[string]bool
	obligations map[string]*pb.Obligation
	pledges     map[string][]*pb.StoredRecord
	proposals   map[string]*pb.ProposalState
	votes       map[string]*pb.VoteState
	rules       *pb.GovernanceRules
	upgrade     *pb.UpgradeState
	cases       map[string]*pb.CaseState
}

func newMemState(ms []fixture.Member) *memState {
	s := &memState{members: map[string]*pb.Member{}, seq: map[string]uint64{}, records: map[string]*pb.StoredRecord{},
		content: map[string]bool{}, obligations: map[string]*pb.Obligation{}, pledges: map[string][]*pb.StoredRecord{},
		proposals: map[string]*pb.ProposalState{}, votes: map[string]*pb.VoteState{}, rules: ledger.DefaultGovernanceRules(),
		upgrade: &pb.UpgradeState{AppVersion: ledger.CurrentAppVersion}, cases: map[string]*pb.CaseState{}}
	for _, m := range ms {
		s.members[m.ID] = m.Proto()
	}
	return s
}

func (s *memState) Member(id string) (*pb.Member, error)  { return s.members[id], nil }
func (s *memState) Case(id string) (*pb.CaseState, error) { return s.cases[id], nil }
func (s *memState) NextSequence(m string) (uint64, error) {
	if n, ok := s.seq[m]; ok {
		return n, nil
	}
	return 1, nil
}
func (s *memState) Record(id string) (*pb.StoredRecord, error) { return s.records[id], nil }
func (s *memState) ContentSeen(a string, h [32]byte) (bool, error) {
	return s.content[a+string(h[:])], nil
}
func (s *memState) RecordCount() (uint64, error)                   { return uint64(len(s.records)), nil }
func (s *memState) Obligation(id string) (*pb.Obligation, error)   { return s.obligations[id], nil }
func (s *memState) PledgesOf(m string) ([]*pb.StoredRecord, error) { return s.pledges[m], nil }

// OpenDueBefore is deterministic: due time, then id.
func (s *memState) OpenDueBefore(t time.Time) ([]*pb.Obligation, error) {
	var out []*pb.Obligation
	for _, o := range s.obligations {
		if o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OPEN && o.Due.AsTime().Before(t) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Due.AsTime().Equal(out[j].Due.AsTime()) {
			return out[i].Due.AsTime().Before(out[j].Due.AsTime())
		}
		return out[i].Id < out[j].Id
	})
	return out, nil
}

func (s *memState) Members() ([]*pb.Member, error) {
	var out []*pb.Member
	for _, m := range s.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out, nil
}
func (s *memState) GovernanceRules() (*pb.GovernanceRules, error) { return s.rules, nil }
func (s *memState) Upgrade() (*pb.UpgradeState, error)            { return s.upgrade, nil }
func (s *memState) Proposal(id string) (*pb.ProposalState, error) { return s.proposals[id], nil }
func (s *memState) Vote(p, e string) (*pb.VoteState, error)       { return s.votes[p+"/"+e], nil }
func (s *memState) Votes(p string) ([]*pb.VoteState, error) {
	var out []*pb.VoteState
	for _, v := range s.votes {
		if v.ProposalId == p {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Elector < out[j].Elector })
	return out, nil
}
func (s *memState) UndecidedProposals() ([]*pb.ProposalState, error) {
	var out []*pb.ProposalState
	for _, p := range s.proposals {
		if p.Status == pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out, nil
}
func (s *memState) OpenProposalsDueBefore(t time.Time) ([]*pb.ProposalState, error) {
	var out []*pb.ProposalState
	for _, p := range s.proposals {
		if !p.VotingClosed && p.Deadline.AsTime().Before(t) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Deadline.AsTime().Equal(out[j].Deadline.AsTime()) {
			return out[i].Deadline.AsTime().Before(out[j].Deadline.AsTime())
		}
		return out[i].Id < out[j].Id
	})
	return out, nil
}

func (s *memState) write(ch *ledger.Changes) {
	if ch.Record != nil {
		s.seq[ch.Record.Author] = ch.NextSequence
		s.records[ch.Record.Id] = ch.Record
		s.content[ch.Record.Author+string(ch.ContentHash[:])] = true
		for _, p := range ch.Pledgors {
			s.pledges[p] = append(s.pledges[p], ch.Record)
		}
	}
	for _, o := range ch.Obligations {
		s.obligations[o.Id] = o
	}
	for _, m := range ch.Members {
		s.members[m.Id] = m
	}
	for _, p := range ch.Proposals {
		s.proposals[p.Id] = p
	}
	for _, v := range ch.Votes {
		s.votes[v.ProposalId+"/"+v.Elector] = v
	}
	for _, c := range ch.Cases {
		s.cases[c.Id] = c
	}
	if ch.GovernanceRules != nil {
		s.rules = ch.GovernanceRules
	}
	if ch.Upgrade != nil {
		s.upgrade = ch.Upgrade
	}
}

// FuzzApply feeds arbitrary bytes to decoding, validation and admission. It
// must never panic, and whatever it accepts must be canonical and re-accepted
// as a replay.
func FuzzApply(f *testing.F) {
	ms := fixture.Dev(3, fixture.SeededKey)
	byID := fixture.ByID(ms)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	// Seeds: a valid tx of every kind, in order, against a state that holds the previous ones.
	seedState := newMemState(ms)
	var ids []string
	seqs := map[string]uint64{}
	for i, s := range fixture.Scenario(t0) {
		seqs[s.Author]++
		tx, err := s.Tx("fuzz", seqs[s.Author], byID, ids)
		if err != nil {
			f.Fatal(err)
		}
		ch, err := ledger.DefaultRegistry().Apply(seedState, tx, ledger.Block{ChainID: "fuzz", Height: int64(i + 1), Time: t0})
		if err != nil {
			f.Fatalf("seed %d: %v", i, err)
		}
		seedState.write(ch)
		ids = append(ids, ch.Record.Id)
		f.Add(tx)
	}
	// A software upgrade plan (the action the scenario does not hold).
	up, err := ledger.BuildTx(&pb.TxBody{ChainId: "fuzz", Sequence: 1, Record: &pb.Record{SchemaVersion: 1, Body: &pb.Record_Proposal{Proposal: &pb.Proposal{
		Title: "upgrade", Rationale: "r", Deadline: timestamppb.New(t0.Add(48 * time.Hour)),
		Action: &pb.GovernanceAction{Action: &pb.GovernanceAction_SoftwareUpgrade{SoftwareUpgrade: &pb.SoftwareUpgrade{Name: "v7", Height: 100, AppVersion: 7}}}}}}},
		byID["xaa"].Signer())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(up)
	// Case steps and measures at sequence 1, so that the fuzzer starts from
	// steps the fresh state below admits (it holds the scenario's case).
	caseID := ids[26]
	for _, c := range []struct {
		author string
		rec    *pb.Record
	}{
		{"xaa", &pb.Record{SchemaVersion: 1, Body: &pb.Record_CaseStep{CaseStep: &pb.CaseStep{
			Step: pb.CaseStepType_CASE_STEP_TYPE_REPLY, CaseId: caseID, Statement: "We reply."}}}},
		{"xbb", &pb.Record{SchemaVersion: 1, Body: &pb.Record_CaseStep{CaseStep: &pb.CaseStep{
			Step: pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REQUEST, CaseId: caseID, Mediator: "observatory"}}}},
		{"xbb", &pb.Record{SchemaVersion: 1, Body: &pb.Record_Measure{Measure: &pb.Measure{
			Action: pb.MeasureAction_MEASURE_ACTION_TAKE, CaseId: caseID, Type: pb.MeasureType_MEASURE_TYPE_RETORSION, Target: "xaa",
			Conduct: "attack_on_health", Proportionality: "p", Reversible: true, ExpectedEnd: timestamppb.New(t0.Add(time.Hour))}}}},
		{"xbb", &pb.Record{SchemaVersion: 1, Body: &pb.Record_CaseStep{CaseStep: &pb.CaseStep{
			Step: pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION, Respondent: "xcc", Subjects: []string{ids[4]},
			Norm: "UN-GGE-2015-13f", Conduct: "attack_on_health", Urgent: true, Statement: "Urgent."}}}},
	} {
		tx, err := ledger.BuildTx(&pb.TxBody{ChainId: "fuzz", Sequence: 1, Record: c.rec}, byID[c.author].Signer())
		if err != nil {
			f.Fatal(err)
		}
		fresh := newMemState(ms)
		for _, id := range []string{ids[0], ids[4], caseID} {
			fresh.records[id] = seedState.records[id]
		}
		fresh.cases[caseID] = seedState.cases[caseID]
		if _, err := ledger.DefaultRegistry().Apply(fresh, tx, ledger.Block{ChainID: "fuzz", Height: 5, Time: t0}); err != nil {
			f.Fatalf("case seed by %s: %v", c.author, err)
		}
		f.Add(tx)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	reg := ledger.DefaultRegistry()
	f.Fuzz(func(t *testing.T, raw []byte) {
		// A fresh state each time, holding the pledge and notification the seeds refer to.
		st := newMemState(ms)
		for _, id := range append(ids[:2:2], ids[4], caseID) {
			st.records[id] = seedState.records[id]
		}
		st.cases[caseID] = seedState.cases[caseID]
		b := ledger.Block{ChainID: "fuzz", Height: 5, Time: t0}
		ch, err := reg.Apply(st, raw, b)
		if err != nil {
			if ledger.CodeOf(err) == ledger.CodeInternal {
				t.Fatalf("internal error on input: %v", err)
			}
			return
		}
		again, err := ledger.Canonical(mustDecode(t, raw))
		if err != nil || string(again) != string(raw) {
			t.Fatal("accepted a non-canonical tx")
		}
		st.write(ch)
		if _, err := reg.Apply(st, raw, b); ledger.CodeOf(err) != ledger.CodeReplay {
			t.Fatalf("second apply: %v, want replay", err)
		}
	})
}

func mustDecode(t *testing.T, raw []byte) *pb.Tx {
	tx, err := ledger.DecodeTx(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// FuzzDecodeTx feeds arbitrary bytes to transaction decoding alone (the
// first thing CheckTx, FinalizeBlock and every verifier do): it never
// panics; an accepted tx is exactly its canonical encoding, under the size
// limit, with a body and a record, and its readable form and signers derive
// from it without error.
func FuzzDecodeTx(f *testing.F) {
	ms := fixture.Dev(3, fixture.SeededKey)
	byID := fixture.ByID(ms)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i, s := range fixture.Scenario(t0) {
		tx, err := s.Tx("fuzz", uint64(i+1), byID, ids)
		if err != nil {
			f.Fatal(err)
		}
		ids = append(ids, ledger.RecordID(tx))
		f.Add(tx)
	}
	const max = 64 << 10
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := ledger.DecodeTx(raw, max)
		if err != nil {
			if c := ledger.CodeOf(err); c != ledger.CodeTxDecode && c != ledger.CodeNonCanonical && c != ledger.CodeMissingField && c != ledger.CodeTxTooLarge {
				t.Fatalf("decode error with code %v: %v", c, err)
			}
			return
		}
		if len(raw) > max {
			t.Fatal("accepted a tx over the size limit")
		}
		again, err := ledger.Canonical(tx)
		if err != nil || string(again) != string(raw) {
			t.Fatal("accepted a non-canonical tx")
		}
		if tx.Body == nil || tx.Body.Record == nil {
			t.Fatal("accepted a tx without a record")
		}
		rec := ledger.Readable(&pb.StoredRecord{Id: ledger.RecordID(raw), Tx: raw})
		if rec.Decoded == nil || len(rec.Signers) != 1+len(tx.CoSignatures) {
			t.Fatalf("readable form: %v signers %v", rec.Decoded, rec.Signers)
		}
	})
}
