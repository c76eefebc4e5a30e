package app

import (
	"context"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// recheckEvery bounds how many blocks a mempool transaction may pass the
// quick recheck before it is judged in full again: whatever a block changed
// that the quick recheck does not look at (an obligation met by someone
// else, a record's time window closing) drops a stale transaction within
// this many blocks. Consensus never depends on it: PrepareProposal,
// ProcessProposal and FinalizeBlock judge every transaction in full.
const recheckEvery = 8

// mempool is what CheckTx judges against: the committed state plus the
// transactions admitted since, and the block a new transaction would join.
// CheckTx runs on CometBFT's mempool connection while FinalizeBlock runs on
// the consensus connection (one lock per connection), so everything here is
// guarded by mu; the consensus side only takes it to hand over a new block
// time (FinalizeBlock) and a new committed state (Commit).
type mempool struct {
	mu       sync.Mutex
	check    *ledger.Overlay // committed state + admitted transactions
	lastTime time.Time       // time of the last finalized block
	params   *pb.Params
	powers   ledger.Powers
	// checked holds what CheckTx derived for each transaction it admitted
	// since the last commit, prev those admitted before it: a recheck
	// finds its transaction there and, when nothing it depends on moved,
	// re-admits it in O(1) instead of judging it again (see recheck).
	// Keyed by the transaction's bytes (a map hashes them far faster than
	// SHA-256, which Apply computes anyway for its own memo).
	checked, prev map[string]*checkedTx
	// full says the last committed block changed what the quick recheck
	// does not look at (governance, existing obligations): recheck in full.
	full bool
	// height is the height a new transaction would join (committed + 1).
	height int64
}

// checkedTx is a transaction admitted to the mempool and what it changed.
type checkedTx struct {
	ch *ledger.Changes
	// at is the height it was last judged in full for.
	at int64
}

// reset makes v, just committed, the mempool's base (mu held).
func (m *mempool) reset(v ledger.State, height int64, params *pb.Params, powers ledger.Powers, sum *store.BlockSummary) {
	m.check = ledger.NewOverlay(v)
	m.params, m.powers, m.height = params, powers, height+1
	m.prev, m.checked = m.checked, make(map[string]*checkedTx, len(m.checked))
	m.full = sum == nil || sum.Governance || sum.Changed > 0
}

// CheckTx runs every check FinalizeBlock will run, against committed state
// plus the transactions already admitted to the mempool. A recheck (after
// each commit) of a transaction this node admitted before takes the quick
// path when it can: its author's next sequence is still its sequence, its
// content is still new, the records it refers to and the obligations of
// others it changes are still in the mempool state, the block changed no
// governance state or existing obligation, and it was judged in full within
// recheckEvery blocks. Then its recorded changes are laid over the new
// state without decoding or judging it again. Anything else is judged in
// full.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	m := &a.mp
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.check == nil {
		return &abci.ResponseCheckTx{Code: uint32(ledger.CodeInternal), Codespace: ledger.Codespace, Log: "chain not initialised"}, nil
	}
	if req.Type == abci.CheckTxType_Recheck {
		if c := m.prev[string(req.Tx)]; c != nil && a.quickRecheck(c) {
			m.check.Apply(c.ch)
			m.checked[string(req.Tx)] = c
			a.quickRechecks.Add(1)
			return &abci.ResponseCheckTx{Code: 0, GasWanted: 1, Data: []byte(c.ch.Record.Id)}, nil
		}
	}
	t := m.lastTime
	if a.clock != nil {
		if now := a.clock(); now.After(t) {
			t = now
		}
	}
	b := ledger.Block{ChainID: a.chainID, Height: m.height, Time: t, Params: m.params, StartPowers: m.powers}
	ch, err := a.reg.Apply(m.check, req.Tx, b)
	if err != nil {
		return &abci.ResponseCheckTx{Code: uint32(ledger.CodeOf(err)), Codespace: ledger.Codespace, Log: err.Error()}, nil
	}
	m.check.Apply(ch)
	m.checked[string(req.Tx)] = &checkedTx{ch: ch, at: m.height}
	return &abci.ResponseCheckTx{Code: 0, GasWanted: 1, Data: []byte(ch.Record.Id)}, nil
}

// quickRecheck says whether c may be re-admitted as it is (mu held).
func (a *App) quickRecheck(c *checkedTx) bool {
	m := &a.mp
	if m.full || m.height-c.at >= recheckEvery {
		return false
	}
	r := c.ch.Record
	next, err := m.check.NextSequence(r.Author)
	if err != nil || next+1 != c.ch.NextSequence {
		return false
	}
	seen, err := m.check.ContentSeen(r.Author, c.ch.ContentHash)
	if err != nil || seen {
		return false
	}
	return dependenciesHold(m.check, c.ch)
}

// dependenciesHold says whether what a transaction's changes rest on is
// still in the mempool state: every record it refers to, and every
// obligation it changes that another record created. Either may have come
// from a waiting transaction that this recheck just dropped. Governance
// changes are always judged in full.
func dependenciesHold(o *ledger.Overlay, ch *ledger.Changes) bool {
	if len(ch.Members)+len(ch.Proposals)+len(ch.Votes)+len(ch.Evidence)+len(ch.Cases) > 0 || ch.Params != nil || ch.GovernanceRules != nil || ch.Upgrade != nil {
		return false
	}
	for _, ref := range ch.References {
		if r, err := o.Record(ref); err != nil || r == nil {
			return false
		}
	}
	for _, ob := range ch.Obligations {
		if ob.SourceRecord == ch.Record.Id {
			continue // made by this transaction
		}
		if cur, err := o.Obligation(ob.Id); err != nil || cur == nil {
			return false
		}
	}
	return true
}

// QuickRechecks counts the rechecks that took the quick path.
func (a *App) QuickRechecks() uint64 { return a.quickRechecks.Load() }
