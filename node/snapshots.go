package node

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// SnapshotConfig configures state-sync snapshots ([state_sync] in app.toml).
type SnapshotConfig struct {
	// Interval > 0 takes a snapshot every Interval heights; 0 takes none
	// (the node can still restore from others').
	Interval int64
	// KeepRecent snapshots are kept (default 2).
	KeepRecent int
	// ChunkHeight bounds a chunk's subtree height (default store.DefaultChunkHeight).
	ChunkHeight int
	// Fault is for fault tests only: "corrupt" serves every chunk with one
	// byte flipped, "slow:DURATION" serves each chunk after DURATION.
	Fault string
}

// Snapshots serves and restores state-sync snapshots for the app: it takes
// snapshots in the background after commits, lists and serves their chunks
// to peers, and restores an offered snapshot into a separate database that
// replaces the node's (empty) state only once every chunk verified and the
// result's root is the light-client-verified app hash. It implements
// app.Snapshots.
type Snapshots struct {
	cfg  SnapshotConfig
	st   *store.Store
	log  *slog.Logger
	dir  string // data/snapshots
	work string // data/snapshot-restore

	// restoring mirrors restore != nil without the lock, which Apply holds
	// for a whole chunk and for the install: readiness probes must not wait.
	restoring atomic.Bool

	mu       sync.Mutex // guards the fields below
	creating bool
	restore  *store.Restorer
	wg       sync.WaitGroup
}

// restoreWorkDir, in a data directory, is where a restore (a state sync's
// or an export's) builds the state before it replaces the node's.
const restoreWorkDir = "snapshot-restore"

// NewSnapshots manages snapshots under dataDir for st. A restore left
// behind by a crash is removed.
func NewSnapshots(cfg SnapshotConfig, st *store.Store, dataDir string, log *slog.Logger) (*Snapshots, error) {
	if cfg.KeepRecent <= 0 {
		cfg.KeepRecent = 2
	}
	if cfg.ChunkHeight <= 0 {
		cfg.ChunkHeight = store.DefaultChunkHeight
	}
	// The bound an export's --chunk-height has: larger chunks would not
	// fit a state-sync message, and a joining node could never take them.
	if err := CheckChunkHeight(cfg.ChunkHeight); err != nil {
		return nil, fmt.Errorf("[state_sync] snapshot_chunk_height: %w", err)
	}
	s := &Snapshots{cfg: cfg, st: st, log: log, dir: filepath.Join(dataDir, "snapshots"), work: filepath.Join(dataDir, restoreWorkDir)}
	if err := os.RemoveAll(s.work); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	return s, nil
}

// Committed is told of every commit; at each interval it starts taking a
// snapshot of that height in the background (one at a time).
func (s *Snapshots) Committed(height int64) {
	if s.cfg.Interval <= 0 || height%s.cfg.Interval != 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.creating || s.restore != nil {
		return
	}
	s.creating = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		start := time.Now()
		n, err := s.create(height)
		s.mu.Lock()
		s.creating = false
		s.mu.Unlock()
		if err != nil {
			s.log.Warn("snapshot failed", "height", height, "err", err)
			return
		}
		s.log.Info("snapshot taken", "height", height, "chunks", n, "took", time.Since(start).Round(time.Millisecond))
		s.prune()
	}()
}

// Restoring reports whether a state-sync restore is under way (a
// snapshot was accepted and its chunks are being applied).
func (s *Snapshots) Restoring() bool { return s.restoring.Load() }

// setRestore sets the restore under way (nil: none); s.mu is held.
func (s *Snapshots) setRestore(r *store.Restorer) {
	s.restore = r
	s.restoring.Store(r != nil)
}

// Close waits for a snapshot being taken.
func (s *Snapshots) Close() { s.wg.Wait() }

// A snapshot directory holds "chunks" (every chunk, back to back),
// "chunks.idx" (each chunk's end offset, 8 bytes big-endian) and
// "manifest", written in that order, each fsynced: one file for all chunks
// keeps a large snapshot from costing one fsync per chunk.
func chunksFile(dir string) string { return filepath.Join(dir, "chunks") }
func indexFile(dir string) string  { return filepath.Join(dir, "chunks.idx") }

// readChunk reads chunk i of the snapshot in dir.
func readChunk(dir string, i int) ([]byte, error) {
	idx, err := os.ReadFile(indexFile(dir))
	if err != nil {
		return nil, err
	}
	if i < 0 || (i+1)*8 > len(idx) {
		return nil, fmt.Errorf("no chunk %d", i)
	}
	var start uint64
	if i > 0 {
		start = binary.BigEndian.Uint64(idx[(i-1)*8:])
	}
	end := binary.BigEndian.Uint64(idx[i*8:])
	f, err := os.Open(chunksFile(dir))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bz := make([]byte, end-start)
	if _, err := f.ReadAt(bz, int64(start)); err != nil {
		return nil, err
	}
	return bz, nil
}

// writeSynced writes a file and fsyncs it.
func writeSynced(path string, bz []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(bz); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// create exports height into DIR/<height>: chunks first, each fsynced, then
// the manifest, then the directory renamed into place.
func (s *Snapshots) create(height int64) (int, error) {
	tmp := filepath.Join(s.dir, fmt.Sprintf("%d.tmp", height))
	if err := os.RemoveAll(tmp); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(chunksFile(tmp), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var idx []byte
	var off uint64
	m, mbz, err := snapshotTo(s.st, height, s.cfg.ChunkHeight, func(i int, bz []byte) error {
		if _, err := w.Write(bz); err != nil {
			return err
		}
		off += uint64(len(bz))
		idx = binary.BigEndian.AppendUint64(idx, off)
		return nil
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = writeSynced(indexFile(tmp), idx)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return 0, err
	}
	if err := writeSynced(filepath.Join(tmp, "manifest"), mbz); err != nil {
		return 0, err
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, strconv.FormatInt(height, 10))); err != nil {
		return 0, err
	}
	return store.ChunkCount(m), atomicfile.SyncDir(s.dir)
}

// snapshotTo cuts committed height of st into chunks, handing each to
// emit in order, and returns the manifest with its canonical encoding: what
// a snapshot directory holds, what peers are served, what an export file
// carries (backup.go).
func snapshotTo(st *store.Store, height int64, chunkHeight int, emit func(i int, chunk []byte) error) (*pb.SnapshotManifest, []byte, error) {
	m, err := st.ExportSnapshot(height, chunkHeight, emit)
	if err != nil {
		return nil, nil, err
	}
	bz, err := ledger.Canonical(m)
	if err != nil {
		return nil, nil, err
	}
	return m, bz, nil
}

// parseManifest decodes a snapshot's manifest and requires it to be of the
// height and number of chunks its carrier (a state-sync offer, an export
// file) says. Whether its tree hashes to the app hash is
// store.VerifyManifest's to check.
func parseManifest(bz []byte, height int64, chunks int) (*pb.SnapshotManifest, error) {
	m := new(pb.SnapshotManifest)
	if err := proto.Unmarshal(bz, m); err != nil {
		return nil, fmt.Errorf("the manifest does not decode: %v", err)
	}
	if m.Height != height {
		return nil, fmt.Errorf("the manifest is of height %d, not %d", m.Height, height)
	}
	if n := store.ChunkCount(m); n != chunks {
		return nil, fmt.Errorf("the manifest names %d chunks, not %d", n, chunks)
	}
	return m, nil
}

// heights lists the complete snapshots, newest first.
func (s *Snapshots) heights() []int64 {
	ents, _ := os.ReadDir(s.dir)
	var hs []int64
	for _, e := range ents {
		h, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.dir, e.Name(), "manifest")); err == nil {
			hs = append(hs, h)
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i] > hs[j] })
	return hs
}

func (s *Snapshots) prune() {
	for _, h := range s.heights()[min(len(s.heights()), s.cfg.KeepRecent):] {
		os.RemoveAll(filepath.Join(s.dir, strconv.FormatInt(h, 10)))
	}
	ents, _ := os.ReadDir(s.dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			if h, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".tmp"), 10, 64); err == nil && h < s.st.Version()-s.cfg.Interval {
				os.RemoveAll(filepath.Join(s.dir, e.Name()))
			}
		}
	}
}

// List implements app.Snapshots.
func (s *Snapshots) List() []*abci.Snapshot {
	var out []*abci.Snapshot
	for _, h := range s.heights() {
		bz, err := os.ReadFile(filepath.Join(s.dir, strconv.FormatInt(h, 10), "manifest"))
		if err != nil {
			continue
		}
		m := new(pb.SnapshotManifest)
		if err := proto.Unmarshal(bz, m); err != nil {
			continue
		}
		sum := sha256.Sum256(bz)
		out = append(out, &abci.Snapshot{Height: uint64(h), Format: store.SnapshotFormat, Chunks: uint32(store.ChunkCount(m)), Hash: sum[:], Metadata: bz})
	}
	return out
}

// Load implements app.Snapshots.
func (s *Snapshots) Load(height uint64, format, chunk uint32) []byte {
	if format != store.SnapshotFormat {
		return nil
	}
	bz, err := readChunk(filepath.Join(s.dir, strconv.FormatUint(height, 10)), int(chunk))
	if err != nil {
		return nil
	}
	switch f := s.cfg.Fault; {
	case f == "corrupt":
		bz[len(bz)/2] ^= 0x40
		s.log.Warn("fault injection: serving a corrupted snapshot chunk", "height", height, "chunk", chunk)
	case strings.HasPrefix(f, "slow:"):
		if d, err := time.ParseDuration(strings.TrimPrefix(f, "slow:")); err == nil {
			time.Sleep(d)
		}
	}
	return bz
}

// Offer implements app.Snapshots: a snapshot is accepted only into an empty
// state, and only if its manifest's tree hashes to appHash (which CometBFT's
// light client verified). A new offer drops any restore under way.
func (s *Snapshots) Offer(snap *abci.Snapshot, appHash []byte) abci.ResponseOfferSnapshot_Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.restore != nil {
		s.log.Info("dropping the restore under way for a new offer")
		s.restore.Abort()
		s.setRestore(nil)
	}
	if v := s.st.Version(); v != 0 {
		s.log.Error("refusing to restore a snapshot into a database that holds state", "height", v)
		return abci.ResponseOfferSnapshot_ABORT
	}
	if snap.Format != store.SnapshotFormat {
		return abci.ResponseOfferSnapshot_REJECT_FORMAT
	}
	sum := sha256.Sum256(snap.Metadata)
	m, err := parseManifest(snap.Metadata, int64(snap.Height), int(snap.Chunks))
	if err != nil || string(sum[:]) != string(snap.Hash) {
		s.log.Warn("rejecting a malformed snapshot", "height", snap.Height, "err", err)
		return abci.ResponseOfferSnapshot_REJECT
	}
	if err := store.VerifyManifest(m, appHash); err != nil {
		s.log.Warn("rejecting a snapshot", "height", snap.Height, "err", err)
		return abci.ResponseOfferSnapshot_REJECT
	}
	r, err := store.NewRestorer(s.work, m)
	if err != nil {
		s.log.Error("cannot start a restore", "err", err)
		return abci.ResponseOfferSnapshot_ABORT
	}
	s.setRestore(r)
	s.log.Info("restoring a snapshot", "height", snap.Height, "chunks", snap.Chunks)
	return abci.ResponseOfferSnapshot_ACCEPT
}

// Apply implements app.Snapshots. A chunk that does not verify is fetched
// again from another peer (its sender is rejected); after the last chunk
// the restored state replaces the node's empty one, and done is true.
func (s *Snapshots) Apply(index uint32, chunk []byte, sender string) (*abci.ResponseApplySnapshotChunk, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.restore
	if r == nil {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}, false
	}
	if err := r.Apply(int(index), chunk); err != nil {
		if errors.Is(err, store.ErrSnapshot) {
			s.log.Warn("rejected a snapshot chunk; fetching it again from another peer", "chunk", index, "sender", sender, "err", err)
			return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY,
				RefetchChunks: []uint32{index}, RejectSenders: []string{sender}}, false
		}
		s.log.Error("snapshot restore failed", "chunk", index, "err", err)
		r.Abort()
		s.setRestore(nil)
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}, false
	}
	if !r.Done() {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, false
	}
	s.setRestore(nil)
	if err := r.Finish(); err != nil {
		s.log.Error("restored state does not verify", "err", err)
		r.Abort()
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT}, false
	}
	if err := s.st.Install(s.work); err != nil {
		s.log.Error("cannot install the restored state", "err", err)
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}, false
	}
	s.log.Info("snapshot restored", "height", s.st.Version(), "app_hash", fmt.Sprintf("%X", s.st.Hash()))
	return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}, true
}
