package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cliRun runs the binary against node p and returns its output and exit status.
func (p *proc) cli(args ...string) (string, int) {
	p.t.Helper()
	full := append(args, "--home", p.home, "--keyring-backend", "test", "--node", p.rest)
	out, err := exec.Command(binary, full...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		p.t.Fatalf("normledger %s: %v", strings.Join(args, " "), err)
	}
	return string(out), 0
}

func (p *proc) mustCLI(args ...string) string {
	p.t.Helper()
	out, code := p.cli(args...)
	if code != 0 {
		p.t.Fatalf("normledger %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

type cliResult struct {
	ID       string `json:"id"`
	Height   int64  `json:"height"`
	CodeName string `json:"code_name"`
}

func (p *proc) submitNote(from, file string) cliResult {
	p.t.Helper()
	var r cliResult
	if err := json.Unmarshal([]byte(p.mustCLI("tx", "submit", "--from", from, "--file", file, "-o", "json")), &r); err != nil {
		p.t.Fatal(err)
	}
	return r
}

// The key lifecycle end to end, through the CLI and REST of a real node:
// after a rotation by vote the old key's new records are refused; after
// the member revokes the new key as compromised, a record signed after the
// compromise point is flagged in REST, CLI and verify output; a record
// signed before either still verifies, online and from an offline bundle.
func TestKeyLifecycle(t *testing.T) {
	p, c := runningNode(t)
	dir := t.TempDir()
	gen := filepath.Join(p.home, "config", "genesis.json")
	noteFile := filepath.Join(dir, "note.json")
	if err := os.WriteFile(noteFile, []byte(`{"notification": {"type": "NOTIFICATION_TYPE_INFORMATION",
		"recipients": ["lumen"], "summary": "Point-of-contact roster ${n}"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	note := func(from string, n int) (string, int) {
		return p.cli("tx", "submit", "--from", from, "--file", noteFile, "--var", "n="+strconv.Itoa(n), "-o", "json")
	}
	out, code := note("xbb", 1)
	if code != 0 {
		t.Fatal(out)
	}
	var a cliResult
	json.Unmarshal([]byte(out), &a)

	// Rotation by vote: xbb's operator makes a new key; two of three states agree.
	var oldKey, newKey struct {
		KeyID  string `json:"key_id"`
		PubKey string `json:"pub_key"`
	}
	json.Unmarshal([]byte(p.mustCLI("keys", "show", "xbb", "-o", "json")), &oldKey)
	json.Unmarshal([]byte(p.mustCLI("keys", "add", "xbb-2", "--member", "xbb", "-o", "json")), &newKey)
	var prop cliResult
	json.Unmarshal([]byte(p.mustCLI("gov", "propose", "rotate-key", "xbb", oldKey.KeyID, newKey.PubKey, "--from", "xaa",
		"--rationale", "Scheduled rotation of XBB's signing key", "-o", "json")), &prop)
	p.mustCLI("gov", "vote", prop.ID, "yes", "--from", "xaa")
	p.mustCLI("gov", "vote", prop.ID, "yes", "--from", "xbb", "--statement", "XBB requested this rotation")
	show := p.mustCLI("query", "proposal", prop.ID)
	if !strings.Contains(show, "status:     passed") || !strings.Contains(show, "xbb           yes") {
		t.Fatalf("query proposal:\n%s", show)
	}
	out, code = note("xbb", 2)
	if code != 2 || !strings.Contains(out, "key_inactive") {
		t.Fatalf("old key after rotation: exit %d\n%s", code, out)
	}
	out, code = note("xbb-2", 3)
	if code != 0 {
		t.Fatalf("new key after rotation: %s", out)
	}
	var b cliResult
	json.Unmarshal([]byte(out), &b)

	// xbb finds the new key stolen: it revokes it at once, compromised since b's height.
	p.mustCLI("gov", "revoke-key", newKey.KeyID, "--from", "xbb-2", "--compromised-since-height", strconv.FormatInt(b.Height, 10),
		"--reason", "Laptop of the duty officer stolen")
	out, code = note("xbb-2", 4)
	if code != 2 || !strings.Contains(out, "key_inactive") {
		t.Fatalf("revoked key: exit %d\n%s", code, out)
	}
	ctx := context.Background()
	st, _ := c.Status(ctx)
	waitHeight(t, c, st.LatestHeight+1, 30*time.Second)

	// REST.
	rb, err := c.GetRecord(ctx, b.ID, 0, false)
	if err != nil || len(rb.Flags) != 1 || rb.Flags[0].KeyId != newKey.KeyID || rb.Flags[0].Reason != "key_compromised" {
		t.Fatalf("REST flags of the record after the compromise: %v %v", rb.GetFlags(), err)
	}
	ra, err := c.GetRecord(ctx, a.ID, 0, false)
	if err != nil || len(ra.Flags) != 0 {
		t.Fatalf("REST flags of the record before: %v %v", ra.GetFlags(), err)
	}
	// CLI.
	if out := p.mustCLI("query", "record", b.ID); !strings.Contains(out, "WARNING:    key_compromised") {
		t.Fatalf("query record (flagged):\n%s", out)
	}
	if out := p.mustCLI("query", "records", "--author", "xbb"); !strings.Contains(out, "FLAGGED") {
		t.Fatalf("query records:\n%s", out)
	}
	if out := p.mustCLI("query", "record", a.ID); strings.Contains(out, "WARNING") {
		t.Fatalf("query record (before):\n%s", out)
	}
	// verify, online.
	out = p.mustCLI("verify", "record", b.ID, "--genesis", gen, "--witness", p.rest)
	if !strings.HasPrefix(out, "VERIFIED") || !strings.Contains(out, "WARNING (proven): key_compromised") {
		t.Fatalf("verify record (flagged):\n%s", out)
	}
	out = p.mustCLI("verify", "record", a.ID, "--genesis", gen, "--witness", p.rest)
	if !strings.HasPrefix(out, "VERIFIED") || strings.Contains(out, "WARNING") {
		t.Fatalf("verify record (before the rotation):\n%s", out)
	}
	// verify, offline bundles.
	for _, c := range []struct {
		id      string
		flagged bool
	}{{a.ID, false}, {b.ID, true}} {
		bundle := filepath.Join(dir, c.id[:8]+".json")
		p.mustCLI("query", "record", c.id, "--bundle", bundle, "--genesis", gen, "--witness", p.rest)
		out := p.mustCLI("verify", "bundle", bundle, "--genesis", gen)
		if !strings.HasPrefix(out, "VERIFIED") || strings.Contains(out, "WARNING (proven)") != c.flagged {
			t.Fatalf("verify bundle (flagged %v):\n%s", c.flagged, out)
		}
	}
	// Member history in REST.
	m, err := c.GetMember(ctx, "xbb", 0, false)
	if err != nil || len(m.Member.History) != 2 {
		t.Fatalf("xbb's history: %v %v", m.GetMember().GetHistory(), err)
	}
	t.Logf("xbb history: %q; %q", m.Member.History[0].Change, m.Member.History[1].Change)
}
