package ledger

import (
	"fmt"
	"slices"
	"time"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Admission of the governance records against state.

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
	if !slices.Contains(p.Electorate, a.author) {
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
	k := findAnyKey(a.signer, kr.KeyId)
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
