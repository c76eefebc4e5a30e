package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
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
//
// From 6 on, a chain's version is in its state (ledger.AppVersionOf): a
// software_upgrade vote moves it, and Info reports it.
const AppVersion uint64 = ledger.GenesisAppVersion

// ProofOpType names the ICS23 IAVL proofs returned in query ProofOps.
const ProofOpType = "ics23:iavl"

// InclusionOpType names the record log inclusion proof (a LogInclusion) in
// /record query ProofOps, after the proofs of i/<id> and meta/log.
const InclusionOpType = "rfc6962:inclusion"

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

// App is the normledger ABCI application. CometBFT calls it through a local
// client that serialises all calls, so it needs no locking of its own; reads
// for other goroutines go through Store.At.
type App struct {
	abci.BaseApplication
	reg   *ledger.Registry
	st    *store.Store
	log   *slog.Logger
	clock func() time.Time
	ver   string

	chainID  string
	params   *pb.Params
	lastTime time.Time       // time of the last finalized block
	check    *ledger.Overlay // mempool state: committed state + accepted CheckTx
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
	a.check = ledger.NewOverlay(v)
	return nil
}

// ListSnapshots implements ABCI state sync: the snapshots this node serves.
func (a *App) ListSnapshots(_ context.Context, _ *abci.RequestListSnapshots) (*abci.ResponseListSnapshots, error) {
	if a.snaps == nil {
		return &abci.ResponseListSnapshots{}, nil
	}
	return &abci.ResponseListSnapshots{Snapshots: a.snaps.List()}, nil
}

// LoadSnapshotChunk implements ABCI state sync.
func (a *App) LoadSnapshotChunk(_ context.Context, req *abci.RequestLoadSnapshotChunk) (*abci.ResponseLoadSnapshotChunk, error) {
	if a.snaps == nil {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	return &abci.ResponseLoadSnapshotChunk{Chunk: a.snaps.Load(req.Height, req.Format, req.Chunk)}, nil
}

// OfferSnapshot implements ABCI state sync: req.AppHash is the app hash
// CometBFT's light client verified for the snapshot's height.
func (a *App) OfferSnapshot(_ context.Context, req *abci.RequestOfferSnapshot) (*abci.ResponseOfferSnapshot, error) {
	if a.snaps == nil || req.Snapshot == nil {
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ABORT}, nil
	}
	return &abci.ResponseOfferSnapshot{Result: a.snaps.Offer(req.Snapshot, req.AppHash)}, nil
}

// ApplySnapshotChunk implements ABCI state sync.
func (a *App) ApplySnapshotChunk(_ context.Context, req *abci.RequestApplySnapshotChunk) (*abci.ResponseApplySnapshotChunk, error) {
	if a.snaps == nil {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}, nil
	}
	resp, done := a.snaps.Apply(req.Index, req.Chunk, req.Sender)
	if done {
		if err := a.load(); err != nil {
			return nil, fmt.Errorf("load the restored state: %w", err)
		}
		a.log.Info("state restored by state sync", "height", a.st.Version(), "chain_id", a.chainID)
	}
	return resp, nil
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
	us, err := a.st.Working().Upgrade()
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
	if err := a.st.InitGenesis(req.ChainId, gs, req.InitialHeight); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	a.chainID = req.ChainId
	a.params = gs.Params
	if a.params == nil {
		a.params = ledger.DefaultParams()
	}
	a.lastTime = req.Time
	a.check = ledger.NewOverlay(a.st.Working())
	// The member registry defines the validator set; genesis.json's
	// validators, if listed, must say the same.
	a.powers = ledger.PowersOf(gs.Members)
	want := a.powers.Sorted()
	if len(want) == 0 {
		return nil, fmt.Errorf("genesis: no member has a validator key and power")
	}
	hash, err := a.st.WorkingHash()
	if err != nil {
		return nil, fmt.Errorf("init chain: %w", err)
	}
	res := &abci.ResponseInitChain{AppHash: hash}
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

// block describes the block a transaction is judged in.
// misbehaviorOf converts CometBFT's misbehaviour for the ledger.
func misbehaviorOf(ms []abci.Misbehavior) []ledger.Misbehavior {
	out := make([]ledger.Misbehavior, 0, len(ms))
	for _, m := range ms {
		t := pb.MisbehaviorType_MISBEHAVIOR_TYPE_UNSPECIFIED
		switch m.Type {
		case abci.MisbehaviorType_DUPLICATE_VOTE:
			t = pb.MisbehaviorType_MISBEHAVIOR_TYPE_DUPLICATE_VOTE
		case abci.MisbehaviorType_LIGHT_CLIENT_ATTACK:
			t = pb.MisbehaviorType_MISBEHAVIOR_TYPE_LIGHT_CLIENT_ATTACK
		}
		out = append(out, ledger.Misbehavior{Type: t, Address: m.Validator.Address, Power: m.Validator.Power,
			Height: m.Height, Time: m.Time, TotalVotingPower: m.TotalVotingPower})
	}
	return out
}

func (a *App) block(height int64, t time.Time) ledger.Block {
	return ledger.Block{ChainID: a.chainID, Height: height, Time: t, Params: a.params, StartPowers: a.powers}
}

// CheckTx runs every check FinalizeBlock will run, against committed state
// plus the transactions already admitted to the mempool.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	if a.check == nil {
		return &abci.ResponseCheckTx{Code: uint32(ledger.CodeInternal), Codespace: ledger.Codespace, Log: "chain not initialised"}, nil
	}
	t := a.lastTime
	if a.clock != nil {
		if now := a.clock(); now.After(t) {
			t = now
		}
	}
	ch, err := a.reg.Apply(a.check, req.Tx, a.block(a.st.Version()+1, t))
	if err != nil {
		return &abci.ResponseCheckTx{Code: uint32(ledger.CodeOf(err)), Codespace: ledger.Codespace, Log: err.Error()}, nil
	}
	a.check.Apply(ch)
	return &abci.ResponseCheckTx{Code: 0, GasWanted: 1, Data: []byte(ch.Record.Id)}, nil
}

// PrepareProposal keeps, in mempool order, the transactions that are valid
// in sequence at this height and time and fit in the block.
func (a *App) PrepareProposal(_ context.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	base, err := a.committed()
	if err != nil {
		return nil, err
	}
	o, b, err := a.beginOverlay(base, req.Height, req.Time)
	if err != nil {
		var un *ledger.UpgradeNeededError
		if errors.As(err, &un) {
			// This binary stops before running the block; an error here
			// would be a consensus failure in CometBFT, so propose an empty
			// block (the new binaries judge and run it).
			a.log.Error("proposing an empty block: "+un.Error(), "height", req.Height)
			return &abci.ResponsePrepareProposal{}, nil
		}
		return nil, fmt.Errorf("prepare proposal %d: %w", req.Height, err)
	}
	var out [][]byte
	var size int64
	for i, tx := range req.Txs {
		if req.MaxTxBytes > 0 && size+int64(len(tx)) > req.MaxTxBytes {
			break
		}
		b.TxIndex = uint32(len(out))
		ch, err := a.reg.Apply(o, tx, b)
		if err != nil {
			if !ledger.IsRejection(err) {
				return nil, fmt.Errorf("prepare proposal %d tx %d: %w", req.Height, i, err)
			}
			continue
		}
		o.Apply(ch)
		out = append(out, tx)
		size += int64(len(tx))
	}
	if lie != nil {
		var what string
		out, what = lie(req.Height, out, req.MaxTxBytes)
		a.log.Warn("lying proposer: proposing a block honest validators must reject", "height", req.Height, "lie", what, "txs", len(out))
	}
	return &abci.ResponsePrepareProposal{Txs: out}, nil
}

// lie is set only in a binary built with the lyingproposer tag (the fault
// suite's byzantine proposer, lying_proposer.go): it changes the block
// PrepareProposal proposes. Release builds leave it nil.
var lie func(height int64, txs [][]byte, maxBytes int64) ([][]byte, string)

// ProcessProposal rejects a block that carries any transaction FinalizeBlock
// would reject.
func (a *App) ProcessProposal(_ context.Context, req *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	base, err := a.committed()
	if err != nil {
		return nil, err
	}
	o, b, err := a.beginOverlay(base, req.Height, req.Time)
	if err != nil {
		var un *ledger.UpgradeNeededError
		if errors.As(err, &un) {
			// This binary cannot judge the block; it stops before running it.
			a.log.Error("rejecting proposal: "+un.Error(), "height", req.Height)
			return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}, nil
		}
		return nil, fmt.Errorf("process proposal %d: %w", req.Height, err)
	}
	for i, tx := range req.Txs {
		b.TxIndex = uint32(i)
		ch, err := a.reg.Apply(o, tx, b)
		if err != nil {
			if !ledger.IsRejection(err) {
				return nil, fmt.Errorf("process proposal %d tx %d: %w", req.Height, i, err)
			}
			a.log.Warn("rejecting proposal", "height", req.Height, "tx", i, "code", ledger.CodeOf(err).String(), "err", err)
			return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}, nil
		}
		o.Apply(ch)
	}
	return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}, nil
}

// beginOverlay is the state a proposed block's transactions are judged in:
// base after the block start (see ledger.BeginBlock), as FinalizeBlock
// will see it.
func (a *App) beginOverlay(base ledger.State, height int64, t time.Time) (*ledger.Overlay, ledger.Block, error) {
	o := ledger.NewOverlay(base)
	b := a.block(height, t)
	bb, err := a.reg.BeginBlock(o, b)
	if err != nil {
		return nil, b, err
	}
	o.Apply(bb)
	return o, b, nil
}

// committed is the state the next block builds on: the working tree equals
// the last commit between Commit and FinalizeBlock.
func (a *App) committed() (ledger.State, error) {
	if a.chainID == "" {
		return nil, fmt.Errorf("chain not initialised")
	}
	return a.st.Working(), nil
}

// FinalizeBlock applies every transaction in order. A rejected transaction
// gets its code and changes nothing; a storage failure halts the node rather
// than let it diverge.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	if a.chainID == "" {
		return nil, fmt.Errorf("finalize block %d: chain not initialised", req.Height)
	}
	working := a.st.Working()
	b := a.block(req.Height, req.Time)
	b.Misbehavior = misbehaviorOf(req.Misbehavior)
	// Obligations whose due time this block's time has passed become overdue
	// now, before the block's transactions, whether or not any mentions
	// them; proposals whose deadline passed close.
	bb, err := a.reg.BeginBlock(working, b)
	if err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", req.Height, err)
	}
	if err := a.st.Write(bb); err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", req.Height, err)
	}
	var events []abci.Event
	for _, ob := range bb.Obligations {
		events = append(events, obligationEvent(ob))
	}
	for _, p := range bb.Proposals {
		events = append(events, proposalEvent(p))
	}
	for _, ev := range bb.Evidence {
		events = append(events, abci.Event{Type: "evidence", Attributes: []abci.EventAttribute{
			{Key: "id", Value: ev.Id, Index: true}, {Key: "member", Value: ev.Member, Index: true},
			{Key: "type", Value: ev.Type.String()}, {Key: "height", Value: strconv.FormatInt(ev.Height, 10)}}})
	}
	membersChanged, paramsChanged := len(bb.Members) > 0, bb.Params != nil
	results := make([]*abci.ExecTxResult, len(req.Txs))
	accepted := 0
	for i, tx := range req.Txs {
		b.TxIndex = uint32(i)
		ch, err := a.reg.Apply(working, tx, b)
		if err != nil {
			if !ledger.IsRejection(err) {
				return nil, fmt.Errorf("finalize block %d tx %d: %w", req.Height, i, err)
			}
			results[i] = &abci.ExecTxResult{Code: uint32(ledger.CodeOf(err)), Codespace: ledger.Codespace, Log: err.Error()}
			continue
		}
		if err := a.st.Write(ch); err != nil {
			return nil, fmt.Errorf("finalize block %d tx %d: %w", req.Height, i, err)
		}
		accepted++
		txEvents := []abci.Event{{Type: "record", Attributes: []abci.EventAttribute{
			{Key: "id", Value: ch.Record.Id, Index: true},
			{Key: "kind", Value: ledger.KindNameOf(ch.Record.Kind), Index: true},
			{Key: "author", Value: ch.Record.Author, Index: true},
			{Key: "seq", Value: strconv.FormatUint(ch.Record.Seq, 10)},
		}}}
		for _, ob := range ch.Obligations {
			txEvents = append(txEvents, obligationEvent(ob))
		}
		for _, p := range ch.Proposals {
			txEvents = append(txEvents, proposalEvent(p))
		}
		membersChanged = membersChanged || len(ch.Members) > 0
		paramsChanged = paramsChanged || ch.Params != nil
		results[i] = &abci.ExecTxResult{Code: 0, Data: []byte(ch.Record.Id), Events: txEvents}
	}
	a.lastTime = req.Time
	res := &abci.ResponseFinalizeBlock{TxResults: results, Events: events}
	if bb.Upgrade != nil && len(bb.Upgrade.Applied) > 0 && bb.Upgrade.Applied[len(bb.Upgrade.Applied)-1].Height == req.Height {
		u := bb.Upgrade.Applied[len(bb.Upgrade.Applied)-1]
		// Headers carry the new app version from the next block on.
		res.ConsensusParamUpdates = &cmtproto.ConsensusParams{Version: &cmtproto.VersionParams{App: u.AppVersion}}
		res.Events = append(res.Events, abci.Event{Type: "upgrade", Attributes: []abci.EventAttribute{
			{Key: "name", Value: u.Name, Index: true}, {Key: "app_version", Value: strconv.FormatUint(u.AppVersion, 10)},
			{Key: "from_app_version", Value: strconv.FormatUint(u.FromAppVersion, 10)}}})
		a.log.Info("software upgrade applied", "name", u.Name, "height", req.Height, "app_version", u.AppVersion, "from", u.FromAppVersion)
	}
	a.next, a.reload = a.powers, paramsChanged
	if membersChanged {
		// Validator changes take effect at height+2 in CometBFT; the
		// member registry of this state already holds them.
		end, err := powersOf(working)
		if err != nil {
			return nil, fmt.Errorf("finalize block %d: %w", req.Height, err)
		}
		if err := ledger.CheckValidatorChange(a.powers, end); err != nil {
			return nil, fmt.Errorf("finalize block %d: refusing to hand CometBFT this validator change (a bug): %w", req.Height, err)
		}
		if updates := a.powers.Diff(end); len(updates) > 0 {
			res.ValidatorUpdates = validatorUpdates(updates)
			a.log.Info("validator set changes", "height", req.Height, "updates", len(updates), "effective_height", req.Height+2)
		}
		a.next = end
	}
	if accepted > 0 || len(bb.Obligations) > 0 {
		a.log.Debug("block finalized", "height", req.Height, "txs", len(req.Txs), "accepted", accepted, "begin_block_changes", len(bb.Obligations)+len(bb.Proposals))
	}
	if res.AppHash, err = a.st.WorkingHash(); err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", req.Height, err)
	}
	return res, nil
}

func proposalEvent(p *pb.ProposalState) abci.Event {
	return abci.Event{Type: "proposal", Attributes: []abci.EventAttribute{
		{Key: "id", Value: p.Id, Index: true},
		{Key: "action", Value: ledger.GovActionName(p.Action)},
		{Key: "status", Value: p.Status.String(), Index: true},
	}}
}

func obligationEvent(ob *pb.Obligation) abci.Event {
	return abci.Event{Type: "obligation", Attributes: []abci.EventAttribute{
		{Key: "id", Value: ob.Id, Index: true},
		{Key: "kind", Value: ob.Kind.String()},
		{Key: "debtor", Value: ob.Debtor, Index: true},
		{Key: "status", Value: ob.Status.String(), Index: true},
	}}
}

// Commit persists the block's state. Only here does anything reach disk.
func (a *App) Commit(_ context.Context, _ *abci.RequestCommit) (*abci.ResponseCommit, error) {
	_, _, err := a.st.Commit()
	if err != nil {
		return nil, err
	}
	v, err := a.st.At(0)
	if err != nil {
		return nil, err
	}
	if a.next != nil {
		a.powers, a.next = a.next, nil
	}
	if a.reload {
		// New params apply from the next block on.
		if a.params, err = v.Params(); err != nil {
			return nil, fmt.Errorf("read params: %w", err)
		}
		a.reload = false
	}
	// Mempool state restarts from the new commit; CometBFT rechecks the
	// remaining mempool transactions in order, rebuilding it.
	a.check = ledger.NewOverlay(v)
	if a.snaps != nil {
		a.snaps.Committed(v.Version())
	}
	if _, err := ledger.UpgradeDue(v, v.Version()+1); err != nil {
		var un *ledger.UpgradeNeededError
		if !errors.As(err, &un) {
			return nil, err
		}
		a.log.Error(un.Error(), "committed_height", v.Version())
		if a.upgradeNeeded != nil {
			a.upgradeNeeded(un)
		}
	}
	return &abci.ResponseCommit{}, nil
}

// Query answers ABCI queries against a committed version (req.Height, 0 =
// latest). Paths:
//
//	/record/<id>           StoredRecord; with prove, proofs of i/<id> and meta/log and the log inclusion proof
//	/records               ListRecordsRequest in data -> ListRecordsResponse
//	/member/<id>           Member
//	/members               MemberList
//	/sequence/<member>     next sequence, decimal
//	/store                 raw value of key in data; with prove, its ICS23 proof
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	v, err := a.st.At(req.Height)
	if err != nil {
		return qerr(ledger.CodeBadFormat, fmt.Sprintf("height %d: %v", req.Height, err)), nil
	}
	resp, err := a.query(v, req)
	if err != nil {
		return qerr(ledger.CodeOf(err), err.Error()), nil
	}
	resp.Height = v.Version()
	return resp, nil
}

func qerr(c ledger.Code, log string) *abci.ResponseQuery {
	return &abci.ResponseQuery{Code: uint32(c), Codespace: ledger.Codespace, Log: log}
}

func (a *App) query(v *store.View, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	path := req.Path
	arg := ""
	if i := strings.Index(strings.TrimPrefix(path, "/"), "/"); i >= 0 {
		path, arg = path[:i+1], path[i+2:]
	}
	switch path {
	case "/record":
		return a.queryRecord(v, arg, req.Prove)
	case "/records":
		lr := new(pb.ListRecordsRequest)
		if err := proto.Unmarshal(req.Data, lr); err != nil {
			return nil, &ledger.Error{Code: ledger.CodeBadFormat, Msg: "data is not a ListRecordsRequest", Err: err}
		}
		return a.queryRecords(v, lr)
	case "/member":
		m, err := v.Member(arg)
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, &ledger.Error{Code: ledger.CodeUnknownMember, Msg: fmt.Sprintf("member %q not found", arg)}
		}
		return marshalResp(m, layout.Member(arg))
	case "/members":
		ms, err := v.Members()
		if err != nil {
			return nil, err
		}
		return marshalResp(&pb.MemberList{Members: ms}, nil)
	case "/sequence":
		n, err := v.NextSequence(arg)
		if err != nil {
			return nil, err
		}
		return &abci.ResponseQuery{Key: layout.Sequence(arg), Value: []byte(strconv.FormatUint(n, 10))}, nil
	case "/store":
		val, err := v.Get(req.Data)
		if err != nil {
			return nil, err
		}
		resp := &abci.ResponseQuery{Key: req.Data, Value: val}
		if req.Prove {
			op, err := proofOp(v, req.Data)
			if err != nil {
				return nil, err
			}
			resp.ProofOps = &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{op}}
		}
		return resp, nil
	}
	return nil, &ledger.Error{Code: ledger.CodeBadFormat, Msg: fmt.Sprintf("unknown query path %q", req.Path)}
}

func (a *App) queryRecord(v *store.View, id string, prove bool) (*abci.ResponseQuery, error) {
	idKey, err := layout.ID(id)
	if err != nil {
		return nil, &ledger.Error{Code: ledger.CodeBadFormat, Msg: err.Error()}
	}
	rec, err := v.Record(id)
	if err != nil {
		return nil, err
	}
	resp := &abci.ResponseQuery{Key: idKey}
	if rec != nil {
		if resp.Value, err = ledger.Canonical(rec); err != nil {
			return nil, err
		}
	} else {
		resp.Code = uint32(ledger.CodeUnknownRecord)
		resp.Codespace = ledger.Codespace
		resp.Log = fmt.Sprintf("record %s not found", id)
	}
	if prove {
		op, err := proofOp(v, idKey)
		if err != nil {
			return nil, err
		}
		resp.ProofOps = &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{op}}
		if rec != nil {
			op2, err := proofOp(v, []byte(layout.KeyLog))
			if err != nil {
				return nil, err
			}
			index, hashes, err := v.Inclusion(rec.Seq)
			if err != nil {
				return nil, err
			}
			bz, err := ledger.Canonical(&pb.LogInclusion{LogIndex: index, Hashes: hashes})
			if err != nil {
				return nil, err
			}
			resp.ProofOps.Ops = append(resp.ProofOps.Ops, op2, cmtcrypto.ProofOp{Type: InclusionOpType, Key: layout.U64(index), Data: bz})
		}
	}
	return resp, nil
}

func (a *App) queryRecords(v *store.View, lr *pb.ListRecordsRequest) (*abci.ResponseQuery, error) {
	f := store.Filter{Kind: lr.Kind, Author: lr.Author, Subject: lr.Subject, Sector: lr.Sector, Limit: int(lr.Limit)}
	if f.Kind != "" && a.reg.KindByName(f.Kind) == nil {
		return nil, &ledger.Error{Code: ledger.CodeBadEnum, Msg: fmt.Sprintf("unknown kind %q", f.Kind)}
	}
	if f.Sector != "" {
		if _, ok := layout.SectorByName(f.Sector); !ok {
			return nil, &ledger.Error{Code: ledger.CodeBadEnum, Msg: fmt.Sprintf("unknown sector %q", f.Sector)}
		}
	}
	if lr.PageToken != "" {
		n, err := strconv.ParseUint(lr.PageToken, 10, 64)
		if err != nil {
			return nil, &ledger.Error{Code: ledger.CodeBadFormat, Msg: "bad page token"}
		}
		f.After = n
	}
	recs, next, err := v.List(f)
	if err != nil {
		return nil, err
	}
	out := &pb.ListRecordsResponse{Records: recs}
	if next != 0 {
		out.NextPageToken = strconv.FormatUint(next, 10)
	}
	return marshalResp(out, nil)
}

func marshalResp(m proto.Message, key []byte) (*abci.ResponseQuery, error) {
	bz, err := ledger.Canonical(m)
	if err != nil {
		return nil, err
	}
	return &abci.ResponseQuery{Key: key, Value: bz}, nil
}

func proofOp(v *store.View, key []byte) (cmtcrypto.ProofOp, error) {
	p, err := v.Proof(key)
	if err != nil {
		return cmtcrypto.ProofOp{}, fmt.Errorf("proof for %x: %w", key, err)
	}
	bz, err := p.Marshal()
	if err != nil {
		return cmtcrypto.ProofOp{}, fmt.Errorf("encode proof: %w", err)
	}
	return cmtcrypto.ProofOp{Type: ProofOpType, Key: key, Data: bz}, nil
}
