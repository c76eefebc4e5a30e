package node_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/internal/testports"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/api"
	nlproto "github.com/normledger/normledger/proto"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// skipClock is the read rate limiter's clock in node tests: real time plus
// the time the test skipped, so that a test refills the buckets at once
// instead of sleeping while the node runs on real time.
type skipClock struct {
	mu      sync.Mutex
	skipped time.Duration
}

func (c *skipClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.skipped)
}

func (c *skipClock) Skip(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skipped += d
}

func freeAddr(t testing.TB) string { return fmt.Sprintf("127.0.0.1:%d", pickPort(t)) }

// pickPort hands out a listen port no other test process holds.
func pickPort(t testing.TB) int { t.Helper(); return testports.Pick(t) }

// startNode runs a single-validator node in-process with the dev members
// (seeded keys) and returns it with a REST client.
func startNode(t testing.TB, apiCfg api.Config) (*node.Node, *client.Client, map[string]fixture.Member) {
	t.Helper()
	return startNodeWith(t, apiCfg, nil)
}

// startNodeWith is startNode with comet, if set, changing CometBFT's
// configuration.
func startNodeWith(t testing.TB, apiCfg api.Config, comet func(*cmtcfg.Config)) (*node.Node, *client.Client, map[string]fixture.Member) {
	t.Helper()
	home := t.TempDir()
	ccfg, err := node.InitHome(node.InitOptions{Home: home, Moniker: "test", Comet: func(c *cmtcfg.Config) {
		c.RPC.ListenAddress = "tcp://" + freeAddr(t)
		c.P2P.ListenAddress = "tcp://" + freeAddr(t)
		c.P2P.PexReactor = false
		c.Consensus.TimeoutCommit = 50 * time.Millisecond
		if comet != nil {
			comet(c)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	val, err := node.ValidatorPubKey(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	ms := fixture.Dev(3, fixture.SeededKey)
	gs := fixture.Genesis(ms)
	fixture.SetValidator(gs, "xaa", val.PubKey.Bytes(), val.Power)
	if err := node.WriteGenesis(filepath.Join(home, "config", "genesis.json"), "api-test", time.Time{}, []cmttypes.GenesisValidator{val}, gs); err != nil {
		t.Fatal(err)
	}
	apiCfg.RESTListen = freeAddr(t)
	apiCfg.GRPCListen = freeAddr(t)
	ccfg2, err := operator.LoadCometConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Home: home, Comet: ccfg2, LogOutput: io.Discard, API: apiCfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	c, err := client.New(n.RESTAddress())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.WaitHeight(ctx, 2); err != nil {
		t.Fatal(err)
	}
	return n, c, fixture.ByID(ms)
}

// fileAttested submits rec signed by signer through c, in commit mode, and
// waits until its block is attested.
func fileAttested(t *testing.T, c *client.Client, rec *pb.Record, signer ledger.Signer) client.Result {
	t.Helper()
	ctx := context.Background()
	res, err := c.Submit(ctx, rec, signer, nil, true)
	if err != nil || !res.Committed {
		t.Fatalf("%+v %v", res, err)
	}
	if err := c.WaitAttested(ctx, res.Height); err != nil {
		t.Fatal(err)
	}
	return res
}

// Bad requests get 4xx with a JSON error carrying the ledger code; never 500.
func TestHTTPStatuses(t *testing.T) {
	n, c, ms := startNode(t, api.Config{MaxBodyBytes: 4096, ReadRateLimit: 0})
	ctx := context.Background()
	res := fileAttested(t, c, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xbb"}, Summary: "hello"}}}, ms["xaa"].Signer())
	base := "http://" + n.RESTAddress()
	missing := strings.Repeat("0", 64)
	cases := []struct {
		method, path, body string
		want               int
		code               string // ledger code name in the error, if any
	}{
		{"GET", "/v1/status", "", 200, ""},
		{"GET", "/v1/records/" + res.ID + "?prove=true", "", 200, ""},
		{"GET", "/v1/records/" + strings.ToUpper(res.ID), "", 200, ""},
		{"GET", "/v1/txs/" + strings.ToUpper(res.ID), "", 200, ""},
		{"GET", "/v1/records?kind=notification&author=xaa&limit=5&prove=true", "", 200, ""},
		{"GET", "/v1/records?from_time=2020-01-01T00:00:00Z&to_time=2100-01-01T00:00:00Z", "", 200, ""},
		{"GET", "/v1/members?prove=true", "", 200, ""},
		{"GET", "/v1/members/xaa?prove=true", "", 200, ""},
		{"GET", "/v1/proofs?key=6d2f786161", "", 200, ""},
		{"GET", "/v1/light_blocks/1", "", 200, ""},
		{"GET", "/healthz", "", 200, ""},
		{"GET", "/metrics", "", 200, ""},
		{"GET", "/openapi.json", "", 200, ""},
		// 400 malformed
		{"GET", "/v1/records/not-an-id", "", 400, "bad_format"},
		{"GET", "/v1/records?kind=nonsense", "", 400, "bad_enum"},
		{"GET", "/v1/records?sector=moon", "", 400, "bad_enum"},
		{"GET", "/v1/records?author=NOT%20AN%20ID", "", 400, "bad_format"},
		{"GET", "/v1/records?page_token=xyz", "", 400, "bad_format"},
		{"GET", "/v1/records?limit=-1", "", 400, "bad_format"},
		{"GET", "/v1/records?height=abc", "", 400, "bad_format"},
		{"GET", "/v1/records?height=-5", "", 400, "bad_format"},
		{"GET", "/v1/records?height=999999999", "", 404, "height_too_high"},
		{"GET", "/v1/records?from_time=yesterday", "", 400, "bad_time"},
		{"GET", "/v1/members/UPPER", "", 400, "bad_format"},
		{"GET", "/v1/proofs?key=zz", "", 400, "bad_format"},
		{"GET", "/v1/proofs", "", 400, "bad_format"},
		{"GET", "/v1/light_blocks/-1", "", 400, "bad_format"},
		{"POST", "/v1/txs", "{not json", 400, "bad_format"},
		{"POST", "/v1/txs", `{"tx": "not base64!"}`, 400, "bad_format"},
		{"POST", "/v1/txs", `{}`, 400, "tx_decode"},
		{"POST", "/v1/txs", `{"tx": "AAAA"}`, 400, "tx_decode"},
		{"POST", "/v1/txs", `{"tx": "AAAA", "mode": "BROADCAST_MODE_NONSENSE"}`, 400, "bad_format"},
		{"POST", "/v1/txs", `{"tx": "AAAA", "typo": 1}`, 400, "bad_format"},
		// 404 missing
		{"GET", "/v1/records/" + missing, "", 404, "unknown_record"},
		{"GET", "/v1/records/" + missing + "?prove=true", "", 404, "unknown_record"},
		{"GET", "/v1/txs/" + missing, "", 404, "unknown_record"},
		{"GET", "/v1/members/xzz", "", 404, "unknown_member"},
		{"GET", "/v1/light_blocks/99999999", "", 404, "height_too_high"},
		{"GET", "/v1/nothing-here", "", 404, "no_route"},
		{"GET", "/nothing", "", 404, "no_route"},
		// 405
		{"DELETE", "/v1/status", "", 405, "method_not_allowed"},
		// 413 too large
		{"POST", "/v1/txs", `{"tx":"` + strings.Repeat("A", 8000) + `"}`, 413, "tx_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path[:min(len(tc.path), 60)], func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if tc.code != "" {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("error content type %q", ct)
				}
				if !bytes.Contains(body, []byte(`"codeName":"`+tc.code+`"`)) {
					t.Fatalf("error lacks code %s: %s", tc.code, body)
				}
			}
		})
	}
	// A rejected transaction is 4xx with the ledger's code: replaying res.
	tx, _ := c.GetRecord(ctx, res.ID, 0, false)
	r2, err := c.Broadcast(ctx, tx.Record.Tx, false)
	if err != nil || r2.Code.String() != "replay" {
		t.Fatalf("replayed tx: %+v %v", r2, err)
	}
	// A chunked body over the limit is 413 too.
	req, _ := http.NewRequest("POST", base+"/v1/txs", io.MultiReader(strings.NewReader(`{"tx":"`), strings.NewReader(strings.Repeat("A", 9000)), strings.NewReader(`"}`)))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("chunked oversized body: %d", resp.StatusCode)
	}
	// The served OpenAPI document is the generated one.
	resp, err = http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(served, nlproto.OpenAPI) {
		t.Fatal("served OpenAPI differs from proto/gen/normledger.swagger.json")
	}
}

// A tx over CometBFT's mempool.max_tx_bytes is refused by the mempool
// before CheckTx; in both broadcast modes the answer is 413 with the
// ledger's tx_too_large code, as for a tx over params.max_tx_bytes.
func TestMempoolTxTooLarge(t *testing.T) {
	n, c, _ := startNodeWith(t, api.Config{ReadRateLimit: 0}, func(c *cmtcfg.Config) { c.Mempool.MaxTxBytes = 1024 })
	tx := bytes.Repeat([]byte{0x2a}, 2000) // under params.max_tx_bytes, over the mempool's limit
	for _, mode := range []string{"BROADCAST_MODE_SYNC", "BROADCAST_MODE_COMMIT"} {
		body := fmt.Sprintf(`{"tx":%q,"mode":%q}`, base64.StdEncoding.EncodeToString(tx), mode)
		resp, err := http.Post("http://"+n.RESTAddress()+"/v1/txs", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		bz, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !bytes.Contains(bz, []byte(`"codeName":"tx_too_large"`)) || !bytes.Contains(bz, []byte("Tx too large")) {
			t.Errorf("%s: %d %s, want 413 tx_too_large", mode, resp.StatusCode, bz)
		}
	}
	// The client takes it for a rejection, not a node failure.
	if res, err := c.Broadcast(context.Background(), tx, false); err != nil || res.Code != ledger.CodeTxTooLarge {
		t.Fatalf("client: %+v %v", res, err)
	}
}

func TestRateLimit(t *testing.T) {
	clk := &skipClock{}
	n, _, _ := startNode(t, api.Config{ReadRateLimit: 5, ReadRateBurst: 5, Now: clk.Now})
	url := "http://" + n.RESTAddress() + "/v1/status"
	clk.Skip(time.Second) // the start-up polling's bucket refills
	codes := map[int]int{}
	for i := 0; i < 30; i++ {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == 429 {
			if resp.Header.Get("Retry-After") == "" || !bytes.Contains(body, []byte("rate_limited")) {
				t.Fatalf("429 without Retry-After or code: %s", body)
			}
		}
	}
	if codes[429] == 0 || codes[200] < 5 || codes[500] != 0 {
		t.Fatalf("statuses %v: want some 200, some 429, no 500", codes)
	}
	// Writes are not rate limited as reads.
	resp, err := http.Post("http://"+n.RESTAddress()+"/v1/txs", "application/json", strings.NewReader(`{"tx":"AAAA"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("POST after read limit: %d", resp.StatusCode)
	}
}
