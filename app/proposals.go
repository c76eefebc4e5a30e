package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/normledger/normledger/ledger"
)

// block describes the block a transaction is judged in.
func (a *App) block(height int64, t time.Time) ledger.Block {
	return ledger.Block{ChainID: a.chainID, Height: height, Time: t, Params: a.params, StartPowers: a.powers}
}

// PrepareProposal keeps, in mempool order, the transactions that are valid
// in sequence at this height and time and fit in the block.
func (a *App) PrepareProposal(_ context.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	defer a.genesisLock()()
	o, b, un, err := a.proposalOverlay("prepare proposal", req.Height, req.Time)
	if err != nil {
		return nil, err
	}
	if un != nil {
		// This binary stops before running the block; an error here
		// would be a consensus failure in CometBFT, so propose an empty
		// block (the new binaries judge and run it).
		a.log.Error("proposing an empty block: "+un.Error(), "height", req.Height)
		return &abci.ResponsePrepareProposal{}, nil
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
	defer a.genesisLock()()
	o, b, un, err := a.proposalOverlay("process proposal", req.Height, req.Time)
	if err != nil {
		return nil, err
	}
	if un != nil {
		// This binary cannot judge the block; it stops before running it.
		a.log.Error("rejecting proposal: "+un.Error(), "height", req.Height)
		return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}, nil
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

// proposalOverlay is the state a proposed block's transactions are judged
// in: the committed state after the block start (see ledger.BeginBlock), as
// FinalizeBlock will see it. When this binary must stop for an upgrade
// before the block, it returns the UpgradeNeededError as un and no error,
// so that the caller answers without judging the block. what names the
// call in errors.
func (a *App) proposalOverlay(what string, height int64, t time.Time) (o *ledger.Overlay, b ledger.Block, un *ledger.UpgradeNeededError, err error) {
	base, err := a.committed()
	if err != nil {
		return nil, b, nil, err
	}
	o = ledger.NewOverlay(base)
	b = a.block(height, t)
	bb, err := a.reg.BeginBlock(o, b)
	if errors.As(err, &un) {
		return nil, b, un, nil
	}
	if err != nil {
		return nil, b, nil, fmt.Errorf("%s %d: %w", what, height, err)
	}
	o.Apply(bb)
	return o, b, nil, nil
}

// genesisLock holds the mempool's lock until the first commit, when the
// mempool's base is the working state itself (there is no committed
// version yet): the consensus connection's calls then exclude CheckTx.
// Afterwards the mempool reads immutable committed versions only, and it
// returns a no-op. Use: defer a.genesisLock()().
func (a *App) genesisLock() func() {
	if a.st.Version() > 0 {
		return func() {}
	}
	a.mp.mu.Lock()
	return a.mp.mu.Unlock
}

// committed is the state the next block builds on: the working tree equals
// the last commit between Commit and FinalizeBlock.
func (a *App) committed() (ledger.State, error) {
	if a.chainID == "" {
		return nil, fmt.Errorf("chain not initialised")
	}
	return a.st.Working(), nil
}
