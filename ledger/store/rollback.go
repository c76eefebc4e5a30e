package store

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/cosmos/iavl"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store/tlog"
)

// RollbackResult says what Rollback did.
type RollbackResult struct {
	// From and To are the latest committed version before and after; Hash
	// is the root hash at To (the app hash block To+1 carries), FromHash
	// the one at From.
	From     int64  `json:"from"`
	To       int64  `json:"to"`
	FromHash []byte `json:"from_hash"`
	Hash     []byte `json:"hash"`
	// LogFrom and LogTo are the record log's committed sizes at From and To.
	LogFrom uint64 `json:"log_from"`
	LogTo   uint64 `json:"log_to"`
}

// Rollback takes the store in dir back to committed version to, as the
// Cosmos SDK's RollbackToVersion takes a multistore back: the versions
// after it are deleted, and the next commit saves version to+1 again. It
// is for a stopped node (no process may hold dir) whose newest state is
// wrong (a non-deterministic or bad binary computed it): after it, the
// state is exactly what the store held after committing to, so that
// CometBFT, on the next start, replays the blocks after to into it.
//
// Everything derived from the state follows it: the record log is cut to
// its size at to (tlog.Cut), the duplicate-content index drops the
// entries of the records after it, and the commit marker says to. The
// steps go in an order that a crash between any two leaves a store that
// opens (at the old version until the state itself went back, at to
// after), so Rollback can be run again:
//
//  1. the content index forgets the records after to (an index that lags
//     the log is caught up by the next open);
//  2. the record log gets the files of its smaller tree (Cut removes
//     nothing: the log still opens at its old size);
//  3. the commit marker says to, durably (a database ahead of its marker
//     opens, as after a crash between a commit and its marker);
//  4. IAVL deletes the versions after to, in one synced batch;
//  5. the store is opened at to (which drops the log's newer files), its
//     version, root and log size checked, and closed (a clean shutdown).
//
// Version to must still be in the database and in the retention window
// (o.KeepRecent, as the node runs with it: IAVL deletes pruned versions
// in the background, and one it has begun to delete may still look
// present), and not before the height a state-synced node was restored
// at. Unless o.Verify is VerifyNever, version to is verified whole (every
// node read and hashed up to its root, as Verify does the latest) before
// anything changes.
func Rollback(dir string, to int64, o Options) (*RollbackResult, error) {
	s, err := Open(dir, o)
	if err != nil {
		return nil, err
	}
	res, roots, err := s.prepareRollback(to, o.Verify != VerifyNever)
	if cerr := s.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close the state: %w", cerr)
	}
	if err != nil || res.From == res.To {
		return res, err
	}
	// 2. The record log's smaller tree.
	toRoot, err := tlog.Cut(filepath.Join(dir, LogDir), res.LogFrom, roots[0], res.LogTo)
	if err != nil {
		return nil, fmt.Errorf("%w: cut the record log to %d entries: %v", ErrDamaged, res.LogTo, err)
	}
	if !bytes.Equal(toRoot, roots[1]) {
		return nil, fmt.Errorf("%w: the record log's first %d entries hash to %X, but version %d committed %X", ErrDamaged, res.LogTo, toRoot, res.To, roots[1])
	}
	// 3. The marker, durably: it must not say a version the database no
	// longer holds once the deletion below is on disk.
	bz, _ := json.Marshal(commitMarker{Version: res.To, Hash: hex.EncodeToString(res.Hash)})
	if err := atomicfile.WriteFile(filepath.Join(dir, "appstate.commit"), bz, 0o644); err != nil {
		return nil, fmt.Errorf("write commit marker: %w", err)
	}
	// 4. The state.
	if err := deleteVersionsAfter(dir, res.To, res.Hash, o); err != nil {
		return nil, err
	}
	// 5. Opened at to: the log drops its newer files (Cut verified what
	// stays), and Close records a clean shutdown. The state at to was
	// verified before the rollback began.
	o.Verify = VerifyNever
	s, err = Open(dir, o)
	if err != nil {
		return nil, fmt.Errorf("the state rolled back to version %d does not open: %w", res.To, err)
	}
	if v, h, n := s.Version(), s.Hash(), s.LogCommitted(); v != res.To || !bytes.Equal(h, res.Hash) || n != res.LogTo {
		s.Close()
		return nil, fmt.Errorf("%w: rolled back to version %d (root %X, log %d), the state opens at %d (root %X, log %d)",
			ErrDamaged, res.To, res.Hash, res.LogTo, v, h, n)
	}
	if err := s.Close(); err != nil {
		return nil, fmt.Errorf("close the state: %w", err)
	}
	return res, nil
}

// prepareRollback checks that the open store can go back to version to,
// describes the rollback, and makes the content index forget the records
// after to (step 1). From == To: nothing to do. roots are the record
// log's roots at From and To.
func (s *Store) prepareRollback(to int64, verify bool) (_ *RollbackResult, roots [2][]byte, err error) {
	from := s.Version()
	res := &RollbackResult{From: from, To: to, FromHash: s.Hash(), Hash: s.Hash(), LogFrom: s.LogCommitted(), LogTo: s.LogCommitted()}
	switch {
	case from == 0:
		return nil, roots, errors.New("the state holds no committed version to roll back")
	case to > from:
		return nil, roots, fmt.Errorf("cannot roll the state at version %d forward to %d", from, to)
	case to == from:
		return res, roots, nil
	case to < 1:
		return nil, roots, fmt.Errorf("cannot roll back to version %d: the first block's state is the oldest (wipe the state to start over)", to)
	}
	first := s.EarliestVersion()
	if s.keepRecent > 0 {
		first = max(first, from-s.keepRecent+1)
	}
	if to < first || !s.tree.VersionExists(to) {
		why := fmt.Sprintf("pruned ([app] keep_recent = %d keeps only the newest versions)", s.keepRecent)
		if r := s.RestoredFrom(); r > 0 && to < r {
			why = fmt.Sprintf("the node was state-synced (or restored) at height %d and never held older versions", r)
		}
		return nil, roots, fmt.Errorf("%w: version %d is not in the state (it keeps versions %d to %d): %s", ErrNoVersion, to, first, from, why)
	}
	if verify {
		// Verify reads the store's latest version: a store value whose
		// latest is to, over the same tree.
		if err := (&Store{tree: s.tree, version: to}).Verify(); err != nil {
			return nil, roots, fmt.Errorf("version %d: %w", to, err)
		}
	}
	v, err := s.At(to)
	if err != nil {
		return nil, roots, err
	}
	res.Hash = v.RootHash()
	n, root, err := v.LogState()
	if err != nil {
		return nil, roots, err
	}
	if n > res.LogFrom {
		return nil, roots, fmt.Errorf("%w: version %d's record log (%d entries) is longer than version %d's (%d)", ErrDamaged, to, n, from, res.LogFrom)
	}
	res.LogTo = n
	if roots[0], err = s.rlog.RootAt(res.LogFrom); err != nil {
		return nil, roots, fmt.Errorf("%w: record log: %v", ErrDamaged, err)
	}
	roots[1] = root
	if err := s.forgetContent(n, root); err != nil {
		return nil, roots, fmt.Errorf("content index: %w", err)
	}
	return res, roots, nil
}

// forgetContent removes from the content index the entries of the records
// after the first n of the log (whose root they have) and moves
// meta/indexed back to n. Only entries naming such a record go (one
// content is filed once, so any other entry is an older record's).
func (s *Store) forgetContent(n uint64, root []byte) error {
	m, _, err := s.indexedCount()
	if err != nil {
		return err
	}
	if m <= n {
		return nil // the index does not reach past n: nothing to forget
	}
	b := s.index.NewBatch()
	defer b.Close()
	for seq := n + 1; seq <= m; seq++ {
		tx, err := s.rlog.Entry(seq - 1)
		if err != nil {
			return fmt.Errorf("log entry %d: %w", seq-1, err)
		}
		k, err := contentOf(tx)
		if err != nil {
			return fmt.Errorf("%w: log entry %d: %v", ErrDamaged, seq-1, err)
		}
		bz, err := s.index.Get(k)
		if err != nil {
			return err
		}
		if bytes.Equal(bz, layout.U64(seq)) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	mark := layout.LogState(n, root)
	if n == 0 {
		mark, err = s.indexedValue(0)
		if err != nil {
			return err
		}
	}
	if err := b.Set(indexedKey, mark); err != nil {
		return err
	}
	return b.WriteSync()
}

// deleteVersionsAfter deletes the state's versions after to (step 4), in
// one LevelDB batch written synchronously, and checks that to is then the
// latest version with root hash.
func deleteVersionsAfter(dir string, to int64, hash []byte, o Options) error {
	db, err := openLevelDB(dir)
	if err != nil {
		return fmt.Errorf("%w: cannot open %s: %v", ErrDamaged, dir, err)
	}
	defer db.Close()
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// As newStore opens it (no fast index), but synced, and with the whole
	// deletion in one batch (IAVL deletes a version's nodes from its
	// root up: a deletion cut in two would leave a version without its
	// root).
	t := iavl.NewMutableTree(growingBatches{db}, DefaultCacheSize, true, logger.With("module", "iavl"), iavl.SyncOption(true),
		iavl.FlushThresholdOption(1<<30))
	defer t.Close()
	if err := t.LoadVersionForOverwriting(to); err != nil {
		return fmt.Errorf("roll the state back to version %d: %w", to, err)
	}
	latest, err := t.GetLatestVersion()
	if err != nil {
		return err
	}
	if latest != to || !bytes.Equal(t.Hash(), hash) {
		return fmt.Errorf("%w: rolled back to version %d, the state's latest is %d with root %X (want %X)", ErrDamaged, to, latest, t.Hash(), hash)
	}
	return nil
}
