package ledger_test

import (
	"testing"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// A genesis holds nothing a later app version than its own introduced.
func TestGenesisNeeds(t *testing.T) {
	rules := func(a pb.GovAction) *pb.GovernanceRules {
		return &pb.GovernanceRules{Rules: []*pb.ThresholdRule{{Action: pb.GovAction_GOV_ACTION_ADD_MEMBER}, {Action: a}}}
	}
	for _, c := range []struct {
		name string
		gs   *pb.GenesisState
		at   uint64
		need uint64
	}{
		{"nothing new", &pb.GenesisState{Params: ledger.DefaultParams(), Governance: ledger.DefaultGovernanceRulesAt(6)}, 6, 0},
		{"encryption keys at 7", &pb.GenesisState{Members: []*pb.Member{{Id: "xaa", EncryptionKeys: []*pb.MemberKey{{}}}}}, 7, 8},
		{"case windows at 9", &pb.GenesisState{Params: &pb.Params{CaseWindows: &pb.CaseWindows{ReplySeconds: 60}}}, 9, 10},
		{"disclosure windows at 10", &pb.GenesisState{Params: &pb.Params{DisclosureWindows: &pb.DisclosureWindows{}}}, 10, 11},
		{"authorize_order rule at 10", &pb.GenesisState{Governance: rules(pb.GovAction_GOV_ACTION_AUTHORIZE_ORDER)}, 10, 11},
		{"declaration interval at 11", &pb.GenesisState{Params: &pb.Params{DeclarationIntervalDays: 30}}, 11, 12},
		{"adopt_statement rule at 11", &pb.GenesisState{Governance: rules(pb.GovAction_GOV_ACTION_ADOPT_STATEMENT)}, 11, 12},
		{"adopt_statement rule at 12", &pb.GenesisState{Governance: rules(pb.GovAction_GOV_ACTION_ADOPT_STATEMENT)}, 12, 0},
		{"the default rules of each version", &pb.GenesisState{Governance: ledger.DefaultGovernanceRulesAt(11)}, 11, 0},
	} {
		if f, need := ledger.GenesisNeeds(c.gs, c.at); need != c.need || (need == 0) != (f == "") {
			t.Errorf("%s: %q needs %d, want %d", c.name, f, need, c.need)
		}
	}
	if ledger.RulesSince(ledger.DefaultGovernanceRulesAt(10)) != ledger.GenesisAppVersion ||
		ledger.RulesSince(ledger.DefaultGovernanceRulesAt(12)) != ledger.AppVersionEvidence {
		t.Error("the default rules of a version need another version")
	}
}
