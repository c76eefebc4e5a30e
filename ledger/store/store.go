package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	corestore "cosmossdk.io/core/store"
	"github.com/cosmos/iavl"
	iavldb "github.com/cosmos/iavl/db"
	ics23 "github.com/cosmos/ics23/go"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/keys"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// flushThreshold is the largest version written as one LevelDB batch.
const flushThreshold = 32 << 20

// DefaultCacheSize is the IAVL node cache size (nodes).
const DefaultCacheSize = 100_000

// Store is the versioned ledger state. Writes (Write, InitGenesis, Commit) are
// made by one goroutine at a time (the ABCI connection); At may be called
// concurrently with them.
type Store struct {
	db   closer
	tree *iavl.MutableTree
	// marker, when set, is the commit marker file (see checkMarker).
	marker string
	// seen answers most duplicate-content lookups of new content in memory.
	seen *seenFilter
	// members caches decoded members: every transaction looks up its
	// signer. Members are written only at genesis (set clears the cache on
	// any member write), so one decoded copy serves every version.
	members *memberCache
	// count is the number of records in the working state (every record
	// goes through Write), so FinalizeBlock need not look it up per tx.
	count atomic.Uint64
	// keepRecent > 0 deletes versions older than the newest keepRecent
	// after each commit; 0 keeps every version (an archive node).
	keepRecent int64
	log        *slog.Logger
	prunedTo   int64 // versions up to this one are gone

	mu      sync.RWMutex // guards version and hash below
	version int64
	hash    []byte
}

type closer interface{ Close() error }

// Verification modes for Open.
const (
	// VerifyAuto walks the whole state after an unclean shutdown only.
	VerifyAuto = "auto"
	// VerifyAlways walks it on every open; VerifyNever never does.
	VerifyAlways = "always"
	VerifyNever  = "never"
)

// Options configure Open.
type Options struct {
	CacheSize int
	// Verify is VerifyAuto (default), VerifyAlways or VerifyNever.
	Verify string
	// KeepRecent >= MinKeepRecent keeps only the newest KeepRecent versions
	// (heights): older ones are deleted after each commit and reads at them
	// fail with ErrNoVersion. 0 keeps every version (an archive node). The
	// latest version always holds every record, so proofs of records and members
	// at recent heights are unaffected.
	KeepRecent int64
	// Logger receives warnings (a failed prune); nil discards them.
	Logger *slog.Logger
}

// MinKeepRecent is the smallest retention window: reads default to the
// attested height (one below the newest), and a reader, a paginated listing
// or a verifier following a few blocks behind must not lose its version
// between two blocks. (IAVL does not hold back versions with readers.)
const MinKeepRecent = 100

// Open opens (or creates) the state database in dir and loads the latest
// committed version. It refuses a database that lost committed versions or
// (when verifying) entries of the latest version, with ErrDamaged.
func Open(dir string, o Options) (*Store, error) {
	db, err := iavldb.NewGoLevelDB("appstate", dir)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot open %s: %v", ErrDamaged, dir, err)
	}
	s, err := newStore(db, o.CacheSize)
	if err != nil {
		db.Close()
		return nil, err
	}
	if o.KeepRecent < 0 || (o.KeepRecent > 0 && o.KeepRecent < MinKeepRecent) {
		db.Close()
		return nil, fmt.Errorf("keep_recent %d: must be 0 (keep every version) or at least %d", o.KeepRecent, MinKeepRecent)
	}
	s.keepRecent = o.KeepRecent
	if vs := s.tree.AvailableVersions(); o.KeepRecent > 0 && len(vs) > 0 {
		s.prunedTo = int64(vs[0]) - 1
	}
	if o.Logger != nil {
		s.log = o.Logger
	}
	s.marker = filepath.Join(dir, "appstate.commit")
	clean, err := s.checkMarker()
	if err != nil {
		db.Close()
		return nil, err
	}
	verify := o.Verify == VerifyAlways || (o.Verify != VerifyNever && !clean)
	if verify && s.version > 0 {
		if err := s.Verify(); err != nil {
			db.Close()
			return nil, err
		}
	}
	// Until Close records a clean shutdown, a restart must verify.
	if s.version > 0 {
		if err := s.writeMarker(s.version, s.hash, false); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

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
	tmp := s.marker + ".tmp"
	if err := os.WriteFile(tmp, bz, 0o644); err != nil {
		return fmt.Errorf("write commit marker: %w", err)
	}
	return os.Rename(tmp, s.marker)
}

// OpenMem opens an empty in-memory store (tests, audit re-execution).
func OpenMem() (*Store, error) { return newStore(iavldb.NewMemDB(), DefaultCacheSize) }

type iavlDB interface {
	iavldb.DB
	closer
}

// growingBatches hands IAVL batches that grow as they fill. IAVL asks for
// batches preallocated to the flush threshold: 32 MiB allocated and zeroed
// on every commit, most of a node's allocation volume (and so its GC work)
// for a 1 MiB block. The threshold still applies (IAVL compares the batch's
// byte size with it), so a version up to 32 MiB is still one batch.
type growingBatches struct{ iavldb.DB }

func (d growingBatches) NewBatchWithSize(int) corestore.Batch { return d.DB.NewBatch() }

func newStore(db iavlDB, cacheSize int) (*Store, error) {
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	// One LevelDB batch per version: IAVL otherwise flushes a version in
	// ~100 KB pieces, and a crash between pieces leaves a half-written
	// version. The batcher preallocates its threshold, so it is bounded:
	// versions up to 32 MiB (a 1,000-record block writes about 10 MiB) are
	// atomic.
	//
	// No fast index (skipFastStorageUpgrade): IAVL would otherwise store
	// every value a second time, keyed by its key, for O(1) reads of the
	// newest version. Committed reads go through the tree for their proofs
	// anyway, and without it a record costs about half the disk writes.
	tree := iavl.NewMutableTree(growingBatches{db}, cacheSize, true, iavl.NewNopLogger(), iavl.SyncOption(false),
		iavl.FlushThresholdOption(flushThreshold))
	v, err := tree.Load()
	if err != nil {
		return nil, fmt.Errorf("load app state: %w", err)
	}
	s := &Store{db: db, tree: tree, version: v, hash: tree.Hash(), log: slog.New(slog.DiscardHandler), seen: &seenFilter{}, members: &memberCache{m: map[string]*pb.Member{}}}
	if v > 0 {
		// A committed version must carry the chain id written at genesis;
		// anything else means the database is damaged.
		cid, err := tree.Get([]byte(keys.KeyChainID))
		if err != nil {
			return nil, fmt.Errorf("app state at version %d is unreadable: %w", v, err)
		}
		if len(cid) == 0 {
			return nil, fmt.Errorf("app state at version %d has no chain id: database is damaged", v)
		}
		if err := s.loadSeen(); err != nil {
			return nil, fmt.Errorf("app state at version %d: %w", v, err)
		}
		n, err := (&View{r: tree}).RecordCount()
		if err != nil {
			return nil, fmt.Errorf("app state at version %d: %w", v, err)
		}
		s.count.Store(n)
	}
	return s, nil
}

// loadSeen fills the duplicate-content filter from the content index.
func (s *Store) loadSeen() error {
	start := []byte(keys.PrefixContent)
	it, err := s.tree.Iterator(start, keys.PrefixEnd(start), true)
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		k := it.Key()
		if len(k) < len(start)+1+32 {
			return fmt.Errorf("content index key %x is malformed", k)
		}
		var h [32]byte
		copy(h[:], k[len(k)-32:])
		s.seen.add(string(k[len(start):len(k)-33]), h)
	}
	return it.Error()
}

// Close records a clean shutdown and closes the database.
func (s *Store) Close() error {
	var err error
	if v := s.Version(); v > 0 {
		err = s.writeMarker(v, s.Hash(), true)
	}
	return errors.Join(err, s.db.Close())
}

// Version is the latest committed version (block height); 0 before the first commit.
func (s *Store) Version() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

// Hash is the root hash of the latest committed version.
func (s *Store) Hash() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hash
}

// WorkingHash is the root hash including uncommitted writes.
func (s *Store) WorkingHash() []byte { return s.tree.WorkingHash() }

// InitGenesis writes the genesis state. It must be called once, before the
// first commit; initialHeight is the chain's first block height.
func (s *Store) InitGenesis(chainID string, gs *pb.GenesisState, initialHeight int64) error {
	if s.tree.Version() != 0 || !s.tree.IsEmpty() {
		return errors.New("init genesis: state is not empty")
	}
	if err := ledger.ValidateGenesis(gs); err != nil {
		return err
	}
	if initialHeight > 1 {
		s.tree.SetInitialVersion(uint64(initialHeight))
	}
	params := gs.Params
	if params == nil {
		params = ledger.DefaultParams()
	}
	if err := s.setProto([]byte(keys.KeyParams), params); err != nil {
		return err
	}
	if err := s.set([]byte(keys.KeyChainID), []byte(chainID)); err != nil {
		return err
	}
	for _, m := range gs.Members {
		if err := s.setProto(keys.Member(m.Id), m); err != nil {
			return err
		}
		if err := s.set(keys.Sequence(m.Id), keys.U64(1)); err != nil {
			return err
		}
	}
	return nil
}

// Write applies the changes of one accepted transaction to the working state.
func (s *Store) Write(ch *ledger.Changes) error {
	r := ch.Record
	seq := r.Seq
	idKey, err := keys.ID(r.Id)
	if err != nil {
		return err
	}
	idRaw := idKey[len(keys.PrefixID):]
	if err := s.setProto(keys.Record(seq), r); err != nil {
		return err
	}
	writes := [][2][]byte{
		{idKey, keys.U64(seq)},
		{keys.KindIndex(kindName(r.Kind), seq), idRaw},
		{keys.AuthorIndex(r.Author, seq), idRaw},
		{keys.Content(r.Author, ch.ContentHash), idRaw},
		{keys.Sequence(r.Author), keys.U64(ch.NextSequence)},
	}
	for _, sub := range ch.Subjects {
		writes = append(writes, [2][]byte{keys.SubjectIndex(sub, seq), idRaw})
	}
	for _, sec := range ch.Sectors {
		writes = append(writes, [2][]byte{keys.SectorIndex(keys.SectorName(sec), seq), idRaw})
	}
	for _, ref := range ch.References {
		writes = append(writes, [2][]byte{keys.Ref(ref, seq), idRaw})
	}
	for _, p := range ch.Pledgors {
		writes = append(writes, [2][]byte{keys.Pledge(p, seq), idRaw})
	}
	for _, w := range writes {
		if err := s.set(w[0], w[1]); err != nil {
			return err
		}
	}
	s.seen.add(r.Author, ch.ContentHash)
	s.count.Store(seq)
	return s.WriteObligations(ch.Obligations)
}

// WriteObligations stores obligations (new or changed) and keeps their
// indexes: debtor, creditor, pledge basis and due time never change; the
// status index and the open-by-due index follow the status.
func (s *Store) WriteObligations(obs []*pb.Obligation) error {
	for _, ob := range obs {
		key := keys.Obligation(ob.Id)
		due := ob.Due.AsTime().UnixNano()
		id := []byte(ob.Id)
		old := new(pb.Obligation)
		found, err := s.Working().getProto(key, old)
		if err != nil {
			return err
		}
		if found {
			if err := s.remove(keys.ObIndex(keys.ObStatusPrefix(keys.StatusName(old.Status)), due, ob.Id)); err != nil {
				return err
			}
		} else {
			if err := s.set(keys.ObIndex(keys.ObDebtorPrefix(ob.Debtor), due, ob.Id), id); err != nil {
				return err
			}
			for _, c := range ob.Creditors {
				if err := s.set(keys.ObIndex(keys.ObCreditorPrefix(c), due, ob.Id), id); err != nil {
					return err
				}
			}
			for _, b := range ob.Basis {
				if err := s.set(keys.ObIndex(keys.ObBasisPrefix(b), due, ob.Id), id); err != nil {
					return err
				}
			}
		}
		if err := s.setProto(key, ob); err != nil {
			return err
		}
		if err := s.set(keys.ObIndex(keys.ObStatusPrefix(keys.StatusName(ob.Status)), due, ob.Id), id); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) remove(k []byte) error {
	if _, _, err := s.tree.Remove(k); err != nil {
		return fmt.Errorf("remove %q: %w", k, err)
	}
	return nil
}

// Commit saves the working state as a new version.
func (s *Store) Commit() ([]byte, int64, error) {
	hash, v, err := s.tree.SaveVersion()
	if err != nil {
		return nil, 0, fmt.Errorf("save version: %w", err)
	}
	s.mu.Lock()
	s.version, s.hash = v, hash
	s.mu.Unlock()
	if err := s.writeMarker(v, hash, false); err != nil {
		return nil, 0, err
	}
	if err := s.prune(v); err != nil {
		// The version is saved; pruning is retried after the next commit.
		s.log.Warn("pruning old state versions failed; retrying after the next block", "height", v, "err", err)
	}
	return hash, v, nil
}

// prune deletes the versions that fell out of the retention window.
func (s *Store) prune(v int64) error {
	to := v - s.keepRecent
	if s.keepRecent <= 0 || to < 1 {
		return nil
	}
	if to <= s.prunedTo {
		return nil
	}
	if err := s.tree.DeleteVersionsTo(to); err != nil {
		return fmt.Errorf("prune versions up to %d: %w", to, err)
	}
	s.prunedTo = to
	return nil
}

// Working returns a view of the working (uncommitted) state, for FinalizeBlock.
func (s *Store) Working() *View {
	return &View{r: s.tree, seen: s.seen, members: s.members, count: &s.count}
}

// At returns an immutable view of committed version v (0 = latest).
func (s *Store) At(v int64) (*View, error) {
	if v == 0 {
		v = s.Version()
	}
	if v <= 0 {
		return nil, ErrNoVersion
	}
	it, err := s.tree.GetImmutable(v)
	if err != nil {
		return nil, fmt.Errorf("%w: version %d: %v", ErrNoVersion, v, err)
	}
	return &View{r: immutableReader{it}, imm: it, version: v, seen: s.seen, members: s.members}, nil
}

// immutableReader reads a committed version through its own tree. (The
// store keeps no IAVL fast index; one would only hold the newest version and
// could change under a reader while the next version commits.)
type immutableReader struct{ t *iavl.ImmutableTree }

func (r immutableReader) Get(key []byte) ([]byte, error) { return r.t.Get(key) }

func (r immutableReader) Iterator(start, end []byte, ascending bool) (corestore.Iterator, error) {
	return iavl.NewIterator(start, end, ascending, r.t), nil
}

// ErrNoVersion is returned for a version that was never committed or was pruned.
var ErrNoVersion = errors.New("state version not available")

func (s *Store) set(k, v []byte) error {
	if _, err := s.tree.Set(k, v); err != nil {
		return fmt.Errorf("set %q: %w", k, err)
	}
	if bytes.HasPrefix(k, []byte(keys.PrefixMember)) {
		s.members.clear()
	}
	return nil
}

func (s *Store) setProto(k []byte, m proto.Message) error {
	bz, err := ledger.Canonical(m)
	if err != nil {
		return fmt.Errorf("encode %q: %w", k, err)
	}
	return s.set(k, bz)
}

func kindName(k pb.RecordKind) string {
	return ledger.KindNameOf(k)
}

type reader interface {
	Get(key []byte) ([]byte, error)
	Iterator(start, end []byte, ascending bool) (corestore.Iterator, error)
}

// View reads one state: the working state or an immutable committed version.
// A committed view is safe for concurrent use.
type View struct {
	r       reader
	imm     *iavl.ImmutableTree
	version int64
	seen    *seenFilter // nil: ask the tree every time
	members *memberCache
	count   *atomic.Uint64 // the working state's record count; nil: ask the tree
	// A committed version's count never changes: found once per view.
	countOnce sync.Once
	countMemo uint64
	countErr  error
}

var _ ledger.State = (*View)(nil)

// Version is the committed version the view reads (0 for the working state).
func (v *View) Version() int64 { return v.version }

// Get returns the raw value at key (nil if absent).
func (v *View) Get(key []byte) ([]byte, error) { return v.r.Get(key) }

// Proof returns an ICS23 existence proof if key is present and a
// non-existence proof if it is absent, against this version's root hash.
func (v *View) Proof(key []byte) (*ics23.CommitmentProof, error) {
	if v.imm == nil {
		return nil, errors.New("proofs are only available for committed versions")
	}
	return v.imm.GetProof(key)
}

// RootHash is the root hash of this committed version.
func (v *View) RootHash() []byte {
	if v.imm == nil {
		return nil
	}
	return v.imm.Hash()
}

func (v *View) getProto(key []byte, m proto.Message) (bool, error) {
	bz, err := v.r.Get(key)
	if err != nil {
		return false, err
	}
	if bz == nil {
		return false, nil
	}
	if err := proto.Unmarshal(bz, m); err != nil {
		return false, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func (v *View) getU64(key []byte) (uint64, bool, error) {
	bz, err := v.r.Get(key)
	if err != nil || bz == nil {
		return 0, false, err
	}
	if len(bz) != 8 {
		return 0, false, fmt.Errorf("value at %q is %d bytes, want 8", key, len(bz))
	}
	return binary.BigEndian.Uint64(bz), true, nil
}

// Member implements ledger.State.
// The member is shared: callers must not modify it.
func (v *View) Member(id string) (*pb.Member, error) {
	if m := v.members.get(id); m != nil {
		return m, nil
	}
	m := new(pb.Member)
	ok, err := v.getProto(keys.Member(id), m)
	if !ok || err != nil {
		return nil, err
	}
	v.members.put(id, m)
	return m, nil
}

// NextSequence implements ledger.State.
func (v *View) NextSequence(member string) (uint64, error) {
	n, ok, err := v.getU64(keys.Sequence(member))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 1, nil
	}
	return n, nil
}

// Record implements ledger.State.
func (v *View) Record(id string) (*pb.StoredRecord, error) {
	k, err := keys.ID(id)
	if err != nil {
		return nil, nil //nolint:nilerr // a malformed id names no record
	}
	seq, ok, err := v.getU64(k)
	if !ok || err != nil {
		return nil, err
	}
	return v.RecordBySeq(seq)
}

// RecordBySeq returns the record at ledger position seq, or nil.
func (v *View) RecordBySeq(seq uint64) (*pb.StoredRecord, error) {
	r := new(pb.StoredRecord)
	ok, err := v.getProto(keys.Record(seq), r)
	if !ok || err != nil {
		return nil, err
	}
	return r, nil
}

// ContentSeen implements ledger.State.
func (v *View) ContentSeen(author string, h [32]byte) (bool, error) {
	if v.seen != nil && !v.seen.mayHold(author, h) {
		return false, nil
	}
	bz, err := v.r.Get(keys.Content(author, h))
	return bz != nil, err
}

// RecordCount implements ledger.State. Record keys are the sequences
// 1..n, so the count is the last record key: no counter to rewrite on every
// record.
func (v *View) RecordCount() (uint64, error) {
	if v.count != nil {
		return v.count.Load(), nil
	}
	if v.imm != nil {
		v.countOnce.Do(func() { v.countMemo, v.countErr = v.lastRecordSeq() })
		return v.countMemo, v.countErr
	}
	return v.lastRecordSeq()
}

func (v *View) lastRecordSeq() (uint64, error) {
	start := []byte(keys.PrefixRecord)
	it, err := v.r.Iterator(start, keys.PrefixEnd(start), false)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Valid() {
		return 0, it.Error()
	}
	k := it.Key()
	if len(k) != len(start)+8 {
		return 0, fmt.Errorf("record key %x is not a sequence", k)
	}
	return binary.BigEndian.Uint64(k[len(start):]), nil
}

// Obligation implements ledger.State.
func (v *View) Obligation(id string) (*pb.Obligation, error) {
	o := new(pb.Obligation)
	ok, err := v.getProto(keys.Obligation(id), o)
	if !ok || err != nil {
		return nil, err
	}
	return o, nil
}

// PledgesOf implements ledger.State.
func (v *View) PledgesOf(member string) ([]*pb.StoredRecord, error) {
	return v.recordsUnder(keys.PledgePrefix(member))
}

// ReferringTo lists the records that refer to record id, in ledger order.
func (v *View) ReferringTo(id string) ([]*pb.StoredRecord, error) {
	return v.recordsUnder(keys.RefPrefix(id))
}

// recordsUnder loads the records of a <prefix><seq> index, in ledger order.
func (v *View) recordsUnder(p []byte) ([]*pb.StoredRecord, error) {
	it, err := v.r.Iterator(p, keys.PrefixEnd(p), true)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []*pb.StoredRecord
	for ; it.Valid(); it.Next() {
		k := it.Key()
		r, err := v.RecordBySeq(binary.BigEndian.Uint64(k[len(k)-8:]))
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, fmt.Errorf("index entry %x points at a missing record", k)
		}
		out = append(out, r)
	}
	return out, it.Error()
}

// OpenDueBefore implements ledger.State: the status index of open
// obligations is ordered by due time.
func (v *View) OpenDueBefore(t time.Time) ([]*pb.Obligation, error) {
	start := keys.ObStatusPrefix(keys.StatusName(pb.ObligationStatus_OBLIGATION_STATUS_OPEN))
	end := keys.Cat(start, keys.Due(t.UnixNano()))
	it, err := v.r.Iterator(start, end, true)
	if err != nil {
		return nil, err
	}
	var ids []string
	for ; it.Valid(); it.Next() {
		ids = append(ids, string(it.Value()))
	}
	err = it.Error()
	it.Close()
	if err != nil {
		return nil, err
	}
	out := make([]*pb.Obligation, 0, len(ids))
	for _, id := range ids {
		o, err := v.Obligation(id)
		if err != nil {
			return nil, err
		}
		if o == nil {
			return nil, fmt.Errorf("open-due index names missing obligation %s", id)
		}
		out = append(out, o)
	}
	return out, nil
}

// ObligationFilter selects obligations; empty fields match everything.
type ObligationFilter struct {
	Debtor, Creditor, Pledge string
	Status                   pb.ObligationStatus
	DueBefore                time.Time
	// After continues from a previous page (the key suffix it returned).
	After []byte
	Limit int
}

// Obligations lists obligations matching f, ordered by due time (then id)
// within the index scanned, and returns the position to continue after.
func (v *View) Obligations(f ObligationFilter) ([]*pb.Obligation, []byte, error) {
	limit := f.Limit
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	var prefix []byte
	switch {
	case f.Debtor != "":
		prefix = keys.ObDebtorPrefix(f.Debtor)
	case f.Creditor != "":
		prefix = keys.ObCreditorPrefix(f.Creditor)
	case f.Pledge != "":
		prefix = keys.ObBasisPrefix(f.Pledge)
	case f.Status != 0:
		prefix = keys.ObStatusPrefix(keys.StatusName(f.Status))
	default:
		prefix = []byte(keys.PrefixObligation)
	}
	start := prefix
	if len(f.After) > 0 {
		start = append(keys.Cat(prefix, f.After), 0)
	}
	end := keys.PrefixEnd(prefix)
	ordered := !bytes.Equal(prefix, []byte(keys.PrefixObligation))
	if ordered && !f.DueBefore.IsZero() {
		end = keys.Cat(prefix, keys.Due(f.DueBefore.UnixNano()))
	}
	it, err := v.r.Iterator(start, end, true)
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	var out []*pb.Obligation
	var last []byte
	for ; it.Valid(); it.Next() {
		if len(out) == limit {
			return out, last, nil
		}
		var o *pb.Obligation
		if ordered {
			if o, err = v.Obligation(string(it.Value())); err != nil {
				return nil, nil, err
			}
		} else {
			o = new(pb.Obligation)
			if err := proto.Unmarshal(it.Value(), o); err != nil {
				return nil, nil, err
			}
		}
		if o == nil {
			return nil, nil, fmt.Errorf("obligation index %x names a missing obligation", it.Key())
		}
		if f.matches(o) {
			out = append(out, o)
			last = append([]byte(nil), it.Key()[len(prefix):]...)
		}
	}
	return out, nil, it.Error()
}

func (f ObligationFilter) matches(o *pb.Obligation) bool {
	if f.Debtor != "" && o.Debtor != f.Debtor {
		return false
	}
	if f.Creditor != "" && !containsStr(o.Creditors, f.Creditor) {
		return false
	}
	if f.Pledge != "" && !containsStr(o.Basis, f.Pledge) {
		return false
	}
	if f.Status != 0 && o.Status != f.Status {
		return false
	}
	return f.DueBefore.IsZero() || o.Due.AsTime().Before(f.DueBefore)
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ChainID returns the chain id written at genesis.
func (v *View) ChainID() (string, error) {
	bz, err := v.r.Get([]byte(keys.KeyChainID))
	return string(bz), err
}

// Params returns the chain parameters.
func (v *View) Params() (*pb.Params, error) {
	p := new(pb.Params)
	ok, err := v.getProto([]byte(keys.KeyParams), p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return ledger.DefaultParams(), nil
	}
	return p, nil
}

// Members lists all members in id order.
func (v *View) Members() ([]*pb.Member, error) {
	p := []byte(keys.PrefixMember)
	it, err := v.r.Iterator(p, keys.PrefixEnd(p), true)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []*pb.Member
	for ; it.Valid(); it.Next() {
		m := new(pb.Member)
		if err := proto.Unmarshal(it.Value(), m); err != nil {
			return nil, fmt.Errorf("decode member %q: %w", it.Key(), err)
		}
		out = append(out, m)
	}
	return out, it.Error()
}

// Filter selects records; empty fields match everything.
type Filter struct {
	Kind, Author, Subject, Sector string
	// After is the ledger sequence to continue after (0 = from the start).
	After uint64
	Limit int
	// From and To bound block time: From <= t < To; zero means unbounded.
	// Block times never decrease along the ledger, so To ends the scan.
	From, To time.Time
}

// MaxPageSize caps List.
const MaxPageSize = 200

// List returns records matching f in ledger order, and the sequence to pass
// as After for the next page (0 when there is none). It scans the most
// selective index the filter names and checks the others per record.
func (v *View) List(f Filter) ([]*pb.StoredRecord, uint64, error) {
	limit := f.Limit
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	var prefix []byte
	switch {
	case f.Subject != "":
		prefix = keys.SubjectPrefix(f.Subject)
	case f.Author != "":
		prefix = keys.AuthorPrefix(f.Author)
	case f.Kind != "":
		prefix = keys.KindPrefix(f.Kind)
	case f.Sector != "":
		prefix = keys.SectorPrefix(f.Sector)
	default:
		prefix = []byte(keys.PrefixRecord)
	}
	start := keys.Cat(prefix, keys.U64(f.After+1))
	it, err := v.r.Iterator(start, keys.PrefixEnd(prefix), true)
	if err != nil {
		return nil, 0, err
	}
	defer it.Close()
	var out []*pb.StoredRecord
	for ; it.Valid(); it.Next() {
		k := it.Key()
		seq := binary.BigEndian.Uint64(k[len(k)-8:])
		if len(out) == limit {
			return out, out[len(out)-1].Seq, nil
		}
		r, err := v.RecordBySeq(seq)
		if err != nil {
			return nil, 0, err
		}
		if r == nil {
			return nil, 0, fmt.Errorf("index entry %x points at missing record %d", k, seq)
		}
		bt := r.BlockTime.AsTime()
		if !f.To.IsZero() && !bt.Before(f.To) {
			break
		}
		if !f.From.IsZero() && bt.Before(f.From) {
			continue
		}
		ok, err := v.matches(r, f)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, 0, it.Error()
}

func (v *View) matches(r *pb.StoredRecord, f Filter) (bool, error) {
	if f.Kind != "" && kindName(r.Kind) != f.Kind {
		return false, nil
	}
	if f.Author != "" && r.Author != f.Author {
		return false, nil
	}
	if f.Subject != "" {
		if bz, err := v.r.Get(keys.SubjectIndex(f.Subject, r.Seq)); bz == nil || err != nil {
			return false, err
		}
	}
	if f.Sector != "" {
		if bz, err := v.r.Get(keys.SectorIndex(f.Sector, r.Seq)); bz == nil || err != nil {
			return false, err
		}
	}
	return true, nil
}

// AllObligations lists every obligation matching f (all pages).
func (v *View) AllObligations(f ObligationFilter) ([]*pb.Obligation, error) {
	var out []*pb.Obligation
	for {
		page, next, err := v.Obligations(f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == nil {
			return out, nil
		}
		f.After = next
	}
}

// AllRecords lists every record matching f (all pages).
func (v *View) AllRecords(f Filter) ([]*pb.StoredRecord, error) {
	var out []*pb.StoredRecord
	for {
		page, next, err := v.List(f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == 0 {
			return out, nil
		}
		f.After = next
	}
}

// MemberCompliance computes member's compliance figures in this view.
func (v *View) MemberCompliance(member string) (*pb.MemberCompliance, error) {
	owed, err := v.AllObligations(ObligationFilter{Debtor: member})
	if err != nil {
		return nil, err
	}
	findings, err := v.AllRecords(Filter{Kind: "finding", Subject: member})
	if err != nil {
		return nil, err
	}
	return ledger.MemberCompliance(member, owed, findings)
}

// PledgeCompliance computes a pledge's compliance figures in this view; nil
// if pledge is not a pledge record.
func (v *View) PledgeCompliance(pledge string) (*pb.PledgeCompliance, error) {
	rec, err := v.Record(pledge)
	if err != nil || rec == nil || rec.Kind != pb.RecordKind_RECORD_KIND_PLEDGE {
		return nil, err
	}
	duties, err := v.AllObligations(ObligationFilter{Pledge: pledge})
	if err != nil {
		return nil, err
	}
	refs, err := v.ReferringTo(pledge)
	if err != nil {
		return nil, err
	}
	var findings []*pb.StoredRecord
	for _, r := range refs {
		if r.Kind != pb.RecordKind_RECORD_KIND_FINDING {
			continue
		}
		tx := new(pb.Tx)
		if err := proto.Unmarshal(r.Tx, tx); err != nil {
			return nil, err
		}
		if f := tx.Body.Record.GetFinding(); f.GetSubjectType() == pb.FindingSubjectType_FINDING_SUBJECT_TYPE_PLEDGE && f.GetSubjectId() == pledge {
			findings = append(findings, r)
		}
	}
	return ledger.PledgeCompliance(rec, duties, findings)
}
