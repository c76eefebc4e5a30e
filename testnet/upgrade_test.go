package testnet

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/normledger/normledger/audit"
	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/remote"
)

// testUpgrade is the upgrade the binary built with -tags upgradetest has
// (ledger/upgrade_testbuild.go): the app version after this binary's,
// acknowledgement window doubled.
const testUpgrade = "normledger-test-next"

// A 4-validator network of real processes under continuous signed-write
// load upgrades by governance from the current build to a build with a
// migration. node3 runs the new binary early and behaves like the old one
// until the height; the three old binaries stop cleanly after committing
// the block before it, naming the upgrade, and refuse to start again; with
// the new binary they resume. No fork, no acknowledged write lost, every
// node on app version 7 afterwards, records from both sides verify through
// the light client, and the audit replays across the upgrade with the new
// binary (the old one stops at the height).
func TestUpgrade(t *testing.T) {
	binaries(t) // an OS-process network: NORMLEDGER_NETWORKS=1
	f, _ := newProcessNet(t, Options{ChainID: "upgrade-net", Validators: 4, LoadMembers: 4}, 0)
	nw, dir := f.nw, f.nw.Dir
	procs := map[string]*Process{}
	for _, n := range nw.Nodes[:3] {
		procs[n.Name] = f.start(n.Name)
	}
	// node3's operator installed the new binary early.
	if err := CopyBinary(upgradeBinary, dir); err != nil {
		t.Fatal(err)
	}
	procs["node3"] = f.start("node3")
	if err := CopyBinary(binaries(t), dir); err != nil {
		t.Fatal(err)
	}
	f.waitHeight(2, 60*time.Second)
	c0, _ := client.New(nw.Nodes[0].RESTURL())
	g := &govClient{t: t, c: c0, nw: nw}
	stopLoad := f.startWriters("load-001", "load-002", "load-003", "load-004")
	defer stopLoad()
	time.Sleep(2 * time.Second)

	at := f.tip() + 30
	decided := g.pass(&pb.GovernanceAction{Action: &pb.GovernanceAction_SoftwareUpgrade{SoftwareUpgrade: &pb.SoftwareUpgrade{
		Name: testUpgrade, Height: at, AppVersion: ledger.CurrentAppVersion + 1, Info: "build with -tags upgradetest"}}}, "xaa", "xbb", "xcc")
	if decided >= at-2 {
		t.Fatalf("the plan for height %d passed only at %d", at, decided)
	}
	t.Logf("software upgrade %s scheduled for height %d by the vote at height %d", testUpgrade, at, decided)

	// The old binaries stop by themselves, cleanly, after committing at-1.
	want := fmt.Sprintf("UPGRADE %q NEEDED at height %d", testUpgrade, at)
	var stopped time.Time
	for _, name := range []string{"node0", "node1", "node2"} {
		select {
		case <-procs[name].Done():
		case <-time.After(3 * time.Minute):
			t.Fatalf("%s (old binary) still runs; chain at %d, upgrade at %d:\n%s", name, f.tip(), at, tail(LogFile(f.node(name)), 20))
		}
		f.setDown(name, true)
		stopped = time.Now()
		log := tail(LogFile(f.node(name)), 40)
		if code := procs[name].Cmd.ProcessState.ExitCode(); code != cli.ExitUpgradeNeeded || !strings.Contains(log, want) ||
			!strings.Contains(log, "stopping for a software upgrade") {
			t.Fatalf("%s stopped with exit status %d, log:\n%s", name, code, log)
		}
	}
	if h := f.height("node3"); h != at-1 {
		t.Fatalf("node3 (new binary) is at height %d, want %d: the chain must wait at the upgrade", h, at-1)
	}
	t.Logf("node0-2 (old binary) stopped with exit status %d after committing height %d: %s", cli.ExitUpgradeNeeded, at-1, lastLine(tail(LogFile(f.node("node0")), 1)))
	// An old binary started again refuses at once with the same message.
	p := f.start("node0", "NORMLEDGER_LOG_LEVEL=info")
	select {
	case <-p.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("the old binary started again on node0's home and kept running")
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != cli.ExitUpgradeNeeded || !strings.Contains(tail(LogFile(f.node("node0")), 5), want) {
		t.Fatalf("old binary restarted: exit status %d:\n%s", code, tail(LogFile(f.node("node0")), 10))
	}

	// The operators install the new binary and start it on the same homes.
	if err := CopyBinary(upgradeBinary, dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"node0", "node1", "node2"} {
		f.start(name)
	}
	took := f.waitHeight(at+3, 2*time.Minute)
	t.Logf("new binary on all four: height %d committed %s after the last old node stopped (%s after the restart)", at, time.Since(stopped).Round(time.Millisecond), took.Round(time.Millisecond))
	for _, n := range nw.Nodes {
		f.waitCatchUp(n.Name, 60*time.Second)
		rc, err := rpchttp.NewWithTimeout("http://"+n.RPC, "/websocket", 10)
		if err != nil {
			t.Fatal(err)
		}
		info, err := rc.ABCIInfo(context.Background())
		if err != nil || info.Response.AppVersion != ledger.CurrentAppVersion+1 {
			t.Fatalf("%s: app version %v after the upgrade: %v", n.Name, info, err)
		}
		nc, _ := client.New(n.RESTURL())
		if st, err := nc.Status(context.Background()); err != nil || st.AppVersion != ledger.CurrentAppVersion+1 {
			t.Fatalf("%s: /v1/status app version %d after the upgrade: %v", n.Name, st.GetAppVersion(), err)
		}
	}
	// Headers carry the new version from the block after the upgrade; the
	// migration's rule applies from there, the old rule before.
	for _, c := range []struct {
		height  int64
		version uint64
		ack     uint32
	}{{at - 1, ledger.CurrentAppVersion, 24}, {at, ledger.CurrentAppVersion, 48}, {at + 1, ledger.CurrentAppVersion + 1, 48}} {
		lb, err := c0.LightBlock(context.Background(), c.height)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(lb.Version.App) != c.version {
			t.Fatalf("header %d has app version %d, want %d", c.height, lb.Version.App, c.version)
		}
		// The migration ran in block at: state at holds the new rule.
		r, err := c0.GovernanceRules(context.Background(), c.height, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Params.AckWindowHours; got != c.ack {
			t.Fatalf("state %d: ack window %d hours", c.height, got)
		}
	}
	// Writes go on until one is acknowledged after the upgrade (the writers
	// pick up after the restart at their own pace; a fixed sleep was too
	// short on a busy machine).
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, acked := f.h.snapshot()
		after := false
		for _, ht := range acked {
			after = after || ht > at
		}
		if after {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write acknowledged after the upgrade within a minute (chain at %d)", f.tip())
		}
	}
	stopLoad()
	f.extra = g.filed
	rep := f.check("software upgrade under load")

	// Records from before and after the upgrade verify through the light
	// client, which follows the chain across it.
	_, acked := f.h.snapshot()
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	pick := map[string]string{}
	for _, id := range ids {
		switch ht := acked[id]; {
		case ht < at && pick["before"] == "":
			pick["before"] = id
		case ht > at && pick["after"] == "":
			pick["after"] = id
		}
	}
	c2, _ := client.New(nw.Nodes[2].RESTURL())
	chainID, root := genesisTrust(t, nw.Nodes[0].Home+"/config/genesis.json", c2)
	v := lightVerifier(t, chainID, root, "", c0, c2)
	for _, when := range []string{"before", "after"} {
		if pick[when] == "" {
			t.Fatalf("no acknowledged record %s the upgrade", when)
		}
		res, _, err := v.Record(context.Background(), pick[when])
		if err != nil {
			t.Fatalf("record %s the upgrade (height %d): %v", when, acked[pick[when]], err)
		}
		t.Logf("record %s the upgrade (height %d) verified at state %d", when, res.RecordHeight, res.Height)
	}

	// The audit with the old rules replays up to the upgrade and stops
	// there; the new binary's audit replays the whole chain.
	_, err := audit.Run(context.Background(), audit.Options{API: c0, NodeName: c0.Base(),
		Witnesses: []*remote.Provider{remote.NewProvider(chainID, c2.Base(), c2)}, ToHeight: rep.Height})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("re-execute block %d: ", at)) || !strings.Contains(err.Error(), want) {
		t.Fatalf("audit with the old binary's rules: %v", err)
	}
	out := t.TempDir()
	cmd := exec.Command(upgradeBinary, "audit", "--node", nw.Nodes[1].RESTURL(), "--witness", nw.Nodes[3].RESTURL(),
		"--genesis", filepath.Join(nw.Nodes[0].Home, "config", "genesis.json"), "--to-height", fmt.Sprint(rep.Height),
		"--out", out, "--home", t.TempDir())
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("audit with the new binary: %v\n%s", err, msg)
	}
	t.Logf("audit with the new binary across the upgrade: %s", strings.SplitN(strings.TrimSpace(string(msg)), "\n", 2)[0])
}
