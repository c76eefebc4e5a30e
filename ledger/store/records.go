package store

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// loadSeen fills the duplicate-content filter from the content index.
func (s *Store) loadSeen() error {
	start := []byte(layout.PrefixContent)
	it, err := s.index.Iterator(start, layout.PrefixEnd(start))
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		k := it.Key()
		if len(k) < len(start)+1+32 {
			return fmt.Errorf("content index key %x is malformed", k)
		}
		var h [32]byte
		copy(h[:], k[len(k)-32:])
		s.seen.add(string(k[len(start):len(k)-33]), h)
	}
	return it.Error()
}

// writeRecord appends the record's transaction to the log and writes its
// one per-record state entry (i/<id>; below app version 7 also
// h/<author>/<content>); the author's sequence and the list indexes are
// written once per block (see pendingBlock), the duplicate-content index
// beside the state after the commit (contentindex.go).
func (s *Store) writeRecord(ch *ledger.Changes) error {
	r := ch.Record
	idKey, err := layout.ID(r.Id)
	if err != nil {
		return err
	}
	idx, err := s.rlog.Append(r.Tx)
	if err != nil {
		return fmt.Errorf("append record %d to the log: %w", r.Seq, err)
	}
	if idx+1 != r.Seq {
		return fmt.Errorf("record %s has seq %d but is log entry %d", r.Id, r.Seq, idx)
	}
	ref := &pb.RecordRef{Seq: r.Seq, Height: r.Height, BlockTime: r.BlockTime, TxIndex: r.TxIndex, Kind: r.Kind, Author: r.Author}
	if err := s.setProto(idKey, ref); err != nil {
		return err
	}
	content := layout.Content(r.Author, ch.ContentHash)
	if s.appVersion < ledger.AppVersionContentIndexOff {
		if err := s.set(content, idKey[len(layout.PrefixID):]); err != nil {
			return err
		}
	}
	p := s.pend
	if p.height != r.Height {
		return fmt.Errorf("record %s is of height %d, the open block is %d", r.Id, r.Height, p.height)
	}
	p.content[string(content)] = r.Seq
	p.summary.Records[kindName(r.Kind)]++
	p.seqs[r.Author] = ch.NextSequence
	p.add(layout.IndexKind, kindName(r.Kind), r.Seq)
	p.add(layout.IndexAuthor, r.Author, r.Seq)
	for _, sub := range ch.Subjects {
		p.add(layout.IndexSubject, sub, r.Seq)
	}
	for _, sec := range ch.Sectors {
		p.add(layout.IndexSector, layout.SectorName(sec), r.Seq)
	}
	for _, ref := range ch.References {
		p.add(layout.IndexRef, ref, r.Seq)
	}
	for _, pl := range ch.Pledgors {
		p.add(layout.IndexPledge, pl, r.Seq)
	}
	s.seen.add(r.Author, ch.ContentHash)
	s.count.Store(r.Seq)
	return nil
}

// pendingBlock holds the state writes a block makes once, however many of
// its records cause them: each author's next sequence and one list-index
// entry per (index value, block). finishBlock writes them, in key order,
// before the block's app hash is computed.
type pendingBlock struct {
	height int64
	seqs   map[string]uint64
	index  map[string][]byte // key x/<index>/<value>/<height> -> seqs
	// content holds the block's duplicate-content index entries
	// (h/<author>/<hash> -> seq), written beside the state after Commit.
	content map[string]uint64
	// summary is what the block changed.
	summary BlockSummary
}

func (p *pendingBlock) add(index, value string, seq uint64) {
	k := string(layout.Index(index, value, p.height))
	p.index[k] = layout.AppendSeq(p.index[k], seq)
}

func newPendingBlock(height int64) *pendingBlock {
	return &pendingBlock{height: height, seqs: map[string]uint64{}, index: map[string][]byte{}, content: map[string]uint64{},
		summary: BlockSummary{Records: map[string]int64{}, Obligations: map[pb.ObligationStatus]int64{}}}
}

// finishBlock writes the pending block's entries and the log's new size
// and root (meta/log).
func (s *Store) finishBlock() error {
	p := s.pend
	s.pend = nil
	if p != nil {
		authors := make([]string, 0, len(p.seqs))
		for a := range p.seqs {
			authors = append(authors, a)
		}
		sort.Strings(authors)
		for _, a := range authors {
			if err := s.set(layout.Sequence(a), layout.U64(p.seqs[a])); err != nil {
				return err
			}
		}
		ks := make([]string, 0, len(p.index))
		for k := range p.index {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			if err := s.set([]byte(k), p.index[k]); err != nil {
				return err
			}
		}
	}
	if size := s.rlog.Size(); size != s.logWritten {
		if err := s.set([]byte(layout.KeyLog), layout.LogState(size, s.rlog.Root())); err != nil {
			return err
		}
		s.logWritten = size
	}
	return nil
}

func kindName(k pb.RecordKind) string {
	return ledger.KindNameOf(k)
}

// RecordRef returns record id's state entry, or nil.
func (v *View) RecordRef(id string) (*pb.RecordRef, error) {
	k, err := layout.ID(id)
	if err != nil {
		return nil, nil //nolint:nilerr // a malformed id names no record
	}
	ref := new(pb.RecordRef)
	ok, err := v.getProto(k, ref)
	if !ok || err != nil {
		return nil, err
	}
	return ref, nil
}

// Record implements ledger.State.
func (v *View) Record(id string) (*pb.StoredRecord, error) {
	ref, err := v.RecordRef(id)
	if ref == nil || err != nil {
		return nil, err
	}
	tx, err := v.entry(ref.Seq)
	if err != nil {
		return nil, err
	}
	if ledger.RecordID(tx) != id {
		return nil, fmt.Errorf("%w: log entry %d is not record %s", ErrDamaged, ref.Seq-1, id)
	}
	return stored(id, ref, tx), nil
}

func stored(id string, ref *pb.RecordRef, tx []byte) *pb.StoredRecord {
	return &pb.StoredRecord{Id: id, Seq: ref.Seq, Height: ref.Height, BlockTime: ref.BlockTime, TxIndex: ref.TxIndex,
		Kind: ref.Kind, Author: ref.Author, Tx: tx}
}

// entry is the transaction of record seq from the log.
func (v *View) entry(seq uint64) ([]byte, error) {
	n, err := v.RecordCount()
	if err != nil {
		return nil, err
	}
	if seq < 1 || seq > n {
		return nil, fmt.Errorf("record %d is beyond the log of %d at this height", seq, n)
	}
	return v.log.Entry(seq - 1)
}

// RecordBySeq returns the record at ledger position seq, or nil.
func (v *View) RecordBySeq(seq uint64) (*pb.StoredRecord, error) {
	n, err := v.RecordCount()
	if err != nil || seq < 1 || seq > n {
		return nil, err
	}
	tx, err := v.log.Entry(seq - 1)
	if err != nil {
		return nil, err
	}
	id := ledger.RecordID(tx)
	ref, err := v.RecordRef(id)
	if err != nil {
		return nil, err
	}
	if ref == nil || ref.Seq != seq {
		return nil, fmt.Errorf("%w: log entry %d (record %s) has no matching state entry", ErrDamaged, seq-1, id)
	}
	return stored(id, ref, tx), nil
}

// ContentSeen implements ledger.State.
func (v *View) ContentSeen(author string, h [32]byte) (bool, error) {
	if v.seen != nil && !v.seen.mayHold(author, h) {
		return false, nil
	}
	k := string(layout.Content(author, h))
	if p := v.pending(); p != nil {
		if _, ok := p.content[k]; ok {
			return true, nil
		}
	}
	if v.work != nil {
		if _, ok := v.work.unindexed[k]; ok {
			return true, nil
		}
	}
	n, err := v.RecordCount()
	if err != nil {
		return false, err
	}
	return seenIn(v.index, author, h, n)
}

// RecordCount implements ledger.State: the log's size at this height
// (meta/log), which every record extends by one.
func (v *View) RecordCount() (uint64, error) {
	if v.count != nil {
		return v.count.Load(), nil
	}
	if v.imm != nil {
		v.countOnce.Do(func() { v.countMemo, _, v.countErr = v.LogState() })
		return v.countMemo, v.countErr
	}
	n, _, err := v.LogState()
	return n, err
}

// LogState is the record log's size and root at this height (meta/log).
func (v *View) LogState() (uint64, []byte, error) {
	bz, err := v.r.Get([]byte(layout.KeyLog))
	if err != nil {
		return 0, nil, err
	}
	if bz == nil {
		return 0, nil, fmt.Errorf("%w: no %s entry (a state of an app version before 4?)", ErrDamaged, layout.KeyLog)
	}
	size, root, err := layout.ParseLogState(bz)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return size, root, nil
}

// PledgesOf implements ledger.State.
func (v *View) PledgesOf(member string) ([]*pb.StoredRecord, error) {
	return v.recordsUnder(layout.IndexPrefix(layout.IndexPledge, member))
}

// ReferringTo lists the records that refer to record id, in ledger order.
func (v *View) ReferringTo(id string) ([]*pb.StoredRecord, error) {
	return v.recordsUnder(layout.IndexPrefix(layout.IndexRef, id))
}

// recordsUnder loads every record of an index value, in ledger order.
func (v *View) recordsUnder(prefix []byte) ([]*pb.StoredRecord, error) {
	var out []*pb.StoredRecord
	err := v.scanIndex(prefix, 0, func(_ []byte, seqs []uint64) (bool, error) {
		for _, seq := range seqs {
			r, err := v.RecordBySeq(seq)
			if err != nil {
				return false, err
			}
			if r == nil {
				return false, fmt.Errorf("index %q points at missing record %d", prefix, seq)
			}
			out = append(out, r)
		}
		return true, nil
	})
	return out, err
}

// scanIndex calls fn with each entry of an index value (key and seqs), in
// height order, from the entry of height from on, until fn returns false.
// The working state's view includes the block being written.
func (v *View) scanIndex(prefix []byte, from int64, fn func(key []byte, seqs []uint64) (bool, error)) error {
	it, err := v.r.Iterator(layout.Cat(prefix, layout.U64(uint64(from))), layout.PrefixEnd(prefix), true)
	if err != nil {
		return err
	}
	for ; it.Valid(); it.Next() {
		seqs, err := layout.Seqs(it.Value())
		if err != nil {
			it.Close()
			return fmt.Errorf("index entry %x: %w", it.Key(), err)
		}
		more, err := fn(append([]byte(nil), it.Key()...), seqs)
		if err != nil || !more {
			it.Close()
			return err
		}
	}
	err = it.Error()
	it.Close()
	if err != nil {
		return err
	}
	if p := v.pending(); p != nil && p.height >= from {
		k := layout.Cat(prefix, layout.U64(uint64(p.height)))
		if val, ok := p.index[string(k)]; ok {
			seqs, _ := layout.Seqs(val)
			_, err := fn(k, seqs)
			return err
		}
	}
	return nil
}

// inIndex reports whether record seq of block height is under an index value.
func (v *View) inIndex(index, value string, height int64, seq uint64) (bool, error) {
	k := layout.Index(index, value, height)
	var val []byte
	if p := v.pending(); p != nil && p.height == height {
		val = p.index[string(k)]
	} else {
		bz, err := v.r.Get(k)
		if err != nil {
			return false, err
		}
		val = bz
	}
	for i := 0; i+8 <= len(val); i += 8 {
		if bytes.Equal(val[i:i+8], layout.U64(seq)) {
			return true, nil
		}
	}
	return false, nil
}

// Filter selects records; empty fields match everything.
type Filter struct {
	Kind, Author, Subject, Sector string
	// After is the ledger sequence to continue after (0 = from the start).
	After uint64
	Limit int
	// From and To bound block time when HasFrom / HasTo: From <= t < To
	// (a zero time is a bound like any other). Block times never decrease
	// along the ledger, so To ends the scan.
	From, To       time.Time
	HasFrom, HasTo bool
	// MaxScan bounds the records one call examines (0: DefaultMaxScan):
	// when it is reached the page ends early, with Next set to continue
	// after the last record examined.
	MaxScan int
}

// DefaultMaxScan is the work limit of one listing call.
const DefaultMaxScan = 5000

// MaxPageSize caps List.
const MaxPageSize = 200

// Page is one page of a listing.
type Page struct {
	Records []*pb.StoredRecord
	// Next is the sequence to pass as After for the next page (0: none).
	Next uint64
	// Index, Start and Entries describe how the page was read, for its
	// completeness proof: the index prefix scanned (nil: the log itself),
	// the key the scan started at and the index entries it read, in order.
	// Complete says the page is provably complete (one index or none, no
	// time bounds).
	Index    []byte
	Start    []byte
	Entries  [][]byte
	Complete bool
	// Truncated says the page ended at the work limit (MaxScan), not at
	// its size or the end of the listing; Next continues it.
	Truncated bool
}

// List returns records matching f in ledger order, and the sequence to pass
// as After for the next page (0 when there is none).
func (v *View) List(f Filter) ([]*pb.StoredRecord, uint64, error) {
	p, err := v.ListPage(f)
	if err != nil {
		return nil, 0, err
	}
	return p.Records, p.Next, nil
}

// ListPage is List with what a completeness proof needs. It scans the most
// selective index the filter names (the log when it names none) and checks
// the others per record.
func (v *View) ListPage(f Filter) (*Page, error) {
	limit := f.Limit
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	page := &Page{}
	index, value, named := layout.ListIndex(f.Sector, f.Kind, f.Author, f.Subject)
	page.Complete = named <= 1 && !f.HasFrom && !f.HasTo
	maxScan := f.MaxScan
	if maxScan <= 0 {
		maxScan = DefaultMaxScan
	}
	scanned := 0
	// take adds a candidate; false ends the scan.
	take := func(r *pb.StoredRecord) (bool, error) {
		if scanned == maxScan {
			// Work limit: continue after the last record examined.
			page.Next = r.Seq - 1
			page.Truncated = true
			return false, nil
		}
		scanned++
		bt := r.BlockTime.AsTime()
		if f.HasTo && !bt.Before(f.To) {
			return false, nil
		}
		if f.HasFrom && bt.Before(f.From) {
			return true, nil
		}
		ok, err := v.matches(r, f)
		if err != nil || !ok {
			return err == nil, err
		}
		if len(page.Records) == limit {
			page.Next = page.Records[len(page.Records)-1].Seq
			return false, nil
		}
		page.Records = append(page.Records, r)
		return true, nil
	}
	if named == 0 {
		n, err := v.RecordCount()
		if err != nil {
			return nil, err
		}
		for seq := f.After + 1; seq <= n; seq++ {
			r, err := v.RecordBySeq(seq)
			if err != nil {
				return nil, err
			}
			if r == nil {
				return nil, fmt.Errorf("%w: record %d of %d is missing", ErrDamaged, seq, n)
			}
			more, err := take(r)
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
		}
		return page, nil
	}
	page.Index = layout.IndexPrefix(index, value)
	var from int64
	if f.After > 0 {
		r, err := v.RecordBySeq(f.After)
		if err != nil {
			return nil, err
		}
		if r != nil {
			from = r.Height
		}
	}
	page.Start = layout.Cat(page.Index, layout.U64(uint64(from)))
	err := v.scanIndex(page.Index, from, func(k []byte, seqs []uint64) (bool, error) {
		page.Entries = append(page.Entries, k)
		for _, seq := range seqs {
			if seq <= f.After {
				continue
			}
			r, err := v.RecordBySeq(seq)
			if err != nil {
				return false, err
			}
			if r == nil {
				return false, fmt.Errorf("index entry %x points at missing record %d", k, seq)
			}
			more, err := take(r)
			if err != nil || !more {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

func (v *View) matches(r *pb.StoredRecord, f Filter) (bool, error) {
	if f.Kind != "" && kindName(r.Kind) != f.Kind {
		return false, nil
	}
	if f.Author != "" && r.Author != f.Author {
		return false, nil
	}
	if f.Subject != "" {
		if ok, err := v.inIndex(layout.IndexSubject, f.Subject, r.Height, r.Seq); !ok || err != nil {
			return false, err
		}
	}
	if f.Sector != "" {
		if ok, err := v.inIndex(layout.IndexSector, f.Sector, r.Height, r.Seq); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// AllRecords lists every record matching f (all pages).
func (v *View) AllRecords(f Filter) ([]*pb.StoredRecord, error) {
	var out []*pb.StoredRecord
	for {
		page, next, err := v.List(f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == 0 {
			return out, nil
		}
		f.After = next
	}
}
