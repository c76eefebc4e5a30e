package testnet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/privval"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The byzantine scenarios of the fault suite (TestFaults runs them after
// the crash scenarios, on the same network and under the same load).

// liarMarker starts every transaction the lying proposer invents
// (app/lying_proposer.go); none may ever be in a block.
var liarMarker = []byte("normledger lying proposer")

// lyingProposer runs node0 with a binary whose PrepareProposal proposes
// blocks with an undecodable, an oversized or a repeated transaction, the
// valid ones reordered. Honest validators must reject each such proposal in
// ProcessProposal, a later round must commit a valid block, and none of
// the bad transactions may reach a block or state.
func (f *faultNet) lyingProposer(t *testing.T, lies int) {
	liar := f.node("node0")
	offsets := map[string]int64{}
	for _, n := range f.nw.Nodes {
		offsets[n.Name] = fileSize(LogFile(n))
	}
	f.setDown("node0", true)
	if err := StopNode(liar, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := CopyBinary(liarBinary, f.nw.Dir); err != nil {
		t.Fatal(err)
	}
	h0 := f.tip()
	start := time.Now()
	f.start("node0")
	// The running liar keeps its own copy: every later start runs the
	// honest binary again.
	if err := CopyBinary(binaries(t), f.nw.Dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Duration(lies) * 20 * time.Second)
	for countSince(LogFile(liar), offsets["node0"], "lying proposer") < lies {
		if time.Now().After(deadline) {
			t.Fatalf("node0 proposed fewer than %d lying blocks in %s:\n%s", lies, time.Since(start), tail(LogFile(liar), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	h1 := f.tip()
	lied := time.Since(start)
	f.setDown("node0", true)
	if err := StopNode(liar, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	rejected := 0
	for _, n := range f.nw.Nodes[1:4] {
		rejected += countSince(LogFile(n), offsets[n.Name], "rejecting proposal")
	}
	if rejected == 0 {
		t.Fatalf("no honest validator logged a rejected proposal while node0 lied")
	}
	st := scanBlocks(t, f.node("node1"), h0+1, h1)
	kinds := map[string]int{}
	var lieHeights []int64
	for _, l := range linesSince(LogFile(liar), offsets["node0"], "lying proposer") {
		if i := strings.Index(l, "lie="); i >= 0 {
			kinds[strings.Trim(strings.SplitN(l[i+4:], " txs=", 2)[0], `"`)]++
		}
		if i := strings.Index(l, " height="); i >= 0 {
			if h, err := strconv.ParseInt(strings.Fields(l[i+8:])[0], 10, 64); err == nil && h <= h1 {
				lieHeights = append(lieHeights, h)
			}
		}
	}
	// Heights node0 lied at, and the round each was decided in. A lie the
	// others judged forces a later round; node0 may also lie in a round
	// the others never reached (it lags after its restart, times out and
	// proposes for round 1 while they commit in round 0), so not every
	// lie height needs one.
	rounds := map[int64]int32{}
	judged := 0
	for _, h := range lieHeights {
		if rounds[h] = st.rounds[h]; rounds[h] > 0 {
			judged++
		}
	}
	if judged == 0 {
		t.Fatalf("no height node0 lied at needed a later round (rounds %v): no lie was judged", rounds)
	}
	f.start("node0")
	took := f.waitCatchUp("node0", 60*time.Second)
	t.Logf("lying proposer: node0 proposed %d lying blocks %v between heights %d and %d; honest validators logged %d rejections; "+
		"the heights it lied at were committed in rounds %v (height: round); %d of %d blocks needed a later round; no bad tx in any of the %d txs committed meanwhile; "+
		"blocks lost: 0; %s for the %d blocks; node0 back on the honest binary caught up in %s",
		countSince(LogFile(liar), offsets["node0"], "lying proposer"), kinds, h0, h1, rejected, rounds, st.laterRound, st.blocks,
		st.txs, lied.Round(time.Millisecond), h1-h0, took.Round(time.Millisecond))
}

type blockScan struct {
	blocks, txs, laterRound int
	rounds                  map[int64]int32 // commit round by height
}

// scanBlocks reads blocks from..to from n's CometBFT RPC and fails if any
// committed transaction is one the lying proposer invented, is oversized,
// repeats another, or has a non-zero result code.
func scanBlocks(t *testing.T, n NodeInfo, from, to int64) blockScan {
	t.Helper()
	c, err := rpchttp.NewWithTimeout("http://"+n.RPC, "/websocket", 10)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seen := map[[32]byte]int64{}
	st := blockScan{rounds: map[int64]int32{}}
	for h := from; h <= to; h++ {
		b, err := c.Block(ctx, &h)
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		res, err := c.BlockResults(ctx, &h)
		if err != nil {
			t.Fatalf("block results %d: %v", h, err)
		}
		for i, tx := range b.Block.Txs {
			if bytes.HasPrefix(tx, liarMarker) || len(tx) > ledger.MaxTxBytesLimit {
				t.Fatalf("block %d tx %d is one the lying proposer made (%d bytes)", h, i, len(tx))
			}
			k := sha256.Sum256(tx)
			if at, ok := seen[k]; ok {
				t.Fatalf("block %d tx %d repeats a tx of block %d", h, i, at)
			}
			seen[k] = h
			if code := res.TxsResults[i].Code; code != 0 {
				t.Fatalf("block %d tx %d has result code %d: %s", h, i, code, res.TxsResults[i].Log)
			}
			st.txs++
		}
		// The commit for h says in which round h was decided.
		cm, err := c.Commit(ctx, &h)
		if err != nil {
			t.Fatalf("commit %d: %v", h, err)
		}
		st.blocks++
		st.rounds[h] = cm.Commit.Round
		if cm.Commit.Round > 0 {
			st.laterRound++
		}
	}
	return st
}

// walDamage truncates node2's consensus WAL at random offsets, each time
// after a SIGKILL, and restarts it: it must either start (CometBFT repairs
// a WAL whose last message is cut) and catch up, or stop with a clear
// error; and it must never sign a vote conflicting with one it signed
// before the damage (which the other validators would turn into evidence).
func (f *faultNet) walDamage(t *testing.T, cuts int, seed uint64) {
	n := f.node("node2")
	addr := validatorAddress(t, n)
	evBefore := f.evidenceAgainst(t, addr)
	rng := rand.New(rand.NewPCG(seed, 17))
	wal := filepath.Join(n.Home, "data", "cs.wal", "wal")
	for i := 0; i < cuts; i++ {
		f.kill("node2")
		size := fileSize(wal)
		if size < 0 {
			t.Fatalf("no consensus WAL at %s", wal)
		}
		off := rng.Int64N(size + 1)
		if err := os.Truncate(wal, off); err != nil {
			t.Fatal(err)
		}
		logAt := fileSize(LogFile(n))
		start := time.Now()
		p := f.start("node2")
		outcome := "started"
		for {
			if h := f.height("node2"); h > 0 && h >= f.tipOthers("node2") {
				break
			}
			select {
			case <-p.Done():
				// Stopped: only with an error that names the WAL. The
				// operator's remedy is to move the WAL aside (the
				// validator's last-sign state still guards against
				// double signing) and start again.
				lines := linesSince(LogFile(n), logAt, "")
				if !strings.Contains(strings.ToLower(strings.Join(lines, "\n")), "wal") {
					t.Fatalf("cut %d: node2 with its WAL cut at %d of %d bytes stopped without naming the WAL:\n%s", i, off, size, tail(LogFile(n), 20))
				}
				outcome = "stopped with a clear error, started again with the WAL moved aside"
				f.setDown("node2", true)
				if err := os.Rename(filepath.Dir(wal), filepath.Dir(wal)+fmt.Sprintf(".damaged-%d", i)); err != nil {
					t.Fatal(err)
				}
				p = f.start("node2")
			case <-time.After(100 * time.Millisecond):
			}
			if time.Since(start) > 90*time.Second {
				t.Fatalf("cut %d: node2 with its WAL cut at %d of %d bytes did not catch up within 90s:\n%s", i, off, size, tail(LogFile(n), 20))
			}
		}
		said := "nothing about the WAL in its log"
		if ls := linesSince(LogFile(n), logAt, "WAL"); len(ls) > 0 {
			said = "its log: " + strings.TrimSpace(ls[0])
		}
		t.Logf("WAL cut %d: truncated at %d of %d bytes; node2 %s (%s) and caught up in %s", i, off, size, outcome, said, time.Since(start).Round(time.Millisecond))
	}
	// Any conflicting vote would be evidence within a few blocks.
	f.advances(f.tip(), 5, 60*time.Second, "after the WAL cuts")
	if after := f.evidenceAgainst(t, addr); after != evBefore {
		t.Fatalf("evidence against node2's validator went from %d to %d after its WAL was cut", evBefore, after)
	}
	t.Logf("WAL damage: %d cuts (seed %d); no evidence against node2's validator %X; blocks lost: 0", cuts, seed, addr)
}

// twoCopies starts a second process with node3's validator key and a copy
// of its data (an operator who cloned the machine, Jepsen's "peekaboo"
// node), both online. The conflicting votes must become evidence on the
// record within a few blocks, naming node3's member, without a fork; the
// copy is then stopped and removed.
func (f *faultNet) twoCopies(t *testing.T) {
	orig := f.node("node3")
	addr := validatorAddress(t, orig)
	evBefore := f.evidenceAgainst(t, addr)
	f.setDown("node3", true)
	if err := StopNode(orig, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	twin, err := f.nw.AddFullNode(freePorts(t))
	if err != nil {
		t.Fatal(err)
	}
	f.setDown(twin.Name, true) // not a node the writers or the checker use
	defer f.retire(twin.Name)
	if err := os.RemoveAll(filepath.Join(twin.Home, "data")); err != nil {
		t.Fatal(err)
	}
	if err := copyTree(filepath.Join(orig.Home, "data"), filepath.Join(twin.Home, "data")); err != nil {
		t.Fatal(err)
	}
	if err := copyTree(filepath.Join(orig.Home, "config", "priv_validator_key.json"), filepath.Join(twin.Home, "config", "priv_validator_key.json")); err != nil {
		t.Fatal(err)
	}
	h0 := f.tip()
	start := time.Now()
	f.start("node3")
	tp, err := StartNode(f.nw.Dir, twin)
	if err != nil {
		t.Fatal(err)
	}
	defer StopNode(twin, 10*time.Second)
	c, _ := client.New(f.node("node0").RESTURL())
	var ev *pb.Evidence
	for ev == nil {
		if time.Since(start) > 3*time.Minute {
			t.Fatalf("no evidence against %X within 3 minutes of starting a second copy of node3's validator (chain at %d, from %d)\n%s", addr, f.tip(), h0, tail(LogFile(twin), 20))
		}
		select {
		case <-tp.Done():
			t.Fatalf("the copy of node3 exited:\n%s", tail(LogFile(twin), 20))
		case <-time.After(500 * time.Millisecond):
		}
		list, err := c.EvidenceList(context.Background(), "", 0, false)
		if err != nil {
			continue
		}
		var n int
		for _, e := range list.GetEvidence() {
			if bytes.Equal(e.GetValidatorAddress(), addr) {
				if n++; n > evBefore {
					ev = e
				}
			}
		}
	}
	took := time.Since(start)
	if err := StopNode(twin, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	f.retire(twin.Name)
	if ev.GetMember() == "" {
		t.Fatalf("evidence %s names no member for node3's validator", ev.GetId())
	}
	f.advances(f.tip(), 3, 60*time.Second, "after the copy was stopped")
	t.Logf("two copies of node3's validator online from height %d: %s at height %d committed at height %d (%d blocks later, %s after the copy started) against member %s; "+
		"blocks lost: 0, the chain kept committing", h0, ev.GetType(), ev.GetHeight(), ev.GetCommittedHeight(), ev.GetCommittedHeight()-ev.GetHeight(), took.Round(time.Millisecond), ev.GetMember())
}

// offlineEvidence sends conflicting prevotes signed with node1's validator
// key (what a second copy would have signed) to CometBFT's
// broadcast_evidence, after a forged pair (one signature copied onto the
// other vote) that must be refused: the real evidence is committed once,
// even when sent to two nodes, against node1's member.
func (f *faultNet) offlineEvidence(t *testing.T) {
	n := f.node("node1")
	pv := privval.LoadFilePV(filepath.Join(n.Home, "config", "priv_validator_key.json"), filepath.Join(n.Home, "data", "priv_validator_state.json"))
	addr := pv.Key.PubKey.Address()
	before := f.evidenceAgainst(t, addr)
	ctx := context.Background()
	rpc := func(name string) *rpchttp.HTTP {
		c, err := rpchttp.NewWithTimeout("http://"+f.node(name).RPC, "/websocket", 10)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	r0 := rpc("node0")
	h := f.tip() - 2
	blk, err := r0.Block(ctx, &h)
	if err != nil {
		t.Fatal(err)
	}
	page, per := 1, 100
	vres, err := r0.Validators(ctx, &h, &page, &per)
	if err != nil {
		t.Fatal(err)
	}
	vals := cmttypes.NewValidatorSet(vres.Validators)
	ev, err := DoubleSign(pv, f.nw.ChainID, h, blk.Block.Time, vals)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := DoubleSign(pv, f.nw.ChainID, h-1, blk.Block.Time, vals)
	if err != nil {
		t.Fatal(err)
	}
	forged.VoteB.Signature = append([]byte(nil), forged.VoteA.Signature...)
	if _, err := r0.BroadcastEvidence(ctx, forged); err == nil {
		t.Fatal("evidence with a copied signature was accepted")
	}
	sent := time.Now()
	if _, err := r0.BroadcastEvidence(ctx, ev); err != nil {
		t.Fatal(err)
	}
	_, again := rpc("node2").BroadcastEvidence(ctx, ev)
	sentAt := f.tip()
	for f.evidenceAgainst(t, addr) == before {
		if time.Since(sent) > 60*time.Second {
			t.Fatalf("evidence against node1's validator not committed within 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(sent)
	f.advances(f.tip(), 5, 60*time.Second, "after the evidence")
	if after := f.evidenceAgainst(t, addr); after != before+1 {
		t.Fatalf("the evidence was committed %d times", after-before)
	}
	c, _ := client.New(f.node("node3").RESTURL())
	list, err := c.EvidenceList(ctx, "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	var got *pb.Evidence
	for _, e := range list.GetEvidence() {
		if bytes.Equal(e.GetValidatorAddress(), addr) && e.GetHeight() == h {
			got = e
		}
	}
	if got == nil || got.GetMember() == "" {
		t.Fatalf("no evidence for height %d naming a member: %v", h, list.GetEvidence())
	}
	t.Logf("offline conflicting votes for height %d sent at height %d: forged pair refused; committed once at height %d (%s) against member %s; sent to a second node too (%v); blocks lost: 0",
		h, sentAt, got.GetCommittedHeight(), took.Round(time.Millisecond), got.GetMember(), again)
}

// evidenceAgainst counts the evidence on the record against a validator.
func (f *faultNet) evidenceAgainst(t *testing.T, addr []byte) int {
	t.Helper()
	for _, n := range f.live() {
		c, _ := client.New(n.RESTURL())
		list, err := c.EvidenceList(context.Background(), "", 0, false)
		if err != nil {
			continue
		}
		k := 0
		for _, e := range list.GetEvidence() {
			if bytes.Equal(e.GetValidatorAddress(), addr) {
				k++
			}
		}
		return k
	}
	t.Fatal("no live node serves /v1/evidence")
	return 0
}

// tipOthers is the highest height the live nodes other than name report.
func (f *faultNet) tipOthers(name string) int64 {
	var h int64
	for _, n := range f.live() {
		if n.Name != name {
			h = max(h, f.height(n.Name))
		}
	}
	return h
}

// retire removes a node the scenario added from the network, so later
// scenarios neither restart nor check it.
func (f *faultNet) retire(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, n := range f.nw.Nodes {
		if n.Name == name {
			f.nw.Nodes = append(f.nw.Nodes[:i:i], f.nw.Nodes[i+1:]...)
			break
		}
	}
	delete(f.down, name)
}

func validatorAddress(t *testing.T, n NodeInfo) []byte {
	t.Helper()
	key, err := readPrivValidator(n.Home)
	if err != nil {
		t.Fatal(err)
	}
	return key.PubKey().Address()
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return st.Size()
}

// linesSince returns the lines of path after byte offset off that
// contain substr.
func linesSince(path string, off int64, substr string) []string {
	bz, _ := os.ReadFile(path)
	if off < 0 || off > int64(len(bz)) {
		off = 0
	}
	var out []string
	for _, l := range strings.Split(string(bz[off:]), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

func countSince(path string, off int64, substr string) int {
	return len(linesSince(path, off, substr))
}

// copyTree copies a file or a directory tree.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		bz, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, bz, 0o600)
	})
}
