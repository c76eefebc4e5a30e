package witness

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary play the witness process of the crash
// test: NORMLEDGER_WITNESS_PROC=dir,addr serves a witness until killed.
func TestMain(m *testing.M) {
	if spec := os.Getenv("NORMLEDGER_WITNESS_PROC"); spec != "" {
		dir, addr, _ := strings.Cut(spec, ",")
		t := &testing.T{}
		w := newWitness(t, dir, newTestLog(t, "crash log"))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		http.Serve(ln, w.Handler())
		return
	}
	os.Exit(m.Run())
}

// Kill -9 at random points while the witness cosigns a steady stream of
// checkpoints from two histories of one log (they share a prefix, then
// fork): whatever it returned before a kill, it never cosigns checkpoints
// of both branches, restarts from the state it last returned, and resumes.
// NORMLEDGER_WITNESS_KILLS sets the number of kills (default 20; the long
// form is 200).
func TestCrashSafety(t *testing.T) {
	kills := 20
	if n, err := strconv.Atoi(os.Getenv("NORMLEDGER_WITNESS_KILLS")); err == nil && n > 0 {
		kills = n
	}
	dir := t.TempDir()
	a, b := newTestLog(t, "crash log"), newTestLog(t, "crash log")
	for i := 0; i < 5; i++ {
		a.add(fmt.Sprint("shared ", i))
		b.add(fmt.Sprint("shared ", i))
	}
	const fork = 5
	addr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	url := "http://" + addr
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "NORMLEDGER_WITNESS_PROC="+dir+","+addr)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 200; i++ {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return cmd
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("the witness process did not start")
		return nil
	}
	type cosigned struct {
		branch string
		size   uint64
	}
	var mu sync.Mutex
	var got []cosigned
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	hc := &http.Client{Timeout: 2 * time.Second}
	witnessSize := uint64(0)
	submit := func(branch string, l *testLog) {
		mu.Lock()
		old := witnessSize
		mu.Unlock()
		if old > l.l.Size() {
			return
		}
		sig, conflict, err := Submit(t.Context(), hc, url, old, l.proof(old), l.checkpoint())
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil && len(sig) > 0:
			got = append(got, cosigned{branch, l.l.Size()})
			witnessSize = l.l.Size()
		case conflict > 0:
			witnessSize = conflict
		}
	}
	cmd := start()
	for k := 0; k < kills; k++ {
		// A burst of submissions from both branches, the log growing.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 20; i++ {
				a.add(fmt.Sprintf("a %d %d", k, i))
				b.add(fmt.Sprintf("b %d %d", k, i))
				// Both branches race; either may be first after the fork.
				first, second := "a", "b"
				if (k+i)%3 == 0 {
					first, second = second, first
				}
				logs := map[string]*testLog{"a": a, "b": b}
				var wg sync.WaitGroup
				wg.Add(2)
				go func() { defer wg.Done(); submit(first, logs[first]) }()
				time.Sleep(time.Duration((k+i)%2) * time.Millisecond)
				go func() { defer wg.Done(); submit(second, logs[second]) }()
				wg.Wait()
			}
		}()
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		<-done
		// The state on disk covers every cosignature returned.
		bz, err := os.ReadFile(filepath.Join(dir, stateFile(origin)))
		if err == nil {
			var st State
			if err := json.Unmarshal(bz, &st); err != nil {
				t.Fatalf("kill %d: the state file is damaged: %v", k, err)
			}
			mu.Lock()
			for _, c := range got {
				if c.size > st.Size {
					t.Fatalf("kill %d: cosigned size %d but the state holds %d", k, c.size, st.Size)
				}
			}
			witnessSize = st.Size
			mu.Unlock()
		}
		cmd = start()
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	branches := map[string]int{}
	for _, c := range got {
		if c.size > fork {
			branches[c.branch]++
		}
	}
	if len(branches) > 1 {
		t.Fatalf("the witness cosigned checkpoints of both branches: %v", branches)
	}
	if len(got) < kills {
		t.Fatalf("only %d cosignatures over %d kills: the witness did not resume", len(got), kills)
	}
	var sizes []string
	for _, c := range got[max(0, len(got)-3):] {
		sizes = append(sizes, fmt.Sprint(c.branch, c.size))
	}
	t.Logf("%d kills -9: %d cosignatures, all on one branch %v (last: %s)", kills, len(got), branches, strings.Join(sizes, " "))
}
