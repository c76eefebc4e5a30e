package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

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

// FinalizeBlock applies every transaction in order. A rejected transaction
// gets its code and changes nothing; a storage failure halts the node rather
// than let it diverge.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	if a.chainID == "" {
		return nil, fmt.Errorf("finalize block %d: chain not initialised", req.Height)
	}
	defer a.genesisLock()()
	if err := a.st.BeginBlock(req.Height); err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", req.Height, err)
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
	a.setLastTime(req.Time)
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
	if res.AppHash, a.last, err = a.st.EndBlock(); err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", req.Height, err)
	}
	return res, nil
}

// setLastTime tells the mempool the last finalized block's time (the
// earliest time the next block may have). Until the first commit
// genesisLock already holds the lock.
func (a *App) setLastTime(t time.Time) {
	if a.st.Version() == 0 {
		a.mp.lastTime = t
		return
	}
	a.mp.mu.Lock()
	a.mp.lastTime = t
	a.mp.mu.Unlock()
}

// LastBlock is what the last finalized block changed (nil before the
// first). Call it from the consensus connection only (after FinalizeBlock).
func (a *App) LastBlock() *store.BlockSummary { return a.last }

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
	genesis := a.st.Version() == 0 // genesisLock: the mempool's lock is held throughout
	if genesis {
		a.mp.mu.Lock()
		defer a.mp.mu.Unlock()
	}
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
	if !genesis {
		a.mp.mu.Lock()
	}
	a.mp.reset(v, v.Version(), a.params, a.powers, a.last)
	if !genesis {
		a.mp.mu.Unlock()
	}
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
