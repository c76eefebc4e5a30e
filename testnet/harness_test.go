package testnet

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/cli/client"
	"github.com/normledger/normledger/cli/keyring"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/api"
)

func freePort(t testing.TB) int { return pickPort(t) }

// Listen ports for tests come from 20000-32767, below the kernel's
// ephemeral range (32768-60999): there, the local ports of the many outgoing
// connections tests make could take a port between choosing and binding it.
func pickPort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 200; i++ {
		port := 20000 + rand.IntN(12768)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port in 20000-32767")
	return 0
}

// inproc is a network whose nodes run in this test process.
type inproc struct {
	net     *Network
	nodes   []*node.Node
	clients []*client.Client
	kr      *keyring.Keyring
}

func startInProcess(t *testing.T, validators int) *inproc {
	t.Helper()
	ports := make([]Ports, validators)
	for i := range ports {
		ports[i] = Ports{
			RPC: fmt.Sprintf("127.0.0.1:%d", freePort(t)), P2P: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			REST: fmt.Sprintf("127.0.0.1:%d", freePort(t)), GRPC: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		}
	}
	nw, err := Generate(Options{Dir: t.TempDir(), ChainID: "verify-test", Validators: validators,
		PortsFor: func(i int) Ports { return ports[i] }, TimeoutCommit: 150 * time.Millisecond, KeyFor: fixture.SeededKey})
	if err != nil {
		t.Fatal(err)
	}
	ip := &inproc{net: nw}
	for _, n := range nw.Nodes {
		ccfg, err := cli.LoadCometConfig(n.Home)
		if err != nil {
			t.Fatal(err)
		}
		nd, err := node.New(node.Config{Home: n.Home, Comet: ccfg, LogOutput: io.Discard, Version: "test",
			API: api.Config{RESTListen: n.REST, GRPCListen: n.GRPC, ReadRateLimit: 0}})
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Stop() })
		ip.nodes = append(ip.nodes, nd)
		c, err := client.New(n.RESTURL())
		if err != nil {
			t.Fatal(err)
		}
		ip.clients = append(ip.clients, c)
	}
	ip.kr, err = keyring.Open(nw.Keyring, keyring.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, c := range ip.clients {
		if _, err := c.WaitHeight(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}
	return ip
}

// seed files every scenario record through node 0 and returns their ids.
func (ip *inproc) seed(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i, s := range fixture.Scenario(time.Now().UTC()) {
		signer, err := ip.kr.Signer(s.Author)
		if err != nil {
			t.Fatal(err)
		}
		var co []ledger.Signer
		for _, c := range s.CoSigners {
			cs, err := ip.kr.Signer(c)
			if err != nil {
				t.Fatal(err)
			}
			co = append(co, cs)
		}
		res, err := ip.clients[0].Submit(ctx, s.Build(ids), signer, co, true)
		if err != nil || !res.Committed {
			t.Fatalf("scenario step %d: %+v %v", i, res, err)
		}
		ids = append(ids, res.ID)
	}
	return ids
}
