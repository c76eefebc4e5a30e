package store

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// writeGovernance stores the governance changes of one transaction or block
// start: members, proposals (with their status and deadline indexes),
// votes, params and rules.
func (s *Store) writeGovernance(ch *ledger.Changes) error {
	if len(ch.Members)+len(ch.Proposals)+len(ch.Votes) > 0 || ch.Params != nil || ch.Upgrade != nil || ch.GovernanceRules != nil {
		s.pend.summary.Governance = true
	}
	for _, m := range ch.Members {
		if err := s.setProto(layout.Member(m.Id), m); err != nil {
			return err
		}
	}
	for _, p := range ch.Proposals {
		if err := s.writeProposal(p); err != nil {
			return err
		}
	}
	for _, v := range ch.Votes {
		if err := s.setProto(layout.Vote(v.ProposalId, v.Elector), v); err != nil {
			return err
		}
	}
	if ch.Params != nil {
		if err := s.setProto([]byte(layout.KeyParams), ch.Params); err != nil {
			return err
		}
	}
	if ch.Upgrade != nil {
		if err := s.setProto([]byte(layout.KeyUpgrade), ch.Upgrade); err != nil {
			return err
		}
		next := ledger.AppVersionOf(ch.Upgrade)
		if s.appVersion < ledger.AppVersionContentIndexOff && next >= ledger.AppVersionContentIndexOff {
			// The upgrade's block: the duplicate-content index leaves the
			// state (it is kept beside it already).
			if err := s.dropContentKeys(); err != nil {
				return fmt.Errorf("upgrade to app version %d: %w", next, err)
			}
		}
		s.appVersion = next
	}
	if ch.GovernanceRules != nil {
		if err := s.setProto([]byte(layout.KeyGovernance), ch.GovernanceRules); err != nil {
			return err
		}
	}
	return nil
}

// writeProposal stores a proposal and moves its index entries: one under its
// status, one under its deadline while it takes votes.
func (s *Store) writeProposal(p *pb.ProposalState) error {
	key := layout.Proposal(p.Id)
	due := p.Deadline.AsTime().UnixNano()
	old := new(pb.ProposalState)
	found, err := s.Working().getProto(key, old)
	if err != nil {
		return err
	}
	if found {
		if old.Status != p.Status {
			if err := s.remove(layout.ProposalStatusIndex(layout.ProposalStatusName(old.Status), p.Id)); err != nil {
				return err
			}
		}
		if !old.VotingClosed && p.VotingClosed {
			if err := s.remove(layout.ProposalDue(due, p.Id)); err != nil {
				return err
			}
		}
	}
	if err := s.setProto(key, p); err != nil {
		return err
	}
	if !found || old.Status != p.Status {
		if err := s.set(layout.ProposalStatusIndex(layout.ProposalStatusName(p.Status), p.Id), []byte(p.Id)); err != nil {
			return err
		}
	}
	if !found && !p.VotingClosed {
		if err := s.set(layout.ProposalDue(due, p.Id), []byte(p.Id)); err != nil {
			return err
		}
	}
	return nil
}

// Upgrade implements ledger.State.
func (v *View) Upgrade() (*pb.UpgradeState, error) {
	us := new(pb.UpgradeState)
	ok, err := v.getProto([]byte(layout.KeyUpgrade), us)
	if err != nil || !ok {
		return nil, err
	}
	return us, nil
}

// GovernanceRules implements ledger.State.
func (v *View) GovernanceRules() (*pb.GovernanceRules, error) {
	r := new(pb.GovernanceRules)
	ok, err := v.getProto([]byte(layout.KeyGovernance), r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return ledger.DefaultGovernanceRules(), nil
	}
	return r, nil
}

// Proposal implements ledger.State.
func (v *View) Proposal(id string) (*pb.ProposalState, error) {
	if !ledger.IsRecordID(id) {
		return nil, nil
	}
	p := new(pb.ProposalState)
	ok, err := v.getProto(layout.Proposal(id), p)
	if !ok || err != nil {
		return nil, err
	}
	return p, nil
}

// Vote implements ledger.State.
func (v *View) Vote(proposal, elector string) (*pb.VoteState, error) {
	vs := new(pb.VoteState)
	ok, err := v.getProto(layout.Vote(proposal, elector), vs)
	if !ok || err != nil {
		return nil, err
	}
	return vs, nil
}

// Votes implements ledger.State: a proposal's votes by elector.
func (v *View) Votes(proposal string) ([]*pb.VoteState, error) {
	p := layout.VotePrefix(proposal)
	out, _, err := scan(v, p, p, layout.PrefixEnd(p), 0, func(k, val []byte) (*pb.VoteState, error) {
		vs := new(pb.VoteState)
		if err := proto.Unmarshal(val, vs); err != nil {
			return nil, fmt.Errorf("decode vote %x: %w", k, err)
		}
		return vs, nil
	})
	return out, err
}

// scan reads the entries from start to end (under prefix) in key order
// with read, stopping at limit (0: no limit). When it stops early it
// returns the key suffix, after prefix, to continue after.
func scan[T any](v *View, prefix, start, end []byte, limit int, read func(key, value []byte) (T, error)) ([]T, []byte, error) {
	it, err := v.r.Iterator(start, end, true)
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	var out []T
	var last []byte
	for ; it.Valid(); it.Next() {
		if limit > 0 && len(out) == limit {
			return out, last, nil
		}
		e, err := read(it.Key(), it.Value())
		if err != nil {
			return nil, nil, err
		}
		out = append(out, e)
		if limit > 0 {
			last = append([]byte(nil), it.Key()[len(prefix):]...)
		}
	}
	return out, nil, it.Error()
}

// proposalsUnder loads the proposals a g/s/ or g/d/ index names, in key
// order (see scan).
func (v *View) proposalsUnder(prefix, start, end []byte, limit int) ([]*pb.ProposalState, []byte, error) {
	return scan(v, prefix, start, end, limit, func(k, val []byte) (*pb.ProposalState, error) {
		id := string(val)
		p, err := v.Proposal(id)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, fmt.Errorf("proposal index %x names missing proposal %s", k, id)
		}
		return p, nil
	})
}

// UndecidedProposals implements ledger.State.
func (v *View) UndecidedProposals() ([]*pb.ProposalState, error) {
	p := layout.ProposalStatusPrefix(layout.ProposalStatusName(pb.ProposalStatus_PROPOSAL_STATUS_VOTING))
	out, _, err := v.proposalsUnder(p, p, layout.PrefixEnd(p), 0)
	return out, err
}

// OpenProposalsDueBefore implements ledger.State.
func (v *View) OpenProposalsDueBefore(t time.Time) ([]*pb.ProposalState, error) {
	p := []byte(layout.PrefixProposalDue)
	out, _, err := v.proposalsUnder(p, p, layout.Cat(p, layout.Due(t.UnixNano())), 0)
	return out, err
}

// ProposalFilter selects proposals: by status, or all (in id order).
type ProposalFilter struct {
	Status pb.ProposalStatus
	After  []byte
	Limit  int
}

// Proposals lists proposals matching f and the position to continue after.
func (v *View) Proposals(f ProposalFilter) ([]*pb.ProposalState, []byte, error) {
	limit := f.Limit
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	if f.Status == 0 {
		p := []byte(layout.PrefixProposal)
		start := p
		if len(f.After) > 0 {
			start = append(layout.Cat(p, f.After), 0)
		}
		return scan(v, p, start, layout.PrefixEnd(p), limit, func(k, val []byte) (*pb.ProposalState, error) {
			ps := new(pb.ProposalState)
			if err := proto.Unmarshal(val, ps); err != nil {
				return nil, fmt.Errorf("decode proposal %x: %w", k, err)
			}
			return ps, nil
		})
	}
	p := layout.ProposalStatusPrefix(layout.ProposalStatusName(f.Status))
	start := p
	if len(f.After) > 0 {
		start = append(layout.Cat(p, f.After), 0)
	}
	return v.proposalsUnder(p, start, layout.PrefixEnd(p), limit)
}
