package api

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coretypes "github.com/cometbft/cometbft/rpc/core/types"

	"github.com/normledger/normledger/ledger"
)

// syncChain is the fake chain with a CometBFT sync status the test sets.
type syncChain struct {
	*fakeChain
	catchingUp atomic.Bool
}

func newSyncChain() *syncChain { return &syncChain{fakeChain: &fakeChain{}} }

func (c *syncChain) Status(context.Context) (*coretypes.ResultStatus, error) {
	return &coretypes.ResultStatus{SyncInfo: coretypes.SyncInfo{CatchingUp: c.catchingUp.Load(), LatestBlockHeight: 7}}, nil
}

// /livez is 200 whatever the state; /readyz (and /healthz, the same
// handler) is 200 with the attested height only when the node is caught
// up, not restoring a snapshot, at most ReadyMaxLag heights behind its
// best peer and has attested state, else 503 saying which (in that
// order).
func TestReadiness(t *testing.T) {
	defer func(d time.Duration) { readyCacheFor = d }(readyCacheFor)
	readyCacheFor = 0
	l := newTestLedger(t)
	chain := newSyncChain()
	var restoring atomic.Bool
	var lag atomic.Int64
	cfg := Config{MaxBodyBytes: 1 << 10, Restoring: restoring.Load, Lag: lag.Load}
	h, err := Handler(cfg, l.server(chain))
	if err != nil {
		t.Fatal(err)
	}
	attested := l.server(chain).AttestedHeight()
	ready := func(what string) {
		t.Helper()
		for _, path := range []string{"/readyz", "/healthz"} {
			w := serve(h, http.MethodGet, path, "", nil)
			want := `{"status":"ok","attested_height":"` + strconv.FormatInt(attested, 10) + `"}`
			if w.Code != 200 || strings.TrimSpace(w.Body.String()) != want {
				t.Errorf("%s: %s: %d %s, want 200 %s", what, path, w.Code, w.Body.Bytes(), want)
			}
		}
	}
	notReady := func(what, why string) {
		t.Helper()
		for _, path := range []string{"/readyz", "/healthz"} {
			w := serve(h, http.MethodGet, path, "", nil)
			if msg := wantRecorded(t, what+" "+path, w, 503, ledger.CodeUnavailable); !strings.Contains(msg, why) {
				t.Errorf("%s: %s: message %q does not say %q", what, path, msg, why)
			}
		}
	}
	live := func(what string) {
		t.Helper()
		if w := serve(h, http.MethodGet, "/livez", "", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
			t.Errorf("%s: /livez %d %s", what, w.Code, w.Body.Bytes())
		}
	}
	ready("caught up")
	live("caught up")
	chain.catchingUp.Store(true)
	notReady("catching up", "catching up")
	live("catching up")
	restoring.Store(true)
	notReady("restoring while catching up", "restoring a state-sync snapshot")
	chain.catchingUp.Store(false)
	notReady("restoring", "restoring a state-sync snapshot")
	live("restoring")
	restoring.Store(false)
	ready("restored")
	// Behind its peers, long after the initial sync.
	lag.Store(ReadyMaxLag)
	ready("as far behind as allowed")
	lag.Store(ReadyMaxLag + 1)
	notReady("behind", "behind its peers by 6 heights")
	live("behind")
	chain.catchingUp.Store(true)
	notReady("behind while catching up", "catching up")
	restoring.Store(true)
	notReady("behind while restoring", "restoring a state-sync snapshot")
	restoring.Store(false)
	chain.catchingUp.Store(false)
	notReady("behind again", "behind its peers by 6 heights")
	lag.Store(1)
	ready("back in step")
	// HEAD answers as GET, without a body.
	if w := serve(h, http.MethodHead, "/readyz", "", nil); w.Code != 200 {
		t.Errorf("HEAD /readyz: %d", w.Code)
	}
	if w := serve(h, http.MethodPost, "/readyz", "", nil); w.Code != 405 {
		t.Errorf("POST /readyz: %d", w.Code)
	}
	// Nothing attested yet: the first block's state is in no header.
	h2, err := Handler(cfg, NewServer(l.st, chain, func() int64 { return 1 }, "test"))
	if err != nil {
		t.Fatal(err)
	}
	lag.Store(100)
	w := serve(h2, http.MethodGet, "/readyz", "", nil)
	if msg := wantRecorded(t, "behind, no attested state", w, 503, ledger.CodeUnavailable); !strings.Contains(msg, "behind its peers by 100 heights") {
		t.Errorf("behind, no attested state: %q", msg)
	}
	lag.Store(0)
	w = serve(h2, http.MethodGet, "/readyz", "", nil)
	if msg := wantRecorded(t, "no attested state", w, 503, ledger.CodeUnavailable); !strings.Contains(msg, "no attested state yet") {
		t.Errorf("no attested state: %q", msg)
	}
	// A nil Restoring is never restoring, a nil Lag never behind.
	h3, err := Handler(Config{MaxBodyBytes: 1 << 10}, l.server(chain))
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(h3, http.MethodGet, "/readyz", "", nil); w.Code != 200 {
		t.Errorf("nil Restoring: %d %s", w.Code, w.Body.Bytes())
	}
}

// /readyz answers from a readiness at most readyCacheFor old: probes are
// not rate limited, and a flood of them asks CometBFT for its status a few
// times a second at most.
func TestReadyzCached(t *testing.T) {
	l := newTestLedger(t)
	chain := &countingChain{fakeChain: &fakeChain{}}
	h, err := Handler(Config{MaxBodyBytes: 1 << 10}, l.server(chain))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < 200; i++ {
		if w := serve(h, http.MethodGet, "/readyz", "", nil); w.Code != 200 {
			t.Fatalf("/readyz %d: %d %s", i, w.Code, w.Body.Bytes())
		}
	}
	if n, most := chain.calls.Load(), 1+int64(time.Since(start)/readyCacheFor); n > most {
		t.Errorf("200 /readyz asked CometBFT for its status %d times (at most %d)", n, most)
	}
}

// normledger_build_info is 1 with the version, the revision ("unknown"
// when the build stamped none, as in tests) and the Go version.
func TestBuildInfoMetric(t *testing.T) {
	l := newTestLedger(t)
	h, err := Handler(Config{MaxBodyBytes: 1 << 10}, l.server(&fakeChain{}))
	if err != nil {
		t.Fatal(err)
	}
	w := serve(h, http.MethodGet, "/metrics", "", nil)
	line := metricLine(w.Body.String(), "normledger_build_info{")
	for _, want := range []string{`version="test"`, `revision="`, `go_version="` + runtime.Version() + `"`, "} 1"} {
		if !strings.Contains(line, want) {
			t.Errorf("build info %q lacks %s", line, want)
		}
	}
}

// metricLine is the first line of a Prometheus text exposition that
// starts with prefix ("" if none).
func metricLine(exposition, prefix string) string {
	for _, line := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}
