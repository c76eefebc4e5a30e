package api

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/normledger/normledger/ledger"
)

// The client behind trusted proxies is the rightmost X-Forwarded-For hop
// that is no trusted proxy; an untrusted peer's headers count for nothing.
func TestTrustedProxyClient(t *testing.T) {
	tp, err := parseTrustedProxies([]string{"127.0.0.1", "10.0.0.0/8", " fd00::/8 ", "::ffff:192.0.2.128/121", ""})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		what, remote string
		xff          []string
		want         string
	}{
		{"no proxy, no header", "198.51.100.7:4000", nil, "198.51.100.7"},
		{"an untrusted peer's spoofed header is ignored", "198.51.100.7:4000", []string{"203.0.113.9"}, "198.51.100.7"},
		{"a trusted peer without the header is the client", "127.0.0.1:4000", nil, "127.0.0.1"},
		{"a trusted peer names the client", "127.0.0.1:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"what the client prepended is ignored", "127.0.0.1:4000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"trusted hops are skipped", "127.0.0.1:4000", []string{"1.2.3.4, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"several header lines are one list", "127.0.0.1:4000", []string{"1.2.3.4", "203.0.113.9,10.1.2.3", "10.4.4.4"}, "203.0.113.9"},
		{"every hop trusted: the leftmost", "127.0.0.1:4000", []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"garbage left of a trusted hop: that hop", "127.0.0.1:4000", []string{"<script>, 10.1.2.3"}, "10.1.2.3"},
		{"garbage right away: the peer", "127.0.0.1:4000", []string{"unknown"}, "127.0.0.1"},
		{"empty elements are no hops", "127.0.0.1:4000", []string{"203.0.113.9,, "}, "203.0.113.9"},
		{"hops with ports", "127.0.0.1:4000", []string{"203.0.113.9:5555, [fd00::1]:80"}, "203.0.113.9"},
		{"IPv6 client behind an IPv6 proxy", "[fd00::2]:4000", []string{"2001:db8::7"}, "2001:db8::7"},
		{"an IPv4-mapped peer is its IPv4 address", "[::ffff:127.0.0.1]:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"an IPv4-mapped prefix", "192.0.2.130:1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"outside the mapped prefix", "192.0.2.1:1", []string{"203.0.113.9"}, "192.0.2.1"},
		{"no port on the peer", "127.0.0.1", []string{"203.0.113.9"}, "203.0.113.9"},
	}
	for _, c := range cases {
		if got := tp.client(c.remote, c.xff); got != c.want {
			t.Errorf("%s: client %q, want %q", c.what, got, c.want)
		}
	}
	// Without trusted proxies nobody's header counts.
	if got := trustedProxies(nil).client("127.0.0.1:1", []string{"203.0.113.9"}); got != "127.0.0.1" {
		t.Errorf("no trusted proxies: %q", got)
	}
	for _, bad := range []string{"localhost", "10.0.0.0/33", "10.0.0.1/8/9", "::ffff:10.0.0.0/64"} {
		if _, err := parseTrustedProxies([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := Handler(Config{TrustedProxies: []string{"nonsense"}}, newTestLedger(t).server(&fakeChain{})); err == nil {
		t.Error("Handler took a bad trusted proxy")
	}
}

// Behind a trusted proxy, the read rate limit keys on the client it
// names: two clients behind it have a bucket each, and a client cannot
// get a new bucket by writing its own X-Forwarded-For, neither directly
// nor through the proxy.
func TestRateLimitBehindTrustedProxy(t *testing.T) {
	l := newTestLedger(t)
	clk := newFakeClock()
	h, err := Handler(Config{MaxBodyBytes: 1 << 10, ReadRateLimit: 1, ReadRateBurst: 2, Now: clk.Now,
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
		if w.Code == http.StatusTooManyRequests {
			wantRecorded(t, "429", w, 429, ledger.CodeRateLimited)
		}
		return w.Code
	}
	expect := func(what, remote, xff string, want ...int) {
		t.Helper()
		for i, w := range want {
			if got := read(remote, xff); got != w {
				t.Fatalf("%s: read %d: %d, want %d", what, i, got, w)
			}
		}
	}
	expect("a direct client", "198.51.100.7:1000", "", 200, 200, 429)
	expect("the same client spoofing X-Forwarded-For", "198.51.100.7:1001", "203.0.113.50", 429)
	expect("client A behind the proxy", "192.0.2.100:5000", "203.0.113.1", 200, 200, 429)
	expect("client B behind the proxy", "192.0.2.100:5001", "203.0.113.2", 200, 200, 429)
	expect("client A prepending a fresh address", "192.0.2.100:5002", "10.0.0.1, 203.0.113.1", 429)
	expect("the proxy itself", "192.0.2.100:5003", "", 200, 200, 429)
	clk.Advance(3e9)
	expect("client A after a refill", "192.0.2.100:5004", "203.0.113.1", 200)
}

// Links carry the scheme and host the client used: X-Forwarded-Proto and
// X-Forwarded-Host from a trusted proxy, never from anyone else.
func TestSTIXLinksBehindTrustedProxy(t *testing.T) {
	l := newTestLedger(t)
	h, err := Handler(Config{MaxBodyBytes: 1 << 10, TrustedProxies: []string{"192.0.2.100"}}, l.server(&fakeChain{}))
	if err != nil {
		t.Fatal(err)
	}
	bundle := func(remote string, hdr map[string]string) string {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/v1/stix/bundle", nil)
		r.Host = "node.example:1317"
		r.RemoteAddr = remote
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body.Bytes())
		}
		return w.Body.String()
	}
	link := "/v1/records/" + l.ids[0] + "?prove=true"
	cases := []struct {
		what, remote string
		hdr          map[string]string
		want         string
	}{
		{"direct", "198.51.100.7:1", nil, "http://node.example:1317"},
		{"an untrusted peer's forwarding headers", "198.51.100.7:1",
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}, "http://node.example:1317"},
		{"https from the trusted proxy", "192.0.2.100:1", map[string]string{"X-Forwarded-Proto": "https"}, "https://node.example:1317"},
		{"the host from the trusted proxy", "192.0.2.100:1",
			map[string]string{"X-Forwarded-Proto": "HTTPS, http", "X-Forwarded-Host": "ledger.example.org"}, "https://ledger.example.org"},
		{"a scheme that is no scheme", "192.0.2.100:1", map[string]string{"X-Forwarded-Proto": "javascript"}, "http://node.example:1317"},
		{"a host that is no host", "192.0.2.100:1", map[string]string{"X-Forwarded-Host": "a/b?c"}, "http://node.example:1317"},
	}
	for _, c := range cases {
		body := bundle(c.remote, c.hdr)
		if !strings.Contains(body, `"`+c.want+link+`"`) {
			t.Errorf("%s: no link %s%s in the bundle", c.what, c.want, link)
		}
	}
}

// Without a proxy, links take the Host the client sent only when it can
// go into a URL as it is; a Host that cannot (or none, as HTTP/1.0
// allows) gives way to the address the request reached.
func TestSTIXLinksWithBadHost(t *testing.T) {
	l := newTestLedger(t)
	srv := restServer(t, Config{}, l.server(&fakeChain{}))
	addr := srv.Listener.Addr().String()
	link := "/v1/records/" + l.ids[0] + "?prove=true"
	for _, c := range []struct{ what, req string }{
		{"a host with characters no host has", "GET /v1/stix/bundle HTTP/1.1\r\nHost: x'onmouseover=alert(1)\r\nConnection: close\r\n\r\n"},
		{"no host (HTTP/1.0)", "GET /v1/stix/bundle HTTP/1.0\r\n\r\n"},
		{"a good host", "GET /v1/stix/bundle HTTP/1.1\r\nHost: node.example:1317\r\nConnection: close\r\n\r\n"},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, c.req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		want := "http://" + addr + link
		if strings.Contains(c.req, "node.example") {
			want = "http://node.example:1317" + link
		}
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"`+want+`"`) {
			t.Errorf("%s: %d, no link %s in %.300s", c.what, resp.StatusCode, want, body)
		}
		if strings.Contains(string(body), "onmouseover") {
			t.Errorf("%s: the bad host is in the bundle", c.what)
		}
	}
}

// Trusting 0.0.0.0/0 or ::/0 trusts every client's forwarding headers:
// Start warns.
func TestTrustEveryoneWarns(t *testing.T) {
	l := newTestLedger(t)
	for _, c := range []struct {
		proxies []string
		warn    string
	}{
		{[]string{"10.0.0.1", "0.0.0.0/0"}, "0.0.0.0/0"},
		{[]string{"::/0"}, "::/0"},
		{[]string{"::ffff:0.0.0.0/96"}, "0.0.0.0/0"},
		{[]string{"10.0.0.0/8", "fd00::/8"}, ""},
	} {
		var logs syncBuffer
		s, err := Start(Config{RESTListen: "127.0.0.1:0", TrustedProxies: c.proxies, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
			l.server(&fakeChain{}))
		if err != nil {
			t.Fatal(err)
		}
		s.Stop(context.Background())
		warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "trusted_proxies")
		switch {
		case c.warn == "" && warned:
			t.Errorf("%v: %s", c.proxies, logs.String())
		case c.warn != "" && (!warned || !strings.Contains(logs.String(), c.warn)):
			t.Errorf("%v: no warning naming %s: %s", c.proxies, c.warn, logs.String())
		}
	}
}
