package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/normledger/normledger/ledger"
)

// Reads are limited per client to a burst that refills at the configured
// rate, on the clock the Config gives: over the limit, a 429 JSON error
// with Retry-After; HEAD counts as a read; writes and preflights do not.
func TestReadRateLimit(t *testing.T) {
	l := newTestLedger(t)
	clk := newFakeClock()
	srv := restServer(t, Config{ReadRateLimit: 2, ReadRateBurst: 3, Now: clk.Now}, l.server(&fakeChain{}))
	do := func(method, path string, body io.Reader) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return send(t, srv, req)
	}
	reads := func(what string, want ...int) {
		t.Helper()
		for i, w := range want {
			path := "/openapi.json"
			if i%2 == 1 {
				path = "/v1/status"
			}
			resp, body := do(http.MethodGet, path, nil)
			if resp.StatusCode != w {
				t.Fatalf("%s: read %d (%s): %d, want %d: %s", what, i, path, resp.StatusCode, w, body)
			}
			if w == http.StatusTooManyRequests {
				wantError(t, what, resp.Header, body, ledger.CodeRateLimited)
				if resp.Header.Get("Retry-After") != "1" {
					t.Errorf("%s: Retry-After %q", what, resp.Header.Get("Retry-After"))
				}
			}
		}
	}
	reads("the burst", 200, 200, 200, 429, 429)
	if resp, body := do(http.MethodHead, "/v1/status", nil); resp.StatusCode != 429 || len(body) != 0 {
		t.Errorf("HEAD over the limit: %d, %d body bytes", resp.StatusCode, len(body))
	}
	if resp, body := do(http.MethodPost, "/v1/txs", strings.NewReader(`{"tx":"AAAA"}`)); resp.StatusCode != 200 {
		t.Errorf("a write over the read limit: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(http.MethodOptions, "/v1/status", nil); resp.StatusCode != 204 {
		t.Errorf("OPTIONS over the read limit: %d", resp.StatusCode)
	}
	clk.Advance(499 * time.Millisecond)
	reads("just under one token", 429)
	clk.Advance(time.Millisecond)
	reads("one token refilled", 200, 429)
	clk.Advance(time.Hour)
	reads("refilled up to the burst only", 200, 200, 200, 429)
}

// Each client address (without its port) has its own bucket.
func TestReadRateLimitPerClient(t *testing.T) {
	l := newTestLedger(t)
	clk := newFakeClock()
	h, err := Handler(Config{MaxBodyBytes: 1 << 10, ReadRateLimit: 1, ReadRateBurst: 2, Now: clk.Now}, l.server(&fakeChain{}))
	if err != nil {
		t.Fatal(err)
	}
	read := func(remote string) int { return serve(h, http.MethodGet, "/v1/status", remote, nil).Code }
	for i, want := range []int{200, 200, 429} {
		if got := read("192.0.2.1:1000"); got != want {
			t.Fatalf("client 1 read %d: %d, want %d", i, got, want)
		}
	}
	if got := read("192.0.2.1:2000"); got != 429 {
		t.Errorf("client 1 from another port: %d, want 429 (one bucket per address)", got)
	}
	for i, want := range []int{200, 200, 429} {
		if got := read("192.0.2.2:1000"); got != want {
			t.Errorf("client 2 read %d: %d, want %d", i, got, want)
		}
	}
	if got := read("[2001:db8::1]:443"); got != 200 {
		t.Errorf("an IPv6 client: %d", got)
	}
	clk.Advance(time.Second)
	if read("192.0.2.1:1000") != 200 || read("192.0.2.1:1000") != 429 {
		t.Error("client 1 did not get exactly one token back after a second")
	}
}

// A zero rate turns the limiter off.
func TestReadRateLimitOff(t *testing.T) {
	l := newTestLedger(t)
	h, err := Handler(Config{MaxBodyBytes: 1 << 10}, l.server(&fakeChain{}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if w := serve(h, http.MethodGet, "/v1/status", "", nil); w.Code != 200 {
			t.Fatalf("read %d without a limit: %d", i, w.Code)
		}
	}
}

// Clients idle for over ten minutes are forgotten (their buckets would be
// full again anyway), so the table does not grow without bound.
func TestLimiterForgetsIdleClients(t *testing.T) {
	clk := newFakeClock()
	lim := newLimiter(1, 1, clk.Now)
	if !lim.allow("idle") || lim.allow("idle") {
		t.Fatal("burst of one")
	}
	clk.Advance(5 * time.Minute)
	lim.allow("busy")
	if _, ok := lim.m["idle"]; !ok {
		t.Fatal("forgotten after five minutes")
	}
	clk.Advance(6 * time.Minute)
	lim.allow("busy")
	if _, ok := lim.m["idle"]; ok || len(lim.m) != 1 || lim.lru.Len() != 1 {
		t.Fatalf("after eleven minutes: %d clients, idle kept: %v", len(lim.m), ok)
	}
	if !lim.allow("idle") {
		t.Fatal("a forgotten client starts with a full bucket")
	}
}

// Without a clock in the Config, the limiter reads the real one.
func TestLimiterDefaultClock(t *testing.T) {
	lim := newLimiter(1, 1, nil)
	if lim.now == nil || time.Since(lim.now()) > time.Minute {
		t.Fatal("the default clock is not time.Now")
	}
}

// Probes are no reads for the rate limit (as gRPC's health service is
// not): /livez, /readyz and /healthz answer 200 whatever the client's
// budget, and spend none of it.
func TestProbesNotRateLimited(t *testing.T) {
	l := newTestLedger(t)
	clk := newFakeClock()
	h, err := Handler(Config{MaxBodyBytes: 1 << 10, ReadRateLimit: 1, ReadRateBurst: 1, Now: clk.Now}, l.server(&fakeChain{}))
	if err != nil {
		t.Fatal(err)
	}
	const client = "192.0.2.1:1000"
	probes := func(what string) {
		t.Helper()
		for i := 0; i < 3; i++ {
			for _, path := range []string{"/livez", "/readyz", "/healthz"} {
				for _, method := range []string{http.MethodGet, http.MethodHead} {
					if w := serve(h, method, path, client, nil); w.Code != 200 {
						t.Fatalf("%s: %s %s (%d): %d %s", what, method, path, i, w.Code, w.Body.Bytes())
					}
				}
			}
		}
	}
	probes("a full budget")
	if w := serve(h, http.MethodGet, "/v1/status", client, nil); w.Code != 200 {
		t.Fatalf("the probes spent the read budget: %d", w.Code)
	}
	if w := serve(h, http.MethodGet, "/v1/status", client, nil); w.Code != 429 {
		t.Fatalf("past the burst: %d", w.Code)
	}
	probes("the budget spent")
}

// IPv6 clients are keyed by their /64 (what one host usually has to
// itself: per address, one host would have 2^64 budgets), IPv4 clients
// by their address, directly or behind a trusted proxy.
func TestReadRateLimitIPv6Prefix(t *testing.T) {
	l := newTestLedger(t)
	clk := newFakeClock()
	h, err := Handler(Config{MaxBodyBytes: 1 << 10, ReadRateLimit: 1, ReadRateBurst: 1, Now: clk.Now,
		TrustedProxies: []string{"192.0.2.100"}}, l.server(&fakeChain{}))
	if err != nil {
		t.Fatal(err)
	}
	read := func(remote, xff string) int {
		r := httptest.NewRequest(http.MethodGet, "/v1/status", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for _, c := range []struct {
		what, remote, xff string
		want              int
	}{
		{"an IPv6 client", "[2001:db8:1:2::1]:1000", "", 200},
		{"another address in its /64", "[2001:db8:1:2:ffff:ffff:ffff:fffe]:1001", "", 429},
		{"the next /64", "[2001:db8:1:3::1]:1000", "", 200},
		{"an IPv4 client", "198.51.100.1:1000", "", 200},
		{"the IPv4 address next to it", "198.51.100.2:1000", "", 200},
		{"the first IPv4 client, IPv4-mapped", "[::ffff:198.51.100.1]:1000", "", 429},
		{"an IPv6 client behind the proxy", "192.0.2.100:1", "2001:db8:9:9::1", 200},
		{"its /64 neighbour behind the proxy", "192.0.2.100:2", "2001:db8:9:9::2", 429},
	} {
		if got := read(c.remote, c.xff); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
}

// The limiter remembers at most max clients: a new one past that makes it
// forget the client seen least recently (whose next read then starts
// from a full bucket, as an idle client's does).
func TestLimiterCap(t *testing.T) {
	clk := newFakeClock()
	lim := newLimiter(1, 1, clk.Now)
	if lim.max != 100_000 {
		t.Errorf("the default cap is %d clients", lim.max)
	}
	lim.max = 3
	for _, k := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		if !lim.allow(k) {
			t.Fatalf("%s: first read", k)
		}
	}
	if lim.allow("192.0.2.1") {
		t.Fatal("192.0.2.1 past its burst")
	}
	// 192.0.2.2 is now the least recently seen: the fourth client evicts it.
	if !lim.allow("192.0.2.4") {
		t.Fatal("192.0.2.4: first read")
	}
	if len(lim.m) != 3 {
		t.Fatalf("%d clients remembered, cap 3", len(lim.m))
	}
	if _, ok := lim.m["192.0.2.2"]; ok {
		t.Fatal("the least recently seen client was kept")
	}
	if lim.allow("192.0.2.1") {
		t.Error("a recently seen client was forgotten (its bucket refilled)")
	}
	if !lim.allow("192.0.2.2") {
		t.Error("a forgotten client does not start from a full bucket")
	}
	if len(lim.m) != 3 {
		t.Errorf("%d clients remembered, cap 3", len(lim.m))
	}
}
