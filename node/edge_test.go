package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/node/api"
	nlproto "github.com/normledger/normledger/proto"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// getJSON fetches a URL and decodes its JSON body into a generic value.
func getJSON(t *testing.T, u string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: body is not JSON: %v", u, err)
	}
	return resp.StatusCode, m
}

// compareDecoded checks a served record's "decoded" and "signers" against
// the signed bytes in its "tx", field by field.
func compareDecoded(t *testing.T, rec map[string]any) {
	t.Helper()
	raw, _ := rec["tx"].(string)
	var txBytes []byte
	if err := json.Unmarshal([]byte(`"`+raw+`"`), &txBytes); err != nil || len(txBytes) == 0 {
		t.Fatalf("record has no tx bytes: %v", rec)
	}
	tx := new(pb.Tx)
	if err := proto.Unmarshal(txBytes, tx); err != nil {
		t.Fatal(err)
	}
	// What the signed bytes say, in the API's JSON conventions.
	bz, err := protojson.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	json.Unmarshal(bz, &want)
	got, ok := rec["decoded"].(map[string]any)
	if !ok {
		t.Fatalf("record %v has no decoded object", rec["id"])
	}
	var walk func(path string, w, g any)
	walk = func(path string, w, g any) {
		switch wv := w.(type) {
		case map[string]any:
			gv, ok := g.(map[string]any)
			if !ok {
				t.Errorf("%s: got %T, want an object", path, g)
				return
			}
			for k := range wv {
				walk(path+"."+k, wv[k], gv[k])
			}
			for k := range gv {
				if _, ok := wv[k]; !ok {
					t.Errorf("%s.%s: served but not in the signed bytes", path, k)
				}
			}
		case []any:
			gv, ok := g.([]any)
			if !ok || len(gv) != len(wv) {
				t.Errorf("%s: got %v, want %v", path, g, w)
				return
			}
			for i := range wv {
				walk(fmt.Sprintf("%s[%d]", path, i), wv[i], gv[i])
			}
		default:
			if !reflect.DeepEqual(w, g) {
				t.Errorf("%s: served %v, signed %v", path, g, w)
			}
		}
	}
	walk("decoded", want, got)
	// Enums by name, body fields by name.
	if s := string(bz); strings.Contains(s, `"type":`) && !strings.Contains(s, "NOTIFICATION_TYPE_") {
		t.Errorf("enum not by name: %s", s)
	}
	signers, _ := rec["signers"].([]any)
	wantSigners := ledger.TxSigners(tx)
	if len(signers) != len(wantSigners) {
		t.Fatalf("signers %v, want %v", signers, wantSigners)
	}
	for i := range wantSigners {
		if signers[i] != wantSigners[i] {
			t.Fatalf("signers %v, want %v", signers, wantSigners)
		}
	}
	if rec["author"] != tx.Body.Signer {
		t.Fatalf("author %v, signer %s", rec["author"], tx.Body.Signer)
	}
}

// Every REST read of a record carries the record decoded next to the
// signed bytes, and the two say the same thing; genesis comes as JSON.
func TestReadableAnswers(t *testing.T) {
	n, c, ms := startNode(t, api.Config{})
	ctx := context.Background()
	res := fileAttested(t, c, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xbb", "xcc"}, Summary: "readable",
		ExcludedSectors: []pb.Sector{pb.Sector_SECTOR_HEALTH}}}}, ms["xaa"].Signer())
	base := "http://" + n.RESTAddress()
	for _, path := range []string{"/v1/records/" + res.ID, "/v1/records/" + res.ID + "?prove=true", "/v1/txs/" + strings.ToUpper(res.ID)} {
		st, m := getJSON(t, base+path)
		if st != 200 {
			t.Fatalf("%s: %d %v", path, st, m)
		}
		rec := m["record"].(map[string]any)
		compareDecoded(t, rec)
		d := rec["decoded"].(map[string]any)["body"].(map[string]any)["record"].(map[string]any)["notification"].(map[string]any)
		if d["summary"] != "readable" || d["type"] != "NOTIFICATION_TYPE_INFORMATION" {
			t.Fatalf("%s: decoded body %v", path, d)
		}
	}
	for _, q := range []string{"", "?prove=true", "?kind=notification", "?kind=RECORD_KIND_NOTIFICATION", "?author=xaa&prove=true"} {
		st, m := getJSON(t, base+"/v1/records"+q)
		recs, _ := m["records"].([]any)
		if st != 200 || len(recs) != 1 {
			t.Fatalf("records%s: %d, %d records: %v", q, st, len(recs), m)
		}
		for _, r := range recs {
			compareDecoded(t, r.(map[string]any))
		}
	}
	// The verifier accepts the readable answer and refuses a changed one.
	resp, err := c.GetRecord(ctx, res.ID, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := c.LightBlock(ctx, resp.Height+1)
	if err != nil {
		t.Fatal(err)
	}
	appHash := lb.SignedHeader.Header.AppHash
	if _, err := verifiers.Record(appHash, res.ID, resp); err != nil {
		t.Fatalf("readable answer refused: %v", err)
	}
	resp.Record.Decoded.Body.Record.GetNotification().Summary = "something else"
	if _, err := verifiers.Record(appHash, res.ID, resp); err == nil || !strings.Contains(err.Error(), "decoded record") {
		t.Fatalf("a decoded record that differs from the signed bytes was accepted: %v", err)
	}
	// Genesis as a JSON object next to the exact bytes.
	st, m := getJSON(t, base+"/v1/genesis")
	g, ok := m["genesis"].(map[string]any)
	if st != 200 || !ok || g["chain_id"] != "api-test" {
		t.Fatalf("genesis: %d %v", st, m["genesis"])
	}
}

// The strict edge: enum names in both forms, unknown parameters named,
// heights beyond the state 404, zero time bounds are bounds.
func TestQueryParameters(t *testing.T) {
	n, c, ms := startNode(t, api.Config{})
	res := fileAttested(t, c, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xbb"}, Summary: "params"}}}, ms["xaa"].Signer())
	base := "http://" + n.RESTAddress()
	count := func(path string) int {
		st, m := getJSON(t, base+path)
		if st != 200 {
			t.Fatalf("%s: %d %v", path, st, m)
		}
		for _, k := range []string{"records", "obligations", "proposals"} {
			if l, ok := m[k].([]any); ok {
				return len(l)
			}
		}
		return 0
	}
	for _, pair := range [][2]string{
		{"/v1/records?kind=notification", "/v1/records?kind=RECORD_KIND_NOTIFICATION"},
		{"/v1/records?kind=notification", "/v1/records?kind=Notification"},
		{"/v1/obligations?status=open", "/v1/obligations?status=OBLIGATION_STATUS_OPEN"},
		{"/v1/proposals?status=voting", "/v1/proposals?status=PROPOSAL_STATUS_VOTING"},
		{"/v1/records?page_token=0", "/v1/records?pageToken=0"},
		{"/v1/records?sector=health", "/v1/records?sector=SECTOR_HEALTH"},
	} {
		if a, b := count(pair[0]), count(pair[1]); a != b {
			t.Errorf("%s gives %d, %s gives %d", pair[0], a, pair[1], b)
		}
	}
	if count("/v1/records?kind=notification") != 1 {
		t.Fatal("the filters found nothing")
	}
	// Every filter value the OpenAPI document lists is one the node takes.
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string   `json:"name"`
				Enum []string `json:"enum"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(nlproto.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	enums := 0
	for path, ops := range doc.Paths {
		for _, p := range ops["get"].Parameters {
			for _, v := range p.Enum {
				if strings.Contains(path, "{") || p.Name == "format" && (v == "jsonl" || v == "csv") {
					continue // not filters: the bulk export's other answers (node/api bulk_test.go)
				}
				enums++
				count(path + "?" + p.Name + "=" + url.QueryEscape(v))
			}
		}
	}
	if enums < 40 {
		t.Fatalf("the OpenAPI document lists only %d filter values", enums)
	}
	// A zero time bound is a bound.
	if got := count("/v1/records?toTime=0001-01-01T00:00:00Z"); got != 0 {
		t.Errorf("records before year 1: %d", got)
	}
	if got := count("/v1/records?fromTime=1970-01-01T00:00:00Z"); got != 1 {
		t.Errorf("records since 1970: %d", got)
	}
	cases := []struct {
		path, code string
		status     int
		says       string
	}{
		{"/v1/records?kinds=pledge", "unknown_parameter", 400, `"kinds"`},
		{"/v1/records?kind=pledge&autor=xaa&x=1", "unknown_parameter", 400, `"autor", "x"`},
		{"/v1/status?verbose=1", "unknown_parameter", 400, "takes no query parameters"},
		{"/v1/records?kind=pledge&kind=finding", "bad_format", 400, "more than once"},
		{"/v1/records?page_token=1&pageToken=2", "bad_format", 400, "more than once"},
		{"/v1/records?kind=RECORD_KIND_NONSENSE", "bad_enum", 400, "pledge"},
		{"/v1/records?limit=abc", "bad_format", 400, `"limit" must be`},
		{"/v1/records?limit=99999999999", "bad_format", 400, `"limit" must be`},
		{"/v1/records?prove=maybe", "bad_format", 400, "true or false"},
		{"/v1/records?fromTime=yesterday", "bad_time", 400, "RFC 3339"},
		{"/v1/records?fromTime=2026-13-01T00:00:00Z", "bad_time", 400, "RFC 3339"},
		{"/v1/blocks/abc", "bad_format", 400, "must be an integer"},
		{"/v1/light_blocks/1.5", "bad_format", 400, "must be an integer"},
		{"/v1/log/consistency?first=-1&second=2", "bad_format", 400, "non-negative"},
		{"/v1/records?kind=%zz", "bad_format", 400, "percent-encoding"},
		{"/v1/records?height=99999999", "height_too_high", 404, "beyond"},
		{"/v1/members?height=99999999", "height_too_high", 404, "beyond"},
		{"/v1/members/xaa?height=99999999", "height_too_high", 404, "beyond"},
		{"/v1/obligations?height=99999999", "height_too_high", 404, "beyond"},
		{"/v1/log?height=99999999", "height_too_high", 404, "beyond"},
		{"/v1/governance/rules?height=99999999", "height_too_high", 404, "beyond"},
		{"/v1/compliance/xaa?height=99999999", "height_too_high", 404, "beyond"},
		{"/v1/records/" + res.ID + "?height=99999999", "height_too_high", 404, "beyond"},
		{"/v1/blocks/99999999", "height_too_high", 404, "beyond"},
		{"/v1/light_blocks/99999999", "height_too_high", 404, "beyond"},
	}
	for _, tc := range cases {
		st, m := getJSON(t, base+tc.path)
		msg, _ := m["message"].(string)
		if st != tc.status || !strings.Contains(fmt.Sprint(m["details"]), tc.code) || !strings.Contains(msg, tc.says) {
			t.Errorf("%s: %d %v, want %d %s saying %s", tc.path, st, m, tc.status, tc.code, tc.says)
		}
		for _, leak := range []string{"strconv", "2006-01-02", "parsing", "invalid syntax", "proto:"} {
			if strings.Contains(msg, leak) {
				t.Errorf("%s: message leaks Go internals (%q): %s", tc.path, leak, msg)
			}
		}
	}
}

// rawRequest writes bytes to the REST port and reads the answer.
func rawRequest(t *testing.T, addr, req string, wait time.Duration) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	time.Sleep(wait)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: %v", req[:min(len(req), 60)], err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// The HTTP edge as an outside probe sees it: every error is JSON in the
// API's shape and names no socket address; HEAD and OPTIONS behave the same
// on every route; a form POST is not a GET; a slow body is a 408.
func TestHTTPEdge(t *testing.T) {
	clk := &skipClock{}
	n, _, _ := startNode(t, api.Config{ReadRateLimit: 5, ReadRateBurst: 5, ReadTimeout: time.Second, Now: clk.Now})
	addr := n.RESTAddress()
	base := "http://" + addr
	isJSONError := func(what string, resp *http.Response, body string, status int) {
		t.Helper()
		if resp.StatusCode != status {
			t.Errorf("%s: status %d, want %d: %s", what, resp.StatusCode, status, body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: content type %q: %s", what, ct, body)
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(body), &st); err != nil || st["message"] == nil || !strings.Contains(body, "normledger.v1.ErrorInfo") {
			t.Errorf("%s: not a google.rpc.Status with ErrorInfo: %s", what, body)
		}
		host, _, _ := net.SplitHostPort(addr)
		if strings.Contains(body, host+":") || strings.Contains(body, "->") {
			t.Errorf("%s: answer names a socket address: %s", what, body)
		}
	}
	// Errors net/http answers before any handler runs.
	resp, body := rawRequest(t, addr, "GARBAGE\r\n\r\n", 0)
	isJSONError("bad request line", resp, body, 400)
	resp, body = rawRequest(t, addr, "GET /v1/records/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 0)
	isJSONError("malformed percent-encoding in the path", resp, body, 400)
	resp, body = rawRequest(t, addr, "GET /v1/status HTTP/1.1\r\n\r\n", 0)
	isJSONError("no Host header", resp, body, 400)
	resp, body = rawRequest(t, addr, "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 40<<10)+"\r\n\r\n", 0)
	isJSONError("oversized headers", resp, body, 431)
	// A slow body: 408, without the node's addresses.
	clk.Skip(time.Second) // the read rate limit's bucket refills
	resp, body = rawRequest(t, addr, "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tx\":", 1500*time.Millisecond)
	isJSONError("slow body", resp, body, 408)
	// A form POST (with or without X-HTTP-Method-Override) to a GET route
	// is 405, never answered as the GET.
	for _, override := range []string{"", "GET"} {
		req, _ := http.NewRequest("POST", base+"/v1/records", strings.NewReader("kind=pledge"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if override != "" {
			req.Header.Set("X-HTTP-Method-Override", override)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		bz, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		isJSONError("form POST override="+override, resp, string(bz), 405)
		if resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("405 Allow header %q", resp.Header.Get("Allow"))
		}
	}
	// HEAD and OPTIONS: the same on /v1/* and /healthz.
	clk.Skip(time.Second)
	for _, path := range []string{"/healthz", "/v1/status", "/v1/records", "/openapi.json"} {
		req, _ := http.NewRequest("HEAD", base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		bz, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(bz) != 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("HEAD %s: %d, %d body bytes, %q", path, resp.StatusCode, len(bz), resp.Header.Get("Content-Type"))
		}
		req, _ = http.NewRequest("OPTIONS", base+path, nil)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 || resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("OPTIONS %s: %d Allow %q", path, resp.StatusCode, resp.Header.Get("Allow"))
		}
		req, _ = http.NewRequest("DELETE", base+path, nil)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		bz, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		isJSONError("DELETE "+path, resp, string(bz), 405)
	}
	// HEAD counts against the read rate limit like GET.
	clk.Skip(time.Second)
	limited := 0
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequest("HEAD", base+"/v1/status", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Error("HEAD escapes the read rate limit")
	}
	// A sweep of odd requests: whatever the request, no answer of the node
	// is a plain-text error or names a socket address.
	clk.Skip(time.Second)
	odd := []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/records?kind=%G0 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/records?a;b HTTP/1.1\r\nHost: x\r\n\r\n",
		"BREW /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/status HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET /v1/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
		"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
		"POST /v1/txs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"POST /tlog/cosignature HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"GET /tlog/tile/9/999 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/records/" + url.PathEscape(strings.Repeat("é", 40)) + " HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	for _, req := range odd {
		resp, body := rawRequest(t, addr, req, 0)
		if resp.StatusCode < 400 {
			continue
		}
		isJSONError(strings.SplitN(req, "\r\n", 2)[0], resp, body, resp.StatusCode)
	}
}
