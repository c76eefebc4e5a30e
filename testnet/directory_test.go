package testnet

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/client"
)

// The contact directory end to end with the CLI on a running network: two
// states file their entries (tx contact), the observatory (the directory)
// pings both (tx ping prints each nonce with its channel and keeps them),
// one answers with the nonce as read over the phone (tx ping-answer), a
// wrong nonce is refused, the other's delivery fails (tx delivery-failure);
// the directory marks it stale and the monitor tells it; it updates its
// entry (tx contact --reconfirm) and is current again; verify proves the
// entry and who answered.
func TestDirectoryCLI(t *testing.T) {
	t.Parallel() // an in-process network, mostly waiting on block time
	ip := startInProcess(t, 3)
	keepLogsOnFailure(t, ip.net)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := ip.clients[0].WaitHeight(ctx, 2); err != nil {
		t.Fatal(err)
	}
	n := ip.net.Nodes
	gen := filepath.Join(n[0].Home, "config", "genesis.json")
	as := func(member string) []string {
		return []string{"--node", n[0].RESTURL(), "--home", ip.net.MemberHomes[member], "--keyring-backend", "test"}
	}
	verifyFlags := []string{"--node", n[0].RESTURL(), "--genesis", gen, "--witness", n[1].RESTURL(), "--home", t.TempDir()}
	monHome := t.TempDir()
	runMonitor := func(member string) *eventLog { return ip.monitorOnce(t, ctx, member, monHome) }
	runMonitor("xcc") // the first run starts at the end of the record log
	committed := func(out string) string { return committedID(t, out) }
	dir := t.TempDir()
	phones := map[string]string{"xbb": "+99 555 0120", "xcc": "+99 555 0130"}
	for _, m := range []string{"xbb", "xcc"} {
		f := filepath.Join(dir, m+".json")
		if err := os.WriteFile(f, []byte(`{"points": [{"role": "CONTACT_ROLE_TECHNICAL", "name": "Duty officer", "organisation": "`+m+` CERT",
  "languages": ["en"], "hours": "24/7",
  "channels": [{"type": "CHANNEL_TYPE_PHONE", "address": "`+phones[m]+`"}, {"type": "CHANNEL_TYPE_EMAIL", "address": "cert@`+m+`.example"}]}]}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out := runCLI(t, append([]string{"tx", "contact", "--from", m, "--file", f}, as(m)...)...); code != 0 {
			t.Fatalf("tx contact %s: exit %d\n%s", m, code, out)
		}
	}
	// A ping of two members needs the directory role: xaa has none.
	code, out := runCLI(t, append([]string{"tx", "ping", "--from", "xaa", "--to", "xbb,xcc", "--witness", n[1].RESTURL()}, as("xaa")...)...)
	if code != cli.ExitRejected || !strings.Contains(out, "no_directory_role") {
		t.Fatalf("tx ping without the directory role: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"tx", "ping", "--from", "observatory", "--to", "xbb,xcc", "--channel-type", "phone",
		"--answer-in", "10m", "--witness", n[1].RESTURL(), "--genesis", gen, "-o", "json"}, as("observatory")...)...)
	if code != 0 || !lineHas(out, "xbb", "technical phone +99 555 0120:") {
		t.Fatalf("tx ping: exit %d\n%s", code, out)
	}
	pingID := committed(out)
	var kept struct {
		Targets []client.PingSend `json:"targets"`
	}
	bz, err := os.ReadFile(filepath.Join(ip.net.MemberHomes["observatory"], "pings", pingID+".json"))
	if err != nil || json.Unmarshal(bz, &kept) != nil || len(kept.Targets) != 2 {
		t.Fatalf("the nonces were not kept: %v\n%s", err, bz)
	}
	nonce := kept.Targets[0].Nonce // xbb's, as its duty officer wrote it down
	if !strings.Contains(out, nonce) || kept.Targets[0].Member != "xbb" {
		t.Fatalf("the nonce for xbb was not printed: %s", out)
	}
	// xcc tries xbb's nonce: refused.
	code, out = runCLI(t, append([]string{"tx", "ping-answer", pingID, "--from", "xcc", "--nonce", nonce}, as("xcc")...)...)
	if code != cli.ExitRejected || !strings.Contains(out, "nonce_mismatch") {
		t.Fatalf("an answer with another target's nonce: exit %d\n%s", code, out)
	}
	spoken := strings.ToLower(strings.ReplaceAll(nonce, "-", " "))
	code, out = runCLI(t, append([]string{"tx", "ping-answer", pingID, "--from", "xbb", "--nonce", spoken, "-o", "json"}, as("xbb")...)...)
	if code != 0 {
		t.Fatalf("tx ping-answer: exit %d\n%s", code, out)
	}
	answerID := committed(out)
	code, out = runCLI(t, append([]string{"tx", "delivery-failure", pingID, "--from", "observatory", "--target", "xcc",
		"--reason", "Three calls to the registered number were not answered.", "-o", "json"}, as("observatory")...)...)
	if code != 0 {
		t.Fatalf("tx delivery-failure: exit %d\n%s", code, out)
	}
	failureID := committed(out)
	code, out = runCLI(t, append([]string{"query", "ping", pingID}, as("xbb")...)...)
	if code != 0 || !strings.Contains(out, "1 of 2, 1 on time; 1 deliveries failed") || !lineHas(out, "xbb", "met", shortID(answerID)) || !lineHas(out, "xcc", "open", "FAILED") {
		t.Fatalf("query ping: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"query", "directory"}, as("xbb")...)...)
	if code != 0 || !lineHas(out, "xcc", "STALE", "failed") || !lineHas(out, "xbb", "current") || !lineHas(out, "lumen", "STALE", "no directory entry") {
		t.Fatalf("query directory: exit %d\n%s", code, out)
	}
	// The monitor tells xcc of the ping and of the failure (its runs read
	// the state both nodes attest: run it until that includes the failure).
	events := map[string]string{}
	for deadline := time.Now().Add(30 * time.Second); events["delivery_failed:"+failureID] == ""; {
		for _, ev := range runMonitor("xcc").snapshot() {
			events[ev.ID] = ev.Summary
		}
		if time.Now().After(deadline) {
			t.Fatalf("the monitor gave xcc no delivery_failed event for %s: %v", failureID, events)
		}
	}
	if !strings.Contains(events["ping:"+pingID], "+99 555 0130") {
		t.Fatalf("no ping event naming the channel: %v", events)
	}

	// xcc fixes its entry (here: reconfirms it) and is current again.
	code, out = runCLI(t, append([]string{"tx", "contact", "--from", "xcc", "--reconfirm", "--witness", n[1].RESTURL(), "-o", "json"}, as("xcc")...)...)
	if code != 0 || !strings.Contains(out, "technical: Duty officer (phone +99 555 0130; email cert@xcc.example)") {
		t.Fatalf("tx contact --reconfirm: exit %d\n%s", code, out)
	}
	committed(out)
	code, out = runCLI(t, append([]string{"verify", "contact", "xcc"}, verifyFlags...)...)
	if code != 0 || !strings.Contains(out, "VERIFIED: the directory entry of xcc") || !strings.Contains(out, "current") {
		t.Fatalf("verify contact: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"verify", "ping", pingID}, verifyFlags...)...)
	if code != 0 || !lineHas(out, "xbb", "answered met", "phone +99 555 0120") || !lineHas(out, "xcc", "no answer yet", "open (proven)") {
		t.Fatalf("verify ping: exit %d\n%s", code, out)
	}
	t.Logf("%s", strings.TrimSpace(out))
}

// shortID is the first 12 characters of an id, as the CLI prints it.
func shortID(id string) string { return id[:12] }
