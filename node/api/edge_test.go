package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/normledger/normledger/ledger"
)

// Bodies over MaxBodyBytes are 413 with the tx_too_large code, whether
// the Content-Length says so up front or a chunked body runs over; a body
// within the limit goes through.
func TestBodyLimit(t *testing.T) {
	l := newTestLedger(t)
	srv := restServer(t, Config{MaxBodyBytes: 64}, l.server(&fakeChain{}))
	post := func(body io.Reader, length int64) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/txs", body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
		return send(t, srv, req)
	}
	small := `{"tx":"AAAA"}`
	if resp, body := post(strings.NewReader(small), int64(len(small))); resp.StatusCode != 200 {
		t.Fatalf("a body within the limit: %d %s", resp.StatusCode, body)
	}
	big := `{"tx":"` + strings.Repeat("A", 100) + `"}`
	resp, body := post(strings.NewReader(big), int64(len(big)))
	if resp.StatusCode != 413 {
		t.Errorf("Content-Length over the limit: %d", resp.StatusCode)
	}
	if msg := wantError(t, "Content-Length over the limit", resp.Header, body, ledger.CodeTxTooLarge); !strings.Contains(msg, "limit 64") {
		t.Errorf("message %q does not name the limit", msg)
	}
	// io.MultiReader hides the length: the client sends it chunked.
	resp, body = post(io.MultiReader(strings.NewReader(big)), -1)
	if resp.StatusCode != 413 {
		t.Errorf("chunked body over the limit: %d", resp.StatusCode)
	}
	if msg := wantError(t, "chunked body over the limit", resp.Header, body, ledger.CodeTxTooLarge); !strings.Contains(msg, "64 bytes") {
		t.Errorf("message %q does not name the limit", msg)
	}
}

// Requests the edge or the service refuses get a 4xx JSON error carrying
// the ledger code, whichever layer refuses them: the route table, the
// gateway's decoder or the handler.
func TestBadRequests(t *testing.T) {
	l := newTestLedger(t)
	h, err := Handler(Config{MaxBodyBytes: 1 << 10}, l.server(&fakeChain{}))
	if err != nil {
		t.Fatal(err)
	}
	missing := strings.Repeat("0", 64)
	for _, tc := range []struct {
		method, target, body string
		status               int
		code                 ledger.Code
		says                 string
	}{
		{"GET", "/v1/records?kinds=pledge", "", 400, ledger.CodeUnknownParameter, `"kinds"`},
		{"GET", "/v1/status?verbose=1", "", 400, ledger.CodeUnknownParameter, "takes no query parameters"},
		{"GET", "/v1/records?kind=pledge&kind=finding", "", 400, ledger.CodeBadFormat, "more than once"},
		{"GET", "/v1/records?limit=abc", "", 400, ledger.CodeBadFormat, `"limit" must be`},
		{"GET", "/v1/records?prove=maybe", "", 400, ledger.CodeBadFormat, "true or false"},
		{"GET", "/v1/records?fromTime=yesterday", "", 400, ledger.CodeBadTime, "RFC 3339"},
		{"GET", "/v1/records?kind=%zz", "", 400, ledger.CodeBadFormat, "percent-encoding"},
		{"GET", "/v1/records?kind=nonsense", "", 400, ledger.CodeBadEnum, "pledge"},
		{"GET", "/v1/records?author=NOT%20AN%20ID", "", 400, ledger.CodeBadFormat, "not a member id"},
		{"GET", "/v1/records?height=-5", "", 400, ledger.CodeBadFormat, "negative"},
		{"GET", "/v1/records?height=99999999", "", 404, ledger.CodeHeightTooHigh, "beyond"},
		{"GET", "/v1/records/not-an-id", "", 400, ledger.CodeBadFormat, "64 hex"},
		{"GET", "/v1/records/" + missing, "", 404, ledger.CodeUnknownRecord, "not found"},
		{"GET", "/v1/txs/" + missing + "?prove=true", "", 404, ledger.CodeUnknownRecord, "not found"},
		{"GET", "/v1/members/xzz", "", 404, ledger.CodeUnknownMember, "not found"},
		{"GET", "/v1/proofs?key=zz", "", 400, ledger.CodeBadFormat, "hex"},
		{"GET", "/v1/blocks/abc", "", 400, ledger.CodeBadFormat, "must be an integer"},
		{"GET", "/v1/nothing-here", "", 404, ledger.CodeNoRoute, "no such endpoint"},
		{"GET", "/nothing", "", 404, ledger.CodeNoRoute, "no such endpoint"},
		{"DELETE", "/v1/status", "", 405, ledger.CodeMethodNotAllowed, "not allowed"},
		{"POST", "/v1/records", "kind=pledge", 405, ledger.CodeMethodNotAllowed, "not allowed"},
		{"POST", "/v1/txs", "{not json", 400, ledger.CodeBadFormat, ""},
		{"POST", "/v1/txs", `{"tx": "AAAA", "typo": 1}`, 400, ledger.CodeBadFormat, ""},
		{"POST", "/v1/txs", `{}`, 400, ledger.CodeTxDecode, "tx is required"},
		{"POST", "/v1/txs", `{"tx": "AAAA", "mode": "BROADCAST_MODE_NONSENSE"}`, 400, ledger.CodeBadFormat, ""},
		{"POST", "/tlog/cosignature", "note", 404, ledger.CodeNoRoute, "no checkpoints"},
		{"GET", "/tlog/checkpoint", "", 503, ledger.CodeUnavailable, "no checkpoints"},
	} {
		what := tc.method + " " + tc.target
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		w := serve(h, tc.method, tc.target, "", body)
		msg := wantRecorded(t, what, w, tc.status, tc.code)
		if !strings.Contains(msg, tc.says) {
			t.Errorf("%s: message %q does not say %q", what, msg, tc.says)
		}
		// The edge keeps Go's parse messages out of what it says about
		// parameters (the body decoder's own message names the field).
		for _, leak := range []string{"strconv", "parsing", "invalid syntax"} {
			if tc.method == http.MethodGet && strings.Contains(msg, leak) {
				t.Errorf("%s: message leaks Go internals (%q): %s", what, leak, msg)
			}
		}
		if tc.status == 405 && w.Header().Get("Allow") == "" {
			t.Errorf("%s: 405 without an Allow header", what)
		}
	}
}

// OPTIONS answers with the route's methods; a CORS preflight from an
// allowed origin gets the CORS headers, one from another origin does not;
// HEAD is the GET without its body.
func TestOptionsCORSAndHead(t *testing.T) {
	l := newTestLedger(t)
	h, err := Handler(Config{MaxBodyBytes: 1 << 10, CORSOrigins: []string{"https://ok.example"}}, l.server(&fakeChain{}))
	if err != nil {
		t.Fatal(err)
	}
	w := serve(h, http.MethodOptions, "/v1/records", "", nil)
	if w.Code != 204 || w.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Errorf("OPTIONS: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	for origin, allowed := range map[string]bool{"https://ok.example": true, "https://evil.example": false} {
		r := httptest.NewRequest(http.MethodOptions, "/v1/txs", nil)
		r.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Access-Control-Allow-Origin"); (got == origin) != allowed {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q", origin, got)
		}
		if allowed && (w.Code != 204 || !strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "POST")) {
			t.Errorf("preflight from %s: %d, methods %q", origin, w.Code, w.Header().Get("Access-Control-Allow-Methods"))
		}
	}
	get := serve(h, http.MethodGet, "/v1/records?limit=2", "", nil)
	head := serve(h, http.MethodHead, "/v1/records?limit=2", "", nil)
	if get.Code != 200 || head.Code != 200 || head.Header().Get("Content-Type") != get.Header().Get("Content-Type") {
		t.Errorf("HEAD %d %q, GET %d %q", head.Code, head.Header().Get("Content-Type"), get.Code, get.Header().Get("Content-Type"))
	}
}
