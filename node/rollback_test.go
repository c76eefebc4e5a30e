package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/privval"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	"github.com/normledger/normledger/node"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// rollbackHome is newHome with a timeout_commit long enough (1 s) that a
// test can stop the node right after the block holding its record, before
// the node starts the next height.
func rollbackHome(t *testing.T) (string, ledger.Signer) {
	t.Helper()
	home, ms := newHome(t)
	ccfg, err := operator.LoadCometConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	ccfg.Consensus.TimeoutCommit = time.Second
	if err := node.SaveCometConfig(home, ccfg); err != nil {
		t.Fatal(err)
	}
	return home, ms["xaa"].Signer()
}

// fileLast files a notice in commit mode and stops the node as soon as its
// block N is committed, so that N is the node's last block; it returns the
// record's transaction and N, and the app hash of the state after N.
func fileLast(t *testing.T, n *node.Node, c *client.Client, stop func(), signer ledger.Signer, summary string) ([]byte, client.Result, []byte) {
	t.Helper()
	ctx := context.Background()
	tx, err := c.Sign(ctx, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xbb"}, Summary: summary}}}, signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Broadcast(ctx, tx, true)
	if err != nil || !res.Committed {
		t.Fatalf("%+v %v", res, err)
	}
	stop()
	if v := n.Store().Version(); v != res.Height {
		t.Fatalf("the node committed up to %d, past the record's block %d, before it stopped", v, res.Height)
	}
	return tx, res, n.Store().Hash()
}

// Run, file records, stop right after the block N holding the last one,
// roll back, restart: CometBFT replays block N into the application,
// which reaches block N's app hash again (the header of block N+1, made
// after the restart, carries it); the record filed in block N is there,
// and the node goes on. A rollback is refused while the node runs.
func TestRollback(t *testing.T) {
	start := time.Now()
	home, signer := rollbackHome(t)
	n, c, stop := runHome(t, home, 2)
	ctx := context.Background()
	if _, err := c.Submit(ctx, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xcc"}, Summary: "before"}}}, signer, nil, true); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Rollback(home, node.RollbackOptions{Comet: n.CometConfig()}); !errors.Is(err, node.ErrNodeRunning) {
		t.Fatalf("rollback of a running node: %v", err)
	}
	_, rec, hashN := fileLast(t, n, c, stop, signer, "in the last block")
	N := rec.Height
	// A snapshot (and one being taken) and a log checkpoint of state N
	// go; those of N-1 stay.
	data := filepath.Join(home, "data")
	for _, d := range []string{fmt.Sprint(N), fmt.Sprint(N, ".tmp"), fmt.Sprint(N - 1)} {
		if err := os.MkdirAll(filepath.Join(data, "snapshots", d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []int64{N - 1, N} {
		if err := os.WriteFile(filepath.Join(data, "checkpoints", fmt.Sprint(h, ".note")), []byte("note"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	rb, err := node.Rollback(home, node.RollbackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rollback: %+v", rb)
	if rb.Height != N-1 || rb.CometFrom != N || rb.AppFrom != N || rb.AppFromHash != fmt.Sprintf("%X", hashN) ||
		rb.BlocksFrom != N || rb.BlocksTo != N || rb.RemovedBlock != 0 || rb.LogTo != rb.LogFrom-1 || rb.SignedHeight < N ||
		fmt.Sprint(rb.RemovedSnapshots, rb.RemovedCheckpoints) != fmt.Sprint([]int64{N}, []int64{N}) {
		t.Fatalf("rollback result %+v", rb)
	}
	for _, p := range []string{"snapshots/" + fmt.Sprint(N-1), "checkpoints/" + fmt.Sprint(N-1, ".note")} {
		if _, err := os.Stat(filepath.Join(data, p)); err != nil {
			t.Fatalf("%s of the height rolled back to: %v", p, err)
		}
	}
	for _, p := range []string{"snapshots/" + fmt.Sprint(N), "snapshots/" + fmt.Sprint(N, ".tmp"), "checkpoints/" + fmt.Sprint(N, ".note")} {
		if _, err := os.Stat(filepath.Join(data, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s of the rolled-back height: %v", p, err)
		}
	}
	// The note of N-1 was a fake: the node must not serve it.
	os.Remove(filepath.Join(data, "checkpoints", fmt.Sprint(N-1, ".note")))
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, h := st.Version(), fmt.Sprintf("%X", st.Hash()); v != N-1 || h != rb.AppHash {
		t.Fatalf("the application state is at %d (%s) after the rollback", v, h)
	}
	st.Close()
	// Run again, it changes nothing: CometBFT's state is one below its
	// block store (a pending block, which a soft rollback keeps), the
	// application at that state's height.
	again, err := node.Rollback(home, node.RollbackOptions{})
	if err != nil || again.Height != N-1 || again.CometFrom != N-1 || again.AppFrom != N-1 || again.BlocksTo != N || again.AppHash != rb.AppHash {
		t.Fatalf("rollback run again: %+v %v", again, err)
	}

	n, c, stop = runHome(t, home, N+1)
	if v, err := n.Store().At(N); err != nil || !bytes.Equal(v.RootHash(), hashN) {
		t.Fatalf("after the replay, the state at %d is not the first one: %v", N, err)
	}
	lb, err := c.LightBlock(ctx, N+1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(lb.AppHash, hashN) {
		t.Fatalf("block %d carries app hash %X; block %d's first state was %X", N+1, lb.AppHash, N, hashN)
	}
	if r, err := c.Record(ctx, rec.ID); err != nil || r.GetHeight() != N {
		t.Fatalf("the record of block %d after the replay: %v %v", N, r, err)
	}
	if _, err := c.WaitHeight(ctx, N+2); err != nil {
		t.Fatal(err)
	}
	t.Logf("rolled back from %d, replayed and went on to %d in %s", N, N+2, time.Since(start).Round(time.Millisecond))

	// A rollback that stopped after the application's step (CometBFT's
	// failed) is finished by running it again: CometBFT alone goes back.
	stop()
	M := n.Store().Version()
	if _, err := store.Rollback(data, M-1, store.Options{}); err != nil {
		t.Fatal(err)
	}
	// Its marker stays: the node refuses to start (it would replay block M
	// and stop on CometBFT's old app hash) until the rollback is finished.
	if err := os.WriteFile(filepath.Join(data, node.RollbackMarkerFile), []byte("a rollback to height 1 (test)\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := node.CheckInterrupted(home); !errors.Is(err, node.ErrRollbackInterrupted) || !strings.Contains(err.Error(), "normledger rollback --home") {
		t.Fatalf("a home with an unfinished rollback: %v", err)
	}
	if _, err := node.ExportStateFile(home, filepath.Join(t.TempDir(), "x"), node.ExportOptions{}); !errors.Is(err, node.ErrRollbackInterrupted) {
		t.Fatalf("an export of a home with an unfinished rollback: %v", err)
	}
	rb, err = node.Rollback(home, node.RollbackOptions{})
	if err != nil || rb.Height != M-1 || rb.CometFrom != M || rb.AppFrom != M-1 || rb.LogTo != rb.LogFrom {
		t.Fatalf("rollback after the application's step alone: %+v %v", rb, err)
	}
	if err := node.CheckInterrupted(home); err != nil {
		t.Fatalf("the finished rollback left its marker: %v", err)
	}
	runHome(t, home, M+1)
}

// With Hard, block N goes too, and on a single validator no one can make
// it again: the validator signed at height N (its signing state says so)
// and refuses to sign there again, double-sign protection, so the chain
// stays at N-1. Only with that protection reset (which on a real network
// risks a double sign) does it propose a new block N, which does not hold
// the first block N's record: that record is gone from the chain, a fork
// of what clients saw, until someone files it again.
func TestRollbackHard(t *testing.T) {
	start := time.Now()
	home, signer := rollbackHome(t)
	n, c, stop := runHome(t, home, 2)
	ctx := context.Background()
	tx, rec, hashN := fileLast(t, n, c, stop, signer, "in the block removed")
	N := rec.Height

	rb, err := node.Rollback(home, node.RollbackOptions{Hard: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rollback --hard: %+v", rb)
	if rb.Height != N-1 || rb.BlocksFrom != N || rb.BlocksTo != N-1 || rb.RemovedBlock != N || rb.SignedHeight < N {
		t.Fatalf("rollback result %+v", rb)
	}

	n, c, stop = runHome(t, home, N-1)
	time.Sleep(3 * time.Second)
	if h := n.Comet().BlockStore().Height(); h != N-1 {
		t.Fatalf("the single validator made block %d again after a hard rollback, with its signing state at %d", h, rb.SignedHeight)
	}
	if _, err := c.Record(ctx, rec.ID); err == nil {
		t.Fatal("the record of the removed block is in the state")
	}
	t.Logf("after the hard rollback the chain stays at %d: the validator does not sign height %d again", N-1, N)
	stop()

	// The signing state reset (`cometbft unsafe-reset-priv-validator`'s
	// effect, never to be done on a network): a new block N.
	ccfg, err := operator.LoadCometConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	privval.LoadFilePV(ccfg.PrivValidatorKeyFile(), ccfg.PrivValidatorStateFile()).Reset()
	n, c, _ = runHome(t, home, N+1)
	meta := n.Comet().BlockStore().LoadBlockMeta(N)
	if meta == nil || meta.NumTxs != 0 {
		t.Fatalf("new block %d: %+v; the removed one held the record", N, meta)
	}
	v, err := n.Store().At(N)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(v.RootHash(), hashN) {
		t.Fatal("the new block N reached the removed block's state")
	}
	if _, err := c.Record(ctx, rec.ID); err == nil {
		t.Fatal("the record of the removed block is in the state")
	}
	// Its transaction is still valid: filed again, in a later block.
	again, err := c.Broadcast(ctx, tx, true)
	if err != nil || !again.Committed || again.ID != rec.ID || again.Height <= N {
		t.Fatalf("filed again: %+v %v", again, err)
	}
	t.Logf("new block %d (empty) replaced the removed one; the record was filed again in block %d; %s",
		N, again.Height, time.Since(start).Round(time.Millisecond))
}
