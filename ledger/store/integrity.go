package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/cosmos/iavl"
	"github.com/normledger/normledger/internal/atomicfile"
)

// Verify walks every node of the latest version, recomputes every node
// hash from the leaves up (IAVL's hashing, below), and checks that the
// result is the root hash the version records (and so, through the commit
// marker, the app hash that was committed), and that the leaves number what
// the root says. A database that lost entries (a damaged journal is dropped
// silently by the storage engine), holds unreadable ones, or holds a changed
// key or value fails with ErrDamaged.
func (s *Store) Verify() error {
	v := s.Version()
	it, err := s.tree.GetImmutable(v)
	if err != nil {
		return fmt.Errorf("%w: version %d does not load: %v", ErrDamaged, v, err)
	}
	exp, err := it.Export()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	defer exp.Close()
	// The export is a post-order walk: a leaf pushes its hash, an inner
	// node pops its two children. (IAVL's exporter ends the walk quietly at
	// an unreadable node; the stack and the root hash then disagree.)
	type sub struct {
		hash []byte
		size int64
	}
	var stack []sub
	var leaves int64
	for {
		n, err := exp.Next()
		if errors.Is(err, iavl.ErrorExportDone) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: at height %d after %d readable entries: %v", ErrDamaged, v, leaves, err)
		}
		if n.Height == 0 {
			leaves++
			stack = append(stack, sub{leafHash(n.Key, n.Value, n.Version), 1})
			continue
		}
		if len(stack) < 2 {
			return fmt.Errorf("%w: at height %d an inner node lacks its children", ErrDamaged, v)
		}
		l, r := stack[len(stack)-2], stack[len(stack)-1]
		stack = stack[:len(stack)-2]
		size := l.size + r.size
		stack = append(stack, sub{innerHash(n.Height, size, n.Version, l.hash, r.hash), size})
	}
	if leaves != it.Size() || len(stack) != 1 {
		return fmt.Errorf("%w: at height %d the tree has %d readable entries of %d recorded", ErrDamaged, v, leaves, it.Size())
	}
	if root := it.Hash(); !bytes.Equal(stack[0].hash, root) {
		return fmt.Errorf("%w: at height %d the entries hash to %X, not the recorded root %X", ErrDamaged, v, stack[0].hash, root)
	}
	return nil
}

// leafHash and innerHash are IAVL's node hashes (Node.writeHashBytes in
// github.com/cosmos/iavl v1): SHA-256 over the height, size and version as
// signed varints, then, for a leaf, its key and the SHA-256 of its value, for
// an inner node its children's hashes, each prefixed with its length.
func leafHash(key, value []byte, version int64) []byte {
	vh := sha256.Sum256(value)
	b := binary.AppendVarint(nil, 0)
	b = binary.AppendVarint(b, 1)
	b = binary.AppendVarint(b, version)
	b = appendBytes(b, key)
	b = appendBytes(b, vh[:])
	h := sha256.Sum256(b)
	return h[:]
}

func innerHash(height int8, size, version int64, left, right []byte) []byte {
	b := binary.AppendVarint(nil, int64(height))
	b = binary.AppendVarint(b, size)
	b = binary.AppendVarint(b, version)
	b = appendBytes(b, left)
	b = appendBytes(b, right)
	h := sha256.Sum256(b)
	return h[:]
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// commitMarker records the last committed version and root hash next to the
// database. The database alone cannot tell that it lost its newest versions
// (a truncated journal just loads an older version), so on open the marker
// makes a damaged database refuse to start instead of running on quietly.
type commitMarker struct {
	Version int64  `json:"version"`
	Hash    string `json:"hash"`
	// Clean is true only after Close: the database was shut down cleanly.
	Clean bool `json:"clean"`
}

// ErrDamaged is returned by Open when the state database does not hold what
// was committed.
var ErrDamaged = errors.New("application state database is damaged")

// checkMarker compares the database with the commit marker and reports
// whether the last shutdown was clean.
func (s *Store) checkMarker() (clean bool, err error) {
	bz, err := os.ReadFile(s.marker)
	if errors.Is(err, os.ErrNotExist) {
		// A crash between the first SaveVersion and the first marker write
		// leaves one version and no marker.
		if s.version > 1 && len(s.tree.AvailableVersions()) > 1 {
			return false, fmt.Errorf("%w: it holds height %d but its commit marker %s is missing", ErrDamaged, s.version, s.marker)
		}
		return s.version == 0, nil
	}
	if err != nil {
		return false, fmt.Errorf("read commit marker: %w", err)
	}
	var m commitMarker
	if err := json.Unmarshal(bz, &m); err != nil {
		return false, fmt.Errorf("%w: commit marker %s is unreadable: %v", ErrDamaged, s.marker, err)
	}
	switch {
	case s.version < m.Version:
		return false, fmt.Errorf("%w: it holds height %d but height %d was committed (truncated or rolled back); "+
			"restore it, or wipe the node's data and let it resync from its peers", ErrDamaged, s.version, m.Version)
	case s.version == m.Version && hex.EncodeToString(s.hash) != m.Hash:
		return false, fmt.Errorf("%w: its root hash at height %d is %X but %s was committed; "+
			"restore it, or wipe the node's data and let it resync", ErrDamaged, s.version, s.hash, m.Hash)
	}
	// A newer version than the marker: the process stopped between saving a
	// version and updating the marker; not clean.
	return m.Clean && s.version == m.Version, nil
}

func (s *Store) writeMarker(v int64, hash []byte, clean bool) error {
	if s.marker == "" {
		return nil
	}
	bz, _ := json.Marshal(commitMarker{Version: v, Hash: hex.EncodeToString(hash), Clean: clean})
	// Not fsynced: IAVL and the record log are written without fsync
	// (iavl.SyncOption(false)), and a marker more durable than the state
	// it vouches for would call the state damaged after a power loss,
	// where CometBFT's replay would otherwise catch it up.
	if err := atomicfile.Replace(s.marker, bz, 0o644); err != nil {
		return fmt.Errorf("write commit marker: %w", err)
	}
	return nil
}
