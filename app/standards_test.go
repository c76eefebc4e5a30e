package app

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Evidence that carries its standard (app version 12, docs/evidence.md).

const (
	kReplyAttribution = pb.ObligationKind_OBLIGATION_KIND_REPLY_ATTRIBUTION
	kDeclare          = pb.ObligationKind_OBLIGATION_KIND_DECLARE
	kIntermediate     = pb.ObligationKind_OBLIGATION_KIND_INTERMEDIATE_REPORT
	kProgress         = pb.ObligationKind_OBLIGATION_KIND_PROGRESS_REPORT
	kAfterMeasure     = pb.ObligationKind_OBLIGATION_KIND_FINAL_REPORT_AFTER_MEASURE
	kVulnEarly        = pb.ObligationKind_OBLIGATION_KIND_VULNERABILITY_EARLY_WARNING
	kVulnNotif        = pb.ObligationKind_OBLIGATION_KIND_VULNERABILITY_NOTIFICATION
	kVulnFinal        = pb.ObligationKind_OBLIGATION_KIND_VULNERABILITY_FINAL_REPORT
	interm            = pb.DisclosureStage_DISCLOSURE_STAGE_INTERMEDIATE
	progress          = pb.DisclosureStage_DISCLOSURE_STAGE_PROGRESS
)

func methodRec() *pb.Record {
	return &pb.Record{Body: &pb.Record_Methodology{Methodology: fixture.MethodologyBody()}}
}

func attributionRec(incident string, co ...string) *pb.Record {
	a := fixture.AttributionBody(incident)
	a.CoAttributors = co
	return &pb.Record{Body: &pb.Record_Attribution{Attribution: a}}
}

func assessmentV2(incident, method string) *pb.Record {
	return &pb.Record{Body: &pb.Record_HarmAssessment{HarmAssessment: &pb.HarmAssessment{
		SubjectIncidents: []string{incident}, AssessorClass: pb.AssessorClass_ASSESSOR_CLASS_NEUTRAL, MethodologyRef: method,
		PersonsAffected: &pb.Estimate{Min: 1, Best: 2, Max: 3}, CausationConfidence: pb.Confidence_CONFIDENCE_MODERATE,
		Status: pb.AssessmentStatus_ASSESSMENT_STATUS_PRELIMINARY,
		Harms: []*pb.Harm{{Dimension: pb.HarmDimension_HARM_DIMENSION_PHYSICAL, Order: pb.EffectOrder_EFFECT_ORDER_FIRST,
			Description: "Pumps stopped.", Estimate: &pb.Estimate{Min: 1, Best: 1, Max: 2}, Unit: "services", DurationHours: 6}},
	}}}
}

func declarationRec(year uint32) *pb.Record {
	return &pb.Record{Body: &pb.Record_Declaration{Declaration: fixture.DeclarationBody("XAA", year)}}
}

func statementProposal(s *pb.AdoptStatement) *pb.Record {
	return &pb.Record{Body: &pb.Record_Proposal{Proposal: &pb.Proposal{Title: "Adopt a statement", Rationale: "Consensus.",
		Deadline: ts(t0.Add(48 * time.Hour)), Action: &pb.GovernanceAction{Action: &pb.GovernanceAction_AdoptStatement{AdoptStatement: s}}}}}
}

func vote(p string) *pb.Record {
	return &pb.Record{Body: &pb.Record_Vote{Vote: &pb.Vote{ProposalId: p, Option: pb.VoteOption_VOTE_OPTION_YES}}}
}

// An attribution names xaa: xaa owes a reply within the window, to the
// author and the co-attributor; a reply by someone not named is refused.
func TestAttributionReply(t *testing.T) {
	h := newHarness(t)
	inc := h.file(time.Second, "xbb", incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_HEALTH))
	at := h.file(time.Hour, "xbb", attributionRec(inc, "xcc"), "xcc")
	o := h.expect(kReplyAttribution, at, "xaa", sOpen)
	if !o.Due.AsTime().Equal(t0.Add(time.Hour+168*time.Hour)) || len(o.Creditors) != 2 || o.Creditors[0] != "xbb" || o.Creditors[1] != "xcc" {
		t.Fatalf("reply duty: due %v creditors %v", o.Due.AsTime(), o.Creditors)
	}
	if h.ob(kReplyAttribution, at, "xcc") != nil || h.ob(kReplyAttribution, at, "xbb") != nil {
		t.Fatal("an attributing state owes itself a reply")
	}
	h.reject(2*time.Hour, "xcc", reply(at), ledger.CodeNotRecipient)
	h.file(3*time.Hour, "xaa", reply(at))
	h.expect(kReplyAttribution, at, "xaa", sMet)

	// Default window: 30 days; a technical attribution by a verifier
	// names a non-member actor and a member.
	a := fixture.AttributionBody(inc)
	a.Kind, a.CoAttributors, a.ReplyWithinHours = pb.AttributionKind_ATTRIBUTION_KIND_TECHNICAL, nil, 0
	a.Attributed = append(a.Attributed, &pb.AttributedParty{Party: "GREY-VOLT", Conduct: pb.ConductBasis_CONDUCT_BASIS_NON_STATE_ACTOR})
	at2 := h.file(4*time.Hour, "lumen", &pb.Record{Body: &pb.Record_Attribution{Attribution: a}})
	o = h.expect(kReplyAttribution, at2, "xaa", sOpen)
	if !o.Due.AsTime().Equal(t0.Add(4*time.Hour + 720*time.Hour)) {
		t.Fatalf("default reply window: due %v", o.Due.AsTime())
	}
	h.at(4*time.Hour + 721*time.Hour)
	h.expect(kReplyAttribution, at2, "xaa", sOverdue)
}

// The private-first path: an attribution sealed to the accused with a
// reveal date places only the receipt and reveal duties; revealed, it
// places the reply duty, and the co-attributor co-signs the reveal.
func TestAttributionPrivateFirst(t *testing.T) {
	h := newHarness(t)
	inc := h.file(time.Second, "xbb", incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_HEALTH))
	body := attributionRec(inc, "xcc")
	body.SchemaVersion = 1
	salt := make([]byte, 32)
	c, err := ledger.SealCommitment(salt, body)
	if err != nil {
		t.Fatal(err)
	}
	sealed := h.file(time.Hour, "xbb", &pb.Record{Body: &pb.Record_Sealed{Sealed: &pb.Sealed{
		SealedKind: pb.RecordKind_RECORD_KIND_ATTRIBUTION, Commitment: c, RevealBy: ts(t0.Add(14 * 24 * time.Hour)),
		SubjectStates: []string{"xaa"}}}})
	h.expect(pb.ObligationKind_OBLIGATION_KIND_REVEAL, sealed, "xbb", sOpen)
	if h.ob(kReplyAttribution, sealed, "xaa") != nil {
		t.Fatal("a sealed attribution asked for a public reply")
	}
	reveal := &pb.Record{Body: &pb.Record_Reveal{Reveal: &pb.Reveal{SealedId: sealed, Salt: salt, Body: body}}}
	h.reject(2*time.Hour, "xbb", proto.Clone(reveal).(*pb.Record), ledger.CodeCoSignature)
	rv := h.file(3*time.Hour, "xbb", reveal, "xcc")
	h.expect(pb.ObligationKind_OBLIGATION_KIND_REVEAL, sealed, "xbb", sMet)
	h.expect(kReplyAttribution, rv, "xaa", sOpen)
	h.reject(4*time.Hour, "xaa", reply(sealed), ledger.CodeWrongRecordKind)
	h.file(5*time.Hour, "xaa", reply(rv))
	h.expect(kReplyAttribution, rv, "xaa", sMet)
}

// A state's declaration places the next one a year later (or the chain's
// interval); the next meets it, late if past due.
func TestDeclarationExchange(t *testing.T) {
	h := newHarness(t)
	d1 := h.file(time.Second, "xaa", declarationRec(uint32(t0.Year())))
	o := h.expect(kDeclare, d1, "xaa", sOpen)
	if !o.Due.AsTime().Equal(t0.Add(time.Second + 365*24*time.Hour)) {
		t.Fatalf("next declaration due %v", o.Due.AsTime())
	}
	h.reject(2*time.Second, "xaa", declarationRec(uint32(t0.Year())+3), ledger.CodeBadFormat)
	h.reject(3*time.Second, "observatory", declarationRec(uint32(t0.Year())), ledger.CodeClassNotAllowed)
	h.at(366 * 24 * time.Hour)
	h.expect(kDeclare, d1, "xaa", sOverdue)
	d2 := h.file(367*24*time.Hour, "xaa", declarationRec(uint32(t0.Year())+1))
	h.expect(kDeclare, d1, "xaa", sLate)
	h.expect(kDeclare, d2, "xaa", sOpen)
}

// A collective statement is adopted by a unanimous vote of the states;
// its digest must be the text's.
func TestAdoptStatement(t *testing.T) {
	h := newHarness(t)
	bad := fixture.StatementBody()
	bad.TextDigest = make([]byte, 32)
	h.reject(time.Second, "xaa", statementProposal(bad), ledger.CodeDigestMismatch)
	p := h.file(2*time.Second, "xaa", statementProposal(fixture.StatementBody()))
	h.file(3*time.Second, "xaa", vote(p))
	h.file(4*time.Second, "xbb", vote(p))
	v, _ := h.st.At(0)
	ps, err := v.Proposal(p)
	if err != nil || ps.Status != pb.ProposalStatus_PROPOSAL_STATUS_VOTING || ps.Rule.GetUnanimous() != true {
		t.Fatalf("two of three: %v %v", ps, err)
	}
	h.file(5*time.Second, "xcc", vote(p))
	v, _ = h.st.At(0)
	if ps, _ = v.Proposal(p); ps.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED || ps.Tally.Yes != 3 {
		t.Fatalf("adopted: %v", ps)
	}
}

// Exercise traffic: its duties are exercise duties, a real answer meets
// them, an exercise answer never meets a real duty, and the real figures
// are those of a chain without the exercise.
func TestExerciseApart(t *testing.T) {
	run := func(exercise bool) *pb.MemberCompliance {
		h := newHarness(t)
		real := h.file(time.Second, "xbb", notif([]string{"xaa"}, t0.Add(10*time.Hour)))
		if exercise {
			ex := notif([]string{"xaa"}, t0.Add(10*time.Hour))
			ex.Exercise = true
			ex.GetNotification().Summary = "EXERCISE: consultation drill."
			n := h.file(2*time.Second, "xbb", ex)
			o := h.expect(pb.ObligationKind_OBLIGATION_KIND_ACKNOWLEDGE, n, "xaa", sOpen)
			if !o.Exercise {
				t.Fatal("an exercise notice placed a real duty")
			}
			// An exercise acknowledgement of the real notice meets nothing.
			exAck := ack(real)
			exAck.Exercise = true
			h.file(3*time.Second, "xaa", exAck)
			h.expect(pb.ObligationKind_OBLIGATION_KIND_ACKNOWLEDGE, real, "xaa", sOpen)
			h.file(4*time.Second, "xaa", ack(n)) // a real answer meets the drill duty
			h.expect(pb.ObligationKind_OBLIGATION_KIND_ACKNOWLEDGE, n, "xaa", sMet)
			h.reject(5*time.Second, "xaa", &pb.Record{Exercise: true, Body: declarationRec(2026).Body}, ledger.CodeExerciseNotAllowed)
		}
		h.file(6*time.Second, "xaa", ack(real))
		h.at(11 * time.Hour) // the response duties fall overdue
		v, _ := h.st.At(0)
		c, err := v.MemberCompliance("xaa")
		if err != nil {
			t.Fatal(err)
		}
		if exercise && (len(c.ExerciseObligations) == 0 || c.ExerciseObligations[3].Count != 1) {
			t.Fatalf("exercise figures: %v", c.ExerciseObligations)
		}
		c.ExerciseObligations = nil
		return c
	}
	without, with := run(false), run(true)
	if !proto.Equal(without, with) {
		t.Fatalf("exercise traffic changed real compliance:\nwithout %v\nwith    %v", without, with)
	}
}

// A near-miss places no duties on others.
func TestNearMiss(t *testing.T) {
	h := newHarness(t)
	h.file(time.Second, "xaa", pledge([]string{"xaa", "xbb"}, 72, pb.Sector_SECTOR_WATER), "xbb")
	nm := incident("OBS-1", []string{"xaa"}, pb.Sector_SECTOR_WATER)
	nm.GetIncidentDisclosure().Outcome = pb.IncidentOutcome_INCIDENT_OUTCOME_FAILED_ATTEMPT
	id := h.file(time.Hour, "observatory", nm)
	if h.ob(pb.ObligationKind_OBLIGATION_KIND_DISCLOSE, id, "xaa") != nil {
		t.Fatal("a near-miss placed a disclosure duty")
	}
	id = h.file(2*time.Hour, "observatory", incident("OBS-2", []string{"xaa"}, pb.Sector_SECTOR_WATER))
	h.expect(pb.ObligationKind_OBLIGATION_KIND_DISCLOSE, id, "xaa", sOpen)
}

// Staged reporting completed: an intermediate report on request, progress
// reports while the incident is handled, the final report counted from the
// corrective measure, and CRA-style vulnerability duties.
func TestStagedReportingCompleted(t *testing.T) {
	h := newHarness(t)
	hr := time.Hour
	h.file(time.Second, "xaa", stagedPledge([]string{"xaa", "xbb"}, &pb.StagedReporting{EarlyWarningHours: 24, NotificationHours: 72,
		FinalReportHours: 720, ProgressReportHours: 168, FinalAfterMeasureHours: 720,
		Vulnerabilities: &pb.VulnerabilityReporting{EarlyWarningHours: 24, NotificationHours: 72, FinalAfterFixHours: 336}},
		pb.Sector_SECTOR_WATER), "xbb")
	ew := h.file(hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER), early, t0))
	nt := h.file(2*hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, ew), notic, t0))
	h.expect(kNotif, ew, "xbb", sMet)
	p1 := h.expect(kProgress, ew+"/1", "xbb", sOpen)
	if !p1.Due.AsTime().Equal(t0.Add(2*hr + 168*hr)) {
		t.Fatalf("first progress report due %v", p1.Due.AsTime())
	}
	// xaa asks for an intermediate report; a request to a state not party is refused.
	req := notif([]string{"xbb"}, t0.Add(50*hr))
	req.Refs = []string{ew}
	req.GetNotification().Type, req.GetNotification().ResponseRequested = pb.NotificationType_NOTIFICATION_TYPE_REPORT_REQUEST, false
	bad := proto.Clone(req).(*pb.Record)
	bad.GetNotification().Recipients = []string{"xcc"}
	h.reject(3*hr, "xaa", bad, ledger.CodeNotIncidentParty)
	rq := h.file(4*hr, "xaa", req)
	h.expect(kIntermediate, rq, "xbb", sOpen)
	if h.ob(pb.ObligationKind_OBLIGATION_KIND_RESPOND, rq, "xbb") != nil {
		t.Fatal("a report request asked for a response too")
	}
	h.file(5*hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, nt, rq), interm, t0))
	h.expect(kIntermediate, rq, "xbb", sMet)
	// A progress report meets the first and places the second.
	h.file(100*hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, nt), progress, t0))
	h.expect(kProgress, ew+"/1", "xbb", sMet)
	h.expect(kProgress, ew+"/2", "xbb", sOpen)
	// A corrective measure places the final report counted from it.
	pr := stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, nt), progress, t0)
	pr.GetIncidentDisclosure().CorrectiveMeasureAt = ts(t0.Add(150 * hr))
	h.file(200*hr, "xbb", pr)
	o := h.expect(kAfterMeasure, ew, "xbb", sOpen)
	if !o.Due.AsTime().Equal(t0.Add(150*hr + 720*hr)) {
		t.Fatalf("final report after the measure due %v", o.Due.AsTime())
	}
	h.expect(kProgress, ew+"/2", "xbb", sMet)
	h.expect(kProgress, ew+"/3", "xbb", sOpen)
	h.file(300*hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, nt), final, t0))
	h.expect(kAfterMeasure, ew, "xbb", sMet)
	h.expect(kFinal, ew, "xbb", sMet)
	h.expect(kProgress, ew+"/3", "xbb", sMet)

	// An actively exploited vulnerability: CRA windows, and the final
	// report 14 days after the fix.
	vr := incident("OBS-V", []string{"xaa"}, pb.Sector_SECTOR_WATER)
	vr.GetIncidentDisclosure().Vulnerability = &pb.Vulnerability{Identifier: "CVE-2026-12345", Product: "SCADA gateway 4.2", ActivelyExploited: true}
	v := h.file(301*hr, "observatory", vr)
	h.expect(kVulnEarly, v, "xaa", sOpen)
	h.expect(kVulnNotif, v, "xaa", sOpen)
	if h.ob(kEarly, v, "xaa") != nil {
		t.Fatal("a vulnerability placed the incident's duties")
	}
	fix := stage(incident("OBS-V", []string{"xaa"}, pb.Sector_SECTOR_WATER, v), notic, t0.Add(300*hr))
	fix.GetIncidentDisclosure().Vulnerability = vr.GetIncidentDisclosure().Vulnerability
	fix.GetIncidentDisclosure().CorrectiveMeasureAt = ts(t0.Add(301 * hr))
	h.file(310*hr, "xaa", fix)
	h.expect(kVulnEarly, v, "xaa", sMet)
	h.expect(kVulnNotif, v, "xaa", sMet)
	o = h.expect(kVulnFinal, v, "xaa", sOpen)
	if !o.Due.AsTime().Equal(t0.Add(301*hr + 336*hr)) {
		t.Fatalf("vulnerability final report due %v", o.Due.AsTime())
	}
	h.at(700 * hr)
	h.expect(kVulnFinal, v, "xaa", sOverdue)
	v2, _ := h.st.At(0)
	c, err := v2.MemberCompliance("xaa")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range c.ByKind {
		if k.Kind == kVulnFinal {
			found = k.Obligations[3].Count == 1
		}
	}
	if !found {
		t.Fatalf("the overdue vulnerability final report is not in the figures: %v", c.ByKind)
	}
}

// Every rule of app version 12 refuses with its own stable code, in
// CheckTx and FinalizeBlock, leaving the app hash unchanged.
func TestEvidenceRefusals(t *testing.T) {
	h := newHarness(t)
	inc := h.file(time.Second, "xbb", incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_HEALTH))
	m := h.file(2*time.Second, "observatory", methodRec())
	at := h.file(3*time.Second, "xbb", attributionRec(inc))
	h.now = t0.Add(time.Hour)
	legal := func() *pb.Record {
		r := attributionRec(inc)
		r.GetAttribution().Kind = pb.AttributionKind_ATTRIBUTION_KIND_LEGAL
		return r
	}
	for _, c := range []struct {
		name   string
		author string
		co     []string
		rec    func() *pb.Record
		want   ledger.Code
	}{
		{"exercise on a pledge", "xaa", []string{"xbb"}, func() *pb.Record {
			r := pledge([]string{"xaa", "xbb"}, 72, pb.Sector_SECTOR_WATER)
			r.Exercise = true
			return r
		}, ledger.CodeExerciseNotAllowed},
		{"political attribution by a neutral body", "observatory", nil, func() *pb.Record { return attributionRec(inc) }, ledger.CodeAttributionNotAllowed},
		{"legal attribution without a legal basis", "xbb", nil, func() *pb.Record {
			r := legal()
			r.GetAttribution().LegalBasis = ""
			return r
		}, ledger.CodeMissingField},
		{"evidence digest of 31 bytes", "xbb", nil, func() *pb.Record {
			r := attributionRec(inc)
			r.GetAttribution().EvidenceDigest = r.GetAttribution().EvidenceDigest[:31]
			return r
		}, ledger.CodeBadFormat},
		{"co-attributor without co-signature", "xbb", nil, func() *pb.Record { return attributionRec(inc, "xcc") }, ledger.CodeCoSignature},
		{"co-attributor is the signer", "xbb", nil, func() *pb.Record { return attributionRec(inc, "xbb") }, ledger.CodeSelfReference},
		{"attribution of no incident record", "xbb", nil, func() *pb.Record { return attributionRec(m) }, ledger.CodeWrongRecordKind},
		{"party not a token", "xbb", nil, func() *pb.Record {
			r := attributionRec(inc)
			r.GetAttribution().Attributed[0].Party = "two words"
			return r
		}, ledger.CodeBadFormat},
		{"dissent by a non-assessor", "observatory", nil, func() *pb.Record {
			r := assessmentV2(inc, m)
			r.GetHarmAssessment().Dissents = []*pb.Dissent{{Member: "xcc", Statement: "No."}}
			return r
		}, ledger.CodeNotAssessor},
		{"harm outside the method's dimensions", "observatory", nil, func() *pb.Record {
			r := assessmentV2(inc, m)
			r.GetHarmAssessment().Harms[0].Dimension = pb.HarmDimension_HARM_DIMENSION_DIGITAL
			return r
		}, ledger.CodeDimensionNotInMethod},
		{"harms without a methodology record", "observatory", nil, func() *pb.Record {
			r := assessmentV2(inc, m)
			r.GetHarmAssessment().MethodologyRef = ""
			r.GetHarmAssessment().Methodology = &pb.Methodology{Name: "x", Version: "1"}
			return r
		}, ledger.CodeMissingField},
		{"methodology_ref to an incident", "observatory", nil, func() *pb.Record { return assessmentV2(inc, inc) }, ledger.CodeWrongRecordKind},
		{"estimate without a unit", "observatory", nil, func() *pb.Record {
			r := assessmentV2(inc, m)
			r.GetHarmAssessment().Harms[0].Unit = ""
			return r
		}, ledger.CodeMissingField},
		{"joint assessment without co-signature", "observatory", nil, func() *pb.Record {
			r := assessmentV2(inc, m)
			r.GetHarmAssessment().CoAssessors = []string{"lumen"}
			return r
		}, ledger.CodeCoSignature},
		{"methodology digest of 16 bytes", "lumen", nil, func() *pb.Record {
			r := methodRec()
			r.GetMethodology().DocumentDigest = make([]byte, 16)
			return r
		}, ledger.CodeBadFormat},
		{"declaration by a verifier", "lumen", nil, func() *pb.Record { return declarationRec(2026) }, ledger.CodeClassNotAllowed},
		{"declaration for a far year", "xaa", nil, func() *pb.Record { return declarationRec(2020) }, ledger.CodeBadFormat},
		{"report request without the incident", "xaa", nil, func() *pb.Record {
			r := notif([]string{"xbb"}, t0.Add(50*time.Hour))
			r.GetNotification().Type, r.GetNotification().ResponseRequested = pb.NotificationType_NOTIFICATION_TYPE_REPORT_REQUEST, false
			return r
		}, ledger.CodeMissingField},
		{"report request asking for a response", "xaa", nil, func() *pb.Record {
			r := notif([]string{"xbb"}, t0.Add(50*time.Hour))
			r.Refs = []string{inc}
			r.GetNotification().Type = pb.NotificationType_NOTIFICATION_TYPE_REPORT_REQUEST
			return r
		}, ledger.CodeBadFormat},
		{"report request to a state not party", "xaa", nil, func() *pb.Record {
			r := notif([]string{"xcc"}, t0.Add(50*time.Hour))
			r.Refs = []string{inc}
			r.GetNotification().Type, r.GetNotification().ResponseRequested = pb.NotificationType_NOTIFICATION_TYPE_REPORT_REQUEST, false
			return r
		}, ledger.CodeNotIncidentParty},
		{"statement digest not the text's", "xaa", nil, func() *pb.Record {
			s := fixture.StatementBody()
			s.Text += " "
			return statementProposal(s)
		}, ledger.CodeDigestMismatch},
		{"reply to an attribution not naming the signer", "xcc", nil, func() *pb.Record { return reply(at) }, ledger.CodeNotRecipient},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			rec := c.rec()
			rec.SchemaVersion = 1
			h.mustReject(t, h.signSeq(c.author, h.nextSeq(c.author), rec, c.co...), c.want)
		})
	}
}

// Below app version 12 every new field, kind and value is refused as an
// older binary refuses it: unknown fields (non_canonical) or undefined
// enum values (bad_enum).
func TestEvidenceBeforeV12(t *testing.T) {
	h := newHarnessAt(t, ledger.AppVersionDisclosure)
	inc := h.file(time.Second, "xbb", incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_HEALTH))
	h.now = t0.Add(time.Hour)
	digest := sha256.Sum256([]byte("x"))
	for _, c := range []struct {
		name   string
		author string
		rec    *pb.Record
		want   ledger.Code
	}{
		{"methodology", "observatory", methodRec(), ledger.CodeNonCanonical},
		{"attribution", "xbb", attributionRec(inc), ledger.CodeNonCanonical},
		{"declaration", "xaa", declarationRec(2026), ledger.CodeNonCanonical},
		{"exercise flag", "xbb", func() *pb.Record { r := notif([]string{"xaa"}, t0.Add(9*time.Hour)); r.Exercise = true; return r }(), ledger.CodeNonCanonical},
		{"near-miss", "xbb", func() *pb.Record {
			r := incident("X", []string{"xbb"}, pb.Sector_SECTOR_HEALTH)
			r.GetIncidentDisclosure().Outcome = pb.IncidentOutcome_INCIDENT_OUTCOME_BLOCKED
			return r
		}(), ledger.CodeNonCanonical},
		{"intermediate stage", "xbb", func() *pb.Record {
			r := incident("X", []string{"xbb"}, pb.Sector_SECTOR_HEALTH)
			r.GetIncidentDisclosure().Stage = interm
			return r
		}(), ledger.CodeBadEnum},
		{"report request", "xaa", func() *pb.Record {
			r := notif([]string{"xbb"}, t0.Add(50*time.Hour))
			r.Refs = []string{inc}
			r.GetNotification().Type, r.GetNotification().ResponseRequested = pb.NotificationType_NOTIFICATION_TYPE_REPORT_REQUEST, false
			return r
		}(), ledger.CodeBadEnum},
		{"adopt_statement", "xaa", statementProposal(&pb.AdoptStatement{Title: "t", Text: "x", TextDigest: digest[:]}), ledger.CodeNonCanonical},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			c.rec.SchemaVersion = 1
			h.mustReject(t, h.signSeq(c.author, h.nextSeq(c.author), c.rec), c.want)
		})
	}
}

// A chain at app version 11 takes the evidence records from the
// normledger-v12 upgrade's block on, not before; its rules hold no rule
// for adopt_statement, so its set_governance_rules rule (unanimous)
// decides statements until a rules vote adds one.
func TestUpgradeToV12EnablesEvidence(t *testing.T) {
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessVersion(t, st, true, 3, 1, ledger.AppVersionDisclosure)
	h.block()
	v1 := func(r *pb.Record) *pb.Record { r.SchemaVersion = 1; return r }
	inc := h.fileNow("xbb", v1(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_HEALTH)))
	attr := attributionRec(inc)
	attr.SchemaVersion = 1
	h.mustReject(t, h.signSeq("xbb", h.nextSeq("xbb"), attr), ledger.CodeNonCanonical)
	at := h.height + 6
	up := h.fileNow("xaa", govProposal(&pb.GovernanceAction{Action: &pb.GovernanceAction_SoftwareUpgrade{SoftwareUpgrade: &pb.SoftwareUpgrade{
		Name: ledger.UpgradeV12, Height: at, AppVersion: ledger.AppVersionEvidence}}}, h.now.Add(72*time.Hour)))
	for _, v := range []string{"xaa", "xbb", "xcc"} {
		h.fileNow(v, govVote(up, pb.VoteOption_VOTE_OPTION_YES))
	}
	for h.height < at {
		h.block()
	}
	info, err := h.app.Info(context.Background(), &abci.RequestInfo{})
	if err != nil || info.AppVersion != ledger.AppVersionEvidence {
		t.Fatalf("app version after the upgrade: %v %v", info.GetAppVersion(), err)
	}
	a := h.fileNow("xbb", v1(attributionRec(inc)))
	h.expect(kReplyAttribution, a, "xaa", sOpen)
	stmt := statementProposal(fixture.StatementBody())
	stmt.GetProposal().Deadline = ts(h.now.Add(48 * time.Hour))
	stmt.SchemaVersion = 1
	p := h.fileNow("xaa", stmt)
	v, _ := h.st.At(0)
	if ps, err := v.Proposal(p); err != nil || !ps.Rule.GetUnanimous() || ps.Rule.Action != pb.GovAction_GOV_ACTION_ADOPT_STATEMENT {
		t.Fatalf("an upgraded chain decides a statement by its rules rule (unanimous): %v %v", ps.GetRule(), err)
	}
}

// What the review of #27 found: a drill cannot stand in for real staged
// duties; an exploited vulnerability under a pledge without vulnerability
// windows owes the incident's duties; an amendment keeps a record's
// standing and its co-signers; reports that follow an incident (an
// intermediate report naming only the request, a progress report naming
// the previous one) continue it.
func TestEvidenceEdges(t *testing.T) {
	h := newHarness(t)
	hr := time.Hour
	h.file(time.Second, "xaa", stagedPledge([]string{"xaa", "xbb"}, &pb.StagedReporting{EarlyWarningHours: 24, NotificationHours: 72,
		FinalReportHours: 720, ProgressReportHours: 168, FinalAfterMeasureHours: 720}, pb.Sector_SECTOR_WATER), "xbb")
	ew := h.file(hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER), early, t0))
	nt := h.file(2*hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, ew), notic, t0))
	h.expect(kProgress, ew+"/1", "xbb", sOpen)

	// A drill progress report on the real incident meets nothing and
	// places nothing; a drill corrective measure places nothing.
	drill := stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, nt), progress, t0)
	drill.Exercise = true
	drill.GetIncidentDisclosure().CorrectiveMeasureAt = ts(t0.Add(3 * hr))
	h.file(3*hr, "xbb", drill)
	h.expect(kProgress, ew+"/1", "xbb", sOpen)
	if h.ob(kProgress, ew+"/2", "xbb") != nil || h.ob(kAfterMeasure, ew, "xbb") != nil {
		t.Fatal("a drill placed follow-on duties on a real incident")
	}
	// A real progress report naming the previous report continues it.
	p1 := h.file(4*hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, nt), progress, t0))
	h.expect(kProgress, ew+"/1", "xbb", sMet)
	p2 := h.file(5*hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, p1), progress, t0))
	h.expect(kProgress, ew+"/2", "xbb", sMet)
	if h.ob(kEarly, p2, "xbb") != nil || h.ob(kEarly, p1, "xbb") != nil {
		t.Fatal("a progress report opened a new staged incident")
	}
	// An intermediate report naming only the request continues the incident.
	req := notif([]string{"xbb"}, t0.Add(50*hr))
	req.Refs = []string{ew}
	req.GetNotification().Type, req.GetNotification().ResponseRequested = pb.NotificationType_NOTIFICATION_TYPE_REPORT_REQUEST, false
	rq := h.file(6*hr, "xaa", req)
	ir := h.file(7*hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, rq), interm, t0))
	h.expect(kIntermediate, rq, "xbb", sMet)
	if h.ob(kEarly, ir, "xbb") != nil || h.ob(kNotif, ir, "xbb") != nil {
		t.Fatal("an intermediate report opened a new staged incident")
	}
	// Too short a window for a report request, or an attribution's reply.
	short := proto.Clone(req).(*pb.Record)
	short.GetNotification().RespondBy = ts(t0.Add(9 * hr))
	h.reject(8*hr, "xaa", short, ledger.CodeBadTime)
	a := attributionRec(ew)
	a.GetAttribution().ReplyWithinHours = 1
	h.reject(9*hr, "xbb", a, ledger.CodeBadFormat)

	// An exploited vulnerability under a pledge with incident windows only.
	vr := incident("OBS-V", []string{"xaa"}, pb.Sector_SECTOR_WATER)
	vr.GetIncidentDisclosure().Vulnerability = &pb.Vulnerability{Identifier: "CVE-2026-1", ActivelyExploited: true}
	v := h.file(10*hr, "observatory", vr)
	h.expect(kEarly, v, "xaa", sOpen)
	if h.ob(kVulnEarly, v, "xaa") != nil {
		t.Fatal("vulnerability duties without vulnerability windows")
	}

	// Amendments keep the standing and the co-signers.
	nm := incident("XBB-2", []string{"xbb"}, pb.Sector_SECTOR_ENERGY)
	nm.GetIncidentDisclosure().Outcome = pb.IncidentOutcome_INCIDENT_OUTCOME_BLOCKED
	nmID := h.file(11*hr, "xbb", nm)
	real := incident("XBB-2", []string{"xbb"}, pb.Sector_SECTOR_ENERGY)
	real.SchemaVersion = 1
	h.reject(12*hr, "xbb", &pb.Record{Body: &pb.Record_Amendment{Amendment: &pb.Amendment{TargetId: nmID, Reason: "It was not blocked.", Replacement: real}}},
		ledger.CodeStandingChanged)
	ex := proto.Clone(nm).(*pb.Record)
	ex.Exercise, ex.SchemaVersion = true, 1
	h.reject(13*hr, "xbb", &pb.Record{Body: &pb.Record_Amendment{Amendment: &pb.Amendment{TargetId: nmID, Reason: "A drill.", Replacement: ex}}},
		ledger.CodeStandingChanged)
	m := h.file(14*hr, "observatory", methodRec())
	joint := assessmentV2(ew, m)
	joint.GetHarmAssessment().CoAssessors = []string{"lumen"}
	joint.GetHarmAssessment().Dissents = []*pb.Dissent{{Member: "lumen", Statement: "Too high."}}
	j := h.file(15*hr, "observatory", joint, "lumen")
	alone := assessmentV2(ew, m)
	alone.SchemaVersion = 1
	amend := &pb.Record{Body: &pb.Record_Amendment{Amendment: &pb.Amendment{TargetId: j, Reason: "Without the dissent.", Replacement: alone}}}
	h.reject(16*hr, "observatory", proto.Clone(amend).(*pb.Record), ledger.CodeCoSignature)
	h.file(17*hr, "observatory", amend, "lumen")
}

// A sealed drill is revealed as a drill: a real sealed record cannot
// reveal an exercise body (or the other way round).
func TestRevealKeepsExercise(t *testing.T) {
	h := newHarness(t)
	body := notif([]string{"xbb"}, t0.Add(48*time.Hour))
	body.Exercise, body.SchemaVersion = true, 1
	salt := make([]byte, 32)
	c, err := ledger.SealCommitment(salt, body)
	if err != nil {
		t.Fatal(err)
	}
	sealed := h.file(time.Second, "xaa", &pb.Record{Body: &pb.Record_Sealed{Sealed: &pb.Sealed{
		SealedKind: pb.RecordKind_RECORD_KIND_NOTIFICATION, Commitment: c, RevealBy: ts(t0.Add(24 * time.Hour))}}})
	h.reject(time.Hour, "xaa", &pb.Record{Body: &pb.Record_Reveal{Reveal: &pb.Reveal{SealedId: sealed, Salt: salt, Body: body}}}, ledger.CodeStandingChanged)
}

// An amended attribution that names another state obliges it to reply to
// the amendment; the states named before owe their reply to the original.
func TestAttributionAmendedNamesMore(t *testing.T) {
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, st, true, 4, 1)
	inc := h.file(time.Second, "xbb", incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_HEALTH))
	at := h.file(time.Hour, "xbb", attributionRec(inc))
	h.expect(kReplyAttribution, at, "xaa", sOpen)
	more := attributionRec(inc)
	more.SchemaVersion = 1
	more.GetAttribution().Attributed = append(more.GetAttribution().Attributed, &pb.AttributedParty{Party: "xdd", Conduct: pb.ConductBasis_CONDUCT_BASIS_STATE_ORGAN})
	am := h.file(2*time.Hour, "xbb", &pb.Record{Body: &pb.Record_Amendment{Amendment: &pb.Amendment{TargetId: at, Reason: "xdd's organ took part.", Replacement: more}}})
	h.expect(kReplyAttribution, am, "xdd", sOpen)
	if h.ob(kReplyAttribution, am, "xaa") != nil {
		t.Fatal("the amendment placed a second reply duty on xaa")
	}
	h.reject(3*time.Hour, "xcc", reply(am), ledger.CodeNotRecipient)
	h.file(4*time.Hour, "xdd", reply(am))
	h.expect(kReplyAttribution, am, "xdd", sMet)
}

// From app version 12 an amendment cannot loosen a record's TLP; an unset
// TLP keeps the original's.
func TestAmendmentKeepsTLP(t *testing.T) {
	h := newHarness(t)
	red := incident("XBB-9", []string{"xbb"}, pb.Sector_SECTOR_HEALTH)
	red.Tlp = pb.Tlp_TLP_RED
	id := h.file(time.Second, "xbb", red)
	amend := func(tlp pb.Tlp) *pb.Record {
		r := incident("XBB-9", []string{"xbb"}, pb.Sector_SECTOR_HEALTH)
		r.SchemaVersion, r.Tlp = 1, tlp
		r.GetIncidentDisclosure().Summary = "Updated " + tlp.String()
		return &pb.Record{Body: &pb.Record_Amendment{Amendment: &pb.Amendment{TargetId: id, Reason: "Update.", Replacement: r}}}
	}
	h.reject(time.Hour, "xbb", amend(pb.Tlp_TLP_GREEN), ledger.CodeTLPLoosened)
	h.file(2*time.Hour, "xbb", amend(pb.Tlp_TLP_UNSPECIFIED))
	h.file(3*time.Hour, "xbb", amend(pb.Tlp_TLP_RED))
}
