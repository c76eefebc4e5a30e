package ledger

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Governance: proposals, votes and emergency key revocations. The rules are
// written down for users in docs/governance.md; the short form:
//
//   - A proposal carries one action and a deadline. Its electorate (the
//     active members of the rule's classes holding the governance role) and
//     its rule are fixed when it is made.
//   - Votes are final (one per elector) and accepted until the deadline,
//     also after the proposal was decided, so every position is recorded.
//   - A proposal that reaches its rule is executed in that same block; one
//     that cannot pass any more is closed; at the deadline the rest close.
//   - An elector suspended or removed leaves the count (re-tally); a change
//     of the rule a proposal was made under aborts it.
//   - Every change to members, keys and validators takes effect for
//     signatures from the next height, and for CometBFT's validator set two
//     heights after the block that made it.

func validateProposal(v *validator, r *pb.Record) error {
	p := r.GetProposal()
	if err := reqText("proposal.title", p.Title, MaxTitleLen); err != nil {
		return err
	}
	if err := reqText("proposal.rationale", p.Rationale, MaxTextLen); err != nil {
		return err
	}
	if err := v.future("proposal.deadline", p.Deadline, true); err != nil {
		return err
	}
	if p.Action == nil || ActionOf(p.Action) == pb.GovAction_GOV_ACTION_UNSPECIFIED {
		return errf(CodeMissingField, "proposal.action is required")
	}
	return validateAction(v, p.Action)
}

func validateAction(v *validator, act *pb.GovernanceAction) error {
	switch a := act.Action.(type) {
	case *pb.GovernanceAction_AddMember:
		m := a.AddMember
		if !isMemberID(m.Id) {
			return errf(CodeBadFormat, "proposal.action.add_member.id %q is not a member id", m.Id)
		}
		if err := enumReq("proposal.action.add_member.class", m.Class); err != nil {
			return err
		}
		if err := reqText("proposal.action.add_member.name", m.Name, MaxTitleLen); err != nil {
			return err
		}
		if m.Class == pb.MemberClass_MEMBER_CLASS_STATE && !isCountryCode(m.CountryCode) {
			return errf(CodeBadFormat, "proposal.action.add_member.country_code: a state needs an ISO 3166-1 alpha-3 code")
		}
		if m.CountryCode != "" && !isCountryCode(m.CountryCode) {
			return errf(CodeBadFormat, "proposal.action.add_member.country_code %q is not an ISO 3166-1 alpha-3 code", m.CountryCode)
		}
		if len(m.PubKeys) == 0 {
			return errf(CodeMissingField, "proposal.action.add_member.pub_keys is required")
		}
		if err := checkListLen("proposal.action.add_member.pub_keys", len(m.PubKeys), 8); err != nil {
			return err
		}
		for i, k := range m.PubKeys {
			if err := validatorKey("proposal.action.add_member.pub_keys", k); err != nil {
				return err
			}
			for _, prev := range m.PubKeys[:i] {
				if bytes.Equal(prev, k) {
					return errf(CodeBadFormat, "proposal.action.add_member.pub_keys lists a key twice")
				}
			}
		}
		if err := pointOfContact("proposal.action.add_member.point_of_contact", m.PointOfContact); err != nil {
			return err
		}
		if err := roles("proposal.action.add_member.roles", m.Roles); err != nil {
			return err
		}
		return validatorFields("proposal.action.add_member", m.ValidatorPubKey, m.ValidatorPower, true)
	case *pb.GovernanceAction_SuspendMember:
		return memberRef("proposal.action.suspend_member.member", a.SuspendMember.GetMember())
	case *pb.GovernanceAction_ReinstateMember:
		return memberRef("proposal.action.reinstate_member.member", a.ReinstateMember.GetMember())
	case *pb.GovernanceAction_RemoveMember:
		return memberRef("proposal.action.remove_member.member", a.RemoveMember.GetMember())
	case *pb.GovernanceAction_AddKey:
		if err := memberRef("proposal.action.add_key.member", a.AddKey.Member); err != nil {
			return err
		}
		return validatorKey("proposal.action.add_key.pub_key", a.AddKey.PubKey)
	case *pb.GovernanceAction_RotateKey:
		if err := memberRef("proposal.action.rotate_key.member", a.RotateKey.Member); err != nil {
			return err
		}
		if err := keyIDField("proposal.action.rotate_key.old_key_id", a.RotateKey.OldKeyId); err != nil {
			return err
		}
		return validatorKey("proposal.action.rotate_key.new_pub_key", a.RotateKey.NewPubKey)
	case *pb.GovernanceAction_RevokeKey:
		rk := a.RevokeKey
		if err := memberRef("proposal.action.revoke_key.member", rk.Member); err != nil {
			return err
		}
		if err := keyIDField("proposal.action.revoke_key.key_id", rk.KeyId); err != nil {
			return err
		}
		return v.compromise("proposal.action.revoke_key", rk.CompromisedSinceHeight, rk.CompromisedSinceTime)
	case *pb.GovernanceAction_SetValidator:
		sv := a.SetValidator
		if err := memberRef("proposal.action.set_validator.member", sv.Member); err != nil {
			return err
		}
		return validatorFields("proposal.action.set_validator", sv.ValidatorPubKey, sv.Power, true)
	case *pb.GovernanceAction_SetParams:
		return ValidateParams(a.SetParams)
	case *pb.GovernanceAction_SetGovernanceRules:
		return ValidateGovernanceRules(a.SetGovernanceRules)
	case *pb.GovernanceAction_SoftwareUpgrade:
		return validateUpgrade(a.SoftwareUpgrade)
	}
	return errf(CodeMissingField, "proposal.action is required")
}

// ValidateParams checks chain parameters (genesis and SET_PARAMS).
func ValidateParams(p *pb.Params) error {
	if p == nil {
		return errf(CodeMissingField, "params are required")
	}
	if p.MaxTxBytes < 1024 || p.MaxTxBytes > MaxTxBytesLimit {
		return errf(CodeBadFormat, "params.max_tx_bytes %d is outside 1024..%d (a record log entry's limit)", p.MaxTxBytes, MaxTxBytesLimit)
	}
	if p.MaxClockSkewSeconds > 3600 {
		return errf(CodeBadFormat, "params.max_clock_skew_seconds %d exceeds 3600", p.MaxClockSkewSeconds)
	}
	if p.AckWindowHours < 1 || p.AckWindowHours > 8760 {
		return errf(CodeBadFormat, "params.ack_window_hours %d is outside 1..8760", p.AckWindowHours)
	}
	return nil
}

func memberRef(field, id string) error {
	if id == "" {
		return errf(CodeMissingField, "%s is required", field)
	}
	if !isMemberID(id) {
		return errf(CodeBadFormat, "%s %q is not a member id", field, id)
	}
	return nil
}

func keyIDField(field, id string) error {
	if id == "" {
		return errf(CodeMissingField, "%s is required", field)
	}
	if !isLowerHex(id, 16) {
		return errf(CodeBadFormat, "%s %q is not a key id (16 lowercase hex)", field, id)
	}
	return nil
}

func validatorFields(field string, key []byte, power int64, allowEmptyKey bool) error {
	if len(key) > 0 {
		if err := validatorKey(field+".validator_pub_key", key); err != nil {
			return err
		}
	}
	if power < 0 || power > MaxValidatorPower {
		return errf(CodeBadFormat, "%s power %d is outside 0..%d", field, power, int64(MaxValidatorPower))
	}
	if power > 0 && len(key) == 0 && !allowEmptyKey {
		return errf(CodeMissingField, "%s.validator_pub_key is required with power", field)
	}
	return nil
}

func pointOfContact(field string, poc *pb.PointOfContact) error {
	if poc == nil {
		return nil
	}
	for _, f := range []struct{ n, s string }{{"name", poc.Name}, {"organisation", poc.Organisation}, {"email", poc.Email}, {"phone", poc.Phone}} {
		if err := checkText(field+"."+f.n, f.s, MaxTitleLen); err != nil {
			return err
		}
	}
	return nil
}

func roles(field string, rs []string) error {
	if err := checkListLen(field, len(rs), 8); err != nil {
		return err
	}
	for i, r := range rs {
		if !isToken(r) {
			return errf(CodeBadFormat, "%s[%d] %q is not a valid role", field, i, r)
		}
		for _, prev := range rs[:i] {
			if prev == r {
				return errf(CodeBadFormat, "%s lists %q twice", field, r)
			}
		}
	}
	return nil
}

// compromise checks an optional compromise point: a height (not negative)
// and a time (not beyond block time plus skew).
func (v *validator) compromise(field string, height int64, t *pbTime) error {
	if height < 0 {
		return errf(CodeBadFormat, "%s.compromised_since_height must not be negative", field)
	}
	return v.past(field+".compromised_since_time", t, false)
}

func validateVote(v *validator, r *pb.Record) error {
	vt := r.GetVote()
	if err := recordID("vote.proposal_id", vt.ProposalId); err != nil {
		return err
	}
	if err := enumReq("vote.option", vt.Option); err != nil {
		return err
	}
	return checkText("vote.statement", vt.Statement, MaxSummaryLen)
}

func validateKeyRevocation(v *validator, r *pb.Record) error {
	kr := r.GetKeyRevocation()
	if err := memberRef("key_revocation.member", kr.Member); err != nil {
		return err
	}
	if err := keyIDField("key_revocation.key_id", kr.KeyId); err != nil {
		return err
	}
	if err := v.compromise("key_revocation", kr.CompromisedSinceHeight, kr.CompromisedSinceTime); err != nil {
		return err
	}
	return checkText("key_revocation.reason", kr.Reason, MaxSummaryLen)
}

func admitProposal(a *admission, r *pb.Record) error {
	p := r.GetProposal()
	if !HasRole(a.signer, RoleGovernance) {
		return errf(CodeNoGovernanceRole, "%q does not hold the %q role and may not propose", a.author, RoleGovernance)
	}
	rules, err := a.st.GovernanceRules()
	if err != nil {
		return fmt.Errorf("read governance rules: %w", err)
	}
	d := p.Deadline.AsTime().Sub(a.b.Time)
	if lo, hi := time.Duration(rules.MinVotingHours)*time.Hour, time.Duration(rules.MaxVotingHours)*time.Hour; d < lo || d > hi {
		return errf(CodeBadTime, "proposal.deadline must lie %d to %d hours after block time (it lies %s after)",
			rules.MinVotingHours, rules.MaxVotingHours, d.Round(time.Second))
	}
	rule := RuleFor(rules, ActionOf(p.Action))
	if rule == nil {
		return errf(CodeBadGovernanceRules, "the governance rules have no rule for %v", ActionOf(p.Action))
	}
	members, err := a.st.Members()
	if err != nil {
		return fmt.Errorf("read members: %w", err)
	}
	if len(Electorate(rule, members)) == 0 {
		return errf(CodeNoElectorate, "no active member of %v holds the %q role: nobody could vote on this proposal", rule.Electorate, RoleGovernance)
	}
	// The action must apply to the state as it is now, alone: the same
	// checks run again when it is executed.
	g := newGovState(a.st, a.b)
	start, err := g.startPowers()
	if err != nil {
		return err
	}
	if err := g.tryAction(p.Action, "", start); err != nil {
		return err
	}
	if t := actionMember(p.Action); t != "" {
		a.subject(t)
	}
	return nil
}

// actionMember is the member an action is about, if any.
func actionMember(act *pb.GovernanceAction) string {
	switch a := act.Action.(type) {
	case *pb.GovernanceAction_AddMember:
		return a.AddMember.Id
	case *pb.GovernanceAction_SuspendMember:
		return a.SuspendMember.GetMember()
	case *pb.GovernanceAction_ReinstateMember:
		return a.ReinstateMember.GetMember()
	case *pb.GovernanceAction_RemoveMember:
		return a.RemoveMember.GetMember()
	case *pb.GovernanceAction_AddKey:
		return a.AddKey.Member
	case *pb.GovernanceAction_RotateKey:
		return a.RotateKey.Member
	case *pb.GovernanceAction_RevokeKey:
		return a.RevokeKey.Member
	case *pb.GovernanceAction_SetValidator:
		return a.SetValidator.Member
	}
	return ""
}

func admitVote(a *admission, r *pb.Record) error {
	vt := r.GetVote()
	p, err := a.st.Proposal(vt.ProposalId)
	if err != nil {
		return fmt.Errorf("read proposal: %w", err)
	}
	if p == nil {
		return errf(CodeUnknownProposal, "vote.proposal_id: proposal %s does not exist", vt.ProposalId)
	}
	a.refs = append(a.refs, p.Id)
	if p.Status == pb.ProposalStatus_PROPOSAL_STATUS_ABORTED {
		return errf(CodeProposalClosed, "vote.proposal_id: proposal %s was aborted (%s); voting on it is closed", p.Id, p.Outcome)
	}
	if a.b.Time.After(p.Deadline.AsTime()) || p.VotingClosed {
		return errf(CodeVotingEnded, "vote.proposal_id: voting on proposal %s ended at %s", p.Id, p.Deadline.AsTime().UTC().Format(time.RFC3339))
	}
	if !contains(p.Electorate, a.author) {
		return errf(CodeNotElector, "vote.proposal_id: %q is not in the electorate of proposal %s", a.author, p.Id)
	}
	prev, err := a.st.Vote(p.Id, a.author)
	if err != nil {
		return fmt.Errorf("read vote: %w", err)
	}
	if prev != nil {
		return errf(CodeAlreadyVoted, "vote.proposal_id: %q already voted %v on proposal %s (record %s); votes are final",
			a.author, prev.Option, p.Id, prev.RecordId)
	}
	a.subject(p.Proposer)
	return nil
}

func admitKeyRevocation(a *admission, r *pb.Record) error {
	kr := r.GetKeyRevocation()
	if kr.Member != a.author {
		return errf(CodeNotOwnKey, "key_revocation.member %q: a member revokes only its own keys without a vote (propose revoke_key instead)", kr.Member)
	}
	k := findKey(a.signer, kr.KeyId)
	if k == nil {
		return errf(CodeUnknownKey, "key_revocation.key_id: %q has no key %q", a.author, kr.KeyId)
	}
	if k.Status == pb.KeyStatus_KEY_STATUS_REVOKED {
		return errf(CodeKeyInactive, "key_revocation.key_id: key %q of %q is already revoked", kr.KeyId, a.author)
	}
	if kr.CompromisedSinceHeight > a.b.Height {
		return errf(CodeBadFormat, "key_revocation.compromised_since_height %d is beyond the current height %d", kr.CompromisedSinceHeight, a.b.Height)
	}
	return nil
}

func findKey(m *pb.Member, keyID string) *pb.MemberKey {
	for _, k := range m.GetKeys() {
		if k.KeyId == keyID {
			return k
		}
	}
	return nil
}

// govState layers one transaction's (or one block start's) governance
// changes over the state. Reads fall through to State; writes are kept in
// the order made.
type govState struct {
	State
	b         Block
	members   map[string]*pb.Member
	morder    []string
	proposals map[string]*pb.ProposalState
	porder    []string
	votes     map[string]*pb.VoteState // by proposal + "/" + elector
	vorder    []string
	params    *pb.Params
	rules     *pb.GovernanceRules
	upgrade   *pb.UpgradeState
	// Pending consequences of executed actions, for the cascade.
	statusChanged []string
	rulesChanged  bool
}

func newGovState(st State, b Block) *govState {
	return &govState{State: st, b: b, members: map[string]*pb.Member{}, proposals: map[string]*pb.ProposalState{},
		votes: map[string]*pb.VoteState{}}
}

func (g *govState) Member(id string) (*pb.Member, error) {
	if m, ok := g.members[id]; ok {
		return m, nil
	}
	return g.State.Member(id)
}

func (g *govState) Members() ([]*pb.Member, error) {
	base, err := g.State.Members()
	if err != nil {
		return nil, err
	}
	return mergeMembers(base, g.members), nil
}

// mergeMembers overlays changed members on a list sorted by id.
func mergeMembers(base []*pb.Member, changed map[string]*pb.Member) []*pb.Member {
	if len(changed) == 0 {
		return base
	}
	out := make([]*pb.Member, 0, len(base)+len(changed))
	for _, m := range base {
		if _, ok := changed[m.Id]; !ok {
			out = append(out, m)
		}
	}
	for _, m := range changed {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

func (g *govState) Proposal(id string) (*pb.ProposalState, error) {
	if p, ok := g.proposals[id]; ok {
		return p, nil
	}
	return g.State.Proposal(id)
}

func (g *govState) Vote(proposal, elector string) (*pb.VoteState, error) {
	if v, ok := g.votes[proposal+"/"+elector]; ok {
		return v, nil
	}
	return g.State.Vote(proposal, elector)
}

func (g *govState) Votes(proposal string) ([]*pb.VoteState, error) {
	base, err := g.State.Votes(proposal)
	if err != nil {
		return nil, err
	}
	return mergeVotes(base, g.votes, proposal), nil
}

// mergeVotes overlays votes (keyed proposal/elector) on a proposal's votes
// sorted by elector.
func mergeVotes(base []*pb.VoteState, changed map[string]*pb.VoteState, proposal string) []*pb.VoteState {
	var extra []*pb.VoteState
	for _, v := range changed {
		if v.ProposalId == proposal {
			extra = append(extra, v)
		}
	}
	if len(extra) == 0 {
		return base
	}
	out := make([]*pb.VoteState, 0, len(base)+len(extra))
	for _, v := range base {
		if _, ok := changed[proposal+"/"+v.Elector]; !ok {
			out = append(out, v)
		}
	}
	out = append(out, extra...)
	sort.Slice(out, func(i, j int) bool { return out[i].Elector < out[j].Elector })
	return out
}

func (g *govState) UndecidedProposals() ([]*pb.ProposalState, error) {
	base, err := g.State.UndecidedProposals()
	if err != nil {
		return nil, err
	}
	return mergeUndecided(base, g.proposals), nil
}

// mergeUndecided overlays changed proposals on the undecided ones (sorted by
// id) and keeps those still voting.
func mergeUndecided(base []*pb.ProposalState, changed map[string]*pb.ProposalState) []*pb.ProposalState {
	if len(changed) == 0 {
		return base
	}
	var out []*pb.ProposalState
	for _, p := range base {
		if _, ok := changed[p.Id]; !ok {
			out = append(out, p)
		}
	}
	for _, p := range changed {
		if p.Status == pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

func (g *govState) OpenProposalsDueBefore(t time.Time) ([]*pb.ProposalState, error) {
	base, err := g.State.OpenProposalsDueBefore(t)
	if err != nil {
		return nil, err
	}
	return mergeDue(base, g.proposals, t), nil
}

func (g *govState) GovernanceRules() (*pb.GovernanceRules, error) {
	if g.rules != nil {
		return g.rules, nil
	}
	return g.State.GovernanceRules()
}

func (g *govState) Upgrade() (*pb.UpgradeState, error) {
	if g.upgrade != nil {
		return g.upgrade, nil
	}
	return g.State.Upgrade()
}

func (g *govState) putMember(m *pb.Member) {
	if _, ok := g.members[m.Id]; !ok {
		g.morder = append(g.morder, m.Id)
	}
	g.members[m.Id] = m
}

func (g *govState) putProposal(p *pb.ProposalState) {
	if _, ok := g.proposals[p.Id]; !ok {
		g.porder = append(g.porder, p.Id)
	}
	g.proposals[p.Id] = p
}

func (g *govState) putVote(v *pb.VoteState) {
	k := v.ProposalId + "/" + v.Elector
	if _, ok := g.votes[k]; !ok {
		g.vorder = append(g.vorder, k)
	}
	g.votes[k] = v
}

// merge takes a fork's changes.
func (g *govState) merge(f *govState) {
	for _, id := range f.morder {
		g.putMember(f.members[id])
	}
	for _, id := range f.porder {
		g.putProposal(f.proposals[id])
	}
	for _, k := range f.vorder {
		g.putVote(f.votes[k])
	}
	if f.params != nil {
		g.params = f.params
	}
	if f.rules != nil {
		g.rules = f.rules
	}
	if f.upgrade != nil {
		g.upgrade = f.upgrade
	}
	g.statusChanged = append(g.statusChanged, f.statusChanged...)
	g.rulesChanged = g.rulesChanged || f.rulesChanged
}

// fill copies the collected changes into ch.
func (g *govState) fill(ch *Changes) {
	for _, id := range g.morder {
		ch.Members = append(ch.Members, g.members[id])
	}
	for _, id := range g.porder {
		ch.Proposals = append(ch.Proposals, g.proposals[id])
	}
	for _, k := range g.vorder {
		ch.Votes = append(ch.Votes, g.votes[k])
	}
	ch.Params, ch.GovernanceRules, ch.Upgrade = g.params, g.rules, g.upgrade
}

// tryAction applies act to a fork of g and checks the validator set it
// leaves against start (the set at the start of the block). It returns the
// fork, or a rejection saying why the action does not apply.
func (g *govState) tryAction(act *pb.GovernanceAction, by string, start Powers) error {
	_, err := g.forkAction(act, by, start)
	return err
}

func (g *govState) forkAction(act *pb.GovernanceAction, by string, start Powers) (*govState, error) {
	f := newGovState(g, g.b)
	if err := f.applyAction(act, by); err != nil {
		return nil, err
	}
	if f.touchesValidators(act) {
		members, err := f.Members()
		if err != nil {
			return nil, err
		}
		if err := checkPowers(start, PowersOf(members)); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (g *govState) touchesValidators(act *pb.GovernanceAction) bool {
	switch act.Action.(type) {
	case *pb.GovernanceAction_AddMember, *pb.GovernanceAction_SuspendMember, *pb.GovernanceAction_ReinstateMember,
		*pb.GovernanceAction_RemoveMember, *pb.GovernanceAction_SetValidator:
		return true
	}
	return false
}

func (g *govState) note(m *pb.Member, by, change string) {
	m.History = append(m.History, &pb.MemberChange{Height: g.b.Height, Time: timestamppb.New(g.b.Time), RecordId: by, Change: change})
}

// existing loads a member an action names; it must exist.
func (g *govState) existing(field, id string) (*pb.Member, error) {
	m, err := g.Member(id)
	if err != nil {
		return nil, fmt.Errorf("read member %q: %w", id, err)
	}
	if m == nil {
		return nil, errf(CodeUnknownMember, "%s: %q is not a member", field, id)
	}
	return cloneMember(m), nil
}

// keyTaken reports which member holds a signing key id or validator key.
func (g *govState) keyTaken(keyID string, validator []byte) (string, error) {
	members, err := g.Members()
	if err != nil {
		return "", err
	}
	for _, m := range members {
		if keyID != "" && findKey(m, keyID) != nil {
			return m.Id, nil
		}
		if len(validator) > 0 && bytes.Equal(m.ValidatorPubKey, validator) {
			return m.Id, nil
		}
	}
	return "", nil
}

func (g *govState) newKey(field string, pub []byte) (*pb.MemberKey, error) {
	id := KeyID(pub)
	owner, err := g.keyTaken(id, nil)
	if err != nil {
		return nil, err
	}
	if owner != "" {
		return nil, errf(CodeKeyExists, "%s: key %s is registered to %q already", field, id, owner)
	}
	return &pb.MemberKey{KeyId: id, PubKey: append([]byte(nil), pub...), Status: pb.KeyStatus_KEY_STATUS_ACTIVE,
		ValidFromHeight: g.b.Height + 1}, nil
}

func (g *govState) checkValidatorKey(field, member string, pub []byte) error {
	if len(pub) == 0 {
		return nil
	}
	owner, err := g.keyTaken("", pub)
	if err != nil {
		return err
	}
	if owner != "" && owner != member {
		return errf(CodeDuplicateValidatorKey, "%s: validator key %X is registered to %q already", field, pub, owner)
	}
	return nil
}

// endKey ends a key at this height.
func (g *govState) endKey(k *pb.MemberKey, status pb.KeyStatus, by string) {
	k.Status = status
	if k.ValidUntilHeight == 0 || k.ValidUntilHeight > g.b.Height {
		k.ValidUntilHeight = g.b.Height
	}
	k.EndedBy = by
}

// revoke ends a key and records its compromise point.
func (g *govState) revoke(m *pb.Member, keyID string, sinceHeight int64, sinceTime *pbTime, by, how string) error {
	k := findKey(m, keyID)
	if k == nil {
		return errf(CodeUnknownKey, "member %q has no key %q", m.Id, keyID)
	}
	if k.Status == pb.KeyStatus_KEY_STATUS_REVOKED {
		return errf(CodeKeyInactive, "key %q of %q is already revoked", keyID, m.Id)
	}
	if sinceHeight > g.b.Height {
		return errf(CodeBadFormat, "compromised_since_height %d is beyond the current height %d", sinceHeight, g.b.Height)
	}
	g.endKey(k, pb.KeyStatus_KEY_STATUS_REVOKED, by)
	k.CompromisedSinceHeight = sinceHeight
	if sinceTime != nil {
		k.CompromisedSinceTime = timestamppb.New(sinceTime.AsTime())
	}
	change := "key " + keyID + " revoked " + how
	if sinceHeight > 0 || sinceTime != nil {
		change += " as compromised since"
		if sinceHeight > 0 {
			change += " height " + itoa(sinceHeight)
		}
		if sinceTime != nil {
			change += " " + sinceTime.AsTime().UTC().Format(time.RFC3339)
		}
	}
	g.note(m, by, change)
	g.putMember(m)
	return nil
}

func (g *govState) setStatus(field, id string, want, to pb.MemberStatus, by, change string) error {
	m, err := g.existing(field, id)
	if err != nil {
		return err
	}
	if want != pb.MemberStatus_MEMBER_STATUS_UNSPECIFIED && m.Status != want {
		return errf(CodeWrongMemberStatus, "%s: member %q is %v, the action needs %v", field, id, m.Status, want)
	}
	if m.Status == pb.MemberStatus_MEMBER_STATUS_REMOVED {
		return errf(CodeWrongMemberStatus, "%s: member %q was removed", field, id)
	}
	m.Status = to
	if to == pb.MemberStatus_MEMBER_STATUS_REMOVED {
		m.ValidatorPower = 0
	}
	g.note(m, by, change)
	g.putMember(m)
	g.statusChanged = append(g.statusChanged, id)
	return nil
}

// applyAction makes the change act describes, or says why it does not
// apply. by is the proposal's id ("" when only checking).
func (g *govState) applyAction(act *pb.GovernanceAction, by string) error {
	switch a := act.Action.(type) {
	case *pb.GovernanceAction_AddMember:
		am := a.AddMember
		old, err := g.Member(am.Id)
		if err != nil {
			return err
		}
		if old != nil {
			return errf(CodeMemberExists, "add_member: member %q exists already (%v)", am.Id, old.Status)
		}
		m := &pb.Member{Id: am.Id, Class: am.Class, Name: am.Name, CountryCode: am.CountryCode,
			Roles:  append([]string(nil), am.Roles...),
			Status: pb.MemberStatus_MEMBER_STATUS_ACTIVE}
		if am.PointOfContact != nil {
			m.PointOfContact = proto.Clone(am.PointOfContact).(*pb.PointOfContact)
		}
		for _, pub := range am.PubKeys {
			k, err := g.newKey("add_member.pub_keys", pub)
			if err != nil {
				return err
			}
			m.Keys = append(m.Keys, k)
		}
		if len(am.ValidatorPubKey) > 0 {
			if err := g.checkValidatorKey("add_member.validator_pub_key", am.Id, am.ValidatorPubKey); err != nil {
				return err
			}
			m.ValidatorPubKey, m.ValidatorPower = append([]byte(nil), am.ValidatorPubKey...), am.ValidatorPower
		} else if am.ValidatorPower > 0 {
			return errf(CodeMissingField, "add_member.validator_pub_key is required with validator_power")
		}
		g.note(m, by, "admitted as "+enum.Name(am.Class))
		g.putMember(m)
	case *pb.GovernanceAction_SuspendMember:
		return g.setStatus("suspend_member", a.SuspendMember.Member, pb.MemberStatus_MEMBER_STATUS_ACTIVE,
			pb.MemberStatus_MEMBER_STATUS_SUSPENDED, by, "suspended")
	case *pb.GovernanceAction_ReinstateMember:
		return g.setStatus("reinstate_member", a.ReinstateMember.Member, pb.MemberStatus_MEMBER_STATUS_SUSPENDED,
			pb.MemberStatus_MEMBER_STATUS_ACTIVE, by, "reinstated")
	case *pb.GovernanceAction_RemoveMember:
		return g.setStatus("remove_member", a.RemoveMember.Member, pb.MemberStatus_MEMBER_STATUS_UNSPECIFIED,
			pb.MemberStatus_MEMBER_STATUS_REMOVED, by, "removed")
	case *pb.GovernanceAction_AddKey:
		m, err := g.existing("add_key.member", a.AddKey.Member)
		if err != nil {
			return err
		}
		if m.Status == pb.MemberStatus_MEMBER_STATUS_REMOVED {
			return errf(CodeWrongMemberStatus, "add_key: member %q was removed", m.Id)
		}
		k, err := g.newKey("add_key.pub_key", a.AddKey.PubKey)
		if err != nil {
			return err
		}
		m.Keys = append(m.Keys, k)
		g.note(m, by, "key "+k.KeyId+" added, valid from height "+itoa(k.ValidFromHeight))
		g.putMember(m)
	case *pb.GovernanceAction_RotateKey:
		rk := a.RotateKey
		m, err := g.existing("rotate_key.member", rk.Member)
		if err != nil {
			return err
		}
		if m.Status == pb.MemberStatus_MEMBER_STATUS_REMOVED {
			return errf(CodeWrongMemberStatus, "rotate_key: member %q was removed", m.Id)
		}
		old := findKey(m, rk.OldKeyId)
		if old == nil {
			return errf(CodeUnknownKey, "rotate_key.old_key_id: %q has no key %q", m.Id, rk.OldKeyId)
		}
		if old.Status != pb.KeyStatus_KEY_STATUS_ACTIVE {
			return errf(CodeKeyInactive, "rotate_key.old_key_id: key %q of %q is %v", rk.OldKeyId, m.Id, old.Status)
		}
		k, err := g.newKey("rotate_key.new_pub_key", rk.NewPubKey)
		if err != nil {
			return err
		}
		g.endKey(old, pb.KeyStatus_KEY_STATUS_ROTATED, by)
		m.Keys = append(m.Keys, k)
		g.note(m, by, "key "+old.KeyId+" rotated to "+k.KeyId+" (old key valid to height "+itoa(old.ValidUntilHeight)+
			", new from "+itoa(k.ValidFromHeight)+")")
		g.putMember(m)
	case *pb.GovernanceAction_RevokeKey:
		rk := a.RevokeKey
		m, err := g.existing("revoke_key.member", rk.Member)
		if err != nil {
			return err
		}
		return g.revoke(m, rk.KeyId, rk.CompromisedSinceHeight, rk.CompromisedSinceTime, by, "by vote")
	case *pb.GovernanceAction_SetValidator:
		sv := a.SetValidator
		m, err := g.existing("set_validator.member", sv.Member)
		if err != nil {
			return err
		}
		if m.Status == pb.MemberStatus_MEMBER_STATUS_REMOVED {
			return errf(CodeWrongMemberStatus, "set_validator: member %q was removed", m.Id)
		}
		if len(sv.ValidatorPubKey) > 0 {
			if err := g.checkValidatorKey("set_validator.validator_pub_key", m.Id, sv.ValidatorPubKey); err != nil {
				return err
			}
			m.ValidatorPubKey = append([]byte(nil), sv.ValidatorPubKey...)
		}
		if len(m.ValidatorPubKey) == 0 {
			return errf(CodeMissingField, "set_validator: %q has no validator key; give validator_pub_key", m.Id)
		}
		m.ValidatorPower = sv.Power
		g.note(m, by, "validator "+hex.EncodeToString(m.ValidatorPubKey)+" power set to "+itoa(sv.Power))
		g.putMember(m)
	case *pb.GovernanceAction_SetParams:
		g.params = proto.Clone(a.SetParams).(*pb.Params)
	case *pb.GovernanceAction_SetGovernanceRules:
		g.rules = proto.Clone(a.SetGovernanceRules).(*pb.GovernanceRules)
		g.rulesChanged = true
	case *pb.GovernanceAction_SoftwareUpgrade:
		return g.scheduleUpgrade(a.SoftwareUpgrade, by)
	default:
		return errf(CodeMissingField, "proposal.action is required")
	}
	return nil
}

// startPowers is the validator set at the start of the block.
func (g *govState) startPowers() (Powers, error) {
	if g.b.StartPowers != nil {
		return g.b.StartPowers, nil
	}
	members, err := g.State.Members()
	if err != nil {
		return nil, err
	}
	return PowersOf(members), nil
}

// propose records a new proposal and the duty of each elector to vote.
func (g *govState) propose(id, author string, p *pb.Proposal, ob *obligations) error {
	rules, err := g.GovernanceRules()
	if err != nil {
		return err
	}
	rule := RuleFor(rules, ActionOf(p.Action))
	members, err := g.Members()
	if err != nil {
		return err
	}
	electorate := Electorate(rule, members)
	ps := &pb.ProposalState{
		Id: id, Proposer: author, Action: ActionOf(p.Action), Title: p.Title, Deadline: timestamppb.New(p.Deadline.AsTime()),
		Rule: proto.Clone(rule).(*pb.ThresholdRule), Electorate: electorate,
		Tally:  &pb.Tally{Electorate: uint32(len(electorate)), NotVoted: uint32(len(electorate))},
		Status: pb.ProposalStatus_PROPOSAL_STATUS_VOTING, CreatedHeight: g.b.Height, CreatedAt: timestamppb.New(g.b.Time),
	}
	for _, e := range electorate {
		if err := ob.create(pb.ObligationKind_OBLIGATION_KIND_VOTE, id, e, []string{author}, p.Deadline.AsTime(), nil); err != nil {
			return err
		}
	}
	g.putProposal(ps)
	return nil
}

// vote records an elector's vote, meets its duty to vote and, while the
// proposal is undecided, re-counts it.
func (g *govState) vote(recordID, author string, v *pb.Vote, ob *obligations) error {
	p, err := g.Proposal(v.ProposalId)
	if err != nil {
		return err
	}
	if p == nil {
		return fmt.Errorf("proposal %s admitted the vote but is gone", v.ProposalId)
	}
	g.putVote(&pb.VoteState{ProposalId: p.Id, Elector: author, Option: v.Option, RecordId: recordID,
		Height: g.b.Height, Time: timestamppb.New(g.b.Time), Counted: p.Status == pb.ProposalStatus_PROPOSAL_STATUS_VOTING})
	if err := ob.fulfil(pb.ObligationKind_OBLIGATION_KIND_VOTE, p.Id, author); err != nil {
		return err
	}
	return g.recount(p, recordID, false, ob)
}

// recount re-tallies a proposal; an undecided one whose outcome is now
// certain is concluded (and executed if it passed).
func (g *govState) recount(p *pb.ProposalState, by string, final bool, ob *obligations) error {
	votes, err := g.Votes(p.Id)
	if err != nil {
		return err
	}
	if p.Status != pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
		// The tally is the one the decision was made on; later votes are
		// in the votes list (counted: false).
		return nil
	}
	t, err := CountVotes(p.Electorate, votes, g.active)
	if err != nil {
		return err
	}
	p = proto.Clone(p).(*pb.ProposalState)
	p.Tally = t
	status, why := Decide(p.Rule, t, final)
	if status == pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
		g.putProposal(p)
		return nil
	}
	return g.conclude(p, status, why, by, ob)
}

func (g *govState) active(id string) (bool, error) {
	m, err := g.Member(id)
	if err != nil {
		return false, err
	}
	return m != nil && m.Status == pb.MemberStatus_MEMBER_STATUS_ACTIVE, nil
}

// conclude decides p; a passed proposal's action is executed now, or the
// proposal fails if the action no longer applies.
func (g *govState) conclude(p *pb.ProposalState, status pb.ProposalStatus, why, by string, ob *obligations) error {
	p.Status, p.Outcome = status, why
	p.DecidedHeight, p.DecidedAt, p.DecidedBy = g.b.Height, timestamppb.New(g.b.Time), by
	switch status {
	case pb.ProposalStatus_PROPOSAL_STATUS_ABORTED:
		p.VotingClosed = true
		if err := g.waiveVotes(p, p.Electorate, by, ob); err != nil {
			return err
		}
	case pb.ProposalStatus_PROPOSAL_STATUS_PASSED:
		act, err := g.actionOf(p.Id)
		if err != nil {
			return err
		}
		start, err := g.startPowers()
		if err != nil {
			return err
		}
		f, err := g.forkAction(act, p.Id, start)
		if err != nil {
			if !IsRejection(err) {
				return err
			}
			p.Status = pb.ProposalStatus_PROPOSAL_STATUS_FAILED
			p.Outcome = why + "; not executed: " + err.Error()
		} else {
			g.merge(f)
			p.Outcome = why + "; executed at height " + itoa(g.b.Height)
		}
	}
	g.putProposal(p)
	return nil
}

// actionOf loads the action of proposal id from its record.
func (g *govState) actionOf(id string) (*pb.GovernanceAction, error) {
	rec, err := g.Record(id)
	if err != nil || rec == nil {
		return nil, fmt.Errorf("proposal record %s: %v", id, err)
	}
	tx := new(pb.Tx)
	if err := proto.Unmarshal(rec.Tx, tx); err != nil {
		return nil, fmt.Errorf("proposal record %s does not decode: %w", id, err)
	}
	p := tx.Body.GetRecord().GetProposal()
	if p == nil {
		return nil, fmt.Errorf("record %s is not a proposal", id)
	}
	return p.Action, nil
}

// waiveVotes releases the listed electors from voting on p (the proposal
// can no longer be voted on, or they left the electorate).
func (g *govState) waiveVotes(p *pb.ProposalState, electors []string, by string, ob *obligations) error {
	for _, e := range electors {
		ob2, err := ob.get(ObligationID(pb.ObligationKind_OBLIGATION_KIND_VOTE, p.Id, e))
		if err != nil {
			return err
		}
		if ob2 == nil || !Open(ob2) {
			continue
		}
		w := proto.Clone(ob2).(*pb.Obligation)
		w.Status = pb.ObligationStatus_OBLIGATION_STATUS_WAIVED
		w.StatusAt, w.StatusHeight, w.StatusRecord = timestamppb.New(g.b.Time), g.b.Height, by
		ob.put(w)
	}
	return nil
}

// cascade follows what executed actions did to other proposals: a rules
// change aborts every undecided proposal whose rule changed, and a member
// whose status changed is re-counted in (or out of) every undecided
// proposal it is an elector of. Each step may execute further proposals;
// it ends because every conclusion removes a proposal from the undecided.
func (g *govState) cascade(by string, ob *obligations) error {
	for g.rulesChanged || len(g.statusChanged) > 0 {
		rulesChanged, changed := g.rulesChanged, sortedUnique(g.statusChanged)
		g.rulesChanged, g.statusChanged = false, nil
		if len(changed) > 0 {
			if err := g.waiveLeavers(changed, by, ob); err != nil {
				return err
			}
		}
		undecided, err := g.UndecidedProposals()
		if err != nil {
			return err
		}
		var rules *pb.GovernanceRules
		if rulesChanged {
			if rules, err = g.GovernanceRules(); err != nil {
				return err
			}
		}
		for _, p := range undecided {
			// Earlier steps of this loop may have concluded it.
			cur, err := g.Proposal(p.Id)
			if err != nil {
				return err
			}
			if cur.Status != pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
				continue
			}
			if rulesChanged && !proto.Equal(cur.Rule, RuleFor(rules, cur.Action)) {
				if err := g.conclude(proto.Clone(cur).(*pb.ProposalState), pb.ProposalStatus_PROPOSAL_STATUS_ABORTED,
					"aborted: the governance rules for "+GovActionName(cur.Action)+" changed", by, ob); err != nil {
					return err
				}
				continue
			}
			touched := false
			for _, id := range changed {
				touched = touched || contains(cur.Electorate, id)
			}
			if touched {
				if err := g.recount(cur, by, false, ob); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// waiveLeavers releases electors that are no longer active (of the members
// in changed) from voting on every proposal still taking votes, decided or
// not: they cannot sign any more.
func (g *govState) waiveLeavers(changed []string, by string, ob *obligations) error {
	open, err := g.OpenProposalsDueBefore(time.Unix(MaxTimeSeconds, 0))
	if err != nil {
		return err
	}
	for _, p := range open {
		var left []string
		for _, id := range changed {
			if !contains(p.Electorate, id) {
				continue
			}
			ok, err := g.active(id)
			if err != nil {
				return err
			}
			if !ok {
				left = append(left, id)
			}
		}
		if err := g.waiveVotes(p, left, by, ob); err != nil {
			return err
		}
	}
	return nil
}

// applyRecord makes the governance changes of an admitted record.
func (g *govState) applyRecord(id, author string, r *pb.Record, ob *obligations) error {
	switch body := r.Body.(type) {
	case *pb.Record_Proposal:
		return g.propose(id, author, body.Proposal, ob)
	case *pb.Record_Vote:
		if err := g.vote(id, author, body.Vote, ob); err != nil {
			return err
		}
	case *pb.Record_KeyRevocation:
		kr := body.KeyRevocation
		m, err := g.existing("key_revocation.member", author)
		if err != nil {
			return err
		}
		if err := g.revoke(m, kr.KeyId, kr.CompromisedSinceHeight, kr.CompromisedSinceTime, id, "by its member"); err != nil {
			return err
		}
	default:
		return nil
	}
	return g.cascade(id, ob)
}

// closeDue closes voting on every proposal whose deadline block time has
// passed: an undecided one gets its final outcome (and is executed if it
// passed), the rest just stop taking votes.
func (g *govState) closeDue(ob *obligations) error {
	due, err := g.OpenProposalsDueBefore(g.b.Time)
	if err != nil {
		return err
	}
	for _, p := range due {
		cur, err := g.Proposal(p.Id)
		if err != nil {
			return err
		}
		if cur.Status == pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
			if err := g.recount(cur, "", true, ob); err != nil {
				return err
			}
			if cur, err = g.Proposal(p.Id); err != nil {
				return err
			}
		}
		cur = proto.Clone(cur).(*pb.ProposalState)
		cur.VotingClosed = true
		g.putProposal(cur)
		// Before the next due proposal is judged: a rules change aborts
		// it, a suspension counts its elector out, as if it had closed in
		// a later block.
		if err := g.cascade("", ob); err != nil {
			return err
		}
	}
	return nil
}
