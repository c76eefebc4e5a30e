package ledger

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// GenesisAppVersion is the app version of a chain whose state holds no
// UpgradeState (every chain until its first upgrade is scheduled). It is
// fixed: a binary that starts chains at a later version writes the
// UpgradeState in genesis.
const GenesisAppVersion uint64 = 6

// CurrentAppVersion is the app version of the chains this binary starts:
// their genesis says it (consensus_params.version.app, which CometBFT puts
// in every header) and their state holds it from genesis on. A genesis
// without it (made by an older binary) is GenesisAppVersion.
const CurrentAppVersion uint64 = 12

// AppVersionContentIndexOff is the first app version whose authenticated
// state holds no duplicate-content index (the h/ keys): the store keeps it
// beside the state, derived from the record log (ledger/store). A chain
// moving to it by an upgrade drops its h/ keys in the upgrade's block.
const AppVersionContentIndexOff uint64 = 7

// UpgradeV7 moves a chain started at app version 6 to 7: the ledger's
// rules do not change; the store drops the duplicate-content index from the
// state in the upgrade's block (one random-position state write per record
// fewer from then on). Vote it with software_upgrade name "normledger-v7",
// app_version 7.
const UpgradeV7 = "normledger-v7"

// AppVersionSealedToRecipients is the first app version with encryption
// keys in the member registry, sealed records encrypted once to named
// recipients (Sealed.ciphertext, Sealed.recipients), receipts and their
// obligations (docs/sealed.md). Below it a transaction that uses any of
// them is refused as carrying unknown fields, exactly as a binary that
// predates them refuses it; from it on, new sealed records may no longer
// carry per-recipient encrypted copies.
const AppVersionSealedToRecipients uint64 = 8

// UpgradeV8 moves a chain at app version 6 or 7 to 8: the state does not
// migrate; sealed records to recipients and receipts are accepted from the
// upgrade's block on. Vote it with software_upgrade name "normledger-v8",
// app_version 8.
const UpgradeV8 = "normledger-v8"

// AppVersionContactDirectory is the first app version with the contact
// directory (contact updates, pings, answers, delivery failures and their
// obligations, docs/directory.md) and with four pledge and class terms
// enforced: a pledge's respond_within_hours sets when consultation and
// assistance requests to its pledgors fall due; its accepted_verifiers
// are the only verifiers that may file findings on it; neutral bodies may
// file request and information notifications; observers may acknowledge
// and answer what is addressed to them. Point-of-contact notifications are
// refused from it on (contact_update replaces them).
const AppVersionContactDirectory uint64 = 9

// UpgradeV9 moves a chain at app version 6 to 8 to 9: the state does not
// migrate. Vote it with software_upgrade name "normledger-v9", app_version 9.
const UpgradeV9 = "normledger-v9"

// AppVersionCases is the first app version with cases and measures (case
// steps, measure notices, their duties, the case windows and escalation
// ladder in params, a pledge's case windows; docs/cases.md).
const AppVersionCases uint64 = 10

// UpgradeV10 moves a chain at app version 6 to 9 to 10: the state does not
// migrate. Vote it with software_upgrade name "normledger-v10", app_version 10.
const UpgradeV10 = "normledger-v10"

// AppVersionDisclosure is the first app version with selective disclosure
// and protective orders (a record's redaction, an incident's affected
// entities, undertakings, protective orders and their steps, a finding's
// designation ruling, the authorize_order action, the disclosure windows
// in params; docs/disclosure.md).
const AppVersionDisclosure uint64 = 11

// UpgradeV11 moves a chain at app version 6 to 10 to 11: the state does not
// migrate. Vote it with software_upgrade name "normledger-v11", app_version 11.
const UpgradeV11 = "normledger-v11"

func init() {
	registerUpgrade(Upgrade{Name: UpgradeV7, AppVersion: 7, Migrate: func(State, Block, *Changes) error { return nil }})
	registerUpgrade(Upgrade{Name: UpgradeV8, AppVersion: 8, Migrate: func(State, Block, *Changes) error { return nil }})
	registerUpgrade(Upgrade{Name: UpgradeV9, AppVersion: 9, Migrate: func(State, Block, *Changes) error { return nil }})
	registerUpgrade(Upgrade{Name: UpgradeV10, AppVersion: 10, Migrate: func(State, Block, *Changes) error { return nil }})
	registerUpgrade(Upgrade{Name: UpgradeV11, AppVersion: 11, Migrate: func(State, Block, *Changes) error { return nil }})
}

// Upgrade is a state migration a binary knows by name. At the start of the
// block at the plan's height, Migrate edits that block's BeginBlock changes
// (in state st, the state before the block); parameters it changes apply
// from the next block, like a set_params vote. A release build registers
// the upgrades it ships; a binary lacking the plan's upgrade stops before
// the height (UpgradeNeededError).
type Upgrade struct {
	Name string
	// AppVersion is the version the migration leads to; the plan must
	// name the same.
	AppVersion uint64
	Migrate    func(st State, b Block, ch *Changes) error
}

// knownUpgrades are the upgrades this binary has, registered at init time
// only (never changed while blocks run).
var knownUpgrades = map[string]Upgrade{}

// registerUpgrade adds an upgrade this binary knows; for init functions.
func registerUpgrade(u Upgrade) {
	if _, dup := knownUpgrades[u.Name]; dup || !upgradeName.MatchString(u.Name) || u.Migrate == nil {
		panic(fmt.Sprintf("bad or duplicate upgrade %q", u.Name))
	}
	knownUpgrades[u.Name] = u
}

// KnownUpgrades names the upgrades this binary can run, sorted.
func KnownUpgrades() []string {
	// An empty list, not nil, when there are none.
	out := slices.AppendSeq(make([]string, 0, len(knownUpgrades)), maps.Keys(knownUpgrades))
	slices.Sort(out)
	return out
}

// AppVersionOf is the app version a chain's software state says.
func AppVersionOf(us *pb.UpgradeState) uint64 {
	if us.GetAppVersion() == 0 {
		return GenesisAppVersion
	}
	return us.AppVersion
}

// UpgradeNeededError says that the block at Plan.Height needs an upgrade
// this binary does not have. Nodes stop cleanly on it.
type UpgradeNeededError struct {
	Plan     *pb.SoftwareUpgrade
	Proposal string
	// Why, when the binary knows the name but migrates to another version.
	Why string
}

func (e *UpgradeNeededError) Error() string {
	have := strings.Join(KnownUpgrades(), ", ")
	if have == "" {
		have = "none"
	}
	why := e.Why
	if why == "" {
		why = "this binary does not have it (it has: " + have + ")"
	}
	msg := fmt.Sprintf("UPGRADE %q NEEDED at height %d (app version %d, proposal %s): %s", e.Plan.Name, e.Plan.Height, e.Plan.AppVersion, e.Proposal, why)
	if e.Plan.Info != "" {
		msg += "; plan info: " + e.Plan.Info
	}
	return msg
}

// UpgradeDue returns the upgrade the block at height must run first (nil
// if none), or an *UpgradeNeededError if this binary lacks it. A node
// checks it for height+1 after each commit, to stop before that block.
func UpgradeDue(st State, height int64) (*Upgrade, error) {
	us, err := st.Upgrade()
	if err != nil {
		return nil, err
	}
	p := us.GetPending()
	if p == nil || height < p.Height {
		return nil, nil
	}
	u, ok := knownUpgrades[p.Name]
	if !ok {
		return nil, &UpgradeNeededError{Plan: p, Proposal: us.PendingProposal}
	}
	if u.AppVersion != p.AppVersion {
		return nil, &UpgradeNeededError{Plan: p, Proposal: us.PendingProposal,
			Why: fmt.Sprintf("this binary's %q migrates to app version %d, not %d", p.Name, u.AppVersion, p.AppVersion)}
	}
	return &u, nil
}

// applyUpgrade runs the upgrade due at block b, if any, and records it.
func applyUpgrade(st State, b Block, ch *Changes) error {
	u, err := UpgradeDue(st, b.Height)
	if err != nil || u == nil {
		return err
	}
	us, err := st.Upgrade()
	if err != nil {
		return err
	}
	from := AppVersionOf(us)
	if err := u.Migrate(st, b, ch); err != nil {
		return fmt.Errorf("upgrade %q at height %d: %w", u.Name, b.Height, err)
	}
	next := &pb.UpgradeState{AppVersion: u.AppVersion, Applied: slices.Clone(us.GetApplied())}
	next.Applied = append(next.Applied, &pb.AppliedUpgrade{Name: u.Name, Height: b.Height, FromAppVersion: from,
		AppVersion: u.AppVersion, Proposal: us.PendingProposal})
	ch.Upgrade = next
	return nil
}

var upgradeName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// validateUpgrade checks a software_upgrade action on its own; whether its
// height and version still apply is judged when it executes.
func validateUpgrade(u *pb.SoftwareUpgrade) error {
	if !upgradeName.MatchString(u.GetName()) {
		return errf(CodeBadFormat, "proposal.action.software_upgrade.name %q: 1-64 of a-z 0-9 . _ -, starting with a letter or digit", u.GetName())
	}
	if u.Height < 0 {
		return errf(CodeBadFormat, "proposal.action.software_upgrade.height %d is negative", u.Height)
	}
	if u.Height > 0 && u.AppVersion == 0 {
		return errf(CodeMissingField, "proposal.action.software_upgrade.app_version is required")
	}
	if u.Height == 0 && u.AppVersion != 0 {
		return errf(CodeBadFormat, "proposal.action.software_upgrade: height 0 cancels a plan and takes no app_version")
	}
	return checkText("proposal.action.software_upgrade.info", u.Info, MaxSummaryLen)
}

// scheduleUpgrade makes u the pending plan (or, with height 0, cancels
// the pending plan of that name) when the executing block is before its
// height and the version is newer than the chain's.
func (g *govState) scheduleUpgrade(u *pb.SoftwareUpgrade, by string) error {
	cur, err := g.Upgrade()
	if err != nil {
		return err
	}
	next := &pb.UpgradeState{AppVersion: AppVersionOf(cur), Applied: slices.Clone(cur.GetApplied())}
	if u.Height == 0 {
		if cur.GetPending().GetName() != u.Name {
			return errf(CodeBadUpgrade, "software_upgrade: no pending upgrade %q to cancel (pending: %q)", u.Name, cur.GetPending().GetName())
		}
		g.upgrade = next
		return nil
	}
	if u.Height <= g.b.Height {
		return errf(CodeBadUpgrade, "software_upgrade: height %d is not after this block (%d)", u.Height, g.b.Height)
	}
	if v := AppVersionOf(cur); u.AppVersion <= v {
		return errf(CodeBadUpgrade, "software_upgrade: app version %d is not newer than the chain's (%d)", u.AppVersion, v)
	}
	for _, a := range cur.GetApplied() {
		if a.Name == u.Name {
			return errf(CodeBadUpgrade, "software_upgrade: %q was applied at height %d", u.Name, a.Height)
		}
	}
	next.Pending, next.PendingProposal = proto.Clone(u).(*pb.SoftwareUpgrade), by
	g.upgrade = next
	return nil
}
