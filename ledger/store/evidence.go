package store

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Validator misbehaviour committed by consensus: e/<height>/<index>, and
// under eb/<member>/ the member's.

func (s *Store) writeEvidence(evs []*pb.Evidence) error {
	for _, ev := range evs {
		h, i, ok := layout.ParseEvidenceID(ev.Id)
		if !ok {
			return fmt.Errorf("evidence id %q", ev.Id)
		}
		if err := s.setProto(layout.Evidence(h, i), ev); err != nil {
			return err
		}
		if ev.Member != "" {
			if err := s.set(layout.EvidenceMember(ev.Member, h, i), []byte{1}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Evidence returns the evidence with id, or nil.
func (v *View) Evidence(id string) (*pb.Evidence, error) {
	h, i, ok := layout.ParseEvidenceID(id)
	if !ok {
		return nil, nil
	}
	return v.evidenceAt(layout.Evidence(h, i))
}

func (v *View) evidenceAt(k []byte) (*pb.Evidence, error) {
	bz, err := v.Get(k)
	if err != nil || bz == nil {
		return nil, err
	}
	ev := new(pb.Evidence)
	if err := proto.Unmarshal(bz, ev); err != nil {
		return nil, fmt.Errorf("%w: evidence %x: %v", ErrDamaged, k, err)
	}
	return ev, nil
}

// EvidenceList lists the evidence committed so far (of member, if not
// empty), newest first.
func (v *View) EvidenceList(member string) ([]*pb.Evidence, error) {
	prefix := []byte(layout.PrefixEvidence)
	if member != "" {
		prefix = layout.EvidenceMemberPrefix(member)
	}
	it, err := v.r.Iterator(prefix, layout.PrefixEnd(prefix), false)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []*pb.Evidence
	for ; it.Valid(); it.Next() {
		k := it.Key()
		if member == "" {
			ev := new(pb.Evidence)
			if err := proto.Unmarshal(it.Value(), ev); err != nil {
				return nil, fmt.Errorf("%w: evidence %x: %v", ErrDamaged, k, err)
			}
			out = append(out, ev)
			continue
		}
		ev, err := v.evidenceAt(layout.Cat([]byte(layout.PrefixEvidence), k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		if ev == nil {
			return nil, fmt.Errorf("%w: evidence index %x points at nothing", ErrDamaged, k)
		}
		out = append(out, ev)
	}
	return out, it.Error()
}
