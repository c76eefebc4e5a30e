package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/internal/testports"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/monitor"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// TestMonitor runs `normledger monitor` against a two-validator in-process
// network: a member's obligation goes overdue and is reported once across a
// stop, a SIGKILL of the real binary and crashes at each step of the
// delivery protocol; and a webhook that is down for a while (503, then
// connection refused) gets every event afterwards, in order.
func TestMonitor(t *testing.T) {
	t.Parallel() // an in-process network, mostly waiting on block time
	ip := startInProcess(t, 2)
	t.Run("group", func(t *testing.T) {
		t.Run("webhook down", func(t *testing.T) {
			t.Parallel()
			testMonitorWebhookDown(t, ip)
		})
		t.Run("restarts", func(t *testing.T) {
			t.Parallel()
			t.Run("stopped", func(t *testing.T) { testMonitorStopped(t, ip) })
			t.Run("killed", func(t *testing.T) { testMonitorKilled(t, ip) })
			t.Run("crash points", func(t *testing.T) { testMonitorCrashPoints(t, ip) })
		})
	})
}

// --- helpers ------------------------------------------------------------------

var (
	notifyMu sync.Mutex // one author's transactions need consecutive sequences
	notifyN  atomic.Int64
)

// notify files a consultation request from -> to whose response falls due
// respondIn from now; it returns the record id and the ids of the
// recipient's respond and acknowledge obligations.
func (ip *inproc) notify(t *testing.T, from, to string, respondIn time.Duration) (rec, respond, ack string) {
	t.Helper()
	notifyMu.Lock()
	defer notifyMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	signer, err := ip.net.Signer(from)
	if err != nil {
		t.Fatal(err)
	}
	due := time.Now().UTC().Truncate(time.Second).Add(respondIn)
	r := &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type:              pb.NotificationType_NOTIFICATION_TYPE_CONSULTATION_REQUEST,
		Recipients:        []string{to},
		Summary:           fmt.Sprintf("Monitor test consultation %d (%s); please respond.", notifyN.Add(1), t.Name()),
		ResponseRequested: true,
		RespondBy:         timestamppb.New(due),
	}}}
	res, err := ip.clients[0].Submit(ctx, r, signer, nil, true)
	if err != nil || !res.Committed {
		t.Fatalf("notification %s -> %s: %+v %v", from, to, res, err)
	}
	if err := ip.clients[0].WaitAttested(ctx, res.Height); err != nil {
		t.Fatal(err)
	}
	return res.ID, ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_RESPOND, res.ID, to),
		ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_ACKNOWLEDGE, res.ID, to)
}

// waitOverdue waits until the node says obligation id is overdue.
func (ip *inproc) waitOverdue(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := ip.clients[0].Obligation(context.Background(), id, 0, false)
		if err == nil && res.Obligation.GetStatus() == pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("obligation %s not overdue after 30s (%v, %v)", id, res.GetObligation().GetStatus(), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (ip *inproc) attested(t *testing.T) int64 {
	t.Helper()
	st, err := ip.clients[0].Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.LatestAttestedHeight
}

// eventLog collects the JSON lines a monitor prints, across its runs.
type eventLog struct {
	mu   sync.Mutex
	buf  []byte
	evs  []monitor.Event
	runs []int // index in evs where each run began
}

func (l *eventLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := append([]byte(nil), l.buf[:i]...)
		l.buf = append(l.buf[:0], l.buf[i+1:]...)
		var ev monitor.Event
		if err := json.Unmarshal(line, &ev); err != nil || ev.ID == "" {
			ev = monitor.Event{ID: "unparsable:" + string(line)}
		}
		l.evs = append(l.evs, ev)
	}
}

func (l *eventLog) newRun() {
	l.mu.Lock()
	l.runs = append(l.runs, len(l.evs))
	l.mu.Unlock()
}

func (l *eventLog) snapshot() []monitor.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]monitor.Event(nil), l.evs...)
}

func (l *eventLog) count(id string) int {
	n := 0
	for _, ev := range l.snapshot() {
		if ev.ID == id {
			n++
		}
	}
	return n
}

// wait waits until the event id was printed and returns it.
func (l *eventLog) wait(t *testing.T, id string, timeout time.Duration) monitor.Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, ev := range l.snapshot() {
			if ev.ID == id {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event %s after %s; got %v", id, timeout, l.ids())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *eventLog) ids() []string {
	var out []string
	for _, ev := range l.snapshot() {
		out = append(out, ev.ID)
	}
	return out
}

// checkOnce: each id was printed exactly once.
func (l *eventLog) checkOnce(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if n := l.count(id); n != 1 {
			t.Errorf("event %s printed %d times, want once; events: %v", id, n, l.ids())
		}
	}
}

// checkNoDuplicates: no id was printed twice, except those in allowed (with
// the count allowed).
func (l *eventLog) checkNoDuplicates(t *testing.T, allowed map[string]int) {
	t.Helper()
	n := map[string]int{}
	for _, ev := range l.snapshot() {
		n[ev.ID]++
		if strings.HasPrefix(ev.ID, "unparsable:") {
			t.Errorf("monitor printed a line that is not an event: %q", ev.ID)
		}
	}
	for id, c := range n {
		if want := max(1, allowed[id]); c != want {
			t.Errorf("event %s printed %d times, want %d", id, c, want)
		}
	}
}

// stateFile is what the tests read of a monitor's state file.
type stateFile struct {
	Height  int64           `json:"height"`
	Pending []monitor.Event `json:"pending"`
}

func readState(t *testing.T, path string) stateFile {
	t.Helper()
	var st stateFile
	bz, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(bz, &st); err != nil {
		t.Fatalf("state file %s: %v", path, err)
	}
	return st
}

// waitProcessed waits until the state file says height h was processed and
// every event queued was delivered.
func waitProcessed(t *testing.T, path string, h int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := readState(t, path)
		if st.Height >= h && len(st.Pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s: height %d with %d pending after 30s, want height %d", path, st.Height, len(st.Pending), h)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (ip *inproc) monitorArgs(member, home, state string, extra ...string) []string {
	return append([]string{"monitor", "--member", member, "--home", home, "--node", ip.net.Nodes[0].RESTURL(),
		"--witness", ip.net.Nodes[1].RESTURL(), "--genesis", ip.net.Genesis, "--state", state, "-o", "json",
		"--interval", "200ms"}, extra...)
}

func (ip *inproc) monitorOptions(member, state string, out, errOut io.Writer) monitor.Options {
	return monitor.Options{Member: member, Node: ip.net.Nodes[0].RESTURL(), Witnesses: []string{ip.net.Nodes[1].RESTURL()},
		Genesis: ip.net.Genesis, StatePath: state, Within: 24 * time.Hour, Interval: 200 * time.Millisecond, JSON: true,
		Out: out, Err: errOut}
}

// running is a monitor running in this process.
type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when it returned, with err
	err    error
}

func (r *running) run(fn func() error) {
	go func() {
		r.err = fn()
		close(r.done)
	}()
}

// wait waits for the monitor to return by itself.
func (r *running) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(timeout):
		t.Fatalf("the monitor did not return within %s", timeout)
		return nil
	}
}

// stop ends its context and waits for it.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t, 30*time.Second)
}

// startCLI runs `normledger monitor` (the cobra command) in this process.
func startCLI(t *testing.T, args []string, out io.Writer, errOut io.Writer) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	root := cli.NewRootCmd(out, errOut, strings.NewReader(""))
	root.SetArgs(args)
	r.run(func() error { return root.ExecuteContext(ctx) })
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// startRun runs monitor.Run in this process.
func startRun(t *testing.T, o monitor.Options) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	r.run(func() error { return monitor.Run(ctx, o) })
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// monitorStderr is a buffer for a monitor's stderr, logged if the test
// fails.
func monitorStderr(t *testing.T) *syncBuffer {
	b := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("monitor stderr:\n%s", b.String())
		}
	})
	return b
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// --- 1. overdue, reported once across restarts ------------------------------------

// A member's obligation goes overdue: the monitor reports it (with the
// record and the due-soon warnings) once; it is stopped; another obligation
// goes overdue while it is down; restarted on the same state file, it
// reports that one and repeats nothing. A --once run afterwards adds
// nothing either.
func testMonitorStopped(t *testing.T, ip *inproc) {
	start := time.Now()
	home := t.TempDir()
	state := filepath.Join(home, "monitor-xbb.json")
	all := &eventLog{}
	errOut := monitorStderr(t)
	m1 := startCLI(t, ip.monitorArgs("xbb", home, state), all, errOut)
	waitProcessed(t, state, 1)
	rec1, resp1, ack1 := ip.notify(t, "xaa", "xbb", 4*time.Second)
	ev := all.wait(t, "overdue:"+resp1, 30*time.Second)
	if ev.Obligation == nil || ev.Obligation.Status != "overdue" || ev.Obligation.Debtor != "xbb" || ev.Proof.Key == "" ||
		ev.Proof.HeaderHeight != ev.Height+1 || ev.Proof.ListingComplete {
		t.Fatalf("overdue event: %+v", ev)
	}
	all.wait(t, "due_soon:"+ack1, 10*time.Second)
	if err := m1.stop(t); err != nil {
		t.Fatalf("first run: %v", err)
	}
	stopped := readState(t, state)

	rec2, resp2, ack2 := ip.notify(t, "xaa", "xbb", 3*time.Second)
	ip.waitOverdue(t, resp2)
	all.newRun()
	m2 := startCLI(t, ip.monitorArgs("xbb", home, state), all, errOut)
	all.wait(t, "overdue:"+resp2, 30*time.Second)
	waitProcessed(t, state, ip.attested(t)+3) // a few more steps: nothing repeats
	if err := m2.stop(t); err != nil {
		t.Fatalf("second run: %v", err)
	}
	// --once: up to the newest height, then exit.
	var onceErr syncBuffer
	root := cli.NewRootCmd(all, &onceErr, strings.NewReader(""))
	root.SetArgs(ip.monitorArgs("xbb", home, state, "--once"))
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("--once: %v\n%s", err, onceErr.String())
	}
	// The creditor's view, from a fresh state: its first run reports the
	// obligations owed to it that are overdue now; a second adds nothing.
	xaa := &eventLog{}
	xaaState := filepath.Join(home, "monitor-xaa.json")
	for i := 0; i < 2; i++ {
		root := cli.NewRootCmd(xaa, &onceErr, strings.NewReader(""))
		root.SetArgs(ip.monitorArgs("xaa", home, xaaState, "--once"))
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("--once for xaa: %v\n%s", err, onceErr.String())
		}
	}
	xaa.checkOnce(t, "owed_overdue:"+resp1, "owed_overdue:"+resp2)
	xaa.checkNoDuplicates(t, nil)
	for _, ev := range xaa.snapshot() {
		if ev.Type == monitor.EventRecord {
			continue // xaa files the other subtest's notifications meanwhile
		}
		if ev.Type != monitor.EventOwedOverdue || ev.Obligation.Debtor == "xaa" || ev.Obligation.Status != "overdue" {
			t.Errorf("xaa's first run reported %s (%+v)", ev.ID, ev.Obligation)
		}
	}
	rec := all.wait(t, "record:"+rec1, 0)
	if rec.Record == nil || rec.Record.Author != "xaa" || len(rec.Record.Roles) != 1 || rec.Record.Roles[0] != "recipient" || !rec.Proof.ListingComplete {
		t.Errorf("record event: %+v", rec)
	}
	all.checkOnce(t, "record:"+rec1, "due_soon:"+resp1, "due_soon:"+ack1, "overdue:"+resp1,
		"record:"+rec2, "due_soon:"+ack2, "overdue:"+resp2)
	// resp2 fell overdue while the monitor was down. A due-soon for it is
	// right only if the first height processed after the restart still had
	// it open (the monitor stays at a height every witness has, which may
	// be a block or two behind the node's newest).
	od := all.wait(t, "overdue:"+resp2, 0)
	for _, ev := range all.snapshot() {
		if ev.ID == "due_soon:"+resp2 && (ev.Obligation.Status != "open" || ev.Height >= od.Height) {
			t.Errorf("due_soon:%s at height %d (status %s), overdue at height %d", resp2, ev.Height, ev.Obligation.Status, od.Height)
		}
	}
	all.checkNoDuplicates(t, nil)
	t.Logf("stopped at height %d, restarted; %d events in %s", stopped.Height, len(all.snapshot()), time.Since(start).Round(time.Millisecond))
}

// As testMonitorStopped, with the real binary killed by SIGKILL (at a
// random moment of its polling, after it reported the overdue obligation).
func testMonitorKilled(t *testing.T, ip *inproc) {
	start := time.Now()
	home := t.TempDir()
	state := filepath.Join(home, "monitor-xbb.json")
	all := &eventLog{}
	errOut := monitorStderr(t)
	run := func() *exec.Cmd {
		cmd := exec.Command(binaries(t), ip.monitorArgs("xbb", home, state)...)
		cmd.Stdout, cmd.Stderr = all, errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	p1 := run()
	waitProcessed(t, state, 1)
	rec1, resp1, _ := ip.notify(t, "xaa", "xbb", 4*time.Second)
	ev := all.wait(t, "overdue:"+resp1, 30*time.Second)
	// Once the state file is past the event's height, the event was
	// delivered and recorded; kill at some moment after that.
	waitProcessed(t, state, ev.Height+1)
	time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
	if err := p1.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := p1.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("first run after SIGKILL: %v", err)
	}
	rec2, resp2, _ := ip.notify(t, "xaa", "xbb", 3*time.Second)
	ip.waitOverdue(t, resp2)
	all.newRun()
	p2 := run()
	all.wait(t, "overdue:"+resp2, 30*time.Second)
	waitProcessed(t, state, ip.attested(t)+3)
	if err := p2.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.Wait(); err != nil {
		t.Fatalf("second run after SIGTERM: %v\n%s", err, errOut.String())
	}
	all.checkOnce(t, "record:"+rec1, "due_soon:"+resp1, "overdue:"+resp1, "record:"+rec2, "overdue:"+resp2)
	all.checkNoDuplicates(t, nil)
	t.Logf("killed and restarted; %d events in %s", len(all.snapshot()), time.Since(start).Round(time.Millisecond))
}

// A crash at each point of a step, on the step that finds the overdue
// obligation: before anything is written (the step is redone), after the
// events and the position are written (they are delivered on restart), and
// after the event was printed but before it was marked delivered (it is
// printed again: the one window of at-least-once, which receivers close by
// deduplicating on the id).
func testMonitorCrashPoints(t *testing.T, ip *inproc) {
	start := time.Now()
	state := filepath.Join(t.TempDir(), "monitor-xbb.json")
	all := &eventLog{}
	errOut := monitorStderr(t)
	var target atomic.Value // the overdue event id to crash on
	target.Store("")
	crashAt := func(point string) func(string, []*monitor.Event) error {
		return func(p string, evs []*monitor.Event) error {
			if p != point {
				return nil
			}
			for _, ev := range evs {
				if ev.ID == target.Load().(string) {
					return fmt.Errorf("crash at %s", point)
				}
			}
			return nil
		}
	}
	runUntilCrash := func(point string) {
		t.Helper()
		all.newRun()
		o := ip.monitorOptions("xbb", state, all, errOut)
		o.CrashHook = crashAt(point)
		r := startRun(t, o)
		if err := r.wait(t, 60*time.Second); err == nil || err.Error() != "crash at "+point {
			t.Fatalf("run with a crash at %s ended with %v", point, err)
		}
	}
	// Before the obligation exists, one run sets the position.
	all.newRun()
	r0 := startRun(t, ip.monitorOptions("xbb", state, all, errOut))
	waitProcessed(t, state, 1)
	if err := r0.stop(t); err != nil {
		t.Fatal(err)
	}
	rec, resp, _ := ip.notify(t, "xaa", "xbb", 6*time.Second)
	overdue := "overdue:" + resp
	target.Store(overdue)

	runUntilCrash(monitor.Computed)
	if all.count(overdue) != 0 || len(readState(t, state).Pending) != 0 {
		t.Fatalf("after a crash at %s: %d printed, state %+v", monitor.Computed, all.count(overdue), readState(t, state))
	}
	runUntilCrash(monitor.Queued)
	queued := false
	for _, ev := range readState(t, state).Pending {
		queued = queued || ev.ID == overdue
	}
	if all.count(overdue) != 0 || !queued {
		t.Fatalf("after a crash at %s: %d printed, queued %v", monitor.Queued, all.count(overdue), queued)
	}
	runUntilCrash(monitor.Delivered)
	if all.count(overdue) != 1 {
		t.Fatalf("after a crash at %s: printed %d times", monitor.Delivered, all.count(overdue))
	}
	all.newRun()
	r := startRun(t, ip.monitorOptions("xbb", state, all, errOut))
	waitProcessed(t, state, ip.attested(t)+3)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	// The last run delivered the event again first, then went on.
	evs := all.snapshot()
	if i := all.runs[len(all.runs)-1]; i >= len(evs) || evs[i].ID != overdue {
		t.Errorf("the run after the crash at %s did not first print %s: %v", monitor.Delivered, overdue, all.ids())
	}
	all.checkOnce(t, "record:"+rec, "due_soon:"+resp)
	all.checkNoDuplicates(t, map[string]int{overdue: 2})
	t.Logf("crashes at computed, queued, delivered; %d events in %s", len(evs), time.Since(start).Round(time.Millisecond))
}

// --- 2. a webhook down for a while -------------------------------------------

type hookAttempt struct {
	at     time.Time
	id     string
	status int
}

// receiver is the webhook: it answers 200, or 503 while failing.
type receiver struct {
	mu       sync.Mutex
	attempts []hookAttempt
	failing  atomic.Bool
	bad      []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bz, _ := io.ReadAll(r.Body)
	var ev monitor.Event
	err := json.Unmarshal(bz, &ev)
	status := http.StatusOK
	if rc.failing.Load() {
		status = http.StatusServiceUnavailable
	}
	rc.mu.Lock()
	if err != nil || ev.ID == "" || ev.ID != r.Header.Get("Normledger-Event-Id") || r.Method != http.MethodPost ||
		r.Header.Get("Content-Type") != "application/json" {
		rc.bad = append(rc.bad, fmt.Sprintf("%s %s %q: %v", r.Method, r.Header.Get("Normledger-Event-Id"), bz, err))
	}
	rc.attempts = append(rc.attempts, hookAttempt{at: time.Now(), id: ev.ID, status: status})
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) snapshot() []hookAttempt {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hookAttempt(nil), rc.attempts...)
}

// acked is the ids the receiver answered 2xx, in order, each once (the
// first time).
func (rc *receiver) acked() (ids []string, dups []string) {
	seen := map[string]bool{}
	for _, a := range rc.snapshot() {
		if a.status/100 != 2 {
			continue
		}
		if seen[a.id] {
			dups = append(dups, a.id)
			continue
		}
		seen[a.id] = true
		ids = append(ids, a.id)
	}
	return ids, dups
}

func (rc *receiver) waitAcked(t *testing.T, id string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ids, _ := rc.acked()
		for _, x := range ids {
			if x == id {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook did not acknowledge %s within %s; acknowledged %v", id, timeout, ids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func serveOn(t *testing.T, addr string, h http.Handler) *http.Server {
	t.Helper()
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ { // the address was ours a moment ago
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return srv
}

func testMonitorWebhookDown(t *testing.T, ip *inproc) {
	start := time.Now()
	addr := testports.Addr(t)
	rc := &receiver{}
	srv := serveOn(t, addr, rc)
	state := filepath.Join(t.TempDir(), "monitor-lumen.json")
	printed := &eventLog{}
	errOut := monitorStderr(t)
	o := ip.monitorOptions("lumen", state, printed, errOut)
	o.Webhook = "http://" + addr + "/normledger"
	// The whole suite takes the webhook down for a minute against the
	// monitor's default backoff (1 s doubling to 30 s); the quick tier
	// scales both down (16 s; 250 ms doubling to 3 s).
	downFor := 60 * time.Second
	o.RetryMin, o.RetryMax = time.Second, 30*time.Second
	if os.Getenv(networksEnv) == "" {
		downFor = 16 * time.Second
		o.RetryMin, o.RetryMax = 250*time.Millisecond, 3*time.Second
	}
	r := startRun(t, o)
	waitProcessed(t, state, 1)

	// Up: delivered at once.
	recA, respA, _ := ip.notify(t, "xaa", "lumen", 4*time.Second)
	rc.waitAcked(t, "overdue:"+respA, 30*time.Second)

	// Down: half the time 503, then refused connections.
	down := time.Now()
	rc.failing.Store(true)
	recB, respB, ackB := ip.notify(t, "xaa", "lumen", 4*time.Second)
	recC, respC, _ := ip.notify(t, "xaa", "lumen", 6*time.Second)
	ip.waitOverdue(t, respC)
	time.Sleep(time.Until(down.Add(downFor / 2)))
	srv.Close()
	time.Sleep(time.Until(down.Add(downFor)))
	rc.failing.Store(false)
	serveOn(t, addr, rc)
	up := time.Now()
	rc.waitAcked(t, "overdue:"+respC, o.RetryMax+15*time.Second)
	delay := time.Since(up)
	waitProcessed(t, state, ip.attested(t)+2)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	rc.mu.Lock()
	bad := rc.bad
	rc.mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("malformed webhook requests: %v", bad)
	}
	// Every event printed (= delivered) was acknowledged, in the order it
	// was printed; nothing was acknowledged twice (no crash here).
	acked, dups := rc.acked()
	if len(dups) > 0 {
		t.Errorf("acknowledged twice: %v", dups)
	}
	if got, want := strings.Join(acked, "\n"), strings.Join(printed.ids(), "\n"); got != want {
		t.Errorf("webhook acknowledged, in order:\n%s\nthe monitor delivered:\n%s", got, want)
	}
	printed.checkOnce(t, "record:"+recA, "due_soon:"+respA, "overdue:"+respA,
		"record:"+recB, "due_soon:"+respB, "due_soon:"+ackB, "overdue:"+respB, "record:"+recC, "overdue:"+respC)
	order := map[string]int{}
	for i, id := range acked {
		order[id] = i
	}
	for _, pair := range [][2]string{{"record:" + recA, "record:" + recB}, {"record:" + recB, "record:" + recC},
		{"record:" + recB, "overdue:" + respB}, {"overdue:" + respB, "overdue:" + respC}} {
		if order[pair[0]] >= order[pair[1]] {
			t.Errorf("%s was delivered after %s", pair[0], pair[1])
		}
	}
	// While down, one event was retried with backoff doubling from
	// RetryMin, capped at RetryMax.
	var during []hookAttempt
	for _, a := range rc.snapshot() {
		if a.at.After(down) && a.at.Before(down.Add(downFor)) {
			during = append(during, a)
		}
	}
	if len(during) < 4 {
		t.Errorf("%d webhook attempts while answering 503, want at least 4", len(during))
	}
	for i := 1; i < len(during); i++ {
		if during[i].id != during[0].id {
			t.Errorf("attempt %d while down was of %s, not the head event %s: events must go in order", i, during[i].id, during[0].id)
		}
		if gap := during[i].at.Sub(during[i-1].at); gap < o.RetryMin*9/10 || gap > o.RetryMax+2*time.Second {
			t.Errorf("attempt %d came %s after the one before", i, gap)
		}
	}
	if delay > o.RetryMax+5*time.Second {
		t.Errorf("after the webhook came back, delivery took %s (backoff is capped at %s)", delay, o.RetryMax)
	}
	t.Logf("%d events delivered; %d attempts while answering 503; delivered %s after the webhook came back; %s in all",
		len(acked), len(during), delay.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// monitorOnce runs `normledger monitor --once` for member with its state in
// home (later runs continue from it) and returns what it printed.
func (ip *inproc) monitorOnce(t *testing.T, ctx context.Context, member, home string) *eventLog {
	t.Helper()
	log := &eventLog{}
	var errOut syncBuffer
	root := cli.NewRootCmd(log, &errOut, strings.NewReader(""))
	root.SetArgs(ip.monitorArgs(member, home, filepath.Join(home, member+".json"), "--once"))
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("monitor %s: %v\n%s", member, err, errOut.String())
	}
	return log
}

// committedID is the record id a CLI command printed with -o json, failing
// the test unless the record was committed.
func committedID(t *testing.T, out string) string {
	t.Helper()
	var res struct {
		ID   string `json:"id"`
		Code uint32 `json:"code"`
	}
	i, j := strings.Index(out, "{"), strings.LastIndex(out, "}")
	if i < 0 || j < i {
		t.Fatalf("no JSON result: %s", out)
	}
	if err := json.Unmarshal([]byte(out[i:j+1]), &res); err != nil || res.Code != 0 || res.ID == "" {
		t.Fatalf("not committed (%v): %s", err, out)
	}
	return res.ID
}
