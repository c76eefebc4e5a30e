package monitor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// testSecret is a whsec_ secret of a 32-byte key made of b.
func testSecret(b byte) string {
	return "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

func writeSecretFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

// The secret file: one or more whsec_ secrets of 24 to 64 bytes, in a
// file others can neither read nor change.
func TestWebhookSecretFile(t *testing.T) {
	good, other := testSecret(1), testSecret(2)
	for _, c := range []struct {
		name    string
		content string
		mode    os.FileMode
		keys    int
		err     string
	}{
		{"one secret and a newline", good + "\n", 0o600, 1, ""},
		{"group-readable", good, 0o640, 1, ""},
		{"rotation: new and old", good + "\n" + other + "\n", 0o600, 2, ""},
		{"empty", "\n  \n", 0o600, 0, "is empty"},
		{"no prefix", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)), 0o600, 0, "whsec_ followed by"},
		{"not base64", "whsec_not*base64", 0o600, 0, "not standard base64"},
		{"too short a key", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16)), 0o600, 0, "16-byte key"},
		{"too long a key", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)), 0o600, 0, "65-byte key"},
		{"a bad second secret", good + "\nwhsec_", 0o600, 0, "secret 2"},
		{"world-readable", good, 0o644, 0, "others can read it"},
		{"group-writable", good, 0o660, 0, "group or others can write it"},
	} {
		keys, err := ReadWebhookSecrets(writeSecretFile(t, c.content, c.mode))
		switch {
		case c.err == "" && (err != nil || len(keys) != c.keys):
			t.Errorf("%s: %d keys, %v; want %d keys", c.name, len(keys), err, c.keys)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.err)
		}
	}
	if _, err := ReadWebhookSecrets(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
	// Run refuses a bad secret file, and one without a webhook, before it
	// connects to anything.
	base := Options{Member: "xbb", Node: "http://127.0.0.1:1", Witnesses: []string{"http://127.0.0.1:1"}, StatePath: filepath.Join(t.TempDir(), "s.json"),
		Interval: time.Second, Webhook: "http://127.0.0.1:1/hook"}
	for name, o := range map[string]Options{
		"malformed secret": func() Options { o := base; o.WebhookSecretFile = writeSecretFile(t, "whsec_", 0o600); return o }(),
		"no webhook": func() Options {
			o := base
			o.Webhook, o.WebhookSecretFile = "", writeSecretFile(t, good, 0o600)
			return o
		}(),
	} {
		err := Run(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A receiver in Go verifies a signed call with VerifyWebhook and refuses
// every forgery: a wrong secret, an altered body, an old or a future
// timestamp, a missing header, a signature of another scheme.
func TestVerifyWebhookRejectsForgeries(t *testing.T) {
	secret := testSecret(7)
	key, err := ParseWebhookSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var accepted []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := VerifyWebhook(secret, r.Header, body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		accepted = append(accepted, r.Header.Get(HeaderWebhookID))
		mu.Unlock()
	}))
	defer recv.Close()
	body := []byte(`{"id":"overdue:6e4bf4b5276893350cf22a446f92c925","type":"overdue"}`)
	id := webhookID("c", "xbb", "overdue:6e4bf4b5276893350cf22a446f92c925")
	signed := func(keys [][]byte, at time.Time) http.Header {
		h := http.Header{}
		SignWebhook(h, keys, id, at, body)
		return h
	}
	send := func(h http.Header, b []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, recv.URL, bytes.NewReader(b))
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	wrongKey, _ := ParseWebhookSecret(testSecret(8))
	now := time.Now()
	if code, msg := send(signed([][]byte{key}, now), body); code != 200 {
		t.Fatalf("a genuine call: %d %s", code, msg)
	}
	// During a rotation the header carries both signatures; either verifies.
	if code, msg := send(signed([][]byte{wrongKey, key}, now), body); code != 200 {
		t.Fatalf("a call signed with the new and the old key: %d %s", code, msg)
	}
	// A little clock skew either way is tolerated.
	if code, msg := send(signed([][]byte{key}, now.Add(-4*time.Minute)), body); code != 200 {
		t.Fatalf("4 minutes old: %d %s", code, msg)
	}
	if code, msg := send(signed([][]byte{key}, now.Add(4*time.Minute)), body); code != 200 {
		t.Fatalf("4 minutes ahead: %d %s", code, msg)
	}
	without := func(name string) http.Header {
		h := signed([][]byte{key}, now)
		h.Del(name)
		return h
	}
	otherScheme := signed([][]byte{key}, now)
	otherScheme.Set(HeaderWebhookSignature, strings.Replace(otherScheme.Get(HeaderWebhookSignature), "v1,", "v1a,", 1))
	otherID := signed([][]byte{key}, now)
	otherID.Set(HeaderWebhookID, "msg_other")
	for _, c := range []struct {
		name string
		h    http.Header
		body []byte
		want string
	}{
		{"wrong secret", signed([][]byte{wrongKey}, now), body, "no v1 signature matches"},
		{"altered body", signed([][]byte{key}, now), bytes.Replace(body, []byte("overdue"), []byte("due_soon"), 1), "no v1 signature matches"},
		{"a byte appended", signed([][]byte{key}, now), append(append([]byte(nil), body...), ' '), "no v1 signature matches"},
		{"another id", otherID, body, "no v1 signature matches"},
		{"old timestamp (a replay)", signed([][]byte{key}, now.Add(-6*time.Minute)), body, "more than 5m0s"},
		{"future timestamp", signed([][]byte{key}, now.Add(6*time.Minute)), body, "more than 5m0s"},
		{"no id", without(HeaderWebhookID), body, "missing"},
		{"no timestamp", without(HeaderWebhookTimestamp), body, "missing"},
		{"no signature", without(HeaderWebhookSignature), body, "missing"},
		{"not v1", otherScheme, body, "no v1 signature matches"},
		{"unsigned", http.Header{}, body, "missing"},
	} {
		code, msg := send(c.h, c.body)
		if code != http.StatusUnauthorized || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %q, want 401 with %q", c.name, code, msg, c.want)
		}
	}
	if len(accepted) != 4 {
		t.Errorf("accepted %d calls, want the 4 genuine ones", len(accepted))
	}
	// The timestamp is signed: moving it voids the signature.
	h := signed([][]byte{key}, now)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(now.Unix()+1, 10))
	if err := VerifyWebhook(secret, h, body, now, 0); !errors.Is(err, ErrWebhookUnverified) {
		t.Errorf("a moved timestamp: %v", err)
	}
	if err := VerifyWebhook(secret, signed([][]byte{key}, now.Add(-time.Hour)), body, now, 2*time.Hour); err != nil {
		t.Errorf("an hour old within a 2 h tolerance: %v", err)
	}
	if err := VerifyWebhook("whsec_", signed([][]byte{key}, now), body, now, 0); err == nil {
		t.Error("a malformed secret verified")
	}
}

// hookCall is one call a test webhook received.
type hookCall struct {
	header http.Header
	body   []byte
	at     time.Time
}

// hookRecorder records calls and answers status(n) to the n-th (from 0).
type hookRecorder struct {
	mu     sync.Mutex
	calls  []hookCall
	status func(n int) int
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	n := len(h.calls)
	h.calls = append(h.calls, hookCall{header: r.Header.Clone(), body: body, at: time.Now()})
	h.mu.Unlock()
	w.WriteHeader(h.status(n))
}

// deliveryDaemon is a daemon with events queued, a webhook and metrics,
// as Run sets one up (without a node: only the delivery runs).
func deliveryDaemon(t *testing.T, hook string, keys [][]byte, events ...*Event) *daemon {
	t.Helper()
	st, err := loadState(filepath.Join(t.TempDir(), "monitor-xbb.json"))
	if err != nil {
		t.Fatal(err)
	}
	st.Member, st.ChainID, st.Height = "xbb", "signing-test", 41
	m := &daemon{o: Options{Member: "xbb", Webhook: hook, StatePath: filepath.Join(t.TempDir(), "monitor-xbb.json"), Out: io.Discard, Err: io.Discard,
		RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond, Version: "test"},
		st: st, hc: &http.Client{Timeout: 5 * time.Second}, keys: keys, mx: newMetrics("xbb", "test"), chainID: "signing-test"}
	// As a step does: the events and the position in the state file.
	st.Height = 42
	st.Pending = append(st.Pending, events...)
	if err := m.save(); err != nil {
		t.Fatal(err)
	}
	m.mx.queued(events, st)
	return m
}

func testEvent(typ, id string) *Event {
	return &Event{ID: typ + ":" + id, Type: typ, Member: "xbb", ChainID: "signing-test", Height: 42,
		BlockTime: time.Date(2026, 12, 3, 10, 0, 5, 0, time.UTC), Summary: typ + " " + id}
}

// The monitor signs each webhook call; a retry of the same event keeps
// its webhook-id and carries its own timestamp and signature; and the
// metrics follow the events from queued to delivered.
func TestSignedWebhookDelivery(t *testing.T) {
	secret := testSecret(3)
	keys, err := ReadWebhookSecrets(writeSecretFile(t, secret+"\n"+testSecret(4)+"\n", 0o600))
	if err != nil {
		t.Fatal(err)
	}
	// The first call fails (503), the others are acknowledged.
	rec := &hookRecorder{status: func(n int) int {
		if n == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	}}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	a, b := testEvent(EventOverdue, "6e4bf4b5276893350cf22a446f92c925"), testEvent(EventRecord, "c88aedb1635616b3")
	m := deliveryDaemon(t, hook.URL, keys, a, b)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer serveMetrics(l, m.mx.reg, t.Logf)()
	metricsURL := "http://" + l.Addr().String() + "/metrics"

	before := scrape(t, metricsURL)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{MetricEventsSeen, map[string]string{"member": "xbb", "type": EventOverdue}, 1},
		{MetricEventsSeen, map[string]string{"type": EventRecord}, 1},
		{MetricEventsSeen, map[string]string{"type": EventFinding}, 0},
		{MetricPendingEvents, nil, 2},
		{MetricProcessedHeight, nil, 42},
		{MetricEventsDelivered, map[string]string{"type": EventOverdue}, 0},
		{MetricBuildInfo, map[string]string{"version": "test"}, 1},
	} {
		if got := metricValue(t, before, c.name, c.labels); got != c.want {
			t.Errorf("before delivery: %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if bi := before[MetricBuildInfo].GetMetric()[0]; labelOf(bi, "go_version") == "" || labelOf(bi, "revision") == "" || labelOf(bi, "member") != "" {
		t.Errorf("build info labels: %v", bi.GetLabel())
	}

	if err := m.deliverPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	calls := append([]hookCall(nil), rec.calls...)
	rec.mu.Unlock()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3 (a failed one, its retry, the second event)", len(calls))
	}
	for i, c := range calls {
		if err := VerifyWebhook(secret, c.header, c.body, time.Now(), 0); err != nil {
			t.Errorf("call %d: %v", i, err)
		}
		if err := VerifyWebhook(testSecret(4), c.header, c.body, time.Now(), 0); err != nil {
			t.Errorf("call %d with the old secret: %v", i, err)
		}
		if sigs := strings.Fields(c.header.Get(HeaderWebhookSignature)); len(sigs) != 2 {
			t.Errorf("call %d: %d signatures, want one per secret", i, len(sigs))
		}
		ts, _ := strconv.ParseInt(c.header.Get(HeaderWebhookTimestamp), 10, 64)
		if d := c.at.Sub(time.Unix(ts, 0)); d < 0 || d > 2*time.Second {
			t.Errorf("call %d: timestamp %d is not the attempt's time %v", i, ts, c.at)
		}
		var ev Event
		if err := json.Unmarshal(c.body, &ev); err != nil || c.header.Get("Normledger-Event-Id") != ev.ID {
			t.Errorf("call %d: %v %q", i, err, c.body)
		}
	}
	// The retry is the same delivery: same webhook-id; another event has
	// another one. The id is of chain, member and event.
	idA, idB := calls[0].header.Get(HeaderWebhookID), calls[2].header.Get(HeaderWebhookID)
	if idA != calls[1].header.Get(HeaderWebhookID) || idA == idB || idA != webhookID("signing-test", "xbb", a.ID) ||
		!strings.HasPrefix(idA, "msg_") || strings.Contains(idA, ".") {
		t.Errorf("webhook ids %q %q %q", idA, calls[1].header.Get(HeaderWebhookID), idB)
	}
	if webhookID("signing-test", "xaa", a.ID) == idA || webhookID("other-chain", "xbb", a.ID) == idA {
		t.Error("two members' (or chains') events share a webhook id")
	}

	after := scrape(t, metricsURL)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{MetricEventsDelivered, map[string]string{"type": EventOverdue}, 1},
		{MetricEventsDelivered, map[string]string{"type": EventRecord}, 1},
		{MetricDeliveryFailures, map[string]string{"type": EventOverdue}, 1},
		{MetricDeliveryFailures, map[string]string{"type": EventRecord}, 0},
		{MetricWebhookRetries, nil, 1},
		{MetricPendingEvents, nil, 0},
		{MetricProcessedHeight, nil, 42},
	} {
		if got := metricValue(t, after, c.name, c.labels); got != c.want {
			t.Errorf("after delivery: %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if h := after[MetricDeliveryDuration].GetMetric()[0].GetHistogram(); h.GetSampleCount() != 2 || h.GetSampleSum() < 0.01 {
		t.Errorf("delivery duration: %d samples, sum %v; want 2, the first at least one backoff long", h.GetSampleCount(), h.GetSampleSum())
	}
	m.mx.polled(pollOK)
	m.mx.polled(pollUnverified)
	polls := scrape(t, metricsURL)
	if metricValue(t, polls, MetricPolls, map[string]string{"result": "ok"}) != 1 ||
		metricValue(t, polls, MetricPolls, map[string]string{"result": "unverified"}) != 1 ||
		metricValue(t, polls, MetricLastPollOK, nil) < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Error("poll metrics did not move")
	}
	for _, name := range MetricNames {
		if polls[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// Without a secret the calls carry the id and the timestamp, unsigned,
// as before.
func TestUnsignedWebhook(t *testing.T) {
	rec := &hookRecorder{status: func(int) int { return 200 }}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	m := deliveryDaemon(t, hook.URL, nil, testEvent(EventDueSoon, "ab"))
	if err := m.deliverPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := rec.calls[0].header
	if h.Get(HeaderWebhookSignature) != "" || h.Get(HeaderWebhookID) == "" || h.Get(HeaderWebhookTimestamp) == "" || h.Get("Idempotency-Key") != "due_soon:ab" {
		t.Errorf("headers %v", h)
	}
}

// scrape reads a /metrics page.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// metricValue is the value of the one series of family name whose labels
// include labels.
func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	var found []float64
	for _, m := range fams[name].GetMetric() {
		ok := true
		for k, v := range labels {
			ok = ok && labelOf(m, k) == v
		}
		if !ok {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			found = append(found, m.GetCounter().GetValue())
		case m.GetGauge() != nil:
			found = append(found, m.GetGauge().GetValue())
		default:
			found = append(found, m.GetUntyped().GetValue())
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d series", name, labels, len(found))
	}
	return found[0]
}

// The spec's reference implementation (the npm package standardwebhooks)
// verifies what the monitor signs, refuses it altered, and signs what
// VerifyWebhook accepts. Needs node and npm (and the npm registry, or
// the package in npm's cache); skipped without them unless
// NORMLEDGER_REQUIRE_OPS=1.
func TestStandardWebhooksReference(t *testing.T) {
	const pkg = "standardwebhooks@1.3.0"
	need := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("NORMLEDGER_REQUIRE_OPS") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (NORMLEDGER_REQUIRE_OPS=1 makes this a failure)", args...)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		need("node is not installed")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		need("npm is not installed")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "install", "--prefix", dir, "--no-audit", "--no-fund", "--no-save", "--loglevel=error", pkg)
	install.Env = append(os.Environ(), "npm_config_update_notifier=false")
	if out, err := install.CombinedOutput(); err != nil {
		need("npm install %s: %v\n%s", pkg, err, out)
	}

	secret := testSecret(9)
	keys, _ := ReadWebhookSecrets(writeSecretFile(t, secret, 0o600))
	rec := &hookRecorder{status: func(int) int { return 200 }}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	ev := testEvent(EventOverdue, "6e4bf4b5276893350cf22a446f92c925")
	ev.Summary = "respond obligation owed by xbb to xaa is overdue — ünïcode, \"quotes\" and <html>"
	m := deliveryDaemon(t, hook.URL, keys, ev)
	if err := m.deliverPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	call := rec.calls[0]
	headers := map[string]string{}
	for _, h := range []string{HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature} {
		headers[h] = call.header.Get(h)
	}
	hj, _ := json.Marshal(headers)
	for name, bz := range map[string][]byte{"headers.json": hj, "body.bin": call.body} {
		if err := os.WriteFile(filepath.Join(dir, name), bz, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const script = `
const { Webhook } = require("standardwebhooks");
const fs = require("fs");
const [secret, other] = process.argv.slice(1); // node -e: no script path
const headers = JSON.parse(fs.readFileSync("headers.json", "utf8"));
const body = fs.readFileSync("body.bin");
const out = {};
out.id = new Webhook(secret).verify(body, headers).id;
const refused = (f) => { try { f(); return "accepted"; } catch (e) { return e.message; } };
out.altered = refused(() => new Webhook(secret).verify(Buffer.concat([body, Buffer.from(" ")]), headers));
out.wrongSecret = refused(() => new Webhook(other).verify(body, headers));
out.old = refused(() => new Webhook(secret).verify(body, { ...headers, "webhook-timestamp": String(Number(headers["webhook-timestamp"]) - 600) }));
const now = new Date();
out.signed = { id: "msg_js", ts: String(Math.floor(now.getTime() / 1000)), sig: new Webhook(secret).sign("msg_js", now, body) };
console.log(JSON.stringify(out));
`
	run := exec.CommandContext(ctx, nodeBin, "-e", script, secret, testSecret(10))
	run.Dir = dir
	var stderr bytes.Buffer
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.Bytes())
	}
	var res struct {
		ID, Altered, WrongSecret, Old string
		Signed                        struct{ ID, Ts, Sig string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node printed %q: %v", out, err)
	}
	if res.ID != ev.ID {
		t.Errorf("standardwebhooks verified the payload as event %q, want %q", res.ID, ev.ID)
	}
	for what, msg := range map[string]string{"an altered body": res.Altered, "a wrong secret": res.WrongSecret, "an old timestamp": res.Old} {
		if msg == "accepted" {
			t.Errorf("standardwebhooks accepted %s", what)
		}
	}
	// And the other way: what the reference signs, VerifyWebhook accepts.
	h := http.Header{}
	h.Set(HeaderWebhookID, res.Signed.ID)
	h.Set(HeaderWebhookTimestamp, res.Signed.Ts)
	h.Set(HeaderWebhookSignature, res.Signed.Sig)
	if err := VerifyWebhook(secret, h, call.body, time.Now(), 0); err != nil {
		t.Errorf("VerifyWebhook refused the reference's signature %q: %v", res.Signed.Sig, err)
	}
	t.Logf("%s: verified %s (%s); refused: %s / %s / %s", pkg, res.ID, fmt.Sprint(headers[HeaderWebhookID]), res.Altered, res.WrongSecret, res.Old)
}
