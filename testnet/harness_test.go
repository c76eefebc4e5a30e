package testnet

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/rpc/client/local"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/internal/testports"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/api"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/remote"
)

func freePort(t testing.TB) int { return pickPort(t) }

// pickPort hands out a listen port no other test process holds.
func pickPort(t testing.TB) int { t.Helper(); return testports.Pick(t) }

// inproc is a network whose nodes run in this test process.
type inproc struct {
	net     *Network
	nodes   []*node.Node
	clients []*client.Client
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
		ccfg, err := operator.LoadCometConfig(n.Home)
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, c := range ip.clients {
		if _, err := c.WaitHeight(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}
	return ip
}

// keysOf are this network's encryption keys of the members rs names.
func (ip *inproc) keysOf(t *testing.T, rs []*pb.SealRecipient) []client.SealKey {
	t.Helper()
	var to []string
	for _, r := range rs {
		to = append(to, r.Member)
	}
	ms, err := ip.clients[0].Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := client.RecipientKeys(ms, to)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// seed files every scenario record through node 0 and returns their ids.
func (ip *inproc) seed(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i, s := range fixture.Scenario(time.Now().UTC()) {
		signer := ledger.Signer{Member: s.Author, Key: s.Key}
		if s.Key == nil {
			var err error
			if signer, err = ip.net.Signer(s.Author); err != nil {
				t.Fatal(err)
			}
		}
		var co []ledger.Signer
		for _, c := range s.CoSigners {
			cs, err := ip.net.Signer(c)
			if err != nil {
				t.Fatal(err)
			}
			co = append(co, cs)
		}
		rec := s.Build(ids)
		if sl := rec.GetSealed(); len(sl.GetCiphertext()) > 0 {
			// The fixture's pinned ciphertext is for the fixture's keys; this
			// network's states brought their own to genesis.
			again, _, err := client.SealTo(fixture.ExerciseBody(), ip.keysOf(t, sl.Recipients))
			if err != nil {
				t.Fatal(err)
			}
			again.RevealBy, again.SubjectStates = sl.RevealBy, sl.SubjectStates
			rec.Body = &pb.Record_Sealed{Sealed: again}
		}
		if ds := rec.GetDisclosureStep(); len(ds.GetCiphertext()) > 0 {
			// The same for the pinned delivery: encrypt it to this
			// network's keys.
			var err error
			if ds.Ciphertext, ds.Recipients, err = client.EncryptTo(fixture.DeliveryPayload(), ip.keysOf(t, ds.Recipients)); err != nil {
				t.Fatal(err)
			}
		}
		res, err := ip.clients[0].Submit(ctx, rec, signer, co, true)
		if err != nil || !res.Committed {
			t.Fatalf("scenario step %d: %+v %v", i, res, err)
		}
		// As the CLI does: the next step reads (sequences, new members) at
		// the attested height.
		if err := ip.clients[0].WaitAttested(ctx, res.Height); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	return ids
}

// genesisTrust is the chain id and the trust root of the genesis file at
// path, fetched through the node via.
func genesisTrust(t *testing.T, path string, via *client.Client) (string, remote.TrustRoot) {
	t.Helper()
	gen, err := cmttypes.GenesisDocFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	root, err := remote.TrustFromGenesis(context.Background(), gen, via)
	if err != nil {
		t.Fatal(err)
	}
	return gen.ChainID, root
}

// lightVerifier verifies primary's answers with a light client of chain
// chainID that starts from root (zero: from its trust store in dir; "":
// in memory) and cross-checks headers with witnesses. It is closed at the
// end of the test.
func lightVerifier(t *testing.T, chainID string, root remote.TrustRoot, dir string, primary *client.Client, witnesses ...*client.Client) *remote.Verifier {
	t.Helper()
	lc, err := remote.NewLightClient(context.Background(), chainID, remote.NewProvider(chainID, primary.Base(), primary),
		providers(chainID, witnesses), root, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lc.Close() })
	return &remote.Verifier{API: primary, Light: lc, ChainID: chainID}
}

// providers are the light-client providers of chain chainID's nodes cs.
func providers(chainID string, cs []*client.Client) []*remote.Provider {
	var out []*remote.Provider
	for _, c := range cs {
		out = append(out, remote.NewProvider(chainID, c.Base(), c))
	}
	return out
}

// keepLogsOnFailure copies every node's log out of the test's temporary
// directory when the test fails, so a failed run can be read afterwards.
func keepLogsOnFailure(t *testing.T, nw *Network) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dst, err := os.MkdirTemp("", "normledger-failed-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
		if err != nil {
			return
		}
		for _, n := range nw.Nodes {
			if bz, err := os.ReadFile(LogFile(n)); err == nil {
				os.WriteFile(filepath.Join(dst, n.Name+".log"), bz, 0o644)
			}
		}
		t.Logf("node logs kept in %s", dst)
	})
}

// commitDoubleSign has node i's validator double-sign at height 2 (evidence
// sent to node 0) and waits until the evidence is on the record as member's.
func commitDoubleSign(t *testing.T, ip *inproc, i int, member string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pv, ok := ip.nodes[i].Comet().PrivValidator().(*privval.FilePV)
	if !ok {
		t.Fatalf("node%d's validator key is a %T", i, ip.nodes[i].Comet().PrivValidator())
	}
	rpc := local.New(ip.nodes[0].Comet())
	h := int64(2)
	vres, err := rpc.Validators(ctx, &h, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ip.clients[0].Block(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := DoubleSign(pv, ip.nodes[0].Comet().GenesisDoc().ChainID, h, blk.Time.AsTime(), cmttypes.NewValidatorSet(vres.Validators))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rpc.BroadcastEvidence(ctx, ev); err != nil {
		t.Fatal(err)
	}
	for {
		list, err := ip.clients[0].EvidenceList(ctx, member, 0, false)
		if err == nil && len(list.Evidence) > 0 {
			t.Logf("evidence %s against %s committed at height %d", list.Evidence[0].Id, member, list.Evidence[0].CommittedHeight)
			return list.Evidence[0].Id
		}
		if ctx.Err() != nil {
			t.Fatalf("no evidence against %s within 60 s (%v)", member, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// caughtUp waits until every node has the header that commits to node0's
// newest attested state, which a verifier asks its witnesses for: CometBFT's
// light client waits 30 s (2 x clock drift + block lag) before it asks a
// witness that lacks it again.
func (ip *inproc) caughtUp(t *testing.T, ctx context.Context) {
	t.Helper()
	st, err := ip.clients[0].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := st.LatestAttestedHeight + 1
	deadline := time.Now().Add(20 * time.Second)
	for _, c := range ip.clients {
		for {
			s, err := c.Status(ctx)
			if err == nil && s.LatestHeight >= want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not reach height %d: %v", c.Base(), want, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
