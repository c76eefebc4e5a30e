package app

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

const (
	kAck      = pb.ObligationKind_OBLIGATION_KIND_ACKNOWLEDGE
	kRespond  = pb.ObligationKind_OBLIGATION_KIND_RESPOND
	kDisclose = pb.ObligationKind_OBLIGATION_KIND_DISCLOSE
	kRemedy   = pb.ObligationKind_OBLIGATION_KIND_REMEDIATE
	kChall    = pb.ObligationKind_OBLIGATION_KIND_REPLY_CHALLENGE
	kFinding  = pb.ObligationKind_OBLIGATION_KIND_REPLY_FINDING
	kReveal   = pb.ObligationKind_OBLIGATION_KIND_REVEAL
	sOpen     = pb.ObligationStatus_OBLIGATION_STATUS_OPEN
	sMet      = pb.ObligationStatus_OBLIGATION_STATUS_MET
	sLate     = pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE
	sOverdue  = pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE
	sWaived   = pb.ObligationStatus_OBLIGATION_STATUS_WAIVED
)

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// at finalizes and commits a block at t0+d holding txs (each signed by the
// given author) and fails unless every tx gets want[i] (default OK).
func (h *harness) at(d time.Duration, txs ...[]byte) *abci_results {
	h.t.Helper()
	h.now = t0.Add(d).Add(-time.Second) // block() adds a second
	res := h.block(txs...)
	out := &abci_results{}
	for _, r := range res.TxResults {
		out.codes = append(out.codes, ledger.Code(r.Code))
		out.logs = append(out.logs, r.Log)
	}
	return out
}

type abci_results struct {
	codes []ledger.Code
	logs  []string
}

func (h *harness) file(d time.Duration, author string, rec *pb.Record, co ...string) string {
	h.t.Helper()
	rec.SchemaVersion = 1
	tx := h.sign(author, rec, co...)
	res := h.at(d, tx)
	if res.codes[0] != ledger.CodeOK {
		h.t.Fatalf("%s at +%s: %v: %s", author, d, res.codes[0], res.logs[0])
	}
	return ledger.RecordID(tx)
}

func (h *harness) reject(d time.Duration, author string, rec *pb.Record, want ledger.Code) {
	h.t.Helper()
	rec.SchemaVersion = 1
	tx := h.signSeq(author, h.nextSeq(author), rec)
	if r := h.checkTx(tx); ledger.Code(r.Code) != want {
		h.t.Fatalf("CheckTx: %v (%s), want %v", ledger.Code(r.Code), r.Log, want)
	}
	if res := h.at(d, tx); res.codes[0] != want {
		h.t.Fatalf("FinalizeBlock: %v (%s), want %v", res.codes[0], res.logs[0], want)
	}
}

func (h *harness) ob(kind pb.ObligationKind, source, debtor string) *pb.Obligation {
	h.t.Helper()
	v, err := h.st.At(0)
	if err != nil {
		h.t.Fatal(err)
	}
	o, err := v.Obligation(ledger.ObligationID(kind, source, debtor))
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}

func (h *harness) expect(kind pb.ObligationKind, source, debtor string, want pb.ObligationStatus) *pb.Obligation {
	h.t.Helper()
	o := h.ob(kind, source, debtor)
	if o == nil {
		h.t.Fatalf("no %v obligation on %s from %s", kind, debtor, source[:8])
	}
	if o.Status != want {
		h.t.Fatalf("%v on %s: %v, want %v", kind, debtor, o.Status, want)
	}
	return o
}

func notif(recipients []string, respondBy time.Time) *pb.Record {
	return &pb.Record{Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_CONSULTATION_REQUEST, Recipients: recipients,
		Summary: "Consultation on suspicious scanning of grid operators", ResponseRequested: true, RespondBy: ts(respondBy)}}}
}

func ack(n string) *pb.Record {
	return &pb.Record{Body: &pb.Record_Acknowledgement{Acknowledgement: &pb.Acknowledgement{NotificationId: n}}}
}

func reply(to string) *pb.Record {
	return &pb.Record{Body: &pb.Record_Response{Response: &pb.Response{RequestId: to,
		Disposition: pb.ResponseDisposition_RESPONSE_DISPOSITION_INFORMATION_PROVIDED, Summary: "Reply."}}}
}

func waive(id string) *pb.Record {
	return &pb.Record{Body: &pb.Record_Waiver{Waiver: &pb.Waiver{ObligationId: id, Reason: "Handled bilaterally."}}}
}

func TestObligationsAcknowledgeAndRespond(t *testing.T) {
	h := newHarness(t)
	n := h.file(time.Second, "xaa", notif([]string{"xbb", "xcc"}, t0.Add(48*time.Hour)))
	h.expect(kAck, n, "xbb", sOpen)
	due := h.expect(kRespond, n, "xcc", sOpen).Due.AsTime()
	if !due.Equal(t0.Add(48 * time.Hour)) {
		t.Fatalf("respond due %s", due)
	}
	if got := h.ob(kAck, n, "xbb").Due.AsTime(); !got.Equal(t0.Add(time.Second + 24*time.Hour)) {
		t.Fatalf("ack due %s, want notification time + 24 h", got)
	}
	// Met on time.
	h.file(2*time.Hour, "xbb", ack(n))
	o := h.expect(kAck, n, "xbb", sMet)
	if o.StatusRecord == "" || o.StatusHeight != h.height {
		t.Fatalf("met obligation does not name the record that met it: %+v", o)
	}
	// Overdue in the first block past the due time, with no tx in it.
	h.at(25 * time.Hour)
	o = h.expect(kAck, n, "xcc", sOverdue)
	if o.StatusRecord != "" || !o.OverdueAt.AsTime().Equal(t0.Add(25*time.Hour)) {
		t.Fatalf("overdue obligation: %+v", o)
	}
	h.expect(kRespond, n, "xcc", sOpen) // not due yet
	// Met late.
	h.file(26*time.Hour, "xcc", ack(n))
	h.expect(kAck, n, "xcc", sLate)
	// A response meets the duty to respond (on time).
	h.file(30*time.Hour, "xbb", reply(n))
	h.expect(kRespond, n, "xbb", sMet)
	h.at(49 * time.Hour)
	h.expect(kRespond, n, "xcc", sOverdue)
	// Waived by the creditor; only a creditor may; only while open or overdue.
	h.reject(50*time.Hour, "xbb", waive(ledger.ObligationID(kRespond, n, "xcc")), ledger.CodeNotCreditor)
	h.reject(50*time.Hour+time.Second, "xaa", waive(ledger.ObligationID(kRespond, n, "xbb")), ledger.CodeObligationClosed)
	h.reject(50*time.Hour+2*time.Second, "xaa", waive(ledger.ObligationID(kRespond, n, "xdd")), ledger.CodeUnknownObligation)
	h.file(51*time.Hour, "xaa", waive(ledger.ObligationID(kRespond, n, "xcc")))
	h.expect(kRespond, n, "xcc", sWaived)
	// A notification that asks for nothing obliges nobody.
	plain := h.file(52*time.Hour, "xaa", &pb.Record{Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xbb"}, Summary: "FYI"}}})
	if h.ob(kAck, plain, "xbb") != nil {
		t.Fatal("an information notice created an obligation")
	}
}

func incident(ref string, affected []string, sector pb.Sector, refs ...string) *pb.Record {
	return &pb.Record{Refs: refs, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: ref, Stage: pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION, Role: pb.IncidentRole_INCIDENT_ROLE_THIRD_PARTY,
		Sectors: []pb.Sector{sector}, AffectedStates: affected, DetectedAt: ts(t0.Add(-2 * time.Hour)), AwareAt: ts(t0.Add(-time.Hour)),
		Severity: pb.Severity_SEVERITY_HIGH, Summary: "Wiper malware at a utility."}}}
}

func pledge(pledgors []string, hours uint32, sectors ...pb.Sector) *pb.Record {
	return &pb.Record{Body: &pb.Record_Pledge{Pledge: &pb.Pledge{Title: "Restraint pledge", Pledgors: pledgors,
		NormRefs: []string{"UN-GGE-2015-13f"}, ProtectedSectors: sectors, GeoScope: []string{"GLOBAL"},
		EffectiveFrom: ts(t0.Add(-time.Hour)), Verification: &pb.VerificationPromises{DiscloseWithinHours: hours}}}}
}

func TestObligationsDiscloseAndRemediate(t *testing.T) {
	h := newHarness(t)
	p := h.file(time.Second, "xaa", pledge([]string{"xaa", "xbb"}, 72, pb.Sector_SECTOR_WATER, pb.Sector_SECTOR_ENERGY), "xbb")
	// The neutral body records an incident on xbb's water sector: xbb must disclose within 72 h.
	d1 := h.file(time.Hour, "observatory", incident("OBS-1", []string{"xbb"}, pb.Sector_SECTOR_WATER))
	o := h.expect(kDisclose, d1, "xbb", sOpen)
	if !o.Due.AsTime().Equal(t0.Add(73*time.Hour)) || len(o.Basis) != 1 || o.Basis[0] != p || len(o.Creditors) != 1 || o.Creditors[0] != "xaa" {
		t.Fatalf("disclosure duty: %+v", o)
	}
	// An unprotected sector, or the pledgor's own disclosure, creates no duty.
	d2 := h.file(2*time.Hour, "observatory", incident("OBS-2", []string{"xbb"}, pb.Sector_SECTOR_FINANCE))
	if h.ob(kDisclose, d2, "xbb") != nil {
		t.Fatal("a duty for an unprotected sector")
	}
	d3 := h.file(3*time.Hour, "xbb", incident("XBB-9", []string{"xbb"}, pb.Sector_SECTOR_WATER))
	if h.ob(kDisclose, d3, "xbb") != nil {
		t.Fatal("a duty for the pledgor's own disclosure")
	}
	// Amending the recorded incident places no second duty on xbb.
	repl := incident("OBS-1b", []string{"xbb"}, pb.Sector_SECTOR_WATER)
	repl.SchemaVersion = 1
	am := h.file(5*time.Hour, "observatory", &pb.Record{Body: &pb.Record_Amendment{Amendment: &pb.Amendment{
		TargetId: d1, Reason: "Corrected the incident reference.", Replacement: repl}}})
	if h.ob(kDisclose, am, "xbb") != nil {
		t.Fatal("an amendment placed a second disclosure duty")
	}
	// Met on time by xbb's own disclosure referring to the recorded incident.
	h.file(10*time.Hour, "xbb", incident("XBB-10", []string{"xbb"}, pb.Sector_SECTOR_WATER, d1))
	h.expect(kDisclose, d1, "xbb", sMet)
	// Met late: an incident on xaa's energy sector, disclosed after 72 h.
	d4 := h.file(11*time.Hour, "observatory", incident("OBS-3", []string{"xaa"}, pb.Sector_SECTOR_ENERGY))
	h.at(84 * time.Hour)
	h.expect(kDisclose, d4, "xaa", sOverdue)
	h.file(90*time.Hour, "xaa", incident("XAA-1", []string{"xaa"}, pb.Sector_SECTOR_ENERGY, d4))
	h.expect(kDisclose, d4, "xaa", sLate)

	// Remediation: the assessment names xbb responsible by a due date.
	a := h.file(91*time.Hour, "observatory", &pb.Record{Body: &pb.Record_HarmAssessment{HarmAssessment: &pb.HarmAssessment{
		SubjectIncidents: []string{d1}, AssessorClass: pb.AssessorClass_ASSESSOR_CLASS_NEUTRAL,
		Methodology: &pb.Methodology{Name: "m", Version: "1"}, PersonsAffected: &pb.Estimate{Min: 1, Best: 2, Max: 3},
		CausationConfidence: pb.Confidence_CONFIDENCE_MODERATE, RemediationDue: ts(t0.Add(30 * 24 * time.Hour)),
		ResponsibleParty: "xbb", Status: pb.AssessmentStatus_ASSESSMENT_STATUS_FINAL, AffectedStates: []string{"xbb"}}}})
	o = h.expect(kRemedy, a, "xbb", sOpen)
	if len(o.Creditors) != 1 || o.Creditors[0] != "observatory" {
		t.Fatalf("remediation creditors %v", o.Creditors)
	}
	// A final disclosure without remediated_at does not meet it; with it, it does.
	final := incident("XBB-10", []string{"xbb"}, pb.Sector_SECTOR_WATER, a)
	final.GetIncidentDisclosure().Stage = pb.DisclosureStage_DISCLOSURE_STAGE_FINAL
	h.file(100*time.Hour, "xbb", final)
	h.expect(kRemedy, a, "xbb", sOpen)
	final.GetIncidentDisclosure().RemediatedAt = ts(t0.Add(99 * time.Hour))
	final.GetIncidentDisclosure().Summary = "Remediated."
	h.file(101*time.Hour, "xbb", final)
	h.expect(kRemedy, a, "xbb", sMet)
}

func TestObligationsReplies(t *testing.T) {
	h := newHarness(t)
	ids, _ := h.runScenario() // blocks at t0+1s .. t0+13s
	// Scenario step 7: xaa challenged the observatory's assessment, reply by t0+7d.
	h.expect(kChall, ids[7], "observatory", sOpen)
	h.file(time.Hour, "observatory", reply(ids[7]))
	h.expect(kChall, ids[7], "observatory", sMet)
	// Step 6: lumen's finding concerns xaa and xbb, reply due t0+14d.
	h.file(2*time.Hour, "xaa", reply(ids[6]))
	h.expect(kFinding, ids[6], "xaa", sMet)
	h.at(15 * 24 * time.Hour)
	h.expect(kFinding, ids[6], "xbb", sOverdue)
	h.file(15*24*time.Hour+time.Hour, "xbb", reply(ids[6]))
	h.expect(kFinding, ids[6], "xbb", sLate)
	// A second challenge, never answered, goes overdue without any tx.
	c := h.file(16*24*time.Hour, "lumen", &pb.Record{Body: &pb.Record_Challenge{Challenge: &pb.Challenge{
		TargetId: ids[4], Grounds: "Times inconsistent with CERT logs.", ReplyBy: ts(t0.Add(17 * 24 * time.Hour))}}})
	h.expect(kChall, c, "xbb", sOpen)
	h.at(18 * 24 * time.Hour)
	h.expect(kChall, c, "xbb", sOverdue)
}

func TestObligationsSealedReveal(t *testing.T) {
	h := newHarness(t)
	body := notif([]string{"xbb"}, t0.Add(10*24*time.Hour))
	body.SchemaVersion = 1
	salt := bytes.Repeat([]byte{7}, 16)
	commit := func() []byte { c, _ := ledger.SealCommitment(salt, body); return c }
	sealed := func(c []byte, revealBy time.Duration) *pb.Record {
		return &pb.Record{Body: &pb.Record_Sealed{Sealed: &pb.Sealed{SealedKind: pb.RecordKind_RECORD_KIND_NOTIFICATION,
			Commitment: c, RevealBy: ts(t0.Add(revealBy)), SubjectStates: []string{"xbb"}}}}
	}
	// Revealed in time: met, and the revealed notification now creates its own duties.
	s1 := h.file(time.Second, "xaa", sealed(commit(), 72*time.Hour))
	o := h.expect(kReveal, s1, "xaa", sOpen)
	if len(o.Creditors) != 1 || o.Creditors[0] != "xbb" {
		t.Fatalf("reveal creditors %v", o.Creditors)
	}
	rv := h.file(24*time.Hour, "xaa", &pb.Record{Body: &pb.Record_Reveal{Reveal: &pb.Reveal{SealedId: s1, Salt: salt, Body: body}}})
	h.expect(kReveal, s1, "xaa", sMet)
	h.expect(kRespond, rv, "xbb", sOpen)
	// Revealed wrongly: rejected, the duty stays open; never revealed: overdue.
	body2 := notif([]string{"xbb"}, t0.Add(20*24*time.Hour))
	body2.SchemaVersion = 1
	c2, _ := ledger.SealCommitment(salt, body2)
	s2 := h.file(25*time.Hour, "xaa", sealed(c2, 72*time.Hour))
	wrong := &pb.Record{Body: &pb.Record_Reveal{Reveal: &pb.Reveal{SealedId: s2, Salt: bytes.Repeat([]byte{8}, 16), Body: body2}}}
	h.reject(26*time.Hour, "xaa", wrong, ledger.CodeRevealMismatch)
	h.expect(kReveal, s2, "xaa", sOpen)
	h.at(73 * time.Hour)
	h.expect(kReveal, s2, "xaa", sOverdue)
}
