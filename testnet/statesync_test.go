package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/normledger/normledger/audit"
	"github.com/normledger/normledger/client"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func logHas(n NodeInfo, s string) bool {
	bz, _ := os.ReadFile(LogFile(n))
	return strings.Contains(string(bz), s)
}

// New full nodes join by state sync: a snapshot taken by the validators is
// restored chunk by chunk, every chunk checked against the app hash the
// joining node's light client verified. A peer serving corrupted chunks is
// caught and the chunks fetched again from another; the serving peer dying
// mid-restore leaves a node that answers nothing until the restore
// completes; the restored node reaches the validators' app hash, serves
// proofs the verifier accepts, and says it holds history only from the
// snapshot's height (audit refuses it plainly).
func TestStateSync(t *testing.T) {
	binaries(t) // an OS-process network: NORMLEDGER_NETWORKS=1
	f, ports := newProcessNet(t, Options{ChainID: "statesync", Validators: 4, LoadMembers: 4, SnapshotInterval: 10, SnapshotChunkHeight: 6}, 2)
	nw := f.nw
	// Only node0 and node1 take snapshots: node0 will serve corrupted chunks.
	for _, n := range nw.Nodes[2:] {
		if err := writeNodeAppToml(n, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	f.startAll()
	rep, err := RunLoad(context.Background(), nw, LoadOptions{Rate: 300, Duration: 5 * time.Second, Size: 600, Settle: 10 * time.Second,
		Signers: []string{"load-001", "load-002", "load-003", "load-004"}})
	if err != nil {
		t.Fatal(err)
	}
	stopLoad := f.startWriters("xaa", "xbb", "xcc", "xdd")
	defer stopLoad()
	tip := f.advances(f.tip(), 12, 60*time.Second, "before the snapshots")
	t.Logf("chain at %d with %d load records committed", tip, rep.Committed)

	// From now on node0 and node1 serve the snapshots they have and take no
	// more (so none is pruned while a node restores it).
	for _, n := range nw.Nodes[:2] {
		if err := writeNodeAppToml(n, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	f.kill("node1")
	f.start("node1")
	// 1: node0 serves corrupted chunks; the joining node rejects them and
	// gets them from node1.
	f.kill("node0")
	f.start("node0", "NORMLEDGER_TEST_SNAPSHOT_FAULT=corrupt")
	f.setDown("node0", false)
	f.waitCatchUp("node0", 60*time.Second)
	f.waitCatchUp("node1", 60*time.Second)
	trust := f.tip() - 2
	s1, err := nw.AddStateSyncNode(context.Background(), ports[4], trust, nw.Nodes[1:3])
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f.start(s1.Name)
	took := f.waitCatchUp(s1.Name, 120*time.Second)
	if !logHas(s1, "snapshot restored") {
		t.Fatalf("%s caught up without restoring a snapshot:\n%s", s1.Name, tail(LogFile(s1), 20))
	}
	if !logHas(s1, "rejected a snapshot chunk") {
		t.Fatalf("%s never rejected a corrupted chunk from node0:\n%s", s1.Name, tail(LogFile(s1), 30))
	}
	c1, _ := client.New(s1.RESTURL())
	st1, err := c1.Status(context.Background())
	if err != nil || st1.StateSyncedFrom == 0 || st1.EarliestStateHeight != st1.StateSyncedFrom {
		t.Fatalf("state-synced node's status: %+v %v", st1, err)
	}
	t.Logf("%s joined by state sync from height %d in %s (corrupted chunks from node0 rejected and fetched again)",
		s1.Name, st1.StateSyncedFrom, took.Round(time.Millisecond))
	_ = start

	// 2: the only serving peer dies mid-restore: the joining node serves
	// nothing until it has restored a whole verified state.
	f.kill("node0")
	os.RemoveAll(filepath.Join(nw.Nodes[0].Home, "data", "snapshots"))
	f.start("node0")
	f.kill("node1")
	f.start("node1", "NORMLEDGER_TEST_SNAPSHOT_FAULT=slow:100ms")
	f.setDown("node1", false)
	f.waitCatchUp("node1", 60*time.Second)
	s2, err := nw.AddStateSyncNode(context.Background(), ports[5], f.tip()-2, nw.Nodes[2:4])
	if err != nil {
		t.Fatal(err)
	}
	f.start(s2.Name)
	deadline := time.Now().Add(60 * time.Second)
	for !logHas(s2, "restoring a snapshot") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !logHas(s2, "restoring a snapshot") {
		t.Fatalf("%s never started a restore:\n%s", s2.Name, tail(LogFile(s2), 20))
	}
	// Not ready while it restores: /readyz is 503 and says so (a load
	// balancer keeps it out; it would serve no proofs anyway).
	readiness := map[string]int{}
	ready := func() {
		status, msg := readyz(s2.RESTURL())
		if status == http.StatusOK && !logHas(s2, "snapshot restored") {
			t.Fatalf("%s: /readyz 200 before its snapshot was restored", s2.Name)
		}
		readiness[fmt.Sprintf("%d %s", status, msg)]++
	}
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		ready() // a few chunks in
	}
	f.kill("node1")
	c2, _ := client.New(s2.RESTURL())
	served := 0
	for i := 0; i < 30; i++ {
		if _, err := c2.Records(context.Background(), nil); err == nil {
			served++
		}
		ready()
		time.Sleep(200 * time.Millisecond)
	}
	if served > 0 && !logHas(s2, "snapshot restored") {
		t.Fatalf("%s answered %d reads with a half-restored state", s2.Name, served)
	}
	restoring := 0
	for k, n := range readiness {
		if strings.HasPrefix(k, "503 ") && strings.HasSuffix(k, "restoring a state-sync snapshot") {
			restoring += n
		}
	}
	if restoring == 0 {
		t.Fatalf("%s: /readyz never said it was restoring: %v", s2.Name, readiness)
	}
	t.Logf("%s /readyz while restoring: %v", s2.Name, readiness)
	f.start("node1")
	took2 := f.waitCatchUp(s2.Name, 180*time.Second)
	// Ready once caught up (the answer is cached for a quarter second).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		status, msg := readyz(s2.RESTURL())
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s caught up but /readyz is %d %s", s2.Name, status, msg)
		}
	}
	st2, err := c2.Status(context.Background())
	if err != nil || st2.StateSyncedFrom == 0 {
		t.Fatalf("%s status: %+v %v", s2.Name, st2, err)
	}
	t.Logf("%s: its only snapshot source was killed mid-restore; it served no answers meanwhile (%d of 30 reads answered before a restore completed) and, once node1 returned, finished the state sync from height %d in %s",
		s2.Name, served, st2.StateSyncedFrom, took2.Round(time.Millisecond))
	time.Sleep(time.Second)
	stopLoad()
	// The open-loop load's records (by the load members) are not in the
	// writers' history: the checker is told of them.
	cl, _ := client.New(nw.Nodes[0].RESTURL())
	for _, m := range []string{"load-001", "load-002", "load-003", "load-004"} {
		res, err := cl.Records(context.Background(), &pb.ListRecordsRequest{Author: m, Limit: 200})
		for err == nil {
			for _, r := range res.Records {
				f.extra = append(f.extra, r.Id)
			}
			if res.NextPageToken == "" {
				break
			}
			res, err = cl.Records(context.Background(), &pb.ListRecordsRequest{Author: m, Limit: 200, PageToken: res.NextPageToken})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	chk := f.check("state sync")

	// The restored nodes serve proofs the verifier accepts (records after
	// their snapshot), and audit says plainly that it needs full history.
	c0, _ := client.New(nw.Nodes[0].RESTURL())
	chainID, root := genesisTrust(t, nw.Genesis, c0)
	_, acked := f.h.snapshot()
	var late []string
	for id, h := range acked {
		if h > st2.StateSyncedFrom+1 {
			late = append(late, id)
		}
	}
	sort.Strings(late)
	if len(late) == 0 {
		t.Fatal("no acknowledged record after the snapshots")
	}
	for _, s := range []NodeInfo{s1, s2} {
		cs, _ := client.New(s.RESTURL())
		res, _, err := lightVerifier(t, chainID, root, "", cs, c0).Record(context.Background(), late[0])
		if err != nil {
			t.Fatalf("%s: verify record %s: %v", s.Name, late[0], err)
		}
		t.Logf("%s serves proofs: record at height %d verified at state %d", s.Name, res.RecordHeight, res.Height)
		if _, err := audit.Run(context.Background(), audit.Options{API: cs, NodeName: s.Name, ToHeight: chk.Height}); err == nil || !strings.Contains(err.Error(), "state sync") {
			t.Fatalf("audit against %s: %v", s.Name, err)
		}
	}
}

// readyz is a node's /readyz status and, on 503, the error's message.
func readyz(rest string) (int, string) {
	resp, err := http.Get(rest + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var e struct {
		Message string `json:"message"`
	}
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Message
}
