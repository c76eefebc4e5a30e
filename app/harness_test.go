package app

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

const testChain = "normledger-test"

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// harness drives one App through ABCI calls the way CometBFT would.
type harness struct {
	t       testing.TB
	app     *App
	st      *store.Store
	members map[string]fixture.Member
	seq     map[string]uint64
	height  int64
	now     time.Time
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessOn(t, st, true)
}

func newHarnessOn(t testing.TB, st *store.Store, initChain bool) *harness {
	return newHarnessWith(t, st, initChain, 3, 1)
}

// newHarnessWith has `states` states; the first `validators` run a
// validator of power 10.
func newHarnessWith(t testing.TB, st *store.Store, initChain bool, states, validators int) *harness {
	t.Helper()
	return newHarnessVersion(t, st, initChain, states, validators, ledger.CurrentAppVersion)
}

// newHarnessAt starts a chain at app version v (genesis's
// consensus_params.version.app), as a chain made by an older binary.
func newHarnessAt(t testing.TB, v uint64) *harness {
	t.Helper()
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessVersion(t, st, true, 3, 1, v)
}

func newHarnessVersion(t testing.TB, st *store.Store, initChain bool, states, validators int, version uint64) *harness {
	t.Helper()
	ms := fixture.Dev(states, fixture.SeededKey)
	h := &harness{t: t, st: st, members: fixture.ByID(ms), seq: map[string]uint64{}, now: t0}
	a, err := New(st, Options{Clock: func() time.Time { return h.now }})
	if err != nil {
		t.Fatal(err)
	}
	h.app = a
	if initChain {
		g := fixture.Genesis(ms)
		if version < ledger.AppVersionSealedToRecipients {
			for _, m := range g.Members {
				m.EncryptionKeys = nil // a chain made by an older binary has none
			}
		}
		if version < ledger.AppVersionContactDirectory {
			for _, m := range g.Members {
				m.Roles = slices.DeleteFunc(m.Roles, func(r string) bool { return r == ledger.RoleDirectory })
			}
		}
		for _, m := range ms[:validators] {
			fixture.SetValidator(g, m.ID, fixture.SeededValidatorKey(m.ID).PubKey().Bytes(), 10)
		}
		gs, err := protojson.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.InitChain(context.Background(), &abci.RequestInitChain{ChainId: testChain, Time: t0, InitialHeight: 1, AppStateBytes: gs,
			ConsensusParams: &cmtproto.ConsensusParams{Version: &cmtproto.VersionParams{App: version}}}); err != nil {
			t.Fatal(err)
		}
	}
	h.height = st.Version()
	return h
}

// sign builds a tx from author with its next sequence (and bumps it).
func (h *harness) sign(author string, rec *pb.Record, coSigners ...string) []byte {
	h.t.Helper()
	h.seq[author]++
	if h.seq[author] == 0 {
		h.seq[author] = 1
	}
	return h.signSeq(author, h.seq[author], rec, coSigners...)
}

func (h *harness) nextSeq(author string) uint64 { return h.seq[author] + 1 }

func (h *harness) signSeq(author string, seq uint64, rec *pb.Record, coSigners ...string) []byte {
	h.t.Helper()
	m, ok := h.members[author]
	if !ok {
		h.t.Fatalf("no member %q", author)
	}
	var cs []ledger.Signer
	for _, c := range coSigners {
		cs = append(cs, h.members[c].Signer())
	}
	body := &pb.TxBody{ChainId: testChain, Sequence: seq, Record: rec}
	tx, err := ledger.BuildTx(body, m.Signer(), cs...)
	if err != nil {
		h.t.Fatal(err)
	}
	return tx
}

func (h *harness) checkTx(tx []byte) *abci.ResponseCheckTx {
	h.t.Helper()
	r, err := h.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx})
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// block finalizes and commits one block holding txs, one second after the last.
func (h *harness) block(txs ...[]byte) *abci.ResponseFinalizeBlock {
	h.t.Helper()
	h.height++
	h.now = h.now.Add(time.Second)
	ctx := context.Background()
	pp, err := h.app.ProcessProposal(ctx, &abci.RequestProcessProposal{Txs: txs, Height: h.height, Time: h.now})
	if err != nil {
		h.t.Fatal(err)
	}
	_ = pp // the outcome is asserted by callers that care
	res, err := h.app.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: txs, Height: h.height, Time: h.now})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(res.TxResults) != len(txs) {
		h.t.Fatalf("%d results for %d txs", len(res.TxResults), len(txs))
	}
	if _, err := h.app.Commit(ctx, &abci.RequestCommit{}); err != nil {
		h.t.Fatal(err)
	}
	if !bytes.Equal(res.AppHash, h.st.Hash()) {
		h.t.Fatalf("FinalizeBlock app hash %X != committed hash %X", res.AppHash, h.st.Hash())
	}
	return res
}

func (h *harness) query(path string, data []byte, prove bool) *abci.ResponseQuery {
	h.t.Helper()
	r, err := h.app.Query(context.Background(), &abci.RequestQuery{Path: path, Data: data, Prove: prove})
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) record(id string) *pb.StoredRecord {
	h.t.Helper()
	r := h.query("/record/"+id, nil, false)
	if r.Code != 0 {
		h.t.Fatalf("query record %s: code %d %s", id, r.Code, r.Log)
	}
	out := new(pb.StoredRecord)
	if err := proto.Unmarshal(r.Value, out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// runScenario files every scenario step, one block each, and returns ids and txs.
func (h *harness) runScenario() (ids []string, txs [][]byte) {
	return h.runSteps(fixture.Scenario(t0))
}

// scenarioBefore8 is how many steps of the scenario a chain below app
// version 8 takes (what it was before sealed records to recipients).
const scenarioBefore8 = 18

// scenarioBefore9 is how many steps a chain below app version 9 takes
// (before the contact directory).
const scenarioBefore9 = 20

// scenarioBefore10 is how many steps a chain below app version 10 takes
// (before cases).
const scenarioBefore10 = 26

// scenarioBefore11 is how many steps a chain below app version 11 takes
// (before selective disclosure).
const scenarioBefore11 = 29

// scenarioBefore12 is how many steps a chain below app version 12 takes
// (before evidence standards).
const scenarioBefore12 = 36

func (h *harness) runSteps(steps []fixture.Step) (ids []string, txs [][]byte) {
	h.t.Helper()
	for i, s := range steps {
		if s.Key != nil {
			h.members[s.Author] = fixture.Member{ID: s.Author, Key: s.Key}
		}
		tx := h.sign(s.Author, s.Build(ids), s.CoSigners...)
		if r := h.checkTx(tx); r.Code != 0 {
			h.t.Fatalf("step %d CheckTx: code %d: %s", i, r.Code, r.Log)
		}
		res := h.block(tx)
		if c := res.TxResults[0].Code; c != 0 {
			h.t.Fatalf("step %d FinalizeBlock: code %d: %s", i, c, res.TxResults[0].Log)
		}
		ids = append(ids, ledger.RecordID(tx))
		txs = append(txs, tx)
	}
	return ids, txs
}
