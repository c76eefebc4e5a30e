package ledger

import (
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

// govState is the governance changes of one transaction (or one block
// start): an Overlay over the state, so that every read sees the changes
// made so far, plus what the overlay does not keep. Forks (an action tried
// or executed) are govStates over their parent's overlay.
type govState struct {
	*Overlay
	b Block
	// The overlay's members, proposals and votes in the order first
	// written: Changes lists them in that order.
	morder, porder, vorder []string
	// Params are not layered (a block is judged with the params of its
	// start); a set_params action only hands them on.
	params *pb.Params
	// Pending consequences of executed actions, for the cascade.
	statusChanged []string
	rulesChanged  bool
}

func newGovState(st State, b Block) *govState {
	return &govState{Overlay: NewOverlay(st), b: b}
}

func (g *govState) putMember(m *pb.Member) {
	g.writable()
	if _, ok := g.members[m.Id]; !ok {
		g.morder = append(g.morder, m.Id)
	}
	g.members[m.Id] = m
}

func (g *govState) putProposal(p *pb.ProposalState) {
	g.writable()
	if _, ok := g.proposals[p.Id]; !ok {
		g.porder = append(g.porder, p.Id)
	}
	g.proposals[p.Id] = p
}

func (g *govState) putVote(v *pb.VoteState) {
	g.writable()
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
