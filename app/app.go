package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// AppVersion is the application protocol version reported in Info. It
// changes with the state layout (app/testdata/apphash.golden pins it): a
// chain's blocks replay only under the version they were made with.
//
//	1: first layout
//	2: no IAVL fast index, no meta/count and od/ keys (2026-11-22)
//	3: governance: meta/governance, g/ keys, member history (2026-12-01)
//	4: record log: transactions in an RFC 6962 log, meta/log, i/ -> RecordRef,
//	   x/ index entries per block, no r/ k/ a/ s/ c/ f/ p/ keys (2026-12-02)
//	5: staged reporting and pledge review obligations (kinds 9-12), responses
//	   to pledges, evidence of validator misbehaviour (e/, eb/) (2026-12-02)
//	6: software upgrades by governance (action 11, meta/upgrade) (2026-12-02)
//	7: the duplicate-content index (h/ keys) kept beside the state, not in
//	   it: one random-position state write per record (2026-12-07); chains
//	   at 6 move by the normledger-v7 upgrade
//
// From 6 on, a chain's version is in its state (ledger.AppVersionOf): a
// software_upgrade vote moves it, and Info reports it. A chain starts at its
// genesis's consensus_params.version.app (6 when unset); this binary starts
// new ones at ledger.CurrentAppVersion and replays chains at 6 and 7.
const AppVersion uint64 = ledger.CurrentAppVersion

// Options configure an App.
type Options struct {
	Logger *slog.Logger
	// Clock estimates the next block's time for CheckTx only. Nil means the
	// last block time, which rejects fresh records on an idle chain.
	Clock func() time.Time
	// Version is the software version reported in Info.
	Version string
	// Snapshots, if set, serves and restores state-sync snapshots.
	Snapshots Snapshots
	// UpgradeNeeded, if set, is told when the next block needs a software
	// upgrade this binary lacks: right after the commit of the block
	// before it (also while CometBFT replays blocks at start). The node
	// stops on it. It must not block.
	UpgradeNeeded func(*ledger.UpgradeNeededError)
}

// Snapshots is what the app needs for state sync (node.Snapshots).
type Snapshots interface {
	List() []*abci.Snapshot
	Load(height uint64, format, chunk uint32) []byte
	Offer(s *abci.Snapshot, appHash []byte) abci.ResponseOfferSnapshot_Result
	// Apply applies one chunk; done says the restore finished and the
	// store now holds the restored state.
	Apply(index uint32, chunk []byte, sender string) (resp *abci.ResponseApplySnapshotChunk, done bool)
	// Committed is told of every commit (snapshots are taken at intervals).
	Committed(height int64)
}

// App is the normledger ABCI application. It is safe under CometBFT's
// per-connection local client (NewConnSyncLocalClientCreator): the
// consensus connection (Prepare/ProcessProposal, FinalizeBlock, Commit)
// owns the working state and the fields below; the mempool connection
// (CheckTx) judges against mp, which it shares with the consensus side
// under mp.mu; the query and snapshot connections read committed versions
// (Store.At) only.
type App struct {
	abci.BaseApplication
	reg   *ledger.Registry
	st    *store.Store
	log   *slog.Logger
	clock func() time.Time
	ver   string

	chainID string
	params  *pb.Params
	// mp is the mempool's state (CheckTx), shared under its lock.
	mp            mempool
	quickRechecks atomic.Uint64
	// last is what the last finalized block changed (consensus connection).
	last *store.BlockSummary
	// powers is CometBFT's validator set as the committed state defines it
	// (each active member's validator key and power); next is the set at
	// the end of the block being finalized, and reload says that the block
	// changed params.
	powers ledger.Powers
	next   ledger.Powers
	reload bool
	snaps  Snapshots
	// upgradeNeeded: see Options.UpgradeNeeded.
	upgradeNeeded func(*ledger.UpgradeNeededError)
}

var _ abci.Application = (*App)(nil)

// New wraps st; if st holds committed state, the chain id and params come from it.
func New(st *store.Store, opts Options) (*App, error) {
	a := &App{reg: ledger.DefaultRegistry().WithSigCache(ledger.NewSigCache(200_000)), st: st, log: opts.Logger, clock: opts.Clock, ver: opts.Version,
		snaps: opts.Snapshots, upgradeNeeded: opts.UpgradeNeeded}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if st.Version() > 0 {
		if err := a.load(); err != nil {
			return nil, err
		}
		// A binary without the upgrade the next block needs refuses to
		// start, with the same message it stopped with.
		if _, err := ledger.UpgradeDue(st.Working(), st.Version()+1); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// load takes the chain id, params and validator set from the newest
// committed state (at start, and after a state-sync restore).
func (a *App) load() error {
	v, err := a.st.At(0)
	if err != nil {
		return err
	}
	if a.chainID, err = v.ChainID(); err != nil {
		return fmt.Errorf("read chain id: %w", err)
	}
	if a.params, err = v.Params(); err != nil {
		return fmt.Errorf("read params: %w", err)
	}
	if a.powers, err = powersOf(v); err != nil {
		return err
	}
	a.mp.mu.Lock()
	a.mp.reset(v, v.Version(), a.params, a.powers, nil)
	a.mp.mu.Unlock()
	return nil
}

func powersOf(st ledger.State) (ledger.Powers, error) {
	ms, err := st.Members()
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	return ledger.PowersOf(ms), nil
}

// Registry returns the record kinds the app accepts.
func (a *App) Registry() *ledger.Registry { return a.reg }

// Info reports the last committed height and app hash, so CometBFT replays
// exactly the blocks the app has not committed.
func (a *App) Info(_ context.Context, _ *abci.RequestInfo) (*abci.ResponseInfo, error) {
	return &abci.ResponseInfo{
		Data:             "normledger",
		Version:          a.ver,
		AppVersion:       a.appVersion(),
		LastBlockHeight:  a.st.Version(),
		LastBlockAppHash: a.st.Hash(),
	}, nil
}

// appVersion is the app version of the committed state.
func (a *App) appVersion() uint64 {
	if a.st.Version() == 0 {
		return AppVersion
	}
	v, err := a.st.At(0)
	if err != nil {
		a.log.Error("read the committed state", "err", err)
		return AppVersion
	}
	us, err := v.Upgrade()
	if err != nil {
		a.log.Error("read the upgrade state", "err", err)
		return AppVersion
	}
	return ledger.AppVersionOf(us)
}

// InitChain loads the member registry and params from genesis app_state.
func (a *App) InitChain(_ context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	gs := new(pb.GenesisState)
	if err := protojson.Unmarshal(req.AppStateBytes, gs); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	// The chain's app version is genesis.json's consensus_params.version.app
	// (0, in a genesis made before versions were set there: 6).
	version := req.ConsensusParams.GetVersion().GetApp()
	if version == 0 {
		version = ledger.GenesisAppVersion
	}
	hash, err := a.st.InitGenesis(req.ChainId, gs, req.InitialHeight, version)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	a.chainID = req.ChainId
	a.params = gs.Params
	if a.params == nil {
		a.params = ledger.DefaultParams()
	}
	// The member registry defines the validator set; genesis.json's
	// validators, if listed, must say the same.
	a.powers = ledger.PowersOf(gs.Members)
	// Until the first commit the mempool judges against the working state
	// (genesisLock keeps the consensus connection out meanwhile).
	a.mp.mu.Lock()
	a.mp.reset(a.st.Working(), max(req.InitialHeight, 1)-1, a.params, a.powers, nil)
	a.mp.lastTime = req.Time
	a.mp.mu.Unlock()
	want := a.powers.Sorted()
	if len(want) == 0 {
		return nil, fmt.Errorf("genesis: no member has a validator key and power")
	}
	// Headers carry the chain's version from the first block on (CometBFT
	// takes it from these params; Info said this binary's before genesis).
	res := &abci.ResponseInitChain{AppHash: hash, ConsensusParams: &cmtproto.ConsensusParams{Version: &cmtproto.VersionParams{App: version}}}
	if len(req.Validators) > 0 {
		got := ledger.Powers{}
		for _, v := range req.Validators {
			got[string(v.PubKey.GetEd25519())] += v.Power
		}
		if d := got.Diff(a.powers); len(d) > 0 {
			return nil, fmt.Errorf("genesis: the validators in genesis.json differ from the members' validator keys and powers (%d differences)", len(d))
		}
	} else {
		res.Validators = validatorUpdates(want)
	}
	a.log.Info("genesis loaded", "chain_id", a.chainID, "members", len(gs.Members), "validators", len(want))
	return res, nil
}

func validatorUpdates(us []ledger.ValidatorUpdate) []abci.ValidatorUpdate {
	out := make([]abci.ValidatorUpdate, 0, len(us))
	for _, u := range us {
		out = append(out, abci.UpdateValidator(u.PubKey, u.Power, "ed25519"))
	}
	return out
}
