package tlog

import (
	"bytes"
	"fmt"
	"os"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger/store/tlog/logproof"
	"github.com/transparency-dev/merkle/compact"
)

// Open opens the log in dir whose committed size and root are given (from
// IAVL). Whatever lies beyond size is discarded; the tiles must hold the
// committed tree.
func Open(dir string, size uint64, root []byte) (*Log, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return open(newDirStorage(dir), size, root)
}

// OpenMem opens a log held in memory (tests, audit re-execution).
func OpenMem() *Log {
	l, err := open(&memStorage{m: map[string][]byte{}}, 0, nil)
	if err != nil {
		panic(err) // an empty log always opens
	}
	return l
}

func open(fs storage, size uint64, root []byte) (*Log, error) {
	l := &Log{fs: fs, edge: map[tileKey][][]byte{}, touched: map[tileKey]bool{}, fullBundles: map[uint64][][]byte{}, flushed: map[tileKey]int{}, caches: newCaches()}
	l.committed = size
	// Files beyond the committed size go first: an uncommitted flush may
	// have written a full tile whose parent node the committed state does
	// not have yet, and reading through it would call the log damaged.
	if err := l.truncate(size); err != nil {
		return nil, err
	}
	if size == 0 {
		l.rng = factory.NewEmptyRange(0)
	} else {
		hashes, err := l.hashesOf(compact.RangeNodes(0, size, nil), size)
		if err != nil {
			return nil, damaged(err)
		}
		rng, err := factory.NewRange(0, size, hashes)
		if err != nil {
			return nil, damaged(err)
		}
		got, err := rng.GetRootHash(nil)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(got, root) {
			return nil, fmt.Errorf("%w: its tiles hash to %X for size %d, but %X was committed", ErrDamaged, got, size, root)
		}
		l.rng = rng
	}
	// The right edge, as committed, into memory.
	for level := uint64(0); ; level++ {
		n := size >> (TileHeight * level) // nodes at this tile level's bottom row
		if n == 0 && level > 0 {
			break
		}
		idx, w := n/TileWidth, int(n%TileWidth)
		if w > 0 {
			bz, err := l.readTile(level, idx, w)
			if err != nil {
				return nil, damaged(err)
			}
			l.edge[tileKey{level, idx}] = splitHashes(bz)
			l.flushed[tileKey{level, idx}] = w
		}
		if n < TileWidth {
			break
		}
	}
	if w := int(size % TileWidth); w > 0 {
		bz, err := l.readBundle(size/TileWidth, w)
		if err != nil {
			return nil, damaged(err)
		}
		entries, err := splitBundle(bz)
		if err != nil || len(entries) < w {
			return nil, fmt.Errorf("%w: entry bundle %d does not hold %d entries", ErrDamaged, size/TileWidth, w)
		}
		// Entries past the committed size are an uncommitted block's.
		leaves := l.edge[tileKey{0, size / TileWidth}]
		for i, e := range entries[:w] {
			if i >= len(leaves) || !bytes.Equal(logproof.Hasher.HashLeaf(e), leaves[i]) {
				return nil, fmt.Errorf("%w: entry %d does not hash to its leaf", ErrDamaged, size/TileWidth*TileWidth+uint64(i))
			}
			l.bundle = append(l.bundle, append([]byte(nil), e...))
		}
		l.flushedBundle = flushedBundle{size / TileWidth, w}
		if len(entries) > w {
			l.bundleDirty = true // rewrite the committed partial bundle
		}
	}
	return l, nil
}

// truncate removes files that describe more than size leaves, and
// temporary files a crash left.
func (l *Log) truncate(size uint64) error {
	paths, err := l.fs.list()
	if err != nil {
		return err
	}
	for _, p := range paths {
		if atomicfile.IsTemp(p) {
			if err := l.fs.remove(p); err != nil {
				return err
			}
			continue
		}
		level, index, w, bundle, ok := parsePath(p)
		if !ok {
			continue
		}
		// Nodes (or entries) the file describes, against those size has.
		have := size >> (TileHeight * level)
		if bundle {
			have = size
		}
		if index*TileWidth+uint64(widthOr(w)) > have {
			if err := l.fs.remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}
