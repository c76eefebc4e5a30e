package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	iavldb "github.com/cosmos/iavl/db"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
)

// The duplicate-content index. The ledger rejects a record whose author
// already filed one with the same content (ledger.ContentHash), so every
// node must answer "seen?" alike; the answer is a function of the record log
// alone. Up to app version 6 the index was in the authenticated state
// (h/<author>/<content hash> -> id): a second key at a random position per
// record, about half the state's writes and size, proving nothing a
// verifier asks for. From app version 7 (ledger.AppVersionContentIndexOff)
// it is kept beside the state, in its own database, as Certificate
// Transparency logs keep their hash-to-index lookup beside the tree:
//
//	h/<author>/<content hash 32 bytes> -> seq (u64be): the record's position
//	meta/indexed                         -> u64be(log size) || log root: the
//	                                        log the index was built from
//
// It is written after the state version it belongs to is saved (so it never
// runs ahead of the state), and caught up from the record log when it lags
// (a crash between the two, a node upgraded from an older binary, a
// state-sync restore, which rebuilds it whole). A lookup at a version counts
// an entry only if its seq is within that version's log, so readers of older
// versions and a lagging or leading index never change an answer.

var indexedKey = []byte("meta/indexed")

func openIndexDB(dir string) (iavlDB, error) {
	db, err := iavldb.NewGoLevelDBWithOpts("appindex", dir, &opt.Options{
		Filter:                 filter.NewBloomFilter(10),
		DisableSeeksCompaction: true,
	})
	if err != nil {
		return nil, err // not a nil *GoLevelDB in a non-nil interface
	}
	return db, nil
}

// indexedCount reads meta/indexed (the log size and root the index was
// built from) and reports whether the committed log has that root at that
// size: an index left from another chain, or from a history the node no
// longer has, must not answer for this one.
func (s *Store) indexedCount() (n uint64, matches bool, err error) {
	bz, err := s.index.Get(indexedKey)
	if err != nil || bz == nil {
		return 0, err == nil, err
	}
	n, root, err := layout.ParseLogState(bz)
	if err != nil {
		return 0, false, nil // unreadable: rebuilt
	}
	if n == 0 || n > s.rlog.Committed() {
		return n, n == 0, nil
	}
	want, err := s.rlog.RootAt(n)
	if err != nil {
		return 0, false, fmt.Errorf("content index: log root at %d: %w", n, err)
	}
	return n, bytes.Equal(root, want), nil
}

// indexedValue is meta/indexed for the first n committed log entries.
func (s *Store) indexedValue(n uint64) ([]byte, error) {
	if n == 0 {
		return layout.LogState(0, make([]byte, 32)), nil
	}
	if n == s.rlog.Size() {
		return layout.LogState(n, s.rlog.Root()), nil
	}
	root, err := s.rlog.RootAt(n)
	if err != nil {
		return nil, err
	}
	return layout.LogState(n, root), nil
}

// contentOf is the index key of a logged transaction: its author and
// content hash.
func contentOf(tx []byte) ([]byte, error) {
	t, err := ledger.DecodeTx(tx, 0)
	if err != nil {
		return nil, err
	}
	h, err := ledger.ContentHash(t.Body.GetRecord())
	if err != nil {
		return nil, err
	}
	return layout.Content(t.Body.Signer, h), nil
}

// openIndex opens the content index in the store's data directory and
// indexes the committed log entries it lacks. An index that holds more than
// the committed log, or was built from another log (another chain's data,
// a restored backup), is replaced by a fresh one and built whole, and so is
// any when rebuild is set (a state-sync restore, verify = always).
func (s *Store) openIndex(rebuild bool) (err error) {
	if s.index, err = openIndexDB(s.dataDir); err != nil {
		return fmt.Errorf("%w: cannot open the content index in %s: %v", ErrDamaged, s.dataDir, err)
	}
	n := s.rlog.Committed()
	m, matches, err := s.indexedCount()
	if err != nil {
		return err
	}
	if m > n || !matches || rebuild {
		s.index.Close()
		s.index = nil
		if err := os.RemoveAll(filepath.Join(s.dataDir, "appindex.db")); err != nil {
			return err
		}
		if s.index, err = openIndexDB(s.dataDir); err != nil {
			return fmt.Errorf("%w: cannot create the content index in %s: %v", ErrDamaged, s.dataDir, err)
		}
		m = 0
	}
	if m == n {
		return nil
	}
	if n-m > 100_000 {
		s.log.Info("building the duplicate-content index from the record log", "from", m, "to", n)
	}
	b := s.index.NewBatch()
	defer func() { b.Close() }()
	for seq := m + 1; seq <= n; seq++ {
		tx, err := s.rlog.Entry(seq - 1)
		if err != nil {
			return fmt.Errorf("content index: log entry %d: %w", seq-1, err)
		}
		k, err := contentOf(tx)
		if err != nil {
			return fmt.Errorf("%w: content index: log entry %d: %v", ErrDamaged, seq-1, err)
		}
		if err := b.Set(k, layout.U64(seq)); err != nil {
			return err
		}
		if seq%10_000 != 0 && seq != n {
			continue
		}
		mark, err := s.indexedValue(seq)
		if err == nil {
			err = b.Set(indexedKey, mark)
		}
		if err == nil {
			err = b.Write()
		}
		if err != nil {
			return fmt.Errorf("content index: %w", err)
		}
		b.Close()
		b = s.index.NewBatch()
	}
	return nil
}

// writeIndex adds the committed block's content entries (after its state
// version is saved) and moves meta/indexed to the committed log size.
func (s *Store) writeIndex(entries map[string]uint64, committed uint64) error {
	if len(entries) == 0 {
		return nil // no record: the log, and so meta/indexed, did not move
	}
	b := s.index.NewBatch()
	defer b.Close()
	for k, seq := range entries {
		if err := b.Set([]byte(k), layout.U64(seq)); err != nil {
			return err
		}
	}
	mark, err := s.indexedValue(committed)
	if err != nil {
		return err
	}
	if err := b.Set(indexedKey, mark); err != nil {
		return err
	}
	return b.Write()
}

// seenIn answers "did author file content h?" from the index, counting only
// records within the first count of the log.
func seenIn(index iavlDB, author string, h [32]byte, count uint64) (bool, error) {
	bz, err := index.Get(layout.Content(author, h))
	if err != nil || bz == nil {
		return false, err
	}
	if len(bz) != 8 {
		return false, fmt.Errorf("%w: content index entry of %q is %d bytes", ErrDamaged, author, len(bz))
	}
	return binary.BigEndian.Uint64(bz) <= count, nil
}

// dropContentKeys removes the h/ keys from the working state (the block
// that moves a chain to app version 7).
func (s *Store) dropContentKeys() error {
	start := []byte(layout.PrefixContent)
	it, err := s.tree.Iterator(start, layout.PrefixEnd(start), true)
	if err != nil {
		return err
	}
	var keys [][]byte
	for ; it.Valid(); it.Next() {
		keys = append(keys, bytes.Clone(it.Key()))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.remove(k); err != nil {
			return err
		}
	}
	return nil
}
