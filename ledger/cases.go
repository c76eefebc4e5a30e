package ledger

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Cases and measures (app version 10, docs/cases.md). A request for
// consultation opens a case; signed case steps move it; measures are taken
// and stood down inside it. The ledger keeps the case as provable state
// (CaseState), places the duties each step implies, and enforces at block
// time who may file what, the cooling-off before escalation, the
// preconditions of countermeasures and the escalation ladder.

const (
	// MaxMilestones bounds a remediation plan.
	MaxMilestones = 16
	// MaxCaseVerifiers bounds a fact-finding request.
	MaxCaseVerifiers = 8
	// MaxCaseHistory bounds a case's steps (its state stays one small value).
	MaxCaseHistory = 256
	maxConductLen  = 64
	maxLadderLevel = 16
	// maxWindow bounds every window of cases and protective orders: a year.
	maxWindow = 365 * 24 * 3600
)

// DefaultCaseWindows are the windows of a chain whose params give none (or
// leave one zero): the figures of the mechanisms cases are modelled on.
func DefaultCaseWindows() *pb.CaseWindows {
	const day = 24 * 3600
	return &pb.CaseWindows{
		ReplySeconds: 10 * day, ConsultSeconds: 30 * day, CoolingOffSeconds: 60 * day,
		UrgentReplySeconds: 2 * day, UrgentConsultSeconds: 10 * day,
		MediationAcceptSeconds: 10 * day, MediationReportSeconds: 60 * day,
		FactFindingSeconds: 90 * day, PlanSeconds: 30 * day, TerminateSeconds: 3 * day,
	}
}

// EffectiveCaseWindows are the windows of a case: the built-in defaults,
// overridden field by field by the chain's (params) and then by the
// pledge the case names.
func EffectiveCaseWindows(chain, pledge *pb.CaseWindows) *pb.CaseWindows {
	return layerWindows(DefaultCaseWindows(), chain, pledge)
}

// layerWindows overrides the windows w (a message of uint32 seconds)
// field by field with each layer in turn; a zero field (or a nil layer)
// leaves the one below.
func layerWindows[W proto.Message](w W, layers ...W) W {
	dst := w.ProtoReflect()
	for _, l := range layers {
		if !l.ProtoReflect().IsValid() {
			continue
		}
		l.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if v.Uint() != 0 {
				dst.Set(fd, v)
			}
			return true
		})
	}
	return w
}

func secs(n uint32) time.Duration { return time.Duration(n) * time.Second }

// newInV10 names the first part of r that app version 10 introduced, or "".
func newInV10(r *pb.Record) string {
	switch body := r.GetBody().(type) {
	case *pb.Record_CaseStep:
		return "record.case_step"
	case *pb.Record_Measure:
		return "record.measure"
	case *pb.Record_Pledge:
		if body.Pledge.CaseWindows != nil {
			return "pledge.case_windows"
		}
	case *pb.Record_Proposal:
		if sp := body.Proposal.GetAction().GetSetParams(); sp != nil {
			return ParamsNewInV10(sp)
		}
	}
	return ""
}

// ParamsNewInV10 names the first params field app version 10 introduced
// ("" when p has none): genesis below 10 must not set them.
func ParamsNewInV10(p *pb.Params) string {
	switch {
	case p == nil:
		return ""
	case p.CaseWindows != nil:
		return "params.case_windows"
	case p.Ladder != nil:
		return "params.ladder"
	}
	return ""
}

// isConduct accepts a conduct code: lower_snake, 1 to 64 bytes.
func isConduct(s string) bool {
	if s == "" || len(s) > maxConductLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func conductField(field, s string) error {
	if s == "" {
		return errf(CodeMissingField, "%s is required", field)
	}
	if !isConduct(s) {
		return errf(CodeBadFormat, "%s %q is not a conduct code (lower_snake, at most %d bytes)", field, s, maxConductLen)
	}
	return nil
}

// ValidateLadder checks an escalation ladder: a version, levels numbered
// 1, 2, ... each with a name, the conduct it answers and the responses it
// allows.
func ValidateLadder(l *pb.EscalationLadder) error {
	if l.Version == 0 {
		return errf(CodeMissingField, "ladder.version is required (it grows with every adoption)")
	}
	if len(l.Levels) == 0 {
		return errf(CodeMissingField, "ladder.levels is required")
	}
	if err := checkListLen("ladder.levels", len(l.Levels), maxLadderLevel); err != nil {
		return err
	}
	for i, lv := range l.Levels {
		if lv.Level != uint32(i+1) {
			return errf(CodeBadFormat, "ladder.levels[%d].level is %d, want %d (levels are numbered 1, 2, ... in order)", i, lv.Level, i+1)
		}
		if err := reqText("ladder.levels.name", lv.Name, MaxTitleLen); err != nil {
			return err
		}
		if err := checkListLen("ladder.levels.conduct", len(lv.Conduct), MaxListLen); err != nil {
			return err
		}
		for j, c := range lv.Conduct {
			if err := conductField("ladder.levels.conduct", c); err != nil {
				return err
			}
			if slices.Contains(lv.Conduct[:j], c) {
				return errf(CodeBadFormat, "ladder.levels[%d].conduct lists %q twice", i, c)
			}
		}
		if err := enumList("ladder.levels.responses", lv.Responses, 1); err != nil {
			return err
		}
	}
	return nil
}

// validateWindows checks windows (a message of uint32 seconds: case
// windows, disclosure windows): each at most a year.
func validateWindows(field string, w proto.Message) error {
	var err error
	w.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if v.Uint() > maxWindow {
			err = errf(CodeBadFormat, "%s.%s %d exceeds a year", field, fd.Name(), v.Uint())
		}
		return err == nil
	})
	return err
}

// ladderSucceeds refuses a new ladder whose version does not grow.
func ladderSucceeds(cur, next *pb.EscalationLadder) error {
	if next == nil || cur == nil || proto.Equal(cur, next) {
		return nil
	}
	if next.Version <= cur.Version {
		return errf(CodeBadFormat, "params.ladder.version %d must be greater than the ladder in force (version %d)", next.Version, cur.Version)
	}
	return nil
}

// Which fields each step uses (besides step, case_id and statement).
var caseStepFields = map[pb.CaseStepType][]string{
	pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION: {"respondent", "co_complainants", "subjects", "pledge_id", "norm", "conduct", "urgent"},
	pb.CaseStepType_CASE_STEP_TYPE_REPLY:                nil,
	pb.CaseStepType_CASE_STEP_TYPE_CONSULTATION_HELD:    {"outcome"},
	pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REQUEST:    {"mediator"},
	pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_ACCEPT:     nil,
	pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REPORT:     nil,
	pb.CaseStepType_CASE_STEP_TYPE_FACT_FINDING_REQUEST: {"verifiers"},
	pb.CaseStepType_CASE_STEP_TYPE_REMEDIATION_PLAN:     {"milestones"},
	pb.CaseStepType_CASE_STEP_TYPE_MILESTONE_REPORT:     {"milestone"},
	pb.CaseStepType_CASE_STEP_TYPE_REFERRAL:             {"proposal_id"},
	pb.CaseStepType_CASE_STEP_TYPE_CLOSE:                {"outcome", "decision_id"},
}

// onlyFields refuses a set field of m outside common and uses.
func onlyFields(what string, m protoreflect.ProtoMessage, common, uses []string) error {
	var err error
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		n := string(fd.Name())
		if !slices.Contains(common, n) && !slices.Contains(uses, n) {
			err = errf(CodeBadFormat, "%s does not take %s", what, n)
		}
		return err == nil
	})
	return err
}

// StepName is a case step's short name: CASE_STEP_TYPE_REPLY -> "reply".
func StepName(s pb.CaseStepType) string { return enum.Name(s) }

func validateCaseStep(v *validator, r *pb.Record) error {
	s := r.GetCaseStep()
	if err := enumReq("case_step.step", s.Step); err != nil {
		return err
	}
	name := "case_step " + StepName(s.Step)
	if err := onlyFields(name, s, []string{"step", "case_id", "statement"}, caseStepFields[s.Step]); err != nil {
		return err
	}
	if err := checkText("case_step.statement", s.Statement, MaxSummaryLen); err != nil {
		return err
	}
	if s.Step == pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION {
		if s.CaseId != "" {
			return errf(CodeBadFormat, "case_step.case_id must be empty in a request_consultation: the request opens the case and its id is the case id")
		}
	} else if err := recordID("case_step.case_id", s.CaseId); err != nil {
		return err
	}
	switch s.Step {
	case pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION:
		if err := memberRef("case_step.respondent", s.Respondent); err != nil {
			return err
		}
		if err := memberIDs("case_step.co_complainants", s.CoComplainants, 0); err != nil {
			return err
		}
		if slices.Contains(s.CoComplainants, s.Respondent) {
			return errf(CodeSelfReference, "case_step.co_complainants must not include the respondent %q", s.Respondent)
		}
		if err := recordIDs("case_step.subjects", s.Subjects, 1, MaxRefs); err != nil {
			return err
		}
		if s.PledgeId != "" {
			if err := recordID("case_step.pledge_id", s.PledgeId); err != nil {
				return err
			}
		}
		if s.Norm != "" && !isToken(s.Norm) {
			return errf(CodeBadFormat, "case_step.norm %q is not a norm reference", s.Norm)
		}
		if s.PledgeId == "" && s.Norm == "" {
			return errf(CodeMissingField, "a request_consultation names the pledge (case_step.pledge_id) or the norm (case_step.norm) the conduct breaks")
		}
		if err := conductField("case_step.conduct", s.Conduct); err != nil {
			return err
		}
		return reqText("case_step.statement", s.Statement, MaxSummaryLen)
	case pb.CaseStepType_CASE_STEP_TYPE_REPLY, pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REPORT:
		return reqText("case_step.statement", s.Statement, MaxSummaryLen)
	case pb.CaseStepType_CASE_STEP_TYPE_CONSULTATION_HELD:
		if s.Outcome != pb.CaseOutcome_CASE_OUTCOME_SETTLED && s.Outcome != pb.CaseOutcome_CASE_OUTCOME_UNRESOLVED {
			return errf(CodeBadEnum, "case_step.outcome of consultation_held must be settled or unresolved")
		}
	case pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REQUEST:
		return memberRef("case_step.mediator", s.Mediator)
	case pb.CaseStepType_CASE_STEP_TYPE_FACT_FINDING_REQUEST:
		if err := memberIDs("case_step.verifiers", s.Verifiers, 1); err != nil {
			return err
		}
		return checkListLen("case_step.verifiers", len(s.Verifiers), MaxCaseVerifiers)
	case pb.CaseStepType_CASE_STEP_TYPE_REMEDIATION_PLAN:
		if len(s.Milestones) == 0 {
			return errf(CodeMissingField, "case_step.milestones is required (a plan has at least one milestone)")
		}
		if err := checkListLen("case_step.milestones", len(s.Milestones), MaxMilestones); err != nil {
			return err
		}
		for i, m := range s.Milestones {
			if err := reqText("case_step.milestones.description", m.Description, MaxTitleLen); err != nil {
				return err
			}
			if err := v.future("case_step.milestones.due", m.Due, true); err != nil {
				return err
			}
			if i > 0 && m.Due.AsTime().Before(s.Milestones[i-1].Due.AsTime()) {
				return errf(CodeBadTime, "case_step.milestones[%d].due is before the milestone before it (milestones are in due order)", i)
			}
		}
	case pb.CaseStepType_CASE_STEP_TYPE_MILESTONE_REPORT:
		if s.Milestone == 0 {
			return errf(CodeMissingField, "case_step.milestone is required (1 for the plan's first milestone)")
		}
	case pb.CaseStepType_CASE_STEP_TYPE_REFERRAL:
		if s.ProposalId != "" {
			return recordID("case_step.proposal_id", s.ProposalId)
		}
	case pb.CaseStepType_CASE_STEP_TYPE_CLOSE:
		switch s.Outcome {
		case pb.CaseOutcome_CASE_OUTCOME_SETTLED, pb.CaseOutcome_CASE_OUTCOME_WITHDRAWN:
			if s.DecisionId != "" {
				return errf(CodeBadFormat, "case_step.decision_id is only for a decided close")
			}
		case pb.CaseOutcome_CASE_OUTCOME_DECIDED:
			return recordID("case_step.decision_id", s.DecisionId)
		default:
			return errf(CodeBadEnum, "case_step.outcome of close must be settled, withdrawn or decided")
		}
	}
	return nil
}

// caseOf loads the case a step or measure names.
func (a *admission) caseOf(field, id string) (*pb.CaseState, error) {
	cs, err := a.st.Case(id)
	if err != nil {
		return nil, fmt.Errorf("read case %s: %w", id, err)
	}
	if cs == nil {
		return nil, errf(CodeUnknownCase, "%s: there is no case %s (a case id is the id of its request_consultation)", field, id)
	}
	a.refs = append(a.refs, id)
	return cs, nil
}

// complainantSide says whether m is the complainant or a co-complainant.
func complainantSide(cs *pb.CaseState, m string) bool {
	return m == cs.Complainant || slices.Contains(cs.CoComplainants, m)
}

// CaseParty says whether m is a party to the case.
func CaseParty(cs *pb.CaseState, m string) bool { return m == cs.Respondent || complainantSide(cs, m) }

// CaseParties are a case's parties, sorted.
func CaseParties(cs *pb.CaseState) []string {
	return sortedUnique(append([]string{cs.Complainant, cs.Respondent}, cs.CoComplainants...))
}

// otherSide is the party m faces: the respondent for the complainant's
// side, the complainant for the respondent.
func otherSide(cs *pb.CaseState, m string) string {
	if m == cs.Respondent {
		return cs.Complainant
	}
	return cs.Respondent
}

func (a *admission) party(cs *pb.CaseState, what string) error {
	if !CaseParty(cs, a.author) {
		return errf(CodeNotCaseParty, "%s: %q is not a party to case %s (parties: %v)", what, a.author, cs.Id, CaseParties(cs))
	}
	return nil
}

func (a *admission) only(cs *pb.CaseState, who, role, what string) error {
	if a.author != who {
		return errf(CodeNotCaseParty, "%s: only the %s of case %s (%q) may file it, not %q", what, role, cs.Id, who, a.author)
	}
	return nil
}

func stageIn(cs *pb.CaseState, what string, stages ...pb.CaseStage) error {
	if slices.Contains(stages, cs.Stage) {
		return nil
	}
	names := make([]string, len(stages))
	for i, s := range stages {
		names[i] = enum.Name(s)
	}
	return errf(CodeWrongStage, "%s: case %s is at stage %s; this step needs %v", what, cs.Id, enum.Name(cs.Stage), names)
}

// mediationDuty is the duty of a mediation in progress (the named body's
// acceptance, then its report), or none.
func mediationDuty(cs *pb.CaseState) []string {
	switch cs.Stage {
	case pb.CaseStage_CASE_STAGE_MEDIATION_REQUESTED:
		return []string{ObligationID(pb.ObligationKind_OBLIGATION_KIND_ACCEPT_MEDIATION, cs.MediationRequestId, cs.Mediator)}
	case pb.CaseStage_CASE_STAGE_MEDIATION:
		return []string{ObligationID(pb.ObligationKind_OBLIGATION_KIND_MEDIATION_REPORT, cs.MediationRequestId, cs.Mediator)}
	}
	return nil
}

// noneRunning refuses a step while one of the duties ids (of a procedure
// in progress) is open and not yet past due.
func (a *admission) noneRunning(cs *pb.CaseState, what, procedure string, ids ...string) error {
	for _, id := range ids {
		ob, err := a.st.Obligation(id)
		if err != nil {
			return fmt.Errorf("read obligation %s: %w", id, err)
		}
		if ob != nil && ob.Status == pb.ObligationStatus_OBLIGATION_STATUS_OPEN && !a.b.Time.After(ob.Due.AsTime()) {
			return errf(CodeWrongStage, "%s: %s is under way in case %s (its %s is due %s)", what, procedure, cs.Id,
				enum.Name(ob.Kind), ob.Due.AsTime().UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// UnmetAt says whether a duty, as proven in the state after the block at
// time t, was not met in time: it is still open or overdue and t is at or
// after its due time (a record meeting it can no longer come in time: later
// blocks have later times). Verifiers say "no reply" only then.
func UnmetAt(ob *pb.Obligation, t time.Time) bool {
	return ob != nil && Open(ob) && !t.Before(ob.Due.AsTime())
}

// DutyMissed says whether a duty was missed by block time t: it is
// overdue, was met late, or is open past its due time (the first block
// after that marks it overdue).
func DutyMissed(ob *pb.Obligation, t time.Time) bool {
	if ob == nil {
		return false
	}
	switch ob.Status {
	case pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE, pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE:
		return true
	case pb.ObligationStatus_OBLIGATION_STATUS_OPEN:
		return t.After(ob.Due.AsTime())
	}
	return false
}

// escalationFlags is the cooling-off: an escalation step by who at block
// time t before the case's not_before may go ahead (ok) only if the case
// is urgent or, for the complainant's side, the respondent missed its reply
// window (read with duty); flags say which. Admission refuses with it and
// the case's history records its flags, so both read the same rule.
func escalationFlags(cs *pb.CaseState, who string, t time.Time, duty func(id string) (*pb.Obligation, error)) (flags []string, ok bool, err error) {
	switch {
	case cs.Urgent:
		return []string{"urgent"}, true, nil
	case !t.Before(cs.NotBefore.AsTime()):
		return nil, true, nil
	case !complainantSide(cs, who):
		return nil, false, nil
	}
	ob, err := duty(ObligationID(pb.ObligationKind_OBLIGATION_KIND_REPLY_CONSULTATION, cs.Id, cs.Respondent))
	if err != nil {
		return nil, false, fmt.Errorf("read reply duty: %w", err)
	}
	if DutyMissed(ob, t) {
		return []string{"reply_missed"}, true, nil
	}
	return nil, false, nil
}

// escalation refuses an escalation step during the cooling-off.
func (a *admission) escalation(cs *pb.CaseState, what string) error {
	_, ok, err := escalationFlags(cs, a.author, a.b.Time, a.st.Obligation)
	if err != nil || ok {
		return err
	}
	return errf(CodeCoolingOff, "%s: case %s is cooling off until %s (%s left); escalation waits unless the case is urgent or the respondent missed its reply",
		what, cs.Id, cs.NotBefore.AsTime().UTC().Format(time.RFC3339), cs.NotBefore.AsTime().Sub(a.b.Time).Round(time.Second))
}

func admitCaseStep(a *admission, r *pb.Record) error {
	s := r.GetCaseStep()
	what := "case_step " + StepName(s.Step)
	if s.Step == pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION {
		return admitRequest(a, s)
	}
	cs, err := a.caseOf("case_step.case_id", s.CaseId)
	if err != nil {
		return err
	}
	// A plan outlives a settlement or a decision: its milestones can still
	// be reported (a withdrawal waived them). Nothing else moves a closed
	// case.
	if cs.Stage == pb.CaseStage_CASE_STAGE_CLOSED && s.Step != pb.CaseStepType_CASE_STEP_TYPE_MILESTONE_REPORT {
		return errf(CodeCaseClosed, "%s: case %s was closed (%s) at %s", what, cs.Id, enum.Name(cs.Outcome), cs.ClosedAt.AsTime().UTC().Format(time.RFC3339))
	}
	if len(cs.History) >= MaxCaseHistory {
		return errf(CodeFieldTooLong, "%s: case %s has %d steps, the limit", what, cs.Id, MaxCaseHistory)
	}
	a.subject(CaseParties(cs)...)
	switch s.Step {
	case pb.CaseStepType_CASE_STEP_TYPE_REPLY:
		// A late reply is still a reply (its duty is met late), whatever
		// the complainant did meanwhile; a second one is refused.
		if err := a.only(cs, cs.Respondent, "respondent", what); err != nil {
			return err
		}
		return openDuty(a, pb.ObligationKind_OBLIGATION_KIND_REPLY_CONSULTATION, cs.Id, cs.Respondent, "case_step reply")
	case pb.CaseStepType_CASE_STEP_TYPE_CONSULTATION_HELD:
		if a.author != cs.Complainant && a.author != cs.Respondent {
			return errf(CodeNotCaseParty, "%s: only the complainant or the respondent of case %s files it (co-signed by the other)", what, cs.Id)
		}
		// Consultations follow the reply; from then on they may be held
		// at any stage (during mediation too).
		if cs.Stage == pb.CaseStage_CASE_STAGE_REQUESTED {
			return errf(CodeWrongStage, "%s: case %s has no reply yet; consultations follow the reply", what, cs.Id)
		}
		return nil
	case pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REQUEST:
		if err := a.party(cs, what); err != nil {
			return err
		}
		if _, err := a.member("case_step.mediator", s.Mediator, classNeutral); err != nil {
			return err
		}
		if CaseParty(cs, s.Mediator) {
			return errf(CodeSelfReference, "case_step.mediator: %q is a party to case %s", s.Mediator, cs.Id)
		}
		a.subject(s.Mediator)
		// Good offices may be asked at any time (WTO DSU 5.3), but one
		// mediation at a time: another only once the mediator missed its
		// acceptance or its report.
		return a.noneRunning(cs, what, "a mediation by "+cs.Mediator, mediationDuty(cs)...)
	case pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_ACCEPT:
		if err := a.only(cs, cs.Mediator, "named mediator", what); err != nil {
			return err
		}
		return stageIn(cs, what, pb.CaseStage_CASE_STAGE_MEDIATION_REQUESTED)
	case pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REPORT:
		if err := a.only(cs, cs.Mediator, "mediator", what); err != nil {
			return err
		}
		return stageIn(cs, what, pb.CaseStage_CASE_STAGE_MEDIATION)
	case pb.CaseStepType_CASE_STEP_TYPE_FACT_FINDING_REQUEST:
		if err := a.party(cs, what); err != nil {
			return err
		}
		// One fact-finding at a time: another once every verifier of the
		// last one filed its finding (or missed its window).
		var running []string
		for _, v := range cs.Verifiers {
			running = append(running, ObligationID(pb.ObligationKind_OBLIGATION_KIND_FACT_FINDING, cs.FactFindingRequestId, v))
		}
		if err := a.noneRunning(cs, what, "the fact-finding by "+strings.Join(cs.Verifiers, ", "), running...); err != nil {
			return err
		}
		var accepted []string
		if cs.PledgeId != "" {
			_, ptx, err := a.record("case.pledge_id", cs.PledgeId, pb.RecordKind_RECORD_KIND_PLEDGE)
			if err != nil {
				return err
			}
			accepted = ptx.GetBody().GetRecord().GetPledge().GetVerification().GetAcceptedVerifiers()
		}
		for _, vid := range s.Verifiers {
			if _, err := a.member("case_step.verifiers", vid, classVerifier); err != nil {
				return err
			}
			if len(accepted) > 0 && !slices.Contains(accepted, vid) {
				return errf(CodeVerifierNotAccepted, "case_step.verifiers: pledge %s accepts only %v, not %q", cs.PledgeId, accepted, vid)
			}
		}
		a.subject(s.Verifiers...)
		return a.escalation(cs, what)
	case pb.CaseStepType_CASE_STEP_TYPE_REMEDIATION_PLAN:
		if err := a.only(cs, cs.Respondent, "respondent", what); err != nil {
			return err
		}
		if cs.PlanId != "" {
			return errf(CodeWrongStage, "%s: case %s has a remediation plan already (%s)", what, cs.Id, cs.PlanId)
		}
		return nil
	case pb.CaseStepType_CASE_STEP_TYPE_MILESTONE_REPORT:
		if err := a.only(cs, cs.Respondent, "respondent", what); err != nil {
			return err
		}
		if cs.PlanId == "" {
			return errf(CodeWrongStage, "%s: case %s has no remediation plan", what, cs.Id)
		}
		if int(s.Milestone) > len(cs.Milestones) {
			return errf(CodeBadFormat, "case_step.milestone %d: the plan of case %s has %d milestones", s.Milestone, cs.Id, len(cs.Milestones))
		}
		return openDuty(a, pb.ObligationKind_OBLIGATION_KIND_MILESTONE, MilestoneSource(cs.PlanId, s.Milestone), cs.Respondent, "case_step.milestone")
	case pb.CaseStepType_CASE_STEP_TYPE_REFERRAL:
		if err := a.party(cs, what); err != nil {
			return err
		}
		if cs.Stage == pb.CaseStage_CASE_STAGE_REFERRED {
			return errf(CodeWrongStage, "%s: case %s was referred already", what, cs.Id)
		}
		if s.ProposalId != "" {
			if _, _, err := a.record("case_step.proposal_id", s.ProposalId, pb.RecordKind_RECORD_KIND_PROPOSAL); err != nil {
				return err
			}
		}
		return a.escalation(cs, what)
	case pb.CaseStepType_CASE_STEP_TYPE_CLOSE:
		switch s.Outcome {
		case pb.CaseOutcome_CASE_OUTCOME_WITHDRAWN:
			return a.only(cs, cs.Complainant, "complainant", what+" (withdrawn)")
		case pb.CaseOutcome_CASE_OUTCOME_SETTLED:
			if a.author != cs.Complainant && a.author != cs.Respondent {
				return errf(CodeNotCaseParty, "%s: only the complainant or the respondent of case %s files a settlement (co-signed by the other)", what, cs.Id)
			}
		case pb.CaseOutcome_CASE_OUTCOME_DECIDED:
			if err := a.party(cs, what); err != nil {
				return err
			}
			if !decidesCase(cs, s.DecisionId) {
				return errf(CodeWrongRecordKind, "case_step.decision_id: %s is not a finding, mediation report or referred proposal of case %s", s.DecisionId, cs.Id)
			}
			a.refs = append(a.refs, s.DecisionId)
		}
	}
	return nil
}

// decidesCase says whether record id may decide cs: a finding or mediation
// report in its history, or the proposal it was referred to.
func decidesCase(cs *pb.CaseState, id string) bool {
	for _, e := range cs.History {
		if e.RecordId == id && (e.Step == "finding" || e.Step == StepName(pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REPORT)) {
			return true
		}
		if e.Step == StepName(pb.CaseStepType_CASE_STEP_TYPE_REFERRAL) && e.Ref == id {
			return true
		}
	}
	return false
}

func admitRequest(a *admission, s *pb.CaseStep) error {
	const what = "case_step request_consultation"
	if a.signer.Class != classState {
		return errf(CodeClassNotAllowed, "%s: a %v may not open a case; a state calls upon another", what, a.signer.Class)
	}
	if s.Respondent == a.author || slices.Contains(s.CoComplainants, a.author) {
		return errf(CodeSelfReference, "%s: the respondent and co-complainants must not include the signer", what)
	}
	if _, err := a.member("case_step.respondent", s.Respondent, classState); err != nil {
		return err
	}
	for _, c := range s.CoComplainants {
		if _, err := a.member("case_step.co_complainants", c, classState); err != nil {
			return err
		}
	}
	for _, id := range s.Subjects {
		if _, _, err := a.record("case_step.subjects", id, pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE, pb.RecordKind_RECORD_KIND_FINDING,
			pb.RecordKind_RECORD_KIND_NOTIFICATION, pb.RecordKind_RECORD_KIND_PLEDGE, pb.RecordKind_RECORD_KIND_HARM_ASSESSMENT); err != nil {
			return err
		}
	}
	if s.PledgeId != "" {
		_, ptx, err := a.record("case_step.pledge_id", s.PledgeId, pb.RecordKind_RECORD_KIND_PLEDGE)
		if err != nil {
			return err
		}
		if !slices.Contains(ptx.GetBody().GetRecord().GetPledge().GetPledgors(), s.Respondent) {
			return errf(CodeNotCaseParty, "case_step.pledge_id: the respondent %q is not a pledgor of pledge %s", s.Respondent, s.PledgeId)
		}
	}
	a.subject(a.author, s.Respondent)
	a.subject(s.CoComplainants...)
	return nil
}

// MilestoneSource is the source of the duty of milestone n (1-based) of
// remediation plan plan: "<plan id>/<n>".
func MilestoneSource(plan string, n uint32) string {
	return plan + "/" + strconv.FormatUint(uint64(n), 10)
}

func validateMeasure(v *validator, r *pb.Record) error {
	m := r.GetMeasure()
	if err := enumReq("measure.action", m.Action); err != nil {
		return err
	}
	if err := recordID("measure.case_id", m.CaseId); err != nil {
		return err
	}
	if err := checkText("measure.statement", m.Statement, MaxSummaryLen); err != nil {
		return err
	}
	common := []string{"action", "case_id", "statement"}
	if m.Action == pb.MeasureAction_MEASURE_ACTION_STAND_DOWN {
		if err := onlyFields("measure stand_down", m, common, []string{"measure_id", "return_level"}); err != nil {
			return err
		}
		return recordID("measure.measure_id", m.MeasureId)
	}
	if err := onlyFields("measure take", m, common, []string{"type", "target", "conduct", "level", "proportionality",
		"reversible", "expected_end", "offer_to_negotiate"}); err != nil {
		return err
	}
	if err := enumReq("measure.type", m.Type); err != nil {
		return err
	}
	if err := memberRef("measure.target", m.Target); err != nil {
		return err
	}
	if err := conductField("measure.conduct", m.Conduct); err != nil {
		return err
	}
	if m.Level > maxLadderLevel {
		return errf(CodeUnknownLadderLevel, "measure.level %d exceeds any ladder (at most %d levels)", m.Level, maxLadderLevel)
	}
	if err := reqText("measure.proportionality", m.Proportionality, MaxSummaryLen); err != nil {
		return err
	}
	return v.future("measure.expected_end", m.ExpectedEnd, true)
}

// LadderAllows is the highest level of ladder l whose conduct includes
// conduct (0 when none does), and whether a measure of type t at level
// stays within it: level at most that, and t among the level's responses.
func LadderAllows(l *pb.EscalationLadder, conduct string, level uint32, t pb.MeasureType) (allowed uint32, within bool) {
	for _, lv := range l.GetLevels() {
		if slices.Contains(lv.Conduct, conduct) {
			allowed = lv.Level
		}
	}
	if level == 0 || int(level) > len(l.GetLevels()) {
		return allowed, false
	}
	return allowed, level <= allowed && slices.Contains(l.Levels[level-1].Responses, t)
}

func paramsOf(b Block) *pb.Params {
	if b.Params != nil {
		return b.Params
	}
	return DefaultParams()
}

func admitMeasure(a *admission, r *pb.Record) error {
	m := r.GetMeasure()
	cs, err := a.caseOf("measure.case_id", m.CaseId)
	if err != nil {
		return err
	}
	if err := a.party(cs, "measure"); err != nil {
		return err
	}
	a.subject(CaseParties(cs)...)
	ladder := paramsOf(a.b).Ladder
	levelOK := func(field string, l uint32, zeroOK bool) error {
		switch {
		case l == 0 && zeroOK:
			return nil
		case ladder == nil && l != 0:
			return errf(CodeUnknownLadderLevel, "%s %d: no escalation ladder is in force (use 0)", field, l)
		case ladder != nil && l == 0:
			return errf(CodeUnknownLadderLevel, "%s is required: ladder version %d is in force (levels 1 to %d)", field, ladder.Version, len(ladder.Levels))
		case ladder != nil && int(l) > len(ladder.Levels):
			return errf(CodeUnknownLadderLevel, "%s %d: ladder version %d has levels 1 to %d", field, l, ladder.Version, len(ladder.Levels))
		}
		return nil
	}
	if m.Action == pb.MeasureAction_MEASURE_ACTION_STAND_DOWN {
		ms := findMeasure(cs, m.MeasureId)
		if ms == nil {
			return errf(CodeUnknownRecord, "measure.measure_id: %s is not a measure of case %s", m.MeasureId, cs.Id)
		}
		a.refs = append(a.refs, m.MeasureId)
		if ms.Author != a.author {
			return errf(CodeNotAuthor, "measure.measure_id: measure %s was taken by %q; only it stands it down", m.MeasureId, ms.Author)
		}
		if ms.StandDownId != "" {
			return errf(CodeWrongStage, "measure.measure_id: measure %s was stood down already (%s)", m.MeasureId, ms.StandDownId)
		}
		if m.ReturnLevel >= ms.Level && (ms.Level > 0 || m.ReturnLevel > 0) {
			return errf(CodeUnknownLadderLevel, "measure.return_level %d must be below the measure's level %d", m.ReturnLevel, ms.Level)
		}
		return levelOK("measure.return_level", m.ReturnLevel, true)
	}
	if cs.Stage == pb.CaseStage_CASE_STAGE_CLOSED {
		return errf(CodeCaseClosed, "measure: case %s was closed (%s); a new measure needs a new case", cs.Id, enum.Name(cs.Outcome))
	}
	if len(cs.History) >= MaxCaseHistory {
		return errf(CodeFieldTooLong, "measure: case %s has %d steps, the limit", cs.Id, MaxCaseHistory)
	}
	if want := otherSide(cs, a.author); m.Target != want {
		return errf(CodeNotCaseParty, "measure.target: %q is taken against the other side of case %s, %q", m.Target, cs.Id, want)
	}
	if err := levelOK("measure.level", m.Level, false); err != nil {
		return err
	}
	if m.Type == pb.MeasureType_MEASURE_TYPE_COUNTERMEASURE {
		// ILC articles 52 and 53: call upon the state first, notify and
		// offer to negotiate (urgent countermeasures excepted).
		if !complainantSide(cs, a.author) {
			return errf(CodeCountermeasurePrecondition, "measure: a countermeasure needs an earlier call upon the state; in case %s that was %q's request, not %q's", cs.Id, cs.Complainant, a.author)
		}
		if !m.OfferToNegotiate && !cs.Urgent {
			return errf(CodeCountermeasurePrecondition, "measure.offer_to_negotiate: a countermeasure in a case that is not urgent must offer to negotiate")
		}
		if err := a.escalation(cs, "measure countermeasure"); err != nil {
			return err
		}
	}
	return nil
}

func findMeasure(cs *pb.CaseState, id string) *pb.MeasureState {
	for _, ms := range cs.Measures {
		if ms.RecordId == id {
			return ms
		}
	}
	return nil
}

// caseChange is the new state of the case a record moves, with the duties
// it places and meets; nil when the record moves no case. Findings that
// answer a fact-finding request (referring to it in record.refs) move the
// request's case.
func (o *obligations) caseChange(st State, r *pb.Record) (*pb.CaseState, error) {
	switch body := r.Body.(type) {
	case *pb.Record_CaseStep:
		return o.caseStep(st, body.CaseStep)
	case *pb.Record_Measure:
		return o.measure(st, body.Measure)
	case *pb.Record_Finding:
		return o.caseFinding(st, r.Refs, body.Finding)
	}
	return nil, nil
}

func (o *obligations) event(cs *pb.CaseState, step string, flags ...string) *pb.CaseEvent {
	e := &pb.CaseEvent{RecordId: o.record, Step: step, By: o.author, Height: o.b.Height, Time: timestamppb.New(o.b.Time), Flags: flags}
	cs.History = append(cs.History, e)
	return e
}

func (o *obligations) setStage(cs *pb.CaseState, s pb.CaseStage) {
	if cs.Stage != s {
		cs.Stage, cs.StageAt = s, timestamppb.New(o.b.Time)
	}
}

// place creates a duty of the case and lists it in the case.
func (o *obligations) place(cs *pb.CaseState, kind pb.ObligationKind, source, debtor string, creditors []string, due time.Time) error {
	if err := o.create(kind, source, debtor, creditors, due, []string{cs.Id}); err != nil {
		return err
	}
	id := ObligationID(kind, source, debtor)
	if !slices.Contains(cs.ObligationIds, id) {
		cs.ObligationIds = append(cs.ObligationIds, id)
	}
	return nil
}

func complainants(cs *pb.CaseState) []string {
	return append([]string{cs.Complainant}, cs.CoComplainants...)
}

func (o *obligations) loadCase(st State, id string) (*pb.CaseState, error) {
	cs, err := st.Case(id)
	if err != nil {
		return nil, fmt.Errorf("read case %s: %w", id, err)
	}
	if cs == nil {
		return nil, fmt.Errorf("case %s was admitted but is gone", id)
	}
	return proto.Clone(cs).(*pb.CaseState), nil
}

func (o *obligations) caseStep(st State, s *pb.CaseStep) (*pb.CaseState, error) {
	t := o.b.Time
	name := StepName(s.Step)
	if s.Step == pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION {
		var pledgeWindows *pb.CaseWindows
		if s.PledgeId != "" {
			rec, err := st.Record(s.PledgeId)
			if err != nil || rec == nil {
				return nil, fmt.Errorf("read pledge %s: %w", s.PledgeId, err)
			}
			tx := new(pb.Tx)
			if err := proto.Unmarshal(rec.Tx, tx); err != nil {
				return nil, fmt.Errorf("stored pledge %s: %w", s.PledgeId, err)
			}
			pledgeWindows = tx.GetBody().GetRecord().GetPledge().GetCaseWindows()
		}
		w := EffectiveCaseWindows(o.params.CaseWindows, pledgeWindows)
		cs := &pb.CaseState{
			Id: o.record, Complainant: o.author, Respondent: s.Respondent, CoComplainants: sortedUnique(s.CoComplainants),
			Subjects: s.Subjects, PledgeId: s.PledgeId, Norm: s.Norm, Conduct: s.Conduct, Urgent: s.Urgent,
			Stage: pb.CaseStage_CASE_STAGE_REQUESTED, OpenedHeight: o.b.Height, OpenedAt: timestamppb.New(t), StageAt: timestamppb.New(t),
			NotBefore: timestamppb.New(t.Add(secs(w.CoolingOffSeconds))), Windows: w,
		}
		reply, consult := w.ReplySeconds, w.ConsultSeconds
		var flags []string
		if s.Urgent {
			reply, consult = w.UrgentReplySeconds, w.UrgentConsultSeconds
			cs.NotBefore = timestamppb.New(t)
			flags = []string{"urgent"}
		}
		o.event(cs, name, flags...)
		if err := o.place(cs, pb.ObligationKind_OBLIGATION_KIND_REPLY_CONSULTATION, cs.Id, cs.Respondent, complainants(cs), t.Add(secs(reply))); err != nil {
			return nil, err
		}
		return cs, o.place(cs, pb.ObligationKind_OBLIGATION_KIND_HOLD_CONSULTATION, cs.Id, cs.Respondent, complainants(cs), t.Add(secs(consult)))
	}
	cs, err := o.loadCase(st, s.CaseId)
	if err != nil {
		return nil, err
	}
	w := cs.Windows
	var flags []string
	switch s.Step {
	case pb.CaseStepType_CASE_STEP_TYPE_REPLY:
		if cs.Stage == pb.CaseStage_CASE_STAGE_REQUESTED {
			o.setStage(cs, pb.CaseStage_CASE_STAGE_REPLIED)
		}
		err = o.fulfil(pb.ObligationKind_OBLIGATION_KIND_REPLY_CONSULTATION, cs.Id, cs.Respondent)
	case pb.CaseStepType_CASE_STEP_TYPE_CONSULTATION_HELD:
		if err = o.fulfil(pb.ObligationKind_OBLIGATION_KIND_HOLD_CONSULTATION, cs.Id, cs.Respondent); err != nil {
			return nil, err
		}
		if s.Outcome == pb.CaseOutcome_CASE_OUTCOME_SETTLED {
			o.event(cs, name)
			return cs, o.closeCase(cs, pb.CaseOutcome_CASE_OUTCOME_SETTLED)
		}
		o.setStage(cs, pb.CaseStage_CASE_STAGE_CONSULTED)
	case pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REQUEST:
		cs.Mediator, cs.MediationRequestId = s.Mediator, o.record
		o.setStage(cs, pb.CaseStage_CASE_STAGE_MEDIATION_REQUESTED)
		err = o.place(cs, pb.ObligationKind_OBLIGATION_KIND_ACCEPT_MEDIATION, o.record, s.Mediator, CaseParties(cs), t.Add(secs(w.MediationAcceptSeconds)))
	case pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_ACCEPT:
		if err = o.fulfil(pb.ObligationKind_OBLIGATION_KIND_ACCEPT_MEDIATION, cs.MediationRequestId, cs.Mediator); err != nil {
			return nil, err
		}
		o.setStage(cs, pb.CaseStage_CASE_STAGE_MEDIATION)
		err = o.place(cs, pb.ObligationKind_OBLIGATION_KIND_MEDIATION_REPORT, cs.MediationRequestId, cs.Mediator, CaseParties(cs), t.Add(secs(w.MediationReportSeconds)))
	case pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REPORT:
		o.setStage(cs, pb.CaseStage_CASE_STAGE_MEDIATED)
		err = o.fulfil(pb.ObligationKind_OBLIGATION_KIND_MEDIATION_REPORT, cs.MediationRequestId, cs.Mediator)
	case pb.CaseStepType_CASE_STEP_TYPE_FACT_FINDING_REQUEST:
		if flags, _, err = escalationFlags(cs, o.author, o.b.Time, o.get); err != nil {
			return nil, err
		}
		cs.Verifiers, cs.FactFindingRequestId = sortedUnique(s.Verifiers), o.record
		o.setStage(cs, pb.CaseStage_CASE_STAGE_FACT_FINDING)
		for _, v := range cs.Verifiers {
			if err = o.place(cs, pb.ObligationKind_OBLIGATION_KIND_FACT_FINDING, o.record, v, CaseParties(cs), t.Add(secs(w.FactFindingSeconds))); err != nil {
				return nil, err
			}
		}
	case pb.CaseStepType_CASE_STEP_TYPE_REMEDIATION_PLAN:
		if err = o.fulfil(pb.ObligationKind_OBLIGATION_KIND_REMEDIATION_PLAN, cs.Id, cs.Respondent); err != nil {
			return nil, err
		}
		cs.PlanId = o.record
		o.setStage(cs, pb.CaseStage_CASE_STAGE_REMEDIATION)
		for i, m := range s.Milestones {
			src := MilestoneSource(o.record, uint32(i+1))
			if err = o.place(cs, pb.ObligationKind_OBLIGATION_KIND_MILESTONE, src, cs.Respondent, complainants(cs), m.Due.AsTime()); err != nil {
				return nil, err
			}
			cs.Milestones = append(cs.Milestones, &pb.MilestoneState{Description: m.Description, Due: m.Due,
				ObligationId: ObligationID(pb.ObligationKind_OBLIGATION_KIND_MILESTONE, src, cs.Respondent)})
		}
	case pb.CaseStepType_CASE_STEP_TYPE_MILESTONE_REPORT:
		cs.Milestones[s.Milestone-1].ReportId = o.record
		if err = o.fulfil(pb.ObligationKind_OBLIGATION_KIND_MILESTONE, MilestoneSource(cs.PlanId, s.Milestone), cs.Respondent); err != nil {
			return nil, err
		}
		// Remediated once every milestone is reported (or waived by its
		// creditors).
		pending := false
		for _, m := range cs.Milestones {
			if m.ReportId != "" {
				continue
			}
			ob, err := o.get(m.ObligationId)
			if err != nil {
				return nil, err
			}
			pending = pending || ob == nil || ob.Status != pb.ObligationStatus_OBLIGATION_STATUS_WAIVED
		}
		if !pending {
			cs.Remediated = true
			flags = []string{"remediated"}
			for _, ms := range cs.Measures {
				if err = o.terminate(cs, ms); err != nil {
					return nil, err
				}
			}
		}
	case pb.CaseStepType_CASE_STEP_TYPE_REFERRAL:
		if flags, _, err = escalationFlags(cs, o.author, o.b.Time, o.get); err != nil {
			return nil, err
		}
		o.setStage(cs, pb.CaseStage_CASE_STAGE_REFERRED)
		e := o.event(cs, name, flags...)
		e.Ref = s.ProposalId
		return cs, nil
	case pb.CaseStepType_CASE_STEP_TYPE_CLOSE:
		e := o.event(cs, name)
		e.Ref = s.DecisionId
		return cs, o.closeCase(cs, s.Outcome)
	}
	if err != nil {
		return nil, err
	}
	o.event(cs, name, flags...)
	return cs, nil
}

// terminate places the duty to end measure ms, once the respondent's
// remediation is met (ILC article 53), unless it ended already.
func (o *obligations) terminate(cs *pb.CaseState, ms *pb.MeasureState) error {
	if ms.StandDownId != "" || ms.Target != cs.Respondent {
		return nil
	}
	return o.place(cs, pb.ObligationKind_OBLIGATION_KIND_TERMINATE_MEASURE, ms.RecordId, ms.Author, []string{ms.Target},
		o.b.Time.Add(secs(cs.Windows.TerminateSeconds)))
}

// closeCase closes cs: the procedural duties still open (not yet due) end
// with it as waived; overdue ones stay overdue. A withdrawn case also
// releases its milestones; termination duties always remain.
func (o *obligations) closeCase(cs *pb.CaseState, outcome pb.CaseOutcome) error {
	cs.Outcome, cs.ClosedAt = outcome, timestamppb.New(o.b.Time)
	o.setStage(cs, pb.CaseStage_CASE_STAGE_CLOSED)
	for _, id := range cs.ObligationIds {
		ob, err := o.get(id)
		if err != nil {
			return err
		}
		if ob == nil || DutyMissed(ob, o.b.Time) || ob.Status != pb.ObligationStatus_OBLIGATION_STATUS_OPEN || ob.Kind == pb.ObligationKind_OBLIGATION_KIND_TERMINATE_MEASURE ||
			(ob.Kind == pb.ObligationKind_OBLIGATION_KIND_MILESTONE && outcome != pb.CaseOutcome_CASE_OUTCOME_WITHDRAWN) {
			continue
		}
		ob = proto.Clone(ob).(*pb.Obligation)
		ob.Status = pb.ObligationStatus_OBLIGATION_STATUS_WAIVED
		ob.StatusAt, ob.StatusHeight, ob.StatusRecord = timestamppb.New(o.b.Time), o.b.Height, o.record
		o.put(ob)
	}
	return nil
}

func (o *obligations) measure(st State, m *pb.Measure) (*pb.CaseState, error) {
	cs, err := o.loadCase(st, m.CaseId)
	if err != nil {
		return nil, err
	}
	if m.Action == pb.MeasureAction_MEASURE_ACTION_STAND_DOWN {
		ms := findMeasure(cs, m.MeasureId)
		ms.StandDownId, ms.EndedAt, ms.ReturnLevel = o.record, timestamppb.New(o.b.Time), m.ReturnLevel
		o.event(cs, "stand_down")
		return cs, o.fulfil(pb.ObligationKind_OBLIGATION_KIND_TERMINATE_MEASURE, m.MeasureId, o.author)
	}
	ms := &pb.MeasureState{RecordId: o.record, Author: o.author, Target: m.Target, Type: m.Type, Conduct: m.Conduct,
		Level: m.Level, Reversible: m.Reversible, ExpectedEnd: m.ExpectedEnd, Height: o.b.Height, TakenAt: timestamppb.New(o.b.Time)}
	if l := o.params.Ladder; l != nil {
		var within bool
		ms.AllowedLevel, within = LadderAllows(l, m.Conduct, m.Level, m.Type)
		ms.LadderVersion = l.Version
		if !within {
			ms.Flags = append(ms.Flags, "above_ladder")
		}
	}
	switch cs.Stage {
	case pb.CaseStage_CASE_STAGE_MEDIATION_REQUESTED, pb.CaseStage_CASE_STAGE_MEDIATION:
		ms.Flags = append(ms.Flags, "during_mediation")
	}
	for _, v := range cs.Verifiers {
		ob, err := o.get(ObligationID(pb.ObligationKind_OBLIGATION_KIND_FACT_FINDING, cs.FactFindingRequestId, v))
		if err != nil {
			return nil, err
		}
		if ob != nil && Open(ob) {
			ms.Flags = append(ms.Flags, "during_fact_finding")
			break
		}
	}
	if m.Type == pb.MeasureType_MEASURE_TYPE_COUNTERMEASURE {
		flags, _, err := escalationFlags(cs, o.author, o.b.Time, o.get)
		if err != nil {
			return nil, err
		}
		ms.Flags = append(ms.Flags, flags...)
	}
	if cs.Remediated {
		ms.Flags = append(ms.Flags, "after_remediation")
	}
	cs.Measures = append(cs.Measures, ms)
	o.event(cs, "measure", ms.Flags...)
	if cs.Remediated {
		return cs, o.terminate(cs, ms)
	}
	return cs, nil
}

// caseFinding moves the case of a fact-finding request that a finding
// refers to, when its author is one of the verifiers asked: it meets the
// verifier's duty and, when the finding determines the respondent's
// conduct inconsistent, places the respondent's remediation plan duty.
func (o *obligations) caseFinding(st State, refs []string, f *pb.Finding) (*pb.CaseState, error) {
	for _, ref := range refs {
		rec, err := st.Record(ref)
		if err != nil {
			return nil, fmt.Errorf("read record %s: %w", ref, err)
		}
		if rec == nil || rec.Kind != pb.RecordKind_RECORD_KIND_CASE_STEP {
			continue
		}
		tx := new(pb.Tx)
		if err := proto.Unmarshal(rec.Tx, tx); err != nil {
			return nil, fmt.Errorf("stored record %s: %w", ref, err)
		}
		s := tx.GetBody().GetRecord().GetCaseStep()
		if s.GetStep() != pb.CaseStepType_CASE_STEP_TYPE_FACT_FINDING_REQUEST {
			continue
		}
		cs, err := o.loadCase(st, s.CaseId)
		if err != nil {
			return nil, err
		}
		if cs.Stage == pb.CaseStage_CASE_STAGE_CLOSED || cs.FactFindingRequestId != ref || !slices.Contains(cs.Verifiers, o.author) {
			continue
		}
		met, err := o.fulfilled(pb.ObligationKind_OBLIGATION_KIND_FACT_FINDING, ref, o.author)
		if err != nil {
			return nil, err
		}
		if !met {
			continue
		}
		o.event(cs, "finding", "determination_"+enum.Name(f.Determination))
		if f.Determination == pb.Determination_DETERMINATION_INCONSISTENT && slices.Contains(f.SubjectStates, cs.Respondent) && cs.PlanId == "" {
			if err := o.place(cs, pb.ObligationKind_OBLIGATION_KIND_REMEDIATION_PLAN, cs.Id, cs.Respondent, complainants(cs),
				o.b.Time.Add(secs(cs.Windows.PlanSeconds))); err != nil {
				return nil, err
			}
		}
		return cs, nil
	}
	return nil, nil
}

// caseCoSigners lists who besides the signer must sign a case step: the
// co-complainants of a request; the other of complainant and respondent
// for consultations held and a settlement; the complainant for the
// respondent's remediation plan. A signer who is no party needs none here
// (admission refuses it with not_case_party).
func caseCoSigners(st State, s *pb.CaseStep, signer string) ([]string, error) {
	if s.Step == pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION {
		return s.CoComplainants, nil
	}
	two := s.Step == pb.CaseStepType_CASE_STEP_TYPE_CONSULTATION_HELD ||
		(s.Step == pb.CaseStepType_CASE_STEP_TYPE_CLOSE && s.Outcome == pb.CaseOutcome_CASE_OUTCOME_SETTLED)
	plan := s.Step == pb.CaseStepType_CASE_STEP_TYPE_REMEDIATION_PLAN
	if !two && !plan || !isRecordID(s.CaseId) {
		return nil, nil
	}
	cs, err := st.Case(s.CaseId)
	if err != nil || cs == nil {
		return nil, err
	}
	switch signer {
	case cs.Respondent: // a plan, or consultations and a settlement
		return []string{cs.Complainant}, nil
	case cs.Complainant:
		if two {
			return []string{cs.Respondent}, nil
		}
	}
	return nil, nil
}
