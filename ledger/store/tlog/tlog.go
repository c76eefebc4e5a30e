// Package tlog is the ledger's append-only record log: an RFC 6962 Merkle
// tree (github.com/transparency-dev/merkle: its hasher, compact ranges and
// proof plans; no hand-written tree) whose leaves are the committed records'
// signed transactions, in commit order, stored as C2SP tlog-tiles: 256-hash
// tiles tile/<L>/<N>[.p/<W>] and entry bundles tile/entries/<N>[.p/<W>].
//
// The log is derived data: the size and root committed in IAVL (the app
// hash) are the truth. Appends are kept in memory until Flush writes them
// (every file through a temporary file, fsync and rename); Open discards
// whatever lies beyond the committed size (a crash between FinalizeBlock and
// Commit) and refuses a log whose tiles are missing or do not hash to the
// committed root.
//
// It may import only the standard library and transparency-dev/merkle.
package tlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// TileWidth is the number of hashes in a full tile and entries in a full bundle.
const TileWidth = 256

// TileHeight is the number of tree levels a tile spans.
const TileHeight = 8

// Cache sizes: 4096 full tiles are 32 MiB (every tile of a 1M-entry log
// above level 0 and the hot part of level 0); 64 bundles of 1 KiB entries
// are 16 MiB.
const (
	tileCacheSize     = 4096
	bundleCacheSize   = 64
	edgeNodeCacheSize = 8192
)

// nodeKey names a tree node: level (0 = leaves) and index.
type nodeKey struct {
	level uint
	index uint64
}

// ErrDamaged is returned by Open for a log that does not hold what was committed.
var ErrDamaged = errors.New("record log is damaged")

func damaged(err error) error {
	if errors.Is(err, ErrDamaged) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrDamaged, err)
}

// Hasher is the log's RFC 6962 hasher (SHA-256).
var Hasher = rfc6962.DefaultHasher

var factory = &compact.RangeFactory{Hash: Hasher.HashChildren}

// tileKey names a tile: level (of tiles) and index.
type tileKey struct {
	level uint64
	index uint64
}

// Log is the record log of one node. Appends and Flush come from one
// goroutine (the ABCI connection); reads may run concurrently and see only
// what is flushed and committed.
type Log struct {
	fs storage

	mu        sync.RWMutex // guards everything below
	rng       *compact.Range
	committed uint64 // size that reads may use
	// Tiles and the entry bundle at the right edge, in memory: appends
	// extend them; Flush writes the touched ones.
	edge    map[tileKey][][]byte
	touched map[tileKey]bool
	bundle  [][]byte // entries of bundle size/256
	// full bundles completed since the last Flush
	fullBundles map[uint64][][]byte
	bundleDirty bool
	// Full tiles and bundles read from disk. A tile enters the cache only
	// once its hashes were checked against the node above it (up to the
	// right edge, which the committed root covers), so a cached tile is a
	// verified one.
	tiles   *lru
	bundles *lru
	nodes   *lru // nodeKey -> hash of complete nodes in right-edge tiles
	// superseded lists partial files that a later flush replaced: removed
	// once that flush is committed.
	superseded []supersededFile
	// flushed is the width of each right-edge tile's newest partial file;
	// flushedBundle that of the partial entry bundle.
	flushed       map[tileKey]int
	flushedBundle flushedBundle
	midFlush      func()
	unchecked     bool
}

type flushedBundle struct {
	index uint64
	width int
}

type supersededFile struct {
	path string
	size uint64 // committed size from which it is no longer needed
}

// TilePath is the C2SP path of tile (level, index), partial of width w (0: full).
func TilePath(level, index uint64, w int) string {
	p := "tile/" + strconv.FormatUint(level, 10) + "/" + encodeIndex(index)
	if w > 0 && w < TileWidth {
		p += ".p/" + strconv.Itoa(w)
	}
	return p
}

// BundlePath is the C2SP path of entry bundle index, partial of width w (0: full).
func BundlePath(index uint64, w int) string {
	p := "tile/entries/" + encodeIndex(index)
	if w > 0 && w < TileWidth {
		p += ".p/" + strconv.Itoa(w)
	}
	return p
}

// encodeIndex writes N in 3-digit groups, each but the last prefixed "x":
// 1234067 -> x001/x234/067.
func encodeIndex(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for len(s)%3 != 0 {
		s = "0" + s
	}
	var parts []string
	for i := 0; i < len(s); i += 3 {
		parts = append(parts, s[i:i+3])
	}
	for i := 0; i < len(parts)-1; i++ {
		parts[i] = "x" + parts[i]
	}
	return strings.Join(parts, "/")
}

// Open opens the log in dir whose committed size and root are given (from
// IAVL). Whatever lies beyond size is discarded; the tiles must hold the
// committed tree.
func Open(dir string, size uint64, root []byte) (*Log, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return open(&dirStorage{dir: dir}, size, root)
}

// OpenMem opens a log held in memory (tests, audit re-execution).
func OpenMem() *Log {
	l, err := open(&memStorage{m: map[string][]byte{}}, 0, nil)
	if err != nil {
		panic(err) // an empty log always opens
	}
	return l
}

// SetUnchecked makes the log serve its files as they are, without checking
// them against the committed root: for fault tests only, to play a node
// whose operator rewrote its log (verifiers and audits must catch it).
func (l *Log) SetUnchecked(on bool) { l.unchecked = on }

// SetCrashPoint sets a function Flush calls halfway through writing its
// files (fault tests kill the process there).
func (l *Log) SetCrashPoint(f func()) { l.midFlush = f }

// SetSync makes Flush fsync every file and directory it writes. Without
// it (the default, like the state database) a flushed log survives a
// process crash, and a power loss that loses its newest files makes the
// next Open refuse the log as damaged, as the state database's commit
// marker does.
func (l *Log) SetSync(on bool) {
	if d, ok := l.fs.(*dirStorage); ok {
		d.fsync = on
	}
}

func open(fs storage, size uint64, root []byte) (*Log, error) {
	l := &Log{fs: fs, edge: map[tileKey][][]byte{}, touched: map[tileKey]bool{}, fullBundles: map[uint64][][]byte{}, flushed: map[tileKey]int{}, tiles: newLRU(tileCacheSize), bundles: newLRU(bundleCacheSize), nodes: newLRU(edgeNodeCacheSize)}
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
		ids := compact.RangeNodes(0, size, nil)
		hashes := make([][]byte, len(ids))
		for i, id := range ids {
			h, err := l.nodeHash(id.Level, id.Index, size)
			if err != nil {
				return nil, damaged(err)
			}
			hashes[i] = h
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
			if i >= len(leaves) || !bytes.Equal(Hasher.HashLeaf(e), leaves[i]) {
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
		if strings.HasSuffix(p, ".tmp") {
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

func widthOr(w int) int {
	if w == 0 {
		return TileWidth
	}
	return w
}

// parsePath reads a C2SP tile or bundle path.
func parsePath(p string) (level, index uint64, w int, bundle, ok bool) {
	parts := strings.Split(strings.TrimPrefix(p, "tile/"), "/")
	if len(parts) < 2 {
		return 0, 0, 0, false, false
	}
	if parts[0] == "entries" {
		bundle = true
	} else {
		lv, err := strconv.ParseUint(parts[0], 10, 8)
		if err != nil {
			return 0, 0, 0, false, false
		}
		level = lv
	}
	rest := parts[1:]
	if n := len(rest); n >= 2 && strings.HasSuffix(rest[n-2], ".p") {
		wv, err := strconv.Atoi(rest[n-1])
		if err != nil || wv <= 0 || wv >= TileWidth {
			return 0, 0, 0, false, false
		}
		w = wv
		rest[n-2] = strings.TrimSuffix(rest[n-2], ".p")
		rest = rest[:n-1]
	}
	var digits string
	for i, r := range rest {
		if i < len(rest)-1 {
			if !strings.HasPrefix(r, "x") {
				return 0, 0, 0, false, false
			}
			r = r[1:]
		}
		if len(r) != 3 {
			return 0, 0, 0, false, false
		}
		digits += r
	}
	idx, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, 0, 0, false, false
	}
	return level, idx, w, bundle, true
}

// ParseTilePath reads the C2SP path of a tile or entry bundle (for serving).
func ParseTilePath(p string) (level, index uint64, w int, bundle, ok bool) {
	level, index, w, bundle, ok = parsePath(p)
	if !ok {
		return
	}
	// Only canonical spellings.
	if bundle && BundlePath(index, w) != p || !bundle && TilePath(level, index, w) != p {
		return 0, 0, 0, false, false
	}
	return level, index, w, bundle, true
}

func splitHashes(bz []byte) [][]byte {
	out := make([][]byte, 0, len(bz)/32)
	for i := 0; i+32 <= len(bz); i += 32 {
		out = append(out, bz[i:i+32])
	}
	return out
}

// splitBundle reads an entry bundle: each entry is a 2-byte big-endian
// length and the entry.
func splitBundle(bz []byte) ([][]byte, error) {
	var out [][]byte
	for len(bz) > 0 {
		if len(bz) < 2 {
			return nil, errors.New("truncated entry length")
		}
		n := int(binary.BigEndian.Uint16(bz))
		if len(bz) < 2+n {
			return nil, errors.New("truncated entry")
		}
		out = append(out, bz[2:2+n])
		bz = bz[2+n:]
	}
	return out, nil
}

// MaxEntrySize is the largest entry a bundle can hold.
const MaxEntrySize = 1<<16 - 1

// Size is the number of entries appended (committed or not).
func (l *Log) Size() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.rng.End()
}

// Root is the root hash of the appended entries (RFC 6962; the empty tree's
// root for none).
func (l *Log) Root() []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.root()
}

func (l *Log) root() []byte {
	if l.rng.End() == 0 {
		return Hasher.EmptyRoot()
	}
	r, _ := l.rng.GetRootHash(nil)
	return r
}

// Append adds an entry (in memory until Flush) and returns its index.
func (l *Log) Append(entry []byte) (uint64, error) {
	if len(entry) > MaxEntrySize {
		return 0, fmt.Errorf("entry of %d bytes exceeds %d", len(entry), MaxEntrySize)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	idx := l.rng.End()
	var verr error
	err := l.rng.Append(Hasher.HashLeaf(entry), func(id compact.NodeID, h []byte) {
		if id.Level%TileHeight != 0 {
			return
		}
		level := uint64(id.Level / TileHeight)
		k := tileKey{level, id.Index / TileWidth}
		row := l.edge[k]
		if uint64(len(row)) != id.Index%TileWidth {
			verr = fmt.Errorf("tile %d/%d: node %d out of order", k.level, k.index, id.Index)
			return
		}
		l.edge[k] = append(row, h)
		l.touched[k] = true
	})
	if err == nil {
		err = verr
	}
	if err != nil {
		return 0, err
	}
	l.bundle = append(l.bundle, append([]byte(nil), entry...))
	l.bundleDirty = true
	if len(l.bundle) == TileWidth {
		l.fullBundles[idx/TileWidth] = l.bundle
		l.bundle = nil
	}
	return idx, nil
}

// Rollback drops appends since the last flush (a block that will not be
// committed, in tests); the log returns to its committed state.
func (l *Log) Rollback() error {
	fresh, err := open(l.fs, l.committed, l.committedRoot())
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rng, l.edge, l.touched, l.bundle, l.fullBundles, l.bundleDirty = fresh.rng, fresh.edge, fresh.touched, fresh.bundle, fresh.fullBundles, false
	l.flushed, l.flushedBundle, l.superseded = fresh.flushed, fresh.flushedBundle, nil
	l.tiles, l.bundles, l.nodes = fresh.tiles, fresh.bundles, fresh.nodes
	return nil
}

func (l *Log) committedRoot() []byte {
	r, err := l.RootAt(l.committed)
	if err != nil {
		return nil
	}
	return r
}

// Flush writes every tile and bundle touched since the last flush: full ones
// under their full path, the right edge as partial files.
func (l *Log) Flush() error {
	l.mu.Lock()
	type file struct {
		path string
		data []byte
	}
	var files []file
	end := l.rng.End()
	for k := range l.touched {
		row := l.edge[k]
		data := bytes.Join(row, nil)
		files = append(files, file{TilePath(k.level, k.index, len(row)), data})
		if old := l.flushed[k]; old > 0 {
			l.superseded = append(l.superseded, supersededFile{TilePath(k.level, k.index, old), end})
		}
		l.flushed[k] = len(row)
		if len(row) == TileWidth {
			delete(l.edge, k)
			delete(l.flushed, k)
		}
	}
	l.touched = map[tileKey]bool{}
	for idx, entries := range l.fullBundles {
		files = append(files, file{BundlePath(idx, 0), joinBundle(entries)})
		if idx == l.flushedBundle.index && l.flushedBundle.width > 0 {
			l.superseded = append(l.superseded, supersededFile{BundlePath(idx, l.flushedBundle.width), end})
			l.flushedBundle.width = 0
		}
	}
	l.fullBundles = map[uint64][][]byte{}
	if l.bundleDirty && len(l.bundle) > 0 {
		idx := end / TileWidth
		files = append(files, file{BundlePath(idx, len(l.bundle)), joinBundle(l.bundle)})
		if idx == l.flushedBundle.index && l.flushedBundle.width > 0 && l.flushedBundle.width != len(l.bundle) {
			l.superseded = append(l.superseded, supersededFile{BundlePath(idx, l.flushedBundle.width), end})
		}
		l.flushedBundle = flushedBundle{idx, len(l.bundle)}
	}
	l.bundleDirty = false
	l.mu.Unlock()
	var paths []string
	for i, f := range files {
		if i == len(files)/2 && len(files) > 1 && l.midFlush != nil {
			l.midFlush()
		}
		if err := l.fs.write(f.path, f.data); err != nil {
			return err
		}
		paths = append(paths, f.path)
	}
	return l.fs.sync(paths)
}

// MarkCommitted says the first size entries are committed (in IAVL): reads
// may use them, and partial files they superseded are removed.
func (l *Log) MarkCommitted(size uint64) {
	l.mu.Lock()
	l.committed = size
	var gone []string
	keep := l.superseded[:0]
	for _, f := range l.superseded {
		if f.size <= size {
			gone = append(gone, f.path)
		} else {
			keep = append(keep, f)
		}
	}
	l.superseded = keep
	l.mu.Unlock()
	// A reader never needs them: the right edge is in memory and wider
	// files hold every narrower tile. A crash leaves them behind, harmless.
	for _, p := range gone {
		_ = l.fs.remove(p)
	}
}

// Committed is the size reads may use.
func (l *Log) Committed() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.committed
}

func joinBundle(entries [][]byte) []byte {
	var b []byte
	for _, e := range entries {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b
}

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

// tileTree is a full tile with the subtree it spans: rows[r] holds the
// 256>>r nodes r levels above the tile's bottom row, rows[8] its root.
type tileTree struct {
	rows [TileHeight + 1][]byte
}

func newTileTree(bz []byte) *tileTree {
	t := &tileTree{}
	t.rows[0] = bz
	for r := 1; r <= TileHeight; r++ {
		below := t.rows[r-1]
		row := make([]byte, 0, len(below)/2)
		for i := 0; i < len(below); i += 64 {
			row = append(row, Hasher.HashChildren(below[i:i+32], below[i+32:i+64])...)
		}
		t.rows[r] = row
	}
	return t
}

// fullTile returns full tile (level, index) from the cache or disk, with
// its subtree computed and its root checked against the node in the tile
// above (itself read through readTile, so checked up to the right edge);
// os.ErrNotExist if there is no such file.
func (l *Log) fullTile(level, index uint64) (*tileTree, error) {
	key := TilePath(level, index, 0)
	if t, ok := l.tiles.get(key); ok {
		return t.(*tileTree), nil
	}
	bz, err := l.fs.read(key)
	if err != nil {
		return nil, os.ErrNotExist
	}
	t, err := l.checkTile(level, index, bz)
	if err != nil && !l.unchecked {
		return nil, err
	}
	l.tiles.put(key, t)
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

// subtreeRoot hashes a power-of-two row of nodes up to one.
func subtreeRoot(row [][]byte) []byte {
	for len(row) > 1 {
		next := make([][]byte, 0, len(row)/2)
		for i := 0; i < len(row); i += 2 {
			next = append(next, Hasher.HashChildren(row[i], row[i+1]))
		}
		row = next
	}
	return row[0]
}

// readBundle returns entry bundle index holding at least w entries. A full
// bundle's entries are checked against their leaf hashes by Entry (the one
// read) and VerifyAll (every one).
func (l *Log) readBundle(index uint64, w int) ([]byte, error) {
	key := BundlePath(index, 0)
	if bz, ok := l.bundles.get(key); ok {
		return bz.([]byte), nil
	}
	if bz, err := l.fs.read(key); err == nil {
		l.bundles.put(key, bz)
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
	if h, ok := l.nodes.get(nk); ok {
		return h.([]byte), nil
	}
	bz, err := l.readTile(tl, tile, int(off+n))
	if err != nil {
		return nil, err
	}
	h := subtreeRoot(splitHashes(bz[32*off : 32*(off+n)]))
	if r > 0 {
		l.nodes.put(nk, h)
	}
	return h, nil
}

func (l *Log) checkSize(size uint64) error {
	if size > l.committed {
		return fmt.Errorf("the log holds %d committed entries, not %d", l.committed, size)
	}
	return nil
}

// RootAt is the root of the log's first size entries (committed).
func (l *Log) RootAt(size uint64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.checkSize(size); err != nil {
		return nil, err
	}
	if size == 0 {
		return Hasher.EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := l.nodeHash(id.Level, id.Index, size)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	rng, err := factory.NewRange(0, size, hashes)
	if err != nil {
		return nil, err
	}
	return rng.GetRootHash(nil)
}

func (l *Log) fetch(nodes proof.Nodes, size uint64) ([][]byte, error) {
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := l.nodeHash(id.Level, id.Index, size)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	return nodes.Rehash(hashes, Hasher.HashChildren)
}

// InclusionProof proves entry index in the tree of the first size entries.
func (l *Log) InclusionProof(index, size uint64) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.checkSize(size); err != nil {
		return nil, err
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return l.fetch(nodes, size)
}

// ConsistencyProof proves the tree of size2 entries extends that of size1.
func (l *Log) ConsistencyProof(size1, size2 uint64) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.checkSize(size2); err != nil {
		return nil, err
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	return l.fetch(nodes, size2)
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
	if !bytes.Equal(Hasher.HashLeaf(e), leaves[len(leaves)-32:]) && !l.unchecked {
		return nil, fmt.Errorf("%w: entry %d does not hash to its leaf", ErrDamaged, index)
	}
	return e, nil
}

// entryAt walks a bundle's length prefixes to entry i.
func entryAt(bz []byte, i int) ([]byte, error) {
	for j := 0; ; j++ {
		if len(bz) < 2 {
			return nil, errors.New("entry bundle truncated")
		}
		n := int(binary.BigEndian.Uint16(bz))
		if len(bz) < 2+n {
			return nil, errors.New("entry bundle truncated")
		}
		if j == i {
			return bz[2 : 2+n], nil
		}
		bz = bz[2+n:]
	}
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
		if !bytes.Equal(Hasher.HashLeaf(e), leaves[32*i:32*i+32]) {
			return fmt.Errorf("%w: entry %d does not hash to its leaf", ErrDamaged, index*TileWidth+uint64(i))
		}
	}
	return nil
}

// VerifyTiles checks every committed tile against the tile above it (and
// so, with the root check in Open, against the committed root) and that
// every committed entry bundle is there: about a second per ten million
// entries. Open does it every time.
func (l *Log) VerifyTiles() error { return l.verify(false) }

// VerifyAll is VerifyTiles that also checks every committed entry against
// its leaf hash: it reads the whole log (a few seconds per million 1 KiB
// entries).
func (l *Log) VerifyAll() error { return l.verify(true) }

func (l *Log) verify(entries bool) error {
	if l.unchecked {
		return nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	size := l.committed
	for level := uint64(0); ; level++ {
		n := size >> (TileHeight * level)
		if n < TileWidth {
			break
		}
		for i := uint64(0); i < n/TileWidth; i++ {
			bz, err := l.fs.read(TilePath(level, i, 0))
			if err != nil {
				return fmt.Errorf("%w: tile %d/%d is missing", ErrDamaged, level, i)
			}
			if _, err := l.checkTile(level, i, bz); err != nil {
				return err
			}
		}
	}
	if !entries {
		for b := uint64(0); b < size/TileWidth; b++ {
			if !l.fs.exists(BundlePath(b, 0)) {
				return fmt.Errorf("%w: entry bundle %d is missing", ErrDamaged, b)
			}
		}
		return nil
	}
	for b := uint64(0); b < size/TileWidth; b++ {
		bz, err := l.fs.read(BundlePath(b, 0))
		if err != nil {
			return fmt.Errorf("%w: entry bundle %d is missing", ErrDamaged, b)
		}
		entries, err := splitBundle(bz)
		if err != nil || len(entries) != TileWidth {
			return fmt.Errorf("%w: entry bundle %d does not hold %d entries", ErrDamaged, b, TileWidth)
		}
		if err := l.checkEntries(b, entries); err != nil {
			return err
		}
	}
	return nil
}

// LeafHash is the RFC 6962 leaf hash of an entry.
func LeafHash(entry []byte) []byte { return Hasher.HashLeaf(entry) }

// VerifyInclusion checks an inclusion proof of entry at index in the tree of
// size with root.
func VerifyInclusion(index, size uint64, entry []byte, p [][]byte, root []byte) error {
	return readable(proof.VerifyInclusion(Hasher, index, size, LeafHash(entry), p, root))
}

// VerifyConsistency checks that the tree (size2, root2) extends (size1, root1).
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 []byte) error {
	return readable(proof.VerifyConsistency(Hasher, size1, size2, p, root1, root2))
}

// readable words a root mismatch in hex (the library prints byte lists).
func readable(err error) error {
	var rm proof.RootMismatchError
	if errors.As(err, &rm) {
		return fmt.Errorf("the proof leads to root %X, not %X", rm.CalculatedRoot, rm.ExpectedRoot)
	}
	return err
}
