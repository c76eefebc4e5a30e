// Package tlog is the ledger's append-only record log: an RFC 6962 Merkle
// tree (github.com/transparency-dev/merkle: its hasher, compact ranges and
// proof plans; no hand-written tree) whose leaves are the committed records'
// signed transactions, in commit order, stored as C2SP tlog-tiles: 256-hash
// tiles tile/<L>/<N>[.p/<W>] and entry bundles tile/entries/<N>[.p/<W>].
//
// The log is derived data: the size and root committed in IAVL (the app
// hash) are the truth. Appends are kept in memory until Flush writes them
// (every file replaced atomically through internal/atomicfile); Open
// discards whatever lies beyond the committed size (a crash between
// FinalizeBlock and Commit) and refuses a log whose tiles are missing or do
// not hash to the committed root.
//
// The files, one job each: paths.go (C2SP paths), codec.go (tile and bundle
// bytes), open.go (open and crash recovery), write.go (append, flush,
// commit), read.go (verified reads of tiles, bundles and nodes), proof.go
// (building proofs), verify.go (the integrity walk), storage.go (files on
// disk or in memory); tlog.go holds the Log and its caches. The proof
// checks are in logproof, which verifiers (the WebAssembly one too) import
// without the storage.
//
// It may import only the standard library, transparency-dev/merkle,
// logproof, internal/atomicfile and hashicorp/golang-lru.
package tlog

import (
	"errors"
	"fmt"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/normledger/normledger/ledger/store/tlog/logproof"

	"github.com/transparency-dev/merkle/compact"
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

var factory = &compact.RangeFactory{Hash: logproof.Hasher.HashChildren}

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
	caches
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

// caches hold full tiles and bundles read from disk, which never change
// once written. A tile enters the cache only once its hashes were checked
// against the node above it (up to the right edge, which the committed
// root covers), so a cached tile is a verified one. They are keyed by
// tile or bundle index, not by path, so that a lookup on the proof path
// builds no string.
type caches struct {
	tiles   *lru.Cache[tileKey, *tileTree]
	bundles *lru.Cache[uint64, []byte]
	nodes   *lru.Cache[nodeKey, []byte] // hashes of complete nodes in right-edge tiles
}

func newCaches() caches {
	return caches{newCache[tileKey, *tileTree](tileCacheSize), newCache[uint64, []byte](bundleCacheSize), newCache[nodeKey, []byte](edgeNodeCacheSize)}
}

type flushedBundle struct {
	index uint64
	width int
}

type supersededFile struct {
	path string
	size uint64 // committed size from which it is no longer needed
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
		d.setSync(on)
	}
}

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
		return logproof.Hasher.EmptyRoot()
	}
	r, _ := l.rng.GetRootHash(nil)
	return r
}

// Committed is the size reads may use.
func (l *Log) Committed() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.committed
}

// newCache is a cache of full tiles, bundles or node hashes read from disk
// (they never change once written): hashicorp/golang-lru, which is safe for
// concurrent use.
func newCache[K comparable, V any](size int) *lru.Cache[K, V] {
	c, err := lru.New[K, V](size)
	if err != nil {
		panic(err) // only for a size <= 0: the sizes are constants
	}
	return c
}
