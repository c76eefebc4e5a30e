// Package testports hands out TCP listen ports to tests so that no two tests
// get the same one, also across the test binaries that `go test ./...` runs
// at once.
//
// A port is free when a listener can bind it, but the test binds it only
// later (often in a child process), so a free port can be taken in between.
// Each port handed out is therefore reserved by a file in a directory shared
// by every test process of the machine, named after the port and holding the
// reserving process's pid; a reservation whose process has exited is free
// again. Ports come from 20000-32767, below the kernel's ephemeral range
// (32768-60999), where the local ports of the many outgoing connections tests
// make could take a port between choosing and binding it.
package testports

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const (
	low  = 20000
	high = 32768
)

// Dir is where reservations are kept.
var Dir = filepath.Join(os.TempDir(), "normledger-test-ports")

// Pick returns a port on 127.0.0.1 that is free and reserved for this
// process until t ends (its cleanup runs after those the test registers
// later, such as stopping the server that listens on the port).
func Pick(t testing.TB) int {
	t.Helper()
	p, err := pick()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(Dir, strconv.Itoa(p))
	t.Cleanup(func() { os.Remove(path) })
	return p
}

// Addr returns "127.0.0.1:<Pick>".
func Addr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", Pick(t))
}

func pick() (int, error) {
	if err := os.MkdirAll(Dir, 0o777); err != nil {
		return 0, fmt.Errorf("testports: %w", err)
	}
	for i := 0; i < 500; i++ {
		port := low + rand.IntN(high-low)
		if !reserve(port) {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use by something outside the tests: keep the reservation, it is taken anyway
		}
		l.Close()
		return port, nil
	}
	return 0, errors.New("testports: no free port in 20000-32767")
}

// reserve takes the reservation of port for this process, replacing one
// held by a process that has exited. The reservation appears with its pid
// in it at once (a hard link to a file written beforehand), so no other
// picker, in this process or another, ever reads it half-written and
// takes it for a dead process's.
func reserve(port int) bool {
	path := filepath.Join(Dir, strconv.Itoa(port))
	tmp := filepath.Join(Dir, fmt.Sprintf(".%d.%d.%d", port, os.Getpid(), rand.Uint64()))
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o666); err != nil {
		return false
	}
	defer os.Remove(tmp)
	for attempt := 0; attempt < 2; attempt++ {
		err := os.Link(tmp, path)
		if err == nil {
			return true
		}
		if !errors.Is(err, os.ErrExist) || !stale(path) {
			return false
		}
		// Two processes may both find the same stale file; only one of
		// them creates the new one, since O_EXCL decides.
		os.Remove(path)
	}
	return false
}

// stale reports whether the reservation at path belongs to a process that
// no longer runs.
func stale(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return true // not a reservation of this package's (they hold a pid from the start)
	}
	if pid == os.Getpid() {
		return false
	}
	err = syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}
