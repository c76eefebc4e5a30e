package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	corestore "cosmossdk.io/core/store"
	"github.com/cosmos/iavl"
	iavldb "github.com/cosmos/iavl/db"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store/tlog"
	"github.com/normledger/normledger/ledger/store/tlog/logproof"
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
	// reader reads committed versions for every other goroutine (At,
	// ExportSnapshot): a second IAVL tree over the same database, with its
	// own node cache and lock, so that readers share no node with the
	// writer. IAVL's Set clears the child pointers of committed nodes it
	// copies (cosmos/iavl#241: an ImmutableTree is not safe to read while
	// its MutableTree writes), and its node database takes one exclusive
	// lock for node reads and a commit's batch write alike; with a tree of
	// their own, reads race with neither and never wait for a block.
	reader *iavl.MutableTree
	// marker, when set, is the commit marker file (see checkMarker).
	marker string
	// seen answers most duplicate-content lookups of new content in memory.
	seen *seenFilter
	// index is the duplicate-content index beside the state
	// (contentindex.go); unindexed holds the ended block's entries until
	// Commit writes them.
	index     iavlDB
	unindexed map[string]uint64
	// appVersion is the working state's app version: below
	// ledger.AppVersionContentIndexOff the state also holds the h/ keys.
	appVersion uint64
	// members caches decoded members of committed versions, work those of
	// the working state: every transaction looks up its signer. See
	// memberCache for how governance writes keep them right.
	members *memberCache
	work    *memberCache
	// membersDirty says the working state changed a member since the last commit.
	membersDirty bool
	// count is the number of records in the working state (every record
	// goes through Write), so FinalizeBlock need not look it up per tx.
	count atomic.Uint64
	// keepRecent > 0 deletes versions older than the newest keepRecent
	// after each commit; 0 keeps every version (an archive node).
	keepRecent int64
	log        *slog.Logger
	prunedTo   int64 // versions up to this one are gone (or being deleted); guarded by mu
	// dataDir holds the database (appstate.db), its commit marker and, for
	// a state-synced node, appstate.restored; "" for an in-memory store.
	dataDir   string
	cacheSize int
	// restoredFrom is the height a state sync restored (0: full history);
	// guarded by mu.
	restoredFrom int64

	// rlog is the record log (the records' transactions); its committed
	// size and root are meta/log in the tree.
	rlog *tlog.Log
	// pend is the open block (BeginBlock to EndBlock): its
	// once-per-block entries and summary; ended is the summary of the
	// block ended and not yet committed.
	pend       *pendingBlock
	ended      *BlockSummary
	logWritten uint64 // log size in meta/log of the working state

	crash        func(point string) // Options.CrashPoint
	uncheckedLog bool               // Options.UncheckedLog

	// heights caches what every read at one height shares.
	heights heightCache

	// sets and removes count the state writes (a benchmark figure).
	sets, removes atomic.Uint64

	mu      sync.RWMutex // guards version and hash below (and db, tree while Install swaps them)
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
	// CrashPoint, for fault tests, is called at the points of Commit where
	// a crash must not lose or corrupt anything: "log-partial" (half of a
	// block's log files written), "log-flushed" (all written, the state not
	// saved) and "state-saved" (saved, the commit marker not yet updated),
	// each only for a block that appended records.
	CrashPoint func(point string)
	// UncheckedLog, for fault tests only, serves the record log as it is on
	// disk, unchecked: a node whose operator rewrote its log.
	UncheckedLog bool
}

// MinKeepRecent is the smallest retention window: reads default to the
// attested height (one below the newest), and a reader, a paginated listing
// or a verifier following a few blocks behind must not lose its version
// between two blocks. (IAVL does not hold back versions with readers.)
const MinKeepRecent = 100

// Open opens (or creates) the state database in dir and loads the latest
// committed version. It refuses a database that lost committed versions or
// (when verifying) entries of the latest version, with ErrDamaged.
func Open(dir string, o Options) (_ *Store, err error) {
	if o.KeepRecent < 0 || (o.KeepRecent > 0 && o.KeepRecent < MinKeepRecent) {
		return nil, fmt.Errorf("keep_recent %d: must be 0 (keep every version) or at least %d", o.KeepRecent, MinKeepRecent)
	}
	db, err := openLevelDB(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot open %s: %v", ErrDamaged, dir, err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s, err := newStore(db, o.CacheSize, o.KeepRecent > 0, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	defer func() {
		if err != nil {
			if s.index != nil {
				s.index.Close()
			}
			s.tree.Close()
			s.reader.Close()
			db.Close()
		}
	}()
	s.keepRecent = o.KeepRecent
	s.crash = o.CrashPoint
	if vs := s.tree.AvailableVersions(); o.KeepRecent > 0 && len(vs) > 0 {
		s.prunedTo = int64(vs[0]) - 1
	}
	s.marker = filepath.Join(dir, "appstate.commit")
	s.dataDir, s.cacheSize, s.uncheckedLog = dir, o.CacheSize, o.UncheckedLog
	if err := s.openLog(); err != nil {
		return nil, err
	}
	if bz, err := os.ReadFile(filepath.Join(dir, "appstate.restored")); err == nil {
		fmt.Sscanf(string(bz), "%d", &s.restoredFrom)
	}
	clean, err := s.checkMarker()
	if err != nil {
		return nil, err
	}
	verify := o.Verify == VerifyAlways || (o.Verify != VerifyNever && !clean)
	if verify && s.version > 0 {
		if err := s.Verify(); err != nil {
			return nil, err
		}
		if err := s.rlog.VerifyAll(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
		}
	}
	// The duplicate-content index, caught up with the verified log (and
	// rebuilt whole when asked to verify everything).
	if err := s.openIndex(o.Verify == VerifyAlways); err != nil {
		return nil, err
	}
	if err := s.loadSeen(); err != nil {
		return nil, fmt.Errorf("%w: content index: %v", ErrDamaged, err)
	}
	// Until Close records a clean shutdown, a restart must verify.
	if s.version > 0 {
		if err := s.writeMarker(s.version, s.hash, false); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// LevelDB sizing. goleveldb's defaults (a 4 MiB memtable, an 8 MiB block
// cache) are sized for small writes: a 1,000-record block's version is a
// batch of about 5 MiB (10 MiB at app version 6), which overflowed the
// memtable on every commit (a flush and a level-0 table per block). The
// memtable holds a few blocks now (each node keeps two: 32 MiB of RSS),
// the block cache the upper tree levels that every read and write walks,
// and bloom filters spare reads of tables that lack a node.
// Seek-triggered compactions are off, as in CometBFT's and the Cosmos
// SDK's databases: proof reads would otherwise trigger compactions.
const (
	levelDBWriteBuffer = 16 << 20
	levelDBBlockCache  = 32 << 20
)

func openLevelDB(dir string) (*iavldb.GoLevelDB, error) {
	return iavldb.NewGoLevelDBWithOpts("appstate", dir, &opt.Options{
		WriteBuffer:            levelDBWriteBuffer,
		BlockCacheCapacity:     levelDBBlockCache,
		Filter:                 filter.NewBloomFilter(10),
		DisableSeeksCompaction: true,
	})
}

// OpenMem opens an empty in-memory store (tests, audit re-execution).
func OpenMem() (*Store, error) {
	s, err := newStore(iavldb.NewMemDB(), DefaultCacheSize, false, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	s.rlog = tlog.OpenMem()
	s.index = iavldb.NewMemDB()
	return s, nil
}

// LogDir is the record log's directory in a data directory.
const LogDir = "recordlog"

// openLog opens the record log at the size and root the latest version
// committed; a log that does not hold them makes the store refuse to open.
func (s *Store) openLog() error {
	var size uint64
	var root []byte
	if s.version > 0 {
		var err error
		if size, root, err = (&View{r: s.tree}).LogState(); err != nil {
			return err
		}
	}
	l, err := tlog.Open(filepath.Join(s.dataDir, LogDir), size, root)
	if err == nil {
		l.SetUnchecked(s.uncheckedLog)
		err = l.VerifyTiles()
	}
	if err != nil {
		return fmt.Errorf("%w: %v; restore the node's data directory, or wipe it and let the node resync", ErrDamaged, err)
	}
	s.rlog, s.logWritten = l, size
	return nil
}

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

// newStore loads the latest version of db. With asyncPrune, IAVL deletes
// pruned versions in a goroutine of its own, off Commit's path (Commit only
// names the version to prune up to); what goes wrong there is logged to
// log, IAVL's logger.
func newStore(db iavlDB, cacheSize int, asyncPrune bool, log *slog.Logger) (_ *Store, err error) {
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
	tree := iavl.NewMutableTree(growingBatches{db}, cacheSize, true, log.With("module", "iavl"), iavl.SyncOption(false),
		iavl.FlushThresholdOption(flushThreshold), iavl.AsyncPruningOption(asyncPrune))
	reader := iavl.NewMutableTree(db, cacheSize, true, log.With("module", "iavl-reader"))
	defer func() {
		if err != nil {
			tree.Close()
			reader.Close()
		}
	}()
	// The database opened, so a committed version that cannot be read is
	// damage (which error IAVL gives depends on where the damage lies: a
	// missing node, a bad value, a bad root).
	const remedy = "; restore it, or wipe the node's data and let it resync from its peers"
	v, err := tree.Load()
	if err != nil {
		return nil, fmt.Errorf("%w: load app state: %w%s", ErrDamaged, err, remedy)
	}
	s := &Store{db: db, tree: tree, reader: reader, version: v, hash: tree.Hash(), log: log, seen: &seenFilter{},
		members: &memberCache{m: map[string]*pb.Member{}, versioned: true, from: v},
		work:    &memberCache{m: map[string]*pb.Member{}}}
	if v > 0 {
		// A committed version must carry the chain id written at genesis;
		// anything else means the database is damaged.
		cid, err := tree.Get([]byte(layout.KeyChainID))
		if err != nil {
			return nil, fmt.Errorf("%w: app state at version %d is unreadable: %w%s", ErrDamaged, v, err, remedy)
		}
		if len(cid) == 0 {
			return nil, fmt.Errorf("%w: app state at version %d has no chain id%s", ErrDamaged, v, remedy)
		}
		us, err := (&View{r: tree}).Upgrade()
		if err != nil {
			return nil, fmt.Errorf("%w: app state at version %d is unreadable: %w%s", ErrDamaged, v, err, remedy)
		}
		s.appVersion = ledger.AppVersionOf(us)
		n, _, err := (&View{r: tree}).LogState()
		switch {
		case errors.Is(err, ErrDamaged): // no log state, or not one of this version's
			return nil, fmt.Errorf("app state at version %d: %w; a chain made by an older app version must be restarted (README, Upgrading)", v, err)
		case err != nil:
			return nil, fmt.Errorf("%w: app state at version %d is unreadable: %w%s", ErrDamaged, v, err, remedy)
		}
		s.count.Store(n)
	}
	return s, nil
}

// Close records a clean shutdown and closes the database (after IAVL's
// pruning goroutine, if any, stopped).
func (s *Store) Close() error {
	var err error
	if v := s.Version(); v > 0 {
		err = s.writeMarker(v, s.Hash(), true)
	}
	var ierr error
	if s.index != nil {
		ierr = s.index.Close()
	}
	return errors.Join(err, s.tree.Close(), s.reader.Close(), s.db.Close(), ierr)
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

// BlockSummary is what one block changed, as the store wrote it: metrics
// and the mempool's recheck follow the ledger block by block from it rather
// than from event strings.
type BlockSummary struct {
	Height int64
	// Records counts the block's new records by kind name.
	Records map[string]int64
	// Obligations is the change in the number of obligations by status
	// (a new obligation +1 under its status; a changed one -1 under its
	// old status and +1 under its new one).
	Obligations map[pb.ObligationStatus]int64
	// Changed counts the obligations the block changed (not created).
	Changed int
	// Governance says the block changed a member, a proposal or vote,
	// the params, the governance rules or the upgrade state.
	Governance bool
}

// BeginBlock starts the block at height: every Write until EndBlock
// belongs to it. One block is open at a time, and Commit needs it ended.
func (s *Store) BeginBlock(height int64) error {
	if s.pend != nil {
		return fmt.Errorf("begin block %d: block %d is open (EndBlock was not called)", height, s.pend.height)
	}
	if s.ended != nil {
		return fmt.Errorf("begin block %d: block %d is ended but not committed", height, s.ended.Height)
	}
	if v := s.tree.Version(); height <= v {
		return fmt.Errorf("begin block %d: version %d is committed", height, v)
	}
	s.pend = newPendingBlock(height)
	return nil
}

// EndBlock writes the open block's once-per-block entries (sequences, list
// indexes, meta/log) and returns the root hash of the working state, the
// block's app hash, and what the block changed. Commit then saves it.
func (s *Store) EndBlock() ([]byte, *BlockSummary, error) {
	p := s.pend
	if p == nil {
		return nil, nil, errors.New("end block: no block is open")
	}
	if err := s.finishBlock(); err != nil {
		return nil, nil, err
	}
	s.unindexed = p.content
	sum := &p.summary
	sum.Height = p.height
	s.ended = sum
	return s.tree.WorkingHash(), sum, nil
}

// InitGenesis writes the genesis state of a chain at appVersion (0:
// ledger.GenesisAppVersion) and returns its root hash (the genesis app
// hash). It must be called once, before the first block; initialHeight is
// the chain's first block height. The first block's Commit saves the
// genesis state with it.
func (s *Store) InitGenesis(chainID string, gs *pb.GenesisState, initialHeight int64, appVersion uint64) ([]byte, error) {
	if err := s.initGenesis(chainID, gs, initialHeight, appVersion); err != nil {
		return nil, err
	}
	return s.tree.WorkingHash(), nil
}

func (s *Store) initGenesis(chainID string, gs *pb.GenesisState, initialHeight int64, appVersion uint64) error {
	if s.tree.Version() != 0 || !s.tree.IsEmpty() {
		return errors.New("init genesis: state is not empty")
	}
	if err := ledger.ValidateGenesis(gs); err != nil {
		return err
	}
	if appVersion == 0 {
		appVersion = ledger.GenesisAppVersion
	}
	if appVersion < ledger.GenesisAppVersion || appVersion > ledger.CurrentAppVersion {
		return fmt.Errorf("init genesis: app version %d: this binary starts chains at versions %d to %d", appVersion, ledger.GenesisAppVersion, ledger.CurrentAppVersion)
	}
	if f, need := ledger.GenesisNeeds(gs, appVersion); f != "" {
		return fmt.Errorf("init genesis: %s needs app version %d (genesis says %d)", f, need, appVersion)
	}
	s.appVersion = appVersion
	if appVersion > ledger.GenesisAppVersion {
		// A chain at GenesisAppVersion holds no UpgradeState (as before
		// versions were in the state); a later one says its version.
		if err := s.setProto([]byte(layout.KeyUpgrade), &pb.UpgradeState{AppVersion: appVersion}); err != nil {
			return err
		}
	}
	if initialHeight > 1 {
		s.tree.SetInitialVersion(uint64(initialHeight))
	}
	params := gs.Params
	if params == nil {
		params = ledger.DefaultParams()
	}
	if err := s.setProto([]byte(layout.KeyParams), params); err != nil {
		return err
	}
	if err := s.set([]byte(layout.KeyChainID), []byte(chainID)); err != nil {
		return err
	}
	rules := gs.Governance
	if rules == nil {
		rules = ledger.DefaultGovernanceRulesAt(appVersion)
	}
	if err := s.setProto([]byte(layout.KeyGovernance), rules); err != nil {
		return err
	}
	if err := s.set([]byte(layout.KeyLog), layout.LogState(0, logproof.Hasher.EmptyRoot())); err != nil {
		return err
	}
	for _, m := range gs.Members {
		if err := s.setProto(layout.Member(m.Id), m); err != nil {
			return err
		}
		if err := s.set(layout.Sequence(m.Id), layout.U64(1)); err != nil {
			return err
		}
	}
	return nil
}

// Write applies the changes of one accepted transaction (or of a block's
// start, which carries no record) to the working state.
func (s *Store) Write(ch *ledger.Changes) error {
	if s.pend == nil {
		return errors.New("write: no block is open (BeginBlock)")
	}
	if ch.Record != nil {
		if err := s.writeRecord(ch); err != nil {
			return err
		}
	}
	if err := s.writeGovernance(ch); err != nil {
		return err
	}
	if err := s.writeEvidence(ch.Evidence); err != nil {
		return err
	}
	for _, c := range ch.Cases {
		if err := s.writeCase(c); err != nil {
			return err
		}
	}
	return s.WriteObligations(ch.Obligations)
}

func (s *Store) remove(k []byte) error {
	s.removes.Add(1)
	if _, _, err := s.tree.Remove(k); err != nil {
		return fmt.Errorf("remove %q: %w", k, err)
	}
	return nil
}

// Commit saves the working state as a new version: the log's new tiles
// first, then the state that commits to them (a crash in between leaves
// tiles beyond the committed size, which the next open drops).
func (s *Store) Commit() ([]byte, int64, error) {
	if s.pend != nil {
		return nil, 0, fmt.Errorf("commit: block %d is open (EndBlock was not called)", s.pend.height)
	}
	if s.ended == nil {
		return nil, 0, errors.New("commit: no block was ended")
	}
	s.ended = nil
	grew := s.logWritten > s.rlog.Committed()
	crash := func(point string) {
		if s.crash != nil && grew {
			s.crash(point)
		}
	}
	s.rlog.SetCrashPoint(func() { crash("log-partial") })
	if err := s.rlog.Flush(); err != nil {
		return nil, 0, fmt.Errorf("write the record log: %w", err)
	}
	crash("log-flushed")
	hash, v, err := s.tree.SaveVersion()
	if err != nil {
		return nil, 0, fmt.Errorf("save version: %w", err)
	}
	crash("state-saved")
	s.rlog.MarkCommitted(s.logWritten)
	// The content index follows the saved state (never ahead of it); a
	// crash before this write leaves it behind, which the next open
	// catches up from the log. Readers see version v only after it.
	if err := s.writeIndex(s.unindexed, s.logWritten); err != nil {
		return nil, 0, fmt.Errorf("write the content index: %w", err)
	}
	s.unindexed = nil
	// Before v is published: a reader that sees version v must not find
	// members of v-1 in the cache (readers of v-1 then bypass it).
	if s.membersDirty {
		s.members.reset(v)
		s.membersDirty = false
	}
	s.mu.Lock()
	s.version, s.hash = v, hash
	s.mu.Unlock()
	if err := s.writeMarker(v, hash, false); err != nil {
		return nil, 0, err
	}
	if err := s.prune(v); err != nil {
		// The version is saved; pruning is retried after the next commit.
		// (IAVL prunes in its own goroutine: this only names the version
		// to prune up to.)
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
	s.mu.Lock()
	s.prunedTo = to
	s.mu.Unlock()
	return nil
}

// Working returns a view of the working (uncommitted) state, for FinalizeBlock.
func (s *Store) Working() *View {
	return &View{r: s.tree, seen: s.seen, members: s.work, count: &s.count, log: s.rlog, work: s, index: s.index}
}

// At returns an immutable view of committed version v (0 = latest).
func (s *Store) At(v int64) (*View, error) {
	if v == 0 {
		v = s.Version()
	}
	if v <= 0 {
		return nil, ErrNoVersion
	}
	s.mu.RLock()
	if v > s.version {
		s.mu.RUnlock()
		return nil, fmt.Errorf("%w: version %d is not committed (latest %d)", ErrNoVersion, v, s.version)
	}
	if v <= s.prunedTo {
		s.mu.RUnlock()
		return nil, fmt.Errorf("%w: version %d is pruned (versions up to %d are deleted)", ErrNoVersion, v, s.prunedTo)
	}
	it, err := s.reader.GetImmutable(v)
	seen, log, index := s.seen, s.rlog, s.index
	s.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("%w: version %d: %v", ErrNoVersion, v, err)
	}
	return &View{r: immutableReader{it}, imm: it, version: v, seen: seen, members: s.members, log: log, shared: &s.heights, index: index}, nil
}

// Writes counts the state writes since the store was opened: IAVL sets
// and removes.
func (s *Store) Writes() (sets, removes uint64) { return s.sets.Load(), s.removes.Load() }

func (s *Store) set(k, v []byte) error {
	s.sets.Add(1)
	if _, err := s.tree.Set(k, v); err != nil {
		return fmt.Errorf("set %q: %w", k, err)
	}
	if bytes.HasPrefix(k, []byte(layout.PrefixMember)) {
		s.work.clear()
		s.membersDirty = true
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
