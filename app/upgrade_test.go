package app

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// This test binary has no upgrade, so it is the old binary at a scheduled
// one: right after committing the block before the height it says so, it
// neither judges nor runs the block at the height, and it refuses to start
// again on that state, naming the upgrade each time.
func TestUpgradeNeededStopsTheOldBinary(t *testing.T) {
	h := newGovHarness(t, 1)
	var told []*ledger.UpgradeNeededError
	h.app.upgradeNeeded = func(e *ledger.UpgradeNeededError) { told = append(told, e) }
	at := h.height + 8
	id := h.fileNow("xaa", govProposal(&pb.GovernanceAction{Action: &pb.GovernanceAction_SoftwareUpgrade{SoftwareUpgrade: &pb.SoftwareUpgrade{
		Name: "v8-migration", Height: at, AppVersion: ledger.CurrentAppVersion + 1, Info: "https://example.org/normledger/v8"}}}, h.now.Add(72*time.Hour)))
	for _, v := range []string{"xaa", "xbb", "xcc"} {
		h.fileNow(v, govVote(id, pb.VoteOption_VOTE_OPTION_YES))
	}
	if p := h.proposalState(id); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED {
		t.Fatalf("plan: %v %s", p.Status, p.Outcome)
	}
	info := func() *abci.ResponseInfo {
		r, err := h.app.Info(context.Background(), &abci.RequestInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for h.height < at-1 {
		if len(told) != 0 {
			t.Fatalf("told of the upgrade at height %d, before the block before it", h.height)
		}
		h.block()
	}
	if len(told) != 1 || told[0].Plan.Name != "v8-migration" || told[0].Plan.Height != at {
		t.Fatalf("after committing %d: told %v", h.height, told)
	}
	if v := info().AppVersion; v != ledger.CurrentAppVersion {
		t.Fatalf("app version %d before the upgrade", v)
	}
	want := `UPGRADE "v8-migration" NEEDED at height ` + strconv.FormatInt(at, 10) + ` (app version ` + strconv.FormatUint(ledger.CurrentAppVersion+1, 10) + `, proposal ` + id + `): this binary does not have it`
	if !strings.Contains(told[0].Error(), want) || !strings.Contains(told[0].Error(), "https://example.org/normledger/v8") {
		t.Fatalf("message: %s", told[0])
	}
	hash := h.st.Hash()
	ctx := context.Background()
	pp, err := h.app.ProcessProposal(ctx, &abci.RequestProcessProposal{Height: at, Time: h.now.Add(time.Second)})
	if err != nil || pp.Status != abci.ResponseProcessProposal_REJECT {
		t.Fatalf("ProcessProposal at the height: %v %v", pp.GetStatus(), err)
	}
	prep, err := h.app.PrepareProposal(ctx, &abci.RequestPrepareProposal{Height: at, Time: h.now.Add(time.Second), MaxTxBytes: 1 << 20,
		Txs: [][]byte{h.sign("xdd", govVote(id, pb.VoteOption_VOTE_OPTION_NO))}})
	if err != nil || len(prep.Txs) != 0 {
		t.Fatalf("PrepareProposal at the height: %d txs, %v (an error would be a consensus failure in CometBFT)", len(prep.GetTxs()), err)
	}
	var un *ledger.UpgradeNeededError
	if _, err := h.app.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: at, Time: h.now.Add(time.Second)}); !errors.As(err, &un) {
		t.Fatalf("FinalizeBlock at the height: %v", err)
	}
	if _, err := New(h.st, Options{}); !errors.As(err, &un) || !strings.Contains(err.Error(), want) {
		t.Fatalf("restart on the state before the height: %v", err)
	}
	if string(h.st.Hash()) != string(hash) || h.st.Version() != at-1 {
		t.Fatalf("state changed: version %d", h.st.Version())
	}
}

// A chain started at app version 6 keeps the duplicate-content index in its
// state (h/ keys) and replays as it was made; the normledger-v7 upgrade
// drops those keys in its block, duplicates stay rejected (the index beside
// the state answers), later records write no h/ key, and two nodes running
// the same blocks agree on every app hash.
func TestUpgradeToV7MovesTheContentIndex(t *testing.T) {
	run := func() (*harness, [][]byte) {
		st, err := store.OpenMem()
		if err != nil {
			t.Fatal(err)
		}
		h := newHarnessVersion(t, st, true, 4, 1, ledger.GenesisAppVersion)
		var hashes [][]byte
		first := note("before the upgrade")
		h.fileNow("xaa", first)
		hashes = append(hashes, h.st.Hash())
		content := func(r *pb.Record) []byte {
			c, err := ledger.ContentHash(r)
			if err != nil {
				t.Fatal(err)
			}
			return layout.Content("xaa", c)
		}
		stateHas := func(k []byte) bool {
			v, err := h.st.At(0)
			if err != nil {
				t.Fatal(err)
			}
			bz, err := v.Get(k)
			if err != nil {
				t.Fatal(err)
			}
			return bz != nil
		}
		if !stateHas(content(first)) {
			t.Fatal("a chain at app version 6 lacks the h/ key of its record")
		}
		at := h.height + 8
		id := h.fileNow("xaa", govProposal(&pb.GovernanceAction{Action: &pb.GovernanceAction_SoftwareUpgrade{SoftwareUpgrade: &pb.SoftwareUpgrade{
			Name: ledger.UpgradeV7, Height: at, AppVersion: 7}}}, h.now.Add(72*time.Hour)))
		for _, v := range []string{"xaa", "xbb", "xcc"} {
			h.fileNow(v, govVote(id, pb.VoteOption_VOTE_OPTION_YES))
		}
		for h.height < at {
			h.block()
			hashes = append(hashes, h.st.Hash())
		}
		info, err := h.app.Info(context.Background(), &abci.RequestInfo{})
		if err != nil || info.AppVersion != 7 {
			t.Fatalf("app version after the upgrade: %v %v", info.GetAppVersion(), err)
		}
		if stateHas(content(first)) {
			t.Fatal("the upgrade left the h/ key in the state")
		}
		dup := h.sign("xaa", note("before the upgrade"))
		if r := h.checkTx(dup); r.Code != uint32(ledger.CodeDuplicateRecord) {
			t.Fatalf("a duplicate after the upgrade: code %d %s", r.Code, r.Log)
		}
		h.seq["xaa"]-- // the duplicate was never filed
		after := note("after the upgrade")
		h.fileNow("xaa", after)
		hashes = append(hashes, h.st.Hash())
		if stateHas(content(after)) {
			t.Fatal("a record after the upgrade wrote an h/ key")
		}
		return h, hashes
	}
	_, a := run()
	_, b := run()
	if len(a) != len(b) {
		t.Fatalf("%d and %d blocks", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("block %d: app hashes differ", i)
		}
	}
}
