package store

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ProofOf proves key in this committed view: its value and ICS23 existence
// proof, or its ICS23 absence proof. The value is the one the existence
// proof carries (IAVL's leaf), so the tree is not read for it again.
func (v *View) ProofOf(key []byte) (*pb.Proof, error) {
	p, err := v.Proof(key)
	if err != nil {
		return nil, fmt.Errorf("prove %x: %w", key, err)
	}
	bz, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	exist := p.GetExist()
	return &pb.Proof{Key: key, Value: exist.GetValue(), Proof: bz, Exists: exist != nil}, nil
}

// logProof proves meta/log in this view: the same proof for every read at
// one height, so the store keeps it for its last few versions.
func (v *View) logProof() (*pb.Proof, error) {
	if v.imm == nil || v.shared == nil {
		return v.ProofOf([]byte(layout.KeyLog))
	}
	if p := v.shared.get(v.version); p != nil {
		return p, nil
	}
	p, err := v.ProofOf([]byte(layout.KeyLog))
	if err != nil {
		return nil, err
	}
	v.shared.put(v.version, p)
	return p, nil
}

// heightCache keeps what every read at one height shares (the meta/log
// proof) for the newest few heights. The proofs are shared: callers must
// not modify them.
type heightCache struct {
	mu sync.Mutex
	m  map[int64]*pb.Proof
}

// heightCacheSize is how many heights heightCache keeps.
const heightCacheSize = 8

func (c *heightCache) get(h int64) *pb.Proof {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[h]
}

func (c *heightCache) put(h int64, p *pb.Proof) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[int64]*pb.Proof{}
	}
	if len(c.m) >= heightCacheSize {
		oldest := h
		for k := range c.m {
			oldest = min(oldest, k)
		}
		if oldest == h {
			return // older than everything kept
		}
		delete(c.m, oldest)
	}
	c.m[h] = p
}

// RecordWithProofs reads record id (nil if absent) and, with prove, the
// proofs of that answer against this view's root: of the i/<id> entry (the
// record's RecordRef, or its absence) and, for a record present, of
// meta/log and of the record's inclusion in that log. The ABCI /record
// query and the API's GetRecord both answer from here, so that the two
// prove a record alike (docs/proofs.md).
func (v *View) RecordWithProofs(id string, prove bool) (*pb.StoredRecord, []*pb.Proof, *pb.LogInclusion, error) {
	rec, err := v.Record(id)
	if err != nil || !prove {
		return rec, nil, nil, err
	}
	idKey, err := layout.ID(id)
	if err != nil {
		return nil, nil, nil, err
	}
	entry, err := v.ProofOf(idKey)
	if err != nil {
		return nil, nil, nil, err
	}
	if rec == nil {
		return nil, []*pb.Proof{entry}, nil, nil
	}
	logState, err := v.logProof()
	if err != nil {
		return nil, nil, nil, err
	}
	index, hashes, err := v.Inclusion(rec.Seq)
	if err != nil {
		return nil, nil, nil, err
	}
	return rec, []*pb.Proof{entry, logState}, &pb.LogInclusion{LogIndex: index, Hashes: hashes}, nil
}

// ProveList attaches a listing's proofs (docs/proofs.md): meta/log, each
// record's RecordRef and log inclusion, and for a listing by one index the
// walk over the index's keys that shows no entry was left out.
func (v *View) ProveList(page *Page, out *pb.ListRecordsResponse) error {
	var err error
	if out.LogProof, err = v.logProof(); err != nil {
		return err
	}
	for _, r := range page.Records {
		idKey, err := layout.ID(r.Id)
		if err != nil {
			return err
		}
		p, err := v.ProofOf(idKey)
		if err != nil {
			return err
		}
		out.Proofs = append(out.Proofs, p)
		index, hashes, err := v.Inclusion(r.Seq)
		if err != nil {
			return err
		}
		out.Inclusions = append(out.Inclusions, &pb.LogInclusion{LogIndex: index, Hashes: hashes})
	}
	if !page.Complete || page.Index == nil {
		return nil
	}
	// The start key proves itself (an entry) or its right neighbour (the
	// first entry, or the end of the index); each further proof is of the
	// key just after an entry, whose right neighbour is the next entry.
	walk := [][]byte{page.Start}
	entries := page.Entries
	if len(entries) > 0 && bytes.Equal(entries[0], page.Start) {
		entries = entries[1:]
		walk = append(walk, append(append([]byte(nil), page.Start...), 0))
	} else if len(entries) > 0 {
		walk = append(walk, append(append([]byte(nil), entries[0]...), 0))
		entries = entries[1:]
	}
	for _, e := range entries {
		walk = append(walk, append(append([]byte(nil), e...), 0))
	}
	// A page that stopped early ends at its last entry; one that read the
	// whole index ends with the proof that nothing follows.
	if page.Next != 0 && len(page.Entries) > 0 {
		walk = walk[:len(walk)-1]
	}
	for _, k := range walk {
		p, err := v.ProofOf(k)
		if err != nil {
			return err
		}
		out.IndexProofs = append(out.IndexProofs, p)
	}
	return nil
}
