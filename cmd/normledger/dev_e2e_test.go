package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// `normledger dev` run from a directory with no checkout in it seeds the
// example records built into the binary, copies them into its home for the
// hints it prints, and stops cleanly on SIGINT.
func TestDevOutsideACheckout(t *testing.T) {
	wd := t.TempDir()
	cmd := exec.Command(binary, "dev",
		"--rpc.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)), "--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		"--rest.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)), "--grpc.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)))
	text, logs := startDev(t, cmd, wd)
	if !strings.Contains(text, "from the examples built into this binary") || !strings.Contains(text, "example records committed") {
		t.Fatalf("dev did not seed the embedded examples:\n%s\nlogs:\n%s", text, logs.String())
	}
	// The hint's record file exists, relative to where dev ran.
	m := regexp.MustCompile(`--file (\S+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no tx submit hint:\n%s", text)
	}
	if _, err := os.Stat(filepath.Join(wd, m[1])); err != nil {
		t.Fatalf("the hint names %s, which does not exist: %v", m[1], err)
	}
	// A second dev in the same directory does not wipe the running one's
	// home: the home's lock says a node runs on it.
	second := exec.Command(binary, "dev")
	second.Dir = wd
	if out, err := second.CombinedOutput(); err == nil || !strings.Contains(string(out), "in use by another normledger process") {
		t.Fatalf("a second dev on the running one's home: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(wd, ".normledger-dev", "config", "config.toml")); err != nil {
		t.Fatalf("the second dev removed the running one's home: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dev did not stop cleanly on SIGINT: %v\n%s", err, logs.String())
	}
}

// startDev starts a `normledger dev` command in wd and waits (at most 90
// s) until it has seeded its examples: what it printed until then, and its
// stderr as it goes. The command is killed when the test ends, if it is
// still running.
func startDev(t *testing.T, cmd *exec.Cmd, wd string) (string, *logBuffer) {
	t.Helper()
	cmd.Dir = wd
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := new(logBuffer)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	printed := make(chan string, 1)
	go func() {
		var sb strings.Builder
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			sb.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Press Ctrl-C") {
				printed <- sb.String()
				io.Copy(io.Discard, out)
				return
			}
		}
		printed <- sb.String()
	}()
	select {
	case text := <-printed:
		return text, logs
	case <-time.After(90 * time.Second):
		t.Fatalf("dev did not finish seeding in 90 s; logs:\n%s", logs.String())
	}
	return "", logs
}

// logBuffer is a buffer a process's stderr is copied into while the test
// may read it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
