package node_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/store"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/api"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/remote"
)

// newHome initialises a single-validator home of chain "backup-test"
// with the dev members (seeded keys).
func newHome(t *testing.T) (string, map[string]fixture.Member) {
	t.Helper()
	home := t.TempDir()
	ccfg, err := node.InitHome(node.InitOptions{Home: home, Moniker: "backup", Comet: func(c *cmtcfg.Config) {
		c.RPC.ListenAddress = "tcp://" + freeAddr(t)
		c.P2P.ListenAddress = "tcp://" + freeAddr(t)
		c.P2P.PexReactor = false
		c.Consensus.TimeoutCommit = 50 * time.Millisecond
	}})
	if err != nil {
		t.Fatal(err)
	}
	val, err := node.ValidatorPubKey(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	ms := fixture.Dev(3, fixture.SeededKey)
	gs := fixture.Genesis(ms)
	fixture.SetValidator(gs, "xaa", val.PubKey.Bytes(), val.Power)
	if err := node.WriteGenesis(filepath.Join(home, "config", "genesis.json"), "backup-test", time.Time{}, []cmttypes.GenesisValidator{val}, gs); err != nil {
		t.Fatal(err)
	}
	return home, fixture.ByID(ms)
}

// runHome starts the node of home in this process and waits for height
// from; stop stops it (and is also called at the end of the test).
func runHome(t *testing.T, home string, from int64) (n *node.Node, c *client.Client, stop func()) {
	t.Helper()
	ccfg, err := operator.LoadCometConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	n, err = node.New(node.Config{Home: home, Comet: ccfg, LogOutput: io.Discard,
		API: api.Config{RESTListen: freeAddr(t), GRPCListen: freeAddr(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			if err := n.Stop(); err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	if c, err = client.New(n.RESTAddress()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.WaitHeight(ctx, from); err != nil {
		t.Fatal(err)
	}
	return n, c, stop
}

// tree lists every file under dir with its size and content digest (the
// application's state, a restore's work directory and all).
func tree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			lines = append(lines, rel+"/")
			return nil
		}
		bz, _ := os.ReadFile(p)
		lines = append(lines, fmt.Sprintf("%s %d %x", rel, len(bz), bz[:min(len(bz), 16)]))
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Export → wipe → restore → start: the node comes back at the same app
// hash for the export's height (CometBFT replays the later blocks into the
// restored state) and a record filed before the export verifies through
// the light client. The export refuses a running node; a restore refuses
// a home with state (unless forced, which moves it aside), and refuses a
// damaged export, wherever the damage, leaving the home as it was.
func TestExportRestore(t *testing.T) {
	home, ms := newHome(t)
	n, c, stop := runHome(t, home, 2)
	notice := func(to, s string) *pb.Record {
		return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{to}, Summary: s}}}
	}
	first := fileAttested(t, c, notice("xbb", "before the export, 1"), ms["xaa"].Signer())
	second := fileAttested(t, c, notice("xcc", "before the export, 2"), ms["xbb"].Signer())

	out := filepath.Join(t.TempDir(), "state.nlexport")
	if _, err := node.ExportStateFile(home, out, node.ExportOptions{Comet: n.CometConfig()}); !errors.Is(err, node.ErrNodeRunning) {
		t.Fatalf("export of a running node: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a refused export left a file")
	}
	if _, err := node.RestoreState(home, out, node.RestoreOptions{}); !errors.Is(err, node.ErrNodeRunning) {
		t.Fatalf("restore into a running node: %v", err)
	}
	stop()

	// The export: of the height of the first record (the node went on
	// after it), in small chunks; and of the latest height.
	start := time.Now()
	res, err := node.ExportStateFile(home, out, node.ExportOptions{Height: first.Height, ChunkHeight: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exported height %d (app hash %s): %d chunks, %d bytes in %s", res.Height, res.AppHash, res.Chunks, res.Bytes, time.Since(start).Round(time.Millisecond))
	bz, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(bz, []byte("normledger-state-export 1\n{\"format\":\"normledger-state-export\",\"version\":1,\"chain_id\":\"backup-test\",\"height\":"+fmt.Sprint(res.Height))) {
		t.Fatalf("file starts %q", bz[:min(len(bz), 160)])
	}
	if int64(len(bz)) != res.Bytes || res.Chunks < 3 {
		t.Fatalf("%d bytes, %d chunks: %+v", len(bz), res.Chunks, res)
	}
	// The same state exports to the same bytes.
	again := filepath.Join(t.TempDir(), "again")
	if _, err := node.ExportStateFile(home, again, node.ExportOptions{Height: first.Height, ChunkHeight: 3}); err != nil {
		t.Fatal(err)
	}
	if bz2, _ := os.ReadFile(again); !bytes.Equal(bz, bz2) {
		t.Fatal("two exports of one state differ")
	}
	latest := filepath.Join(t.TempDir(), "latest")
	lres, err := node.ExportStateFile(home, latest, node.ExportOptions{})
	if err != nil || lres.Height <= res.Height {
		t.Fatalf("export of the latest height: %+v %v", lres, err)
	}
	exportLimits(t, home)

	// A home with state is refused, unchanged.
	data := filepath.Join(home, "data")
	if _, err := node.RestoreState(home, out, node.RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "holds application state") {
		t.Fatalf("restore over state: %v", err)
	}
	// Wipe the application's state (CometBFT's data stays), all but its
	// commit marker: what is left of a state is a state to move aside.
	for _, f := range node.AppStateFiles {
		if f == "appstate.commit" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(data, f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := node.RestoreState(home, out, node.RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "what is left of an application state (appstate.commit") {
		t.Fatalf("restore beside a commit marker: %v", err)
	}
	os.Remove(filepath.Join(data, "appstate.commit"))
	before := tree(t, data)
	refused := func(what string, b []byte, want string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "bad")
		os.WriteFile(p, b, 0o600)
		_, err := node.RestoreState(home, p, node.RestoreOptions{})
		if !errors.Is(err, node.ErrBadExport) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v", what, err)
		}
		if after := tree(t, data); after != before {
			t.Fatalf("a refused restore (%s) changed the data directory:\n%s\nto\n%s", what, before, after)
		}
	}
	// A damaged export is refused wherever the damage is, and changes nothing.
	hdr := bytes.Index(bz, []byte("\n{")) + 20
	for _, c := range []struct {
		what string
		at   int
		want string
	}{{"the first line", 3, "does not start with"}, {"the header", hdr, "damaged"}, {"a chunk", len(bz) / 2, "damaged"},
		{"the manifest", len(bz) - 33 - 20, "damaged"}, {"the digest", len(bz) - 1, "damaged"}} {
		b := bytes.Clone(bz)
		b[c.at] ^= 0x01
		refused(fmt.Sprintf("a flipped bit in %s (byte %d of %d)", c.what, c.at, len(bz)), b, c.want)
	}
	for _, cut := range []int{len(bz) - 1, len(bz) - 33, len(bz) / 3, 10} {
		refused(fmt.Sprintf("an export cut at %d of %d bytes", cut, len(bz)), bz[:cut], "")
	}
	refused("bytes after the digest", append(bytes.Clone(bz), 0), "after its SHA-256")
	// Tampered and sealed again (its SHA-256 recomputed): the chunk no
	// longer matches the manifest, or the manifest the app hash.
	reseal := func(b []byte) []byte {
		sum := sha256.Sum256(b[:len(b)-32])
		copy(b[len(b)-32:], sum[:])
		return b
	}
	b := bytes.Clone(bz)
	b[len(bz)/2] ^= 0x01
	refused("a chunk changed and the file sealed again", reseal(b), "does not verify")
	other := strings.Replace(string(bz), res.AppHash, strings.Repeat("AB", 32), 1)
	refused("another app hash in the header, sealed again", reseal([]byte(other)), "does not verify")

	// An export of another chain (its header says so, sealed again: the
	// manifest still verifies) is refused, even unverified and forced.
	lbz, err := os.ReadFile(latest)
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(t.TempDir(), "foreign")
	os.WriteFile(foreign, reseal([]byte(strings.Replace(string(lbz), `"chain_id":"backup-test"`, `"chain_id":"backup-tesx"`, 1))), 0o600)
	if _, err := node.RestoreState(home, foreign, node.RestoreOptions{Force: true, Unverified: true}); err == nil || !strings.Contains(err.Error(), `the export is of chain "backup-tesx", the home's genesis of chain "backup-test"`) {
		t.Fatalf("restore of another chain's export: %v", err)
	}
	if after := tree(t, data); after != before {
		t.Fatalf("a refused restore (another chain) changed the data directory:\n%s\nto\n%s", before, after)
	}
	// Without CometBFT's state, the latest height's app hash is nowhere in
	// the home (its block store ends there): refused unless --unverified.
	stateDB, hidden := filepath.Join(data, "state.db"), filepath.Join(t.TempDir(), "state.db")
	if err := os.Rename(stateDB, hidden); err != nil {
		t.Fatal(err)
	}
	noState := tree(t, data)
	for _, force := range []bool{false, true} {
		_, err := node.RestoreState(home, latest, node.RestoreOptions{Force: force})
		if !errors.Is(err, node.ErrUnverified) || !strings.Contains(err.Error(), "--unverified") || !strings.Contains(err.Error(), "no CometBFT state") {
			t.Fatalf("restore with no app hash to check it against (force %v): %v", force, err)
		}
		if after := tree(t, data); after != noState {
			t.Fatalf("a refused unverified restore changed the data directory:\n%s\nto\n%s", noState, after)
		}
	}
	rep, err := node.RestoreState(home, latest, node.RestoreOptions{Unverified: true})
	if err != nil || rep.AppHashSource != "" || !strings.Contains(rep.Unchecked, "no CometBFT state") || rep.Height != lres.Height {
		t.Fatalf("restore --unverified: %+v %v", rep, err)
	}
	t.Logf("restored unverified: %s", rep.Unchecked)
	if err := os.Rename(hidden, stateDB); err != nil {
		t.Fatal(err)
	}
	for _, f := range node.AppStateFiles {
		if err := os.RemoveAll(filepath.Join(data, f)); err != nil {
			t.Fatal(err)
		}
	}

	// The latest height: its app hash is CometBFT's state's.
	start = time.Now()
	rep, err = node.RestoreState(home, latest, node.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restored height %d in %s; checks: %s", rep.Height, time.Since(start).Round(time.Millisecond), strings.Join(rep.Checks, "; "))
	if rep.Height != lres.Height || rep.AppHash != lres.AppHash || rep.AppHashSource != "comet_state" || rep.CometHeight != rep.Height {
		t.Fatalf("report %+v", rep)
	}
	// The earlier height over it, forced: the state is moved aside whole;
	// the app hash is the header's of the block after the export's height.
	rep, err = node.RestoreState(home, out, node.RestoreOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restored height %d over height %d (moved aside to %s); checks: %s", rep.Height, lres.Height, rep.MovedAside, strings.Join(rep.Checks, "; "))
	if rep.Height != res.Height || rep.AppHash != res.AppHash || rep.AppHashSource != "block_store" || rep.CometHeight != lres.Height {
		t.Fatalf("report %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(rep.MovedAside, "appstate.db")); err != nil {
		t.Fatalf("moved aside: %v", err)
	}

	// The node starts on the restored state; CometBFT replays its later
	// blocks (the second record's among them).
	_, c, stop = runHome(t, home, rep.CometHeight+2)
	ctx := context.Background()
	lb, err := c.LightBlock(ctx, res.Height+1)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToUpper(hex.EncodeToString(lb.AppHash)); got != res.AppHash {
		t.Fatalf("after the restore, block %d carries app hash %s; the export was of %s", res.Height+1, got, res.AppHash)
	}
	if r, err := c.Record(ctx, second.ID); err != nil || r.GetHeight() != second.Height {
		t.Fatalf("the record after the export's height, replayed: %v %v", r, err)
	}
	gen, err := cmttypes.GenesisDocFromFile(filepath.Join(home, "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := remote.TrustFromGenesis(ctx, gen, c)
	if err != nil {
		t.Fatal(err)
	}
	// One node: it is its own witness.
	lc, err := remote.NewLightClient(ctx, gen.ChainID, remote.NewProvider(gen.ChainID, c.Base(), c),
		[]*remote.Provider{remote.NewProvider(gen.ChainID, c.Base(), c)}, root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	v := &remote.Verifier{API: c, Light: lc, ChainID: gen.ChainID}
	// The record filed after the export's height (replayed into the
	// restored state) verifies, its signer's key proven at its height.
	got, _, err := v.Record(ctx, second.ID)
	if err != nil {
		t.Fatalf("record %s after the restore: %v", second.ID, err)
	}
	t.Logf("record %s (height %d) verified at state %d after the restore", second.ID, got.RecordHeight, got.Height)
	// The restored node, like a state-synced one, keeps the state from the
	// export's height on: the first record is there (in the restored
	// tree), but its signer's key at the height before it is not.
	if r, err := c.Record(ctx, first.ID); err != nil || r.GetHeight() != first.Height {
		t.Fatalf("the record in the export: %v %v", r, err)
	}
	if _, _, err := v.Record(ctx, first.ID); err == nil || !strings.Contains(err.Error(), "not kept") {
		t.Fatalf("record %s, filed at height %d, from a node restored at %d: %v", first.ID, first.Height, res.Height, err)
	}
	fileAttested(t, c, notice("xaa", "after the restore"), ms["xcc"].Signer())
}

// exportLimits: an export refuses a chunk height outside the range state
// sync carries, and fails (leaving no file) when a chunk or the manifest
// is larger than a restore reads, rather than write an export no restore
// takes.
func exportLimits(t *testing.T, home string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "limits")
	for _, h := range []int{-1, node.MaxChunkHeight + 1, 20} {
		if _, err := node.ExportStateFile(home, out, node.ExportOptions{ChunkHeight: h}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("chunk height %d: must be %d to %d", h, node.MinChunkHeight, node.MaxChunkHeight)) {
			t.Fatalf("chunk height %d: %v", h, err)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a refused export left a file")
	}
	// Chunk height 1 makes small chunks and a large manifest: a bound
	// between the largest chunk and the manifest fails on the manifest.
	small := filepath.Join(t.TempDir(), "small")
	if _, err := node.ExportStateFile(home, small, node.ExportOptions{ChunkHeight: 1}); err != nil {
		t.Fatal(err)
	}
	bz, _ := os.ReadFile(small)
	bz = bz[bytes.IndexByte(bz, '\n')+1:]
	bz = bz[bytes.IndexByte(bz, '\n')+1:]
	var maxChunk, manifest int64
	for bz[0] != 'E' {
		n := int64(binary.BigEndian.Uint32(bz[1:5]))
		if bz[0] == 'M' {
			manifest = n
		} else {
			maxChunk = max(maxChunk, n)
		}
		bz = bz[5+n:]
	}
	if manifest <= maxChunk {
		t.Fatalf("chunk height 1: a manifest of %d bytes, chunks up to %d", manifest, maxChunk)
	}
	for _, c := range []struct {
		limit int64
		want  string
	}{{maxChunk - 1, "is " + fmt.Sprint(maxChunk) + " bytes"}, {maxChunk, fmt.Sprintf("the manifest is %d bytes", manifest)}} {
		_, err := node.ExportStateFile(home, out, node.ExportOptions{ChunkHeight: 1, FrameLimit: c.limit})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), fmt.Sprintf("more than the %d a restore reads", c.limit)) {
			t.Fatalf("frame limit %d: %v", c.limit, err)
		}
		if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a failed export (frame limit %d) left a file", c.limit)
		}
	}
	t.Logf("chunk height 1: chunks up to %d bytes, a manifest of %d", maxChunk, manifest)
	if _, err := node.ExportStateFile(home, out, node.ExportOptions{ChunkHeight: node.MaxChunkHeight}); err != nil {
		t.Fatalf("chunk height %d: %v", node.MaxChunkHeight, err)
	}
}

// stateOf opens the application state in data and returns its height and
// root.
func stateOf(t *testing.T, data string) (int64, string) {
	t.Helper()
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return st.Version(), fmt.Sprintf("%X", st.Hash())
}

// asides lists data's app-state-* directories.
func asides(t *testing.T, data string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(data, "app-state-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// An export, a restore and a rollback run only as the owner of the home's
// data directory: run as another user (root, after `systemctl stop`), the
// files they create would be that user's and the node could not open
// them. Refused before anything is created, naming the owner (by name,
// or by uid when the user database does not know it).
func TestBackupOwner(t *testing.T) {
	home, _ := newHome(t)
	data := filepath.Join(home, "data")
	before := tree(t, data)
	other := os.Geteuid() + 1000
	file := filepath.Join(t.TempDir(), "state")
	for _, c := range []struct {
		owner node.HomeOwner
		who   string
		sudo  string
	}{
		{func(string) (int, string, error) { return other, "normledger", nil }, fmt.Sprintf("user normledger (uid %d)", other), "sudo -u normledger normledger"},
		{func(string) (int, string, error) { return other, "", nil }, fmt.Sprintf("uid %d,", other), fmt.Sprintf("sudo -u '#%d' normledger", other)},
	} {
		for command, run := range map[string]func() error{
			"snapshot export": func() error {
				_, err := node.ExportStateFile(home, file, node.ExportOptions{Owner: c.owner})
				return err
			},
			"snapshot restore": func() error {
				_, err := node.RestoreState(home, file, node.RestoreOptions{Owner: c.owner, Force: true})
				return err
			},
			"rollback": func() error {
				_, err := node.Rollback(home, node.RollbackOptions{Owner: c.owner})
				return err
			},
		} {
			err := run()
			if !errors.Is(err, node.ErrWrongUser) || !strings.Contains(err.Error(), data+" belongs to "+c.who) ||
				!strings.Contains(err.Error(), "`"+c.sudo+" "+command+" ...`") {
				t.Fatalf("%s as uid %d on a home of %s: %v", command, os.Geteuid(), c.who, err)
			}
			t.Logf("%s: %v", command, err)
		}
	}
	if after := tree(t, data); after != before {
		t.Fatalf("a refused command changed the data directory (the home's lock file created?):\n%s\nto\n%s", before, after)
	}
	// The owner passes (and meets the next refusal: no state to export).
	me := func(string) (int, string, error) { return os.Geteuid(), "", nil }
	if _, err := node.ExportStateFile(home, file, node.ExportOptions{Owner: me}); err == nil || errors.Is(err, node.ErrWrongUser) || !strings.Contains(err.Error(), "no application state") {
		t.Fatalf("export by the owner: %v", err)
	}
	// The real owner: as root, with data/ given to another uid.
	if os.Geteuid() == 0 {
		if err := os.Chown(data, other, other); err != nil {
			t.Fatal(err)
		}
		_, err := node.Rollback(home, node.RollbackOptions{})
		os.Chown(data, 0, 0)
		if !errors.Is(err, node.ErrWrongUser) || !strings.Contains(err.Error(), fmt.Sprintf("(uid %d)", other)) && !strings.Contains(err.Error(), fmt.Sprintf("uid %d,", other)) {
			t.Fatalf("rollback as root on a home of uid %d: %v", other, err)
		}
	}
}

// The home's lock: while a node runs, an export, a restore and a rollback
// fail at once, naming it, and so does a second node; while a tool holds
// the home, a node does not start. The node releases it when it stops.
func TestHomeLock(t *testing.T) {
	home, _ := newHome(t)
	n, _, stop := runHome(t, home, 1)
	file := filepath.Join(t.TempDir(), "state")
	held := fmt.Sprintf("pid %d: node, since ", os.Getpid())
	for command, run := range map[string]func() error{
		"export": func() error {
			_, err := node.ExportStateFile(home, file, node.ExportOptions{})
			return err
		},
		"restore": func() error {
			_, err := node.RestoreState(home, file, node.RestoreOptions{Force: true})
			return err
		},
		"rollback": func() error {
			_, err := node.Rollback(home, node.RollbackOptions{})
			return err
		},
	} {
		err := run()
		if !errors.Is(err, node.ErrHomeInUse) || !errors.Is(err, node.ErrNodeRunning) || !strings.Contains(err.Error(), held) ||
			!strings.Contains(err.Error(), "stop the node first: an export, a restore or a rollback needs the home to itself") {
			t.Fatalf("%s while the node runs: %v", command, err)
		}
	}
	ccfg, err := operator.LoadCometConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.New(node.Config{Home: home, Comet: ccfg, LogOutput: io.Discard}); !errors.Is(err, node.ErrHomeInUse) || !strings.Contains(err.Error(), held) ||
		!strings.Contains(err.Error(), "another node runs on this home") {
		t.Fatalf("a second node on the home: %v", err)
	}
	// A node of a binary without the home's lock is still seen by its
	// databases' locks.
	if err := node.CheckStopped(home, n.CometConfig()); !errors.Is(err, node.ErrNodeRunning) ||
		!strings.Contains(err.Error(), "stop the node first (an export, a restore or a rollback needs the home to itself)") {
		t.Fatalf("CheckStopped while the node runs: %v", err)
	}
	stop()

	lock, err := node.LockHome(home, "snapshot restore")
	if err != nil {
		t.Fatal(err)
	}
	held = fmt.Sprintf("pid %d: snapshot restore, since ", os.Getpid())
	_, err = node.New(node.Config{Home: home, Comet: ccfg, LogOutput: io.Discard})
	if !errors.Is(err, node.ErrHomeInUse) || errors.Is(err, node.ErrNodeRunning) || !strings.Contains(err.Error(), held) ||
		!strings.Contains(err.Error(), "wait until it has finished, then start the node") {
		t.Fatalf("a node on a home a restore holds: %v", err)
	}
	t.Logf("refused: %v", err)
	if _, err := node.ExportStateFile(home, file, node.ExportOptions{}); !errors.Is(err, node.ErrHomeInUse) || !strings.Contains(err.Error(), held) ||
		!strings.Contains(err.Error(), "wait until it has finished") {
		t.Fatalf("an export on a home a restore holds: %v", err)
	}
	lock.Release()
	_, _, stop = runHome(t, home, 2)
	stop()
	lock, err = node.LockHome(home, "rollback")
	if err != nil {
		t.Fatalf("the home after the node stopped: %v", err)
	}
	lock.Release()
}

// A restore that fails once it has begun to replace the state is undone:
// the previous state back, nothing of the restore left. A crash at any
// step leaves data/restore-in-progress: nothing starts on the home (the
// node, an export, a rollback), and the next restore undoes the
// interrupted one first, then restores. Forced over an empty state, a
// restore moves nothing aside.
func TestBackupRestoreInterrupted(t *testing.T) {
	home, _ := newHome(t)
	_, _, stop := runHome(t, home, 4)
	stop()
	ccfg, err := operator.LoadCometConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(home, "data")
	marker := filepath.Join(data, node.RestoreMarkerFile)
	file := filepath.Join(t.TempDir(), "state")
	if _, err := node.ExportStateFile(home, file, node.ExportOptions{Height: 3}); err != nil {
		t.Fatal(err)
	}
	bz, _ := os.ReadFile(file)
	bz[len(bz)/2] ^= 1
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, bz, 0o600)
	top, topHash := stateOf(t, data)

	// A failure after the install (as a height or root mismatch of the
	// installed state): undone. A node started meanwhile fails at once.
	var nodeErr error
	_, err = node.RestoreState(home, file, node.RestoreOptions{Force: true, Fault: func(step string) error {
		if step != "installed" {
			return nil
		}
		n, err := node.New(node.Config{Home: home, Comet: ccfg, LogOutput: io.Discard})
		if err == nil {
			n.Stop()
		}
		nodeErr = err
		return errors.New("injected failure")
	}})
	if err == nil || !strings.Contains(err.Error(), "injected failure; the restore was undone: the previous application state is back in "+data) {
		t.Fatalf("a restore failing after the install: %v", err)
	}
	if !errors.Is(nodeErr, node.ErrHomeInUse) || !strings.Contains(nodeErr.Error(), "snapshot restore") {
		t.Fatalf("a node started during a restore: %v", nodeErr)
	}
	for _, f := range []string{marker, filepath.Join(data, "appstate.restored"), filepath.Join(data, "snapshot-restore")} {
		if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s after an undone restore: %v", f, err)
		}
	}
	if v, h := stateOf(t, data); v != top || h != topHash || len(asides(t, data)) != 0 {
		t.Fatalf("after an undone restore: height %d (%s), moved aside %v; before it %d (%s)", v, h, asides(t, data), top, topHash)
	}

	crashAt := func(at string) func(string) error {
		return func(step string) error {
			if step == at {
				return node.ErrTestCrash
			}
			return nil
		}
	}
	crash := func(step string) {
		t.Helper()
		if _, err := node.RestoreState(home, file, node.RestoreOptions{Force: true, Fault: crashAt(step)}); !errors.Is(err, node.ErrTestCrash) {
			t.Fatalf("crash at %q: %v", step, err)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Fatalf("crashed at %q: %v", step, err)
		}
		_, err := node.New(node.Config{Home: home, Comet: ccfg, LogOutput: io.Discard})
		if !errors.Is(err, node.ErrRestoreInterrupted) || !strings.Contains(err.Error(), marker) ||
			!strings.Contains(err.Error(), "`normledger snapshot restore --home "+home+" "+file+" --force`") {
			t.Fatalf("a node on a home whose restore crashed at %q: %v", step, err)
		}
		if _, err := node.ExportStateFile(home, filepath.Join(t.TempDir(), "x"), node.ExportOptions{}); !errors.Is(err, node.ErrRestoreInterrupted) {
			t.Fatalf("an export of a home whose restore crashed: %v", err)
		}
		if _, err := node.Rollback(home, node.RollbackOptions{}); !errors.Is(err, node.ErrRestoreInterrupted) {
			t.Fatalf("a rollback of a home whose restore crashed: %v", err)
		}
	}
	for _, step := range []string{"marker", "aside appstate.db", "aside", "opened", "installed", "synced"} {
		v0, h0 := stateOf(t, data)
		a0 := asides(t, data)
		crash(step)
		// The next restore undoes it first, whatever follows (here a
		// damaged file, refused).
		_, err := node.RestoreState(home, bad, node.RestoreOptions{Force: true})
		if !errors.Is(err, node.ErrBadExport) || !strings.Contains(err.Error(), "was interrupted and is undone: the previous application state is back") {
			t.Fatalf("a restore after a crash at %q: %v", step, err)
		}
		if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the marker after the undo: %v", err)
		}
		if v, h := stateOf(t, data); v != v0 || h != h0 || fmt.Sprint(asides(t, data)) != fmt.Sprint(a0) {
			t.Fatalf("undone after a crash at %q: height %d (%s), moved aside %v; before %d (%s), %v", step, v, h, asides(t, data), v0, h0, a0)
		}
		rep, err := node.RestoreState(home, file, node.RestoreOptions{Force: true})
		if err != nil || rep.Height != 3 || rep.Undone != "" || rep.MovedAside == "" {
			t.Fatalf("restore: %+v %v", rep, err)
		}
	}
	// Run again as it was, the restore undoes and restores in one.
	crash("installed")
	rep, err := node.RestoreState(home, file, node.RestoreOptions{Force: true})
	if err != nil || rep.Height != 3 || !strings.Contains(rep.Undone, "the restore of "+file+" (height 3) begun at ") {
		t.Fatalf("restore after a crash: %+v %v", rep, err)
	}
	t.Logf("restore after a crash: %s", rep.Undone)

	// Forced over an empty state: nothing moved aside.
	for _, f := range node.AppStateFiles {
		os.RemoveAll(filepath.Join(data, f))
	}
	a0 := asides(t, data)
	if rep, err := node.RestoreState(home, file, node.RestoreOptions{Force: true}); err != nil || rep.MovedAside != "" || fmt.Sprint(asides(t, data)) != fmt.Sprint(a0) {
		t.Fatalf("forced restore into an empty state: %+v %v; moved aside %v", rep, err, asides(t, data))
	}
	// The node starts on it and replays the blocks after 3.
	n, _, _ := runHome(t, home, top+1)
	if v, err := n.Store().At(3); err != nil || fmt.Sprintf("%X", v.RootHash()) != rep.AppHash {
		t.Fatalf("the restored state: %v", err)
	}
}
