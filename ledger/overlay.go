package ledger

import (
	"sort"
	"time"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Overlay is a State that layers the changes of not-yet-committed
// transactions over a committed view. CheckTx keeps one for the mempool;
// PrepareProposal and ProcessProposal build one per proposal so that they
// judge a block exactly as FinalizeBlock will. Governance keeps its own
// changes in one while it applies a record (govState), so there is one
// way to read through changes.
type Overlay struct {
	base        State
	seq         map[string]uint64
	records     map[string]*pb.StoredRecord
	content     map[string]bool
	obligations map[string]*pb.Obligation
	pledges     map[string][]*pb.StoredRecord
	members     map[string]*pb.Member
	proposals   map[string]*pb.ProposalState
	votes       map[string]*pb.VoteState
	rules       *pb.GovernanceRules
	upgrade     *pb.UpgradeState
	cases       map[string]*pb.CaseState
	added       uint64
}

// NewOverlay starts an empty overlay over base. Its maps are made on the
// first write (reads of a nil map find nothing): CheckTx makes an overlay
// for every transaction it judges, most of which write nothing to it.
func NewOverlay(base State) *Overlay { return &Overlay{base: base} }

// writable makes the maps before a write.
func (o *Overlay) writable() {
	if o.seq != nil {
		return
	}
	o.seq, o.records, o.content = map[string]uint64{}, map[string]*pb.StoredRecord{}, map[string]bool{}
	o.obligations, o.pledges = map[string]*pb.Obligation{}, map[string][]*pb.StoredRecord{}
	o.members, o.proposals, o.votes = map[string]*pb.Member{}, map[string]*pb.ProposalState{}, map[string]*pb.VoteState{}
	o.cases = map[string]*pb.CaseState{}
}

// Apply layers ch over the state. (Params are not layered: a block is
// judged with the params of its start.)
func (o *Overlay) Apply(ch *Changes) {
	o.writable()
	if r := ch.Record; r != nil {
		o.seq[r.Author] = ch.NextSequence
		o.records[r.Id] = r
		o.content[r.Author+"/"+string(ch.ContentHash[:])] = true
		for _, p := range ch.Pledgors {
			o.pledges[p] = append(o.pledges[p], r)
		}
		o.added++
	}
	for _, ob := range ch.Obligations {
		o.obligations[ob.Id] = ob
	}
	for _, m := range ch.Members {
		o.members[m.Id] = m
	}
	for _, p := range ch.Proposals {
		o.proposals[p.Id] = p
	}
	for _, v := range ch.Votes {
		o.votes[v.ProposalId+"/"+v.Elector] = v
	}
	for _, c := range ch.Cases {
		o.cases[c.Id] = c
	}
	if ch.GovernanceRules != nil {
		o.rules = ch.GovernanceRules
	}
	if ch.Upgrade != nil {
		o.upgrade = ch.Upgrade
	}
}

func (o *Overlay) Obligation(id string) (*pb.Obligation, error) {
	if ob, ok := o.obligations[id]; ok {
		return ob, nil
	}
	return o.base.Obligation(id)
}

func (o *Overlay) PledgesOf(m string) ([]*pb.StoredRecord, error) {
	base, err := o.base.PledgesOf(m)
	if err != nil {
		return nil, err
	}
	return append(base, o.pledges[m]...), nil
}

// OpenDueBefore is only used by BeginBlock, which runs first in a block, on
// an overlay with nothing layered yet.
func (o *Overlay) OpenDueBefore(t time.Time) ([]*pb.Obligation, error) {
	return o.base.OpenDueBefore(t)
}

func (o *Overlay) Member(id string) (*pb.Member, error) {
	if m, ok := o.members[id]; ok {
		return m, nil
	}
	return o.base.Member(id)
}

func (o *Overlay) Members() ([]*pb.Member, error) {
	base, err := o.base.Members()
	if err != nil {
		return nil, err
	}
	return mergeMembers(base, o.members), nil
}

func (o *Overlay) NextSequence(m string) (uint64, error) {
	if n, ok := o.seq[m]; ok {
		return n, nil
	}
	return o.base.NextSequence(m)
}

func (o *Overlay) Record(id string) (*pb.StoredRecord, error) {
	if r, ok := o.records[id]; ok {
		return r, nil
	}
	return o.base.Record(id)
}

func (o *Overlay) ContentSeen(author string, h [32]byte) (bool, error) {
	if o.content[author+"/"+string(h[:])] {
		return true, nil
	}
	return o.base.ContentSeen(author, h)
}

func (o *Overlay) RecordCount() (uint64, error) {
	n, err := o.base.RecordCount()
	return n + o.added, err
}

func (o *Overlay) GovernanceRules() (*pb.GovernanceRules, error) {
	if o.rules != nil {
		return o.rules, nil
	}
	return o.base.GovernanceRules()
}

func (o *Overlay) Upgrade() (*pb.UpgradeState, error) {
	if o.upgrade != nil {
		return o.upgrade, nil
	}
	return o.base.Upgrade()
}

func (o *Overlay) Proposal(id string) (*pb.ProposalState, error) {
	if p, ok := o.proposals[id]; ok {
		return p, nil
	}
	return o.base.Proposal(id)
}

func (o *Overlay) Case(id string) (*pb.CaseState, error) {
	if c, ok := o.cases[id]; ok {
		return c, nil
	}
	return o.base.Case(id)
}

func (o *Overlay) Vote(proposal, elector string) (*pb.VoteState, error) {
	if v, ok := o.votes[proposal+"/"+elector]; ok {
		return v, nil
	}
	return o.base.Vote(proposal, elector)
}

func (o *Overlay) Votes(proposal string) ([]*pb.VoteState, error) {
	base, err := o.base.Votes(proposal)
	if err != nil {
		return nil, err
	}
	return mergeVotes(base, o.votes, proposal), nil
}

func (o *Overlay) UndecidedProposals() ([]*pb.ProposalState, error) {
	base, err := o.base.UndecidedProposals()
	if err != nil {
		return nil, err
	}
	return mergeUndecided(base, o.proposals), nil
}

func (o *Overlay) OpenProposalsDueBefore(t time.Time) ([]*pb.ProposalState, error) {
	base, err := o.base.OpenProposalsDueBefore(t)
	if err != nil {
		return nil, err
	}
	return mergeDue(base, o.proposals, t), nil
}

// mergeDue overlays changed proposals on the open ones due before t
// (sorted by deadline, then id) and keeps those still open.
func mergeDue(base []*pb.ProposalState, changed map[string]*pb.ProposalState, t time.Time) []*pb.ProposalState {
	if len(changed) == 0 {
		return base
	}
	out := overlayEntries(base, changed, (*pb.ProposalState).GetId, func(p *pb.ProposalState) bool {
		return !p.VotingClosed && p.Deadline.AsTime().Before(t)
	})
	sort.Slice(out, func(i, j int) bool {
		di, dj := out[i].Deadline.AsTime(), out[j].Deadline.AsTime()
		if !di.Equal(dj) {
			return di.Before(dj)
		}
		return out[i].Id < out[j].Id
	})
	return out
}

// mergeMembers overlays changed members on a list sorted by id.
func mergeMembers(base []*pb.Member, changed map[string]*pb.Member) []*pb.Member {
	if len(changed) == 0 {
		return base
	}
	out := overlayEntries(base, changed, (*pb.Member).GetId, func(*pb.Member) bool { return true })
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
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

// mergeUndecided overlays changed proposals on the undecided ones (sorted by
// id) and keeps those still voting.
func mergeUndecided(base []*pb.ProposalState, changed map[string]*pb.ProposalState) []*pb.ProposalState {
	if len(changed) == 0 {
		return base
	}
	out := overlayEntries(base, changed, (*pb.ProposalState).GetId, func(p *pb.ProposalState) bool {
		return p.Status == pb.ProposalStatus_PROPOSAL_STATUS_VOTING
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

// overlayEntries overlays changed entries (keyed by id) on a list: the
// entries of base that did not change, then the changed ones keep accepts,
// unsorted (the caller sorts them).
func overlayEntries[T any](base []T, changed map[string]T, id func(T) string, keep func(T) bool) []T {
	var out []T
	for _, e := range base {
		if _, ok := changed[id(e)]; !ok {
			out = append(out, e)
		}
	}
	for _, e := range changed {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}
