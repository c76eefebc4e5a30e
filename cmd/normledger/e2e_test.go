package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/internal/testports"
	"github.com/normledger/normledger/interop/stix"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
	"google.golang.org/protobuf/proto"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "normledger-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "normledger")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int { return pickPort(t) }

// pickPort hands out a listen port no other test process holds.
func pickPort(t testing.TB) int { t.Helper(); return testports.Pick(t) }

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("normledger %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// proc is a node running as a separate OS process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	home string
	rpc  string
	p2p  string
	rest string
	grpc string
	log  *bytes.Buffer
}

func initNode(t *testing.T) *proc {
	home := t.TempDir()
	run(t, "init", "--dev", "--home", home, "--keyring-backend", "test", "--chain-id", "kill-test")
	cfgPath := filepath.Join(home, "config", "config.toml")
	bz, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(bz), `timeout_commit = "1s"`, `timeout_commit = "100ms"`, 1)
	s = strings.Replace(s, "pex = true", "pex = false", 1)
	if err := os.WriteFile(cfgPath, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return &proc{t: t, home: home,
		rpc:  fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		p2p:  fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		rest: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		grpc: fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))}
}

// runningNode is a dev node started on a fresh home, with a client, once it
// has committed block 2.
func runningNode(t *testing.T) (*proc, *client.Client) {
	t.Helper()
	p := initNode(t)
	p.start()
	c, err := client.New(p.rest)
	if err != nil {
		t.Fatal(err)
	}
	waitHeight(t, c, 2, 30*time.Second)
	return p, c
}

func (p *proc) start() {
	p.t.Helper()
	p.log = new(bytes.Buffer)
	p.cmd = exec.Command(binary, "start", "--home", p.home, "--rpc.laddr", p.rpc, "--p2p.laddr", p.p2p,
		"--rest.laddr", strings.Replace(p.rest, "http://", "tcp://", 1), "--grpc.laddr", p.grpc)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	p.cmd.Wait()
}

func waitHeight(t *testing.T, c *client.Client, h int64, within time.Duration) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	got, err := c.WaitHeight(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func note(i int) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xbb", "xcc"},
		Summary: fmt.Sprintf("Point-of-contact roster update %d", i),
	}}}
}

// A node killed with SIGKILL after N committed records restarts with all N,
// an app hash matching the headers, and keeps committing.
func TestSIGKILLRestartKeepsEveryCommittedRecord(t *testing.T) {
	const n = 25
	p, c := runningNode(t)
	kr, _ := keyring.Open(filepath.Join(p.home, "keyring"), keyring.BackendTest, nil)
	signers := []string{"xaa", "xbb", "xcc"}
	ctx := context.Background()
	var ids []string
	var lastHeight int64
	for i := 0; i < n; i++ {
		s, err := kr.Signer(signers[i%3])
		if err != nil {
			t.Fatal(err)
		}
		rec := note(i)
		rec.GetNotification().Recipients = []string{"lumen"}
		res, err := c.Submit(ctx, rec, s, nil, true)
		if err != nil || res.Rejected() || !res.Committed {
			t.Fatalf("submit %d: %+v %v", i, res, err)
		}
		ids = append(ids, res.ID)
		lastHeight = res.Height
	}
	// The newest state whose app hash a header carries, and that app hash.
	if err := c.WaitAttested(ctx, lastHeight); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	killedAt, killedHash := st.LatestAttestedHeight, st.AppHash
	proofBefore, err := c.GetRecord(ctx, ids[n-1], killedAt, true)
	if err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGKILL)
	t.Logf("killed at height %d with %d records", killedAt, n)

	restart := time.Now()
	p.start()
	h := waitHeight(t, c, killedAt+2, 60*time.Second)
	t.Logf("resumed: height %d reached %s after restart", h, time.Since(restart).Round(time.Millisecond))
	for i, id := range ids {
		r, err := c.Record(ctx, id)
		if err != nil {
			t.Fatalf("record %d (%s) lost after SIGKILL: %v", i, id, err)
		}
		if ledger.RecordID(r.Tx) != id {
			t.Fatalf("record %d changed", i)
		}
	}
	// The restarted app serves the same state at the pre-kill height: its
	// proof verifies against the header that attested it before the kill.
	hdr, err := c.LightBlock(ctx, killedAt+1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hdr.AppHash, killedHash) {
		t.Fatalf("header %d app hash %X, was %X before the kill", killedAt+1, hdr.AppHash, killedHash)
	}
	after, err := c.GetRecord(ctx, ids[n-1], killedAt, true)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(after, proofBefore) {
		t.Fatal("state at the pre-kill height differs after restart")
	}
	if _, err := verifiers.Record(hdr.AppHash, ids[n-1], after); err != nil {
		t.Fatalf("pre-kill state after restart: %v", err)
	}
	// And the newest state after restart matches the newest header.
	st, err = c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := c.GetRecord(ctx, ids[0], st.LatestAttestedHeight, true)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err = c.LightBlock(ctx, st.LatestAttestedHeight+1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifiers.Record(hdr.AppHash, ids[0], latest); err != nil {
		t.Fatalf("state after restart does not match header %d: %v", st.LatestAttestedHeight+1, err)
	}
	// And it keeps committing new records.
	s, _ := kr.Signer("xaa")
	res, err := c.Submit(ctx, note(1000), s, nil, true)
	if err != nil || !res.Committed {
		t.Fatalf("submit after restart: %+v %v\n%s", res, err, p.log)
	}
	p.signal(syscall.SIGTERM)
	if !strings.Contains(p.log.String(), "node stopped") {
		t.Fatalf("SIGTERM did not stop the node cleanly:\n%s", p.log)
	}
}

// Every example record file goes through the real binary: init, start, tx
// submit, query record; what comes back is the signed record that was sent.
func TestExampleRecordsThroughTheCLI(t *testing.T) {
	p, _ := runningNode(t)
	examples, _ := filepath.Abs("../../examples/records")
	steps := []struct{ file, from, co, save string }{
		{"pledge.json", "xaa", "xbb", "pledge"}, {"notification.json", "xaa", "", "notification"},
		{"acknowledgement.json", "xbb", "", "ack"}, {"response.json", "xbb", "", "response"},
		{"incident_disclosure.json", "xbb", "", "incident"}, {"harm_assessment.json", "observatory", "", "assessment"},
		{"finding.json", "lumen", "", "finding"}, {"challenge.json", "xaa", "", "challenge"},
		{"amendment.json", "xbb", "", "amendment"}, {"retraction.json", "xbb", "", "retraction"},
		{"sealed.json", "xaa", "", "sealed"}, {"reveal.json", "xaa", "", "reveal"},
		{"proposal.json", "xaa", "", "proposal"}, {"vote.json", "xaa", "", "vote"}, {"vote.json", "xbb", "", "vote2"},
		// App version 12 (docs/evidence.md).
		{"methodology.json", "observatory", "", "methodology"}, {"harm_assessment_v2.json", "observatory", "lumen", "joint"},
		{"attribution.json", "xbb", "xcc", "attribution"}, {"attribution_reply.json", "xaa", "", "attribution_reply"},
		{"declaration.json", "xaa", "", "declaration"}, {"statement.json", "xbb", "", "statement"},
		{"statement_vote.json", "xaa", "", "statement_vote"}, {"exercise_notification.json", "xbb", "", "exercise"},
		{"near_miss.json", "xcc", "", "near_miss"},
	}
	vars := map[string]string{}
	for _, s := range steps {
		args := []string{"tx", "submit", "--home", p.home, "--node", p.rest, "--from", s.from, "--file", filepath.Join(examples, s.file), "-o", "json"}
		if s.co != "" {
			args = append(args, "--co-signer", s.co)
		}
		for k, v := range vars {
			args = append(args, "--var", k+"="+v)
		}
		out := run(t, args...)
		var res struct {
			ID        string `json:"id"`
			Committed bool   `json:"committed"`
		}
		if err := jsonUnmarshal(out, &res); err != nil || !res.Committed {
			t.Fatalf("%s: %v\n%s", s.file, err, out)
		}
		vars[s.save] = res.ID
		// Query it back through the CLI: the stored tx hashes to the id the
		// submitter computed, so it is byte-for-byte the signed record sent.
		q := run(t, "query", "record", res.ID, "--home", p.home, "--node", p.rest, "-o", "json")
		var view struct {
			ID     string `json:"id"`
			Kind   string `json:"kind"`
			Author string `json:"author"`
			Tx     []byte `json:"tx"`
		}
		if err := jsonUnmarshal(q, &view); err != nil {
			t.Fatal(err)
		}
		kind := map[string]string{"harm_assessment_v2.json": "harm_assessment", "attribution_reply.json": "response", "statement.json": "proposal",
			"statement_vote.json": "vote", "exercise_notification.json": "notification", "near_miss.json": "incident_disclosure"}[s.file]
		if kind == "" {
			kind = strings.TrimSuffix(s.file, ".json")
		}
		if ledger.RecordID(view.Tx) != res.ID || view.Author != s.from || view.Kind != kind {
			t.Fatalf("%s: queried %s by %s (kind %s)", s.file, view.ID, view.Author, view.Kind)
		}
	}
	// The README's STIX round trip: export, import the incidents as xcc,
	// export them again: the same disclosures, now by xcc (its own
	// near-miss is skipped as already filed); the attribution comes back
	// with the new incidents' ids, xcc (its co-attributor) now its author.
	bundle := filepath.Join(t.TempDir(), "ledger.stix.json")
	run(t, "export", "stix", "--home", p.home, "--node", p.rest, "-f", bundle)
	dry := run(t, "import", "stix", bundle, "--from", "xcc", "--dry-run", "--home", p.home, "--node", p.rest)
	if !strings.Contains(dry, "would submit 3 records") || !strings.Contains(dry, "not carried: signatures") ||
		!strings.Contains(dry, "A1. ") || !strings.Contains(dry, "political attribution (clear_and_convincing") {
		t.Fatalf("dry run:\n%s", dry)
	}
	imported := run(t, "import", "stix", bundle, "--from", "xcc", "--co-signer", "xbb", "--yes", "--home", p.home, "--node", p.rest)
	if !strings.Contains(imported, "already filed: ") || !strings.Contains(imported, "as attribution") {
		t.Fatalf("import:\n%s", imported)
	}
	again := run(t, "export", "stix", "--kind", "incident_disclosure", "--member", "xcc", "--home", p.home, "--node", p.rest)
	disclosures := func(text string) []string {
		var b struct {
			Objects []struct {
				Type       string                     `json:"type"`
				Extensions map[string]json.RawMessage `json:"extensions"`
			} `json:"objects"`
		}
		if i := strings.Index(text, "{"); i >= 0 {
			text = text[i:]
		}
		if j := strings.LastIndex(text, "}"); j >= 0 {
			text = text[:j+1]
		}
		if err := json.Unmarshal([]byte(text), &b); err != nil {
			t.Fatalf("bundle: %v", err)
		}
		var out []string
		for _, o := range b.Objects {
			if o.Type != "incident" {
				continue
			}
			var x struct {
				Author string          `json:"author"`
				Record json.RawMessage `json:"record"`
			}
			json.Unmarshal(o.Extensions[stix.RecordExtension], &x)
			var rec map[string]any
			json.Unmarshal(x.Record, &rec)
			d := rec["incident_disclosure"]
			if am, ok := rec["amendment"].(map[string]any); ok {
				d = am["replacement"].(map[string]any)["incident_disclosure"]
			}
			bz, _ := json.Marshal(d)
			out = append(out, x.Author+" "+string(bz))
		}
		return out
	}
	orig, _ := os.ReadFile(bundle)
	a, b := disclosures(string(orig)), disclosures(again)
	if len(a) != 3 || len(b) != 3 {
		t.Fatalf("incidents: %d then %d\n%s", len(a), len(b), again)
	}
	bodies := func(list []string) []string {
		var out []string
		for _, s := range list {
			out = append(out, s[strings.Index(s, " ")+1:])
		}
		sort.Strings(out)
		return out
	}
	if x, y := bodies(a), bodies(b); !reflect.DeepEqual(x, y) {
		t.Fatalf("the incidents changed in the round trip:\n%v\n%v", x, y)
	}
	for _, s := range b {
		if !strings.HasPrefix(s, "xcc ") {
			t.Fatalf("re-exported incident not by xcc: %s", s)
		}
	}
	badFile := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(badFile, []byte(`{"type":"bundle","id":"bundle--6b4c2f4e-0d4f-4d5e-9c55-2f7d0d8f8e11","objects":[{"type":"incident","spec_version":"2.0"}]}`), 0o644)
	cmd := exec.Command(binary, "import", "stix", badFile, "--from", "xcc", "--yes", "--home", p.home, "--node", p.rest)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "/objects/0/") {
		t.Fatalf("bad bundle: %v\n%s", err, out)
	}

	// A missing record exits 3; a rejected submission exits 2.
	cmd = exec.Command(binary, "query", "record", strings.Repeat("0", 64), "--home", p.home, "--node", p.rest)
	if err := cmd.Run(); cmd.ProcessState.ExitCode() != 3 {
		t.Fatalf("missing record: exit %d (%v)", cmd.ProcessState.ExitCode(), err)
	}
	cmd = exec.Command(binary, "tx", "submit", "--home", p.home, "--node", p.rest, "--from", "lumen",
		"--file", filepath.Join(examples, "pledge.json"), "--co-signer", "xbb")
	if err := cmd.Run(); cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("rejected submission: exit %d (%v)", cmd.ProcessState.ExitCode(), err)
	}
}
