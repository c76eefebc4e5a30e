package ledger

import (
	"maps"
	"slices"
	"sort"
	"strconv"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// RoleGovernance is the member role that may propose and, for members of
// an electorate's classes, vote.
const RoleGovernance = "governance"

// RoleWitness marks a member whose keys cosign the record log's
// checkpoints as a witness (docs/witnesses.md).
const RoleWitness = "witness"

// Governance limits.
const (
	// MaxVotingHours bounds max_voting_hours in any rules (one year).
	MaxVotingHours = 8760
	// MaxValidatorPower bounds one validator's power; CometBFT's total is
	// bounded far above any sum of these.
	MaxValidatorPower = 1 << 40
)

// GovActions lists every action in enum order.
func GovActions() []pb.GovAction {
	out := make([]pb.GovAction, 0, len(pb.GovAction_name)-1)
	for n := int32(1); int(n) < len(pb.GovAction_name); n++ {
		out = append(out, pb.GovAction(n))
	}
	return out
}

// GovActionSince is the app version that introduced action a.
func GovActionSince(a pb.GovAction) uint64 {
	switch {
	case a >= pb.GovAction_GOV_ACTION_ADOPT_STATEMENT:
		return AppVersionEvidence
	case a >= pb.GovAction_GOV_ACTION_AUTHORIZE_ORDER:
		return AppVersionDisclosure
	}
	return GenesisAppVersion
}

// RulesSince is the app version governance rules need: the newest that
// introduced an action they hold a rule for (GenesisAppVersion for none).
func RulesSince(r *pb.GovernanceRules) uint64 {
	v := GenesisAppVersion
	for _, rule := range r.GetRules() {
		v = max(v, GovActionSince(rule.Action))
	}
	return v
}

// GenesisNeeds names the first part of a genesis state that a later app
// version than v introduced, and that version ("" and 0 when none): a
// genesis at v must not hold it.
func GenesisNeeds(gs *pb.GenesisState, v uint64) (string, uint64) {
	if v < AppVersionSealedToRecipients {
		for _, m := range gs.GetMembers() {
			if len(m.EncryptionKeys) > 0 {
				return "member " + strconv.Quote(m.Id) + "'s encryption keys", AppVersionSealedToRecipients
			}
		}
	}
	for _, p := range []struct {
		find func(*pb.Params) string
		need uint64
	}{{ParamsNewInV10, AppVersionCases}, {ParamsNewInV11, AppVersionDisclosure}, {ParamsNewInV12, AppVersionEvidence}} {
		if f := p.find(gs.GetParams()); f != "" && v < p.need {
			return f, p.need
		}
	}
	if need := RulesSince(gs.GetGovernance()); need > v {
		return "a governance rule for an action of app version " + itoa(int64(need)), need
	}
	return "", 0
}

// DefaultGovernanceRules are the rules when genesis gives none: every
// action needs yes votes from at least two thirds of the active state
// members holding the governance role; changing the rules themselves needs
// all of them. Voting lasts 1 hour to 30 days.
func DefaultGovernanceRules() *pb.GovernanceRules {
	return DefaultGovernanceRulesAt(CurrentAppVersion)
}

// DefaultGovernanceRulesAt are the default rules of a chain starting at
// app version v: one rule per action that version knows (authorize_order
// from 11), so that an older version's genesis state stays byte for byte
// what it was.
func DefaultGovernanceRulesAt(v uint64) *pb.GovernanceRules {
	r := &pb.GovernanceRules{MinVotingHours: 1, MaxVotingHours: 720}
	for _, a := range GovActions() {
		if GovActionSince(a) > v {
			break // actions are numbered in the order versions added them
		}
		rule := &pb.ThresholdRule{Action: a, ThresholdNumerator: 2, ThresholdDenominator: 3,
			Electorate: []pb.MemberClass{pb.MemberClass_MEMBER_CLASS_STATE}}
		// A collective statement is adopted by consensus, as NATO's are.
		if a == pb.GovAction_GOV_ACTION_SET_GOVERNANCE_RULES || a == pb.GovAction_GOV_ACTION_ADOPT_STATEMENT {
			rule.Unanimous = true
			rule.ThresholdNumerator, rule.ThresholdDenominator = 1, 1
		}
		r.Rules = append(r.Rules, rule)
	}
	return r
}

// ValidateGovernanceRules checks that rules name every action exactly once
// in order, with sound fractions and electorates, and that changing the
// rules needs unanimity.
func ValidateGovernanceRules(r *pb.GovernanceRules) error {
	if r == nil {
		return errf(CodeBadGovernanceRules, "governance rules are missing")
	}
	acts := GovActions()
	if len(r.Rules) < firstGovActions || len(r.Rules) > len(acts) {
		return errf(CodeBadGovernanceRules, "governance rules have %d rules, want one per action (%d; rules written before action %d existed may stop at %d)",
			len(r.Rules), len(acts), firstGovActions+1, firstGovActions)
	}
	for i, rule := range r.Rules {
		if rule.Action != acts[i] {
			return errf(CodeBadGovernanceRules, "rule %d is for %v, want %v (one per action, in enum order)", i, rule.Action, acts[i])
		}
		if err := validateRule(rule); err != nil {
			return err
		}
	}
	if !RuleFor(r, pb.GovAction_GOV_ACTION_SET_GOVERNANCE_RULES).Unanimous {
		return errf(CodeBadGovernanceRules, "changing the governance rules must need a unanimous vote")
	}
	if r.MinVotingHours < 1 || r.MaxVotingHours < r.MinVotingHours || r.MaxVotingHours > MaxVotingHours {
		return errf(CodeBadGovernanceRules, "voting hours must satisfy 1 <= min (%d) <= max (%d) <= %d", r.MinVotingHours, r.MaxVotingHours, MaxVotingHours)
	}
	return nil
}

func validateRule(r *pb.ThresholdRule) error {
	frac := func(name string, num, den uint32, optional bool) error {
		if optional && num == 0 && den == 0 {
			return nil
		}
		if den == 0 || num == 0 || num > den || den > 1000 {
			return errf(CodeBadGovernanceRules, "%v: %s %d/%d must be a fraction in (0, 1] with a denominator up to 1000", r.Action, name, num, den)
		}
		return nil
	}
	// A unanimous rule's threshold fraction is ignored (but must be sound if given).
	if err := frac("threshold", r.ThresholdNumerator, r.ThresholdDenominator, r.Unanimous); err != nil {
		return err
	}
	if err := frac("veto", r.VetoNumerator, r.VetoDenominator, true); err != nil {
		return err
	}
	if err := frac("quorum", r.QuorumNumerator, r.QuorumDenominator, true); err != nil {
		return err
	}
	if len(r.Electorate) == 0 {
		return errf(CodeBadGovernanceRules, "%v: the electorate names no member class", r.Action)
	}
	if err := enumList("electorate", r.Electorate, 1); err != nil {
		return wrapf(CodeBadGovernanceRules, err, "%v", r.Action)
	}
	return nil
}

// firstGovActions is how many actions the first governance rules named
// (add_member .. set_governance_rules). Rules may stop there: a chain whose
// genesis predates a later action (software_upgrade) decides it by the rule
// for set_governance_rules, unanimity unless the chain changed it, until a
// unanimous set_governance_rules vote gives it a rule of its own.
const firstGovActions = 10

// RuleFor returns the rule for action a (nil if the rules lack it and it
// is one of the first actions).
func RuleFor(r *pb.GovernanceRules, a pb.GovAction) *pb.ThresholdRule {
	for _, rule := range r.GetRules() {
		if rule.Action == a {
			return rule
		}
	}
	if a > firstGovActions {
		if base := RuleFor(r, pb.GovAction_GOV_ACTION_SET_GOVERNANCE_RULES); base != nil {
			rule := proto.Clone(base).(*pb.ThresholdRule)
			rule.Action = a
			return rule
		}
	}
	return nil
}

// ActionOf returns the enum of a governance action's oneof case.
func ActionOf(a *pb.GovernanceAction) pb.GovAction {
	switch a.GetAction().(type) {
	case *pb.GovernanceAction_AddMember:
		return pb.GovAction_GOV_ACTION_ADD_MEMBER
	case *pb.GovernanceAction_SuspendMember:
		return pb.GovAction_GOV_ACTION_SUSPEND_MEMBER
	case *pb.GovernanceAction_ReinstateMember:
		return pb.GovAction_GOV_ACTION_REINSTATE_MEMBER
	case *pb.GovernanceAction_RemoveMember:
		return pb.GovAction_GOV_ACTION_REMOVE_MEMBER
	case *pb.GovernanceAction_AddKey:
		return pb.GovAction_GOV_ACTION_ADD_KEY
	case *pb.GovernanceAction_RotateKey:
		return pb.GovAction_GOV_ACTION_ROTATE_KEY
	case *pb.GovernanceAction_RevokeKey:
		return pb.GovAction_GOV_ACTION_REVOKE_KEY
	case *pb.GovernanceAction_SetValidator:
		return pb.GovAction_GOV_ACTION_SET_VALIDATOR
	case *pb.GovernanceAction_SetParams:
		return pb.GovAction_GOV_ACTION_SET_PARAMS
	case *pb.GovernanceAction_SetGovernanceRules:
		return pb.GovAction_GOV_ACTION_SET_GOVERNANCE_RULES
	case *pb.GovernanceAction_SoftwareUpgrade:
		return pb.GovAction_GOV_ACTION_SOFTWARE_UPGRADE
	case *pb.GovernanceAction_AuthorizeOrder:
		return pb.GovAction_GOV_ACTION_AUTHORIZE_ORDER
	case *pb.GovernanceAction_AdoptStatement:
		return pb.GovAction_GOV_ACTION_ADOPT_STATEMENT
	}
	return pb.GovAction_GOV_ACTION_UNSPECIFIED
}

// GovActionName is the short name of an action: GOV_ACTION_ADD_MEMBER -> "add_member".
func GovActionName(a pb.GovAction) string {
	return enum.Name(a)
}

// Decide judges a proposal's tally under its rule. final says that no more
// votes can come (the deadline passed). It returns PROPOSAL_STATUS_VOTING
// while the outcome is still open, and a reason for any other status.
//
// Before the deadline a proposal passes as soon as its yes votes meet the
// threshold and the quorum and the outstanding votes could no longer
// trigger a veto; it is rejected as soon as the yes votes plus the
// outstanding ones cannot meet the threshold, vetoed as soon as the no
// votes exceed the veto fraction. At the deadline the outstanding votes
// count as not cast. Every comparison is in integers: threshold and quorum
// with >=, veto with >.
func Decide(rule *pb.ThresholdRule, t *pb.Tally, final bool) (pb.ProposalStatus, string) {
	n := uint64(t.Electorate)
	if n == 0 {
		return pb.ProposalStatus_PROPOSAL_STATUS_ABORTED, "no elector is active any more"
	}
	yes, no, cast := uint64(t.Yes), uint64(t.No), uint64(t.Yes+t.No+t.Abstain)
	rem := n - min(cast, n)
	if final {
		rem = 0
	}
	tn, td := uint64(rule.ThresholdNumerator), uint64(rule.ThresholdDenominator)
	if rule.Unanimous {
		tn, td = 1, 1
	}
	meets := func(votes uint64) bool { return votes*td >= tn*n }
	quorate := rule.QuorumDenominator == 0 || cast*uint64(rule.QuorumDenominator) >= uint64(rule.QuorumNumerator)*n
	vetoes := func(votes uint64) bool {
		return rule.VetoDenominator != 0 && votes*uint64(rule.VetoDenominator) > uint64(rule.VetoNumerator)*n
	}
	switch {
	case vetoes(no):
		return pb.ProposalStatus_PROPOSAL_STATUS_VETOED, "vetoed: " + tallyText(t)
	case !meets(yes + rem):
		if final {
			return pb.ProposalStatus_PROPOSAL_STATUS_EXPIRED, "deadline passed below the threshold: " + tallyText(t)
		}
		return pb.ProposalStatus_PROPOSAL_STATUS_REJECTED, "can no longer reach the threshold: " + tallyText(t)
	case meets(yes) && quorate && !vetoes(no+rem):
		return pb.ProposalStatus_PROPOSAL_STATUS_PASSED, "passed: " + tallyText(t)
	case final:
		return pb.ProposalStatus_PROPOSAL_STATUS_EXPIRED, "deadline passed without a quorum: " + tallyText(t)
	}
	return pb.ProposalStatus_PROPOSAL_STATUS_VOTING, ""
}

func tallyText(t *pb.Tally) string {
	return itoa(int64(t.Yes)) + " yes, " + itoa(int64(t.No)) + " no, " + itoa(int64(t.Abstain)) + " abstain, " +
		itoa(int64(t.NotVoted)) + " not voted of " + itoa(int64(t.Electorate))
}

// CountVotes tallies votes cast by the electors of a proposal that are
// still active: an elector suspended or removed since the proposal was made
// leaves the electorate (and its vote the count) until reinstated.
func CountVotes(electorate []string, votes []*pb.VoteState, active func(id string) (bool, error)) (*pb.Tally, error) {
	t := &pb.Tally{}
	byElector := make(map[string]pb.VoteOption, len(votes))
	for _, v := range votes {
		byElector[v.Elector] = v.Option
	}
	for _, e := range electorate {
		ok, err := active(e)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		t.Electorate++
		switch byElector[e] {
		case pb.VoteOption_VOTE_OPTION_YES:
			t.Yes++
		case pb.VoteOption_VOTE_OPTION_NO:
			t.No++
		case pb.VoteOption_VOTE_OPTION_ABSTAIN:
			t.Abstain++
		default:
			t.NotVoted++
		}
	}
	return t, nil
}

// Electorate lists, sorted, the active members of the rule's classes that
// hold the governance role.
func Electorate(rule *pb.ThresholdRule, members []*pb.Member) []string {
	var out []string
	for _, m := range members {
		if m.Status != pb.MemberStatus_MEMBER_STATUS_ACTIVE || !HasRole(m, RoleGovernance) {
			continue
		}
		if slices.Contains(rule.Electorate, m.Class) {
			out = append(out, m.Id)
		}
	}
	sort.Strings(out)
	return out
}

// HasRole says whether member m holds role (RoleGovernance, RoleWitness).
func HasRole(m *pb.Member, role string) bool { return slices.Contains(m.Roles, role) }

// EffectivePower is the voting power a member's validator has: its power
// while the member is active and has a validator key, else 0.
func EffectivePower(m *pb.Member) int64 {
	if m.Status != pb.MemberStatus_MEMBER_STATUS_ACTIVE || len(m.ValidatorPubKey) == 0 {
		return 0
	}
	return m.ValidatorPower
}

// ValidatorUpdate is one change of CometBFT's validator set.
type ValidatorUpdate struct {
	PubKey []byte
	Power  int64
}

// Powers maps validator public keys (as strings) to effective power.
type Powers map[string]int64

// PowersOf returns the effective validator powers of members (only
// non-zero entries).
func PowersOf(members []*pb.Member) Powers {
	p := Powers{}
	for _, m := range members {
		if pw := EffectivePower(m); pw > 0 {
			p[string(m.ValidatorPubKey)] += pw
		}
	}
	return p
}

// Sorted lists the powers as updates sorted by public key.
func (p Powers) Sorted() []ValidatorUpdate {
	var out []ValidatorUpdate
	for _, k := range p.keys() {
		out = append(out, ValidatorUpdate{PubKey: []byte(k), Power: p[k]})
	}
	return out
}

// Total is the sum of the powers.
func (p Powers) Total() int64 {
	var t int64
	for _, k := range p.keys() {
		t += p[k]
	}
	return t
}

func (p Powers) keys() []string { return slices.Sorted(maps.Keys(p)) }

// Diff returns the updates that turn p into q, sorted by public key: keys
// whose power changed, with power 0 for keys q lacks.
func (p Powers) Diff(q Powers) []ValidatorUpdate {
	var out []ValidatorUpdate
	for _, k := range sortedUnique(append(p.keys(), q.keys()...)) {
		if p[k] != q[k] {
			out = append(out, ValidatorUpdate{PubKey: []byte(k), Power: q[k]})
		}
	}
	return out
}

// CheckValidatorChange is checkPowers for the app: the validator set q a
// block ends with, from the set p it started with. Governance never makes
// a change it refuses; the app checks again before handing the change to
// CometBFT, which would halt on an empty set.
func CheckValidatorChange(p, q Powers) error { return checkPowers(p, q) }

// checkPowers refuses a validator set q reached from p (the set at the start
// of the block) that moves more than a third of p's power, or leaves fewer
// than 2 validators (none at all is its own code).
func checkPowers(p, q Powers) error {
	var moved int64
	for _, u := range p.Diff(q) {
		d := u.Power - p[string(u.PubKey)]
		if d < 0 {
			d = -d
		}
		moved += d
	}
	if moved == 0 {
		return nil
	}
	switch n := len(q); {
	case n == 0:
		return errf(CodeLastValidator, "the change would remove the last validator")
	case n < 2:
		return errf(CodeTooFewValidators, "the change would leave %d validator; at least 2 are required", n)
	}
	if total := p.Total(); 3*moved > total {
		return errf(CodePowerCap, "the change moves %d of %d voting power in one block; at most a third may change per block", moved, total)
	}
	return nil
}

// validatorKey checks a validator public key's shape.
func validatorKey(field string, k []byte) error {
	if len(k) != ed25519.PubKeySize {
		return errf(CodeBadFormat, "%s must be a 32-byte ed25519 key, got %d bytes", field, len(k))
	}
	return nil
}

func cloneMember(m *pb.Member) *pb.Member { return proto.Clone(m).(*pb.Member) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
