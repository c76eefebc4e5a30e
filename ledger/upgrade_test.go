package ledger_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// unitUpgrade is an upgrade this test binary has (registered once).
const unitUpgrade = "unit-test-v7"

func init() {
	ledger.RegisterUpgradeForTest(ledger.Upgrade{Name: unitUpgrade, AppVersion: 7, Migrate: func(st ledger.State, b ledger.Block, ch *ledger.Changes) error {
		p := proto.Clone(b.Params).(*pb.Params)
		p.AckWindowHours = 48
		ch.Params = p
		return nil
	}})
}

func upgradeAct(name string, height int64, version uint64) *pb.GovernanceAction {
	return &pb.GovernanceAction{Action: &pb.GovernanceAction_SoftwareUpgrade{SoftwareUpgrade: &pb.SoftwareUpgrade{
		Name: name, Height: height, AppVersion: version, Info: "release notes"}}}
}

// pass has three of the four states vote yes (2/3 of the electorate).
func (g *govNet) passUpgrade(act *pb.GovernanceAction) *pb.ProposalState {
	g.t.Helper()
	id := g.propose("xaa", act)
	for _, v := range []string{"xaa", "xbb", "xcc"} {
		g.vote(v, id, pb.VoteOption_VOTE_OPTION_YES)
	}
	return g.proposal(id)
}

func TestSoftwareUpgradeValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  *pb.GovernanceAction
		code ledger.Code
	}{
		{"bad name", upgradeAct("V7 upgrade", 100, 7), ledger.CodeBadFormat},
		{"empty name", upgradeAct("", 100, 7), ledger.CodeBadFormat},
		{"negative height", upgradeAct("v7", -1, 7), ledger.CodeBadFormat},
		{"no app version", upgradeAct("v7", 100, 0), ledger.CodeMissingField},
		{"a cancel with a version", upgradeAct("v7", 0, 7), ledger.CodeBadFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGovNet(t, 4, 4, nil)
			_, err := g.file("xaa", proposal(tc.act, g.now.Add(48*time.Hour)))
			if ledger.CodeOf(err) != tc.code {
				t.Fatalf("got %v, want %v", err, tc.code)
			}
		})
	}
}

// A plan that passes too late, or for a version that is not newer, fails
// with its reason and schedules nothing; a passed plan can be cancelled.
func TestSoftwareUpgradeScheduling(t *testing.T) {
	g := newGovNet(t, 4, 4, nil)
	if p := g.passUpgrade(upgradeAct("v7", 3, 7)); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_FAILED || !strings.Contains(p.Outcome, "is not after this block") {
		t.Fatalf("past height: %v %s", p.Status, p.Outcome)
	}
	// Refused when filed if it could not apply then.
	if _, err := g.file("xaa", proposal(upgradeAct("v6", 1000, 6), g.now.Add(48*time.Hour))); ledger.CodeOf(err) != ledger.CodeBadUpgrade || !strings.Contains(err.Error(), "not newer") {
		t.Fatalf("old version: %v", err)
	}
	if g.st.upgrade != nil {
		t.Fatalf("failed plans changed the upgrade state: %v", g.st.upgrade)
	}
	if p := g.passUpgrade(upgradeAct("v7", 1000, 7)); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED {
		t.Fatalf("plan: %v %s", p.Status, p.Outcome)
	}
	if g.st.upgrade.GetPending().GetName() != "v7" || g.st.upgrade.PendingProposal == "" {
		t.Fatalf("pending: %v", g.st.upgrade)
	}
	if _, err := g.file("xaa", proposal(upgradeAct("v8", 0, 0), g.now.Add(48*time.Hour))); ledger.CodeOf(err) != ledger.CodeBadUpgrade || !strings.Contains(err.Error(), `no pending upgrade "v8" to cancel (pending: "v7")`) {
		t.Fatalf("cancel of another name: %v", err)
	}
	if p := g.passUpgrade(upgradeAct("v7", 0, 0)); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED || g.st.upgrade.GetPending() != nil {
		t.Fatalf("cancel: %v %s, state %v", p.Status, p.Outcome, g.st.upgrade)
	}
	if v := ledger.AppVersionOf(g.st.upgrade); v != ledger.GenesisAppVersion {
		t.Fatalf("app version after a cancel: %d", v)
	}
}

// At the plan's height a binary that has the upgrade migrates first thing;
// one that lacks it gets UpgradeNeededError from the block before on.
func TestSoftwareUpgradeApplies(t *testing.T) {
	g := newGovNet(t, 4, 4, nil)
	at := g.height + 10
	if p := g.passUpgrade(upgradeAct(unitUpgrade, at, 7)); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED {
		t.Fatalf("plan: %v %s", p.Status, p.Outcome)
	}
	for g.height < at-1 {
		g.block(time.Second)
		if g.params.AckWindowHours != 24 || ledger.AppVersionOf(g.st.upgrade) != ledger.GenesisAppVersion {
			t.Fatalf("height %d, before the upgrade: ack window %d, app version %d", g.height, g.params.AckWindowHours, ledger.AppVersionOf(g.st.upgrade))
		}
	}
	if u, err := ledger.UpgradeDue(g.st, g.height+1); err != nil || u == nil || u.Name != unitUpgrade {
		t.Fatalf("due at %d: %v %v (state %v)", g.height+1, u, err, g.st.upgrade)
	}
	g.block(time.Second) // the upgrade height
	us := g.st.upgrade
	if us.AppVersion != 7 || us.Pending != nil || len(us.Applied) != 1 || us.Applied[0].Height != at || us.Applied[0].FromAppVersion != ledger.GenesisAppVersion {
		t.Fatalf("after the upgrade block: %v", us)
	}
	g.block(time.Second)
	if g.params.AckWindowHours != 48 {
		t.Fatalf("the migration's params do not apply after the upgrade: %v", g.params)
	}
	// The same name cannot be scheduled again.
	if _, err := g.file("xaa", proposal(upgradeAct(unitUpgrade, g.height+100, 8), g.now.Add(48*time.Hour))); ledger.CodeOf(err) != ledger.CodeBadUpgrade || !strings.Contains(err.Error(), "was applied at height") {
		t.Fatalf("again: %v", err)
	}

	// A plan this binary does not have.
	g = newGovNet(t, 4, 4, nil)
	at = g.height + 10
	g.passUpgrade(upgradeAct("somebody-elses-v7", at, 7))
	if _, err := ledger.UpgradeDue(g.st, at-1); err != nil {
		t.Fatalf("before the height: %v", err)
	}
	_, err := ledger.UpgradeDue(g.st, at)
	var un *ledger.UpgradeNeededError
	if !errors.As(err, &un) || !strings.Contains(err.Error(), `UPGRADE "somebody-elses-v7" NEEDED at height`) || !strings.Contains(err.Error(), unitUpgrade) {
		t.Fatalf("missing upgrade: %v", err)
	}
	ms, _ := g.st.Members()
	if _, err := g.reg.BeginBlock(g.st, ledger.Block{ChainID: "gov", Height: at, Time: g.now.Add(time.Second), Params: g.params, StartPowers: ledger.PowersOf(ms)}); !errors.As(err, &un) {
		t.Fatalf("BeginBlock at the height without the upgrade: %v", err)
	}
	// A known name that migrates to another version is no match either.
	g = newGovNet(t, 4, 4, nil)
	g.passUpgrade(upgradeAct(unitUpgrade, g.height+10, 9))
	if _, err := ledger.UpgradeDue(g.st, g.height+10); !errors.As(err, &un) || !strings.Contains(err.Error(), "migrates to app version 7, not 9") {
		t.Fatalf("version mismatch: %v", err)
	}
}
