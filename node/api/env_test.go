package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/app"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/store"
)

// The node/api tests run the service over an in-memory store that an App
// drives block by block, and a fake chain in place of CometBFT: no node,
// no ports but httptest's, no sleeps.

const testChainID = "api-unit-test"

var testT0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// testLedger is a store with the fixture scenario's records committed.
type testLedger struct {
	st  *store.Store
	app *app.App
	ids []string // record ids, in scenario order
	// extend commits more steps, one block each, and an empty block after.
	extend func(steps ...fixture.Step)
	// together commits steps in one block (a step may name the ones
	// before it), and an empty block after.
	together func(steps ...fixture.Step)
}

func newTestLedger(t testing.TB) *testLedger {
	t.Helper()
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := testT0
	a, err := app.New(st, app.Options{Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ms := fixture.Dev(3, fixture.SeededKey)
	members := fixture.ByID(ms)
	g := fixture.Genesis(ms)
	fixture.SetValidator(g, "xaa", fixture.SeededValidatorKey("xaa").PubKey().Bytes(), 10)
	gs, err := protojson.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.InitChain(ctx, &abci.RequestInitChain{ChainId: testChainID, Time: testT0, InitialHeight: 1, AppStateBytes: gs,
		ConsensusParams: &cmtproto.ConsensusParams{Version: &cmtproto.VersionParams{App: ledger.CurrentAppVersion}}}); err != nil {
		t.Fatal(err)
	}
	l := &testLedger{st: st, app: a}
	seq := map[string]uint64{}
	block := func(txs ...[]byte) {
		now = now.Add(time.Second)
		res, err := a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: txs, Height: st.Version() + 1, Time: now})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res.TxResults {
			if r.Code != 0 {
				t.Fatalf("block %d tx %d: code %d %s", st.Version()+1, i, r.Code, r.Log)
			}
			l.ids = append(l.ids, string(r.Data))
		}
		if _, err := a.Commit(ctx, &abci.RequestCommit{}); err != nil {
			t.Fatal(err)
		}
	}
	l.extend = func(steps ...fixture.Step) {
		for _, s := range steps {
			if s.Key != nil {
				members[s.Author] = fixture.Member{ID: s.Author, Key: s.Key}
			}
			seq[s.Author]++
			tx, err := s.Tx(testChainID, seq[s.Author], members, l.ids)
			if err != nil {
				t.Fatal(err)
			}
			block(tx)
		}
		block() // so that the last record's state is attested
	}
	l.together = func(steps ...fixture.Step) {
		ids := slices.Clone(l.ids)
		var txs [][]byte
		for _, s := range steps {
			seq[s.Author]++
			tx, err := s.Tx(testChainID, seq[s.Author], members, ids)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(tx)
			ids = append(ids, hex.EncodeToString(sum[:]))
			txs = append(txs, tx)
		}
		block(txs...)
		block()
	}
	l.extend(fixture.Scenario(testT0)...)
	return l
}

// server is the service over l's store; the chain's latest block is one
// past the latest state, so that every committed state is attested.
func (l *testLedger) server(c Chain) *Server {
	return NewServer(l.st, c, func() int64 { return l.st.Version() + 1 }, "test")
}

// fakeChain stands in for CometBFT's local client. Broadcasts answer from
// checkTx/commitErr/syncErr.
type fakeChain struct {
	mu        sync.Mutex
	syncErr   error // returned by BroadcastTxSync
	commitErr error // returned by BroadcastTxCommit
	checkTx   abci.ResponseCheckTx
	broadcast int // broadcasts seen
}

var errNoChain = errors.New("the fake chain has no blocks")

func (c *fakeChain) Status(context.Context) (*coretypes.ResultStatus, error) {
	return &coretypes.ResultStatus{}, nil
}

func (c *fakeChain) Validators(context.Context, *int64, *int, *int) (*coretypes.ResultValidators, error) {
	return &coretypes.ResultValidators{}, nil
}

func (c *fakeChain) BroadcastTxSync(_ context.Context, tx cmttypes.Tx) (*coretypes.ResultBroadcastTx, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.broadcast++
	if c.syncErr != nil {
		return nil, c.syncErr
	}
	return &coretypes.ResultBroadcastTx{Code: c.checkTx.Code, Codespace: c.checkTx.Codespace, Log: c.checkTx.Log, Hash: tx.Hash()}, nil
}

func (c *fakeChain) BroadcastTxCommit(_ context.Context, tx cmttypes.Tx) (*coretypes.ResultBroadcastTxCommit, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.broadcast++
	if c.commitErr != nil {
		return nil, c.commitErr
	}
	return &coretypes.ResultBroadcastTxCommit{CheckTx: c.checkTx, Hash: tx.Hash()}, nil
}

func (c *fakeChain) Commit(context.Context, *int64) (*coretypes.ResultCommit, error) {
	return nil, errNoChain
}

func (c *fakeChain) Block(context.Context, *int64) (*coretypes.ResultBlock, error) {
	return nil, errNoChain
}

// Genesis is the test chain's genesis (chain id and time: what the
// exports and TAXII name and date things with).
func (c *fakeChain) Genesis(context.Context) (*coretypes.ResultGenesis, error) {
	return &coretypes.ResultGenesis{Genesis: &cmttypes.GenesisDoc{ChainID: testChainID, GenesisTime: testT0}}, nil
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: testT0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// restServer serves svc's REST handler under cfg on an httptest server.
func restServer(t testing.TB, cfg Config, svc *Server) *httptest.Server {
	t.Helper()
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultConfig().MaxBodyBytes
	}
	h, err := Handler(cfg, svc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
