package ledger_test

import (
	"testing"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func rule(num, den uint32, opts ...func(*pb.ThresholdRule)) *pb.ThresholdRule {
	r := &pb.ThresholdRule{Action: pb.GovAction_GOV_ACTION_ADD_MEMBER, ThresholdNumerator: num, ThresholdDenominator: den,
		Electorate: []pb.MemberClass{pb.MemberClass_MEMBER_CLASS_STATE}}
	for _, o := range opts {
		o(r)
	}
	return r
}

func unanimous(r *pb.ThresholdRule) { r.Unanimous = true }
func veto(num, den uint32) func(*pb.ThresholdRule) {
	return func(r *pb.ThresholdRule) { r.VetoNumerator, r.VetoDenominator = num, den }
}
func quorum(num, den uint32) func(*pb.ThresholdRule) {
	return func(r *pb.ThresholdRule) { r.QuorumNumerator, r.QuorumDenominator = num, den }
}

func tally(n, yes, no, abstain uint32) *pb.Tally {
	return &pb.Tally{Electorate: n, Yes: yes, No: no, Abstain: abstain, NotVoted: n - yes - no - abstain}
}

// Every threshold rule, before and at the deadline.
func TestDecide(t *testing.T) {
	const (
		voting   = pb.ProposalStatus_PROPOSAL_STATUS_VOTING
		passed   = pb.ProposalStatus_PROPOSAL_STATUS_PASSED
		rejected = pb.ProposalStatus_PROPOSAL_STATUS_REJECTED
		vetoed   = pb.ProposalStatus_PROPOSAL_STATUS_VETOED
		expired  = pb.ProposalStatus_PROPOSAL_STATUS_EXPIRED
		aborted  = pb.ProposalStatus_PROPOSAL_STATUS_ABORTED
	)
	cases := []struct {
		name  string
		rule  *pb.ThresholdRule
		tally *pb.Tally
		final bool
		want  pb.ProposalStatus
	}{
		{"2/3 of 3: two yes pass", rule(2, 3), tally(3, 2, 0, 0), false, passed},
		{"2/3 of 3: one yes, one outstanding", rule(2, 3), tally(3, 1, 1, 0), false, voting},
		{"2/3 of 3: two no cannot pass", rule(2, 3), tally(3, 1, 2, 0), false, rejected},
		{"2/3 of 4: two yes are not enough yet", rule(2, 3), tally(4, 2, 0, 0), false, voting},
		{"2/3 of 4: three yes pass", rule(2, 3), tally(4, 3, 0, 0), false, passed},
		{"2/3 of 4: two no cannot pass", rule(2, 3), tally(4, 2, 2, 0), false, rejected},
		// Exactly at the threshold passes (>=, not ==: Zigbee DCL #355).
		{"2/3 of 6: four yes, exactly two thirds", rule(2, 3), tally(6, 4, 0, 0), false, passed},
		{"2/3 of 6: three yes", rule(2, 3), tally(6, 3, 0, 0), false, voting},
		{"2/3 of 6: more yes than needed", rule(2, 3), tally(6, 6, 0, 0), false, passed},
		{"abstentions do not count as yes", rule(2, 3), tally(3, 1, 0, 2), false, rejected},
		{"unanimity: one outstanding", rule(0, 0, unanimous), tally(4, 3, 0, 0), false, voting},
		{"unanimity: all yes", rule(0, 0, unanimous), tally(4, 4, 0, 0), false, passed},
		{"unanimity: one no", rule(0, 0, unanimous), tally(4, 3, 1, 0), false, rejected},
		{"unanimity: one abstention", rule(0, 0, unanimous), tally(4, 3, 0, 1), false, rejected},
		{"unanimity overrides a lower fraction", rule(1, 2, unanimous), tally(4, 3, 0, 0), false, voting},
		{"veto: could still be vetoed", rule(1, 2, veto(1, 3)), tally(6, 3, 0, 0), false, voting},
		{"veto: more than a third no", rule(1, 2, veto(1, 3)), tally(6, 3, 3, 0), false, vetoed},
		{"veto: exactly a third no is no veto", rule(1, 2, veto(1, 3)), tally(6, 4, 2, 0), false, passed},
		{"veto: no veto possible any more", rule(1, 2, veto(1, 3)), tally(6, 4, 1, 0), false, passed},
		{"veto beats a met threshold", rule(1, 2, veto(1, 3)), tally(9, 5, 4, 0), false, vetoed},
		{"quorum: yes met, turnout not", rule(1, 2, quorum(3, 4)), tally(4, 2, 0, 0), false, voting},
		{"quorum: abstention makes the quorum", rule(1, 2, quorum(3, 4)), tally(4, 2, 0, 1), false, passed},
		{"deadline: below threshold expires", rule(2, 3), tally(4, 2, 0, 0), true, expired},
		{"deadline: threshold met passes", rule(2, 3), tally(4, 3, 0, 0), true, passed},
		{"deadline: quorum missed expires", rule(1, 2, quorum(3, 4)), tally(4, 2, 0, 0), true, expired},
		{"deadline: outstanding votes cannot veto any more", rule(1, 2, veto(1, 3)), tally(6, 3, 0, 0), true, passed},
		{"deadline: vetoed stays vetoed", rule(1, 2, veto(1, 3)), tally(6, 3, 3, 0), true, vetoed},
		{"no elector left aborts", rule(2, 3), tally(0, 0, 0, 0), false, aborted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := ledger.Decide(c.rule, c.tally, c.final)
			if got != c.want {
				t.Fatalf("got %v (%s), want %v", got, why, c.want)
			}
			if got != voting && why == "" {
				t.Fatal("a decision without a reason")
			}
		})
	}
}

func TestGovernanceRulesValidation(t *testing.T) {
	if err := ledger.ValidateGovernanceRules(ledger.DefaultGovernanceRules()); err != nil {
		t.Fatalf("default rules: %v", err)
	}
	cases := []struct {
		name string
		edit func(r *pb.GovernanceRules)
	}{
		{"rules change not unanimous", func(r *pb.GovernanceRules) {
			g := ledger.RuleFor(r, pb.GovAction_GOV_ACTION_SET_GOVERNANCE_RULES)
			g.Unanimous, g.ThresholdNumerator, g.ThresholdDenominator = false, 2, 3
		}},
		{"missing action", func(r *pb.GovernanceRules) { r.Rules = r.Rules[1:] }},
		{"threshold above one", func(r *pb.GovernanceRules) { r.Rules[0].ThresholdNumerator = 4 }},
		{"zero denominator", func(r *pb.GovernanceRules) { r.Rules[0].ThresholdDenominator = 0 }},
		{"half a veto", func(r *pb.GovernanceRules) { r.Rules[0].VetoNumerator = 1 }},
		{"empty electorate", func(r *pb.GovernanceRules) { r.Rules[0].Electorate = nil }},
		{"min above max hours", func(r *pb.GovernanceRules) { r.MinVotingHours = 800 }},
		{"out of order", func(r *pb.GovernanceRules) { r.Rules[0], r.Rules[1] = r.Rules[1], r.Rules[0] }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ledger.DefaultGovernanceRules()
			c.edit(r)
			if got := ledger.CodeOf(ledger.ValidateGovernanceRules(r)); got != ledger.CodeBadGovernanceRules {
				t.Fatalf("got %v, want bad_governance_rules", got)
			}
		})
	}
}

func TestPowersDiff(t *testing.T) {
	p := ledger.Powers{"a": 10, "b": 10, "c": 10}
	q := ledger.Powers{"a": 10, "b": 5, "d": 7}
	got := p.Diff(q)
	want := []ledger.ValidatorUpdate{{PubKey: []byte("b"), Power: 5}, {PubKey: []byte("c"), Power: 0}, {PubKey: []byte("d"), Power: 7}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if string(got[i].PubKey) != string(want[i].PubKey) || got[i].Power != want[i].Power {
			t.Fatalf("update %d: got %v, want %v", i, got[i], want[i])
		}
	}
}
