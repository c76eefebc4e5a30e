package testnet

import (
	"crypto/sha256"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The seed's evidence standards (docs/evidence.md): the observatory
// publishes its harm method and assesses the hospital incident jointly
// with lumen (who dissents on one harm); the victim and the first state
// attribute the incident to the origin state, co-signed (AttributionStep),
// and the origin replies (AttributionReplyStep); the first state files its
// national declaration (DeclarationStep); every state votes the
// collective statement, adopted by consensus (StatementStep); the victim
// runs a consultation drill flagged as exercise traffic, which the origin
// never answers (ExerciseStep: its duty falls overdue but counts apart);
// and the last state reports a blocked attempt on its grid (NearMissStep).
const (
	MethodologyStep      = "methodology"
	JointAssessmentStep  = "joint_harm_assessment"
	AttributionStep      = "attribution"
	AttributionReplyStep = "attribution_reply"
	DeclarationStep      = "declaration"
	StatementStep        = "collective_statement"
	ExerciseStep         = "exercise_drill"
	NearMissStep         = "near_miss"
)

// StatementText is the seed's collective statement.
const StatementText = "The members condemn the ransomware attack on Marrowgate General Hospital and recall that states should not conduct or knowingly support ICT activity that damages hospitals (UN GGE norm 13(f))."

// MethodDocument is the method document the seed's methodology commits to.
const MethodDocument = "CIO civilian harm method 3.0 — harms by dimension (physical, psychological, economic, societal), order of effect, estimate and duration."

// ExerciseWithin is when the drill's response falls due (a testnet figure).
const ExerciseWithin = 8 * time.Second

func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// seedEvidence files the evidence part of the seed.
func seedEvidence(file func(name, author string, co []string, rec *pb.Record) error, ids map[string]string, states []string, victim, origin, incident string) error {
	ts := func(d time.Duration) *timestamppb.Timestamp {
		return timestamppb.New(time.Now().UTC().Truncate(time.Second).Add(d))
	}
	first, last := states[0], states[len(states)-1]
	steps := []struct {
		name, author string
		co           []string
		rec          func() *pb.Record
	}{
		{MethodologyStep, "observatory", nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_Methodology{Methodology: &pb.PublishedMethodology{
				Name: "CIO civilian harm method", Version: "3.0", DocumentDigest: digest(MethodDocument),
				Uri: "https://observatory.example/methods/harm-3.0", Summary: "Harms by dimension, order of effect, estimate and duration.",
				Dimensions: []pb.HarmDimension{pb.HarmDimension_HARM_DIMENSION_PHYSICAL, pb.HarmDimension_HARM_DIMENSION_PSYCHOLOGICAL,
					pb.HarmDimension_HARM_DIMENSION_ECONOMIC, pb.HarmDimension_HARM_DIMENSION_SOCIETAL},
			}}}
		}},
		{JointAssessmentStep, "observatory", []string{"lumen"}, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_HarmAssessment{HarmAssessment: &pb.HarmAssessment{
				SubjectIncidents: []string{incident}, AssessorClass: pb.AssessorClass_ASSESSOR_CLASS_NEUTRAL,
				MethodologyRef: ids[MethodologyStep], PersonsAffected: &pb.Estimate{Min: 90000, Best: 140000, Max: 180000},
				CausationConfidence: pb.Confidence_CONFIDENCE_HIGH, Status: pb.AssessmentStatus_ASSESSMENT_STATUS_FINAL,
				AffectedStates: []string{victim},
				Harms: []*pb.Harm{
					{Dimension: pb.HarmDimension_HARM_DIMENSION_PHYSICAL, Order: pb.EffectOrder_EFFECT_ORDER_SECOND,
						Description: "Emergency care delayed; two patients transferred in critical condition.",
						Estimate:    &pb.Estimate{Min: 2, Best: 2, Max: 5}, Unit: "persons", DurationHours: 16},
					{Dimension: pb.HarmDimension_HARM_DIMENSION_ECONOMIC, Order: pb.EffectOrder_EFFECT_ORDER_FIRST,
						Description: "Recovery and cancelled treatment.", Estimate: &pb.Estimate{Min: 4000000, Best: 6100000, Max: 9000000}, Unit: "usd"},
					{Dimension: pb.HarmDimension_HARM_DIMENSION_PSYCHOLOGICAL, Order: pb.EffectOrder_EFFECT_ORDER_THIRD,
						Description: "Anxiety among patients awaiting cancelled treatment."},
				},
				VulnerableGroups: []string{"patients in emergency care", "oncology outpatients"},
				CascadeRefs:      []string{ids["harm_assessment"]},
				CoAssessors:      []string{"lumen"},
				Dissents:         []*pb.Dissent{{Member: "lumen", Statement: "The psychological harm rests on anecdote, not survey data."}},
			}}}
		}},
		{AttributionStep, victim, []string{first}, func() *pb.Record {
			return &pb.Record{Tlp: pb.Tlp_TLP_CLEAR, Body: &pb.Record_Attribution{Attribution: &pb.AttributionRecord{
				Kind: pb.AttributionKind_ATTRIBUTION_KIND_POLITICAL, Incidents: []string{incident},
				Attributed: []*pb.AttributedParty{{Party: origin, Conduct: pb.ConductBasis_CONDUCT_BASIS_DIRECTION_OR_CONTROL},
					{Party: "BRINE-TIDE", Conduct: pb.ConductBasis_CONDUCT_BASIS_NON_STATE_ACTOR}},
				StandardOfProof: pb.StandardOfProof_STANDARD_OF_PROOF_CLEAR_AND_CONVINCING, LegalBasis: "ARSIWA art. 8",
				Confidence: pb.Confidence_CONFIDENCE_HIGH, IntentConfidence: pb.Confidence_CONFIDENCE_MODERATE,
				EvidenceDigest: digest("evidence bundle HOSP-2026-117 v1"),
				Evidence:       []string{"Command servers shared with earlier operations tasked by the origin state", "Tasking documents recovered from a seized server"},
				CoAttributors:  []string{first}, ReplyWithinHours: 168,
				Summary: fmt.Sprintf("%s and %s attribute the ransomware at Marrowgate General Hospital to the BRINE-TIDE group acting under %s's direction.", victim, first, origin),
			}}}
		}},
		{AttributionReplyStep, origin, nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_Response{Response: &pb.Response{RequestId: ids[AttributionStep],
				Disposition: pb.ResponseDisposition_RESPONSE_DISPOSITION_DECLINED,
				Summary:     "We reject the attribution: the servers were rented by a criminal group we are prosecuting."}}}
		}},
		{DeclarationStep, first, nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_Declaration{Declaration: &pb.Declaration{Year: uint32(time.Now().UTC().Year()),
				DoctrineSummary: "International law, including the UN Charter in its entirety, applies to our conduct in cyberspace.",
				Thresholds:      []string{"An operation causing death, injury or physical damage comparable to a kinetic attack is a use of force."},
				Organisation:    []*pb.NationalBody{{Name: "National CERT", Role: "Point of contact for incidents"}, {Name: "Ministry of Foreign Affairs", Role: "Attribution and diplomatic response"}},
				Terminology:     []*pb.Term{{Term: "critical infrastructure", Definition: "Health, energy, water and the public core of the internet."}},
				StrategyRefs:    []string{"https://" + first + ".example/cyber-strategy"},
			}}}
		}},
		{StatementStep, victim, nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_Proposal{Proposal: &pb.Proposal{
				Title: "Statement on the attack against Marrowgate General Hospital", Rationale: "A collective statement, adopted by consensus.",
				Deadline: ts(72 * time.Hour),
				Action: &pb.GovernanceAction{Action: &pb.GovernanceAction_AdoptStatement{AdoptStatement: &pb.AdoptStatement{
					Title: "Statement on attacks against hospitals", Text: StatementText, TextDigest: digest(StatementText),
					NormRefs: []string{"UN-GGE-2015-13f"}}}},
			}}}
		}},
	}
	for _, s := range states {
		s := s
		steps = append(steps, struct {
			name, author string
			co           []string
			rec          func() *pb.Record
		}{"vote_statement_" + s, s, nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_Vote{Vote: &pb.Vote{ProposalId: ids[StatementStep], Option: pb.VoteOption_VOTE_OPTION_YES}}}
		}})
	}
	steps = append(steps, []struct {
		name, author string
		co           []string
		rec          func() *pb.Record
	}{
		{ExerciseStep, victim, nil, func() *pb.Record {
			return &pb.Record{Exercise: true, Body: &pb.Record_Notification{Notification: &pb.Notification{
				Type: pb.NotificationType_NOTIFICATION_TYPE_CONSULTATION_REQUEST, Recipients: []string{origin},
				Summary:           "EXERCISE CYBER COALITION: request for consultations on a simulated intrusion into the grid.",
				ResponseRequested: true, RespondBy: ts(ExerciseWithin),
			}}}
		}},
		{NearMissStep, last, nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
				IncidentRef: "GRID-2026-009", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_FINAL, Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
				Sectors: []pb.Sector{pb.Sector_SECTOR_ENERGY}, AffectedStates: []string{last},
				DetectedAt: ts(-30 * time.Hour), AwareAt: ts(-29 * time.Hour), Severity: pb.Severity_SEVERITY_MEDIUM,
				Outcome: pb.IncidentOutcome_INCIDENT_OUTCOME_BLOCKED,
				Summary: "Spear-phishing against a grid operator's engineers was blocked at the mail gateway.",
			}}}
		}},
	}...)
	for _, s := range steps {
		if err := file(s.name, s.author, s.co, s.rec()); err != nil {
			return err
		}
	}
	return nil
}
