package app

import (
	"time"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// overlay is a ledger.State that layers the changes of not-yet-committed
// transactions over a committed view. CheckTx keeps one for the mempool;
// PrepareProposal and ProcessProposal build one per proposal so that they
// judge a block exactly as FinalizeBlock will.
type overlay struct {
	base        ledger.State
	seq         map[string]uint64
	records     map[string]*pb.StoredRecord
	content     map[string]bool
	obligations map[string]*pb.Obligation
	pledges     map[string][]*pb.StoredRecord
	added       uint64
}

func newOverlay(base ledger.State) *overlay {
	return &overlay{base: base, seq: map[string]uint64{}, records: map[string]*pb.StoredRecord{}, content: map[string]bool{},
		obligations: map[string]*pb.Obligation{}, pledges: map[string][]*pb.StoredRecord{}}
}

func (o *overlay) apply(ch *ledger.Changes) {
	o.seq[ch.Record.Author] = ch.NextSequence
	o.records[ch.Record.Id] = ch.Record
	o.content[ch.Record.Author+"/"+string(ch.ContentHash[:])] = true
	for _, ob := range ch.Obligations {
		o.obligations[ob.Id] = ob
	}
	for _, p := range ch.Pledgors {
		o.pledges[p] = append(o.pledges[p], ch.Record)
	}
	o.added++
}

func (o *overlay) Obligation(id string) (*pb.Obligation, error) {
	if ob, ok := o.obligations[id]; ok {
		return ob, nil
	}
	return o.base.Obligation(id)
}

func (o *overlay) PledgesOf(m string) ([]*pb.StoredRecord, error) {
	base, err := o.base.PledgesOf(m)
	if err != nil {
		return nil, err
	}
	return append(base, o.pledges[m]...), nil
}

// OpenDueBefore is only used by the overdue sweep, which runs in
// FinalizeBlock on the store itself, never on an overlay.
func (o *overlay) OpenDueBefore(t time.Time) ([]*pb.Obligation, error) {
	return o.base.OpenDueBefore(t)
}

func (o *overlay) Member(id string) (*pb.Member, error) { return o.base.Member(id) }

func (o *overlay) NextSequence(m string) (uint64, error) {
	if n, ok := o.seq[m]; ok {
		return n, nil
	}
	return o.base.NextSequence(m)
}

func (o *overlay) Record(id string) (*pb.StoredRecord, error) {
	if r, ok := o.records[id]; ok {
		return r, nil
	}
	return o.base.Record(id)
}

func (o *overlay) ContentSeen(author string, h [32]byte) (bool, error) {
	if o.content[author+"/"+string(h[:])] {
		return true, nil
	}
	return o.base.ContentSeen(author, h)
}

func (o *overlay) RecordCount() (uint64, error) {
	n, err := o.base.RecordCount()
	return n + o.added, err
}
