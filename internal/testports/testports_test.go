package testports

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

func TestPickNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 300; i++ {
		p := Pick(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		if p < low || p >= high {
			t.Fatalf("port %d outside %d-%d", p, low, high-1)
		}
		seen[p] = true
	}
}

func TestReservations(t *testing.T) {
	old := Dir
	Dir = t.TempDir()
	defer func() { Dir = old }()
	// A reservation by a running process (this one's parent) holds.
	held := filepath.Join(Dir, "20001")
	os.WriteFile(held, []byte(strconv.Itoa(os.Getppid())+"\n"), 0o666)
	if reserve(20001) {
		t.Fatal("took a port reserved by a running process")
	}
	// A reservation by a process that exited is free again.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` to make an exited pid:", err)
	}
	os.WriteFile(filepath.Join(Dir, "20002"), []byte(fmt.Sprintf("%d\n", cmd.Process.Pid)), 0o666)
	if !reserve(20002) {
		t.Fatal("a reservation of an exited process was not taken over")
	}
	b, _ := os.ReadFile(filepath.Join(Dir, "20002"))
	if string(b) != fmt.Sprintf("%d\n", os.Getpid()) {
		t.Fatalf("reservation holds %q", b)
	}
	// This process never takes the same port twice.
	if reserve(20002) {
		t.Fatal("reserved a port twice")
	}
	// A port bound by something else is skipped even when unreserved.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	bound := l.Addr().(*net.TCPAddr).Port
	for i := 0; i < 50; i++ {
		if p := Pick(t); p == bound {
			t.Fatalf("handed out bound port %d", p)
		}
	}
}

// Many goroutines of one process reserving the same port: exactly one gets
// it (a reservation is never seen half-written and taken for a dead
// process's).
func TestConcurrentReserve(t *testing.T) {
	old := Dir
	Dir = t.TempDir()
	defer func() { Dir = old }()
	for port := 20100; port < 20150; port++ {
		var wg sync.WaitGroup
		var won atomic.Int32
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if reserve(port) {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := won.Load(); n != 1 {
			t.Fatalf("port %d reserved %d times", port, n)
		}
	}
}
