package ledger

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Evidence that carries its standard (app version 12, docs/evidence.md):
// methodology records, harm assessments v2 and joint assessments,
// attribution records, national declarations, collective statements, the
// exercise flag, near-misses and the completed staged reporting.

// AppVersionEvidence is the first app version with the records and rules
// of docs/evidence.md.
const AppVersionEvidence uint64 = 12

// UpgradeV12 moves a chain at app version 6 to 11 to 12: the state does not
// migrate. Vote it with software_upgrade name "normledger-v12", app_version 12.
const UpgradeV12 = "normledger-v12"

func init() {
	registerUpgrade(Upgrade{Name: UpgradeV12, AppVersion: AppVersionEvidence, Migrate: func(State, Block, *Changes) error { return nil }})
}

// DefaultAttributionReplyHours is the reply window of an attribution that
// names none (30 days).
const DefaultAttributionReplyHours = 720

// MinReplyHours is the shortest window an attribution's reply or a report
// request may give: no member can load others with duties due within the
// hour.
const MinReplyHours = 24

// MaxDeclarationIntervalDays bounds params.declaration_interval_days.
const MaxDeclarationIntervalDays = 3650

// DefaultDeclarationIntervalDays is the declaration interval when
// params.declaration_interval_days is 0: the Vienna Document's year.
const DefaultDeclarationIntervalDays = 365

// DeclarationInterval is the time a state has for its next declaration.
func DeclarationInterval(p *pb.Params) time.Duration {
	d := p.GetDeclarationIntervalDays()
	if d == 0 {
		d = DefaultDeclarationIntervalDays
	}
	return time.Duration(d) * 24 * time.Hour
}

// exercisable are the kinds that may carry record.exercise.
var exercisable = []pb.RecordKind{pb.RecordKind_RECORD_KIND_NOTIFICATION, pb.RecordKind_RECORD_KIND_ACKNOWLEDGEMENT,
	pb.RecordKind_RECORD_KIND_RESPONSE, pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE, pb.RecordKind_RECORD_KIND_HARM_ASSESSMENT,
	pb.RecordKind_RECORD_KIND_FINDING, pb.RecordKind_RECORD_KIND_CHALLENGE, pb.RecordKind_RECORD_KIND_SEALED,
	pb.RecordKind_RECORD_KIND_RECEIPT, pb.RecordKind_RECORD_KIND_ATTRIBUTION}

// IsNearMiss says whether an incident disclosure reports a blocked or
// failed attempt.
func IsNearMiss(d *pb.IncidentDisclosure) bool {
	return d.GetOutcome() != pb.IncidentOutcome_INCIDENT_OUTCOME_UNSPECIFIED
}

// newInV12 names the first part of r that app version 12 introduced, or "".
// New values of existing enums are refused below 12 as undefined
// (bad_enum), where the fields that hold them are checked.
func newInV12(r *pb.Record) string {
	if r.GetExercise() {
		return "record.exercise"
	}
	switch body := r.GetBody().(type) {
	case *pb.Record_Methodology:
		return "record.methodology"
	case *pb.Record_Attribution:
		return "record.attribution"
	case *pb.Record_Declaration:
		return "record.declaration"
	case *pb.Record_IncidentDisclosure:
		d := body.IncidentDisclosure
		switch {
		case d.Outcome != 0:
			return "incident_disclosure.outcome"
		case d.CorrectiveMeasureAt != nil:
			return "incident_disclosure.corrective_measure_at"
		case d.Vulnerability != nil:
			return "incident_disclosure.vulnerability"
		}
	case *pb.Record_HarmAssessment:
		h := body.HarmAssessment
		switch {
		case h.MethodologyRef != "":
			return "harm_assessment.methodology_ref"
		case len(h.Harms) > 0:
			return "harm_assessment.harms"
		case len(h.VulnerableGroups) > 0:
			return "harm_assessment.vulnerable_groups"
		case len(h.CascadeRefs) > 0:
			return "harm_assessment.cascade_refs"
		case len(h.Dissents) > 0:
			return "harm_assessment.dissents"
		case len(h.CoAssessors) > 0:
			return "harm_assessment.co_assessors"
		}
	case *pb.Record_Finding:
		if body.Finding.MethodologyRef != "" {
			return "finding.methodology_ref"
		}
	case *pb.Record_Pledge:
		if sr := body.Pledge.GetStagedReporting(); sr.GetProgressReportHours() != 0 || sr.GetFinalAfterMeasureHours() != 0 || sr.GetVulnerabilities() != nil {
			return "pledge.staged_reporting (progress, after-measure or vulnerability windows)"
		}
	case *pb.Record_Proposal:
		if body.Proposal.GetAction().GetAdoptStatement() != nil {
			return "proposal.action.adopt_statement"
		}
		if RulesSince(body.Proposal.GetAction().GetSetGovernanceRules()) >= AppVersionEvidence {
			return "proposal.action.set_governance_rules (a rule for adopt_statement)"
		}
		if sp := body.Proposal.GetAction().GetSetParams(); sp != nil {
			return ParamsNewInV12(sp)
		}
	}
	return ""
}

// ParamsNewInV12 names the first params field app version 12 introduced.
func ParamsNewInV12(p *pb.Params) string {
	if p.GetDeclarationIntervalDays() != 0 {
		return "params.declaration_interval_days"
	}
	return ""
}

// checkExercise refuses record.exercise on a kind that cannot be exercise
// traffic.
func checkExercise(r *pb.Record) error {
	if !r.GetExercise() {
		return nil
	}
	if k := KindOf(r); !slices.Contains(exercisable, k) {
		return errf(CodeExerciseNotAllowed, "record.exercise: a %s cannot be exercise traffic", KindNameOf(k))
	}
	return nil
}

// sameStanding refuses a replacement (or revealed body) that changes what
// decided the original's duties: its exercise flag, or whether an incident
// was a near-miss (a near-miss placed none; amended into a real incident
// it would place none either, since an amendment places no duties).
func sameStanding(field string, orig, repl *pb.Record) error {
	if orig.GetExercise() != repl.GetExercise() {
		return errf(CodeStandingChanged, "%s: exercise is %v but the original's is %v (a drill stays a drill; file a new record)",
			field, repl.GetExercise(), orig.GetExercise())
	}
	if IsNearMiss(orig.GetIncidentDisclosure()) != IsNearMiss(repl.GetIncidentDisclosure()) {
		return errf(CodeStandingChanged, "%s: the outcome changes whether the incident is a near-miss (file a new disclosure)", field)
	}
	return nil
}

// notLooser refuses, from app version 12, a new version whose TLP is set
// and looser than the original's: an amendment cannot widen who may see a
// record (an unset TLP keeps the original's, as exports read it).
func notLooser(st State, orig, repl pb.Tlp) error {
	if repl == pb.Tlp_TLP_UNSPECIFIED || repl >= orig {
		return nil
	}
	if ok, err := atLeast(st, AppVersionEvidence); err != nil || !ok {
		return err
	}
	return errf(CodeTLPLoosened, "amendment.replacement.tlp %v is looser than the original's %v (leave it unset to keep the original's)", repl, orig)
}

// validateMethodologyRecord checks a published methodology.
func validateMethodologyRecord(v *validator, r *pb.Record) error {
	m := r.GetMethodology()
	if err := reqText("methodology.name", m.Name, MaxTitleLen); err != nil {
		return err
	}
	if err := reqText("methodology.version", m.Version, MaxIDLen); err != nil {
		return err
	}
	if err := digestField("methodology.document_digest", m.DocumentDigest); err != nil {
		return err
	}
	if err := checkText("methodology.uri", m.Uri, MaxTitleLen); err != nil {
		return err
	}
	if err := enumList("methodology.dimensions", m.Dimensions, 0); err != nil {
		return err
	}
	return reqText("methodology.summary", m.Summary, MaxSummaryLen)
}

func admitMethodologyRecord(a *admission, r *pb.Record) error {
	a.subject(a.author)
	return nil
}

// citedMethodology loads the methodology record id cites.
func (a *admission) citedMethodology(field, id string) (*pb.PublishedMethodology, error) {
	if id == "" {
		return nil, nil
	}
	_, tx, err := a.record(field, id, pb.RecordKind_RECORD_KIND_METHODOLOGY)
	if err != nil {
		return nil, err
	}
	return tx.GetBody().GetRecord().GetMethodology(), nil
}

// validateAssessmentV2 checks the fields harm assessments gained in app
// version 12.
func validateAssessmentV2(h *pb.HarmAssessment) error {
	if h.MethodologyRef != "" {
		if err := recordID("harm_assessment.methodology_ref", h.MethodologyRef); err != nil {
			return err
		}
	}
	if len(h.Harms) > 0 && h.MethodologyRef == "" {
		return errf(CodeMissingField, "harm_assessment.methodology_ref is required with harms (the method that measured them)")
	}
	if err := checkListLen("harm_assessment.harms", len(h.Harms), MaxListLen); err != nil {
		return err
	}
	for i, hm := range h.Harms {
		f := fmt.Sprintf("harm_assessment.harms[%d]", i)
		if err := enumReq(f+".dimension", hm.Dimension); err != nil {
			return err
		}
		if err := enumReq(f+".order", hm.Order); err != nil {
			return err
		}
		if err := reqText(f+".description", hm.Description, MaxSummaryLen); err != nil {
			return err
		}
		if e := hm.Estimate; e != nil {
			if e.Min > e.Best || e.Best > e.Max {
				return errf(CodeBadFormat, "%s.estimate needs min <= best <= max", f)
			}
			if !isToken(hm.Unit) {
				return errf(CodeMissingField, "%s.unit is required with an estimate (a token: persons, usd, services...)", f)
			}
		} else if hm.Unit != "" {
			return errf(CodeBadFormat, "%s.unit without an estimate", f)
		}
		if hm.DurationHours > 24*365*100 {
			return errf(CodeBadFormat, "%s.duration_hours is beyond a century", f)
		}
	}
	if err := textList("harm_assessment.vulnerable_groups", h.VulnerableGroups, MaxTitleLen); err != nil {
		return err
	}
	if err := recordIDs("harm_assessment.cascade_refs", h.CascadeRefs, 0, MaxListLen); err != nil {
		return err
	}
	if err := memberIDs("harm_assessment.co_assessors", h.CoAssessors, 0); err != nil {
		return err
	}
	if err := checkListLen("harm_assessment.dissents", len(h.Dissents), MaxListLen); err != nil {
		return err
	}
	for i, d := range h.Dissents {
		if !isMemberID(d.Member) {
			return errf(CodeBadFormat, "harm_assessment.dissents[%d].member %q is not a member id", i, d.Member)
		}
		if err := reqText(fmt.Sprintf("harm_assessment.dissents[%d].statement", i), d.Statement, MaxSummaryLen); err != nil {
			return err
		}
	}
	return nil
}

// admitAssessmentV2 checks the v2 fields against state: the methodology
// cited and its dimensions, cascades, co-assessors and dissents.
func (a *admission) admitAssessmentV2(h *pb.HarmAssessment) error {
	m, err := a.citedMethodology("harm_assessment.methodology_ref", h.MethodologyRef)
	if err != nil {
		return err
	}
	for i, hm := range h.Harms {
		if m != nil && len(m.Dimensions) > 0 && !slices.Contains(m.Dimensions, hm.Dimension) {
			return errf(CodeDimensionNotInMethod, "harm_assessment.harms[%d].dimension %v is not assessed by methodology %s (%v)",
				i, hm.Dimension, h.MethodologyRef, m.Dimensions)
		}
	}
	for _, id := range h.CascadeRefs {
		if _, _, err := a.record("harm_assessment.cascade_refs", id, pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE,
			pb.RecordKind_RECORD_KIND_HARM_ASSESSMENT); err != nil {
			return err
		}
	}
	for _, id := range h.CoAssessors {
		if id == a.author {
			return errf(CodeSelfReference, "harm_assessment.co_assessors must not include the signer")
		}
		if _, err := a.member("harm_assessment.co_assessors", id, allWriters...); err != nil {
			return err
		}
	}
	assessors := append([]string{a.author}, h.CoAssessors...)
	var seen []string
	for i, d := range h.Dissents {
		if !slices.Contains(assessors, d.Member) || slices.Contains(seen, d.Member) {
			return errf(CodeNotAssessor, "harm_assessment.dissents[%d]: %q is not an assessor of this assessment, or dissents twice (assessors: %v)",
				i, d.Member, assessors)
		}
		seen = append(seen, d.Member)
	}
	return nil
}

func validateAttribution(v *validator, r *pb.Record) error {
	at := r.GetAttribution()
	if err := enumReq("attribution.kind", at.Kind); err != nil {
		return err
	}
	if err := recordIDs("attribution.incidents", at.Incidents, 1, MaxListLen); err != nil {
		return err
	}
	if len(at.Attributed) == 0 {
		return errf(CodeMissingField, "attribution.attributed is required")
	}
	if err := checkListLen("attribution.attributed", len(at.Attributed), MaxListLen); err != nil {
		return err
	}
	for i, p := range at.Attributed {
		f := fmt.Sprintf("attribution.attributed[%d]", i)
		if !isToken(p.Party) {
			return errf(CodeBadFormat, "%s.party %q is not a member id, ISO 3166-1 alpha-3 code or name token", f, p.Party)
		}
		if slices.ContainsFunc(at.Attributed[:i], func(q *pb.AttributedParty) bool { return q.Party == p.Party }) {
			return errf(CodeBadFormat, "attribution.attributed lists %q twice", p.Party)
		}
		if err := enumReq(f+".conduct", p.Conduct); err != nil {
			return err
		}
	}
	if err := enumReq("attribution.standard_of_proof", at.StandardOfProof); err != nil {
		return err
	}
	if at.Kind == pb.AttributionKind_ATTRIBUTION_KIND_LEGAL {
		if err := reqText("attribution.legal_basis", at.LegalBasis, MaxTitleLen); err != nil {
			return wrapf(CodeOf(err), err, "a legal attribution names its legal basis")
		}
	} else if err := checkText("attribution.legal_basis", at.LegalBasis, MaxTitleLen); err != nil {
		return err
	}
	if err := enumReq("attribution.confidence", at.Confidence); err != nil {
		return err
	}
	if err := enumOpt("attribution.intent_confidence", at.IntentConfidence); err != nil {
		return err
	}
	if err := digestField("attribution.evidence_digest", at.EvidenceDigest); err != nil {
		return err
	}
	if err := textList("attribution.evidence", at.Evidence, MaxSummaryLen); err != nil {
		return err
	}
	if err := memberIDs("attribution.co_attributors", at.CoAttributors, 0); err != nil {
		return err
	}
	if at.ReplyWithinHours != 0 && (at.ReplyWithinHours < MinReplyHours || at.ReplyWithinHours > 8760) {
		return errf(CodeBadFormat, "attribution.reply_within_hours must be %d to 8760 (0: %d)", MinReplyHours, DefaultAttributionReplyHours)
	}
	return v.summary("attribution.summary", at.Summary)
}

func admitAttribution(a *admission, r *pb.Record) error {
	at := r.GetAttribution()
	if at.Kind != pb.AttributionKind_ATTRIBUTION_KIND_TECHNICAL && a.signer.Class != classState {
		return errf(CodeAttributionNotAllowed, "attribution.kind: only a state attributes %v (a %v may file technical attribution)",
			at.Kind, a.signer.Class)
	}
	for _, id := range at.Incidents {
		if _, _, err := a.record("attribution.incidents", id, pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE); err != nil {
			return err
		}
	}
	for _, id := range at.CoAttributors {
		if id == a.author {
			return errf(CodeSelfReference, "attribution.co_attributors must not include the signer")
		}
		if _, err := a.member("attribution.co_attributors", id, classState); err != nil {
			return err
		}
	}
	a.subject(a.author)
	a.subject(at.CoAttributors...)
	named, err := attributedMembers(a.st, at)
	if err != nil {
		return err
	}
	a.subject(named...)
	return nil
}

// attributedMembers are the registered members an attribution names, sorted.
func attributedMembers(st State, at *pb.AttributionRecord) ([]string, error) {
	var out []string
	for _, p := range at.Attributed {
		if !isMemberID(p.Party) {
			continue
		}
		m, err := st.Member(p.Party)
		if err != nil {
			return nil, fmt.Errorf("read member %q: %w", p.Party, err)
		}
		if m != nil {
			out = append(out, p.Party)
		}
	}
	return sortedUnique(out), nil
}

// attribution places the reply duty of every state member an attribution
// names (not its authors, and not those in except), owed to the author and
// co-attributors.
func (o *obligations) attribution(at *pb.AttributionRecord, except ...string) error {
	named, err := attributedMembers(o.st, at)
	if err != nil {
		return err
	}
	hours := at.ReplyWithinHours
	if hours == 0 {
		hours = DefaultAttributionReplyHours
	}
	due := o.b.Time.Add(time.Duration(hours) * time.Hour)
	creditors := append([]string{o.author}, at.CoAttributors...)
	for _, m := range named {
		if slices.Contains(creditors, m) || slices.Contains(except, m) {
			continue
		}
		mem, err := o.st.Member(m)
		if err != nil {
			return fmt.Errorf("read member %q: %w", m, err)
		}
		if mem.GetClass() != classState {
			continue
		}
		if err := o.create(pb.ObligationKind_OBLIGATION_KIND_REPLY_ATTRIBUTION, o.record, m, creditors, due, nil); err != nil {
			return err
		}
	}
	return nil
}

func validateDeclaration(v *validator, r *pb.Record) error {
	d := r.GetDeclaration()
	y := uint32(v.blockTime.UTC().Year())
	if d.Year == 0 {
		return errf(CodeMissingField, "declaration.year is required")
	}
	if d.Year+1 < y || d.Year > y+1 {
		return errf(CodeBadFormat, "declaration.year %d is not within a year of the block's (%d)", d.Year, y)
	}
	if err := reqText("declaration.doctrine_summary", d.DoctrineSummary, MaxTextLen); err != nil {
		return err
	}
	if err := textList("declaration.thresholds", d.Thresholds, MaxSummaryLen); err != nil {
		return err
	}
	if err := checkListLen("declaration.organisation", len(d.Organisation), MaxListLen); err != nil {
		return err
	}
	for i, b := range d.Organisation {
		if err := reqText(fmt.Sprintf("declaration.organisation[%d].name", i), b.Name, MaxTitleLen); err != nil {
			return err
		}
		if err := reqText(fmt.Sprintf("declaration.organisation[%d].role", i), b.Role, MaxSummaryLen); err != nil {
			return err
		}
	}
	if err := checkListLen("declaration.terminology", len(d.Terminology), MaxListLen); err != nil {
		return err
	}
	for i, t := range d.Terminology {
		if err := reqText(fmt.Sprintf("declaration.terminology[%d].term", i), t.Term, MaxTitleLen); err != nil {
			return err
		}
		if slices.ContainsFunc(d.Terminology[:i], func(u *pb.Term) bool { return u.Term == t.Term }) {
			return errf(CodeBadFormat, "declaration.terminology defines %q twice", t.Term)
		}
		if err := reqText(fmt.Sprintf("declaration.terminology[%d].definition", i), t.Definition, MaxSummaryLen); err != nil {
			return err
		}
	}
	return textList("declaration.strategy_refs", d.StrategyRefs, MaxTitleLen)
}

func admitDeclaration(a *admission, r *pb.Record) error {
	a.subject(a.author)
	return nil
}

// declaration meets the author's open declaration duty (placed by its last
// declaration) and places the next.
func (o *obligations) declaration() error {
	m, err := o.st.Member(o.author)
	if err != nil {
		return fmt.Errorf("read member %q: %w", o.author, err)
	}
	if last := m.GetLastDeclaration(); last != "" {
		if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_DECLARE, last, o.author); err != nil {
			return err
		}
	}
	return o.create(pb.ObligationKind_OBLIGATION_KIND_DECLARE, o.record, o.author, nil, o.b.Time.Add(DeclarationInterval(o.params)), nil)
}

// validateStatement checks an adopt_statement action: the digest is the
// text's.
func validateStatement(s *pb.AdoptStatement) error {
	const f = "proposal.action.adopt_statement"
	if err := reqText(f+".title", s.Title, MaxTitleLen); err != nil {
		return err
	}
	if err := reqText(f+".text", s.Text, MaxTextLen); err != nil {
		return err
	}
	if err := digestField(f+".text_digest", s.TextDigest); err != nil {
		return err
	}
	if sum := sha256.Sum256([]byte(s.Text)); !bytes.Equal(sum[:], s.TextDigest) {
		return errf(CodeDigestMismatch, "%s.text_digest is not SHA-256 of the text (it is %x)", f, sum)
	}
	return tokens(f+".norm_refs", s.NormRefs, 0)
}

// reportRequest checks a report request's incident and recipients: each
// recipient reported the incident or is affected by it.
func reportRequest(a *admission, r *pb.Record, n *pb.Notification) error {
	var parties []string
	found := false
	for _, ref := range r.Refs {
		rec, tx, err := a.record("record.refs", ref)
		if err != nil {
			return err
		}
		d := tx.GetBody().GetRecord().GetIncidentDisclosure()
		if d == nil {
			continue
		}
		found = true
		parties = append(append(parties, rec.Author), d.AffectedStates...)
	}
	if !found {
		return errf(CodeMissingField, "record.refs: a report request refers to the incident's disclosure")
	}
	for _, rc := range n.Recipients {
		if !slices.Contains(parties, rc) {
			return errf(CodeNotIncidentParty, "notification.recipients: %q neither reported nor is affected by the incident referred to (parties: %v)",
				rc, sortedUnique(parties))
		}
	}
	return nil
}

// stagedV12 places and meets the staged duties app version 12 added, for
// disclosure d continuing sources (after the duties of stagedKinds): the
// intermediate report a request asked for, progress reports, the final
// report counted from the corrective measure, and the vulnerability
// duties.
func (o *obligations) stagedV12(d *pb.IncidentDisclosure, refs, sources []string) error {
	if d.Stage == pb.DisclosureStage_DISCLOSURE_STAGE_INTERMEDIATE {
		for _, ref := range sortedUnique(refs) {
			if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_INTERMEDIATE_REPORT, ref, o.author); err != nil {
				return err
			}
		}
	}
	for _, src := range sources {
		if d.Stage == pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING || d.Stage == pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION ||
			d.Stage == pb.DisclosureStage_DISCLOSURE_STAGE_FINAL {
			if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_VULNERABILITY_EARLY_WARNING, src, o.author); err != nil {
				return err
			}
		}
		if d.Stage == pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION || d.Stage == pb.DisclosureStage_DISCLOSURE_STAGE_FINAL {
			if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_VULNERABILITY_NOTIFICATION, src, o.author); err != nil {
				return err
			}
		}
		switch d.Stage {
		case pb.DisclosureStage_DISCLOSURE_STAGE_PROGRESS:
			n, err := o.openProgress(src)
			if err != nil {
				return err
			}
			if n > 0 {
				met, err := o.fulfilled(pb.ObligationKind_OBLIGATION_KIND_PROGRESS_REPORT, progressSource(src, n), o.author)
				if err != nil {
					return err
				}
				if met {
					if err := o.placeProgress(src, n+1); err != nil {
						return err
					}
				}
			}
		case pb.DisclosureStage_DISCLOSURE_STAGE_FINAL:
			n, err := o.openProgress(src)
			if err != nil {
				return err
			}
			if n > 0 {
				if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_PROGRESS_REPORT, progressSource(src, n), o.author); err != nil {
					return err
				}
			}
			for _, k := range []pb.ObligationKind{pb.ObligationKind_OBLIGATION_KIND_FINAL_REPORT_AFTER_MEASURE,
				pb.ObligationKind_OBLIGATION_KIND_VULNERABILITY_FINAL_REPORT} {
				if err := o.fulfil(k, src, o.author); err != nil {
					return err
				}
			}
			continue
		}
		if d.CorrectiveMeasureAt != nil {
			if err := o.placeAfterMeasure(src, d.CorrectiveMeasureAt.AsTime()); err != nil {
				return err
			}
		}
	}
	return nil
}

// progressSource is the source of the n-th progress report duty of the
// staged incident from src.
func progressSource(src string, n int) string { return fmt.Sprintf("%s/%d", src, n) }

// openProgress is the number of the author's progress duty of incident
// src still open (0: none). Duties are numbered from 1 and placed one at a
// time, so the last one placed is the only one that can be open.
func (o *obligations) openProgress(src string) (int, error) {
	for n := 1; ; n++ {
		ob, err := o.get(ObligationID(pb.ObligationKind_OBLIGATION_KIND_PROGRESS_REPORT, progressSource(src, n), o.author))
		if err != nil || ob == nil {
			return 0, err
		}
		if Open(ob) {
			return n, nil
		}
	}
}

// stagedDuty is the author's first staged duty of incident src (early
// warning or notification, incident or vulnerability), whose basis and
// creditors the later duties share; nil if src placed none on it.
func (o *obligations) stagedDuty(src string, kinds ...pb.ObligationKind) (*pb.Obligation, error) {
	for _, k := range kinds {
		ob, err := o.get(ObligationID(k, src, o.author))
		if err != nil || ob != nil {
			return ob, err
		}
	}
	return nil, nil
}

// basisWindow is the shortest non-zero window pick gives among the staged
// reporting of the pledges in basis (0: none).
func (o *obligations) basisWindow(basis []string, pick func(*pb.StagedReporting) uint32) (uint32, error) {
	var window uint32
	for _, id := range basis {
		rec, err := o.st.Record(id)
		if err != nil {
			return 0, err
		}
		if rec == nil {
			continue
		}
		tx := new(pb.Tx)
		if err := proto.Unmarshal(rec.Tx, tx); err != nil {
			return 0, fmt.Errorf("stored pledge %s: %w", id, err)
		}
		if h := pick(tx.GetBody().GetRecord().GetPledge().GetStagedReporting()); h > 0 && (window == 0 || h < window) {
			window = h
		}
	}
	return window, nil
}

// placeProgress places the n-th progress report of incident src on the
// author, progress_report_hours after this record, when its pledges ask
// for progress reports. Like every follow-on duty it is a drill exactly
// when the incident's first duty is, and a drill record places none on a
// real incident.
func (o *obligations) placeProgress(src string, n int) error {
	first, err := o.stagedDuty(src, pb.ObligationKind_OBLIGATION_KIND_INCIDENT_NOTIFICATION, pb.ObligationKind_OBLIGATION_KIND_EARLY_WARNING)
	if err != nil || first == nil || (o.exercise && !first.Exercise) {
		return err
	}
	window, err := o.basisWindow(first.Basis, func(sr *pb.StagedReporting) uint32 { return sr.GetProgressReportHours() })
	if err != nil || window == 0 {
		return err
	}
	return o.createFor(first.Exercise, pb.ObligationKind_OBLIGATION_KIND_PROGRESS_REPORT, progressSource(src, n), o.author, first.Creditors,
		o.b.Time.Add(time.Duration(window)*time.Hour), first.Basis)
}

// placeAfterMeasure places the final report counted from the corrective
// measure of incident src on the author: for a vulnerability the
// vulnerability final report (final_after_fix_hours), otherwise the
// incident's (final_after_measure_hours).
func (o *obligations) placeAfterMeasure(src string, measure time.Time) error {
	kind := pb.ObligationKind_OBLIGATION_KIND_FINAL_REPORT_AFTER_MEASURE
	pick := func(sr *pb.StagedReporting) uint32 { return sr.GetFinalAfterMeasureHours() }
	first, err := o.stagedDuty(src, pb.ObligationKind_OBLIGATION_KIND_INCIDENT_NOTIFICATION, pb.ObligationKind_OBLIGATION_KIND_EARLY_WARNING)
	if err != nil {
		return err
	}
	if first == nil {
		kind = pb.ObligationKind_OBLIGATION_KIND_VULNERABILITY_FINAL_REPORT
		pick = func(sr *pb.StagedReporting) uint32 { return sr.GetVulnerabilities().GetFinalAfterFixHours() }
		if first, err = o.stagedDuty(src, pb.ObligationKind_OBLIGATION_KIND_VULNERABILITY_NOTIFICATION,
			pb.ObligationKind_OBLIGATION_KIND_VULNERABILITY_EARLY_WARNING); err != nil || first == nil {
			return err
		}
	}
	if o.exercise && !first.Exercise {
		return nil // a drill places nothing on a real incident
	}
	window, err := o.basisWindow(first.Basis, pick)
	if err != nil || window == 0 {
		return err
	}
	return o.createFor(first.Exercise, kind, src, o.author, first.Creditors, measure.Add(time.Duration(window)*time.Hour), first.Basis)
}

// vulnerabilityWindows are a pledge's windows for an actively exploited
// vulnerability, in the order of stagedKinds (the final report is placed
// from the fix, not here).
func vulnerabilityWindows(sr *pb.StagedReporting) [3]uint32 {
	v := sr.GetVulnerabilities()
	return [3]uint32{v.GetEarlyWarningHours(), v.GetNotificationHours(), 0}
}

var vulnerabilityKinds = []pb.ObligationKind{pb.ObligationKind_OBLIGATION_KIND_VULNERABILITY_EARLY_WARNING,
	pb.ObligationKind_OBLIGATION_KIND_VULNERABILITY_NOTIFICATION}

// allStagedKinds are the first duties of a staged incident from app
// version 12: the incident's and the vulnerability's.
var allStagedKinds = slices.Concat(stagedKinds, vulnerabilityKinds)

// validateStagedV12 checks the staged reporting windows app version 12 added.
func validateStagedV12(sr *pb.StagedReporting) error {
	if sr.ProgressReportHours > 8760 || sr.FinalAfterMeasureHours > 8760 {
		return errf(CodeBadFormat, "pledge.staged_reporting windows are limited to 8760 hours")
	}
	if sr.ProgressReportHours > 0 && sr.NotificationHours == 0 {
		return errf(CodeMissingField, "pledge.staged_reporting.progress_report_hours counts from the notification: notification_hours is required")
	}
	if sr.FinalAfterMeasureHours > 0 && sr.NotificationHours == 0 && sr.EarlyWarningHours == 0 {
		return errf(CodeMissingField, "pledge.staged_reporting.final_after_measure_hours follows an incident's staged duties: an early warning or notification window is required")
	}
	v := sr.Vulnerabilities
	if v == nil {
		return nil
	}
	if v.EarlyWarningHours > 8760 || v.NotificationHours > 8760 || v.FinalAfterFixHours > 8760 {
		return errf(CodeBadFormat, "pledge.staged_reporting.vulnerabilities windows are limited to 8760 hours")
	}
	if v.EarlyWarningHours == 0 && v.NotificationHours == 0 {
		return errf(CodeMissingField, "pledge.staged_reporting.vulnerabilities needs an early warning or notification window (the final report follows them)")
	}
	if v.EarlyWarningHours > 0 && v.NotificationHours > 0 && v.EarlyWarningHours > v.NotificationHours {
		return errf(CodeBadFormat, "pledge.staged_reporting.vulnerabilities.early_warning_hours (%d) exceeds notification_hours (%d)",
			v.EarlyWarningHours, v.NotificationHours)
	}
	return nil
}

// validateIncidentV12 checks the incident disclosure fields app version 12
// added.
func validateIncidentV12(v *validator, d *pb.IncidentDisclosure) error {
	if err := enumOpt("incident_disclosure.outcome", d.Outcome); err != nil {
		return err
	}
	if err := v.past("incident_disclosure.corrective_measure_at", d.CorrectiveMeasureAt, false); err != nil {
		return err
	}
	if d.CorrectiveMeasureAt != nil && d.DetectedAt != nil && d.CorrectiveMeasureAt.AsTime().Before(d.DetectedAt.AsTime()) {
		return errf(CodeBadTime, "incident_disclosure.corrective_measure_at is before detected_at")
	}
	if vu := d.Vulnerability; vu != nil {
		if err := reqText("incident_disclosure.vulnerability.identifier", vu.Identifier, MaxIDLen); err != nil {
			return err
		}
		if err := checkText("incident_disclosure.vulnerability.product", vu.Product, MaxTitleLen); err != nil {
			return err
		}
	}
	return nil
}
