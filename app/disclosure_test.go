package app

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/disclose"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Selective disclosure and protective orders (docs/disclosure.md): every
// refusal with its code in CheckTx and FinalizeBlock (mustReject: the app
// hash unchanged), and the duties an order places, met, late and missed.

const (
	kDeliver = pb.ObligationKind_OBLIGATION_KIND_DELIVER_DISCLOSURE
	kConfirm = pb.ObligationKind_OBLIGATION_KIND_CONFIRM_DISCLOSURE
	kPublish = pb.ObligationKind_OBLIGATION_KIND_PUBLISH_DISCLOSURE
	kReturn  = pb.ObligationKind_OBLIGATION_KIND_RETURN_DISCLOSURE

	sDeliver = pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_DELIVER
	sConfirm = pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_CONFIRM
	sPublish = pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_PUBLISH
	sReturn  = pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_RETURN
)

// operatorIncident is an incident naming the affected operator.
func operatorIncident() *pb.Record {
	r := v1(incident("INC-W7", []string{"xaa"}, pb.Sector_SECTOR_WATER))
	d := r.GetIncidentDisclosure()
	d.AffectedEntities = []string{"Northgrid Water Authority"}
	d.Impacts = []string{"chlorination halted for 6 hours", "telemetry lost at 3 pumping stations"}
	return r
}

// redact withholds paths of r (two decoys per repeated field).
func redact(t *testing.T, r *pb.Record, paths ...string) (*pb.Record, *pb.DisclosureBundle) {
	t.Helper()
	red, b, err := disclose.Redact(r, paths, 2, pb.DesignationBasis_DESIGNATION_BASIS_COMMERCIAL,
		"The operator's name and the operational impacts are withheld.", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return red, b
}

func undertaking(subject, purpose string) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Undertaking{Undertaking: &pb.Undertaking{
		SubjectId: subject, PurposeRef: purpose, Terms: "Use only for the case; no onward disclosure; return or destroy at the end."}}}
}

func orderRec(o *pb.ProtectiveOrder) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_ProtectiveOrder{ProtectiveOrder: o}}
}

func dstep(s *pb.DisclosureStep) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_DisclosureStep{DisclosureStep: s}}
}

func ageID(t *testing.T, m string) *age.X25519Identity {
	t.Helper()
	id, err := age.ParseX25519Identity(fixture.EncryptionIdentity(m))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// deliver encrypts the bundle (only the paths named) to members.
func deliver(t *testing.T, order, record string, b *pb.DisclosureBundle, paths []string, members ...string) *pb.DisclosureStep {
	t.Helper()
	pt, err := ledger.Canonical(&pb.DisclosureBundle{RecordId: record, Disclosures: only(b, paths...)})
	if err != nil {
		t.Fatal(err)
	}
	s := &pb.DisclosureStep{Step: sDeliver, SourceId: order}
	var rs []age.Recipient
	for _, m := range members {
		id := ageID(t, m)
		rs = append(rs, id.Recipient())
		s.Recipients = append(s.Recipients, &pb.SealRecipient{Member: m, KeyId: ledger.EncryptionKeyID(id.Recipient().String())})
	}
	s.Ciphertext = encrypt(t, pt, rs...)
	return s
}

// only are the disclosures of b for paths.
func only(b *pb.DisclosureBundle, paths ...string) []*pb.Disclosure {
	var out []*pb.Disclosure
	for _, d := range b.Disclosures {
		for _, p := range paths {
			if d.Path == p {
				out = append(out, d)
			}
		}
	}
	return out
}

func TestProtectiveOrderLifecycle(t *testing.T) {
	h := pledgeTerms(t, ledger.CurrentAppVersion)
	next := func(m string, r *pb.Record) []byte { return h.signSeq(m, h.nextSeq(m), r) }

	rec, bundle := redact(t, operatorIncident(), "affected_entities", "impacts", "summary")
	inc := h.fileNow("xaa", rec)
	stored, err := h.view().Record(inc)
	if err != nil || stored == nil {
		t.Fatalf("incident: %v", err)
	}
	caseID := h.fileNow("xbb", caseStep(&pb.CaseStep{Step: stepRequest, Respondent: "xaa", Subjects: []string{inc},
		Norm: "UN-GGE-2015-13f", Conduct: "attack_on_water", Statement: "We call upon you to consult on the water incident."}))

	// Undertakings: not by the designating author; a purpose that is
	// neither a case nor a finding; a record that withholds nothing.
	h.mustReject(t, next("xaa", undertaking(inc, caseID)), ledger.CodeSelfReference)
	h.mustReject(t, next("xbb", undertaking(inc, inc)), ledger.CodeWrongRecordKind)
	plain := h.fileNow("xaa", v1(incident("INC-P", []string{"xaa"}, pb.Sector_SECTOR_WATER)))
	h.mustReject(t, next("xbb", undertaking(plain, caseID)), ledger.CodeNotRedactable)
	uB := h.fileNow("xbb", undertaking(inc, caseID))
	uC := h.fileNow("xcc", undertaking(inc, caseID))
	uDother := h.fileNow("xdd", undertaking(inc, inc2(t, h))) // for another purpose

	expires := h.now.Add(10 * day)
	order := func(mut func(o *pb.ProtectiveOrder)) *pb.Record {
		o := &pb.ProtectiveOrder{SubjectId: inc, Paths: []string{"affected_entities", "summary"},
			Approved:   []*pb.Approval{{Member: "xbb", UndertakingId: uB}, {Member: "xcc", UndertakingId: uC}},
			PurposeRef: caseID, ExpiresAt: timestamppb.New(expires), OnExpiry: pb.OrderExpiry_ORDER_EXPIRY_PUBLISH,
			Windows:   &pb.DisclosureWindows{DeliverSeconds: 2 * 24 * 3600, ConfirmSeconds: 24 * 3600, PublishSeconds: 24 * 3600},
			Statement: "Counsel of the respondent and the complainant see the operator's name for the consultation."}
		if mut != nil {
			mut(o)
		}
		return orderRec(o)
	}
	for _, c := range []struct {
		name string
		tx   []byte
		want ledger.Code
	}{
		{"an order by someone not entitled", next("xbb", order(nil)), ledger.CodeOrderNotEntitled},
		{"an order citing someone else's finding", next("xbb", order(func(o *pb.ProtectiveOrder) { o.AuthorityRef = inc })), ledger.CodeOrderNotEntitled},
		{"an approved person without an undertaking", next("xaa", order(func(o *pb.ProtectiveOrder) {
			o.Approved = append(o.Approved, &pb.Approval{Member: "xdd"})
		})), ledger.CodeUndertakingMissing},
		{"an undertaking for another purpose", next("xaa", order(func(o *pb.ProtectiveOrder) {
			o.Approved = append(o.Approved, &pb.Approval{Member: "xdd", UndertakingId: uDother})
		})), ledger.CodeUndertakingMissing},
		{"someone else's undertaking", next("xaa", order(func(o *pb.ProtectiveOrder) {
			o.Approved = append(o.Approved, &pb.Approval{Member: "xdd", UndertakingId: uC})
		})), ledger.CodeUndertakingMissing},
		{"a path the record does not withhold", next("xaa", order(func(o *pb.ProtectiveOrder) { o.Paths = []string{"affected_entities", "severity"} })), ledger.CodeNotRedactable},
		{"an order already expired", next("xaa", order(func(o *pb.ProtectiveOrder) { o.ExpiresAt = timestamppb.New(h.now.Add(-time.Hour)) })), ledger.CodeBadTime},
		{"no expiry rule", next("xaa", order(func(o *pb.ProtectiveOrder) { o.OnExpiry = 0 })), ledger.CodeBadEnum},
		{"approved unsorted", next("xaa", order(func(o *pb.ProtectiveOrder) { o.Approved[0], o.Approved[1] = o.Approved[1], o.Approved[0] })), ledger.CodeBadFormat},
	} {
		t.Run(c.name, func(t *testing.T) { h.mustReject(t, c.tx, c.want) })
	}
	oid := h.fileNow("xaa", order(nil))
	del := h.expect(kDeliver, oid, "xaa", pb.ObligationStatus_OBLIGATION_STATUS_OPEN)
	if got := del.Due.AsTime().Sub(h.now); got != 2*day {
		t.Fatalf("delivery due in %s, want the order's 48h", got)
	}
	if pub := h.expect(kPublish, oid, "xaa", pb.ObligationStatus_OBLIGATION_STATUS_OPEN); !pub.Due.AsTime().Equal(expires.Add(day)) {
		t.Fatalf("publication due %s, want expiry + 24h", pub.Due.AsTime())
	}

	// Delivery: only by the designating author, to exactly the approved
	// persons; nothing to confirm before it.
	paths := []string{"affected_entities", "summary"}
	h.mustReject(t, next("xbb", dstep(&pb.DisclosureStep{Step: sConfirm, SourceId: oid, Matches: true})), ledger.CodeWrongStage)
	h.mustReject(t, next("xbb", dstep(deliver(t, oid, inc, bundle, paths, "xcc", "xdd"))), ledger.CodeNotAuthor)
	h.mustReject(t, next("xaa", dstep(deliver(t, oid, inc, bundle, paths, "xbb"))), ledger.CodeNotApproved)
	h.mustReject(t, next("xaa", dstep(deliver(t, oid, inc, bundle, paths, "xbb", "xdd"))), ledger.CodeNotApproved)
	h.mustReject(t, next("xaa", dstep(&pb.DisclosureStep{Step: sDeliver, SourceId: inc, Ciphertext: deliver(t, oid, inc, bundle, paths, "xbb").Ciphertext,
		Recipients: deliver(t, oid, inc, bundle, paths, "xbb").Recipients})), ledger.CodeUnknownOrder)
	d := deliver(t, oid, inc, bundle, paths, "xbb", "xcc")
	dID := h.fileNow("xaa", dstep(d))
	h.expect(kDeliver, oid, "xaa", pb.ObligationStatus_OBLIGATION_STATUS_MET)
	h.mustReject(t, next("xaa", dstep(deliver(t, oid, inc, bundle, paths, "xbb", "xcc"))), ledger.CodeObligationClosed)

	// Each approved person decrypts the same bundle and checks it against
	// the digests in the signed record.
	for _, m := range []string{"xbb", "xcc"} {
		pt := decrypt(t, d.Ciphertext, ageID(t, m))
		if err := ledger.CheckDelivery(rec, &pb.ProtectiveOrder{SubjectId: inc, Paths: paths}, pt); err != nil {
			t.Fatalf("%s: the delivery does not check: %v", m, err)
		}
	}
	h.mustReject(t, next("xdd", dstep(&pb.DisclosureStep{Step: sConfirm, SourceId: oid, Matches: true})), ledger.CodeNotApproved)
	// A mismatch claim whose file key opens matching values is refused.
	fk := fileKeyOf(t, d.Ciphertext, ageID(t, "xcc"))
	h.mustReject(t, next("xcc", dstep(&pb.DisclosureStep{Step: sConfirm, SourceId: oid, FileKey: fk})), ledger.CodeSealedBodyMatches)
	h.fileNow("xbb", dstep(&pb.DisclosureStep{Step: sConfirm, SourceId: oid, Matches: true, Statement: "digests match"}))
	h.expect(kConfirm, oid, "xbb", pb.ObligationStatus_OBLIGATION_STATUS_MET)
	h.mustReject(t, next("xbb", dstep(&pb.DisclosureStep{Step: sConfirm, SourceId: oid, Matches: true})), ledger.CodeObligationClosed)
	// The order publishes on expiry: nobody returns anything.
	h.mustReject(t, next("xbb", dstep(&pb.DisclosureStep{Step: sReturn, SourceId: oid})), ledger.CodeWrongStage)

	// xcc never confirms: a day later its duty is overdue.
	h.until(h.now.Add(day + time.Minute))
	h.block()
	h.expect(kConfirm, oid, "xcc", pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE)

	// Expiry with publish: the author publishes, and the ledger checks
	// every value against its digest.
	h.until(expires.Add(time.Hour))
	h.block()
	wrongSalt := proto.Clone(only(bundle, "summary")[0]).(*pb.Disclosure)
	wrongSalt.Salt[0] ^= 1
	moved := proto.Clone(only(bundle, "summary")[0]).(*pb.Disclosure)
	moved.Path = "physical_harm"
	changed := proto.Clone(only(bundle, "affected_entities")[0]).(*pb.Disclosure)
	changed.Value, _ = ledger.Canonical(&pb.IncidentDisclosure{AffectedEntities: []string{"Southgrid Water Authority"}})
	for _, c := range []struct {
		name string
		ds   []*pb.Disclosure
	}{
		{"a wrong salt", append(only(bundle, "affected_entities"), wrongSalt)},
		{"a changed value", append(only(bundle, "summary"), changed)},
		{"a value moved to another path", append(only(bundle, "affected_entities"), moved)},
		{"a path of the order left out", only(bundle, "affected_entities")},
	} {
		t.Run("publish "+c.name, func(t *testing.T) {
			h.mustReject(t, next("xaa", dstep(&pb.DisclosureStep{Step: sPublish, SourceId: oid, Disclosures: c.ds})), ledger.CodeDigestMismatch)
		})
	}
	h.mustReject(t, next("xbb", dstep(&pb.DisclosureStep{Step: sPublish, SourceId: oid, Disclosures: only(bundle, paths...)})), ledger.CodeNotAuthor)
	h.fileNow("xaa", dstep(&pb.DisclosureStep{Step: sPublish, SourceId: oid, Disclosures: only(bundle, paths...)}))
	h.expect(kPublish, oid, "xaa", pb.ObligationStatus_OBLIGATION_STATUS_MET)

	// Figures: xaa withheld 3 of the 3 withholdable fields it set on its
	// two incidents plus the 1 summary of the plain one; xcc missed a duty.
	c, err := h.view().MemberCompliance("xaa")
	if err != nil {
		t.Fatal(err)
	}
	if f := c.RedactedFields; f.Numerator != 3 || f.Denominator != 4 || f.BasisPoints != 7500 {
		t.Fatalf("xaa redacted fields: %+v", f)
	}
	cc, err := h.view().MemberCompliance("xcc")
	if err != nil {
		t.Fatal(err)
	}
	if cc.OrderDutiesMissed.Count != 1 || cc.OrderDutiesMissed.Ids[0] != ledger.ObligationID(kConfirm, oid, "xcc") {
		t.Fatalf("xcc order duties missed: %+v", cc.OrderDutiesMissed)
	}
	_ = dID
}

// inc2 is a second case, so that an undertaking can be for another purpose.
func inc2(t *testing.T, h *harness) string {
	t.Helper()
	other := h.fileNow("xdd", v1(incident("INC-O", []string{"xdd"}, pb.Sector_SECTOR_HEALTH)))
	return h.fileNow("xdd", caseStep(&pb.CaseStep{Step: stepRequest, Respondent: "xcc", Subjects: []string{other},
		Norm: "UN-GGE-2015-13f", Conduct: "attack_on_health", Statement: "Another matter."}))
}

// In a dispute a verifier's ruling entitles it to issue orders and can
// oblige the author to publish; a passed authorize_order entitles the
// member it names; orders with return on expiry make each approved person
// say it returned the values.
func TestOrdersInDispute(t *testing.T) {
	h := pledgeTerms(t, ledger.CurrentAppVersion)
	next := func(m string, r *pb.Record) []byte { return h.signSeq(m, h.nextSeq(m), r) }
	rec, bundle := redact(t, operatorIncident(), "affected_entities", "summary")
	inc := h.fileNow("xaa", rec)

	ruling := func(paths ...string) *pb.Record {
		return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Finding{Finding: &pb.Finding{
			SubjectType: pb.FindingSubjectType_FINDING_SUBJECT_TYPE_INCIDENT, SubjectId: inc, SubjectStates: []string{"xaa"},
			Determination: pb.Determination_DETERMINATION_INSUFFICIENT_EVIDENCE, EvidenceRefs: []string{"designation review"},
			Methodology:        &pb.Methodology{Name: "BCI review", Version: "1"},
			ConflictOfInterest: &pb.ConflictOfInterest{NoneDeclared: true}, Summary: "The operator's name is over-designated.",
			Designation: &pb.DesignationRuling{RecordId: inc, ExcessivePaths: paths}}}}
	}
	h.mustReject(t, next("lumen", ruling("severity")), ledger.CodeNotRedactable)
	fid := h.fileNow("lumen", ruling("affected_entities"))
	h.expect(kPublish, fid, "xaa", pb.ObligationStatus_OBLIGATION_STATUS_OPEN)

	uB := h.fileNow("xbb", undertaking(inc, fid))
	byVerifier := func(issuer, authority string) *pb.Record {
		return orderRec(&pb.ProtectiveOrder{SubjectId: inc, Paths: []string{"summary"},
			Approved: []*pb.Approval{{Member: "xbb", UndertakingId: uB}}, PurposeRef: fid,
			ExpiresAt: timestamppb.New(h.now.Add(5 * day)), OnExpiry: pb.OrderExpiry_ORDER_EXPIRY_RETURN, AuthorityRef: authority})
	}
	h.mustReject(t, next("prism", byVerifier("prism", fid)), ledger.CodeOrderNotEntitled)
	oid := h.fileNow("lumen", byVerifier("lumen", fid))
	h.expect(kDeliver, oid, "xaa", pb.ObligationStatus_OBLIGATION_STATUS_OPEN)
	if h.ob(kPublish, oid, "xaa") != nil {
		t.Fatal("an order that returns on expiry placed a publication duty")
	}
	h.fileNow("xaa", dstep(deliver(t, oid, inc, bundle, []string{"summary"}, "xbb")))
	ret := h.expect(kReturn, oid, "xbb", pb.ObligationStatus_OBLIGATION_STATUS_OPEN)
	if !ret.Due.AsTime().Equal(h.now.Add(5*day - 2*time.Second).Add(14 * day)) {
		t.Logf("return due %s", ret.Due.AsTime())
	}
	h.fileNow("xbb", dstep(&pb.DisclosureStep{Step: sReturn, SourceId: oid, Statement: "destroyed"}))
	h.expect(kReturn, oid, "xbb", pb.ObligationStatus_OBLIGATION_STATUS_MET)

	// The ruling's publication: only the ruled path is required.
	h.fileNow("xaa", dstep(&pb.DisclosureStep{Step: sPublish, SourceId: fid, Disclosures: only(bundle, "affected_entities")}))
	h.expect(kPublish, fid, "xaa", pb.ObligationStatus_OBLIGATION_STATUS_MET)

	// A passed authorize_order entitles the member it names, no one else.
	auth := h.pass(&pb.GovernanceAction{Action: &pb.GovernanceAction_AuthorizeOrder{AuthorizeOrder: &pb.AuthorizeOrder{SubjectId: inc, Issuer: "xdd"}}})
	uC := h.fileNow("xcc", undertaking(inc, fid))
	byVote := func(authority string) *pb.Record {
		return orderRec(&pb.ProtectiveOrder{SubjectId: inc, Paths: []string{"summary"},
			Approved: []*pb.Approval{{Member: "xcc", UndertakingId: uC}}, PurposeRef: fid,
			ExpiresAt: timestamppb.New(h.now.Add(5 * day)), OnExpiry: pb.OrderExpiry_ORDER_EXPIRY_PUBLISH, AuthorityRef: authority})
	}
	h.mustReject(t, next("xcc", byVote(auth)), ledger.CodeOrderNotEntitled)
	h.fileNow("xdd", byVote(auth))
	// authorize_order for a record that withholds nothing cannot pass.
	plain := h.fileNow("xaa", v1(incident("INC-P", []string{"xaa"}, pb.Sector_SECTOR_WATER)))
	h.mustReject(t, next("xaa", govProposal(&pb.GovernanceAction{Action: &pb.GovernanceAction_AuthorizeOrder{
		AuthorizeOrder: &pb.AuthorizeOrder{SubjectId: plain, Issuer: "xdd"}}}, h.now.Add(48*time.Hour))), ledger.CodeNotRedactable)
}

// Redactions themselves: what may be withheld and how, refused with codes.
func TestRedactionRefusals(t *testing.T) {
	h := pledgeTerms(t, ledger.CurrentAppVersion)
	next := func(m string, r *pb.Record) []byte { return h.signSeq(m, h.nextSeq(m), r) }
	good, _ := redact(t, operatorIncident(), "affected_entities", "summary")
	mut := func(f func(r *pb.Record)) *pb.Record {
		r := proto.Clone(good).(*pb.Record)
		f(r)
		return r
	}
	digest := func(b byte) []byte { return []byte(strings.Repeat(string([]byte{b}), 32)) }
	for _, c := range []struct {
		name string
		rec  *pb.Record
		want ledger.Code
	}{
		{"a redacted obligation-driving field (affected states)", mut(func(r *pb.Record) {
			r.Redaction.Fields = append([]*pb.RedactedField{{Path: "affected_states", Digests: [][]byte{digest(1)}}}, r.Redaction.Fields...)
		}), ledger.CodeNotRedactable},
		{"a redacted stage", mut(func(r *pb.Record) {
			r.Redaction.Fields = []*pb.RedactedField{r.Redaction.Fields[0], {Path: "stage", Digests: [][]byte{digest(1)}}, r.Redaction.Fields[1]}
		}), ledger.CodeNotRedactable},
		{"a field the body does not have", mut(func(r *pb.Record) {
			r.Redaction.Fields = append(r.Redaction.Fields, &pb.RedactedField{Path: "zz_none", Digests: [][]byte{digest(1)}})
		}), ledger.CodeNotRedactable},
		{"a redaction on a pledge", func() *pb.Record {
			r := v1(pledge([]string{"xaa"}, 24, pb.Sector_SECTOR_WATER))
			r.Redaction = &pb.Redaction{Fields: []*pb.RedactedField{{Path: "text", Digests: [][]byte{digest(1)}}}, PublicSummary: "x",
				Basis: pb.DesignationBasis_DESIGNATION_BASIS_NATIONAL_SECURITY}
			return r
		}(), ledger.CodeNotRedactable},
		{"a digest count mismatch (two digests for a singular field)", mut(func(r *pb.Record) {
			f := disclose.Field(r.Redaction, "summary")
			f.Digests = append([][]byte{digest(0)}, f.Digests...)
		}), ledger.CodeDigestMismatch},
		{"a digest of 31 bytes", mut(func(r *pb.Record) { disclose.Field(r.Redaction, "summary").Digests[0] = digest(1)[:31] }), ledger.CodeDigestMismatch},
		{"unsorted digests", mut(func(r *pb.Record) {
			f := disclose.Field(r.Redaction, "affected_entities")
			f.Digests[0], f.Digests[1] = f.Digests[1], f.Digests[0]
		}), ledger.CodeDigestMismatch},
		{"a field withheld and present", mut(func(r *pb.Record) { r.GetIncidentDisclosure().Summary = "still here" }), ledger.CodeDigestMismatch},
		{"no public summary", mut(func(r *pb.Record) { r.Redaction.PublicSummary = "" }), ledger.CodeMissingField},
		{"no designation basis", mut(func(r *pb.Record) { r.Redaction.Basis = 0 }), ledger.CodeBadEnum},
		{"fields unsorted", mut(func(r *pb.Record) {
			r.Redaction.Fields[0], r.Redaction.Fields[1] = r.Redaction.Fields[1], r.Redaction.Fields[0]
		}), ledger.CodeBadFormat},
	} {
		t.Run(c.name, func(t *testing.T) { h.mustReject(t, next("xaa", c.rec), c.want) })
	}
	h.fileNow("xaa", good)

	// Below app version 11 a redaction is an unknown field.
	old := newHarnessAt(t, ledger.AppVersionCases)
	old.block()
	r, _ := redact(t, operatorIncident(), "summary")
	r.GetIncidentDisclosure().AffectedEntities = nil
	old.mustReject(t, old.sign("xaa", r), ledger.CodeNonCanonical)
	old.mustReject(t, old.sign("xbb", undertaking(strings.Repeat("a", 64), strings.Repeat("b", 64))), ledger.CodeNonCanonical)
}

// What a review of the first version found: the author cannot silence a
// confirmation by waiving it, nor an approved person cancel a delivery for
// the others; a delivery is due by expiry at the latest; a ruling cannot
// hide in an amendment; published values must pass their field's checks;
// rules for authorize_order wait for version 11.
func TestDisclosureRulesMore(t *testing.T) {
	h := pledgeTerms(t, ledger.CurrentAppVersion)
	next := func(m string, r *pb.Record) []byte { return h.signSeq(m, h.nextSeq(m), r) }
	inc := h.fileNow("xaa", v1(incident("INC-H", []string{"xaa"}, pb.Sector_SECTOR_WATER)))
	// A self-assessment whose withheld estimate could never have been
	// filed in clear (min above best).
	ha, hb := redact(t, v1(&pb.Record{Body: &pb.Record_HarmAssessment{HarmAssessment: &pb.HarmAssessment{
		SubjectIncidents: []string{inc}, AssessorClass: pb.AssessorClass_ASSESSOR_CLASS_SELF,
		Methodology: &pb.Methodology{Name: "m", Version: "1"}, PersonsAffected: &pb.Estimate{Min: 10, Best: 5, Max: 20},
		CausationConfidence: pb.Confidence_CONFIDENCE_LOW, Status: pb.AssessmentStatus_ASSESSMENT_STATUS_PRELIMINARY}}}), "persons_affected")
	assess := h.fileNow("xaa", ha)
	caseID := h.fileNow("xbb", caseStep(&pb.CaseStep{Step: stepRequest, Respondent: "xaa", Subjects: []string{inc},
		Norm: "UN-GGE-2015-13f", Conduct: "attack_on_water", Statement: "Consult."}))
	uB := h.fileNow("xbb", undertaking(assess, caseID))
	expires := h.now.Add(day)
	oid := h.fileNow("xaa", orderRec(&pb.ProtectiveOrder{SubjectId: assess, Paths: []string{"persons_affected"},
		Approved: []*pb.Approval{{Member: "xbb", UndertakingId: uB}}, PurposeRef: caseID,
		ExpiresAt: timestamppb.New(expires), OnExpiry: pb.OrderExpiry_ORDER_EXPIRY_PUBLISH}))
	if d := h.ob(kDeliver, oid, "xaa"); !d.Due.AsTime().Equal(expires) || len(d.Creditors) != 0 {
		t.Fatalf("delivery duty: due %s (expiry %s), creditors %v", d.Due.AsTime(), expires, d.Creditors)
	}
	h.mustReject(t, next("xbb", &pb.Record{SchemaVersion: 1, Body: &pb.Record_Waiver{Waiver: &pb.Waiver{
		ObligationId: ledger.ObligationID(kDeliver, oid, "xaa"), Reason: "not needed"}}}), ledger.CodeNotCreditor)
	h.fileNow("xaa", dstep(deliver(t, oid, assess, hb, []string{"persons_affected"}, "xbb")))
	h.mustReject(t, next("xaa", &pb.Record{SchemaVersion: 1, Body: &pb.Record_Waiver{Waiver: &pb.Waiver{
		ObligationId: ledger.ObligationID(kConfirm, oid, "xbb"), Reason: "silence"}}}), ledger.CodeNotWaivable)
	h.mustReject(t, next("xaa", dstep(&pb.DisclosureStep{Step: sPublish, SourceId: oid, Disclosures: hb.Disclosures})), ledger.CodeBadFormat)

	// A ruling on a designation stands in a finding of its own.
	f := &pb.Finding{SubjectType: pb.FindingSubjectType_FINDING_SUBJECT_TYPE_INCIDENT, SubjectId: inc, SubjectStates: []string{"xaa"},
		Determination: pb.Determination_DETERMINATION_CONSISTENT, EvidenceRefs: []string{"e"}, Methodology: &pb.Methodology{Name: "m", Version: "1"},
		ConflictOfInterest: &pb.ConflictOfInterest{NoneDeclared: true}, Summary: "s"}
	fid := h.fileNow("lumen", v1(&pb.Record{Body: &pb.Record_Finding{Finding: f}}))
	ruled := proto.Clone(f).(*pb.Finding)
	ruled.Designation = &pb.DesignationRuling{RecordId: assess}
	h.mustReject(t, next("lumen", &pb.Record{SchemaVersion: 1, Body: &pb.Record_Amendment{Amendment: &pb.Amendment{TargetId: fid, Reason: "r",
		Replacement: v1(&pb.Record{Body: &pb.Record_Finding{Finding: ruled}})}}}), ledger.CodeBadFormat)

	// Below 11 a governance rule for authorize_order is an unknown field.
	old := newHarnessAt(t, ledger.AppVersionCases)
	old.block()
	old.mustReject(t, old.sign("xaa", govProposal(&pb.GovernanceAction{Action: &pb.GovernanceAction_SetGovernanceRules{
		SetGovernanceRules: ledger.DefaultGovernanceRulesAt(ledger.AppVersionDisclosure)}}, old.now.Add(48*time.Hour))), ledger.CodeNonCanonical)
}
