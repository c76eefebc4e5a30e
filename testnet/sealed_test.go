package testnet

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/audit"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/remote"
)

// Sealed notices end to end with the CLI on a running network: a state
// seals a notice to two others (tx seal), a recipient reads it (open
// sealed) and confirms (tx receipt), the figures say who was told and who
// confirmed (query sealed), and verify re-checks the receipt trusting no
// node. A sealer that lies (commits to one body, encrypts another) is
// proven so by a recipient's published file key, re-checked by verify.
func TestSealedNotices(t *testing.T) {
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
	runMonitor("xbb") // first runs: they start at the end of the record log
	runMonitor("xaa")
	committed := func(out string) string { return committedID(t, out) }

	dir := t.TempDir()
	body := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(body, []byte(`{"notification": {"type": "NOTIFICATION_TYPE_EXERCISE", "recipients": ["xbb", "xcc"],
  "summary": "Exercise plan: red team on XAA defence networks only.",
  "operation_window": {"start": "${now+24h}", "end": "${now+48h}"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The recipients' keys are proven (trust root: the home's genesis, headers
	// cross-checked with node1); a node that swaps a key is refused.
	swapper := liar(t, n[0].RESTURL(), func(path string, body []byte) []byte {
		if !strings.HasPrefix(path, "/v1/members/xcc") {
			return body
		}
		return bytes.Replace(body, []byte(`"ageRecipient":"age1`), []byte(`"ageRecipient":"age1x`), 1)
	})
	defer swapper.Close()
	seal := []string{"tx", "seal", "--from", "xaa", "--to", "xbb,xcc", "--file", body, "--witness", n[1].RESTURL(), "-o", "json"}
	code, out := runCLI(t, append(append(seal, as("xaa")...), "--node", swapper.URL)...)
	if code == 0 || !strings.Contains(out, "the registry entry of xcc does not verify") {
		t.Fatalf("tx seal through a node that swaps a key: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append(seal, as("xaa")...)...)
	if code != 0 {
		t.Fatalf("tx seal: exit %d\n%s", code, out)
	}
	sealedID := committed(out)
	if _, err := os.Stat(filepath.Join(ip.net.MemberHomes["xaa"], "sealed", sealedID+".reveal.json")); err != nil {
		t.Fatalf("the reveal was not kept: %v", err)
	}
	code, out = runCLI(t, append([]string{"open", "sealed", sealedID}, as("xbb")...)...)
	if code != 0 || !strings.Contains(out, "MATCHES") || !strings.Contains(out, "red team on XAA") {
		t.Fatalf("open sealed: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"open", "sealed", sealedID}, as("observatory")...)...)
	if code == 0 || !strings.Contains(out, "no encryption identity") {
		t.Fatalf("a non-recipient opened it: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"tx", "receipt", sealedID, "--from", "xbb", "-o", "json"}, as("xbb")...)...)
	if code != 0 {
		t.Fatalf("tx receipt: exit %d\n%s", code, out)
	}
	receiptID := committed(out)
	code, out = runCLI(t, append([]string{"query", "sealed", sealedID}, as("xbb")...)...)
	if code != 0 || !strings.Contains(out, "2, 1 confirmed, 0 mismatches proven") || !lineHas(out, "xbb", "met", "matches") || !lineHas(out, "xcc", "open") {
		t.Fatalf("query sealed: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"verify", "receipt", receiptID}, verifyFlags...)...)
	if code != 0 || !strings.Contains(out, "VERIFIED: xbb confirmed that sealed record "+sealedID) {
		t.Fatalf("verify receipt: exit %d\n%s", code, out)
	}

	// The liar: xaa commits to one plan and sends another.
	ms, err := ip.clients[0].Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := client.RecipientKeys(ms, []string{"xbb", "xcc"})
	if err != nil {
		t.Fatal(err)
	}
	committedPlan := notice("Exercise plan: defence networks only.")
	sentPlan := notice("Exercise plan: the XBB power grid's control network is in scope.")
	lie, _, err := client.SealTo(committedPlan, keys)
	if err != nil {
		t.Fatal(err)
	}
	salt := bytes.Repeat([]byte{7}, 32)
	payload, _ := ledger.SealedPayload(salt, sentPlan)
	var rs []age.Recipient
	for _, k := range keys {
		r, _ := age.ParseX25519Recipient(k.AgeRecipient)
		rs = append(rs, r)
	}
	var ct bytes.Buffer
	w, _ := age.Encrypt(&ct, rs...)
	w.Write(payload)
	w.Close()
	lie.Ciphertext = ct.Bytes()
	lie.RevealBy = timestamppb.New(time.Now().Add(72 * time.Hour))
	signer, err := ip.net.Signer("xaa")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ip.clients[0].Submit(ctx, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Sealed{Sealed: lie}}, signer, nil, true)
	if err != nil || res.Rejected() {
		t.Fatalf("the lie was not filed: %v %+v", err, res)
	}
	if err := ip.clients[0].WaitAttested(ctx, res.Height); err != nil {
		t.Fatal(err)
	}
	code, out = runCLI(t, append([]string{"open", "sealed", res.ID}, as("xcc")...)...)
	if code != 4 || !strings.Contains(out, "DOES NOT MATCH") {
		t.Fatalf("open sealed (lie): exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"tx", "receipt", res.ID, "--from", "xcc", "-o", "json"}, as("xcc")...)...)
	if code != 0 || !strings.Contains(out, "does NOT match") {
		t.Fatalf("tx receipt (lie): exit %d\n%s", code, out)
	}
	proof := committed(out)
	code, out = runCLI(t, append([]string{"verify", "receipt", proof}, verifyFlags...)...)
	if code != 0 || !strings.Contains(out, "VERIFIED MISMATCH") || !strings.Contains(out, "do not give the sealed commitment") {
		t.Fatalf("verify receipt (lie): exit %d\n%s", code, out)
	}
	t.Logf("%s", strings.TrimSpace(out))
	nr, err := ip.clients[0].SealedNotice(ctx, res.ID, 0)
	if err != nil || nr.Notice.MismatchesProven != 1 {
		t.Fatalf("sealed notice figures: %+v %v", nr.GetNotice(), err)
	}

	// A stanza that does not open: xcc's is for a key nobody registered.
	stranger, _ := age.GenerateX25519Identity()
	garbled, _, err := client.SealTo(committedPlan, keys)
	if err != nil {
		t.Fatal(err)
	}
	ct.Reset()
	w, _ = age.Encrypt(&ct, rs[0], stranger.Recipient())
	w.Write(payload)
	w.Close()
	garbled.Ciphertext, garbled.RevealBy = ct.Bytes(), timestamppb.New(time.Now().Add(72*time.Hour))
	res2, err := ip.clients[0].Submit(ctx, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Sealed{Sealed: garbled}}, signer, nil, true)
	if err != nil || res2.Rejected() {
		t.Fatalf("the garbled notice was not filed: %v %+v", err, res2)
	}
	if err := ip.clients[0].WaitAttested(ctx, res2.Height); err != nil {
		t.Fatal(err)
	}
	code, out = runCLI(t, append([]string{"tx", "receipt", res2.ID, "--from", "xcc", "-o", "json"}, as("xcc")...)...)
	if code != 0 || !strings.Contains(out, "no recipient stanza opens with this member's key") {
		t.Fatalf("tx receipt (garbled stanza): exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"verify", "receipt", committed(out)}, verifyFlags...)...)
	if code != 0 || !strings.Contains(out, "without proof") {
		t.Fatalf("verify receipt (unproven): exit %d\n%s", code, out)
	}

	// The monitor tells xbb of what was sealed to it (never the body), and
	// xaa of the mismatch xcc proved (each from the state its first run,
	// before the seals, left).
	for member, want := range map[string]string{"xbb": "sealed:" + sealedID, "xaa": "mismatch:" + proof} {
		ev := runMonitor(member).wait(t, want, 0)
		if strings.Contains(ev.Summary, "red team") || strings.Contains(ev.Summary, "power grid") {
			t.Fatalf("the monitor showed a body: %s", ev.Summary)
		}
		t.Logf("monitor %s: %s", member, ev.Summary)
	}

	// An audit re-executes every block (the seals, receipts and the proven
	// mismatch the ledger opened) and finds nothing amiss.
	st, err := ip.clients[0].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ip.caughtUp(t, ctx)
	chainID, _ := ip.clients[0].ChainID(ctx)
	rep, err := audit.Run(ctx, audit.Options{API: ip.clients[0], NodeName: "node0",
		Witnesses: []*remote.Provider{remote.NewProvider(chainID, ip.clients[1].Base(), ip.clients[1])}, ToHeight: st.LatestAttestedHeight})
	if err != nil || !rep.OK() || rep.AppHashesMatched != rep.Blocks {
		t.Fatalf("audit: %v %+v", err, rep)
	}
	t.Logf("audit: %d blocks, %d txs, %d records, app hashes matched", rep.Blocks, rep.Txs, rep.RecordsCompared)
}

func notice(summary string) *pb.Record {
	now := time.Now()
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_EXERCISE, Recipients: []string{"xbb", "xcc"}, Summary: summary,
		OperationWindow: &pb.TimeWindow{Start: timestamppb.New(now.Add(24 * time.Hour)), End: timestamppb.New(now.Add(48 * time.Hour))}}}}
}

// lineHas says whether a line of out holds every word, in order.
func lineHas(out string, words ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		rest, ok := l, true
		for _, w := range words {
			i := strings.Index(rest, w)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(w):]
		}
		if ok {
			return true
		}
	}
	return false
}
