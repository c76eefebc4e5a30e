package ledger

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The proposal lifecycle: a proposal is made with its electorate and the
// duty of each elector to vote, counted again at every vote and every
// change of an elector's status, concluded (and executed if it passed) as
// soon as its outcome is certain, and closed at its deadline.

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
	case *pb.Record_ContactUpdate, *pb.Record_DeliveryFailure, *pb.Record_PingAnswer:
		return g.directoryChange(id, author, r)
	case *pb.Record_Declaration:
		m, err := g.existing("declaration", author)
		if err != nil {
			return err
		}
		m.LastDeclaration = id
		g.putMember(m)
		return nil
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
				touched = touched || slices.Contains(cur.Electorate, id)
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
			if !slices.Contains(p.Electorate, id) {
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
