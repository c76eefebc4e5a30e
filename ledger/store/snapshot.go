package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cosmos/iavl"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store/tlog"
	"github.com/normledger/normledger/ledger/store/tlog/logproof"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// SnapshotFormat is the only snapshot format (see proto/normledger/v1/snapshot.proto):
// 2 since the record log (app version 4) travels after the state chunks.
const SnapshotFormat = 2

// DefaultChunkHeight bounds a chunk's subtree height: at most 2^10 leaves,
// about 1.5 MiB with the largest records.
const DefaultChunkHeight = 10

// ErrSnapshot is wrapped by every snapshot verification failure.
var ErrSnapshot = errors.New("snapshot does not verify")

func snapErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(format, args...))
}

// subtree is a completed subtree during export or verification.
type subtree struct {
	hash   []byte
	leaves int64
	nodes  []*pb.SnapshotNode // while it is small enough to be (part of) a chunk
	ref    *pb.SnapshotRef    // once it is a chunk or a top node
}

// ExportSnapshot cuts committed version v into chunks of whole subtrees of
// height at most chunkHeight, calling emit for each chunk in order, and
// returns the manifest (the tree above the chunks, the chunks' hashes).
func (s *Store) ExportSnapshot(v int64, chunkHeight int, emit func(index int, chunk []byte) error) (*pb.SnapshotManifest, error) {
	s.mu.RLock()
	it, err := s.reader.GetImmutable(v)
	s.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("%w: version %d: %v", ErrNoVersion, v, err)
	}
	exp, err := it.Export()
	if err != nil {
		return nil, err
	}
	defer exp.Close()
	m := &pb.SnapshotManifest{Format: SnapshotFormat, Height: v}
	var stack []*subtree
	flush := func(t *subtree) (*pb.SnapshotRef, error) {
		if t.ref != nil {
			return t.ref, nil
		}
		bz, err := ledger.Canonical(&pb.SnapshotChunk{Nodes: t.nodes})
		if err != nil {
			return nil, err
		}
		i := len(m.Chunks)
		sum := sha256.Sum256(bz)
		m.Chunks = append(m.Chunks, &pb.SnapshotChunkInfo{SubtreeHash: t.hash, Leaves: t.leaves, Sha256: sum[:]})
		if err := emit(i, bz); err != nil {
			return nil, err
		}
		t.nodes, t.ref = nil, &pb.SnapshotRef{Ref: &pb.SnapshotRef_Chunk{Chunk: uint32(i)}}
		return t.ref, nil
	}
	for {
		n, err := exp.Next()
		if errors.Is(err, iavl.ErrorExportDone) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("export version %d: %w", v, err)
		}
		sn := &pb.SnapshotNode{Key: n.Key, Value: n.Value, Version: n.Version, Height: int32(n.Height)}
		if n.Height == 0 {
			stack = append(stack, &subtree{hash: leafHash(n.Key, n.Value, n.Version), leaves: 1, nodes: []*pb.SnapshotNode{sn}})
			continue
		}
		if len(stack) < 2 {
			return nil, fmt.Errorf("export version %d: an inner node lacks its children", v)
		}
		l, r := stack[len(stack)-2], stack[len(stack)-1]
		stack = stack[:len(stack)-2]
		t := &subtree{leaves: l.leaves + r.leaves}
		t.hash = innerHash(n.Height, t.leaves, n.Version, l.hash, r.hash)
		if int(n.Height) <= chunkHeight && l.ref == nil && r.ref == nil {
			t.nodes = append(append(append(make([]*pb.SnapshotNode, 0, len(l.nodes)+len(r.nodes)+1), l.nodes...), r.nodes...), sn)
		} else {
			// Chunks are numbered in stream order, which the import needs:
			// small subtrees still waiting on the stack came earlier, and
			// can no longer join a small subtree (their right sibling holds
			// this top node), so they become chunks first.
			for _, w := range stack {
				if _, err := flush(w); err != nil {
					return nil, err
				}
			}
			lr, err := flush(l)
			if err != nil {
				return nil, err
			}
			rr, err := flush(r)
			if err != nil {
				return nil, err
			}
			m.Top = append(m.Top, &pb.SnapshotTopNode{Key: n.Key, Version: n.Version, Height: int32(n.Height), Left: lr, Right: rr})
			t.ref = &pb.SnapshotRef{Ref: &pb.SnapshotRef_Top{Top: uint32(len(m.Top) - 1)}}
		}
		stack = append(stack, t)
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("export version %d: %d roots", v, len(stack))
	}
	if _, err := flush(stack[0]); err != nil {
		return nil, err
	}
	m.AppHash = stack[0].hash
	if !bytes.Equal(m.AppHash, it.Hash()) {
		return nil, fmt.Errorf("export version %d: the nodes hash to %X, not the version's root %X", v, m.AppHash, it.Hash())
	}
	if err := s.exportLog(v, m, emit); err != nil {
		return nil, fmt.Errorf("export version %d: record log: %w", v, err)
	}
	return m, nil
}

// ChunkCount is the number of chunks of a snapshot: state, then log.
func ChunkCount(m *pb.SnapshotManifest) int { return len(m.Chunks) + int(m.LogChunks) }

// logChunkBytes bounds a log chunk's entries.
const logChunkBytes = 1 << 20

// exportLog emits the record log as of version v after the state chunks.
func (s *Store) exportLog(v int64, m *pb.SnapshotManifest, emit func(int, []byte) error) error {
	view, err := s.At(v)
	if err != nil {
		return err
	}
	size, _, err := view.LogState()
	if err != nil {
		return err
	}
	m.LogSize = size
	for start := uint64(0); start < size; {
		c := &pb.SnapshotLogChunk{Start: start}
		n := 0
		for end := start; end < size && (n == 0 || n < logChunkBytes); end++ {
			e, err := s.rlog.Entry(end)
			if err != nil {
				return err
			}
			c.Entries = append(c.Entries, e)
			n += len(e)
		}
		end := start + uint64(len(c.Entries))
		if c.Consistency, err = s.rlog.ConsistencyProof(end, size); err != nil {
			return err
		}
		bz, err := ledger.Canonical(c)
		if err != nil {
			return err
		}
		if err := emit(len(m.Chunks)+int(m.LogChunks), bz); err != nil {
			return err
		}
		m.LogChunks++
		start = end
	}
	return nil
}

// VerifyManifest recomputes the root of a manifest's top tree from its
// chunks' subtree hashes and requires it to be appHash (the app hash a
// light client verified). Each chunk and top node must be used exactly once.
func VerifyManifest(m *pb.SnapshotManifest, appHash []byte) error {
	if m.Format != SnapshotFormat {
		return snapErr("format %d", m.Format)
	}
	if len(m.Chunks) == 0 {
		return snapErr("no chunks")
	}
	if !bytes.Equal(m.AppHash, appHash) {
		return snapErr("the manifest is of state %X, the verified app hash is %X", m.AppHash, appHash)
	}
	usedChunk := make([]bool, len(m.Chunks))
	type sub struct {
		hash   []byte
		leaves int64
	}
	tops := make([]sub, len(m.Top))
	usedTop := make([]bool, len(m.Top))
	child := func(t int, r *pb.SnapshotRef) (sub, error) {
		switch x := r.GetRef().(type) {
		case *pb.SnapshotRef_Chunk:
			i := int(x.Chunk)
			if i >= len(m.Chunks) || usedChunk[i] {
				return sub{}, snapErr("top node %d: chunk %d unknown or used twice", t, i)
			}
			usedChunk[i] = true
			c := m.Chunks[i]
			if len(c.SubtreeHash) != 32 || c.Leaves < 1 {
				return sub{}, snapErr("chunk %d: malformed", i)
			}
			return sub{c.SubtreeHash, c.Leaves}, nil
		case *pb.SnapshotRef_Top:
			i := int(x.Top)
			if i >= t || usedTop[i] {
				return sub{}, snapErr("top node %d: child top %d not earlier or used twice", t, i)
			}
			usedTop[i] = true
			return tops[i], nil
		}
		return sub{}, snapErr("top node %d: a child with no reference", t)
	}
	for t, n := range m.Top {
		l, err := child(t, n.Left)
		if err != nil {
			return err
		}
		r, err := child(t, n.Right)
		if err != nil {
			return err
		}
		if n.Height < 1 || n.Height > 127 {
			return snapErr("top node %d: height %d", t, n.Height)
		}
		tops[t] = sub{innerHash(int8(n.Height), l.leaves+r.leaves, n.Version, l.hash, r.hash), l.leaves + r.leaves}
	}
	var root []byte
	if len(m.Top) == 0 {
		if len(m.Chunks) != 1 {
			return snapErr("%d chunks and no top tree", len(m.Chunks))
		}
		root, usedChunk[0] = m.Chunks[0].SubtreeHash, true
	} else {
		root = tops[len(tops)-1].hash
		usedTop[len(tops)-1] = true
	}
	for i, u := range usedChunk {
		if !u {
			return snapErr("chunk %d is not in the tree", i)
		}
	}
	for i, u := range usedTop {
		if !u {
			return snapErr("top node %d is not in the tree", i)
		}
	}
	if !bytes.Equal(root, appHash) {
		return snapErr("the manifest's tree hashes to %X, not the verified app hash %X", root, appHash)
	}
	if uint64(m.LogChunks) > m.LogSize || (m.LogSize > 0 && m.LogChunks == 0) {
		return snapErr("%d log chunks for a log of %d entries", m.LogChunks, m.LogSize)
	}
	return nil
}

// VerifyChunk decodes chunk i and requires it to be exactly the subtree the
// (verified) manifest names.
func VerifyChunk(m *pb.SnapshotManifest, i int, bz []byte) ([]*pb.SnapshotNode, error) {
	nodes, _, err := verifyChunk(m, i, bz)
	return nodes, err
}

// verifyChunk is VerifyChunk, also returning the chunk's smallest key. The
// IAVL hash covers leaf keys but not the keys of inner nodes, which route
// lookups and inserts: each must be the smallest key of its right subtree,
// as in the tree that was exported, or the restored node would find, and
// later insert, keys elsewhere than every other node (and diverge).
func verifyChunk(m *pb.SnapshotManifest, i int, bz []byte) ([]*pb.SnapshotNode, []byte, error) {
	if i < 0 || i >= len(m.Chunks) {
		return nil, nil, snapErr("no chunk %d", i)
	}
	info := m.Chunks[i]
	if sum := sha256.Sum256(bz); !bytes.Equal(sum[:], info.Sha256) {
		return nil, nil, snapErr("chunk %d: its bytes hash to %X, the manifest says %X", i, sum, info.Sha256)
	}
	c := new(pb.SnapshotChunk)
	if err := proto.Unmarshal(bz, c); err != nil {
		return nil, nil, snapErr("chunk %d does not decode: %v", i, err)
	}
	var stack []subtree
	var mins [][]byte // the smallest key of each subtree on the stack
	for _, n := range c.Nodes {
		if n.Height < 0 || n.Height > 127 {
			return nil, nil, snapErr("chunk %d: node height %d", i, n.Height)
		}
		if n.Height == 0 {
			if n.Value == nil {
				return nil, nil, snapErr("chunk %d: a leaf without a value", i)
			}
			stack = append(stack, subtree{hash: leafHash(n.Key, n.Value, n.Version), leaves: 1})
			mins = append(mins, n.Key)
			continue
		}
		if len(stack) < 2 {
			return nil, nil, snapErr("chunk %d: an inner node lacks its children", i)
		}
		l, r := stack[len(stack)-2], stack[len(stack)-1]
		stack = stack[:len(stack)-2]
		if !bytes.Equal(n.Key, mins[len(mins)-1]) {
			return nil, nil, snapErr("chunk %d: an inner node's key is not the smallest key of its right subtree", i)
		}
		mins = append(mins[:len(mins)-2], mins[len(mins)-2])
		stack = append(stack, subtree{hash: innerHash(int8(n.Height), l.leaves+r.leaves, n.Version, l.hash, r.hash), leaves: l.leaves + r.leaves})
	}
	if len(stack) != 1 || !bytes.Equal(stack[0].hash, info.SubtreeHash) || stack[0].leaves != info.Leaves {
		return nil, nil, snapErr("chunk %d is not the subtree the manifest names", i)
	}
	return c.Nodes, mins[0], nil
}

// Restorer rebuilds a state from a verified manifest and its chunks, in a
// database of its own (dir) that only Install moves into place: the state
// chunks, then the record log's.
type Restorer struct {
	dir     string
	db      iavlDB
	tree    *iavl.MutableTree
	imp     *iavl.Importer
	m       *pb.SnapshotManifest
	applied int // chunks applied, in order
	nextTop int // top nodes emitted
	// The smallest key of each applied chunk and emitted top node: a top
	// node's key must be its right child's (see verifyChunk).
	chunkMin, topMin [][]byte
	// Once the state is in: the record log being rebuilt and the size and
	// root the restored state commits it to.
	log     *tlog.Log
	logRoot []byte
}

// NewRestorer starts a restore of m (already verified with VerifyManifest)
// into a fresh database in dir, removing whatever a previous attempt left.
func NewRestorer(dir string, m *pb.SnapshotManifest) (*Restorer, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	db, err := openLevelDB(dir)
	if err != nil {
		return nil, err
	}
	tree := iavl.NewMutableTree(growingBatches{db}, DefaultCacheSize, true, iavl.NewNopLogger(), iavl.SyncOption(false),
		iavl.FlushThresholdOption(flushThreshold))
	imp, err := tree.Import(m.Height)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Restorer{dir: dir, db: db, tree: tree, imp: imp, m: m}, nil
}

// Next is the index of the chunk Apply expects.
func (r *Restorer) Next() int { return r.applied }

// Done reports whether every chunk was applied.
func (r *Restorer) Done() bool { return r.applied == len(r.m.Chunks)+int(r.m.LogChunks) }

// Apply verifies chunk i (it must be the next) and applies it: a state
// chunk against the manifest, a log chunk against the restored state's
// meta/log.
func (r *Restorer) Apply(i int, bz []byte) error {
	if i != r.applied {
		return fmt.Errorf("chunk %d arrived, chunk %d expected", i, r.applied)
	}
	if i >= len(r.m.Chunks) {
		return r.applyLog(i, bz)
	}
	nodes, min, err := verifyChunk(r.m, i, bz)
	if err != nil {
		return err
	}
	r.chunkMin = append(r.chunkMin, min)
	for _, n := range nodes {
		if err := r.imp.Add(&iavl.ExportNode{Key: n.Key, Value: n.Value, Version: n.Version, Height: int8(n.Height)}); err != nil {
			return fmt.Errorf("import chunk %d: %w", i, err)
		}
	}
	r.applied++
	ready := func(ref *pb.SnapshotRef, t int) bool {
		switch x := ref.GetRef().(type) {
		case *pb.SnapshotRef_Chunk:
			return int(x.Chunk) < r.applied
		case *pb.SnapshotRef_Top:
			return int(x.Top) < t
		}
		return false
	}
	for r.nextTop < len(r.m.Top) {
		t := r.m.Top[r.nextTop]
		if !ready(t.Left, r.nextTop) || !ready(t.Right, r.nextTop) {
			break
		}
		minOf := func(ref *pb.SnapshotRef) []byte {
			if c, ok := ref.GetRef().(*pb.SnapshotRef_Chunk); ok {
				return r.chunkMin[c.Chunk]
			}
			return r.topMin[ref.GetTop()]
		}
		if !bytes.Equal(t.Key, minOf(t.Right)) {
			return snapErr("top node %d: its key is not the smallest key of its right subtree", r.nextTop)
		}
		r.topMin = append(r.topMin, minOf(t.Left))
		if err := r.imp.Add(&iavl.ExportNode{Key: t.Key, Version: t.Version, Height: int8(t.Height)}); err != nil {
			return fmt.Errorf("import top node %d: %w", r.nextTop, err)
		}
		r.nextTop++
	}
	if r.applied == len(r.m.Chunks) {
		return r.finishState()
	}
	return nil
}

// finishState commits the imported state, checks its root hash and opens
// the log it commits to.
func (r *Restorer) finishState() error {
	if r.nextTop != len(r.m.Top) {
		return fmt.Errorf("restore incomplete: %d of %d top nodes", r.nextTop, len(r.m.Top))
	}
	if err := r.imp.Commit(); err != nil {
		return fmt.Errorf("commit restored state: %w", err)
	}
	r.imp = nil
	if !bytes.Equal(r.tree.Hash(), r.m.AppHash) || r.tree.Version() != r.m.Height {
		return snapErr("the restored state is version %d with root %X, not %d with %X", r.tree.Version(), r.tree.Hash(), r.m.Height, r.m.AppHash)
	}
	size, root, err := (&View{r: r.tree}).LogState()
	if err != nil {
		return snapErr("restored state: %v", err)
	}
	if size != r.m.LogSize {
		return snapErr("the restored state commits to a log of %d entries, the manifest says %d", size, r.m.LogSize)
	}
	r.logRoot = root
	if r.log, err = tlog.Open(filepath.Join(r.dir, LogDir), 0, nil); err != nil {
		return err
	}
	return nil
}

// applyLog verifies log chunk i: it must continue the log restored so far,
// and the log it completes must be a prefix of the one the restored state
// commits to (an RFC 6962 consistency proof). A chunk that fails leaves
// the log as it was, for the chunk to be fetched again.
func (r *Restorer) applyLog(i int, bz []byte) error {
	c := new(pb.SnapshotLogChunk)
	if err := proto.Unmarshal(bz, c); err != nil {
		return snapErr("log chunk %d does not decode: %v", i, err)
	}
	if c.Start != r.log.Size() || len(c.Entries) == 0 || c.Start+uint64(len(c.Entries)) > r.m.LogSize {
		return snapErr("log chunk %d holds entries %d..%d, the log needs %d on (of %d)", i, c.Start, c.Start+uint64(len(c.Entries)), r.log.Size(), r.m.LogSize)
	}
	last := i == len(r.m.Chunks)+int(r.m.LogChunks)-1
	if end := c.Start + uint64(len(c.Entries)); last != (end == r.m.LogSize) {
		return snapErr("log chunk %d ends at entry %d of %d", i, end, r.m.LogSize)
	}
	for _, e := range c.Entries {
		if _, err := r.log.Append(e); err != nil {
			r.log.Rollback()
			return snapErr("log chunk %d: %v", i, err)
		}
	}
	end := r.log.Size()
	if err := logproof.VerifyConsistency(end, r.m.LogSize, c.Consistency, r.log.Root(), r.logRoot); err != nil {
		if rerr := r.log.Rollback(); rerr != nil {
			return rerr
		}
		return snapErr("log chunk %d: entries up to %d are not a prefix of the committed log: %v", i, end, err)
	}
	if err := r.log.Flush(); err != nil {
		return err
	}
	r.log.MarkCommitted(end)
	r.applied++
	return nil
}

// Finish checks that the whole snapshot was applied and closes the
// restored database.
func (r *Restorer) Finish() error {
	if !r.Done() || r.imp != nil {
		return fmt.Errorf("restore incomplete: %d of %d chunks", r.applied, len(r.m.Chunks)+int(r.m.LogChunks))
	}
	if r.log == nil || r.log.Size() != r.m.LogSize || !bytes.Equal(r.log.Root(), r.logRoot) {
		return snapErr("the restored record log does not match the restored state")
	}
	return r.db.Close()
}

// Abort drops the restore and everything it wrote.
func (r *Restorer) Abort() {
	if r.imp != nil {
		r.imp.Close()
	}
	r.db.Close()
	os.RemoveAll(r.dir)
}

// Install replaces this store's (empty) database with a finished restore
// from restoreDir and loads it, as Open would after a clean shutdown.
func (s *Store) Install(restoreDir string) error {
	if s.dataDir == "" {
		return errors.New("an in-memory store cannot install a restore")
	}
	if v := s.Version(); v != 0 {
		return fmt.Errorf("refusing to install a restore over a store at height %d", v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The empty store's trees (and IAVL's pruning goroutine) and databases
	// go; the restored ones replace them.
	err := errors.Join(s.tree.Close(), s.reader.Close(), s.db.Close())
	if s.index != nil {
		err = errors.Join(err, s.index.Close())
		s.index = nil
	}
	if err != nil {
		return err
	}
	live := filepath.Join(s.dataDir, "appstate.db")
	if err := os.RemoveAll(live); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(restoreDir, "appstate.db"), live); err != nil {
		return err
	}
	liveLog := filepath.Join(s.dataDir, LogDir)
	if err := os.RemoveAll(liveLog); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(restoreDir, LogDir), liveLog); err != nil {
		return err
	}
	os.RemoveAll(restoreDir)
	db, err := openLevelDB(s.dataDir)
	if err != nil {
		return err
	}
	fresh, err := newStore(db, s.cacheSize, s.keepRecent > 0, s.log)
	if err != nil {
		db.Close()
		return err
	}
	fail := func(err error) error {
		if fresh.index != nil {
			fresh.index.Close()
		}
		fresh.tree.Close()
		fresh.reader.Close()
		db.Close()
		return err
	}
	fresh.dataDir = s.dataDir
	if err := fresh.openLog(); err != nil {
		return fail(err)
	}
	// The content index is rebuilt from the restored log.
	if err := fresh.openIndex(true); err != nil {
		return fail(err)
	}
	if err := fresh.loadSeen(); err != nil {
		return fail(err)
	}
	s.db, s.tree, s.reader, s.version, s.hash = fresh.db, fresh.tree, fresh.reader, fresh.version, fresh.hash
	s.rlog, s.logWritten, s.pend, s.ended = fresh.rlog, fresh.logWritten, nil, nil
	s.seen, s.work, s.index, s.unindexed, s.appVersion = fresh.seen, fresh.work, fresh.index, nil, fresh.appVersion
	s.members.reset(fresh.version)
	s.count.Store(fresh.count.Load())
	s.prunedTo = fresh.version - 1
	s.restoredFrom = fresh.version
	if err := atomicfile.WriteFile(filepath.Join(s.dataDir, "appstate.restored"), []byte(fmt.Sprintf("%d\n", fresh.version)), 0o644); err != nil {
		return err
	}
	return s.writeMarker(fresh.version, fresh.hash, false)
}

// RestoredFrom is the height a state-synced store began at (0: it holds the
// chain's history from genesis).
func (s *Store) RestoredFrom() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.restoredFrom
}

// EarliestVersion is the oldest committed version this store can read (0
// before the first commit).
func (s *Store) EarliestVersion() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	vs := s.tree.AvailableVersions()
	if len(vs) == 0 {
		return 0
	}
	// IAVL prunes in the background: what it has not deleted yet is
	// already out of the window.
	return max(int64(vs[0]), s.prunedTo+1)
}
