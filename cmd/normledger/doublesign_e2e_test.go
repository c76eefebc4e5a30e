package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A validator restarted with consensus.double_sign_check_height set refuses
// to join consensus while its own signatures are in that many recent
// blocks: what a failover standby must set, so that starting it while the
// primary still signs (or right after) cannot double-sign. With the setting
// at 0 the same home starts and keeps committing.
func TestDoubleSignCheckHeight(t *testing.T) {
	p, c := runningNode(t)
	h := waitHeight(t, c, 5, 30*time.Second)
	p.signal(syscall.SIGTERM)
	cfgPath := filepath.Join(p.home, "config", "config.toml")
	set := func(n string) {
		bz, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(bz), "\n")
		found := false
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "double_sign_check_height") {
				lines[i], found = "double_sign_check_height = "+n, true
			}
		}
		if !found {
			t.Fatal("config.toml has no double_sign_check_height")
		}
		if err := os.WriteFile(cfgPath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set("3")
	p.start()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the node exited cleanly instead of refusing")
		}
		if !strings.Contains(p.log.String(), "found signature from the same key") {
			t.Fatalf("exited (%v) without naming the double-sign risk:\n%s", err, tailOf(p.log.String(), 15))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the node started although its key signed the last blocks:\n%s", tailOf(p.log.String(), 15))
	}
	set("0")
	p.start()
	waitHeight(t, c, h+2, 30*time.Second)
}

func tailOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
