package store

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// writeCase stores a case and keeps its indexes: one entry under its stage
// (moved when the stage changes) and one under each party (written once:
// a case's parties never change).
func (s *Store) writeCase(c *pb.CaseState) error {
	key := layout.Case(c.Id)
	old := new(pb.CaseState)
	found, err := s.Working().getProto(key, old)
	if err != nil {
		return err
	}
	if found && old.Stage != c.Stage {
		if err := s.remove(layout.CaseStageIndex(layout.CaseStageName(old.Stage), c.Id)); err != nil {
			return err
		}
	}
	if err := s.setProto(key, c); err != nil {
		return err
	}
	if !found || old.Stage != c.Stage {
		if err := s.set(layout.CaseStageIndex(layout.CaseStageName(c.Stage), c.Id), []byte(c.Id)); err != nil {
			return err
		}
	}
	if !found {
		for _, p := range ledger.CaseParties(c) {
			if err := s.set(layout.CasePartyIndex(p, c.Id), []byte(c.Id)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Case implements ledger.State.
func (v *View) Case(id string) (*pb.CaseState, error) {
	if !ledger.IsRecordID(id) {
		return nil, nil
	}
	c := new(pb.CaseState)
	ok, err := v.getProto(layout.Case(id), c)
	if err != nil || !ok {
		return nil, err
	}
	return c, nil
}

// CaseFilter selects cases: of a party, at a stage, or all (by id).
type CaseFilter struct {
	Party string
	Stage pb.CaseStage
	After []byte
	Limit int
}

// Cases lists cases matching f (by id within the index) and the position
// to continue after.
func (v *View) Cases(f CaseFilter) ([]*pb.CaseState, []byte, error) {
	limit := f.Limit
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	var p []byte
	switch {
	case f.Party != "":
		p = layout.CasePartyPrefix(f.Party)
	case f.Stage != 0:
		p = layout.CaseStagePrefix(layout.CaseStageName(f.Stage))
	default:
		p = []byte(layout.PrefixCase)
	}
	start := p
	if len(f.After) > 0 {
		start = append(layout.Cat(p, f.After), 0)
	}
	index := f.Party != "" || f.Stage != 0
	out, next, err := scan(v, p, start, layout.PrefixEnd(p), limit, func(k, val []byte) (*pb.CaseState, error) {
		if !index {
			c := new(pb.CaseState)
			if err := proto.Unmarshal(val, c); err != nil {
				return nil, fmt.Errorf("decode case %x: %w", k, err)
			}
			return c, nil
		}
		c, err := v.Case(string(val))
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, fmt.Errorf("case index %x names missing case %s", k, val)
		}
		return c, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if f.Party != "" && f.Stage != 0 {
		kept := out[:0]
		for _, c := range out {
			if c.Stage == f.Stage {
				kept = append(kept, c)
			}
		}
		out = kept
	}
	return out, next, nil
}

// AllCases lists every case f selects, across pages.
func (v *View) AllCases(f CaseFilter) ([]*pb.CaseState, error) {
	return allPages(func(after []byte) ([]*pb.CaseState, []byte, error) {
		f.After = after
		return v.Cases(f)
	}, f.After)
}
