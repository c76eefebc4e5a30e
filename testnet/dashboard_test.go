package testnet

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
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
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
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

// The lying proxy's change to the collective statement's text.
const statementVerb, statementLie = "The members condemn", "The members regret"

// lyingDashboardProxy proxies a node, changing answers the way a lying node would: the
// overdue obligations are said to be met, but for exerciseLie, a real
// overdue one, said to be an exercise duty (in the listing and in its own
// answer); a record's readable text is not what was signed (in the
// listing, and the collective statement's text where a record is read
// alone); in the directory, staleLie's entry is said to be stale and
// phoneLie's technical phone number is another one.
func lyingDashboardProxy(t *testing.T, target, staleLie, phoneLie, exerciseLie string) *httptest.Server {
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
		if strings.HasPrefix(r.URL.Path, "/v1/obligations") && resp.StatusCode == http.StatusOK {
			body = lieAboutObligations(t, body, exerciseLie)
		}
		if strings.HasPrefix(r.URL.Path, "/v1/cases/") {
			body = bytes.ReplaceAll(body, []byte("OBLIGATION_STATUS_OVERDUE"), []byte("OBLIGATION_STATUS_MET"))
		}
		if r.URL.Path == "/v1/records" {
			body = bytes.ReplaceAll(body, []byte("Marrowgate"), []byte("Somewhere Else"))
		}
		if strings.HasPrefix(r.URL.Path, "/v1/records/") {
			// The collective statement's text, softened.
			body = bytes.ReplaceAll(body, []byte(statementVerb), []byte(statementLie))
		}
		if strings.HasPrefix(r.URL.Path, "/v1/sealed/") {
			// A recipient that never answered, claimed to have.
			body = bytes.ReplaceAll(body, []byte("OBLIGATION_STATUS_OPEN"), []byte("OBLIGATION_STATUS_MET"))
		}
		if r.URL.Path == "/v1/directory" && resp.StatusCode == http.StatusOK {
			body = lieAboutDirectory(t, body, staleLie, phoneLie)
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

// lieAboutObligations rewrites a GET /v1/obligations or
// /v1/obligations/{id} answer: obligation exerciseLie is said to be an
// exercise duty (its status left alone), every other overdue one is said
// to be met.
func lieAboutObligations(t *testing.T, body []byte, exerciseLie string) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var ans map[string]any
	if err := dec.Decode(&ans); err != nil {
		t.Errorf("the obligations answer is not JSON: %v", err)
		return body
	}
	lie := func(v any) {
		o, _ := v.(map[string]any)
		switch {
		case o == nil:
		case o["id"] == exerciseLie:
			o["exercise"] = true
		case o["status"] == "OBLIGATION_STATUS_OVERDUE":
			o["status"] = "OBLIGATION_STATUS_MET"
		}
	}
	lie(ans["obligation"])
	obs, _ := ans["obligations"].([]any)
	for _, o := range obs {
		lie(o)
	}
	out, err := json.Marshal(ans)
	if err != nil {
		t.Error(err)
		return body
	}
	return out
}

// seededPhone is the technical phone number the seed registers for member.
func seededPhone(member string) string {
	return fixture.Contact(member, pb.ContactRole_CONTACT_ROLE_TECHNICAL).Channels[0].Address
}

// lieAboutDirectory rewrites a GET /v1/directory answer: staleLie's entry
// is listed stale (its member entry, which the proof covers, is left
// alone), and phoneLie's technical phone number is changed in both its
// listed entry and the member entry offered as proven.
func lieAboutDirectory(t *testing.T, body []byte, staleLie, phoneLie string) []byte {
	var ans map[string]any
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Errorf("the directory answer is not JSON: %v", err)
		return body
	}
	phone, fake := seededPhone(phoneLie), "+99 555 0199"
	contacts, _ := ans["contacts"].([]any)
	for _, c := range contacts {
		cm, _ := c.(map[string]any)
		switch cm["member"] {
		case staleLie:
			cm["stale"] = true
			cm["staleReasons"] = []any{"not reconfirmed since 2020-01-01 (due 2021-01-01)"}
		case phoneLie:
			replaceStrings(cm, phone, fake)
		}
	}
	members, _ := ans["members"].([]any)
	for _, m := range members {
		if mm, _ := m.(map[string]any); mm["id"] == phoneLie {
			replaceStrings(mm, phone, fake)
		}
	}
	out, err := json.Marshal(ans)
	if err != nil {
		t.Error(err)
		return body
	}
	return out
}

// replaceStrings replaces, in place, every string old in decoded JSON v.
func replaceStrings(v any, old, new string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == old {
				x[k] = new
			} else {
				replaceStrings(e, old, new)
			}
		}
	case []any:
		for i, e := range x {
			if e == old {
				x[i] = new
			} else {
				replaceStrings(e, old, new)
			}
		}
	}
}

// rowText is the text of the row of table sel whose attr is value.
func (b *browser) rowText(t *testing.T, sel, attr, value string) string {
	t.Helper()
	return b.text(t, fmt.Sprintf(`%s tr[%s=%q]`, sel, attr, value))
}

// rowVerified says whether that row's badge says VERIFIED.
func (b *browser) rowVerified(t *testing.T, sel, attr, value string) bool {
	t.Helper()
	return b.count(t, fmt.Sprintf(`document.querySelectorAll(%q).length`, fmt.Sprintf(`%s tr[%s=%q] [data-verified=true]`, sel, attr, value))) == 1
}

// The dashboard, driven in headless Chromium against a seeded network: it
// shows the states and the overdue obligation, each verified in the
// browser against the pinned genesis hash; a record opens verified; the
// directory lists every state's entry, verified, and the newest ping with
// each target's answer (the silent state's falls overdue); the evidence
// standards show (the drill and its duty marked EXERCISE and kept apart, the
// near-miss, the attribution, the declaration, the adopted statement whose
// text the page hashes to its digest, the attribution's reply duty read
// from its proven obligation); behind a lying proxy the same page says NOT
// VERIFIED with the reason (a real overdue duty said to be a drill is
// listed apart from both groups, never marked EXERCISE; an unverified
// record gets no summary). A JavaScript exception fails the test.
func TestDashboard(t *testing.T) {
	t.Parallel() // an in-process network, mostly waiting on block time
	exe := chromium(t)
	ip := startInProcess(t, 3)
	keepLogsOnFailure(t, ip.net)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	steps, err := Seed(ctx, ip.net, 10*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, s := range steps {
		if strings.HasPrefix(s.Name, "contact_") {
			states = append(states, s.Author)
		}
	}
	if len(states) < 3 {
		t.Fatalf("the seed filed %d contact updates: %v", len(states), steps)
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
	// The directory: every state's entry (two points) proven and current
	// at the verified block time; members that never filed one are shown
	// stale, verified all the same.
	for _, s := range states {
		row := b.rowText(t, "#directory-table", "data-contact", s)
		if !b.rowVerified(t, "#directory-table", "data-contact", s) || !strings.Contains(row, "current") ||
			!strings.Contains(row, "technical: phone "+seededPhone(s)) || !strings.Contains(row, "diplomatic: email") {
			t.Fatalf("directory entry of %s: %q (page errors %v)", s, row, b.jsErrors())
		}
	}
	if n, v := b.count(t, `document.querySelectorAll("#directory-table tr[data-contact]").length`),
		b.count(t, `document.querySelectorAll("#directory-table tr[data-contact] [data-verified=true]").length`); n <= len(states) || v != n {
		t.Fatalf("%d directory entries, %d verified: %s", n, v, b.text(t, "#directory-table"))
	}
	if row := b.rowText(t, "#directory-table", "data-contact", "observatory"); !strings.Contains(row, "STALE") || !strings.Contains(row, "no directory entry") ||
		b.count(t, `document.querySelectorAll('#directory-table tr.stale[data-contact="observatory"]').length`) != 1 {
		t.Fatalf("the observatory has no entry, its row says %q", row)
	}
	// The ping: every state but the last answered, each answer proven.
	silent := states[len(states)-1]
	for _, s := range states[:len(states)-1] {
		if row := b.rowText(t, "#ping-table", "data-ping-target", s); !b.rowVerified(t, "#ping-table", "data-ping-target", s) || !strings.Contains(row, "answered") {
			t.Fatalf("ping answer of %s: %q", s, row)
		}
	}
	// The silent state's answer falls overdue PingWithin after the ping:
	// wait for it on the node, then reload until the page's state shows it
	// (bounded).
	pingID, _ := directoryRound(t, ip.clients[0], steps)
	if s := b.text(t, "#ping-status h3"); !strings.Contains(s, pingID[:12]) {
		t.Fatalf("the newest ping shown is not the seed's %s: %q", pingID, s)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		b.open(t, page)
		row := b.rowText(t, "#ping-table", "data-ping-target", silent)
		if strings.Contains(row, "NO ANSWER (overdue)") {
			if !b.rowVerified(t, "#ping-table", "data-ping-target", silent) ||
				b.count(t, fmt.Sprintf(`document.querySelectorAll('#ping-table tr[data-ping-target=%q] .status-overdue').length`, silent)) != 1 {
				t.Fatalf("the silent state's ping row: %q", row)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the silent state %s's answer is not shown overdue: %q", silent, row)
		}
		time.Sleep(time.Second)
	}
	if row := b.rowText(t, "#directory-table", "data-contact", silent); !b.rowVerified(t, "#directory-table", "data-contact", silent) {
		t.Fatalf("directory entry of the silent state: %q", row)
	}
	if err := chromedp.Do(b.ctx, chromedp.ScrollIntoView(chromedp.CSS("#directory"))); err != nil {
		t.Fatal(err)
	}
	b.screenshot(t, dir, "2c-directory")

	// The seed's case: verified, its timeline and duties from the proven
	// state; the respondent never replies, and once its window has closed
	// at the verified block time the page says NO REPLY (bounded wait).
	var caseID string
	for _, s := range steps {
		if s.Name == CaseStep {
			caseID = s.ID
		}
	}
	if caseID == "" {
		t.Fatalf("the seed filed no case: %v", steps)
	}
	for deadline := time.Now().Add(CaseReplyWithin + 30*time.Second); ; {
		row := b.rowText(t, "#cases-table", "data-case", caseID)
		if !b.rowVerified(t, "#cases-table", "data-case", caseID) || !strings.Contains(row, "request consultation by") ||
			!strings.Contains(row, "reply consultation") {
			t.Fatalf("the seed's case row: %q", row)
		}
		if strings.Contains(row, "NO REPLY from") {
			if !strings.Contains(row, "overdue") {
				t.Fatalf("NO REPLY without an overdue reply duty: %q", row)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the seed's case does not show the missed reply: %q", row)
		}
		time.Sleep(time.Second)
		b.open(t, page)
	}
	if err := chromedp.Do(b.ctx, chromedp.ScrollIntoView(chromedp.CSS("#cases"))); err != nil {
		t.Fatal(err)
	}
	b.screenshot(t, dir, "2d-cases")
	redactedRecordInBrowser(t, b, ip.net, page, steps, dir)
	statementID := evidenceInBrowser(t, b, ip.clients[0], page, steps, dir)
	if errs := b.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors on the honest page: %v", errs)
	}

	// The same page through a lying proxy.
	staleLie, phoneLie := states[0], states[1]
	exerciseLie := realOverdue(t, ip.clients[0])
	lie := lyingDashboardProxy(t, ip.net.Nodes[0].RESTURL(), staleLie, phoneLie, exerciseLie)
	b.open(t, lie.URL+"/ui/?trust="+ip.net.GenesisHash)
	bad := b.count(t, `document.querySelectorAll("#overdue-table [data-verified=false], #open-table [data-verified=false]").length`)
	if bad < 1 {
		t.Fatalf("the lying proxy's obligation was not refused: %s %s", b.text(t, "#overdue-table"), b.text(t, "#open-table"))
	}
	// A real overdue duty said to be a drill: NOT VERIFIED, listed apart
	// from both groups, never marked EXERCISE nor counted as one.
	sel := fmt.Sprintf(`#overdue-table tr[data-obligation=%q]`, exerciseLie)
	if row := b.rowText(t, "#overdue-table", "data-obligation", exerciseLie); b.rowVerified(t, "#overdue-table", "data-obligation", exerciseLie) ||
		!strings.Contains(row, "NOT VERIFIED") || strings.Contains(row, "EXERCISE") ||
		b.count(t, fmt.Sprintf(`document.querySelectorAll('%s[data-group=unverified]:not(.exercise)').length`, sel)) != 1 ||
		b.count(t, fmt.Sprintf(`document.querySelectorAll('%s [data-marker=exercise]').length`, sel)) != 0 ||
		b.count(t, `document.querySelectorAll('#overdue-table tr[data-group=unverified] [data-marker=exercise], #overdue-table tr.unverified.exercise').length`) != 0 {
		t.Fatalf("the real overdue duty %s said to be an exercise duty: %q (table: %s)", exerciseLie, row, b.text(t, "#overdue-table"))
	}
	if s := b.text(t, "#overdue-table-count"); strings.Contains(s, "exercise") || !strings.Contains(s, "NOT VERIFIED") {
		t.Fatalf("the overdue count behind the lying proxy: %q", s)
	}
	if s := b.text(t, "#overdue-table"); strings.Contains(s, "Exercise duties") {
		t.Fatalf("an exercise group of unverified duties: %s", s)
	}
	if s := b.text(t, "#records-table"); !strings.Contains(s, "NOT VERIFIED") || !strings.Contains(s, "decoded record") {
		t.Fatalf("the lying proxy's record text was not refused: %s", s)
	}
	if s := b.text(t, "#sealed-table"); !strings.Contains(s, "NOT VERIFIED") || !strings.Contains(s, "in its proof") {
		t.Fatalf("the lying proxy's receipt was not refused: %s", s)
	}
	// A stale status the proven entry does not give, and a phone number
	// that is not the proven one: NOT VERIFIED, with the reason; the other
	// entries still verify.
	if row := b.rowText(t, "#directory-table", "data-contact", staleLie); b.rowVerified(t, "#directory-table", "data-contact", staleLie) ||
		!strings.Contains(row, "NOT VERIFIED") || !strings.Contains(row, "the node says the entry is stale, the proven entry is current") {
		t.Fatalf("the lying proxy's stale entry was not refused: %q", row)
	}
	if row := b.rowText(t, "#directory-table", "data-contact", phoneLie); b.rowVerified(t, "#directory-table", "data-contact", phoneLie) ||
		!strings.Contains(row, "NOT VERIFIED") || !strings.Contains(row, "differs from the proven member") {
		t.Fatalf("the lying proxy's phone number was not refused: %q", row)
	}
	if !b.rowVerified(t, "#directory-table", "data-contact", silent) {
		t.Fatalf("an honest directory entry behind the lying proxy: %q", b.rowText(t, "#directory-table", "data-contact", silent))
	}
	// The silent state's overdue answer, said to be met.
	if row := b.rowText(t, "#ping-table", "data-ping-target", silent); b.rowVerified(t, "#ping-table", "data-ping-target", silent) || !strings.Contains(row, "NOT VERIFIED") {
		t.Fatalf("the lying proxy's ping answer was not refused: %q", row)
	}
	// The case's overdue reply, said to be met.
	if row := b.rowText(t, "#cases-table", "data-case", caseID); b.rowVerified(t, "#cases-table", "data-case", caseID) || !strings.Contains(row, "NOT VERIFIED") {
		t.Fatalf("the lying proxy's case was not refused: %q", row)
	}
	// The collective statement with another text: its record is refused,
	// and no digest result is given for the node's unverified copy.
	if row := b.rowText(t, "#statements-table", "data-statement", statementID); b.rowVerified(t, "#statements-table", "data-statement", statementID) ||
		!strings.Contains(row, "NOT VERIFIED") || !strings.Contains(row, "digest not checked") || strings.Contains(row, "digest matches") ||
		!strings.Contains(row, statementLie) ||
		b.count(t, fmt.Sprintf(`document.querySelectorAll('#statements-table tr[data-statement=%q] [data-digest=unchecked]').length`, statementID)) != 1 {
		t.Fatalf("the lying proxy's statement text was not refused: %q", row)
	}
	b.screenshot(t, dir, "3-lying-proxy-not-verified")
	if err := chromedp.Do(b.ctx, chromedp.ScrollIntoView(chromedp.CSS("#directory"))); err != nil {
		t.Fatal(err)
	}
	b.screenshot(t, dir, "3b-lying-proxy-directory")
	if err := chromedp.Do(b.ctx, chromedp.ScrollIntoView(chromedp.CSS("#statements"))); err != nil {
		t.Fatal(err)
	}
	b.screenshot(t, dir, "3c-lying-proxy-statement")
	unverifiedRecordInBrowser(t, b, lie.URL+"/ui/?trust="+ip.net.GenesisHash, steps)
	b.screenshot(t, dir, "3d-lying-proxy-record")
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

// realOverdue is an overdue obligation that is not an exercise duty.
func realOverdue(t *testing.T, c *client.Client) string {
	t.Helper()
	res, err := c.Obligations(context.Background(), &pb.ListObligationsRequest{Status: "overdue", Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Obligations {
		if !o.Exercise {
			return o.Id
		}
	}
	t.Fatalf("no real overdue obligation: %v", res.Obligations)
	return ""
}

// unverifiedRecordInBrowser opens, behind the lying proxy (whose listing
// changes its summary), the seed's attribution: NOT VERIFIED, and its
// detail shows no summary read from the node's copy (no co-signature
// badges, no reply duties), nor any marker.
func unverifiedRecordInBrowser(t *testing.T, b *browser, page string, steps []SeedStep) {
	t.Helper()
	var at SeedStep
	for _, s := range steps {
		if s.Name == AttributionStep {
			at = s
		}
	}
	b.open(t, page+"&"+url.Values{"kind": {"attribution"}, "author": {at.Author}}.Encode())
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#records-table tr[data-record=%q] button`, at.ID))),
		chromedp.WaitVisible(chromedp.CSS(`#record-detail`))); err != nil {
		t.Fatalf("open the attribution behind the lying proxy: %v", err)
	}
	summary := b.text(t, "#detail-summary")
	if s := b.text(t, "#detail-badge"); s != "NOT VERIFIED" || !strings.Contains(summary, "NOT VERIFIED") || strings.Contains(summary, "co-signed") ||
		b.count(t, `document.querySelectorAll('#detail-summary [data-cosigner], #detail-summary [data-reply-duty], #detail-summary .badge.ok, #detail-markers .badge').length`) != 0 {
		t.Fatalf("the attribution behind the lying proxy: badge %q, summary %q", s, summary)
	}
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

// redactedRecordInBrowser opens the seed's redacted incident: its withheld
// fields are shown REDACTED and the operator's name is nowhere on the page;
// the author's disclosures file, read and checked in the page (never
// uploaded: the input only hands the file to the page's own verifier),
// proves the name against its digest; a file with a changed name does not.
func redactedRecordInBrowser(t *testing.T, b *browser, nw *Network, page string, steps []SeedStep, dir string) {
	t.Helper()
	var id, victim string
	for _, s := range steps {
		if s.Name == RedactedStep {
			id, victim = s.ID, s.Author
		}
	}
	if id == "" {
		t.Fatalf("the seed filed no redacted incident: %v", steps)
	}
	row := fmt.Sprintf(`#records-table tr[data-record=%q] button`, id)
	b.openRecord(t, page, "incident_disclosure", victim, id)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#detail-withheld`))); err != nil {
		t.Fatalf("the redacted record's withheld fields: %v", err)
	}
	withheld := b.text(t, "#detail-withheld")
	if !strings.Contains(withheld, "affected_entities: REDACTED") || !strings.Contains(withheld, "impacts: REDACTED") ||
		!strings.Contains(withheld, "commercial") || strings.Contains(b.text(t, "#record-detail"), OperatorName) {
		t.Fatalf("the redacted record's detail: %s", b.text(t, "#record-detail"))
	}
	path := filepath.Join(nw.MemberHomes[victim], "disclosures", id+".json")
	if err := chromedp.Do(b.ctx, chromedp.SetUploadFiles(chromedp.CSS(`#disclosures-file`), []string{path}),
		chromedp.WaitVisible(chromedp.CSS(`#disclosures-badge[data-verified=true]`))); err != nil {
		t.Fatalf("check the author's disclosures: %v (%s)", err, b.text(t, "#detail-withheld"))
	}
	if s := b.text(t, `#withheld-list li[data-withheld="affected_entities"]`); !strings.Contains(s, "PROVEN "+OperatorName) {
		t.Fatalf("the operator's name is not proven: %q", s)
	}
	b.screenshot(t, dir, "2e-redacted-record")
	// The same file with another name: refused, the field stays REDACTED.
	bundle, err := client.ReadDisclosures(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range bundle.Disclosures {
		if d.Path == "affected_entities" {
			d.Value, _ = ledger.Canonical(&pb.IncidentDisclosure{AffectedEntities: []string{"Southgrid Water Authority"}})
		}
	}
	forged := filepath.Join(t.TempDir(), "forged.json")
	if err := client.WriteDisclosures(forged, bundle); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(row)), chromedp.WaitVisible(chromedp.CSS(`#detail-withheld`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#disclosures-file`), []string{forged}),
		chromedp.WaitVisible(chromedp.CSS(`#disclosures-badge[data-verified=false]`))); err != nil {
		t.Fatalf("check a forged disclosures file: %v (%s)", err, b.text(t, "#detail-withheld"))
	}
	if s := b.text(t, "#detail-withheld"); !strings.Contains(s, "DISCLOSURES NOT VERIFIED") || !strings.Contains(s, "do not give") ||
		!strings.Contains(s, "affected_entities: REDACTED") {
		t.Fatalf("a forged name in the browser: %s", s)
	}
}

// openRecord loads the page with its records filtered by kind and author
// (the filter form's own parameters), opens record id and checks that its
// detail is verified; it returns the detail's text.
func (b *browser) openRecord(t *testing.T, page, kind, author, id string) string {
	t.Helper()
	b.open(t, page+"&"+url.Values{"kind": {kind}, "author": {author}}.Encode())
	row := fmt.Sprintf(`#records-table tr[data-record=%q] button`, id)
	if n := b.count(t, fmt.Sprintf(`document.querySelectorAll(%q).length`, row)); n != 1 {
		t.Fatalf("the %s %s is not listed by kind and author: %s", kind, id, b.text(t, "#records-table"))
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(row)), chromedp.WaitVisible(chromedp.CSS(`#record-detail`))); err != nil {
		t.Fatalf("open the %s %s: %v", kind, id, err)
	}
	if s := b.text(t, "#detail-id"); s != id {
		t.Fatalf("the detail shows record %q, want %s", s, id)
	}
	if s := b.text(t, "#detail-badge"); s != "VERIFIED" {
		t.Fatalf("the %s's detail badge %q: %s", kind, s, b.text(t, "#detail-reason"))
	}
	return b.text(t, "#record-detail")
}

// marked counts the markers (exercise, near-miss) on record id's row.
func (b *browser) marked(t *testing.T, id, marker string) int {
	t.Helper()
	return b.count(t, fmt.Sprintf(`document.querySelectorAll('#records-table tr[data-record=%q] [data-marker=%q]').length`, id, marker))
}

// evidenceInBrowser checks the seed's evidence standards in the page
// (testnet/standards.go): the drill's notice and its overdue duty marked
// EXERCISE, the duty listed apart from the real ones and out of the
// debtor's verified figures; the blocked attempt marked NEAR-MISS; the
// attribution's summary with its kind, standard and the co-attributor's
// signature on the transaction; the declaration's year; the collective
// statement adopted, its text hashing to its signed digest in the page.
// It returns the statement's proposal id.
func evidenceInBrowser(t *testing.T, b *browser, c *client.Client, page string, steps []SeedStep, dir string) string {
	t.Helper()
	step := map[string]SeedStep{}
	for _, s := range steps {
		step[s.Name] = s
	}
	for _, n := range []string{AttributionStep, DeclarationStep, StatementStep, ExerciseStep, NearMissStep, JointAssessmentStep, MethodologyStep} {
		if step[n].ID == "" {
			t.Fatalf("the seed filed no %s: %v", n, steps)
		}
	}
	if !strings.Contains(StatementText, statementVerb) {
		t.Fatalf("the lying proxy would not change the statement %q", StatementText)
	}
	// The drill's response duty falls overdue ExerciseWithin after it is
	// filed: wait for it on the node, then reload until the page shows it.
	drill := step[ExerciseStep]
	var duty *pb.Obligation
	for deadline := time.Now().Add(ExerciseWithin + 30*time.Second); duty == nil; time.Sleep(500 * time.Millisecond) {
		res, err := c.Obligations(context.Background(), &pb.ListObligationsRequest{Status: "overdue", Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Obligations {
			if o.SourceRecord == drill.ID {
				duty = o
			}
		}
		if duty == nil && time.Now().After(deadline) {
			t.Fatalf("the drill %s placed no overdue duty", drill.ID)
		}
	}
	if !duty.Exercise {
		t.Fatalf("the drill's duty %s is not an exercise duty", duty.Id)
	}
	dutyRow := fmt.Sprintf(`#overdue-table tr[data-obligation=%q]`, duty.Id)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		b.open(t, page)
		if b.count(t, fmt.Sprintf(`document.querySelectorAll(%q).length`, dutyRow)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the drill's overdue duty %s is not shown: %s", duty.Id, b.text(t, "#overdue-table"))
		}
	}
	// Marked EXERCISE and listed apart, below every real duty.
	if row := b.rowText(t, "#overdue-table", "data-obligation", duty.Id); !b.rowVerified(t, "#overdue-table", "data-obligation", duty.Id) ||
		!strings.Contains(row, "EXERCISE") ||
		b.count(t, fmt.Sprintf(`document.querySelectorAll('#overdue-table tr.exercise[data-group=exercise][data-obligation=%q] [data-marker=exercise]').length`, duty.Id)) != 1 ||
		b.count(t, fmt.Sprintf(`document.querySelectorAll('#overdue-table tr.exercise-head ~ tr[data-obligation=%q]').length`, duty.Id)) != 1 ||
		b.count(t, `document.querySelectorAll('#overdue-table tr.exercise-head ~ tr:not(.exercise)').length`) != 0 {
		t.Fatalf("the drill's overdue duty: %q (table: %s)", row, b.text(t, "#overdue-table"))
	}
	if s := b.text(t, "#overdue-table-count"); !strings.Contains(s, "exercise, apart") {
		t.Fatalf("the overdue count does not keep the drill apart: %q", s)
	}
	if n := b.count(t, `document.querySelectorAll('#overdue-table tr:not(.exercise) [data-marker=exercise]').length`); n != 0 {
		t.Fatalf("%d real overdue duties marked EXERCISE: %s", n, b.text(t, "#overdue-table"))
	}
	// The debtor's figures, verified: its exercise duty counted apart (the
	// page checks from the proofs that no real figure counts an exercise
	// duty, and that the exercise count's duties are exercise ones).
	if row := b.rowText(t, "#members-table", "data-member", duty.Debtor); !b.rowVerified(t, "#members-table", "data-member", duty.Debtor) ||
		!strings.Contains(row, "EXERCISE apart") || !strings.Contains(row, "overdue") {
		t.Fatalf("the drill's debtor %s in the members table: %q", duty.Debtor, row)
	}
	b.screenshot(t, dir, "4a-exercise-duty")

	// The collective statement: adopted, each vote proven, its text
	// hashing to its digest in the page.
	st := step[StatementStep].ID
	if row := b.rowText(t, "#statements-table", "data-statement", st); !b.rowVerified(t, "#statements-table", "data-statement", st) ||
		!strings.Contains(row, "adopted") || !strings.Contains(row, "digest matches") || !strings.Contains(row, StatementText) ||
		b.count(t, fmt.Sprintf(`document.querySelectorAll('#statements-table tr[data-statement=%q] [data-digest=match]').length`, st)) != 1 {
		t.Fatalf("the collective statement: %q (page errors %v)", row, b.jsErrors())
	}
	for _, s := range steps {
		if strings.HasPrefix(s.Name, "vote_statement_") {
			if row := b.rowText(t, "#statements-table", "data-statement", st); !strings.Contains(row, s.Author+": yes") {
				t.Fatalf("the statement's row does not show %s's yes vote: %q", s.Author, row)
			}
		}
	}
	if err := chromedp.Do(b.ctx, chromedp.ScrollIntoView(chromedp.CSS("#statements"))); err != nil {
		t.Fatal(err)
	}
	b.screenshot(t, dir, "4b-collective-statement")

	// The drill's notice carries EXERCISE, the real consultation request
	// by the same author does not.
	b.openRecord(t, page, "notification", drill.Author, drill.ID)
	if n := b.marked(t, drill.ID, "exercise"); n != 1 {
		t.Fatalf("the drill's row carries %d EXERCISE markers: %s", n, b.rowText(t, "#records-table", "data-record", drill.ID))
	}
	if real := step[ConsultationStep]; b.marked(t, real.ID, "exercise") != 0 {
		t.Fatalf("the real consultation request is marked EXERCISE: %s", b.rowText(t, "#records-table", "data-record", real.ID))
	}
	// The blocked attempt carries NEAR-MISS.
	nm := step[NearMissStep]
	if s := b.openRecord(t, page, "incident_disclosure", nm.Author, nm.ID); b.marked(t, nm.ID, "near-miss") != 1 || !strings.Contains(s, "NEAR-MISS") {
		t.Fatalf("the near-miss: row %q, detail %s", b.rowText(t, "#records-table", "data-record", nm.ID), s)
	}
	if n := b.count(t, `document.querySelectorAll('#records-table [data-marker=near-miss]').length`); n != 1 {
		t.Fatalf("%d incident disclosures of %s marked NEAR-MISS, want 1", n, nm.Author)
	}
	de := step[DeclarationStep]
	// The attribution: its kind and standard, the co-attributor's
	// signature on the transaction, the evidence digest in hex.
	at := step[AttributionStep]
	co := de.Author // the seed's first state co-attributes, and declares
	s := b.openRecord(t, page, "attribution", at.Author, at.ID)
	summary := b.text(t, "#detail-summary")
	if !strings.Contains(summary, "political") || !strings.Contains(summary, "clear and convincing") || !strings.Contains(summary, "ARSIWA art. 8") ||
		!strings.Contains(summary, "direction or control") || !strings.Contains(summary, co+": co-signed the transaction") ||
		!strings.Contains(summary, hex.EncodeToString(digest("evidence bundle HOSP-2026-117 v1"))) || !strings.Contains(summary, "168 hours") ||
		b.count(t, fmt.Sprintf(`document.querySelectorAll('#detail-summary [data-cosigner=%q][data-cosigned=true]').length`, co)) != 1 {
		t.Fatalf("the attribution's detail: %s", s)
	}
	// The origin's reply duty, read from its proven obligation (the page
	// derives its id): due 168 hours after the attribution, met by the
	// origin's reply. The named group is no member: it owes none.
	origin := step[AttributionReplyStep].Author
	dctx, dcancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer dcancel()
	if err := chromedp.Do(dctx, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail-summary li[data-reply-duty=%q][data-verified=true]`, origin)))); err != nil {
		t.Fatalf("the origin's reply duty is not proven: %v (%s)", err, b.text(t, "#detail-summary"))
	}
	if line := b.text(t, fmt.Sprintf(`#detail-summary li[data-reply-duty=%q]`, origin)); !strings.Contains(line, "reply due") || !strings.Contains(line, "met") {
		t.Fatalf("the origin's reply duty: %q", line)
	}
	if err := chromedp.Do(dctx, chromedp.WaitVisible(chromedp.CSS(`#detail-summary li[data-reply-duty="BRINE-TIDE"][data-verified=none]`))); err != nil {
		t.Fatalf("the named group's reply duty: %v (%s)", err, b.text(t, "#detail-summary"))
	}
	b.screenshot(t, dir, "4c-attribution")
	// The joint harm assessment: harms by dimension, the co-assessor's
	// signature and its dissent.
	ja := step[JointAssessmentStep]
	b.openRecord(t, page, "harm_assessment", ja.Author, ja.ID)
	if s := b.text(t, "#detail-summary"); !strings.Contains(s, "physical") || !strings.Contains(s, "second order") || !strings.Contains(s, "oncology outpatients") ||
		!strings.Contains(s, "lumen: co-signed the transaction") || !strings.Contains(s, "anecdote") {
		t.Fatalf("the joint harm assessment's detail: %s", s)
	}
	// The method it cites: its document digest in hex.
	me := step[MethodologyStep]
	b.openRecord(t, page, "methodology", me.Author, me.ID)
	if s := b.text(t, "#detail-summary"); !strings.Contains(s, hex.EncodeToString(digest(MethodDocument))) || !strings.Contains(s, "psychological") {
		t.Fatalf("the methodology's detail: %s", s)
	}
	// The declaration: its year and organisation.
	b.openRecord(t, page, "declaration", de.Author, de.ID)
	if s := b.text(t, "#detail-summary"); !strings.Contains(s, fmt.Sprintf("National declaration for %d", time.Now().UTC().Year())) ||
		!strings.Contains(s, "National CERT") || !strings.Contains(s, "critical infrastructure") {
		t.Fatalf("the declaration's detail: %s", s)
	}
	b.screenshot(t, dir, "4d-declaration")
	return st
}
