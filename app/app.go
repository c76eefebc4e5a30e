package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/keys"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// AppVersion is the application protocol version reported in Info. It
// changes with the state layout (app/testdata/apphash.golden pins it): a
// chain's blocks replay only under the version they were made with.
//
//	1: first layout
//	2: no IAVL fast index, no meta/count and od/ keys (2026-11-22)
const AppVersion uint64 = 2

// ProofOpType names the ICS23 IAVL proofs returned in query ProofOps.
const ProofOpType = "ics23:iavl"

// Options configure an App.
type Options struct {
	Logger *slog.Logger
	// Clock estimates the next block's time for CheckTx only. Nil means the
	// last block time, which rejects fresh records on an idle chain.
	Clock func() time.Time
	// Version is the software version reported in Info.
	Version string
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
	lastTime time.Time // time of the last finalized block
	check    *overlay  // mempool state: committed state + accepted CheckTx
}

var _ abci.Application = (*App)(nil)

// New wraps st; if st holds committed state, the chain id and params come from it.
func New(st *store.Store, opts Options) (*App, error) {
	a := &App{reg: ledger.DefaultRegistry().WithSigCache(ledger.NewSigCache(200_000)), st: st, log: opts.Logger, clock: opts.Clock, ver: opts.Version}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if st.Version() > 0 {
		v, err := st.At(0)
		if err != nil {
			return nil, err
		}
		if a.chainID, err = v.ChainID(); err != nil {
			return nil, fmt.Errorf("read chain id: %w", err)
		}
		if a.params, err = v.Params(); err != nil {
			return nil, fmt.Errorf("read params: %w", err)
		}
		a.check = newOverlay(v)
	}
	return a, nil
}

// Registry returns the record kinds the app accepts.
func (a *App) Registry() *ledger.Registry { return a.reg }

// Info reports the last committed height and app hash, so CometBFT replays
// exactly the blocks the app has not committed.
func (a *App) Info(_ context.Context, _ *abci.RequestInfo) (*abci.ResponseInfo, error) {
	return &abci.ResponseInfo{
		Data:             "normledger",
		Version:          a.ver,
		AppVersion:       AppVersion,
		LastBlockHeight:  a.st.Version(),
		LastBlockAppHash: a.st.Hash(),
	}, nil
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
	a.check = newOverlay(a.st.Working())
	a.log.Info("genesis loaded", "chain_id", a.chainID, "members", len(gs.Members))
	return &abci.ResponseInitChain{AppHash: a.st.WorkingHash()}, nil
}

// block describes the block a transaction is judged in.
func (a *App) block(height int64, t time.Time) ledger.Block {
	return ledger.Block{ChainID: a.chainID, Height: height, Time: t, Params: a.params}
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
	a.check.apply(ch)
	return &abci.ResponseCheckTx{Code: 0, GasWanted: 1, Data: []byte(ch.Record.Id)}, nil
}

// PrepareProposal keeps, in mempool order, the transactions that are valid
// in sequence at this height and time and fit in the block.
func (a *App) PrepareProposal(_ context.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	base, err := a.committed()
	if err != nil {
		return nil, err
	}
	o := newOverlay(base)
	b := a.block(req.Height, req.Time)
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
		o.apply(ch)
		out = append(out, tx)
		size += int64(len(tx))
	}
	return &abci.ResponsePrepareProposal{Txs: out}, nil
}

// ProcessProposal rejects a block that carries any transaction FinalizeBlock
// would reject.
func (a *App) ProcessProposal(_ context.Context, req *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	base, err := a.committed()
	if err != nil {
		return nil, err
	}
	o := newOverlay(base)
	b := a.block(req.Height, req.Time)
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
		o.apply(ch)
	}
	return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}, nil
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
	// Obligations whose due time this block's time has passed become overdue
	// now, before the block's transactions, whether or not any mentions them.
	overdue, err := ledger.Sweep(working, b)
	if err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", req.Height, err)
	}
	if err := a.st.WriteObligations(overdue); err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", req.Height, err)
	}
	var events []abci.Event
	for _, ob := range overdue {
		events = append(events, obligationEvent(ob))
	}
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
		results[i] = &abci.ExecTxResult{Code: 0, Data: []byte(ch.Record.Id), Events: txEvents}
	}
	a.lastTime = req.Time
	if accepted > 0 || len(overdue) > 0 {
		a.log.Debug("block finalized", "height", req.Height, "txs", len(req.Txs), "accepted", accepted, "overdue", len(overdue))
	}
	return &abci.ResponseFinalizeBlock{TxResults: results, Events: events, AppHash: a.st.WorkingHash()}, nil
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
	// Mempool state restarts from the new commit; CometBFT rechecks the
	// remaining mempool transactions in order, rebuilding it.
	a.check = newOverlay(v)
	return &abci.ResponseCommit{}, nil
}

// Query answers ABCI queries against a committed version (req.Height, 0 =
// latest). Paths:
//
//	/record/<id>           StoredRecord; with prove, proofs of i/<id> and r/<seq>
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
		return marshalResp(m, keys.Member(arg))
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
		return &abci.ResponseQuery{Key: keys.Sequence(arg), Value: []byte(strconv.FormatUint(n, 10))}, nil
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
	idKey, err := keys.ID(id)
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
			op2, err := proofOp(v, keys.Record(rec.Seq))
			if err != nil {
				return nil, err
			}
			resp.ProofOps.Ops = append(resp.ProofOps.Ops, op2)
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
		if _, ok := keys.SectorByName(f.Sector); !ok {
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
