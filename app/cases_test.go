package app

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Cases and measures (docs/cases.md): every step and every rule, with the
// code each refusal gets in CheckTx and FinalizeBlock (mustReject: the app
// hash unchanged) and the state and duties each accepted step leaves.

const day = 24 * time.Hour

func caseStep(s *pb.CaseStep) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_CaseStep{CaseStep: s}}
}

func measureOf(m *pb.Measure) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Measure{Measure: m}}
}

const (
	stepRequest   = pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION
	stepReply     = pb.CaseStepType_CASE_STEP_TYPE_REPLY
	stepHeld      = pb.CaseStepType_CASE_STEP_TYPE_CONSULTATION_HELD
	stepMedReq    = pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REQUEST
	stepMedAccept = pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_ACCEPT
	stepMedReport = pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REPORT
	stepFacts     = pb.CaseStepType_CASE_STEP_TYPE_FACT_FINDING_REQUEST
	stepPlan      = pb.CaseStepType_CASE_STEP_TYPE_REMEDIATION_PLAN
	stepMilestone = pb.CaseStepType_CASE_STEP_TYPE_MILESTONE_REPORT
	stepReferral  = pb.CaseStepType_CASE_STEP_TYPE_REFERRAL
	stepClose     = pb.CaseStepType_CASE_STEP_TYPE_CLOSE

	mProtest   = pb.MeasureType_MEASURE_TYPE_PROTEST
	mRetorsion = pb.MeasureType_MEASURE_TYPE_RETORSION
	mCounter   = pb.MeasureType_MEASURE_TYPE_COUNTERMEASURE

	kReply     = pb.ObligationKind_OBLIGATION_KIND_REPLY_CONSULTATION
	kHold      = pb.ObligationKind_OBLIGATION_KIND_HOLD_CONSULTATION
	kAccept    = pb.ObligationKind_OBLIGATION_KIND_ACCEPT_MEDIATION
	kReport    = pb.ObligationKind_OBLIGATION_KIND_MEDIATION_REPORT
	kFacts     = pb.ObligationKind_OBLIGATION_KIND_FACT_FINDING
	kPlan      = pb.ObligationKind_OBLIGATION_KIND_REMEDIATION_PLAN
	kMilestone = pb.ObligationKind_OBLIGATION_KIND_MILESTONE
	kTerminate = pb.ObligationKind_OBLIGATION_KIND_TERMINATE_MEASURE
)

// testLadder: unnotified operations answer with protests only (level 1);
// attacks on hospitals may go up to countermeasures (level 3).
func testLadder(version uint32) *pb.EscalationLadder {
	return &pb.EscalationLadder{Version: version, Levels: []*pb.LadderLevel{
		{Level: 1, Name: "diplomatic", Conduct: []string{"unnotified_operation", "attack_on_health"}, Responses: []pb.MeasureType{mProtest}},
		{Level: 2, Name: "economic", Conduct: []string{"attack_on_health"}, Responses: []pb.MeasureType{mProtest, mRetorsion}},
		{Level: 3, Name: "countermeasures", Conduct: []string{"attack_on_health"}, Responses: []pb.MeasureType{mRetorsion, mCounter}},
	}}
}

func withLadder(l *pb.EscalationLadder) *pb.GovernanceAction {
	p := ledger.DefaultParams()
	p.Ladder = l
	return &pb.GovernanceAction{Action: &pb.GovernanceAction_SetParams{SetParams: p}}
}

func take(caseID string, t pb.MeasureType, target string, level uint32, end time.Time) *pb.Measure {
	return &pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_TAKE, CaseId: caseID, Type: t, Target: target, Conduct: "attack_on_health",
		Level: level, Proportionality: "limited to the operator's access", Reversible: true, ExpectedEnd: timestamppb.New(end), OfferToNegotiate: true}
}

// fileCo files rec by author, co-signed, alone in a block at h.now+1s.
func (h *harness) fileCo(author string, rec *pb.Record, co ...string) string {
	h.t.Helper()
	tx := h.sign(author, rec, co...)
	if r := h.checkTx(tx); r.Code != 0 {
		h.t.Fatalf("%s CheckTx: %s", author, r.Log)
	}
	if res := h.block(tx); res.TxResults[0].Code != 0 {
		h.t.Fatalf("%s FinalizeBlock: %s", author, res.TxResults[0].Log)
	}
	return ledger.RecordID(tx)
}

func (h *harness) caseState(id string) *pb.CaseState {
	h.t.Helper()
	cs, err := h.view().Case(id)
	if err != nil || cs == nil {
		h.t.Fatalf("case %s: %v", id, err)
	}
	return cs
}

// until moves the clock so the next block's time is t.
func (h *harness) until(t time.Time) { h.now = t.Add(-time.Second) }

func lastEvent(cs *pb.CaseState) *pb.CaseEvent { return cs.History[len(cs.History)-1] }

func TestCaseLifecycle(t *testing.T) {
	h := pledgeTerms(t, ledger.CurrentAppVersion) // four states, lumen and prism (verifiers), observatory, watch
	h.pass(withLadder(testLadder(1)))
	pledge := h.sign("xaa", func() *pb.Record {
		r := pledgeWith(&pb.VerificationPromises{AcceptedVerifiers: []string{"lumen"}}, h.now)
		r.GetPledge().CaseWindows = &pb.CaseWindows{ReplySeconds: 5 * 24 * 3600}
		return r
	}(), "xbb")
	if res := h.block(pledge); res.TxResults[0].Code != 0 {
		t.Fatalf("pledge: %s", res.TxResults[0].Log)
	}
	pledgeID := ledger.RecordID(pledge)
	inc := h.fileNow("xaa", v1(incident("INC-7", []string{"xaa"}, pb.Sector_SECTOR_HEALTH)))
	request := func() *pb.CaseStep {
		return &pb.CaseStep{Step: stepRequest, Respondent: "xbb", CoComplainants: []string{"xcc"}, Subjects: []string{inc},
			PledgeId: pledgeID, Conduct: "attack_on_health", Statement: "Wiper at Ashford General; we call upon you to consult."}
	}
	d0 := h.now.Add(time.Second)
	caseID := h.fileCo("xaa", caseStep(request()), "xcc")
	cs := h.caseState(caseID)
	if cs.Stage != pb.CaseStage_CASE_STAGE_REQUESTED || cs.Complainant != "xaa" || cs.Respondent != "xbb" || !cs.NotBefore.AsTime().Equal(d0.Add(60*day)) {
		t.Fatalf("opened case: %v", cs)
	}
	if r := h.expect(kReply, caseID, "xbb", sOpen); !r.Due.AsTime().Equal(d0.Add(5*day)) || !slices.Equal(r.Creditors, []string{"xaa", "xcc"}) || r.Basis[0] != caseID {
		t.Fatalf("reply duty (the pledge's 5-day window): %v", r)
	}
	if r := h.expect(kHold, caseID, "xbb", sOpen); !r.Due.AsTime().Equal(d0.Add(30 * day)) {
		t.Fatalf("consultation duty (the default 30 days): %v", r)
	}
	for _, m := range []string{"xaa", "xbb", "xcc"} {
		got, _, err := h.view().Cases(store.CaseFilter{Party: m})
		if err != nil || len(got) != 1 || got[0].Id != caseID {
			t.Fatalf("cases of %s: %v %v", m, got, err)
		}
	}
	if got, _, _ := h.view().Cases(store.CaseFilter{Party: "xdd"}); len(got) != 0 {
		t.Fatalf("cases of xdd: %v", got)
	}

	// Measures at their ladder level, and one above it (flagged, not refused).
	protest := h.fileNow("xaa", measureOf(take(caseID, mProtest, "xbb", 1, d0.Add(90*day))))
	h.fileNow("xaa", measureOf(take(caseID, mRetorsion, "xbb", 1, d0.Add(90*day))))
	cs = h.caseState(caseID)
	if f := cs.Measures[0].Flags; len(f) != 0 || cs.Measures[0].AllowedLevel != 3 || cs.Measures[0].LadderVersion != 1 {
		t.Fatalf("protest at level 1: %v", cs.Measures[0])
	}
	if f := cs.Measures[1].Flags; !slices.Equal(f, []string{"above_ladder"}) {
		t.Fatalf("retorsion at level 1 (protests only): flags %v", f)
	}

	next := func(author string, rec *pb.Record, co ...string) []byte {
		return h.signSeq(author, h.nextSeq(author), rec, co...)
	}
	step := func(s pb.CaseStepType, mut func(*pb.CaseStep)) *pb.Record {
		cs := &pb.CaseStep{Step: s, CaseId: caseID}
		if mut != nil {
			mut(cs)
		}
		return caseStep(cs)
	}
	req := func(mut func(*pb.CaseStep)) *pb.Record {
		s := request()
		mut(s)
		return caseStep(s)
	}
	counter := func(mut func(*pb.Measure)) *pb.Record {
		m := take(caseID, mCounter, "xbb", 3, d0.Add(90*day))
		mut(m)
		return measureOf(m)
	}
	unknown := strings.Repeat("ab", 32)
	for _, c := range []struct {
		name string
		tx   []byte
		want ledger.Code
	}{
		// Opening a case.
		{"request without subjects", next("xaa", req(func(s *pb.CaseStep) { s.Subjects = nil }), "xcc"), ledger.CodeMissingField},
		{"request without pledge or norm", next("xaa", req(func(s *pb.CaseStep) { s.PledgeId = "" }), "xcc"), ledger.CodeMissingField},
		{"request without conduct", next("xaa", req(func(s *pb.CaseStep) { s.Conduct = "" }), "xcc"), ledger.CodeMissingField},
		{"conduct that is not a code", next("xaa", req(func(s *pb.CaseStep) { s.Conduct = "Attack!" }), "xcc"), ledger.CodeBadFormat},
		{"request naming a case", next("xaa", req(func(s *pb.CaseStep) { s.CaseId = caseID }), "xcc"), ledger.CodeBadFormat},
		{"request with a field of another step", next("xaa", req(func(s *pb.CaseStep) { s.Mediator = "observatory" }), "xcc"), ledger.CodeBadFormat},
		{"request without the co-complainant's signature", next("xaa", caseStep(request())), ledger.CodeCoSignature},
		{"request against oneself", next("xaa", req(func(s *pb.CaseStep) { s.Respondent = "xaa"; s.CoComplainants = nil })), ledger.CodeSelfReference},
		{"request against a neutral body", next("xaa", req(func(s *pb.CaseStep) { s.Respondent = "observatory"; s.PledgeId = ""; s.Norm = "UN-GGE-2015-13f" }), "xcc"), ledger.CodeUnknownMember},
		{"request by a neutral body", next("observatory", req(func(s *pb.CaseStep) { s.CoComplainants = nil })), ledger.CodeClassNotAllowed},
		{"request under a pledge the respondent did not give", next("xaa", req(func(s *pb.CaseStep) { s.Respondent = "xdd" }), "xcc"), ledger.CodeNotCaseParty},
		{"request about an unknown record", next("xaa", req(func(s *pb.CaseStep) { s.Subjects = []string{unknown} }), "xcc"), ledger.CodeUnknownRecord},
		// Who may file what.
		{"step in an unknown case", next("xbb", caseStep(&pb.CaseStep{Step: stepReply, CaseId: unknown, Statement: "r"})), ledger.CodeUnknownCase},
		{"reply by the co-complainant", next("xcc", step(stepReply, func(s *pb.CaseStep) { s.Statement = "r" })), ledger.CodeNotCaseParty},
		{"reply without a statement", next("xbb", step(stepReply, nil)), ledger.CodeMissingField},
		{"mediation accepted by a body nobody named", next("observatory", step(stepMedAccept, nil)), ledger.CodeNotCaseParty},
		{"mediation asked of a verifier", next("xaa", step(stepMedReq, func(s *pb.CaseStep) { s.Mediator = "lumen" })), ledger.CodeUnknownMember},
		{"mediation asked by an outsider", next("xdd", step(stepMedReq, func(s *pb.CaseStep) { s.Mediator = "observatory" })), ledger.CodeNotCaseParty},
		{"withdrawal by the respondent", next("xbb", step(stepClose, func(s *pb.CaseStep) { s.Outcome = pb.CaseOutcome_CASE_OUTCOME_WITHDRAWN })), ledger.CodeNotCaseParty},
		{"close decided by a record outside the case", next("xaa", step(stepClose, func(s *pb.CaseStep) {
			s.Outcome, s.DecisionId = pb.CaseOutcome_CASE_OUTCOME_DECIDED, inc
		})), ledger.CodeWrongRecordKind},
		// Stages.
		{"consultation held before the reply", next("xaa", step(stepHeld, func(s *pb.CaseStep) { s.Outcome = pb.CaseOutcome_CASE_OUTCOME_UNRESOLVED }), "xbb"), ledger.CodeWrongStage},
		{"consultation held without the other's signature", next("xaa", step(stepHeld, func(s *pb.CaseStep) { s.Outcome = pb.CaseOutcome_CASE_OUTCOME_UNRESOLVED })), ledger.CodeCoSignature},
		{"milestone without a plan", next("xbb", step(stepMilestone, func(s *pb.CaseStep) { s.Milestone = 1 })), ledger.CodeWrongStage},
		{"mediation report before acceptance", next("observatory", step(stepMedReport, func(s *pb.CaseStep) { s.Statement = "r" })), ledger.CodeNotCaseParty},
		// The cooling-off: escalation before not_before, not urgent, the reply not yet missed.
		{"fact-finding while cooling off", next("xaa", step(stepFacts, func(s *pb.CaseStep) { s.Verifiers = []string{"lumen"} })), ledger.CodeCoolingOff},
		{"fact-finding by a verifier the pledge does not accept", next("xaa", step(stepFacts, func(s *pb.CaseStep) { s.Verifiers = []string{"prism"} })), ledger.CodeVerifierNotAccepted},
		{"referral while cooling off", next("xcc", step(stepReferral, nil)), ledger.CodeCoolingOff},
		{"countermeasure while cooling off", next("xaa", counter(func(*pb.Measure) {})), ledger.CodeCoolingOff},
		// Countermeasure preconditions (ILC 52): the call upon, the offer to negotiate.
		{"countermeasure without an offer to negotiate", next("xaa", counter(func(m *pb.Measure) { m.OfferToNegotiate = false })), ledger.CodeCountermeasurePrecondition},
		{"countermeasure by the state called upon", next("xbb", counter(func(m *pb.Measure) { m.Target = "xaa" })), ledger.CodeCountermeasurePrecondition},
		// Measures and the ladder.
		{"measure by an outsider", next("xdd", counter(func(m *pb.Measure) { m.Type = mProtest; m.Level = 1 })), ledger.CodeNotCaseParty},
		{"measure against one's own side", next("xaa", counter(func(m *pb.Measure) { m.Type = mProtest; m.Level = 1; m.Target = "xcc" })), ledger.CodeNotCaseParty},
		{"measure at a level the ladder lacks", next("xaa", counter(func(m *pb.Measure) { m.Type = mProtest; m.Level = 4 })), ledger.CodeUnknownLadderLevel},
		{"measure without a level while a ladder is in force", next("xaa", counter(func(m *pb.Measure) { m.Type = mProtest; m.Level = 0 })), ledger.CodeUnknownLadderLevel},
		{"measure without an expected end", next("xaa", counter(func(m *pb.Measure) { m.ExpectedEnd = nil })), ledger.CodeMissingField},
		{"measure ending in the past", next("xaa", counter(func(m *pb.Measure) { m.ExpectedEnd = timestamppb.New(d0) })), ledger.CodeBadTime},
		{"measure without proportionality", next("xaa", counter(func(m *pb.Measure) { m.Proportionality = "" })), ledger.CodeMissingField},
		{"measure by a neutral body", next("observatory", counter(func(m *pb.Measure) { m.Type = mProtest })), ledger.CodeClassNotAllowed},
		{"stand-down of another's measure", next("xbb", measureOf(&pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_STAND_DOWN, CaseId: caseID, MeasureId: protest})), ledger.CodeNotAuthor},
		{"stand-down to a level not below the measure's", next("xaa", measureOf(&pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_STAND_DOWN, CaseId: caseID, MeasureId: protest, ReturnLevel: 1})), ledger.CodeUnknownLadderLevel},
		{"stand-down of a record that is no measure of the case", next("xaa", measureOf(&pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_STAND_DOWN, CaseId: caseID, MeasureId: inc})), ledger.CodeUnknownRecord},
	} {
		t.Run(c.name, func(t *testing.T) { h.mustReject(t, c.tx, c.want) })
	}

	// The respondent misses its reply window: the duty falls overdue at
	// block time and the complainant's side may escalate before not_before.
	h.until(d0.Add(5*day + time.Hour))
	h.block()
	h.expect(kReply, caseID, "xbb", sOverdue)
	h.mustReject(t, h.signSeq("xbb", h.nextSeq("xbb"), measureOf(&pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_TAKE, CaseId: caseID,
		Type: mCounter, Target: "xaa", Conduct: "attack_on_health", Level: 3, Proportionality: "p", ExpectedEnd: timestamppb.New(d0.Add(90 * day)), OfferToNegotiate: true})),
		ledger.CodeCountermeasurePrecondition)
	facts := h.fileNow("xaa", caseStep(&pb.CaseStep{Step: stepFacts, CaseId: caseID, Verifiers: []string{"lumen"}}))
	cs = h.caseState(caseID)
	if e := lastEvent(cs); cs.Stage != pb.CaseStage_CASE_STAGE_FACT_FINDING || !slices.Equal(e.Flags, []string{"reply_missed"}) || e.RecordId != facts {
		t.Fatalf("fact-finding after the missed reply: stage %v event %v", cs.Stage, e)
	}
	h.expect(kFacts, facts, "lumen", sOpen)
	during := h.fileNow("xaa", measureOf(take(caseID, mRetorsion, "xbb", 2, d0.Add(90*day))))
	if ms := h.caseState(caseID).Measures[2]; ms.RecordId != during || !slices.Equal(ms.Flags, []string{"during_fact_finding"}) {
		t.Fatalf("retorsion while fact-finding is open: %v", ms)
	}
	// A late reply still meets the duty (late).
	h.fileNow("xbb", caseStep(&pb.CaseStep{Step: stepReply, CaseId: caseID, Statement: "We are investigating."}))
	h.expect(kReply, caseID, "xbb", pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE)
	h.mustReject(t, h.signSeq("xbb", h.nextSeq("xbb"), caseStep(&pb.CaseStep{Step: stepReply, CaseId: caseID, Statement: "again"})), ledger.CodeObligationClosed)

	// The verifier's finding answers the request; inconsistent conduct
	// places the respondent's plan duty.
	finding := &pb.Record{SchemaVersion: 1, Refs: []string{facts}, Body: &pb.Record_Finding{Finding: &pb.Finding{
		SubjectType: pb.FindingSubjectType_FINDING_SUBJECT_TYPE_INCIDENT, SubjectId: inc, SubjectStates: []string{"xbb"},
		Determination: pb.Determination_DETERMINATION_INCONSISTENT, EvidenceRefs: []string{"forensic report 7"},
		Methodology: &pb.Methodology{Name: "m", Version: "1"}, ConflictOfInterest: &pb.ConflictOfInterest{NoneDeclared: true}, Summary: "Inconsistent."}}}
	findingID := h.fileNow("lumen", finding)
	h.expect(kFacts, facts, "lumen", sMet)
	plan := h.expect(kPlan, caseID, "xbb", sOpen)
	if e := lastEvent(h.caseState(caseID)); e.Step != "finding" || e.RecordId != findingID {
		t.Fatalf("finding event: %v", e)
	}

	// Mediation: asked by the respondent, accepted, reported. A measure
	// while it is open is flagged.
	medReq := h.fileNow("xbb", caseStep(&pb.CaseStep{Step: stepMedReq, CaseId: caseID, Mediator: "observatory"}))
	h.expect(kAccept, medReq, "observatory", sOpen)
	h.mustReject(t, h.signSeq("xaa", h.nextSeq("xaa"), caseStep(&pb.CaseStep{Step: stepMedReq, CaseId: caseID, Mediator: "observatory"})), ledger.CodeWrongStage)
	h.mustReject(t, h.signSeq("observatory", h.nextSeq("observatory"), caseStep(&pb.CaseStep{Step: stepMedReport, CaseId: caseID, Statement: "r"})), ledger.CodeWrongStage)
	h.mustReject(t, h.signSeq("lumen", h.nextSeq("lumen"), caseStep(&pb.CaseStep{Step: stepMedAccept, CaseId: caseID})), ledger.CodeNotCaseParty)
	medMeasure := h.fileNow("xaa", measureOf(take(caseID, mProtest, "xbb", 2, d0.Add(90*day))))
	if ms := h.caseState(caseID).Measures[3]; ms.RecordId != medMeasure || !slices.Equal(ms.Flags, []string{"during_mediation"}) {
		t.Fatalf("protest while mediation is asked: %v", ms)
	}
	h.fileNow("observatory", caseStep(&pb.CaseStep{Step: stepMedAccept, CaseId: caseID}))
	h.expect(kAccept, medReq, "observatory", sMet)
	h.expect(kReport, medReq, "observatory", sOpen)
	h.fileNow("observatory", caseStep(&pb.CaseStep{Step: stepMedReport, CaseId: caseID, Statement: "Both sides agree on a plan."}))
	h.expect(kReport, medReq, "observatory", sMet)

	// Consultations held (co-signed), then the plan (co-signed by the
	// complainant) with two milestones.
	h.fileCo("xaa", caseStep(&pb.CaseStep{Step: stepHeld, CaseId: caseID, Outcome: pb.CaseOutcome_CASE_OUTCOME_UNRESOLVED}), "xbb")
	h.expect(kHold, caseID, "xbb", sMet)
	m1, m2 := h.now.Add(10*day), h.now.Add(20*day)
	planRec := caseStep(&pb.CaseStep{Step: stepPlan, CaseId: caseID, Milestones: []*pb.Milestone{
		{Description: "Isolate the implant", Due: timestamppb.New(m1)}, {Description: "Independent audit", Due: timestamppb.New(m2)}}})
	h.mustReject(t, h.signSeq("xbb", h.nextSeq("xbb"), planRec), ledger.CodeCoSignature)
	planID := h.fileCo("xbb", planRec, "xaa")
	h.expect(kPlan, caseID, "xbb", sMet)
	if plan.Id != ledger.ObligationID(kPlan, caseID, "xbb") {
		t.Fatal("plan duty id")
	}
	h.mustReject(t, h.signSeq("xbb", h.nextSeq("xbb"), planRec, "xaa"), ledger.CodeWrongStage)
	h.fileNow("xbb", caseStep(&pb.CaseStep{Step: stepMilestone, CaseId: caseID, Milestone: 1}))
	h.expect(kMilestone, ledger.MilestoneSource(planID, 1), "xbb", sMet)
	h.mustReject(t, h.signSeq("xbb", h.nextSeq("xbb"), caseStep(&pb.CaseStep{Step: stepMilestone, CaseId: caseID, Milestone: 1})), ledger.CodeObligationClosed)
	h.mustReject(t, h.signSeq("xbb", h.nextSeq("xbb"), caseStep(&pb.CaseStep{Step: stepMilestone, CaseId: caseID, Milestone: 3})), ledger.CodeBadFormat)
	// The second milestone falls overdue at block time.
	h.until(m2.Add(time.Hour))
	h.block()
	h.expect(kMilestone, ledger.MilestoneSource(planID, 2), "xbb", sOverdue)

	// After the cooling-off, a countermeasure with an offer to negotiate.
	h.until(d0.Add(60 * day))
	cm := h.fileNow("xaa", counter(func(*pb.Measure) {}))
	if ms := h.caseState(caseID).Measures[4]; ms.RecordId != cm || len(ms.Flags) != 0 {
		t.Fatalf("countermeasure after the cooling-off: %v", ms)
	}

	// The last milestone, late: the remediation is met, and every measure
	// still in force must end within the terminate window.
	h.fileNow("xbb", caseStep(&pb.CaseStep{Step: stepMilestone, CaseId: caseID, Milestone: 2}))
	h.expect(kMilestone, ledger.MilestoneSource(planID, 2), "xbb", pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE)
	cs = h.caseState(caseID)
	if !cs.Remediated || !slices.Equal(lastEvent(cs).Flags, []string{"remediated"}) {
		t.Fatalf("after the last milestone: remediated=%v %v", cs.Remediated, lastEvent(cs))
	}
	for _, ms := range cs.Measures {
		if o := h.expect(kTerminate, ms.RecordId, "xaa", sOpen); !o.Due.AsTime().Equal(h.now.Add(3 * day)) {
			t.Fatalf("terminate duty due %v", o.Due.AsTime())
		}
	}
	h.fileNow("xaa", measureOf(&pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_STAND_DOWN, CaseId: caseID, MeasureId: cm, ReturnLevel: 1}))
	h.expect(kTerminate, cm, "xaa", sMet)
	if ms := h.caseState(caseID).Measures[4]; ms.StandDownId == "" || ms.ReturnLevel != 1 {
		t.Fatalf("stood down: %v", ms)
	}
	h.mustReject(t, h.signSeq("xaa", h.nextSeq("xaa"), measureOf(&pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_STAND_DOWN, CaseId: caseID, MeasureId: cm})), ledger.CodeWrongStage)
	h.until(h.now.Add(4 * day))
	h.block()
	h.expect(kTerminate, protest, "xaa", sOverdue)

	// Settled, co-signed; the case takes no more steps or new measures,
	// but a measure can still be stood down.
	h.fileCo("xbb", caseStep(&pb.CaseStep{Step: stepClose, CaseId: caseID, Outcome: pb.CaseOutcome_CASE_OUTCOME_SETTLED}), "xaa")
	cs = h.caseState(caseID)
	if cs.Stage != pb.CaseStage_CASE_STAGE_CLOSED || cs.Outcome != pb.CaseOutcome_CASE_OUTCOME_SETTLED {
		t.Fatalf("closed: %v %v", cs.Stage, cs.Outcome)
	}
	h.mustReject(t, h.signSeq("xbb", h.nextSeq("xbb"), caseStep(&pb.CaseStep{Step: stepReferral, CaseId: caseID})), ledger.CodeCaseClosed)
	h.mustReject(t, h.signSeq("xaa", h.nextSeq("xaa"), measureOf(take(caseID, mProtest, "xbb", 1, h.now.Add(day)))), ledger.CodeCaseClosed)
	h.fileNow("xaa", measureOf(&pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_STAND_DOWN, CaseId: caseID, MeasureId: protest}))
	h.expect(kTerminate, protest, "xaa", pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE)
	if got, _, _ := h.view().Cases(store.CaseFilter{Stage: pb.CaseStage_CASE_STAGE_CLOSED}); len(got) != 1 {
		t.Fatalf("closed cases: %d", len(got))
	}

	// Compliance: the respondent's missed reply, time to settle; the
	// complainant's measures not ended in time.
	cb, err := h.view().MemberCompliance("xbb")
	if err != nil {
		t.Fatal(err)
	}
	if cb.CasesAgainst.Count != 1 || cb.CaseRepliesMissed.Count != 1 || cb.TimeToSettle.Samples != 1 || cb.TimeToSettle.MedianSeconds < int64(60*day/time.Second) {
		t.Fatalf("respondent's figures: against %v missed %v settle %v", cb.CasesAgainst, cb.CaseRepliesMissed, cb.TimeToSettle)
	}
	ca, err := h.view().MemberCompliance("xaa")
	if err != nil {
		t.Fatal(err)
	}
	if ca.CasesAgainst.Count != 0 || ca.MeasuresNotEnded.Count != 4 {
		t.Fatalf("complainant's figures: against %v not ended %v", ca.CasesAgainst, ca.MeasuresNotEnded)
	}
}

// TestUrgentAndOtherCloses: an urgent case skips the cooling-off and the
// offer to negotiate; a withdrawal waives the duties still open; a case is
// decided by the proposal it was referred to.
func TestUrgentAndOtherCloses(t *testing.T) {
	h := newGovHarness(t, 1)
	h.pass(withLadder(testLadder(1)))
	inc := h.fileNow("xcc", v1(incident("INC-9", []string{"xcc"}, pb.Sector_SECTOR_ENERGY)))
	open := func(by, against string, urgent bool) string {
		return h.fileNow(by, caseStep(&pb.CaseStep{Step: stepRequest, Respondent: against, Subjects: []string{inc},
			Norm: "UN-GGE-2015-13f", Conduct: "attack_on_health", Urgent: urgent, Statement: "Stop."}))
	}
	t1 := h.now.Add(time.Second)
	urgent := open("xcc", "xdd", true)
	if r := h.expect(kReply, urgent, "xdd", sOpen); !r.Due.AsTime().Equal(t1.Add(2 * day)) {
		t.Fatalf("urgent reply due %v", r.Due.AsTime())
	}
	if r := h.expect(kHold, urgent, "xdd", sOpen); !r.Due.AsTime().Equal(t1.Add(10 * day)) {
		t.Fatalf("urgent consultation due %v", r.Due.AsTime())
	}
	m := take(urgent, mCounter, "xdd", 3, h.now.Add(30*day))
	m.OfferToNegotiate = false
	cm := h.fileNow("xcc", measureOf(m))
	if ms := h.caseState(urgent).Measures[0]; ms.RecordId != cm || !slices.Equal(ms.Flags, []string{"urgent"}) {
		t.Fatalf("urgent countermeasure: %v", ms)
	}
	gov := h.pass(withLadder(testLadder(2)))
	h.fileNow("xcc", caseStep(&pb.CaseStep{Step: stepReferral, CaseId: urgent, ProposalId: gov}))
	if cs := h.caseState(urgent); cs.Stage != pb.CaseStage_CASE_STAGE_REFERRED || lastEvent(cs).Ref != gov {
		t.Fatalf("referred: %v", cs)
	}
	h.fileNow("xdd", caseStep(&pb.CaseStep{Step: stepClose, CaseId: urgent, Outcome: pb.CaseOutcome_CASE_OUTCOME_DECIDED, DecisionId: gov}))
	if cs := h.caseState(urgent); cs.Outcome != pb.CaseOutcome_CASE_OUTCOME_DECIDED {
		t.Fatalf("decided: %v", cs.Outcome)
	}
	// The reply was never filed; the open duties end waived with the case.
	h.expect(kReply, urgent, "xdd", sWaived)

	// Withdrawn by the complainant.
	w := open("xdd", "xcc", false)
	h.fileNow("xdd", caseStep(&pb.CaseStep{Step: stepClose, CaseId: w, Outcome: pb.CaseOutcome_CASE_OUTCOME_WITHDRAWN}))
	h.expect(kReply, w, "xcc", sWaived)
	h.expect(kHold, w, "xcc", sWaived)

	// The ladder's version only grows: another ladder under the version
	// in force is refused when proposed.
	stale := testLadder(2)
	stale.Levels = stale.Levels[:1]
	h.mustReject(t, h.signSeq("xaa", h.nextSeq("xaa"), govProposal(withLadder(stale), h.now.Add(48*time.Hour))), ledger.CodeBadFormat)
}

// TestCasesNeedVersion10: below app version 10 a case step, a measure, a
// pledge's case windows and a ladder in params are unknown fields.
func TestCasesNeedVersion10(t *testing.T) {
	h := newHarnessAt(t, ledger.AppVersionContactDirectory)
	h.block()
	for _, rec := range []*pb.Record{
		caseStep(&pb.CaseStep{Step: stepReply, CaseId: strings.Repeat("ab", 32), Statement: "r"}),
		measureOf(take(strings.Repeat("ab", 32), mProtest, "xbb", 0, h.now.Add(day))),
		govProposal(withLadder(testLadder(1)), h.now.Add(48*time.Hour)),
		func() *pb.Record {
			r := v1(pledge([]string{"xaa"}, 24, pb.Sector_SECTOR_HEALTH))
			r.GetPledge().CaseWindows = &pb.CaseWindows{ReplySeconds: 3600}
			return r
		}(),
	} {
		h.mustReject(t, h.signSeq("xaa", h.nextSeq("xaa"), rec), ledger.CodeNonCanonical)
	}
}

// TestCaseRulesMore: the missed-reply skip is the complainant's side's
// alone; a settled consultation closes the case; a finding decides one;
// milestones outlive a settlement; one fact-finding and one mediation at a
// time, until the one running misses its window; a measure taken after the
// remediation owes its end at once; a level needs a ladder.
func TestCaseRulesMore(t *testing.T) {
	h := newGovHarness(t, 1)
	inc := h.fileNow("xbb", v1(incident("INC-11", []string{"xbb"}, pb.Sector_SECTOR_HEALTH)))
	open := func(by, against string) string {
		return h.fileNow(by, caseStep(&pb.CaseStep{Step: stepRequest, Respondent: against, Subjects: []string{inc},
			Norm: "UN-GGE-2015-13f", Conduct: "attack_on_health", Statement: "Consult."}))
	}
	next := func(author string, rec *pb.Record, co ...string) []byte {
		return h.signSeq(author, h.nextSeq(author), rec, co...)
	}
	c1 := open("xbb", "xcc")
	// No ladder in force: a measure at a level is refused; level 0 is not.
	h.mustReject(t, next("xbb", measureOf(take(c1, mProtest, "xcc", 1, h.now.Add(day)))), ledger.CodeUnknownLadderLevel)
	h.fileNow("xbb", measureOf(take(c1, mProtest, "xcc", 0, h.now.Add(30*day))))
	h.pass(withLadder(testLadder(1)))

	// The reply window passes. The respondent may not escalate early (its
	// own missed reply is no excuse); the complainant may.
	h.until(h.now.Add(11 * day))
	h.block()
	h.expect(kReply, c1, "xcc", sOverdue)
	h.mustReject(t, next("xcc", caseStep(&pb.CaseStep{Step: stepReferral, CaseId: c1})), ledger.CodeCoolingOff)
	ref := h.fileNow("xbb", caseStep(&pb.CaseStep{Step: stepReferral, CaseId: c1}))
	if e := lastEvent(h.caseState(c1)); e.RecordId != ref || !slices.Equal(e.Flags, []string{"reply_missed"}) {
		t.Fatalf("referral after the missed reply: %v", e)
	}
	// One fact-finding at a time.
	ff := h.fileNow("xbb", caseStep(&pb.CaseStep{Step: stepFacts, CaseId: c1, Verifiers: []string{"lumen"}}))
	h.mustReject(t, next("xbb", caseStep(&pb.CaseStep{Step: stepFacts, CaseId: c1, Verifiers: []string{"lumen"}})), ledger.CodeWrongStage)
	// One mediation at a time, until the mediator misses its acceptance.
	h.fileNow("xcc", caseStep(&pb.CaseStep{Step: stepMedReq, CaseId: c1, Mediator: "observatory"}))
	h.mustReject(t, next("xbb", caseStep(&pb.CaseStep{Step: stepMedReq, CaseId: c1, Mediator: "observatory"})), ledger.CodeWrongStage)
	h.until(h.now.Add(11 * day))
	h.block()
	h.fileNow("xbb", caseStep(&pb.CaseStep{Step: stepMedReq, CaseId: c1, Mediator: "observatory"}))
	// A finding in the case decides it; the reply comes late first.
	h.fileNow("xcc", caseStep(&pb.CaseStep{Step: stepReply, CaseId: c1, Statement: "Late."}))
	finding := h.fileNow("lumen", &pb.Record{SchemaVersion: 1, Refs: []string{ff}, Body: &pb.Record_Finding{Finding: &pb.Finding{
		SubjectType: pb.FindingSubjectType_FINDING_SUBJECT_TYPE_INCIDENT, SubjectId: inc, SubjectStates: []string{"xcc"},
		Determination: pb.Determination_DETERMINATION_CONSISTENT, EvidenceRefs: []string{"logs"},
		Methodology: &pb.Methodology{Name: "m", Version: "1"}, ConflictOfInterest: &pb.ConflictOfInterest{NoneDeclared: true}, Summary: "Consistent."}}})
	if h.ob(kPlan, c1, "xcc") != nil {
		t.Fatal("a consistent finding placed a plan duty")
	}
	h.fileNow("xcc", caseStep(&pb.CaseStep{Step: stepClose, CaseId: c1, Outcome: pb.CaseOutcome_CASE_OUTCOME_DECIDED, DecisionId: finding}))
	if cs := h.caseState(c1); cs.Outcome != pb.CaseOutcome_CASE_OUTCOME_DECIDED || lastEvent(cs).Ref != finding {
		t.Fatalf("decided by the finding: %v", cs.Outcome)
	}

	// A settled consultation closes the case; the plan agreed before it
	// still has to be met, and a measure taken after the remediation owes
	// its end at once.
	c2 := open("xdd", "xcc")
	h.fileNow("xcc", caseStep(&pb.CaseStep{Step: stepReply, CaseId: c2, Statement: "Yes."}))
	plan := h.fileCo("xcc", caseStep(&pb.CaseStep{Step: stepPlan, CaseId: c2, Milestones: []*pb.Milestone{
		{Description: "Audit", Due: timestamppb.New(h.now.Add(5 * day))}}}), "xdd")
	h.fileCo("xdd", caseStep(&pb.CaseStep{Step: stepHeld, CaseId: c2, Outcome: pb.CaseOutcome_CASE_OUTCOME_SETTLED}), "xcc")
	if cs := h.caseState(c2); cs.Stage != pb.CaseStage_CASE_STAGE_CLOSED || cs.Outcome != pb.CaseOutcome_CASE_OUTCOME_SETTLED {
		t.Fatalf("settled in consultations: %v %v", cs.Stage, cs.Outcome)
	}
	h.expect(kHold, c2, "xcc", sMet)
	h.expect(kMilestone, ledger.MilestoneSource(plan, 1), "xcc", sOpen)
	h.fileNow("xcc", caseStep(&pb.CaseStep{Step: stepMilestone, CaseId: c2, Milestone: 1}))
	if cs := h.caseState(c2); !cs.Remediated {
		t.Fatal("the milestone reported after the settlement did not complete the remediation")
	}
	h.mustReject(t, next("xdd", measureOf(take(c2, mProtest, "xcc", 1, h.now.Add(day)))), ledger.CodeCaseClosed)

	c3 := open("xaa", "xdd")
	h.fileNow("xdd", caseStep(&pb.CaseStep{Step: stepReply, CaseId: c3, Statement: "Yes."}))
	p3 := h.fileCo("xdd", caseStep(&pb.CaseStep{Step: stepPlan, CaseId: c3, Milestones: []*pb.Milestone{
		{Description: "Audit", Due: timestamppb.New(h.now.Add(5 * day))}}}), "xaa")
	h.fileNow("xdd", caseStep(&pb.CaseStep{Step: stepMilestone, CaseId: c3, Milestone: 1}))
	h.expect(kMilestone, ledger.MilestoneSource(p3, 1), "xdd", sMet)
	late := h.fileNow("xaa", measureOf(take(c3, mProtest, "xdd", 1, h.now.Add(day))))
	if ms := h.caseState(c3).Measures[0]; !slices.Equal(ms.Flags, []string{"after_remediation"}) {
		t.Fatalf("a measure after the remediation: %v", ms.Flags)
	}
	h.expect(kTerminate, late, "xaa", sOpen)
	// The respondent's own measure against the complainant owes no end
	// when the respondent's plan is met.
	own := h.fileNow("xdd", measureOf(take(c3, mProtest, "xaa", 1, h.now.Add(day))))
	if h.ob(kTerminate, own, "xdd") != nil {
		t.Fatal("the respondent's measure owes termination")
	}
	// A stand-down of a level-0 measure cannot climb the ladder.
	h.mustReject(t, next("xbb", measureOf(&pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_STAND_DOWN, CaseId: c1,
		MeasureId: h.caseState(c1).Measures[0].RecordId, ReturnLevel: 2})), ledger.CodeUnknownLadderLevel)
}
