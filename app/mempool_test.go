package app

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/normledger/normledger/ledger"
)

func (h *harness) recheck(tx []byte) *abci.ResponseCheckTx {
	h.t.Helper()
	r, err := h.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_Recheck})
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// A recheck re-admits a waiting transaction without judging it again when
// nothing it depends on moved, and judges it in full (same code as a new
// check) when its sequence was used by another transaction, when the block
// changed governance state, or when it was last judged in full
// recheckEvery blocks ago.
func TestRecheckQuickPath(t *testing.T) {
	h := newHarness(t)
	var txs [][]byte
	for i := range 5 {
		tx := h.sign("xaa", note(fmt.Sprintf("waiting %d", i)))
		if r := h.checkTx(tx); r.Code != 0 {
			t.Fatalf("check %d: %d %s", i, r.Code, r.Log)
		}
		txs = append(txs, tx)
	}
	// Another member's transaction waits; the block carries a different
	// one with the same sequence.
	waiting := h.signSeq("xcc", 1, note("xcc waiting"))
	if r := h.checkTx(waiting); r.Code != 0 {
		t.Fatalf("check: %d %s", r.Code, r.Log)
	}
	other := h.signSeq("xcc", 1, note("xcc in the block"))
	h.block(txs[0], txs[1], other)

	before := h.app.QuickRechecks()
	for i, tx := range txs[2:] {
		if r := h.recheck(tx); r.Code != 0 {
			t.Fatalf("recheck %d: %d %s", i+2, r.Code, r.Log)
		}
	}
	if got := h.app.QuickRechecks() - before; got != 3 {
		t.Fatalf("%d quick rechecks, want 3", got)
	}
	if r := h.recheck(waiting); r.Code != uint32(ledger.CodeReplay) {
		t.Fatalf("recheck of a transaction whose sequence a block used: code %d %s", r.Code, r.Log)
	}
	if got := h.app.QuickRechecks() - before; got != 3 {
		t.Fatalf("the replayed sequence took the quick path")
	}
	// The rechecked transactions are in the mempool state again: the next
	// one of xaa must follow them.
	sixth := h.signSeq("xaa", 6, note("after the rechecked ones"))
	if r := h.checkTx(sixth); r.Code != 0 {
		t.Fatalf("check after recheck: %d %s", r.Code, r.Log)
	}
	if r := h.checkTx(h.signSeq("xaa", 3, note("reuses a rechecked sequence"))); r.Code != uint32(ledger.CodeReplay) {
		t.Fatalf("a rechecked sequence is free again: %d %s", r.Code, r.Log)
	}

	// Empty blocks: quick until recheckEvery blocks after the full check.
	waiting4 := append(txs[2:5:5], sixth)
	quick := 0
	for range recheckEvery + 1 {
		h.block()
		n := h.app.QuickRechecks()
		for _, tx := range waiting4 {
			if r := h.recheck(tx); r.Code != 0 {
				t.Fatalf("recheck: %d %s", r.Code, r.Log)
			}
		}
		if h.app.QuickRechecks() == n+uint64(len(waiting4)) {
			quick++
		}
	}
	if quick == 0 || quick > recheckEvery {
		t.Fatalf("%d quick rechecks in %d blocks: the full check every %d blocks is missing", quick, recheckEvery+1, recheckEvery)
	}
}

// The app under CometBFT's per-connection locking: CheckTx (mempool
// connection), blocks (consensus connection) and Query/Info (query
// connection) run at once. Run with -race (.ci/run does): the race
// detector finds any state the connections share without a lock.
func TestConnectionsConcurrent(t *testing.T) {
	h := newHarness(t)
	h.app.clock = nil // the harness's clock reads h.now, which this goroutine moves
	ctx := context.Background()
	// Pre-signed: signing in the goroutines would only slow the test.
	var pending [][]byte
	for i := range 60 {
		pending = append(pending, h.sign("xaa", note(fmt.Sprintf("concurrent %d", i))))
	}
	var mu sync.Mutex // guards mempool, as CometBFT's mempool does
	var mempool [][]byte
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // mempool connection: new transactions
		defer wg.Done()
		for _, tx := range pending {
			mu.Lock()
			r, err := h.app.CheckTx(ctx, &abci.RequestCheckTx{Tx: tx})
			if err == nil && r.Code == 0 {
				mempool = append(mempool, tx)
			}
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	go func() { // query connection
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := h.app.Info(ctx, &abci.RequestInfo{}); err != nil {
				t.Error(err)
				return
			}
			if _, err := h.app.Query(ctx, &abci.RequestQuery{Path: "/records", Data: []byte(`{}`)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	// Consensus connection: blocks of what the mempool holds; the commit
	// and recheck hold the mempool lock, as CometBFT's BlockExecutor does.
	committed := 0
	for range 200 {
		if committed == len(pending) {
			break
		}
		mu.Lock()
		txs := append([][]byte(nil), mempool...)
		mu.Unlock()
		h.height++
		h.now = h.now.Add(time.Second)
		res, err := h.app.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: txs, Height: h.height, Time: h.now})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res.TxResults {
			if r.Code != 0 {
				t.Fatalf("block %d tx %d: code %d %s", h.height, i, r.Code, r.Log)
			}
		}
		mu.Lock()
		if _, err := h.app.Commit(ctx, &abci.RequestCommit{}); err != nil {
			t.Fatal(err)
		}
		committed += len(txs)
		rest := mempool[len(txs):]
		mempool = nil
		for _, tx := range rest {
			if r := h.recheck(tx); r.Code == 0 {
				mempool = append(mempool, tx)
			}
		}
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if committed != len(pending) {
		t.Fatalf("%d of %d transactions committed", committed, len(pending))
	}
}

// A waiting transaction that refers to another waiting one is judged in
// full when that one is dropped: the quick path would put it back on a
// record that is gone.
func TestRecheckDependencies(t *testing.T) {
	h := newHarness(t)
	a := h.signSeq("xaa", 1, note("A"))
	if r := h.checkTx(a); r.Code != 0 {
		t.Fatalf("A: %d %s", r.Code, r.Log)
	}
	rec := note("refers to A")
	rec.Refs = []string{ledger.RecordID(a)}
	b := h.signSeq("xcc", 1, rec)
	if r := h.checkTx(b); r.Code != 0 {
		t.Fatalf("B: %d %s", r.Code, r.Log)
	}
	h.block(h.signSeq("xaa", 1, note("A replaced"))) // A's sequence, another record
	before := h.app.QuickRechecks()
	if r := h.recheck(a); r.Code != uint32(ledger.CodeReplay) {
		t.Fatalf("recheck of A: %d %s", r.Code, r.Log)
	}
	if r := h.recheck(b); r.Code != uint32(ledger.CodeUnknownRecord) {
		t.Fatalf("recheck of B, whose reference is gone: %d %s", r.Code, r.Log)
	}
	if h.app.QuickRechecks() != before {
		t.Fatal("a recheck took the quick path")
	}
}
