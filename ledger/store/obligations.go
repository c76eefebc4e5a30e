package store

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// WriteObligations stores obligations (new or changed) and keeps their
// indexes: debtor, creditor, pledge basis and due time never change; the
// status index and the open-by-due index follow the status.
func (s *Store) WriteObligations(obs []*pb.Obligation) error {
	for _, ob := range obs {
		key := layout.Obligation(ob.Id)
		due := ob.Due.AsTime().UnixNano()
		id := []byte(ob.Id)
		old := new(pb.Obligation)
		found, err := s.Working().getProto(key, old)
		if err != nil {
			return err
		}
		if p := s.pend; p != nil {
			if found {
				p.summary.Changed++
				p.summary.Obligations[old.Status]--
			}
			p.summary.Obligations[ob.Status]++
		}
		if found {
			if err := s.remove(layout.ObIndex(layout.ObStatusPrefix(layout.StatusName(old.Status)), due, ob.Id)); err != nil {
				return err
			}
		} else {
			if err := s.set(layout.ObIndex(layout.ObDebtorPrefix(ob.Debtor), due, ob.Id), id); err != nil {
				return err
			}
			for _, c := range ob.Creditors {
				if err := s.set(layout.ObIndex(layout.ObCreditorPrefix(c), due, ob.Id), id); err != nil {
					return err
				}
			}
			for _, b := range ob.Basis {
				if err := s.set(layout.ObIndex(layout.ObBasisPrefix(b), due, ob.Id), id); err != nil {
					return err
				}
			}
		}
		if err := s.setProto(key, ob); err != nil {
			return err
		}
		if err := s.set(layout.ObIndex(layout.ObStatusPrefix(layout.StatusName(ob.Status)), due, ob.Id), id); err != nil {
			return err
		}
	}
	return nil
}

// Obligation implements ledger.State.
func (v *View) Obligation(id string) (*pb.Obligation, error) {
	o := new(pb.Obligation)
	ok, err := v.getProto(layout.Obligation(id), o)
	if !ok || err != nil {
		return nil, err
	}
	return o, nil
}

// OpenDueBefore implements ledger.State: the status index of open
// obligations is ordered by due time.
func (v *View) OpenDueBefore(t time.Time) ([]*pb.Obligation, error) {
	start := layout.ObStatusPrefix(layout.StatusName(pb.ObligationStatus_OBLIGATION_STATUS_OPEN))
	end := layout.Cat(start, layout.Due(t.UnixNano()))
	it, err := v.r.Iterator(start, end, true)
	if err != nil {
		return nil, err
	}
	var ids []string
	for ; it.Valid(); it.Next() {
		ids = append(ids, string(it.Value()))
	}
	err = it.Error()
	it.Close()
	if err != nil {
		return nil, err
	}
	out := make([]*pb.Obligation, 0, len(ids))
	for _, id := range ids {
		o, err := v.Obligation(id)
		if err != nil {
			return nil, err
		}
		if o == nil {
			return nil, fmt.Errorf("open-due index names missing obligation %s", id)
		}
		out = append(out, o)
	}
	return out, nil
}

// ObligationFilter selects obligations; empty fields match everything.
type ObligationFilter struct {
	Debtor, Creditor, Pledge string
	Status                   pb.ObligationStatus
	DueBefore                time.Time
	// After continues from a previous page (the key suffix it returned).
	After []byte
	Limit int
	// MaxScan bounds the index entries one call examines (0:
	// DefaultMaxScan); at the limit the page ends early with the position
	// to continue after.
	MaxScan int
}

// Obligations lists obligations matching f, ordered by due time (then id)
// within the index scanned, and returns the position to continue after.
func (v *View) Obligations(f ObligationFilter) ([]*pb.Obligation, []byte, error) {
	limit := f.Limit
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	var prefix []byte
	switch {
	case f.Debtor != "":
		prefix = layout.ObDebtorPrefix(f.Debtor)
	case f.Creditor != "":
		prefix = layout.ObCreditorPrefix(f.Creditor)
	case f.Pledge != "":
		prefix = layout.ObBasisPrefix(f.Pledge)
	case f.Status != 0:
		prefix = layout.ObStatusPrefix(layout.StatusName(f.Status))
	default:
		prefix = []byte(layout.PrefixObligation)
	}
	start := prefix
	if len(f.After) > 0 {
		start = append(layout.Cat(prefix, f.After), 0)
	}
	end := layout.PrefixEnd(prefix)
	ordered := !bytes.Equal(prefix, []byte(layout.PrefixObligation))
	if ordered && !f.DueBefore.IsZero() {
		end = layout.Cat(prefix, layout.Due(f.DueBefore.UnixNano()))
	}
	it, err := v.r.Iterator(start, end, true)
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	maxScan := f.MaxScan
	if maxScan <= 0 {
		maxScan = DefaultMaxScan
	}
	var out []*pb.Obligation
	var last, examined []byte
	for scanned := 0; it.Valid(); it.Next() {
		if len(out) == limit {
			return out, last, nil
		}
		if scanned == maxScan {
			return out, examined, nil // the work limit: continue after the last entry examined
		}
		scanned++
		examined = append([]byte(nil), it.Key()[len(prefix):]...)
		var o *pb.Obligation
		if ordered {
			if o, err = v.Obligation(string(it.Value())); err != nil {
				return nil, nil, err
			}
		} else {
			o = new(pb.Obligation)
			if err := proto.Unmarshal(it.Value(), o); err != nil {
				return nil, nil, err
			}
		}
		if o == nil {
			return nil, nil, fmt.Errorf("obligation index %x names a missing obligation", it.Key())
		}
		if f.matches(o) {
			out = append(out, o)
			last = examined
		}
	}
	return out, nil, it.Error()
}

func (f ObligationFilter) matches(o *pb.Obligation) bool {
	if f.Debtor != "" && o.Debtor != f.Debtor {
		return false
	}
	if f.Creditor != "" && !slices.Contains(o.Creditors, f.Creditor) {
		return false
	}
	if f.Pledge != "" && !slices.Contains(o.Basis, f.Pledge) {
		return false
	}
	if f.Status != 0 && o.Status != f.Status {
		return false
	}
	return f.DueBefore.IsZero() || o.Due.AsTime().Before(f.DueBefore)
}

// AllObligations lists every obligation matching f (all pages).
func (v *View) AllObligations(f ObligationFilter) ([]*pb.Obligation, error) {
	return allPages(func(after []byte) ([]*pb.Obligation, []byte, error) {
		f.After = after
		return v.Obligations(f)
	}, f.After)
}

// allPages collects every page a listing gives, from the position after.
func allPages[T any](page func(after []byte) ([]T, []byte, error), after []byte) ([]T, error) {
	var out []T
	for {
		items, next, err := page(after)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == nil {
			return out, nil
		}
		after = next
	}
}
