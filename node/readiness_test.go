package node_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/api"
)

// A full node that joins late is live but not ready while CometBFT block
// syncs (here: with no peer to sync from, it cannot finish), on REST's
// /readyz and /healthz and on gRPC's health service; once it has a peer
// and has caught up it is ready, at the validator's attested height. The
// validator serves /metrics (ledger and API metrics, build info) on
// its own listener only.
func TestReadinessWhileCatchingUp(t *testing.T) {
	metricsAddr := freeAddr(t)
	// Blocks every second or so, as on a real chain: a node that finishes
	// block sync a few heights short catches up through consensus gossip
	// at a few heights a second, which faster blocks on a loaded machine
	// can outrun (it then stays behind, and so, rightly, not ready; seen
	// in CI with blocks every 300 ms).
	val, _, _ := startNodeWith(t, api.Config{ReadRateLimit: 0, MetricsListen: "tcp://" + metricsAddr}, func(c *cmtcfg.Config) {
		c.Consensus.TimeoutCommit = time.Second
	})

	// The late node: its own home, the validator's genesis, no peers yet.
	home := t.TempDir()
	if _, err := node.InitHome(node.InitOptions{Home: home, Moniker: "late", NoValidatorKey: true, Comet: func(c *cmtcfg.Config) {
		c.RPC.ListenAddress = "tcp://" + freeAddr(t)
		c.P2P.ListenAddress = "tcp://" + freeAddr(t)
		c.P2P.PexReactor = false
		c.P2P.AllowDuplicateIP = true
		c.Consensus.TimeoutCommit = 50 * time.Millisecond
	}}); err != nil {
		t.Fatal(err)
	}
	gen, err := os.ReadFile(val.CometConfig().GenesisFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "genesis.json"), gen, 0o644); err != nil {
		t.Fatal(err)
	}
	ccfg, err := operator.LoadCometConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	late, err := node.New(node.Config{Home: home, Comet: ccfg, LogOutput: io.Discard,
		API: api.Config{RESTListen: freeAddr(t), GRPCListen: freeAddr(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := late.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { late.Stop() })

	rest := "http://" + late.RESTAddress()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(rest + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		bz, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(bz)
	}
	cc, err := grpc.NewClient(late.GRPCAddress(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	health := func() healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: "normledger.v1.LedgerService"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Status
	}

	// Catching up: live, not ready. (Give block sync a moment: it stays on
	// without a peer.)
	time.Sleep(300 * time.Millisecond)
	if code, body := get("/livez"); code != 200 {
		t.Fatalf("/livez while catching up: %d %s", code, body)
	}
	for _, p := range []string{"/readyz", "/healthz"} {
		if code, body := get(p); code != 503 || !strings.Contains(body, "catching up") || !strings.Contains(body, `"codeName":"unavailable"`) {
			t.Fatalf("%s while catching up: %d %s", p, code, body)
		}
	}
	if st := health(); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("gRPC health while catching up: %v", st)
	}

	// A peer: block sync catches up, then the node is ready.
	target := val.Store().Version()
	peer := string(val.Comet().NodeInfo().ID()) + "@" + strings.TrimPrefix(val.CometConfig().P2P.ListenAddress, "tcp://")
	if err := late.Comet().Switch().DialPeersAsync([]string{peer}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := get("/readyz")
		if code == 200 {
			var ok struct {
				Status         string `json:"status"`
				AttestedHeight string `json:"attested_height"`
			}
			if err := json.Unmarshal([]byte(body), &ok); err != nil || ok.Status != "ok" {
				t.Fatalf("/readyz: %s", body)
			}
			if h, _ := strconv.ParseInt(ok.AttestedHeight, 10, 64); h < target-1 {
				t.Fatalf("ready at attested height %d, the validator was at %d", h, target)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after a minute with a peer: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The health service follows within its poll (a second or so).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st := health()
		if st == healthpb.HealthCheckResponse_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gRPC health once caught up: %v", st)
		}
	}

	// The validator's metrics are on their own listener, not on REST.
	resp, err := http.Get("http://" + val.RESTAddress() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("REST /metrics with a metrics listener: %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	bz, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"normledger_build_info{", node.MetricRecords, "normledger_api_requests_total", "go_goroutines"} {
		if !strings.Contains(string(bz), want) {
			t.Errorf("the metrics listener lacks %s", want)
		}
	}
}
