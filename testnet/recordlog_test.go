package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/audit"
	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/node/witness"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/checkpoint"
	"github.com/normledger/normledger/verifiers/remote"
)

// logNet is a 4-validator network with a non-validator full node (where
// verifiers read), a seeded scenario (records of many kinds) and enough load
// records to fill the record log's first tiles.
type logNet struct {
	f     *faultNet
	full  NodeInfo
	cf    *client.Client
	gen   *cmttypes.GenesisDoc
	trust remote.TrustRoot
}

func startLogNet(t *testing.T, chainID string, dir string) *logNet {
	t.Helper()
	ln := startLogNetStopped(t, chainID, dir, 0)
	ln.startAll(t)
	return ln
}

func (ln *logNet) load(t *testing.T, n int) {
	t.Helper()
	rep, err := RunLoad(context.Background(), ln.f.nw, LoadOptions{Rate: 150, Duration: time.Duration(n/150+1) * time.Second, Size: 600,
		Settle: 5 * time.Second, Signers: []string{"load-001", "load-002", "load-003", "load-004"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Committed < n {
		t.Fatalf("load: %d of %d records committed", rep.Committed, n)
	}
	ln.f.waitCatchUp(ln.full.Name, 60*time.Second)
}

// witnessClients are two validators' APIs.
func (ln *logNet) witnessClients() []*client.Client {
	var ws []*client.Client
	for _, n := range ln.f.nw.Nodes[:2] {
		c, _ := client.New(n.RESTURL())
		ws = append(ws, c)
	}
	return ws
}

// witnesses are they as the providers audit cross-checks headers with.
func (ln *logNet) witnesses() []*remote.Provider {
	return providers(ln.gen.ChainID, ln.witnessClients())
}

// verifier reads from node, cross-checking the validators' headers, with
// its trust store in dir ("": in memory) and the network's trust root.
func (ln *logNet) verifier(t *testing.T, node *client.Client, dir string) *remote.Verifier {
	return ln.verifierFrom(t, node, dir, ln.trust)
}

// verifierFrom is verifier with a trust root of its own (zero: resume from
// the trust store).
func (ln *logNet) verifierFrom(t *testing.T, node *client.Client, dir string, root remote.TrustRoot) *remote.Verifier {
	t.Helper()
	return lightVerifier(t, ln.gen.ChainID, root, dir, node, ln.witnessClients()...)
}

// The record log through the public API of a non-validator full node:
// listings proven complete and every record kind's inclusion proof
// verified; consistency proofs between random sizes; a node that serves a
// rewritten log (one tile swapped) is refused by its own checks at start,
// and when it serves the log unchecked anyway, by verify and by audit.
func TestRecordLog(t *testing.T) {
	binaries(t) // an OS-process network: NORMLEDGER_NETWORKS=1
	ln := startLogNet(t, "recordlog", t.TempDir())
	ctx := context.Background()
	steps, err := Seed(ctx, ln.f.nw, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln.load(t, 600)
	// The seed's ping round (the last state silent) has closed before the
	// height everything below reads and audits.
	pingID, silent := directoryRound(t, ln.cf, steps)
	st, err := ln.cf.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := st.LatestAttestedHeight
	v := ln.verifier(t, ln.cf, t.TempDir())
	lb, err := v.Light.Header(ctx, h+1)
	if err != nil {
		t.Fatal(err)
	}
	var all []*pb.StoredRecord

	t.Run("every record listed, completeness proven; every kind's inclusion proof verifies", func(t *testing.T) {
		q := verifiers.ListQuery{Limit: 200}
		for {
			resp, err := ln.cf.Records(ctx, &pb.ListRecordsRequest{Height: h, Prove: true, Limit: 200, PageToken: tokenOf(q.After)})
			if err != nil {
				t.Fatal(err)
			}
			res, err := verifiers.List(lb.AppHash, q, resp)
			if err != nil {
				t.Fatalf("page after %d: %v", q.After, err)
			}
			if !res.Complete {
				t.Fatalf("page after %d: not proven complete", q.After)
			}
			all = append(all, res.Records...)
			if resp.NextPageToken == "" {
				if uint64(len(all)) != res.Log.Size {
					t.Fatalf("listed %d records, the log holds %d", len(all), res.Log.Size)
				}
				break
			}
			last := res.Records[len(res.Records)-1]
			q.After, q.AfterHeight = last.Seq, last.Height
		}
		// A listing by one index, in pages, is proven complete too.
		q = verifiers.ListQuery{Kind: "notification", Limit: 50}
		var notes int
		for {
			resp, err := ln.cf.Records(ctx, &pb.ListRecordsRequest{Height: h, Prove: true, Kind: q.Kind, Limit: 50, PageToken: tokenOf(q.After)})
			if err != nil {
				t.Fatal(err)
			}
			res, err := verifiers.List(lb.AppHash, q, resp)
			if err != nil || !res.Complete {
				t.Fatalf("notifications after %d: complete %v, %v", q.After, res != nil && res.Complete, err)
			}
			notes += len(res.Records)
			if resp.NextPageToken == "" {
				break
			}
			last := res.Records[len(res.Records)-1]
			q.After, q.AfterHeight = last.Seq, last.Height
		}
		want := 0
		kinds := map[pb.RecordKind]string{}
		for _, r := range all {
			if r.Kind == pb.RecordKind_RECORD_KIND_NOTIFICATION {
				want++
			}
			if _, ok := kinds[r.Kind]; !ok {
				kinds[r.Kind] = r.Id
			}
		}
		if notes != want {
			t.Fatalf("the notification listing holds %d records, the full listing %d notifications", notes, want)
		}
		for kind, id := range kinds {
			res, _, err := v.Record(ctx, id)
			if err != nil {
				t.Fatalf("%s record %s: %v", kind, id, err)
			}
			if res.LogSize == 0 || !res.LogConsistent {
				t.Fatalf("%s record %s: log not checked: %+v", kind, id, res)
			}
		}
		if len(kinds) < 10 {
			t.Fatalf("only %d record kinds on the chain: the scenario should file more", len(kinds))
		}
		t.Logf("%d records listed over %d pages, every page proven complete; %d notifications by kind; inclusion proofs of %d record kinds verified",
			len(all), (len(all)+199)/200, notes, len(kinds))
	})

	t.Run("the directory: a contact proven at a height, a ping's silent target proven unanswered", func(t *testing.T) {
		gen := filepath.Join(ln.f.nw.Nodes[0].Home, "config", "genesis.json")
		flags := []string{"--node", ln.cf.Base(), "--genesis", gen, "--witness", ln.f.nw.Nodes[0].RESTURL(), "--home", t.TempDir()}
		var contact SeedStep // the silent state's contact update
		for _, s := range steps {
			if s.Name == "contact_"+silent {
				contact = s
			}
		}
		code, out := runCLI(t, append([]string{"verify", "contact", silent, "--height", fmt.Sprint(contact.Height)}, flags...)...)
		if code != 0 || !strings.Contains(out, fmt.Sprintf("VERIFIED: the directory entry of %s at height %d", silent, contact.Height)) ||
			!strings.Contains(out, "+99 555 0100") || !strings.Contains(out, "status:") || !strings.Contains(out, "current") {
			t.Fatalf("verify contact %s at height %d: exit %d\n%s", silent, contact.Height, code, out)
		}
		code, out = runCLI(t, append([]string{"verify", "contact", "lumen", "--height", fmt.Sprint(contact.Height)}, flags...)...)
		if code != 0 || !strings.Contains(out, "STALE: no directory entry") {
			t.Fatalf("verify contact of a member without an entry: exit %d\n%s", code, out)
		}
		code, out = runCLI(t, append([]string{"verify", "ping", pingID}, flags...)...)
		if code != 0 || !lineHas(out, silent, "NO ANSWER by", "overdue (proven)") || !lineHas(out, "xaa", "answered met", "proven") {
			t.Fatalf("verify ping: exit %d\n%s", code, out)
		}
		// At the ping's own height every duty is open, and proven so: but
		// its block time is before answer_by, so that proves no silence.
		var ping SeedStep
		for _, s := range steps {
			if s.Name == PingStep {
				ping = s
			}
		}
		code, out = runCLI(t, append([]string{"verify", "ping", pingID, "--height", fmt.Sprint(ping.Height)}, flags...)...)
		if code != 0 || strings.Contains(out, "NO ANSWER") || !lineHas(out, silent, "no answer yet at height") {
			t.Fatalf("verify ping at the ping's height: exit %d\n%s", code, out)
		}
		// A node that hides the answer (an answered duty shown open) is caught.
		hider := liar(t, ln.cf.Base(), func(path string, body []byte) []byte {
			if !strings.HasPrefix(path, "/v1/obligations/") {
				return body
			}
			return bytes.Replace(body, []byte(`"OBLIGATION_STATUS_MET"`), []byte(`"OBLIGATION_STATUS_OPEN"`), 1)
		})
		defer hider.Close()
		code, out = runCLI(t, append(append([]string{"verify", "ping", pingID}, flags...), "--node", hider.URL)...)
		if code != cli.ExitUnverified {
			t.Fatalf("verify ping through a node that hides an answer: exit %d\n%s", code, out)
		}
		t.Logf("ping %s: %s proven silent; %s's contact proven at height %d", pingID[:12], silent, silent, contact.Height)
	})

	t.Run("consistency proofs between random log sizes verify", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		logAt := func(height int64) verifiers.LogState {
			r, err := ln.cf.GetLog(ctx, height, true)
			if err != nil {
				t.Fatal(err)
			}
			hb, err := v.Light.Header(ctx, height+1)
			if err != nil {
				t.Fatal(err)
			}
			ls, err := verifiers.ProvenLog(hb.AppHash, r.Proof, height)
			if err != nil {
				t.Fatal(err)
			}
			return ls
		}
		// Heights up to the last record's: after it the log no longer
		// grows (the directory round above idles the chain for a while).
		top := h
		if len(all) > 0 { // listed by the first subtest
			top = all[len(all)-1].Height
		}
		pairs, nontrivial := 0, 0
		for attempt := 0; nontrivial < 12 && attempt < 200; attempt++ {
			h1 := 1 + rng.Int64N(top)
			h2 := h1 + rng.Int64N(top-h1+1)
			a, b := logAt(h1), logAt(h2)
			c, err := ln.cf.GetLogConsistency(ctx, a.Size, b.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifiers.Consistent(a, b, c.Hashes); err != nil {
				t.Fatalf("heights %d and %d: %v", h1, h2, err)
			}
			pairs++
			if a.Size > 0 && a.Size < b.Size {
				nontrivial++
				bad := append([][]byte(nil), c.Hashes...)
				bad[len(bad)-1] = append([]byte{bad[len(bad)-1][0] ^ 1}, bad[len(bad)-1][1:]...)
				if err := verifiers.Consistent(a, b, bad); !errors.Is(err, verifiers.ErrVerification) {
					t.Fatalf("tampered consistency proof %d -> %d: %v", a.Size, b.Size, err)
				}
			}
		}
		if nontrivial < 12 {
			t.Fatalf("only %d of %d pairs of heights up to %d had two different non-empty sizes", nontrivial, pairs, top)
		}
		t.Logf("%d random pairs of heights up to %d: consistency proofs verified (%d between different sizes, each also rejected when tampered)", pairs, top, nontrivial)
	})

	t.Run("a node serving a rewritten log is caught", func(t *testing.T) {
		if len(all) < 512 {
			t.Fatalf("%d records: two full tiles needed", len(all))
		}
		f, n := ln.f, ln.full
		f.setDown(n.Name, true)
		if err := StopNode(n, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		// Swap the first tile of leaf hashes for the second.
		tiles := filepath.Join(n.Home, "data", "recordlog", "tile", "0")
		t0, _ := os.ReadFile(filepath.Join(tiles, "000"))
		t1, _ := os.ReadFile(filepath.Join(tiles, "001"))
		if len(t0) != 8192 || len(t1) != 8192 {
			t.Fatalf("tiles of %d and %d bytes", len(t0), len(t1))
		}
		if err := os.WriteFile(filepath.Join(tiles, "000"), t1, 0o644); err != nil {
			t.Fatal(err)
		}
		// The node itself refuses it.
		p := f.start(n.Name)
		select {
		case <-p.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("the node started with a swapped tile")
		}
		if msg := tail(LogFile(n), 3); !strings.Contains(msg, "record log is damaged") {
			t.Fatalf("no clear error for a swapped tile:\n%s", msg)
		}
		t.Logf("the node refuses to start: %s", lastLine(tail(LogFile(n), 3)))
		// A node whose operator turned its checks off serves it anyway.
		f.start(n.Name, "NORMLEDGER_TEST_UNCHECKED_LOG=1")
		f.waitCatchUp(n.Name, 60*time.Second)
		vr := ln.verifier(t, ln.cf, "")
		victim := all[10] // its inclusion proof runs through the swapped tile
		_, _, err := vr.Record(ctx, victim.Id)
		if !errors.Is(err, verifiers.ErrVerification) {
			t.Fatalf("verify through the rewritten log: %v", err)
		}
		t.Logf("verify: %v", err)
		if _, _, err := vr.Record(ctx, all[len(all)-1].Id); err != nil {
			t.Fatalf("a record whose proof avoids the swapped tile: %v", err)
		}
		rep, err := audit.Run(ctx, audit.Options{API: ln.cf, NodeName: n.Name, ToHeight: h, Witnesses: ln.witnesses()})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() {
			t.Fatalf("audit found nothing wrong with the rewritten log: %+v", rep)
		}
		var found bool
		for _, d := range rep.Discrepancies {
			if strings.Contains(d.What, "consistency proof") {
				found = true
			}
		}
		if !found {
			t.Fatalf("audit: no consistency discrepancy in %+v", rep.Discrepancies)
		}
		t.Logf("audit: %d discrepancies, first: height %d %s %s", len(rep.Discrepancies), rep.Discrepancies[0].Height, rep.Discrepancies[0].What, rep.Discrepancies[0].Got)
		// Repaired, the node checks its log again and serves proofs that verify.
		f.setDown(n.Name, true)
		if err := StopNode(n, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tiles, "000"), t0, 0o644); err != nil {
			t.Fatal(err)
		}
		f.start(n.Name)
		f.waitCatchUp(n.Name, 60*time.Second)
		if _, _, err := ln.verifier(t, ln.cf, "").Record(ctx, victim.Id); err != nil {
			t.Fatalf("repaired: %v", err)
		}
		rep, err = audit.Run(ctx, audit.Options{API: ln.cf, NodeName: n.Name, ToHeight: h, Witnesses: ln.witnesses()})
		if err != nil || !rep.OK() || rep.LogRootsMatched != rep.Blocks || rep.LogConsistencyVerified == 0 {
			t.Fatalf("audit of the repaired node: %v %+v", err, rep)
		}
		t.Logf("repaired: audit verified %d log roots and %d consistency proofs", rep.LogRootsMatched, rep.LogConsistencyVerified)
	})
}

func tokenOf(after uint64) string {
	if after == 0 {
		return ""
	}
	return strconv.FormatUint(after, 10)
}

// Validators that sign a second history (here: the same validator keys run
// again from the same genesis, filing other records) produce headers a
// light client accepts; the verifier's trust store, which kept the log it
// saw, still catches the rewrite.
func TestRewrittenHistory(t *testing.T) {
	binaries(t) // an OS-process network: NORMLEDGER_NETWORKS=1
	ctx := context.Background()
	dirA := t.TempDir()
	dirB := t.TempDir()
	a := startLogNetStopped(t, "rewrite", dirA, 2)
	// B is a copy of A before A's first block: the same genesis and keys.
	if out, err := exec.Command("cp", "-a", dirA+"/.", dirB).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v %s", err, out)
	}
	rewriteDir(t, dirB, dirA)
	nwB, err := Load(dirB)
	if err != nil {
		t.Fatal(err)
	}
	a.startAll(t)
	a.load(t, 100)
	trustDir := t.TempDir()
	va := a.verifier(t, a.cf, trustDir)
	resA, err := a.cf.Records(ctx, &pb.ListRecordsRequest{Limit: 1, Kind: "notification"})
	if err != nil || len(resA.Records) == 0 {
		t.Fatal(err)
	}
	seen, _, err := va.Record(ctx, resA.Records[0].Id)
	if err != nil {
		t.Fatal(err)
	}
	va.Light.Close()
	t.Logf("chain A: verified record %s; the trust store keeps log size %d at height %d", seen.RecordID, seen.LogSize, seen.Height)
	// The witnesses cosign A's checkpoints; with the policy A verifies.
	policy, err := os.ReadFile(a.f.nw.Policy)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := checkpoint.ParsePolicy(string(policy))
	if err != nil {
		t.Fatal(err)
	}
	quorumAt := waitQuorum(t, a.cf, 2, 90*time.Second)
	vp := a.verifier(t, a.cf, "")
	vp.Policy = pol
	cov, _, err := vp.Record(ctx, resA.Records[0].Id)
	if err != nil {
		t.Fatalf("chain A with the witness policy: %v", err)
	}
	t.Logf("chain A: checkpoint at height %d cosigned by %v; verified under the policy (%d of %d)", quorumAt, cov.Cosigners, len(cov.Cosigners), len(pol.Witnesses))
	for _, n := range a.f.nw.Nodes {
		StopNode(n, 15*time.Second)
	}
	// The witnesses keep running: they are neutral, not the validators'.
	wstate := func() witness.State {
		var st witness.State
		bz, err := os.ReadFile(filepath.Join(a.f.nw.Witnesses[0].Home, "witness", "normledger_rewrite.json"))
		if err != nil || json.Unmarshal(bz, &st) != nil {
			t.Fatalf("witness state: %v", err)
		}
		return st
	}
	before := wstate()

	nwB.Witnesses = nil // B's nodes send their checkpoints to A's witnesses
	b := &logNet{f: processNet(t, nwB), gen: a.gen}
	b.full, _ = nwB.Node(a.full.Name)
	b.cf, _ = client.New(b.full.RESTURL())
	b.startAll(t)
	b.load(t, 150)
	b.f.advances(b.f.tip(), seen.Height-b.f.tip()+5, 120*time.Second, "past chain A's verified height")
	resB, err := b.cf.Records(ctx, &pb.ListRecordsRequest{Kind: "notification", Limit: 200})
	if err != nil || len(resB.Records) == 0 {
		t.Fatal(err)
	}
	target := resB.Records[len(resB.Records)-1]
	// A verifier that never saw A accepts B: its headers are validly signed.
	if _, _, err := b.verifier(t, b.cf, "").Record(ctx, target.Id); err != nil {
		t.Fatalf("a fresh verifier on chain B: %v", err)
	}
	// The one that saw A (resuming from its trust store) refuses B's log.
	vb := b.verifierFrom(t, b.cf, trustDir, remote.TrustRoot{})
	_, _, err = vb.Record(ctx, target.Id)
	if !errors.Is(err, verifiers.ErrVerification) || !strings.Contains(err.Error(), "history was rewritten") {
		t.Fatalf("the verifier that saw chain A: %v", err)
	}
	t.Logf("chain B (same validators, other records): a fresh verifier accepts it; the one that saw A: %v", err)
	// B publishes checkpoints and sends them to the witnesses, which refuse
	// them: B never reaches the policy's quorum.
	b.f.advances(b.f.tip(), 25, 60*time.Second, "B publishes checkpoints")
	time.Sleep(6 * time.Second) // a push round
	cps, err := b.cf.ListCheckpoints(ctx, 0, 50)
	if err != nil || len(cps.Checkpoints) == 0 {
		t.Fatalf("B's checkpoints: %v %v", cps, err)
	}
	for _, c := range cps.Checkpoints {
		if len(c.Cosigners) > 0 {
			t.Fatalf("a witness cosigned B's checkpoint at height %d: %v", c.Height, c.Cosigners)
		}
	}
	if after := wstate(); after.Size != before.Size || !bytes.Equal(after.Root, before.Root) {
		t.Fatalf("the witness moved from A's log (%d) to %d", before.Size, after.Size)
	}
	// B's nodes push each checkpoint on their own schedule: wait for the
	// witness to have refused one (a fixed pause was once too short in CI).
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(tail(LogFile(a.f.nw.Witnesses[0]), 400), "inconsistent checkpoint refused"); {
		if time.Now().After(deadline) {
			t.Fatalf("the witness log shows no refusal within a minute:\n%s", tail(LogFile(a.f.nw.Witnesses[0]), 20))
		}
		time.Sleep(time.Second)
	}
	vbp := b.verifier(t, b.cf, "")
	vbp.Policy = pol
	_, _, err = vbp.Record(ctx, target.Id)
	if !errors.Is(err, verifiers.ErrVerification) || !strings.Contains(err.Error(), "no witness quorum") {
		t.Fatalf("verify on B with the witness policy: %v", err)
	}
	t.Logf("B's %d checkpoints: no cosignature (the witnesses hold A's log of %d entries and refuse B's); verify with the policy: %v",
		len(cps.Checkpoints), before.Size, err)
}

// waitQuorum waits until the node serves a checkpoint with n cosigners and
// returns its height.
func waitQuorum(t *testing.T, c *client.Client, n int, within time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		res, err := c.ListCheckpoints(context.Background(), 0, 5)
		if err == nil {
			for _, cp := range res.Checkpoints {
				if len(cp.Cosigners) >= n {
					return cp.Height
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no checkpoint with %d cosigners within %s", n, within)
	return 0
}

// startLogNetStopped generates the network of startLogNet without starting it.
func startLogNetStopped(t *testing.T, chainID, dir string, witnesses int) *logNet {
	t.Helper()
	var waddrs []string
	for i := 0; i < witnesses; i++ {
		waddrs = append(waddrs, fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	}
	f, ports := newProcessNet(t, Options{Dir: dir, ChainID: chainID, Validators: 4, LoadMembers: 4, Witnesses: witnesses, WitnessAddrs: waddrs}, 1)
	nw := f.nw
	full, err := nw.AddFullNode(ports[4])
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := client.New(full.RESTURL())
	gen, err := cmttypes.GenesisDocFromFile(nw.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	return &logNet{f: f, full: full, cf: cf, gen: gen}
}

// startAll starts every node and takes the trust root from the first block.
func (ln *logNet) startAll(t *testing.T) {
	t.Helper()
	ln.f.startAll()
	// Every node past the first block (the tip is only the highest).
	for _, n := range ln.f.nw.Nodes {
		ln.f.waitCatchUp(n.Name, 60*time.Second)
	}
	for _, w := range ln.f.nw.Witnesses {
		if _, err := StartWitness(ln.f.nw, w); err != nil {
			t.Fatal(err)
		}
	}
	if ln.trust.Height == 0 {
		c0, _ := client.New(ln.f.nw.Nodes[0].RESTURL())
		root, err := remote.TrustFromGenesis(context.Background(), ln.gen, c0)
		if err != nil {
			t.Fatal(err)
		}
		ln.trust = root
	}
}

// rewriteDir replaces the path old by the directory's own in the files of
// a copied network that name it (testnet.json and the node configs).
func rewriteDir(t *testing.T, dir, old string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || fi.Size() > 1<<20 || !(strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".toml")) {
			return err
		}
		bz, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if s := string(bz); strings.Contains(s, old) {
			return os.WriteFile(p, []byte(strings.ReplaceAll(s, old, dir)), fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// directoryRound waits until the seed's ping has closed: the silent
// state's answer duty overdue on node c. It returns the ping's id and the
// silent state.
func directoryRound(t *testing.T, c *client.Client, steps []SeedStep) (string, string) {
	t.Helper()
	var ping SeedStep
	var states []string
	for _, s := range steps {
		if s.Name == PingStep {
			ping = s
		}
		if strings.HasPrefix(s.Name, "contact_") {
			states = append(states, s.Author)
		}
	}
	if ping.ID == "" || len(states) == 0 {
		t.Fatalf("the seed filed no ping round: %v", steps)
	}
	silent := states[len(states)-1]
	id := ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING, ping.ID, silent)
	deadline := time.Now().Add(2 * PingWithin)
	for {
		res, err := c.Obligation(context.Background(), id, 0, false)
		if err == nil && res.Obligation.GetStatus() == pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE {
			return ping.ID, silent
		}
		if time.Now().After(deadline) {
			t.Fatalf("the answer duty of %s to ping %s is not overdue (%v, %v)", silent, ping.ID, res.GetObligation().GetStatus(), err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
