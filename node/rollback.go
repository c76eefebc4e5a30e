package node

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/privval"
	sm "github.com/cometbft/cometbft/state"
	cmtstore "github.com/cometbft/cometbft/store"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger/store"
)

// Rollback of a stopped node by one height (`normledger rollback`), the
// equivalent of `cometbft rollback` and the Cosmos SDK's `rollback`: for a
// node whose newest state is wrong (an app-hash mismatch after a
// non-deterministic binary, a bad binary at an upgrade), so that it starts
// again, with a fixed binary, from the height before.
//
// CometBFT's state goes back from height N to N-1 (sm.Rollback, as
// `cometbft rollback` does it) and the application's state to the same
// height (store.Rollback: the state, the record log, the content index,
// the commit marker). Block N stays in the block store, so on its next
// start CometBFT's handshake replays it into the application, which
// computes the state after N again, and checks nothing against the old
// result: the header of block N+1, when it arrives from the network,
// carries the app hash the other validators computed. With Hard, block N
// is removed too, and the node gets it again from its peers (block sync,
// or consensus), as after `cometbft rollback --hard`.
//
// If CometBFT stopped after saving block N but before saving its state
// (the block store one ahead of the state), that pending block is what is
// dropped, as CometBFT's rollback does: the state stays at N-1 and the
// application goes to N-1 too.
//
// The application goes first: CometBFT first would let the handshake
// adopt the stored (wrong) result of block N. If CometBFT's rollback then
// fails, or the process dies, the application is one height behind
// CometBFT: a start would replay block N and compare the result with the
// wrong app hash CometBFT's state still holds, and stop. So a marker
// (data/rollback-in-progress, RollbackMarkerFile) is written before the
// first change and removed after the last: while it exists the node
// refuses to start (checkNoRollback), and running the command again
// finishes the job (it finds the application already at the height
// CometBFT goes to, and rolls CometBFT back alone).

// RollbackOptions configure Rollback.
type RollbackOptions struct {
	// Comet is the home's CometBFT configuration; nil means the defaults
	// under the home.
	Comet *cmtcfg.Config
	// Hard removes the latest block from the block store as well.
	Hard bool
	// AppKeepRecent and AppVerify are the node's [app] keep_recent and
	// verify_on_start: the state's retention window (the version to go
	// back to must be in it) and whether to verify that version whole
	// before the rollback (VerifyNever skips it).
	AppKeepRecent int64
	AppVerify     string
	// Owner says who owns the home's data directory (tests); nil reads
	// the file system.
	Owner HomeOwner
}

// RollbackResult says what Rollback did.
type RollbackResult struct {
	// Height is the height CometBFT's state and the application's are at
	// now; AppHash is the application's root hash there (the app hash the
	// header of block Height+1 carries), in hex.
	Height  int64  `json:"height"`
	AppHash string `json:"app_hash"`
	// CometFrom is CometBFT's state height before; BlocksFrom and
	// BlocksTo the block store's height before and after.
	CometFrom  int64 `json:"comet_from"`
	BlocksFrom int64 `json:"blocks_from"`
	BlocksTo   int64 `json:"blocks_to"`
	// RemovedBlock is the block Hard removed (0: none).
	RemovedBlock int64 `json:"removed_block,omitempty"`
	// AppFrom is the application's height before, AppFromHash its root
	// hash there; when AppFrom equals Height, the application was already
	// there and was not touched.
	AppFrom     int64  `json:"app_from"`
	AppFromHash string `json:"app_from_hash"`
	// LogFrom and LogTo are the record log's sizes before and after.
	LogFrom uint64 `json:"log_from"`
	LogTo   uint64 `json:"log_to"`
	// RemovedSnapshots and RemovedCheckpoints are the heights of the
	// state-sync snapshots and log checkpoints of the rolled-back state
	// that were removed (they are taken again after the replay).
	RemovedSnapshots   []int64 `json:"removed_snapshots,omitempty"`
	RemovedCheckpoints []int64 `json:"removed_checkpoints,omitempty"`
	// SignedHeight is the height in the validator's signing state
	// (priv_validator_state.json), 0 if the home has none. The validator
	// signs nothing at or below it again (double-sign protection).
	SignedHeight int64 `json:"signed_height,omitempty"`
}

// Rollback rolls the stopped node at home back by one height (see above).
// It runs only as the owner of the home's data directory (ErrWrongUser),
// holds the home's lock throughout (LockHome), refuses a running node
// (ErrNodeRunning) or a home with an interrupted restore
// (ErrRestoreInterrupted), and checks, before it
// changes anything, that both sides can go back: the blocks and the
// CometBFT state CometBFT's rollback reads, the application's version
// at the height in its retention window (and, unless AppVerify is
// VerifyNever, whole), and that version's root hash equal to the app hash
// the header of the block after it carries (an application state that was
// already wrong at the height before cannot be repaired by one height).
func Rollback(home string, o RollbackOptions) (*RollbackResult, error) {
	ccfg := cometConfig(home, o.Comet)
	lock, err := offline(home, "rollback", ccfg, o.Owner)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	data := filepath.Join(home, "data")
	if _, err := os.Stat(filepath.Join(data, "appstate.db")); err != nil {
		return nil, fmt.Errorf("%s holds no application state: %w", data, err)
	}
	bs, ss, err := openCometStores(ccfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		bs.Close()
		ss.Close()
	}()
	state, err := ss.Load()
	if err != nil {
		return nil, fmt.Errorf("CometBFT state: %w", err)
	}
	if state.IsEmpty() {
		return nil, errors.New("the home has no CometBFT state: the node never ran")
	}
	res := &RollbackResult{CometFrom: state.LastBlockHeight, BlocksFrom: bs.Height()}
	// The height CometBFT's rollback goes to, and what it will read.
	switch {
	case res.BlocksFrom == state.LastBlockHeight+1: // a pending block: dropped
		res.Height = state.LastBlockHeight
	case res.BlocksFrom == state.LastBlockHeight:
		res.Height = state.LastBlockHeight - 1
		if res.Height < state.InitialHeight {
			return nil, fmt.Errorf("CometBFT's state is at height %d, the chain's first block: there is no height to go back to (wipe the node's data to start over)", state.LastBlockHeight)
		}
		if bs.LoadBlockMeta(res.Height) == nil {
			return nil, fmt.Errorf("the block store holds no block %d (it keeps blocks %d to %d): CometBFT cannot go back to it; a node state-synced at %d cannot roll back its first block",
				res.Height, bs.Base(), bs.Height(), max(bs.Base()-1, 0))
		}
		if _, err := ss.LoadValidators(res.Height); err != nil {
			return nil, fmt.Errorf("CometBFT's state holds no validator set of height %d: %w", res.Height, err)
		}
		if _, err := ss.LoadConsensusParams(res.Height + 1); err != nil {
			return nil, fmt.Errorf("CometBFT's state holds no consensus params of height %d: %w", res.Height+1, err)
		}
	default:
		return nil, fmt.Errorf("CometBFT's state is at height %d, its block store at %d: neither equal nor one below (CometBFT cannot roll back)",
			state.LastBlockHeight, res.BlocksFrom)
	}
	next := bs.LoadBlockMeta(res.Height + 1)
	if next == nil {
		return nil, fmt.Errorf("the block store holds no block %d", res.Height+1)
	}
	want := next.Header.AppHash

	// The application's side: at Height already, or one above.
	st, err := store.Open(data, store.Options{KeepRecent: o.AppKeepRecent, Verify: o.AppVerify})
	if err != nil {
		return nil, fmt.Errorf("application state: %w", err)
	}
	res.AppFrom, res.AppFromHash = st.Version(), fmt.Sprintf("%X", st.Hash())
	res.LogFrom = st.LogCommitted()
	var have []byte
	if v, err := st.At(res.Height); err == nil {
		have = v.RootHash()
	}
	if err := st.Close(); err != nil {
		return nil, fmt.Errorf("application state: %w", err)
	}
	switch {
	case res.AppFrom > res.BlocksFrom:
		return nil, fmt.Errorf("the application state is at height %d, above the block store's %d: CometBFT cannot start on it", res.AppFrom, res.BlocksFrom)
	case res.AppFrom < res.Height:
		return nil, fmt.Errorf("the application state is at height %d, below %d, where CometBFT would go back to: nothing of it to roll back (start the node: CometBFT replays the blocks after %d into it)",
			res.AppFrom, res.Height, res.AppFrom)
	case res.AppFrom > res.Height+1:
		return nil, fmt.Errorf("the application state is at height %d, more than one above %d", res.AppFrom, res.Height)
	}
	if have != nil && !bytes.Equal(have, want) {
		return nil, fmt.Errorf("the application state at height %d has root %X, but block %d says the chain's is %X: it was already wrong there, and rolling back one height cannot repair it (restore a backup, or wipe the application state and state-sync)",
			res.Height, have, res.Height+1, want)
	}

	// From here on the home changes: the marker first (see above).
	marker := filepath.Join(data, RollbackMarkerFile)
	if err := atomicfile.WriteFile(marker, []byte(fmt.Sprintf("a rollback to height %d, begun at %s by pid %d\n",
		res.Height, time.Now().UTC().Format(time.RFC3339), os.Getpid())), 0o600); err != nil {
		return nil, fmt.Errorf("rollback marker: %w", err)
	}
	// What was made of the rolled-back state (taken again after the
	// replay), first: derived files, and a snapshot directory of height N
	// left behind would make taking it again fail.
	if res.RemovedSnapshots, err = removeAbove(filepath.Join(data, "snapshots"), "", res.Height); err != nil {
		return nil, fmt.Errorf("remove the snapshots above height %d: %w", res.Height, err)
	}
	if res.RemovedCheckpoints, err = removeAbove(filepath.Join(data, "checkpoints"), ".note", res.Height); err != nil {
		return nil, fmt.Errorf("remove the checkpoints above height %d: %w", res.Height, err)
	}

	// The application first (see above), then CometBFT.
	res.AppHash, res.LogTo = res.AppFromHash, res.LogFrom
	if res.AppFrom > res.Height {
		r, err := store.Rollback(data, res.Height, store.Options{KeepRecent: o.AppKeepRecent, Verify: o.AppVerify})
		if err != nil {
			return nil, fmt.Errorf("roll the application state back to height %d: %w", res.Height, err)
		}
		if !bytes.Equal(r.Hash, want) {
			return nil, fmt.Errorf("the application state rolled back to height %d has root %X, not the %X block %d says", r.To, r.Hash, want, res.Height+1)
		}
		res.AppHash, res.LogTo = fmt.Sprintf("%X", r.Hash), r.LogTo
	}
	h, hash, err := sm.Rollback(bs, ss, o.Hard)
	if err != nil {
		return nil, fmt.Errorf("roll CometBFT's state back (the application state is at height %d now; run the command again): %w", res.Height, err)
	}
	if h != res.Height || !bytes.Equal(hash, want) {
		return nil, fmt.Errorf("CometBFT's state went back to height %d with app hash %X, the application's to %d with %s", h, hash, res.Height, res.AppHash)
	}
	res.BlocksTo = bs.Height()
	if o.Hard {
		res.RemovedBlock = res.BlocksFrom
	}

	if err := os.Remove(marker); err != nil {
		return res, fmt.Errorf("rollback marker: %w", err)
	}
	if err := atomicfile.SyncDir(data); err != nil {
		return res, fmt.Errorf("rollback marker: %w", err)
	}
	res.SignedHeight = signedHeight(ccfg)
	return res, nil
}

// RollbackMarkerFile, in a home's data directory, says a rollback began
// and has not finished.
const RollbackMarkerFile = "rollback-in-progress"

// ErrRollbackInterrupted: a rollback began and did not finish.
var ErrRollbackInterrupted = errors.New("a rollback was interrupted")

// checkNoRollback refuses a home where a rollback began and did not
// finish: the application may be one height behind CometBFT, whose state
// still holds the app hash being rolled back; a start would replay the
// block and stop on the mismatch.
func checkNoRollback(home string) error {
	path := filepath.Join(home, "data", RollbackMarkerFile)
	bz, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s says %s: nothing starts on it; run `normledger rollback --home %s` again (as the node's user, with --hard if the first run had it): it finishes the rollback",
		ErrRollbackInterrupted, path, strings.TrimSpace(string(bz)), home)
}

// openCometStores opens the home's CometBFT block store and state store
// for writing, as `cometbft rollback` does.
func openCometStores(ccfg *cmtcfg.Config) (*cmtstore.BlockStore, sm.Store, error) {
	dir := ccfg.DBDir()
	for _, n := range []string{"blockstore", "state"} {
		if _, err := os.Stat(filepath.Join(dir, n+".db")); err != nil {
			return nil, nil, fmt.Errorf("the home has no CometBFT %s (%s): the node never ran", n, filepath.Join(dir, n+".db"))
		}
	}
	backend := dbm.BackendType(ccfg.DBBackend)
	bdb, err := dbm.NewDB("blockstore", backend, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open CometBFT's block store: %w", err)
	}
	sdb, err := dbm.NewDB("state", backend, dir)
	if err != nil {
		bdb.Close()
		return nil, nil, fmt.Errorf("open CometBFT's state store: %w", err)
	}
	return cmtstore.NewBlockStore(bdb), sm.NewStore(sdb, sm.StoreOptions{DiscardABCIResponses: ccfg.Storage.DiscardABCIResponses}), nil
}

// removeAbove removes the entries of dir named <height><suffix> (and a
// snapshot's <height>.tmp) whose height is above h, and returns those
// heights.
func removeAbove(dir, suffix string, h int64) ([]int64, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), ".tmp")
		if !strings.HasSuffix(name, suffix) {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(name, suffix), 10, 64)
		if err != nil || v <= h {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return out, err
		}
		if name == e.Name() {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// signedHeight is the height of the validator's last signature in the
// home's priv_validator_state.json (0 if there is none).
func signedHeight(ccfg *cmtcfg.Config) int64 {
	bz, err := os.ReadFile(ccfg.PrivValidatorStateFile())
	if err != nil {
		return 0
	}
	var lss privval.FilePVLastSignState
	if err := cmtjson.Unmarshal(bz, &lss); err != nil {
		return 0
	}
	return lss.Height
}
