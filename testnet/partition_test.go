package testnet

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/normledger/normledger/cli/operator"
)

// Partition-suite timings: the short form runs in CI; NORMLEDGER_PARTITIONS=full
// is the documented long form.
func partitionTimings() (fault time.Duration, load time.Duration) {
	if os.Getenv("NORMLEDGER_PARTITIONS") == "full" {
		return 30 * time.Second, 10 * time.Second
	}
	return 6 * time.Second, 2 * time.Second
}

// TestPartitions runs a 4-validator network with every node on its own
// host (a network namespace with its own address on a bridge) under
// continuous signed-write load, and breaks the network between them: one
// validator isolated, a 2|2 split, and a slow, lossy link between the two
// halves. After each heal the set checker must pass: no acknowledged write
// lost, no divergence, and the side without a quorum committed nothing.
func TestPartitions(t *testing.T) {
	binaries(t) // an OS-process network: NORMLEDGER_NETWORKS=1
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root: run as root (CI does)")
	}
	fault, load := partitionTimings()
	hosts, err := NewHosts(fmt.Sprintf("nl%d", rand.IntN(9000)+1000), 100+rand.IntN(150), 4)
	if err != nil {
		t.Skipf("this kernel or user cannot make network namespaces: %v", err)
	}
	t.Cleanup(hosts.Close)
	f, _ := newProcessNet(t, Options{ChainID: "partitions", Validators: 4, PortsFor: func(i int) Ports {
		ip := hosts.IP(i)
		return Ports{RPC: ip + ":26657", P2P: ip + ":26656", REST: ip + ":1317", GRPC: ip + ":9090"}
	}}, 0)
	nw := f.nw
	// Halves A = {node0, node1} and B = {node2, node3}, as two capitals:
	// inside a half nodes dial each other directly; across, through a WAN
	// link (a relay on the bridge at LinkIP) that can be slowed.
	half := func(i int) int { return i / 2 }
	links := make([]*Link, 4)
	for j := range nw.Nodes {
		l, err := NewLink(hosts.LinkIP+":0", nw.Nodes[j].P2P)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		links[j] = l
	}
	for i := range nw.Nodes {
		nw.Nodes[i].Netns = hosts.NS(i)
		var peers []string
		for j, m := range nw.Nodes {
			switch {
			case j == i:
			case half(j) == half(i):
				peers = append(peers, m.NodeID+"@"+m.P2P)
			default:
				peers = append(peers, m.NodeID+"@"+links[j].Addr())
			}
		}
		cfg, err := operator.LoadCometConfig(nw.Nodes[i].Home)
		if err != nil {
			t.Fatal(err)
		}
		cfg.P2P.PersistentPeers = strings.Join(peers, ",")
		cfg.P2P.PersistentPeersMaxDialPeriod = 2 * time.Second
		cmtcfg.WriteConfigFile(filepath.Join(nw.Nodes[i].Home, "config", "config.toml"), cfg)
	}
	f.startAll()
	stopLoad := f.startWriters("xaa", "xbb", "xcc", "xdd")
	defer stopLoad()
	time.Sleep(load)

	t.Run("isolate one validator", func(t *testing.T) {
		f.t = t
		n3 := hosts.IP(3)
		for i := 0; i < 3; i++ {
			mustCut(t, hosts, i, n3)
			mustCut(t, hosts, 3, hosts.IP(i))
		}
		mustCut(t, hosts, 3, hosts.LinkIP) // and node3's side of the WAN links
		iso := f.height("node3")
		h0 := f.tip()
		time.Sleep(fault)
		h1 := f.tip()
		got := f.height("node3")
		if h1 < h0+3 {
			t.Fatalf("the three connected validators committed only %d blocks in %s", h1-h0, fault)
		}
		if got > iso+1 {
			t.Fatalf("isolated node3 went from %d to %d", iso, got)
		}
		if err := hosts.Heal(); err != nil {
			t.Fatal(err)
		}
		took := f.waitCatchUp("node3", 90*time.Second)
		t.Logf("node3 isolated for %s: the others committed %d blocks, node3 none (%d -> %d); after the heal it caught up in %s",
			fault, h1-h0, iso, got, took.Round(time.Millisecond))
		f.check("isolate 1")
	})

	t.Run("split 2|2", func(t *testing.T) {
		f.t = t
		for i := range nw.Nodes {
			mustCut(t, hosts, i, hosts.LinkIP) // every WAN link down
		}
		time.Sleep(time.Second) // a block under way may still finish
		h0 := f.tip()
		time.Sleep(fault)
		h1 := f.tip()
		if h1 > h0+1 {
			t.Fatalf("a half without a quorum committed: %d -> %d", h0, h1)
		}
		start := time.Now()
		if err := hosts.Heal(); err != nil {
			t.Fatal(err)
		}
		f.waitHeight(h1+2, 90*time.Second)
		resumed := time.Since(start)
		for _, n := range nw.Nodes {
			f.waitCatchUp(n.Name, 90*time.Second)
		}
		t.Logf("split 2|2 for %s: %d blocks committed during it (the tip stayed at %d); after the heal the chain resumed in %s",
			fault, h1-h0, h1, resumed.Round(time.Millisecond))
		f.check("split 2|2")
	})

	t.Run("slow lossy link between the halves", func(t *testing.T) {
		f.t = t
		for _, l := range links {
			l.Set(150*time.Millisecond, 30*time.Millisecond, 0.01)
		}
		h0 := f.tip()
		start := time.Now()
		time.Sleep(fault)
		h1 := f.tip()
		during := time.Since(start)
		for _, l := range links {
			l.Set(0, 0, 0)
		}
		if h1 < h0+2 {
			t.Fatalf("with 150 ms +- 30 ms and 1 %% loss between the halves the chain committed only %d blocks in %s", h1-h0, fault)
		}
		h2 := f.advances(h1, 3, 60*time.Second, "after the link recovered")
		t.Logf("150 ms +- 30 ms, 1 %% loss between the halves for %s: %d blocks (%.2f s a block); afterwards %d more",
			during.Round(time.Second), h1-h0, during.Seconds()/float64(max(h1-h0, 1)), h2-h1)
		f.check("netem-like WAN link")
	})

	t.Run("final check with the load stopped", func(t *testing.T) {
		f.t = t
		stopLoad()
		rep := f.check("final")
		att, ack := f.h.Counts()
		t.Logf("partition suite total: %d writes attempted, %d acknowledged, %d records on every node; unacknowledged by reason: %v",
			att, ack, rep.Records, f.h.Failures())
	})
}

func mustCut(t *testing.T, h *Hosts, i int, ip string) {
	t.Helper()
	if err := h.Cut(i, ip); err != nil {
		t.Fatal(err)
	}
}
