package testnet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/normledger/normledger/audit"
	"github.com/normledger/normledger/client"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/remote"
)

// chromium finds the browser, or skips the test where none is installed
// (CI installs Debian's chromium and sets NORMLEDGER_REQUIRE_BROWSER, so
// there a missing browser fails).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("NORMLEDGER_REQUIRE_BROWSER") != "" {
		t.Fatal("no chromium on PATH (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH: the dashboard's browser test needs it (apt-get install chromium)")
	return ""
}

// screenshotDir is where the dashboard test leaves its screenshots for a
// person to look at: $NORMLEDGER_SCREENSHOTS, or a folder in the temp dir
// named after the test.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("NORMLEDGER_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "normledger-screenshots", t.Name())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser runs headless Chromium; every JavaScript exception or
// console.error of the page is collected.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 1800))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	b := &browser{ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.errors = append(b.errors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *runtime.EventConsoleAPICalled:
			if os.Getenv("NORMLEDGER_BROWSER_CONSOLE") != "" {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				fmt.Fprintf(os.Stderr, "console.%s: %s\n", e.Type, strings.Join(args, " "))
			}
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value))
				}
				b.errors = append(b.errors, "console.error: "+strings.Join(args, " "))
			}
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browser) jsErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// open loads the dashboard and waits until it has read and verified
// everything it shows.
func (b *browser) open(t *testing.T, u string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS(`body[data-loaded]`))); err != nil {
		dctx, dcancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer dcancel()
		msg, _ := chromedp.Run(dctx, chromedp.Text(chromedp.CSS(`#chain`)))
		st, _ := chromedp.Run(dctx, chromedp.Text(chromedp.CSS(`#trust-status`)))
		t.Fatalf("load %s: %v after %s; page says %q / %q (page errors: %v)", u, err, time.Since(start).Round(time.Millisecond), msg, st, b.jsErrors())
	}
	t.Logf("dashboard loaded and verified in %s", time.Since(start).Round(time.Millisecond))
	loaded, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`body`), "data-loaded"))
	if err != nil || loaded.Value != "true" {
		msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#chain`)))
		t.Fatalf("the page failed to load: %s %v (page errors: %v)", msg, err, b.jsErrors())
	}
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return s
}

func (b *browser) count(t *testing.T, js string) int {
	t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return n
}

func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
}

// lyingDashboardProxy proxies a node, changing answers the way a lying node would: the
// overdue obligation is said to be met, and a record's readable text is
// not what was signed.
func lyingDashboardProxy(t *testing.T, target string) *httptest.Server {
	t.Helper()
	u, _ := url.Parse(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, u.String()+r.URL.RequestURI(), r.Body)
		req.Header = r.Header.Clone()
		req.Header.Del("Accept-Encoding")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if strings.HasPrefix(r.URL.Path, "/v1/obligations") {
			body = bytes.ReplaceAll(body, []byte("OBLIGATION_STATUS_OVERDUE"), []byte("OBLIGATION_STATUS_MET"))
		}
		if r.URL.Path == "/v1/records" {
			body = bytes.ReplaceAll(body, []byte("Marrowgate"), []byte("Somewhere Else"))
		}
		if strings.HasPrefix(r.URL.Path, "/v1/sealed/") {
			// A recipient that never answered, claimed to have.
			body = bytes.ReplaceAll(body, []byte("OBLIGATION_STATUS_OPEN"), []byte("OBLIGATION_STATUS_MET"))
		}
		for k, vs := range resp.Header {
			if k != "Content-Length" {
				w.Header()[k] = vs
			}
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The dashboard, driven in headless Chromium against a seeded network: it
// shows the states and the overdue obligation, each verified in the
// browser against the pinned genesis hash; a record opens verified; behind
// a lying proxy the same page says NOT VERIFIED with the reason. A
// JavaScript exception fails the test.
func TestDashboard(t *testing.T) {
	t.Parallel() // an in-process network, mostly waiting on block time
	exe := chromium(t)
	ip := startInProcess(t, 3)
	keepLogsOnFailure(t, ip.net)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := Seed(ctx, ip.net, 10*time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	waitOverdue(t, ctx, ip.clients[0])
	dir := screenshotDir(t)
	b := newBrowser(t, exe)
	page := ip.net.Nodes[0].RESTURL() + "/ui/?trust=" + ip.net.GenesisHash

	b.open(t, page)
	if s := b.text(t, "#trust-status"); !strings.Contains(s, "headers verified") {
		t.Fatalf("trust status %q (page errors %v)", s, b.jsErrors())
	}
	members := b.count(t, `document.querySelectorAll("#members-table tr[data-member]").length`)
	verifiedMembers := b.count(t, `document.querySelectorAll("#members-table [data-verified=true]").length`)
	if members < 4 || verifiedMembers != members {
		t.Fatalf("%d members shown, %d verified: %s", members, verifiedMembers, b.text(t, "#members-table"))
	}
	if s := b.text(t, "#members-table"); !strings.Contains(s, "xaa") || !strings.Contains(s, "state") {
		t.Fatalf("members table: %s", s)
	}
	overdue := b.count(t, `document.querySelectorAll("#overdue-table tr.overdue [data-verified=true]").length`)
	if overdue < 1 {
		t.Fatalf("no verified overdue obligation: %s", b.text(t, "#overdue-table"))
	}
	b.screenshot(t, dir, "1-members-and-overdue")
	// Open a record: the verifier's own decoding of the signed bytes.
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`#records-table tr[data-record] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#record-detail`))); err != nil {
		t.Fatal(err)
	}
	if s := b.text(t, "#detail-badge"); s != "VERIFIED" {
		t.Fatalf("record detail badge %q: %s", s, b.text(t, "#detail-reason"))
	}
	b.screenshot(t, dir, "2-verified-record")
	// The exercise plan sealed to the other states: who was told, who
	// confirmed (xbb) and who did not (xcc), verified; never the body.
	if n := b.count(t, `document.querySelectorAll("#sealed-table tr[data-sealed] [data-verified=true]").length`); n < 1 {
		t.Fatalf("no verified sealed notice: %s", b.text(t, "#sealed-table"))
	}
	if s := b.text(t, "#sealed-table"); !strings.Contains(s, "xbb: confirmed") || !strings.Contains(s, "xcc: open") || strings.Contains(s, "red team") {
		t.Fatalf("sealed notices: %s", s)
	}
	if err := chromedp.Do(b.ctx, chromedp.ScrollIntoView(chromedp.CSS("#sealed"))); err != nil {
		t.Fatal(err)
	}
	b.screenshot(t, dir, "2b-sealed-notices")
	if errs := b.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors on the honest page: %v", errs)
	}

	// The same page through a lying proxy.
	lie := lyingDashboardProxy(t, ip.net.Nodes[0].RESTURL())
	b.open(t, lie.URL+"/ui/?trust="+ip.net.GenesisHash)
	bad := b.count(t, `document.querySelectorAll("#overdue-table [data-verified=false], #open-table [data-verified=false]").length`)
	if bad < 1 {
		t.Fatalf("the lying proxy's obligation was not refused: %s %s", b.text(t, "#overdue-table"), b.text(t, "#open-table"))
	}
	if s := b.text(t, "#records-table"); !strings.Contains(s, "NOT VERIFIED") || !strings.Contains(s, "decoded record") {
		t.Fatalf("the lying proxy's record text was not refused: %s", s)
	}
	if s := b.text(t, "#sealed-table"); !strings.Contains(s, "NOT VERIFIED") || !strings.Contains(s, "in its proof") {
		t.Fatalf("the lying proxy's receipt was not refused: %s", s)
	}
	b.screenshot(t, dir, "3-lying-proxy-not-verified")
	if errs := b.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %v", errs)
	}

	// An audit replays the seeded chain (the sealed plan, its receipts, the
	// missing one) block by block and finds nothing amiss.
	st, err := ip.clients[0].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ip.caughtUp(t, ctx)
	chainID, _ := ip.clients[0].ChainID(ctx)
	rep, err := audit.Run(ctx, audit.Options{API: ip.clients[0], NodeName: "node0",
		Witnesses: []*remote.Provider{remote.NewProvider(chainID, ip.clients[1].Base(), ip.clients[1])}, ToHeight: st.LatestAttestedHeight})
	if err != nil || !rep.OK() || rep.AppHashesMatched != rep.Blocks {
		t.Fatalf("audit of the seeded chain: %v %+v", err, rep)
	}
	t.Logf("audit of the seeded chain: %d blocks, %d txs, %d records, 0 discrepancies", rep.Blocks, rep.Txs, rep.RecordsCompared)
	fmt.Fprintf(os.Stderr, "dashboard screenshots in %s\n", dir)
}

// waitOverdue waits until the seeded consultation request's response is
// overdue.
func waitOverdue(t *testing.T, ctx context.Context, c *client.Client) {
	t.Helper()
	for {
		res, err := c.Obligations(ctx, &pb.ListObligationsRequest{Status: "overdue"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Obligations) > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("no obligation went overdue")
		case <-time.After(500 * time.Millisecond):
		}
	}
}
