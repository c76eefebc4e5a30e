package testnet

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Cases on a testnet (docs/cases.md). The seed's consortium adopts an
// escalation ladder and windows of seconds and minutes by vote
// (CaseParamsProposal), so that a case plays out while you watch: a reply
// is due 45 s after the request, consultations in 2 minutes, and
// escalation waits 10 minutes.

// CaseWindows are the case windows a testnet's consortium adopts.
func CaseWindows() *pb.CaseWindows {
	return &pb.CaseWindows{ReplySeconds: 45, ConsultSeconds: 120, CoolingOffSeconds: 600, UrgentReplySeconds: 20, UrgentConsultSeconds: 60,
		MediationAcceptSeconds: 60, MediationReportSeconds: 300, FactFindingSeconds: 300, PlanSeconds: 300, TerminateSeconds: 60}
}

// CaseParamsProposal is the proposal that adopts CaseWindows and
// DemoLadder on top of the params in force.
func CaseParamsProposal(current *pb.Params, deadline time.Time) *pb.Record {
	p := proto.Clone(current).(*pb.Params)
	p.CaseWindows, p.Ladder = CaseWindows(), DemoLadder()
	return &pb.Record{Body: &pb.Record_Proposal{Proposal: &pb.Proposal{
		Title:     "Adopt the escalation ladder and case windows",
		Rationale: "Agreed responses to conduct, proportionate and reversible; short windows for the testnet.",
		Deadline:  timestamppb.New(deadline),
		Action:    &pb.GovernanceAction{Action: &pb.GovernanceAction_SetParams{SetParams: p}},
	}}}
}

// DemoLadder is a testnet's escalation ladder: operations without notice
// answer with protests; attacks on civilian infrastructure may go up to
// countermeasures.
func DemoLadder() *pb.EscalationLadder {
	const (
		protest   = pb.MeasureType_MEASURE_TYPE_PROTEST
		retorsion = pb.MeasureType_MEASURE_TYPE_RETORSION
		counter   = pb.MeasureType_MEASURE_TYPE_COUNTERMEASURE
	)
	return &pb.EscalationLadder{Version: 1, Levels: []*pb.LadderLevel{
		{Level: 1, Name: "diplomatic protest", Conduct: []string{"unnotified_operation", "attack_on_health", "attack_on_energy"},
			Responses: []pb.MeasureType{protest}},
		{Level: 2, Name: "retorsion", Conduct: []string{"attack_on_health", "attack_on_energy"}, Responses: []pb.MeasureType{protest, retorsion}},
		{Level: 3, Name: "countermeasures", Conduct: []string{"attack_on_health"}, Responses: []pb.MeasureType{retorsion, counter}},
	}}
}

// CaseStep names the seed's request for consultation: the victim calls
// upon the state its disclosure points at, under the pledge, which never
// replies (the pledge's reply window is CaseReplyWithin). CaseRefusedStep
// is the victim's fact-finding request at once after it, which the ledger
// refuses (cooling_off): the seed logs the refusal. CaseEscalationStep is
// the same request once the reply window has passed, which the ledger
// accepts (flagged reply_missed); ParamsStep is the consortium's vote
// that adopts the ladder and the testnet's windows.
const (
	CaseStep           = "case_request"
	CaseRefusedStep    = "case_fact_finding_too_early"
	CaseEscalationStep = "case_fact_finding"
	ParamsStep         = "proposal_case_params"
)

// CaseReplyWithin is the reply window the seed pledge sets for cases under it.
const CaseReplyWithin = 10 * time.Second

// caseRequest is the seed's request for consultation.
func caseRequest(ids map[string]string, origin string) *pb.Record {
	return &pb.Record{Body: &pb.Record_CaseStep{CaseStep: &pb.CaseStep{
		Step: pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION, Respondent: origin,
		Subjects: []string{ids["final_disclosure"]}, PledgeId: ids["pledge"], Norm: "UN-GGE-2015-13f", Conduct: "attack_on_health",
		Statement: "The ransomware at Marrowgate General Hospital was staged from your territory; we call upon you to consult.",
	}}}
}

// caseFactFinding is the victim's request that lumen find the facts.
func caseFactFinding(ids map[string]string) *pb.Record {
	return &pb.Record{Body: &pb.Record_CaseStep{CaseStep: &pb.CaseStep{
		Step: pb.CaseStepType_CASE_STEP_TYPE_FACT_FINDING_REQUEST, CaseId: ids[CaseStep], Verifiers: []string{"lumen"},
		Statement: "The respondent has not replied; we ask the pledge's accepted verifier to find the facts."}}}
}

// refusedAsCoolingOff files the early fact-finding request and checks
// that the ledger refuses it; the refusal is logged, not filed.
func refusedAsCoolingOff(file func(name, author string, co []string, rec *pb.Record) error, ids map[string]string, victim string, logf func(format string, args ...any)) error {
	err := file(CaseRefusedStep, victim, nil, caseFactFinding(ids))
	var rej *rejectedError
	if !errors.As(err, &rej) || rej.code != ledger.CodeCoolingOff {
		return fmt.Errorf("seed %s: want a cooling_off refusal, got %v", CaseRefusedStep, err)
	}
	logf("  %-22s by %-12s refused, as it should be: %s\n", CaseRefusedStep, victim, rej.log)
	return nil
}

// rejectedError is a seed step the ledger refused.
type rejectedError struct {
	name string
	code ledger.Code
	log  string
}

func (e *rejectedError) Error() string {
	return fmt.Sprintf("seed %s: rejected: %s: %s", e.name, e.code, e.log)
}
