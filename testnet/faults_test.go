package testnet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger/fixture"
)

// Fault-suite timings. The short form runs in CI; NORMLEDGER_FAULTS=full
// runs the documented full form.
type faultTimings struct {
	load, pause, halt time.Duration
	crashIndices      []int
	lies, walCuts     int // lying blocks proposed; WAL truncations
}

func timings() faultTimings {
	if os.Getenv("NORMLEDGER_FAULTS") == "full" {
		idx := make([]int, 16)
		for i := range idx {
			idx[i] = i
		}
		return faultTimings{load: 15 * time.Second, pause: 20 * time.Second, halt: 10 * time.Second, crashIndices: idx, lies: 9, walCuts: 10}
	}
	return faultTimings{load: 2 * time.Second, pause: 5 * time.Second, halt: 3 * time.Second, crashIndices: []int{1, 3, 5, 6}, lies: 3, walCuts: 3}
}

type faultNet struct {
	t     *testing.T
	nw    *Network
	mu    sync.Mutex
	down  map[string]bool
	h     *History
	extra []string
}

func (f *faultNet) live() []NodeInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []NodeInfo
	for _, n := range f.nw.Nodes {
		if !f.down[n.Name] {
			out = append(out, n)
		}
	}
	return out
}

func (f *faultNet) isDown(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down[name]
}

func (f *faultNet) setDown(name string, down bool) {
	f.mu.Lock()
	f.down[name] = down
	f.mu.Unlock()
}

func (f *faultNet) node(name string) NodeInfo {
	n, err := f.nw.Node(name)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *faultNet) start(name string, env ...string) *Process {
	f.t.Helper()
	p, err := StartNode(f.nw.Dir, f.node(name), env...)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(env) == 0 {
		f.setDown(name, false)
	}
	return p
}

func (f *faultNet) kill(name string) {
	f.t.Helper()
	f.setDown(name, true)
	if err := KillNode(f.node(name)); err != nil {
		f.t.Fatal(err)
	}
}

// height is a node's latest block height, or -1 if it does not answer.
func (f *faultNet) height(name string) int64 {
	c, _ := client.New(f.node(name).RESTURL())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return -1
	}
	return st.LatestHeight
}

// tip is the highest height any live node reports.
func (f *faultNet) tip() int64 {
	var h int64
	for _, n := range f.live() {
		h = max(h, f.height(n.Name))
	}
	return h
}

// waitCatchUp waits until name reaches the tip of the other nodes; it
// returns how long that took.
func (f *faultNet) waitCatchUp(name string, within time.Duration) time.Duration {
	f.t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		var others int64
		for _, n := range f.live() {
			if n.Name != name {
				others = max(others, f.height(n.Name))
			}
		}
		if h := f.height(name); h > 0 && h >= others {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.t.Fatalf("%s did not catch up within %s\n%s", name, within, tail(LogFile(f.node(name)), 20))
	return 0
}

func (f *faultNet) waitHeight(h int64, within time.Duration) time.Duration {
	f.t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if f.tip() >= h {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.t.Fatalf("height %d not reached within %s", h, within)
	return 0
}

// ensureUp restarts any node left down or paused (by a failed scenario), so
// one failure does not cascade into the next scenario.
func (f *faultNet) ensureUp() {
	f.t.Helper()
	for _, n := range f.nw.Nodes {
		if Paused(n) {
			ResumeNode(n)
		}
		if _, ok := PID(n); !ok {
			f.start(n.Name)
		}
		f.setDown(n.Name, false)
	}
	for _, n := range f.nw.Nodes {
		f.waitCatchUp(n.Name, 90*time.Second)
	}
}

// advances waits until the chain's tip passes h by at least n blocks.
func (f *faultNet) advances(h, n int64, within time.Duration, what string) int64 {
	f.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if tip := f.tip(); tip >= h+n {
			return tip
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.t.Fatalf("%s: the chain did not advance %d blocks past %d within %s", what, n, h, within)
	return 0
}

func (f *faultNet) check(label string) *CheckReport {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Check(ctx, f.live(), f.h, f.extra, 60*time.Second)
	if err != nil {
		// Every node's recent log, so the cause (a node that does not
		// serve, one stuck in replay) is in the failure itself.
		var logs strings.Builder
		for _, n := range f.nw.Nodes {
			fmt.Fprintf(&logs, "\n=== %s (down: %v), last 40 lines of %s:\n%s\n", n.Name, f.isDown(n.Name), LogFile(n), tail(LogFile(n), 40))
		}
		f.t.Fatalf("%s: checker: %v%s", label, err, logs.String())
	}
	att, ack := f.h.Counts()
	f.t.Logf("%s: checker passed on %d nodes at height %d: %d records identical and in the same order, %d/%d acknowledged writes present (%d attempted), %d headers identical",
		label, rep.Nodes, rep.Height, rep.Records, rep.AckedChecked, ack, att, rep.HeadersCompared)
	return rep
}

func tail(path string, n int) string {
	bz, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(bz), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// newProcessNet generates the network o describes (in a temporary
// directory unless o.Dir is set; seeded keys, 200 ms blocks) to run as
// processes of nodeBinary, with local ports for its validators and extra
// more nodes unless o.PortsFor is set; see processNet. It starts no node.
func newProcessNet(t *testing.T, o Options, extra int) (*faultNet, []Ports) {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	var ports []Ports
	if o.PortsFor == nil {
		ports = make([]Ports, o.Validators+extra)
		for i := range ports {
			ports[i] = freePorts(t)
		}
		o.PortsFor = func(i int) Ports { return ports[i] }
	}
	o.KeyFor, o.TimeoutCommit = fixture.SeededKey, 200*time.Millisecond
	nw, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := CopyBinary(binaries(t), o.Dir); err != nil {
		t.Fatal(err)
	}
	return processNet(t, nw), ports
}

// processNet is the fault harness of a generated network of processes: it
// keeps the nodes' logs if the test fails and stops its nodes and
// witnesses at the end.
func processNet(t *testing.T, nw *Network) *faultNet {
	f := &faultNet{t: t, nw: nw, down: map[string]bool{}, h: NewHistory()}
	keepLogsOnFailure(t, nw)
	t.Cleanup(func() {
		for _, n := range append(append([]NodeInfo(nil), f.nw.Nodes...), f.nw.Witnesses...) {
			StopNode(n, 10*time.Second)
		}
	})
	return f
}

// startAll starts every node and waits for block 2.
func (f *faultNet) startAll() {
	f.t.Helper()
	for _, n := range f.nw.Nodes {
		f.start(n.Name)
	}
	f.waitHeight(2, 60*time.Second)
}

// startWriters runs Writers for members, recording into f's history,
// until stop, which waits for them (tests defer it too: calling it again
// does nothing more).
func (f *faultNet) startWriters(members ...string) (stop func()) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	wg, err := Writers(ctx, f.nw, members, f.h, f.live)
	if err != nil {
		cancel()
		f.t.Fatal(err)
	}
	return func() { cancel(); wg.Wait() }
}

func freePorts(t *testing.T) Ports {
	return Ports{RPC: fmt.Sprintf("127.0.0.1:%d", freePort(t)), P2P: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		REST: fmt.Sprintf("127.0.0.1:%d", freePort(t)), GRPC: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
}

// TestFaults drives a 4-validator network of real processes through the
// fault scenarios under continuous load, checking after each that nothing
// acknowledged was lost.
func TestFaults(t *testing.T) {
	binaries(t) // an OS-process network: NORMLEDGER_NETWORKS=1
	tm := timings()
	f, _ := newProcessNet(t, Options{ChainID: "faults", Validators: 4}, 0)
	nw := f.nw
	f.startAll()
	seed, err := Seed(context.Background(), nw, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range seed {
		f.extra = append(f.extra, s.ID)
	}
	stopLoad := f.startWriters("xaa", "xbb", "xcc", "xdd")
	defer stopLoad()
	time.Sleep(tm.load)

	t.Run("1 SIGKILL one of four validators", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		before := f.height("node3")
		f.kill("node3")
		h0 := f.tip()
		time.Sleep(tm.load)
		h1 := f.advances(h0, 3, 30*time.Second, "one validator down")
		f.start("node3")
		took := f.waitCatchUp("node3", 60*time.Second)
		t.Logf("chain committed %d blocks with node3 down; node3 restarted and caught up %d blocks in %s", h1-h0, f.tip()-before, took.Round(time.Millisecond))
		f.check("SIGKILL 1/4")
	})

	t.Run("2 SIGSTOP one of four", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		n := f.node("node2")
		before := f.height("node2")
		f.setDown("node2", true)
		if err := PauseNode(n); err != nil {
			t.Fatal(err)
		}
		h0 := f.tip()
		time.Sleep(tm.pause)
		h1 := f.advances(h0, 3, 30*time.Second, "one validator paused")
		if err := ResumeNode(n); err != nil {
			t.Fatal(err)
		}
		f.setDown("node2", false)
		took := f.waitCatchUp("node2", 60*time.Second)
		t.Logf("paused node2 for %s while the chain committed %d blocks; after SIGCONT it caught up %d blocks in %s", tm.pause, h1-h0, f.tip()-before, took.Round(time.Millisecond))
		f.check("SIGSTOP 1/4")
	})

	t.Run("3 SIGKILL two of four", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		f.kill("node1")
		f.kill("node2")
		time.Sleep(time.Second) // a block already under way may still finish
		h0 := f.tip()
		time.Sleep(tm.halt)
		h1 := f.tip()
		if h1 > h0+1 {
			t.Fatalf("chain advanced from %d to %d with half the validators down", h0, h1)
		}
		// Survivors still serve reads.
		for _, name := range []string{"node0", "node3"} {
			c, _ := client.New(f.node(name).RESTURL())
			if _, err := c.GetRecord(context.Background(), f.extra[0], 0, true); err != nil {
				t.Fatalf("%s does not serve reads while halted: %v", name, err)
			}
		}
		start := time.Now()
		f.start("node1")
		f.start("node2")
		f.waitHeight(h1+2, 60*time.Second)
		resumed := time.Since(start)
		f.waitCatchUp("node1", 60*time.Second)
		f.waitCatchUp("node2", 60*time.Second)
		t.Logf("no blocks for %s with 2/4 down (height stayed at %d), reads served by survivors; after restart the chain resumed in %s", tm.halt, h1, resumed.Round(time.Millisecond))
		f.check("SIGKILL 2/4")
	})

	t.Run("4 SIGKILL all four", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		_, ackedBefore := f.h.Counts()
		for _, n := range f.nw.Nodes {
			f.kill(n.Name)
		}
		var last int64
		start := time.Now()
		for _, n := range f.nw.Nodes {
			f.start(n.Name)
		}
		// Every node comes back at its last height at least.
		f.waitHeight(1, 60*time.Second)
		last = f.tip()
		f.waitHeight(last+2, 60*time.Second)
		t.Logf("all 4 killed with %d acknowledged writes; restarted and committing again at height %d in %s", ackedBefore, last+2, time.Since(start).Round(time.Millisecond))
		rep := f.check("SIGKILL 4/4")
		if rep.AckedChecked < ackedBefore {
			t.Fatalf("only %d of %d acknowledged writes checked", rep.AckedChecked, ackedBefore)
		}
	})

	t.Run("5 new full node syncs from genesis", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		info, err := f.nw.AddFullNode(freePorts(t))
		if err != nil {
			t.Fatal(err)
		}
		tip := f.tip()
		f.start(info.Name)
		took := f.waitCatchUp(info.Name, 120*time.Second)
		t.Logf("full node %s synced %d blocks from genesis in %s", info.Name, tip, took.Round(time.Millisecond))
		f.check("new full node")
	})

	t.Run("6 damaged application database", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		for _, damage := range []string{"truncated", "corrupted", "record log tile changed", "record log tile missing"} {
			n := f.node("node2")
			f.kill("node2")
			switch damage {
			case "record log tile changed", "record log tile missing":
				for _, tile := range logTiles(t, filepath.Join(n.Home, "data", "recordlog")) {
					if damage == "record log tile missing" {
						if err := os.Remove(tile); err != nil {
							t.Fatal(err)
						}
					} else {
						bz, err := os.ReadFile(tile)
						if err != nil {
							t.Fatal(err)
						}
						bz[len(bz)/2] ^= 0x40 // one hash changed
						if err := os.WriteFile(tile, bz, 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
			default:
				journal := newestJournal(t, filepath.Join(n.Home, "data", "appstate.db"))
				damageFile(t, journal, damage)
			}
			p := f.start("node2", "NORMLEDGER_LOG_LEVEL=info")
			f.setDown("node2", true)
			select {
			case <-p.Done():
			case <-time.After(30 * time.Second):
				t.Fatalf("node2 with a %s database did not refuse to start:\n%s", damage, tail(LogFile(n), 10))
			}
			if code := p.Cmd.ProcessState.ExitCode(); code == 0 {
				t.Fatalf("node2 with a %s database exited 0", damage)
			}
			log := tail(LogFile(n), 3)
			if !strings.Contains(log, "application state database is damaged") {
				t.Fatalf("no clear error for a %s database:\n%s", damage, log)
			}
			t.Logf("%s database: node2 refused to start: %s", damage, lastLine(log))
			if err := ResetNode(n); err != nil {
				t.Fatal(err)
			}
			tip := f.tip()
			f.start("node2")
			took := f.waitCatchUp("node2", 120*time.Second)
			t.Logf("wiped node2's data; it resynced %d blocks in %s", tip, took.Round(time.Millisecond))
		}
		f.check("damaged database, wiped and resynced")
	})

	t.Run("7 crash points between FinalizeBlock and Commit", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		n := f.node("node1")
		for _, idx := range tm.crashIndices {
			f.setDown("node1", true)
			if err := StopNode(n, 15*time.Second); err != nil {
				t.Fatal(err)
			}
			p := f.start("node1", fmt.Sprintf("FAIL_TEST_INDEX=%d", idx))
			select {
			case <-p.Done():
			case <-time.After(30 * time.Second):
				t.Fatalf("FAIL_TEST_INDEX=%d: node1 did not crash", idx)
			}
			crashed := strings.Contains(tail(LogFile(n), 5), fmt.Sprintf("fail-test %d", idx))
			start := time.Now()
			f.start("node1")
			took := f.waitCatchUp("node1", 60*time.Second)
			t.Logf("FAIL_TEST_INDEX=%d: crashed at the crash point: %v; restarted and caught up in %s", idx, crashed, time.Since(start).Round(time.Millisecond))
			_ = took
		}
		f.check("crash points")
	})

	t.Run("8 kills in the middle of record log writes", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		n := f.node("node1")
		for _, point := range []string{"log-partial", "log-flushed", "state-saved"} {
			f.setDown("node1", true)
			if err := StopNode(n, 15*time.Second); err != nil {
				t.Fatal(err)
			}
			p := f.start("node1", "NORMLEDGER_TEST_CRASH="+point)
			select {
			case <-p.Done():
			case <-time.After(60 * time.Second):
				t.Fatalf("%s: node1 did not crash", point)
			}
			if !strings.Contains(tail(LogFile(n), 5), "crash point reached") {
				t.Fatalf("%s: node1 exited, but not at the crash point:\n%s", point, tail(LogFile(n), 10))
			}
			start := time.Now()
			f.start("node1")
			f.waitCatchUp("node1", 60*time.Second)
			t.Logf("killed at %s: restarted with the committed log and caught up in %s", point, time.Since(start).Round(time.Millisecond))
		}
		f.check("record log crash points")
	})

	t.Run("9 lying proposer", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		f.lyingProposer(t, tm.lies)
		f.check("lying proposer")
	})

	t.Run("10 consensus WAL truncated at random offsets", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		seed := uint64(time.Now().UnixNano())
		if s, err := strconv.ParseUint(os.Getenv("NORMLEDGER_FAULTS_SEED"), 10, 64); err == nil {
			seed = s
		}
		f.walDamage(t, tm.walCuts, seed)
		f.check("WAL damage")
	})

	t.Run("11 two processes with one validator key", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		f.twoCopies(t)
		f.check("two copies of a validator")
	})

	t.Run("12 conflicting votes sent to broadcast_evidence", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		f.offlineEvidence(t)
		f.check("offline evidence")
	})

	t.Run("final check with the load stopped", func(t *testing.T) {
		f.t = t
		f.ensureUp()
		stopLoad()
		rep := f.check("final")
		att, ack := f.h.Counts()
		if ack < 50 {
			t.Fatalf("workload too small to mean anything: %d acknowledged", ack)
		}
		t.Logf("fault suite total: %d writes attempted, %d acknowledged, %d records on every node; unacknowledged by reason: %v", att, ack, rep.Records, f.h.Failures())
	})
}

func newestJournal(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			logs = append(logs, e.Name())
		}
	}
	if len(logs) == 0 {
		t.Fatalf("no journal in %s", dir)
	}
	sort.Strings(logs)
	return filepath.Join(dir, logs[len(logs)-1])
}

// damageFile truncates a file to half, or overwrites its middle with junk.
// logTiles names level-0 tiles of a record log to damage: the first full
// one if there is one, else every file of the partial right-edge tile (one
// of them holds what was committed).
func logTiles(t *testing.T, dir string) []string {
	t.Helper()
	full := filepath.Join(dir, "tile", "0", "000")
	if _, err := os.Stat(full); err == nil {
		return []string{full}
	}
	parts, _ := filepath.Glob(filepath.Join(dir, "tile", "0", "*.p", "*"))
	if len(parts) == 0 {
		t.Fatalf("no level-0 tile in %s", dir)
	}
	return parts
}

func damageFile(t *testing.T, path, how string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	switch how {
	case "truncated":
		if err := os.Truncate(path, st.Size()/2); err != nil {
			t.Fatal(err)
		}
	case "corrupted":
		fh, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, 4096)
		for i := range junk {
			junk[i] = byte(i*7 + 3)
		}
		if _, err := fh.WriteAt(junk, st.Size()/3); err != nil {
			t.Fatal(err)
		}
		fh.Close()
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
