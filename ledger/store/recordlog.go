package store

import (
	"fmt"

	"github.com/normledger/normledger/ledger/store/tlog"
)

// The record log seen from the store: proofs and the C2SP tiles served to
// verifiers, all of committed entries.

// Inclusion proves record seq's transaction in this view's log (its size
// at this height): the log index and the RFC 6962 inclusion proof.
func (v *View) Inclusion(seq uint64) (uint64, [][]byte, error) {
	size, err := v.RecordCount()
	if err != nil {
		return 0, nil, err
	}
	if seq < 1 || seq > size {
		return 0, nil, fmt.Errorf("record %d is not in the log of %d at this height", seq, size)
	}
	p, err := v.log.InclusionProof(seq-1, size)
	if err != nil {
		return 0, nil, err
	}
	return seq - 1, p, nil
}

// LogConsistency proves that the log of size second extends that of size
// first (both at most the committed size).
func (s *Store) LogConsistency(first, second uint64) ([][]byte, error) {
	if first > second {
		return nil, fmt.Errorf("first size %d exceeds second %d", first, second)
	}
	return s.rlog.ConsistencyProof(first, second)
}

// LogCommitted is the log size of the latest committed state.
func (s *Store) LogCommitted() uint64 { return s.rlog.Committed() }

// LogRoot is the root of the first size committed entries.
func (s *Store) LogRoot(size uint64) ([]byte, error) { return s.rlog.RootAt(size) }

// LogTile returns a committed C2SP tile (w = 0: full), or os.ErrNotExist.
func (s *Store) LogTile(level, index uint64, w int) ([]byte, error) {
	return s.rlog.Tile(level, index, w)
}

// LogBundle returns a committed C2SP entry bundle (w = 0: full), or os.ErrNotExist.
func (s *Store) LogBundle(index uint64, w int) ([]byte, error) { return s.rlog.Bundle(index, w) }

// ParseTilePath reads the path of a C2SP tile or entry bundle.
func ParseTilePath(p string) (level, index uint64, w int, bundle, ok bool) {
	return tlog.ParseTilePath(p)
}
