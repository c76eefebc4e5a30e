package api

import (
	"io"
	"net/http"
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
			path := "/healthz"
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
	read := func(remote string) int { return serve(h, http.MethodGet, "/healthz", remote, nil).Code }
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
		if w := serve(h, http.MethodGet, "/healthz", "", nil); w.Code != 200 {
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
	clk.Advance(11 * time.Minute)
	for lim.calls%4096 != 4095 {
		lim.allow("busy")
	}
	if _, ok := lim.m["idle"]; !ok {
		t.Fatal("forgotten before the sweep")
	}
	lim.allow("busy")
	if _, ok := lim.m["idle"]; ok || len(lim.m) != 1 {
		t.Fatalf("after the sweep: %d clients, idle kept: %v", len(lim.m), ok)
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
