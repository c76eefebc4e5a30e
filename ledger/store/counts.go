package store

import (
	"fmt"
	"strings"

	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// RecordsByKind counts the records of each named kind ("pledge", ...) in
// this committed version from the by-kind list index: one entry per (kind,
// block), each holding that block's seqs, so it reads one key per block
// that holds the kind, not one per record. Node-side monitoring uses it to
// establish counts it then keeps up to date per block; it changes nothing.
func (v *View) RecordsByKind(kinds []string) (map[string]uint64, error) {
	out := make(map[string]uint64, len(kinds))
	for _, k := range kinds {
		p := layout.IndexPrefix(layout.IndexKind, k)
		it, err := v.r.Iterator(p, layout.PrefixEnd(p), true)
		if err != nil {
			return nil, err
		}
		var n uint64
		for ; it.Valid(); it.Next() {
			if l := len(it.Value()); l == 0 || l%8 != 0 {
				it.Close()
				return nil, fmt.Errorf("index entry %x: value of %d bytes is not a list of seqs", it.Key(), l)
			}
			n += uint64(len(it.Value()) / 8)
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, nil
}

// ObligationsByStatus counts obligations by status in this committed
// version from the status index (ob/s/<status>/..., one key per
// obligation; no obligation is decoded). It changes nothing.
func (v *View) ObligationsByStatus() (map[pb.ObligationStatus]uint64, error) {
	p := []byte(layout.PrefixObStatus)
	it, err := v.r.Iterator(p, layout.PrefixEnd(p), true)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[pb.ObligationStatus]uint64{}
	for ; it.Valid(); it.Next() {
		rest := string(it.Key()[len(p):])
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return nil, fmt.Errorf("obligation status index key %x has no status", it.Key())
		}
		s, ok := layout.StatusByName(rest[:i])
		if !ok {
			return nil, fmt.Errorf("obligation status index key %x: unknown status %q", it.Key(), rest[:i])
		}
		out[s]++
	}
	return out, it.Error()
}
