package tlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/normledger/normledger/ledger/store/tlog/logproof"
)

// Verified reads: every hash and entry served comes from the right edge in
// memory or from a file checked against the tile above it, and so, through
// the root check in Open, against the committed root.

// readTile returns the first w hashes of tile (level, index) from memory or
// disk (a full tile, or the smallest partial file with at least w hashes).
// A full tile read from disk is checked against its parent first.
func (l *Log) readTile(level, index uint64, w int) ([]byte, error) {
	if row, ok := l.edge[tileKey{level, index}]; ok && len(row) >= w {
		return bytes.Join(row[:w], nil), nil
	}
	ft, err := l.fullTile(level, index)
	if err == nil {
		return ft.rows[0][:32*w], nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	// Partial files are read only by Open (the root check covers them);
	// afterwards the right edge is in memory.
	for width := w; width < TileWidth; width++ {
		bz, err := l.fs.read(TilePath(level, index, width))
		if err == nil && len(bz) == 32*width {
			return bz[:32*w], nil
		}
	}
	return nil, fmt.Errorf("%w: tile %d/%d with %d hashes is missing", ErrDamaged, level, index, w)
}

// fullTile returns full tile (level, index) from the cache or disk, with
// its subtree computed and its root checked against the node in the tile
// above (itself read through readTile, so checked up to the right edge);
// os.ErrNotExist if there is no such file.
func (l *Log) fullTile(level, index uint64) (*tileTree, error) {
	key := tileKey{level, index}
	if t, ok := l.tiles.Get(key); ok {
		return t, nil
	}
	bz, err := l.fs.read(TilePath(level, index, 0))
	if err != nil {
		return nil, os.ErrNotExist
	}
	t, err := l.checkTile(level, index, bz)
	if err != nil && !l.unchecked {
		return nil, err
	}
	l.tiles.Add(key, t)
	return t, nil
}

// checkTile builds full tile (level, index) and checks that it hashes to
// its node in the tile above.
func (l *Log) checkTile(level, index uint64, bz []byte) (*tileTree, error) {
	if len(bz) != 32*TileWidth {
		return nil, fmt.Errorf("%w: tile %d/%d holds %d bytes, not %d", ErrDamaged, level, index, len(bz), 32*TileWidth)
	}
	t := newTileTree(bz)
	parent, err := l.readTile(level+1, index/TileWidth, int(index%TileWidth)+1)
	if err != nil {
		return t, err
	}
	if got, want := t.rows[TileHeight], parent[len(parent)-32:]; !bytes.Equal(got, want) {
		return t, fmt.Errorf("%w: tile %d/%d hashes to %X, but the tile above holds %X", ErrDamaged, level, index, got, want)
	}
	return t, nil
}

// readBundle returns entry bundle index holding at least w entries. A full
// bundle's entries are checked against their leaf hashes by Entry (the one
// read) and VerifyAll (every one).
func (l *Log) readBundle(index uint64, w int) ([]byte, error) {
	if bz, ok := l.bundles.Get(index); ok {
		return bz, nil
	}
	if bz, err := l.fs.read(BundlePath(index, 0)); err == nil {
		l.bundles.Add(index, bz)
		return bz, nil
	}
	for width := w; width < TileWidth; width++ {
		if bz, err := l.fs.read(BundlePath(index, width)); err == nil {
			return bz, nil
		}
	}
	return nil, fmt.Errorf("%w: entry bundle %d with %d entries is missing", ErrDamaged, index, w)
}

// nodeHash is the hash of the complete node (level, index) of a tree of at
// least size leaves, computed from the tile holding its subtree's row.
func (l *Log) nodeHash(level uint, index uint64, size uint64) ([]byte, error) {
	if (index+1)<<level > size {
		return nil, fmt.Errorf("node %d/%d is not complete in a tree of %d", level, index, size)
	}
	tl := uint64(level / TileHeight)
	r := level % TileHeight
	first := index << r // first node of the subtree in the tile row
	n := uint64(1) << r
	tile := first / TileWidth
	off := first % TileWidth
	if _, edge := l.edge[tileKey{tl, tile}]; !edge {
		if t, err := l.fullTile(tl, tile); err == nil {
			i := off >> r
			return t.rows[r][32*i : 32*i+32], nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	// A node in a right-edge tile: complete nodes never change, so the
	// ones computed from the edge rows are kept.
	nk := nodeKey{level, index}
	if h, ok := l.nodes.Get(nk); ok {
		return h, nil
	}
	bz, err := l.readTile(tl, tile, int(off+n))
	if err != nil {
		return nil, err
	}
	h := subtreeRoot(splitHashes(bz[32*off : 32*(off+n)]))
	if r > 0 {
		l.nodes.Add(nk, h)
	}
	return h, nil
}

// Entry returns entry index (appended, committed or not).
func (l *Log) Entry(index uint64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	end := l.rng.End()
	if index >= end {
		return nil, fmt.Errorf("no entry %d in a log of %d", index, end)
	}
	b := index / TileWidth
	if entries, ok := l.fullBundles[b]; ok {
		return entries[index%TileWidth], nil
	}
	if b == end/TileWidth && l.bundle != nil {
		return l.bundle[index%TileWidth], nil
	}
	w := int(index%TileWidth) + 1
	bz, err := l.readBundle(b, w)
	if err != nil {
		return nil, err
	}
	e, err := entryAt(bz, int(index%TileWidth))
	if err != nil {
		return nil, fmt.Errorf("%w: entry bundle %d: %v", ErrDamaged, b, err)
	}
	leaves, err := l.readTile(0, b, w)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(logproof.Hasher.HashLeaf(e), leaves[len(leaves)-32:]) && !l.unchecked {
		return nil, fmt.Errorf("%w: entry %d does not hash to its leaf", ErrDamaged, index)
	}
	return e, nil
}

// Tile returns the committed tile (level, index) of width w (0: full), as
// C2SP serves it.
func (l *Log) Tile(level, index uint64, w int) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	width := widthOr(w)
	if index*TileWidth+uint64(width) > l.committed>>(TileHeight*level) {
		return nil, os.ErrNotExist
	}
	return l.readTile(level, index, width)
}

// Bundle returns the committed entry bundle index of width w (0: full).
func (l *Log) Bundle(index uint64, w int) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	width := widthOr(w)
	if index*TileWidth+uint64(width) > l.committed {
		return nil, os.ErrNotExist
	}
	bz, err := l.readBundle(index, width)
	if err != nil {
		return nil, err
	}
	entries, err := splitBundle(bz)
	if err != nil || len(entries) < width {
		return nil, fmt.Errorf("%w: entry bundle %d does not hold %d entries", ErrDamaged, index, width)
	}
	if err := l.checkEntries(index, entries[:width]); err != nil {
		return nil, err
	}
	return joinBundle(entries[:width]), nil
}

// checkEntries checks the leading entries of bundle index against the
// leaf hashes in level-0 tile index.
func (l *Log) checkEntries(index uint64, entries [][]byte) error {
	if l.unchecked {
		return nil
	}
	leaves, err := l.readTile(0, index, len(entries))
	if err != nil {
		return err
	}
	for i, e := range entries {
		if !bytes.Equal(logproof.Hasher.HashLeaf(e), leaves[32*i:32*i+32]) {
			return fmt.Errorf("%w: entry %d does not hash to its leaf", ErrDamaged, index*TileWidth+uint64(i))
		}
	}
	return nil
}
