package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger/disclose"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/seal"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Selective disclosure and protective orders (app version 11,
// docs/disclosure.md). The digest construction is package disclose; this
// file is what the ledger enforces: which fields may be withheld and how,
// who may issue an order and to whom, and the duties an order places.

// DefaultDisclosureWindows are the built-in windows of protective orders
// (params.disclosure_windows and an order's windows override them field by
// field).
func DefaultDisclosureWindows() *pb.DisclosureWindows {
	const day = 24 * 3600
	return &pb.DisclosureWindows{DeliverSeconds: 7 * day, ConfirmSeconds: 3 * day, PublishSeconds: 7 * day, ReturnSeconds: 14 * day}
}

// EffectiveDisclosureWindows layers an order's windows over the chain's
// over the defaults, field by field (zero: the layer below).
func EffectiveDisclosureWindows(chain, order *pb.DisclosureWindows) *pb.DisclosureWindows {
	return layerWindows(DefaultDisclosureWindows(), chain, order)
}

// newInV11 names the first part of r that app version 11 introduced, or "".
func newInV11(r *pb.Record) string {
	if r.GetRedaction() != nil {
		return "record.redaction"
	}
	switch body := r.GetBody().(type) {
	case *pb.Record_Undertaking:
		return "record.undertaking"
	case *pb.Record_ProtectiveOrder:
		return "record.protective_order"
	case *pb.Record_DisclosureStep:
		return "record.disclosure_step"
	case *pb.Record_IncidentDisclosure:
		if len(body.IncidentDisclosure.AffectedEntities) > 0 {
			return "incident_disclosure.affected_entities"
		}
	case *pb.Record_Finding:
		if body.Finding.Designation != nil {
			return "finding.designation"
		}
	case *pb.Record_Proposal:
		if body.Proposal.GetAction().GetAuthorizeOrder() != nil {
			return "proposal.action.authorize_order"
		}
		if RulesSince(body.Proposal.GetAction().GetSetGovernanceRules()) >= AppVersionDisclosure {
			return "proposal.action.set_governance_rules (a rule for authorize_order)"
		}
		if sp := body.Proposal.GetAction().GetSetParams(); sp != nil {
			return ParamsNewInV11(sp)
		}
	}
	return ""
}

// ParamsNewInV11 names the first params field app version 11 introduced
// ("" when p has none): genesis below 11 must not set them.
func ParamsNewInV11(p *pb.Params) string {
	if p.GetDisclosureWindows() != nil {
		return "params.disclosure_windows"
	}
	return ""
}

// validateRedaction checks a record's redaction against its body and
// returns the withheld paths.
func validateRedaction(r *pb.Record) (map[string]bool, error) {
	red := r.GetRedaction()
	kind, body := disclose.Body(r)
	if body == nil {
		return nil, errf(CodeEmptyBody, "record has no body")
	}
	if !disclose.Disclosable(string(kind)) {
		return nil, errf(CodeNotRedactable, "record.redaction: a %s withholds no fields (only incident disclosures, harm assessments, findings and notifications do)", kind)
	}
	if len(red.Fields) == 0 {
		return nil, errf(CodeMissingField, "record.redaction.fields is required")
	}
	if err := reqText("record.redaction.public_summary", red.PublicSummary, MaxSummaryLen); err != nil {
		return nil, err
	}
	if err := enumReq("record.redaction.basis", red.Basis); err != nil {
		return nil, err
	}
	held := map[string]bool{}
	for i, f := range red.Fields {
		if i > 0 && red.Fields[i-1].Path >= f.Path {
			return nil, errf(CodeBadFormat, "record.redaction.fields must be sorted by path, each once (%q after %q)", f.Path, red.Fields[i-1].Path)
		}
		fd, err := disclose.FieldOf(body, kind, f.Path)
		if err != nil {
			return nil, wrapf(CodeNotRedactable, err, "record.redaction.fields: %s", f.Path)
		}
		max := 1
		if fd.IsList() {
			max = MaxListLen + disclose.MaxDecoys
		}
		if n := len(f.Digests); n == 0 || n > max || (!fd.IsList() && n != 1) {
			if fd.IsList() {
				return nil, errf(CodeDigestMismatch, "record.redaction.fields %s: %d digests (a repeated field takes 1 to %d: one per element, plus decoys)", f.Path, n, max)
			}
			return nil, errf(CodeDigestMismatch, "record.redaction.fields %s: %d digests (a singular field takes exactly one)", f.Path, n)
		}
		for j, d := range f.Digests {
			if len(d) != disclose.DigestSize {
				return nil, errf(CodeDigestMismatch, "record.redaction.fields %s: digest %d is %d bytes, want %d", f.Path, j, len(d), disclose.DigestSize)
			}
			if j > 0 && bytes.Compare(f.Digests[j-1], d) >= 0 {
				return nil, errf(CodeDigestMismatch, "record.redaction.fields %s: digests must be sorted ascending, each once", f.Path)
			}
		}
		if body.Has(fd) {
			return nil, errf(CodeDigestMismatch, "record.redaction.fields %s: the field is withheld and present in the body at once", f.Path)
		}
		held[f.Path] = true
	}
	return held, nil
}

// withheld says whether the record being validated withholds path: a
// required field that is withheld is not missing.
func (v *validator) withheld(path string) bool { return v.held[path] }

// RedactedRecord returns the record carrying a redaction in a stored
// record's tx: the record itself, an amendment's replacement or a reveal's
// body; nil when there is none.
func RedactedRecord(tx *pb.Tx) *pb.Record {
	r := tx.GetBody().GetRecord()
	switch {
	case r.GetRedaction() != nil:
		return r
	case r.GetAmendment().GetReplacement().GetRedaction() != nil:
		return r.GetAmendment().GetReplacement()
	case r.GetReveal().GetBody().GetRedaction() != nil:
		return r.GetReveal().GetBody()
	}
	return nil
}

// redacted loads a record that withholds fields.
func (a *admission) redacted(field, id string) (*pb.StoredRecord, *pb.Record, error) {
	rec, tx, err := a.record(field, id)
	if err != nil {
		return nil, nil, err
	}
	r := RedactedRecord(tx)
	if r == nil {
		return nil, nil, errf(CodeNotRedactable, "%s: record %s withholds no field", field, id)
	}
	return rec, r, nil
}

// purpose checks an order's or undertaking's purpose: a case or a finding.
func (a *admission) purpose(field, id string) error {
	cs, err := a.st.Case(id)
	if err != nil {
		return fmt.Errorf("read case %s: %w", id, err)
	}
	if cs != nil {
		return nil
	}
	_, _, err = a.record(field, id, pb.RecordKind_RECORD_KIND_FINDING)
	if CodeOf(err) == CodeUnknownRecord {
		return errf(CodeUnknownRecord, "%s: %s is neither a case nor a finding", field, id)
	}
	return err
}

func validateUndertaking(v *validator, r *pb.Record) error {
	u := r.GetUndertaking()
	if err := recordID("undertaking.subject_id", u.SubjectId); err != nil {
		return err
	}
	if err := recordID("undertaking.purpose_ref", u.PurposeRef); err != nil {
		return err
	}
	return reqText("undertaking.terms", u.Terms, MaxSummaryLen)
}

func admitUndertaking(a *admission, r *pb.Record) error {
	u := r.GetUndertaking()
	rec, _, err := a.redacted("undertaking.subject_id", u.SubjectId)
	if err != nil {
		return err
	}
	if rec.Author == a.author {
		return errf(CodeSelfReference, "undertaking.subject_id: %q designated record %s itself and needs no undertaking", a.author, u.SubjectId)
	}
	if err := a.purpose("undertaking.purpose_ref", u.PurposeRef); err != nil {
		return err
	}
	a.subject(rec.Author)
	return nil
}

func validateOrder(v *validator, r *pb.Record) error {
	o := r.GetProtectiveOrder()
	if err := recordID("protective_order.subject_id", o.SubjectId); err != nil {
		return err
	}
	if len(o.Paths) == 0 {
		return errf(CodeMissingField, "protective_order.paths is required")
	}
	if err := sortedPaths("protective_order.paths", o.Paths); err != nil {
		return err
	}
	if len(o.Approved) == 0 {
		return errf(CodeMissingField, "protective_order.approved is required")
	}
	if err := checkListLen("protective_order.approved", len(o.Approved), MaxListLen); err != nil {
		return err
	}
	for i, ap := range o.Approved {
		if err := memberRef("protective_order.approved.member", ap.GetMember()); err != nil {
			return err
		}
		if i > 0 && o.Approved[i-1].Member >= ap.Member {
			return errf(CodeBadFormat, "protective_order.approved must be sorted by member, each once")
		}
		if ap.UndertakingId == "" {
			return errf(CodeUndertakingMissing, "protective_order.approved: %q names no undertaking (each approved person files one first)", ap.Member)
		}
		if err := recordID("protective_order.approved.undertaking_id", ap.UndertakingId); err != nil {
			return err
		}
	}
	if err := recordID("protective_order.purpose_ref", o.PurposeRef); err != nil {
		return err
	}
	if err := v.future("protective_order.expires_at", o.ExpiresAt, true); err != nil {
		return err
	}
	if err := enumReq("protective_order.on_expiry", o.OnExpiry); err != nil {
		return err
	}
	if o.AuthorityRef != "" {
		if err := recordID("protective_order.authority_ref", o.AuthorityRef); err != nil {
			return err
		}
	}
	if o.Windows != nil {
		if err := validateWindows("protective_order.windows", o.Windows); err != nil {
			return err
		}
	}
	return checkText("protective_order.statement", o.Statement, MaxSummaryLen)
}

func admitOrder(a *admission, r *pb.Record) error {
	o := r.GetProtectiveOrder()
	rec, red, err := a.redacted("protective_order.subject_id", o.SubjectId)
	if err != nil {
		return err
	}
	for _, p := range o.Paths {
		if disclose.Field(red.Redaction, p) == nil {
			return errf(CodeNotRedactable, "protective_order.paths: record %s does not withhold %q (it withholds %v)", o.SubjectId, p, disclose.Paths(red))
		}
	}
	if err := a.entitled(o, rec); err != nil {
		return err
	}
	if err := a.purpose("protective_order.purpose_ref", o.PurposeRef); err != nil {
		return err
	}
	for _, ap := range o.Approved {
		m, err := a.member("protective_order.approved.member", ap.Member)
		if err != nil {
			return err
		}
		if ap.Member == rec.Author {
			return errf(CodeSelfReference, "protective_order.approved: %q designated the record and holds the values already", ap.Member)
		}
		if !slices.ContainsFunc(m.EncryptionKeys, func(k *pb.MemberKey) bool { return k.Status == pb.KeyStatus_KEY_STATUS_ACTIVE }) {
			return errf(CodeNoEncryptionKey, "protective_order.approved: %q has no active encryption key to deliver to (add one by a vote: add_key with age_recipient)", ap.Member)
		}
		urec, utx, err := a.record("protective_order.approved.undertaking_id", ap.UndertakingId)
		if CodeOf(err) == CodeUnknownRecord {
			return errf(CodeUndertakingMissing, "protective_order.approved: undertaking %s of %q does not exist", ap.UndertakingId, ap.Member)
		}
		if err != nil {
			return err
		}
		u := utx.GetBody().GetRecord().GetUndertaking()
		if u == nil || urec.Author != ap.Member || u.SubjectId != o.SubjectId || u.PurposeRef != o.PurposeRef {
			return errf(CodeUndertakingMissing, "protective_order.approved: record %s is not %q's undertaking for record %s and purpose %s", ap.UndertakingId, ap.Member, o.SubjectId, o.PurposeRef)
		}
		a.subject(ap.Member)
	}
	a.subject(rec.Author)
	return nil
}

// entitled checks who issues an order: the designating author, a verifier
// citing its own finding that rules on the record's designation, or the
// issuer a passed authorize_order proposal names.
func (a *admission) entitled(o *pb.ProtectiveOrder, subject *pb.StoredRecord) error {
	if o.AuthorityRef == "" {
		if subject.Author == a.author {
			return nil
		}
		return errf(CodeOrderNotEntitled, "protective_order: %q did not designate record %s (its author %q did); cite a finding of yours ruling on it or a passed authorize_order in authority_ref", a.author, o.SubjectId, subject.Author)
	}
	rec, tx, err := a.record("protective_order.authority_ref", o.AuthorityRef)
	if CodeOf(err) == CodeUnknownRecord {
		return errf(CodeOrderNotEntitled, "protective_order.authority_ref: record %s does not exist", o.AuthorityRef)
	}
	if err != nil {
		return err
	}
	body := tx.GetBody().GetRecord()
	switch rec.Kind {
	case pb.RecordKind_RECORD_KIND_FINDING:
		if rec.Author == a.author && body.GetFinding().GetDesignation().GetRecordId() == o.SubjectId {
			return nil
		}
		return errf(CodeOrderNotEntitled, "protective_order.authority_ref: finding %s is not %q's ruling on the designation of record %s", o.AuthorityRef, a.author, o.SubjectId)
	case pb.RecordKind_RECORD_KIND_PROPOSAL:
		ps, err := a.st.Proposal(o.AuthorityRef)
		if err != nil {
			return fmt.Errorf("read proposal %s: %w", o.AuthorityRef, err)
		}
		ao := body.GetProposal().GetAction().GetAuthorizeOrder()
		if ps == nil || ps.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED || ao == nil || ao.SubjectId != o.SubjectId || ao.Issuer != a.author {
			return errf(CodeOrderNotEntitled, "protective_order.authority_ref: proposal %s is not a passed authorize_order naming %q for record %s", o.AuthorityRef, a.author, o.SubjectId)
		}
		return nil
	}
	return errf(CodeOrderNotEntitled, "protective_order.authority_ref: record %s is a %v, not a finding or a proposal", o.AuthorityRef, rec.Kind)
}

// Which fields each disclosure step uses (besides step, source_id and statement).
var disclosureStepFields = map[pb.DisclosureStepType][]string{
	pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_DELIVER: {"ciphertext", "recipients"},
	pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_CONFIRM: {"matches", "file_key"},
	pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_PUBLISH: {"disclosures"},
	pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_RETURN:  nil,
}

// DisclosureStepName is a step's short name: DISCLOSURE_STEP_TYPE_DELIVER -> "deliver".
func DisclosureStepName(s pb.DisclosureStepType) string { return enum.Name(s) }

func validateDisclosureStep(v *validator, r *pb.Record) error {
	s := r.GetDisclosureStep()
	if err := enumReq("disclosure_step.step", s.Step); err != nil {
		return err
	}
	if err := onlyFields("disclosure_step "+DisclosureStepName(s.Step), s, []string{"step", "source_id", "statement"}, disclosureStepFields[s.Step]); err != nil {
		return err
	}
	if err := recordID("disclosure_step.source_id", s.SourceId); err != nil {
		return err
	}
	if err := checkText("disclosure_step.statement", s.Statement, MaxSummaryLen); err != nil {
		return err
	}
	switch s.Step {
	case pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_DELIVER:
		if len(s.Ciphertext) == 0 {
			return errf(CodeMissingField, "disclosure_step.ciphertext is required to deliver")
		}
		if len(s.Recipients) == 0 {
			return errf(CodeMissingField, "disclosure_step.recipients is required to deliver")
		}
		return validateAgeTo("disclosure_step", s.Ciphertext, s.Recipients)
	case pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_CONFIRM:
		if s.Matches && len(s.FileKey) > 0 {
			return errf(CodeBadFormat, "disclosure_step.file_key proves a mismatch; a confirmation that matches carries none")
		}
		if len(s.FileKey) > 0 && len(s.FileKey) != seal.FileKeySize {
			return errf(CodeBadFormat, "disclosure_step.file_key must be %d bytes, got %d", seal.FileKeySize, len(s.FileKey))
		}
	case pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_PUBLISH:
		if len(s.Disclosures) == 0 {
			return errf(CodeMissingField, "disclosure_step.disclosures is required to publish")
		}
		if err := checkListLen("disclosure_step.disclosures", len(s.Disclosures), MaxListLen); err != nil {
			return err
		}
		for _, d := range s.Disclosures {
			if d.Path == "" {
				return errf(CodeMissingField, "disclosure_step.disclosures.path is required")
			}
			if n := len(d.Salt); n < disclose.MinSalt || n > disclose.MaxSalt {
				return errf(CodeBadFormat, "disclosure_step.disclosures %s: salt is %d bytes (%d to %d)", d.Path, n, disclose.MinSalt, disclose.MaxSalt)
			}
		}
	}
	return nil
}

// orderOf loads the protective order a step names.
func (a *admission) orderOf(id string) (*pb.StoredRecord, *pb.ProtectiveOrder, error) {
	rec, tx, err := a.record("disclosure_step.source_id", id)
	if CodeOf(err) == CodeUnknownRecord {
		return nil, nil, errf(CodeUnknownOrder, "disclosure_step.source_id: record %s does not exist", id)
	}
	if err != nil {
		return nil, nil, err
	}
	o := tx.GetBody().GetRecord().GetProtectiveOrder()
	if o == nil {
		return nil, nil, errf(CodeUnknownOrder, "disclosure_step.source_id: record %s is a %v, not a protective order", id, rec.Kind)
	}
	return rec, o, nil
}

// approvedIn says whether m is an approved person of o.
func approvedIn(o *pb.ProtectiveOrder, m string) bool {
	return slices.ContainsFunc(o.Approved, func(ap *pb.Approval) bool { return ap.Member == m })
}

// ApprovedMembers lists an order's approved persons (sorted, as the order holds them).
func ApprovedMembers(o *pb.ProtectiveOrder) []string {
	out := make([]string, 0, len(o.Approved))
	for _, ap := range o.Approved {
		out = append(out, ap.Member)
	}
	return out
}

// openDuty loads the duty of kind from source on debtor and insists it is
// open: absent is the wrong moment (what), closed is closed.
func (a *admission) openDuty(kind pb.ObligationKind, source, debtor, what string) error {
	id := ObligationID(kind, source, debtor)
	ob, err := a.st.Obligation(id)
	if err != nil {
		return fmt.Errorf("read obligation %s: %w", id, err)
	}
	if ob == nil {
		return errf(CodeWrongStage, "disclosure_step: %s", what)
	}
	if !Open(ob) {
		return errf(CodeObligationClosed, "disclosure_step: the %s duty of %q for %s is already %v", enum.Name(kind), debtor, source, ob.Status)
	}
	return nil
}

func admitDisclosureStep(a *admission, r *pb.Record) error {
	s := r.GetDisclosureStep()
	if s.Step == pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_PUBLISH {
		return a.publish(s)
	}
	orec, o, err := a.orderOf(s.SourceId)
	if err != nil {
		return err
	}
	subject, stx, err := a.record("protective_order.subject_id", o.SubjectId)
	if err != nil {
		return err
	}
	a.subject(subject.Author)
	switch s.Step {
	case pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_DELIVER:
		if subject.Author != a.author {
			return errf(CodeNotAuthor, "disclosure_step deliver: only %q, who designated record %s, holds the values to deliver", subject.Author, o.SubjectId)
		}
		if !a.b.Time.Before(o.ExpiresAt.AsTime()) {
			return errf(CodeWrongStage, "disclosure_step deliver: order %s expired at %s", orec.Id, o.ExpiresAt.AsTime().Format(time.RFC3339))
		}
		if err := a.openDuty(pb.ObligationKind_OBLIGATION_KIND_DELIVER_DISCLOSURE, orec.Id, a.author, "order "+orec.Id+" places no delivery duty"); err != nil {
			return err
		}
		var to []string
		for _, rc := range s.Recipients {
			to = append(to, rc.Member)
		}
		if want := ApprovedMembers(o); !slices.Equal(sortedUnique(to), want) {
			return errf(CodeNotApproved, "disclosure_step.recipients %v must be exactly the approved persons of order %s: %v", sortedUnique(to), orec.Id, want)
		}
		return admitRecipients(a, "disclosure_step", "the designating author", s.Recipients)
	case pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_CONFIRM, pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_RETURN:
		if !approvedIn(o, a.author) {
			return errf(CodeNotApproved, "disclosure_step %s: %q is not an approved person of order %s", DisclosureStepName(s.Step), a.author, orec.Id)
		}
		kind, what := pb.ObligationKind_OBLIGATION_KIND_CONFIRM_DISCLOSURE, "nothing was delivered under order "+orec.Id+" yet"
		if s.Step == pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_RETURN {
			kind, what = pb.ObligationKind_OBLIGATION_KIND_RETURN_DISCLOSURE, "order "+orec.Id+" asks for no return (it publishes on expiry, or nothing was delivered)"
		}
		if err := a.openDuty(kind, orec.Id, a.author, what); err != nil {
			return err
		}
		if len(s.FileKey) > 0 {
			return a.provenMismatch(orec.Id, o, subject.Author, RedactedRecord(stx), s.FileKey)
		}
		return nil
	}
	return errf(CodeBadEnum, "disclosure_step.step %v is not known", s.Step)
}

// provenMismatch accepts a confirmation's published file key only if it
// opens the delivery and what it opens does not match the digests.
func (a *admission) provenMismatch(order string, o *pb.ProtectiveOrder, author string, subject *pb.Record, fileKey []byte) error {
	dlv, err := a.delivery(order, author)
	if err != nil {
		return err
	}
	pt, err := seal.Open(dlv.GetCiphertext(), fileKey)
	if errors.Is(err, seal.ErrFileKey) || errors.Is(err, seal.ErrHeader) {
		return wrapf(CodeBadFileKey, err, "disclosure_step.file_key")
	}
	if err == nil && CheckDelivery(subject, o, pt) == nil {
		return errf(CodeSealedBodyMatches, "disclosure_step.file_key opens values that match the digests of record %s", o.SubjectId)
	}
	return nil
}

// delivery loads the delivery that met the delivery duty an order placed
// on the record's author.
func (a *admission) delivery(order, author string) (*pb.DisclosureStep, error) {
	ob, err := a.st.Obligation(ObligationID(pb.ObligationKind_OBLIGATION_KIND_DELIVER_DISCLOSURE, order, author))
	if err != nil {
		return nil, err
	}
	if ob == nil || ob.StatusRecord == "" {
		return nil, errf(CodeWrongStage, "disclosure_step: nothing was delivered under order %s yet", order)
	}
	_, tx, err := a.record("delivery", ob.StatusRecord)
	if err != nil {
		return nil, err
	}
	return tx.GetBody().GetRecord().GetDisclosureStep(), nil
}

// CheckDelivery says whether a delivery's plaintext opens what order o
// covers in the redacted record subject: a canonical DisclosureBundle
// whose disclosures each open a digest and that opens every path the
// order names at least once (its record_id is not judged). nil means it
// matches.
func CheckDelivery(subject *pb.Record, o *pb.ProtectiveOrder, plaintext []byte) error {
	b := new(pb.DisclosureBundle)
	if err := unmarshalCanonical(plaintext, b, "delivery"); err != nil {
		return err
	}
	// Only the values are judged: a bundle that names another record (or
	// none) but opens this record's digests delivers what was owed.
	b.RecordId = ""
	_, err := covers(subject, b, o.Paths)
	return err
}

// covers checks a bundle against a redacted record and that it opens each
// of paths at least once; it returns what the bundle opened.
func covers(subject *pb.Record, b *pb.DisclosureBundle, paths []string) ([]*disclose.Opened, error) {
	opened, err := disclose.Verify(subject, "", b)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if !slices.ContainsFunc(opened, func(o *disclose.Opened) bool { return o.Path == p }) {
			return nil, fmt.Errorf("nothing opens %s", p)
		}
	}
	return opened, nil
}

// publish admits a publication: by the designating author, for an order
// or a ruling on its record; every disclosure opens a digest of the record
// and every path the source covers is opened.
func (a *admission) publish(s *pb.DisclosureStep) error {
	rec, tx, err := a.record("disclosure_step.source_id", s.SourceId)
	if CodeOf(err) == CodeUnknownRecord {
		return errf(CodeUnknownOrder, "disclosure_step.source_id: record %s does not exist", s.SourceId)
	}
	if err != nil {
		return err
	}
	var subjectID string
	var paths []string
	body := tx.GetBody().GetRecord()
	switch {
	case body.GetProtectiveOrder() != nil:
		subjectID, paths = body.GetProtectiveOrder().SubjectId, body.GetProtectiveOrder().Paths
	case body.GetFinding().GetDesignation() != nil:
		subjectID, paths = body.GetFinding().GetDesignation().RecordId, body.GetFinding().GetDesignation().ExcessivePaths
	default:
		return errf(CodeUnknownOrder, "disclosure_step.source_id: record %s is a %v, not a protective order or a ruling on a designation", s.SourceId, rec.Kind)
	}
	subject, red, err := a.redacted("disclosure_step.source_id", subjectID)
	if err != nil {
		return err
	}
	if subject.Author != a.author {
		return errf(CodeNotAuthor, "disclosure_step publish: only %q, who designated record %s, holds the values to publish", subject.Author, subjectID)
	}
	opened, err := covers(red, &pb.DisclosureBundle{Disclosures: s.Disclosures}, paths)
	if err != nil {
		return wrapf(CodeDigestMismatch, err, "disclosure_step.disclosures do not open record %s's digests: %v", subjectID, err)
	}
	// The values must also be ones the record could have carried: the
	// body with them put back passes its kind's checks, as of the
	// record's own block (withheld fields still count as present).
	restored := disclose.Restore(red, opened)
	restored.Redaction = nil
	v := &validator{reg: a.reg, st: a.st, blockTime: subject.BlockTime.AsTime(),
		skew: time.Duration(paramsOf(a.b).MaxClockSkewSeconds) * time.Second, held: map[string]bool{}}
	for _, p := range disclose.Paths(red) {
		v.held[p] = true
	}
	if err := a.reg.Kind(KindOf(restored)).Validate(v, restored); err != nil {
		return wrapf(CodeOf(err), err, "disclosure_step.disclosures: record %s could not have carried the published values: %v", subjectID, err)
	}
	return nil
}

// validateDesignation checks a finding's ruling on a designation.
func validateDesignation(d *pb.DesignationRuling) error {
	if err := recordID("finding.designation.record_id", d.RecordId); err != nil {
		return err
	}
	return sortedPaths("finding.designation.excessive_paths", d.ExcessivePaths)
}

// sortedPaths checks a list of field paths: at most MaxListLen, each
// non-empty, sorted, each once.
func sortedPaths(field string, paths []string) error {
	if err := checkListLen(field, len(paths), MaxListLen); err != nil {
		return err
	}
	for i, p := range paths {
		if p == "" || (i > 0 && paths[i-1] >= p) {
			return errf(CodeBadFormat, "%s must be sorted, non-empty and each once", field)
		}
	}
	return nil
}

// admitDesignation checks a ruling against the record it rules on.
func (a *admission) admitDesignation(d *pb.DesignationRuling) error {
	rec, red, err := a.redacted("finding.designation.record_id", d.RecordId)
	if err != nil {
		return err
	}
	for _, p := range d.ExcessivePaths {
		if disclose.Field(red.Redaction, p) == nil {
			return errf(CodeNotRedactable, "finding.designation.excessive_paths: record %s does not withhold %q", d.RecordId, p)
		}
	}
	a.subject(rec.Author)
	return nil
}

// authorizeOrder checks an authorize_order action against the state.
func authorizeOrder(st State, ao *pb.AuthorizeOrder) error {
	rec, err := st.Record(ao.SubjectId)
	if err != nil {
		return fmt.Errorf("read record %s: %w", ao.SubjectId, err)
	}
	if rec == nil {
		return errf(CodeUnknownRecord, "authorize_order.subject_id: record %s does not exist", ao.SubjectId)
	}
	tx := new(pb.Tx)
	if err := proto.Unmarshal(rec.Tx, tx); err != nil {
		return fmt.Errorf("stored record %s does not decode: %w", ao.SubjectId, err)
	}
	if RedactedRecord(tx) == nil {
		return errf(CodeNotRedactable, "authorize_order.subject_id: record %s withholds no field", ao.SubjectId)
	}
	m, err := st.Member(ao.Issuer)
	if err != nil {
		return fmt.Errorf("read member %q: %w", ao.Issuer, err)
	}
	if m == nil || m.Status != pb.MemberStatus_MEMBER_STATUS_ACTIVE {
		return errf(CodeUnknownMember, "authorize_order.issuer: %q is not an active member", ao.Issuer)
	}
	return nil
}

// disclosureDuties places and meets the duties of orders and their steps.
func (o *obligations) disclosureDuties(r *pb.Record) error {
	switch body := r.Body.(type) {
	case *pb.Record_ProtectiveOrder:
		po := body.ProtectiveOrder
		author, err := o.authorOf(po.SubjectId)
		if err != nil {
			return err
		}
		w := EffectiveDisclosureWindows(o.params.GetDisclosureWindows(), po.Windows)
		// Owed to the order's issuer (none when the author issued it): an
		// approved person cannot waive the delivery or publication for the
		// others. Delivery is due by expiry at the latest.
		creditors := []string{o.author}
		due := o.b.Time.Add(secs(w.DeliverSeconds))
		if exp := po.ExpiresAt.AsTime(); exp.Before(due) {
			due = exp
		}
		if err := o.create(pb.ObligationKind_OBLIGATION_KIND_DELIVER_DISCLOSURE, o.record, author, creditors, due, []string{po.SubjectId}); err != nil {
			return err
		}
		if po.OnExpiry == pb.OrderExpiry_ORDER_EXPIRY_PUBLISH {
			return o.create(pb.ObligationKind_OBLIGATION_KIND_PUBLISH_DISCLOSURE, o.record, author, creditors,
				po.ExpiresAt.AsTime().Add(secs(w.PublishSeconds)), []string{po.SubjectId})
		}
	case *pb.Record_DisclosureStep:
		s := body.DisclosureStep
		switch s.Step {
		case pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_DELIVER:
			if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_DELIVER_DISCLOSURE, s.SourceId, o.author); err != nil {
				return err
			}
			po, err := o.orderOf(s.SourceId)
			if err != nil {
				return err
			}
			w := EffectiveDisclosureWindows(o.params.GetDisclosureWindows(), po.Windows)
			for _, m := range ApprovedMembers(po) {
				if err := o.create(pb.ObligationKind_OBLIGATION_KIND_CONFIRM_DISCLOSURE, s.SourceId, m, []string{o.author},
					o.b.Time.Add(secs(w.ConfirmSeconds)), []string{o.record}); err != nil {
					return err
				}
				if po.OnExpiry == pb.OrderExpiry_ORDER_EXPIRY_RETURN {
					if err := o.create(pb.ObligationKind_OBLIGATION_KIND_RETURN_DISCLOSURE, s.SourceId, m, []string{o.author},
						po.ExpiresAt.AsTime().Add(secs(w.ReturnSeconds)), []string{o.record}); err != nil {
						return err
					}
				}
			}
		case pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_CONFIRM:
			return o.fulfil(pb.ObligationKind_OBLIGATION_KIND_CONFIRM_DISCLOSURE, s.SourceId, o.author)
		case pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_RETURN:
			return o.fulfil(pb.ObligationKind_OBLIGATION_KIND_RETURN_DISCLOSURE, s.SourceId, o.author)
		case pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_PUBLISH:
			return o.fulfil(pb.ObligationKind_OBLIGATION_KIND_PUBLISH_DISCLOSURE, s.SourceId, o.author)
		}
	case *pb.Record_Finding:
		d := body.Finding.GetDesignation()
		if d == nil || len(d.ExcessivePaths) == 0 {
			return nil
		}
		author, err := o.authorOf(d.RecordId)
		if err != nil {
			return err
		}
		w := EffectiveDisclosureWindows(o.params.GetDisclosureWindows(), nil)
		return o.create(pb.ObligationKind_OBLIGATION_KIND_PUBLISH_DISCLOSURE, o.record, author, []string{o.author},
			o.b.Time.Add(secs(w.PublishSeconds)), []string{d.RecordId})
	}
	return nil
}

func (o *obligations) authorOf(id string) (string, error) {
	rec, err := o.st.Record(id)
	if err != nil {
		return "", fmt.Errorf("read record %s: %w", id, err)
	}
	if rec == nil {
		return "", fmt.Errorf("record %s vanished after admission", id)
	}
	return rec.Author, nil
}

func (o *obligations) orderOf(id string) (*pb.ProtectiveOrder, error) {
	rec, err := o.st.Record(id)
	if err != nil || rec == nil {
		return nil, fmt.Errorf("read order %s: %w", id, err)
	}
	tx := new(pb.Tx)
	if err := proto.Unmarshal(rec.Tx, tx); err != nil {
		return nil, fmt.Errorf("stored order %s does not decode: %w", id, err)
	}
	return tx.GetBody().GetRecord().GetProtectiveOrder(), nil
}
