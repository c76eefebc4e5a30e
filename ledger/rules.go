package ledger

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Per-kind rules. Validate* see only the body and block time; admit* also see
// state through the admission and record index terms.

func validatePledge(v *validator, r *pb.Record) error {
	p := r.GetPledge()
	if err := reqText("pledge.title", p.Title, MaxTitleLen); err != nil {
		return err
	}
	if err := memberIDs("pledge.pledgors", p.Pledgors, 1); err != nil {
		return err
	}
	if err := tokens("pledge.norm_refs", p.NormRefs, 1); err != nil {
		return err
	}
	if err := enumList("pledge.protected_sectors", p.ProtectedSectors, 1); err != nil {
		return err
	}
	if err := geoScope("pledge.geo_scope", p.GeoScope, 1); err != nil {
		return err
	}
	if err := ts("pledge.effective_from", p.EffectiveFrom, true); err != nil {
		return err
	}
	if err := ts("pledge.effective_until", p.EffectiveUntil, false); err != nil {
		return err
	}
	if err := ts("pledge.review_due", p.ReviewDue, false); err != nil {
		return err
	}
	if err := order("pledge.effective_from", p.EffectiveFrom, "pledge.effective_until", p.EffectiveUntil); err != nil {
		return err
	}
	if err := order("pledge.effective_from", p.EffectiveFrom, "pledge.review_due", p.ReviewDue); err != nil {
		return err
	}
	if vp := p.Verification; vp != nil {
		if vp.DiscloseWithinHours > 8760 || vp.RespondWithinHours > 8760 {
			return errf(CodeBadFormat, "pledge.verification windows are limited to 8760 hours")
		}
		if err := memberIDs("pledge.verification.accepted_verifiers", vp.AcceptedVerifiers, 0); err != nil {
			return err
		}
	}
	if sr := p.StagedReporting; sr != nil {
		if sr.EarlyWarningHours > 8760 || sr.NotificationHours > 8760 || sr.FinalReportHours > 8760 {
			return errf(CodeBadFormat, "pledge.staged_reporting windows are limited to 8760 hours")
		}
		if sr.EarlyWarningHours == 0 && sr.NotificationHours == 0 && sr.FinalReportHours == 0 && sr.Vulnerabilities == nil && sr.FinalAfterMeasureHours == 0 {
			return errf(CodeMissingField, "pledge.staged_reporting needs at least one window")
		}
		if sr.EarlyWarningHours > 0 && sr.NotificationHours > 0 && sr.EarlyWarningHours > sr.NotificationHours {
			return errf(CodeBadFormat, "pledge.staged_reporting.early_warning_hours (%d) exceeds notification_hours (%d)",
				sr.EarlyWarningHours, sr.NotificationHours)
		}
		if sr.FinalReportHours > 0 && sr.NotificationHours == 0 {
			return errf(CodeMissingField, "pledge.staged_reporting.final_report_hours counts from the notification: notification_hours is required")
		}
		if err := validateStagedV12(sr); err != nil {
			return err
		}
	}
	if p.CaseWindows != nil {
		if err := validateWindows("pledge.case_windows", p.CaseWindows); err != nil {
			return err
		}
	}
	return checkText("pledge.text", p.Text, MaxTextLen)
}

func admitPledge(a *admission, r *pb.Record) error {
	p := r.GetPledge()
	if !slices.Contains(p.Pledgors, a.author) {
		return errf(CodeNotAuthor, "pledge.pledgors must include the signer %q", a.author)
	}
	for _, id := range p.Pledgors {
		if _, err := a.member("pledge.pledgors", id, classState); err != nil {
			return err
		}
	}
	if vp := p.Verification; vp != nil {
		for _, id := range vp.AcceptedVerifiers {
			if _, err := a.member("pledge.verification.accepted_verifiers", id, classVerifier); err != nil {
				return err
			}
		}
	}
	a.subject(p.Pledgors...)
	a.sector(p.ProtectedSectors...)
	return nil
}

func validateNotification(v *validator, r *pb.Record) error {
	n := r.GetNotification()
	if err := enumReq("notification.type", n.Type); err != nil {
		return err
	}
	if err := v.enumSince("notification.type", AppVersionEvidence, n.Type == pb.NotificationType_NOTIFICATION_TYPE_REPORT_REQUEST, int32(n.Type)); err != nil {
		return err
	}
	if n.Type == pb.NotificationType_NOTIFICATION_TYPE_REPORT_REQUEST {
		if len(r.Refs) == 0 {
			return errf(CodeMissingField, "record.refs: a report request refers to the incident's disclosure")
		}
		if err := v.future("notification.respond_by", n.RespondBy, true); err != nil {
			return wrapf(CodeOf(err), err, "a report request says by when")
		}
		if n.ResponseRequested {
			return errf(CodeBadFormat, "notification.response_requested: a report request is answered by an intermediate report, not a response")
		}
		if n.RespondBy.AsTime().Sub(v.blockTime) < MinReplyHours*time.Hour {
			return errf(CodeBadTime, "notification.respond_by: a report request gives at least %d hours", MinReplyHours)
		}
	}
	if err := memberIDs("notification.recipients", n.Recipients, 1); err != nil {
		return err
	}
	if err := v.summary("notification.summary", n.Summary); err != nil {
		return err
	}
	switch n.Type {
	case pb.NotificationType_NOTIFICATION_TYPE_IMMINENT_OPERATION, pb.NotificationType_NOTIFICATION_TYPE_EXERCISE:
		if n.OperationWindow == nil {
			return errf(CodeMissingField, "notification.operation_window is required for %v", n.Type)
		}
	case pb.NotificationType_NOTIFICATION_TYPE_POC_UPDATE:
		poc := n.PointOfContact
		if poc == nil || poc.Name == "" || (poc.Email == "" && poc.Phone == "") {
			return errf(CodeMissingField, "notification.point_of_contact needs a name and an email or phone")
		}
	}
	if w := n.OperationWindow; w != nil {
		if err := ts("notification.operation_window.start", w.Start, true); err != nil {
			return err
		}
		if err := ts("notification.operation_window.end", w.End, true); err != nil {
			return err
		}
		if err := order("notification.operation_window.start", w.Start, "notification.operation_window.end", w.End); err != nil {
			return err
		}
	}
	if poc := n.PointOfContact; poc != nil {
		for _, f := range []struct{ n, s string }{{"name", poc.Name}, {"organisation", poc.Organisation}, {"email", poc.Email}, {"phone", poc.Phone}} {
			if err := checkText("notification.point_of_contact."+f.n, f.s, MaxTitleLen); err != nil {
				return err
			}
		}
	}
	if err := enumList("notification.excluded_sectors", n.ExcludedSectors, 0); err != nil {
		return err
	}
	if n.ResponseRequested {
		if err := v.future("notification.respond_by", n.RespondBy, true); err != nil {
			return err
		}
	} else if err := ts("notification.respond_by", n.RespondBy, false); err != nil {
		return err
	}
	return geoScope("notification.geo_scope", n.GeoScope, 0)
}

func admitNotification(a *admission, r *pb.Record) error {
	n := r.GetNotification()
	if err := notificationV9(a, n); err != nil {
		return err
	}
	for _, id := range n.Recipients {
		if id == a.author {
			return errf(CodeSelfReference, "notification.recipients must not include the signer")
		}
		if _, err := a.member("notification.recipients", id); err != nil {
			return err
		}
	}
	if n.Type == pb.NotificationType_NOTIFICATION_TYPE_REPORT_REQUEST {
		if err := reportRequest(a, r, n); err != nil {
			return err
		}
	}
	a.subject(a.author)
	a.subject(n.Recipients...)
	a.sector(n.ExcludedSectors...)
	return nil
}

func validateAcknowledgement(v *validator, r *pb.Record) error {
	ack := r.GetAcknowledgement()
	if err := recordID("acknowledgement.notification_id", ack.NotificationId); err != nil {
		return err
	}
	return checkText("acknowledgement.note", ack.Note, MaxSummaryLen)
}

// recipientOf checks that the signer is a recipient of notification id.
func recipientOf(a *admission, field, id string) error {
	rec, tx, err := a.record(field, id, pb.RecordKind_RECORD_KIND_NOTIFICATION)
	if err != nil {
		return err
	}
	if !slices.Contains(tx.Body.Record.GetNotification().Recipients, a.author) {
		return errf(CodeNotRecipient, "%s: %q is not a recipient of notification %s", field, a.author, id)
	}
	a.subject(rec.Author)
	return nil
}

func admitAcknowledgement(a *admission, r *pb.Record) error {
	return recipientOf(a, "acknowledgement.notification_id", r.GetAcknowledgement().NotificationId)
}

func validateResponse(v *validator, r *pb.Record) error {
	resp := r.GetResponse()
	if err := recordID("response.request_id", resp.RequestId); err != nil {
		return err
	}
	if err := enumReq("response.disposition", resp.Disposition); err != nil {
		return err
	}
	return reqText("response.summary", resp.Summary, MaxSummaryLen)
}

// admitResponse: a response answers a notification (by a recipient), a
// challenge (by the author of the challenged record) or a finding (by a
// state the finding concerns): the right of reply; or reviews a pledge (by
// a pledgor).
func admitResponse(a *admission, r *pb.Record) error {
	const field = "response.request_id"
	id := r.GetResponse().RequestId
	rec, tx, err := a.record(field, id, pb.RecordKind_RECORD_KIND_NOTIFICATION,
		pb.RecordKind_RECORD_KIND_CHALLENGE, pb.RecordKind_RECORD_KIND_FINDING, pb.RecordKind_RECORD_KIND_PLEDGE,
		pb.RecordKind_RECORD_KIND_ATTRIBUTION, pb.RecordKind_RECORD_KIND_REVEAL, pb.RecordKind_RECORD_KIND_AMENDMENT)
	if err != nil {
		return err
	}
	switch rec.Kind {
	case pb.RecordKind_RECORD_KIND_PLEDGE:
		if !slices.Contains(tx.Body.Record.GetPledge().GetPledgors(), a.author) {
			return errf(CodeNotRecipient, "%s: %q is not a pledgor of pledge %s, so it cannot review it", field, a.author, id)
		}
	case pb.RecordKind_RECORD_KIND_NOTIFICATION:
		return recipientOf(a, field, id)
	case pb.RecordKind_RECORD_KIND_CHALLENGE:
		target, _, err := a.record(field, tx.Body.Record.GetChallenge().TargetId)
		if err != nil {
			return err
		}
		if target.Author != a.author {
			return errf(CodeNotRecipient, "%s: only %q, whose record was challenged, may reply to challenge %s", field, target.Author, id)
		}
	case pb.RecordKind_RECORD_KIND_FINDING:
		if !slices.Contains(tx.Body.Record.GetFinding().SubjectStates, a.author) {
			return errf(CodeNotRecipient, "%s: %q is not a subject of finding %s", field, a.author, id)
		}
	case pb.RecordKind_RECORD_KIND_ATTRIBUTION, pb.RecordKind_RECORD_KIND_REVEAL, pb.RecordKind_RECORD_KIND_AMENDMENT:
		// An attribution, filed, revealed (the private-first path) or
		// amended (naming someone new).
		at := tx.Body.Record.GetAttribution()
		switch rec.Kind {
		case pb.RecordKind_RECORD_KIND_REVEAL:
			if at = tx.Body.Record.GetReveal().GetBody().GetAttribution(); at == nil {
				return errf(CodeWrongRecordKind, "%s: record %s reveals no attribution, and a response answers no other revealed record", field, id)
			}
		case pb.RecordKind_RECORD_KIND_AMENDMENT:
			if at = tx.Body.Record.GetAmendment().GetReplacement().GetAttribution(); at == nil {
				return errf(CodeWrongRecordKind, "%s: record %s amends no attribution, and a response answers no other amendment", field, id)
			}
		}
		named, err := attributedMembers(a.st, at)
		if err != nil {
			return err
		}
		if !slices.Contains(named, a.author) {
			return errf(CodeNotRecipient, "%s: attribution %s does not name %q", field, id, a.author)
		}
	}
	a.subject(rec.Author)
	return nil
}

func validateDisclosure(v *validator, r *pb.Record) error {
	d := r.GetIncidentDisclosure()
	if d.IncidentRef == "" {
		return errf(CodeMissingField, "incident_disclosure.incident_ref is required")
	}
	if !isToken(d.IncidentRef) {
		return errf(CodeBadFormat, "incident_disclosure.incident_ref %q is not a valid reference", d.IncidentRef)
	}
	if err := enumReq("incident_disclosure.stage", d.Stage); err != nil {
		return err
	}
	if err := v.enumSince("incident_disclosure.stage", AppVersionEvidence, d.Stage >= pb.DisclosureStage_DISCLOSURE_STAGE_INTERMEDIATE, int32(d.Stage)); err != nil {
		return err
	}
	if err := validateIncidentV12(v, d); err != nil {
		return err
	}
	if err := enumReq("incident_disclosure.role", d.Role); err != nil {
		return err
	}
	if err := enumList("incident_disclosure.sectors", d.Sectors, 1); err != nil {
		return err
	}
	if err := memberIDs("incident_disclosure.affected_states", d.AffectedStates, 1); err != nil {
		return err
	}
	names := []string{"incident_disclosure.first_observed_at", "incident_disclosure.detected_at",
		"incident_disclosure.aware_at", "incident_disclosure.contained_at", "incident_disclosure.remediated_at"}
	times := []*pbTime{d.FirstObservedAt, d.DetectedAt, d.AwareAt, d.ContainedAt, d.RemediatedAt}
	for i, t := range times {
		required := i == 1 || i == 2 // detected and aware
		if err := v.past(names[i], t, required); err != nil {
			return err
		}
	}
	if err := chain(names, times); err != nil {
		return err
	}
	if err := textList("incident_disclosure.impacts", d.Impacts, MaxSummaryLen); err != nil {
		return err
	}
	if err := enumReq("incident_disclosure.severity", d.Severity); err != nil {
		return err
	}
	if at := d.Attribution; at != nil {
		if err := tokens("incident_disclosure.attribution.to", at.To, 1); err != nil {
			return err
		}
		if err := enumReq("incident_disclosure.attribution.confidence", at.Confidence); err != nil {
			return err
		}
		if err := reqText("incident_disclosure.attribution.basis", at.Basis, MaxSummaryLen); err != nil {
			return err
		}
	}
	if err := tokens("incident_disclosure.norms_alleged_breached", d.NormsAllegedBreached, 0); err != nil {
		return err
	}
	if err := textList("incident_disclosure.affected_entities", d.AffectedEntities, MaxTitleLen); err != nil {
		return err
	}
	if v.withheld("summary") {
		return nil
	}
	return reqText("incident_disclosure.summary", d.Summary, MaxSummaryLen)
}

func admitDisclosure(a *admission, r *pb.Record) error {
	d := r.GetIncidentDisclosure()
	for _, id := range d.AffectedStates {
		if _, err := a.member("incident_disclosure.affected_states", id, classState); err != nil {
			return err
		}
	}
	if a.signer.Class == classState {
		a.subject(a.author)
	}
	a.subject(d.AffectedStates...)
	a.sector(d.Sectors...)
	return nil
}

// methodology is validateMethodology unless the record withholds it.
func (v *validator) methodology(field string, m *pb.Methodology) error {
	if m == nil && v.withheld("methodology") {
		return nil
	}
	return validateMethodology(field, m)
}

// methodologyOrRef is methodology, except that a record citing a
// methodology record (app version 12) may leave the name and version out.
func (v *validator) methodologyOrRef(field string, m *pb.Methodology, ref string) error {
	if ref != "" && m == nil {
		return nil
	}
	return v.methodology(field, m)
}

// summary checks a required summary unless the record withholds it.
func (v *validator) summary(field, s string) error {
	if s == "" && v.withheld("summary") {
		return nil
	}
	return reqText(field, s, MaxSummaryLen)
}

func validateMethodology(field string, m *pb.Methodology) error {
	if m == nil {
		return errf(CodeMissingField, "%s is required", field)
	}
	if err := reqText(field+".name", m.Name, MaxTitleLen); err != nil {
		return err
	}
	return reqText(field+".version", m.Version, MaxIDLen)
}

func validateAssessment(v *validator, r *pb.Record) error {
	h := r.GetHarmAssessment()
	if err := recordIDs("harm_assessment.subject_incidents", h.SubjectIncidents, 1, MaxListLen); err != nil {
		return err
	}
	if err := enumReq("harm_assessment.assessor_class", h.AssessorClass); err != nil {
		return err
	}
	if err := v.methodologyOrRef("harm_assessment.methodology", h.Methodology, h.MethodologyRef); err != nil {
		return err
	}
	if err := validateAssessmentV2(h); err != nil {
		return err
	}
	if err := checkListLen("harm_assessment.services_lost", len(h.ServicesLost), MaxListLen); err != nil {
		return err
	}
	for _, s := range h.ServicesLost {
		if err := reqText("harm_assessment.services_lost.service", s.Service, MaxTitleLen); err != nil {
			return err
		}
		if err := enumReq("harm_assessment.services_lost.sector", s.Sector); err != nil {
			return err
		}
	}
	pa := h.PersonsAffected
	if pa == nil && !v.withheld("persons_affected") {
		return errf(CodeMissingField, "harm_assessment.persons_affected is required")
	}
	if pa != nil && (pa.Min > pa.Best || pa.Best > pa.Max) {
		return errf(CodeBadFormat, "harm_assessment.persons_affected needs min <= best <= max")
	}
	if err := checkText("harm_assessment.physical_harm", h.PhysicalHarm, MaxSummaryLen); err != nil {
		return err
	}
	if err := enumReq("harm_assessment.causation_confidence", h.CausationConfidence); err != nil {
		return err
	}
	if err := ts("harm_assessment.remediation_due", h.RemediationDue, false); err != nil {
		return err
	}
	if h.ResponsibleParty != "" && !isMemberID(h.ResponsibleParty) {
		return errf(CodeBadFormat, "harm_assessment.responsible_party is not a member id")
	}
	if h.RemediationDue != nil && h.ResponsibleParty == "" {
		return errf(CodeMissingField, "harm_assessment.responsible_party is required with remediation_due")
	}
	if err := enumReq("harm_assessment.status", h.Status); err != nil {
		return err
	}
	return memberIDs("harm_assessment.affected_states", h.AffectedStates, 0)
}

func admitAssessment(a *admission, r *pb.Record) error {
	h := r.GetHarmAssessment()
	want := map[pb.MemberClass]pb.AssessorClass{
		classNeutral:  pb.AssessorClass_ASSESSOR_CLASS_NEUTRAL,
		classVerifier: pb.AssessorClass_ASSESSOR_CLASS_VERIFIER,
		classState:    pb.AssessorClass_ASSESSOR_CLASS_SELF,
	}[a.signer.Class]
	if h.AssessorClass != want {
		return errf(CodeAssessorMismatch, "harm_assessment.assessor_class is %v but a %v must file %v",
			h.AssessorClass, a.signer.Class, want)
	}
	for _, id := range h.SubjectIncidents {
		if _, _, err := a.record("harm_assessment.subject_incidents", id, pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE); err != nil {
			return err
		}
	}
	if h.ResponsibleParty != "" {
		if _, err := a.member("harm_assessment.responsible_party", h.ResponsibleParty, classState); err != nil {
			return err
		}
		a.subject(h.ResponsibleParty)
	}
	for _, id := range h.AffectedStates {
		if _, err := a.member("harm_assessment.affected_states", id, classState); err != nil {
			return err
		}
	}
	a.subject(h.AffectedStates...)
	for _, s := range h.ServicesLost {
		a.sector(s.Sector)
	}
	if err := a.admitAssessmentV2(h); err != nil {
		return err
	}
	a.subject(h.CoAssessors...)
	return nil
}

func validateFinding(v *validator, r *pb.Record) error {
	f := r.GetFinding()
	if err := enumReq("finding.subject_type", f.SubjectType); err != nil {
		return err
	}
	if f.SubjectType == pb.FindingSubjectType_FINDING_SUBJECT_TYPE_OBLIGATION {
		if f.SubjectId == "" {
			return errf(CodeMissingField, "finding.subject_id is required")
		}
		if !isObligationID(f.SubjectId) {
			return errf(CodeBadFormat, "finding.subject_id is not an obligation id (32 lowercase hex)")
		}
	} else if err := recordID("finding.subject_id", f.SubjectId); err != nil {
		return err
	}
	if err := memberIDs("finding.subject_states", f.SubjectStates, 1); err != nil {
		return err
	}
	if err := enumReq("finding.determination", f.Determination); err != nil {
		return err
	}
	if err := textList("finding.evidence_refs", f.EvidenceRefs, MaxTitleLen); err != nil {
		return err
	}
	if len(f.EvidenceRefs) == 0 && !v.withheld("evidence_refs") {
		return errf(CodeMissingField, "finding.evidence_refs is required")
	}
	if err := v.methodologyOrRef("finding.methodology", f.Methodology, f.MethodologyRef); err != nil {
		return err
	}
	if f.MethodologyRef != "" {
		if err := recordID("finding.methodology_ref", f.MethodologyRef); err != nil {
			return err
		}
	}
	coi := f.ConflictOfInterest
	if coi == nil || (!coi.NoneDeclared && coi.Statement == "") {
		return errf(CodeMissingField, "finding.conflict_of_interest needs none_declared or a statement")
	}
	if err := checkText("finding.conflict_of_interest.statement", coi.Statement, MaxSummaryLen); err != nil {
		return err
	}
	if err := v.future("finding.reply_due", f.ReplyDue, false); err != nil {
		return err
	}
	if f.Designation != nil {
		if err := validateDesignation(f.Designation); err != nil {
			return err
		}
	}
	if v.withheld("summary") {
		return nil
	}
	return reqText("finding.summary", f.Summary, MaxSummaryLen)
}

func admitFinding(a *admission, r *pb.Record) error {
	f := r.GetFinding()
	switch f.SubjectType {
	case pb.FindingSubjectType_FINDING_SUBJECT_TYPE_PLEDGE:
		_, ptx, err := a.record("finding.subject_id", f.SubjectId, pb.RecordKind_RECORD_KIND_PLEDGE)
		if err != nil {
			return err
		}
		// From app version 9 a pledge's accepted_verifiers, when it names
		// any, are the only verifiers that may file findings on it.
		if acc := ptx.GetBody().GetRecord().GetPledge().GetVerification().GetAcceptedVerifiers(); len(acc) > 0 && !slices.Contains(acc, a.author) {
			if ok, err := atLeast(a.st, AppVersionContactDirectory); err != nil {
				return err
			} else if ok {
				return errf(CodeVerifierNotAccepted, "finding.subject_id: pledge %s accepts findings only from %v, not %q", f.SubjectId, acc, a.author)
			}
		}
	case pb.FindingSubjectType_FINDING_SUBJECT_TYPE_INCIDENT:
		if _, _, err := a.record("finding.subject_id", f.SubjectId, pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE); err != nil {
			return err
		}
	case pb.FindingSubjectType_FINDING_SUBJECT_TYPE_OBLIGATION:
		ob, err := a.st.Obligation(f.SubjectId)
		if err != nil {
			return fmt.Errorf("read obligation: %w", err)
		}
		if ob == nil {
			return errf(CodeUnknownObligation, "finding.subject_id: obligation %s does not exist", f.SubjectId)
		}
		a.refs = append(a.refs, ob.SourceRecord)
	}
	for _, id := range f.SubjectStates {
		if _, err := a.member("finding.subject_states", id, classState); err != nil {
			return err
		}
	}
	a.subject(f.SubjectStates...)
	if _, err := a.citedMethodology("finding.methodology_ref", f.MethodologyRef); err != nil {
		return err
	}
	if f.Designation != nil {
		return a.admitDesignation(f.Designation)
	}
	return nil
}

func validateChallenge(v *validator, r *pb.Record) error {
	c := r.GetChallenge()
	if err := recordID("challenge.target_id", c.TargetId); err != nil {
		return err
	}
	if err := reqText("challenge.grounds", c.Grounds, MaxSummaryLen); err != nil {
		return err
	}
	return v.future("challenge.reply_by", c.ReplyBy, true)
}

func admitChallenge(a *admission, r *pb.Record) error {
	c := r.GetChallenge()
	rec, _, err := a.record("challenge.target_id", c.TargetId,
		pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE, pb.RecordKind_RECORD_KIND_HARM_ASSESSMENT, pb.RecordKind_RECORD_KIND_FINDING)
	if err != nil {
		return err
	}
	if rec.Author == a.author {
		return errf(CodeSelfReference, "challenge.target_id: a member cannot challenge its own record")
	}
	a.subject(rec.Author)
	return nil
}

func validateAmendment(v *validator, r *pb.Record) error {
	am := r.GetAmendment()
	if err := recordID("amendment.target_id", am.TargetId); err != nil {
		return err
	}
	if err := reqText("amendment.reason", am.Reason, MaxSummaryLen); err != nil {
		return err
	}
	return v.carried("amendment.replacement", am.Replacement, func(k *Kind) bool { return k.Amendable }, "amended")
}

// carried validates a record carried inside another at field (an
// amendment's replacement, a reveal's body): present, of a known kind that
// may be carried so (may; else its records "cannot be <as>"), and valid
// itself.
func (v *validator) carried(field string, r *pb.Record, may func(*Kind) bool, as string) error {
	if r == nil {
		return errf(CodeMissingField, "%s is required", field)
	}
	k := v.reg.Kind(KindOf(r))
	if k == nil {
		return errf(CodeEmptyBody, "%s has no body", field)
	}
	if !may(k) {
		return errf(CodeWrongRecordKind, "%s: %s records cannot be %s", field, k.Name, as)
	}
	if r.GetFinding().GetDesignation() != nil {
		// A ruling entitles its author and places a duty from its own id:
		// it stands in a finding of its own (docs/disclosure.md).
		return errf(CodeBadFormat, "%s: a ruling on a designation (finding.designation) cannot be %s; file it in a finding of its own", field, as)
	}
	return v.record(r)
}

func admitAmendment(a *admission, r *pb.Record) error {
	am := r.GetAmendment()
	kind := KindOf(am.Replacement)
	_, ttx, err := a.ownTx("amendment.target_id", am.TargetId, kind)
	if err != nil {
		return err
	}
	if err := sameStanding("amendment.replacement", ttx.GetBody().GetRecord(), am.Replacement); err != nil {
		return err
	}
	if err := notLooser(a.st, ttx.GetBody().GetRecord().GetTlp(), am.Replacement.GetTlp()); err != nil {
		return err
	}
	return a.admitBody(am.Replacement)
}

func validateRetraction(v *validator, r *pb.Record) error {
	rt := r.GetRetraction()
	if err := recordID("retraction.target_id", rt.TargetId); err != nil {
		return err
	}
	return reqText("retraction.reason", rt.Reason, MaxSummaryLen)
}

func admitRetraction(a *admission, r *pb.Record) error {
	rec, err := a.own("retraction.target_id", r.GetRetraction().TargetId)
	if err != nil {
		return err
	}
	if rec.Kind == pb.RecordKind_RECORD_KIND_RETRACTION {
		return errf(CodeWrongRecordKind, "retraction.target_id: a retraction cannot be retracted")
	}
	return nil
}

func validateSealed(v *validator, r *pb.Record) error {
	s := r.GetSealed()
	if err := enumReq("sealed.sealed_kind", s.SealedKind); err != nil {
		return err
	}
	if err := v.enumSince("sealed.sealed_kind", AppVersionSealedToRecipients, s.SealedKind == pb.RecordKind_RECORD_KIND_RECEIPT, int32(s.SealedKind)); err != nil {
		return err
	}
	if err := v.enumSince("sealed.sealed_kind", AppVersionContactDirectory, s.SealedKind >= pb.RecordKind_RECORD_KIND_CONTACT_UPDATE, int32(s.SealedKind)); err != nil {
		return err
	}
	if err := v.enumSince("sealed.sealed_kind", AppVersionEvidence, s.SealedKind >= pb.RecordKind_RECORD_KIND_METHODOLOGY, int32(s.SealedKind)); err != nil {
		return err
	}
	if k := v.reg.Kind(s.SealedKind); k == nil || !k.Sealable {
		return errf(CodeWrongRecordKind, "sealed.sealed_kind %v cannot be sealed", s.SealedKind)
	}
	if err := digestField("sealed.commitment", s.Commitment); err != nil {
		return err
	}
	if err := v.future("sealed.reveal_by", s.RevealBy, true); err != nil {
		return err
	}
	if err := checkListLen("sealed.encrypted_copies", len(s.EncryptedCopies), MaxListLen); err != nil {
		return err
	}
	for _, c := range s.EncryptedCopies {
		if !isMemberID(c.Recipient) {
			return errf(CodeBadFormat, "sealed.encrypted_copies.recipient %q is not a member id", c.Recipient)
		}
		if len(c.Ciphertext) == 0 {
			return errf(CodeMissingField, "sealed.encrypted_copies.ciphertext is required")
		}
		if len(c.Ciphertext) > MaxCiphertext {
			return errf(CodeFieldTooLong, "sealed.encrypted_copies.ciphertext exceeds %d bytes", MaxCiphertext)
		}
	}
	if err := validateSealedTo(s); err != nil {
		return err
	}
	return memberIDs("sealed.subject_states", s.SubjectStates, 0)
}

func admitSealed(a *admission, r *pb.Record) error {
	s := r.GetSealed()
	if ok, err := allowed(a.st, a.reg.Kind(s.SealedKind), a.signer.Class); err != nil {
		return err
	} else if !ok {
		return errf(CodeClassNotAllowed, "a %v may not file %s records, sealed or not", a.signer.Class, KindNameOf(s.SealedKind))
	}
	for _, c := range s.EncryptedCopies {
		if _, err := a.member("sealed.encrypted_copies.recipient", c.Recipient); err != nil {
			return err
		}
	}
	for _, id := range s.SubjectStates {
		if _, err := a.member("sealed.subject_states", id); err != nil {
			return err
		}
	}
	a.subject(s.SubjectStates...)
	return admitSealedTo(a, s)
}

func validateReveal(v *validator, r *pb.Record) error {
	rv := r.GetReveal()
	if err := recordID("reveal.sealed_id", rv.SealedId); err != nil {
		return err
	}
	if len(rv.Salt) == 0 {
		return errf(CodeMissingField, "reveal.salt is required")
	}
	if len(rv.Salt) < MinSaltLen || len(rv.Salt) > MaxSaltLen {
		return errf(CodeBadFormat, "reveal.salt must be %d to %d bytes", MinSaltLen, MaxSaltLen)
	}
	return v.carried("reveal.body", rv.Body, func(k *Kind) bool { return k.Sealable }, "sealed")
}

func admitReveal(a *admission, r *pb.Record) error {
	rv := r.GetReveal()
	_, stx, err := a.ownTx("reveal.sealed_id", rv.SealedId, pb.RecordKind_RECORD_KIND_SEALED)
	if err != nil {
		return err
	}
	sealed := stx.Body.Record.GetSealed()
	if got := KindOf(rv.Body); got != sealed.SealedKind {
		return errf(CodeRevealMismatch, "reveal.body is a %v but the sealed record committed to a %v", got, sealed.SealedKind)
	}
	c, err := SealCommitment(rv.Salt, rv.Body)
	if err != nil {
		return err
	}
	if !bytes.Equal(c, sealed.Commitment) {
		return errf(CodeRevealMismatch, "reveal.salt and reveal.body do not match the sealed commitment")
	}
	if rv.Body.GetExercise() != stx.Body.Record.GetExercise() {
		return errf(CodeStandingChanged, "reveal.body: exercise is %v but the sealed record's is %v (a drill is sealed as a drill)",
			rv.Body.GetExercise(), stx.Body.Record.GetExercise())
	}
	return a.admitBody(rv.Body)
}

func validateWaiver(v *validator, r *pb.Record) error {
	w := r.GetWaiver()
	if w.ObligationId == "" {
		return errf(CodeMissingField, "waiver.obligation_id is required")
	}
	if !isObligationID(w.ObligationId) {
		return errf(CodeBadFormat, "waiver.obligation_id is not an obligation id (32 lowercase hex)")
	}
	return reqText("waiver.reason", w.Reason, MaxSummaryLen)
}

func admitWaiver(a *admission, r *pb.Record) error {
	id := r.GetWaiver().ObligationId
	ob, err := a.st.Obligation(id)
	if err != nil {
		return fmt.Errorf("read obligation %s: %w", id, err)
	}
	if ob == nil {
		return errf(CodeUnknownObligation, "waiver.obligation_id: obligation %s does not exist", id)
	}
	if !slices.Contains(ob.Creditors, a.author) {
		return errf(CodeNotCreditor, "waiver.obligation_id: %q is not a creditor of obligation %s", a.author, id)
	}
	if ob.Kind == pb.ObligationKind_OBLIGATION_KIND_RECEIPT {
		// Waived, a receipt could never be filed: the sealer would silence
		// the one recipient able to prove its notice false.
		return errf(CodeNotWaivable, "waiver.obligation_id: %s is a receipt; the sealer it is owed to cannot waive it", id)
	}
	if ob.Kind == pb.ObligationKind_OBLIGATION_KIND_CONFIRM_DISCLOSURE {
		// The same for a delivery's confirmation: the designating author
		// would silence the approved person able to prove it false.
		return errf(CodeNotWaivable, "waiver.obligation_id: %s is a delivery's confirmation; the author it is owed to cannot waive it", id)
	}
	if !Open(ob) {
		return errf(CodeObligationClosed, "waiver.obligation_id: obligation %s is already %v", id, ob.Status)
	}
	a.subject(ob.Debtor)
	a.refs = append(a.refs, ob.SourceRecord)
	return nil
}

// notificationV9 holds what app version 9 changed about notifications: a
// neutral body may file requests and information (consultation, assistance:
// not operations or exercises, which are a state's); point-of-contact
// updates are contact_update records (the directory), no longer
// notifications that change nothing.
//
// A state's ordinary notification reads nothing more (the write path's
// most common record): only a poc_update, or a notification by another
// class (which allowed admitted at app version 9 only), is looked at.
func notificationV9(a *admission, n *pb.Notification) error {
	switch {
	case a.signer.Class != classState:
		switch n.Type {
		case pb.NotificationType_NOTIFICATION_TYPE_IMMINENT_OPERATION, pb.NotificationType_NOTIFICATION_TYPE_EXERCISE:
			return errf(CodeClassNotAllowed, "a %v notifies requests and information; %v notifications are a state's", a.signer.Class, n.Type)
		}
	case n.Type == pb.NotificationType_NOTIFICATION_TYPE_POC_UPDATE:
		if v9, err := atLeast(a.st, AppVersionContactDirectory); err != nil || !v9 {
			return err
		}
		return errf(CodeDeprecatedField, "notification.type poc_update is replaced from app version %d by contact_update records (docs/directory.md)", AppVersionContactDirectory)
	}
	return nil
}
