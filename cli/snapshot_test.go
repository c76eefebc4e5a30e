package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/internal/testports"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/api"
)

func runSnapshot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRootCmd(&out, &errOut, strings.NewReader(""))
	root.SetArgs(append([]string{"snapshot"}, args...))
	err := root.Execute()
	return out.String() + errOut.String(), err
}

// A node with a few blocks, in this process: its home and a stop function.
func snapshotHome(t *testing.T) (home string, running *node.Node, stop func()) {
	t.Helper()
	home = t.TempDir()
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", testports.Pick(t)) }
	ccfg, err := node.InitHome(node.InitOptions{Home: home, Moniker: "snap", Comet: func(c *cmtcfg.Config) {
		c.RPC.ListenAddress = "tcp://" + addr()
		c.P2P.ListenAddress = "tcp://" + addr()
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
	gs := fixture.Genesis(fixture.Dev(2, fixture.SeededKey))
	fixture.SetValidator(gs, "xaa", val.PubKey.Bytes(), val.Power)
	if err := node.WriteGenesis(filepath.Join(home, "config", "genesis.json"), "snapshot-cli", time.Time{}, []cmttypes.GenesisValidator{val}, gs); err != nil {
		t.Fatal(err)
	}
	ccfg, err = operator.LoadCometConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Home: home, Comet: ccfg, LogOutput: io.Discard, API: api.Config{RESTListen: addr()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	stop = func() {
		if !done {
			done = true
			n.Stop()
		}
	}
	t.Cleanup(stop)
	c, err := client.New(n.RESTAddress())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.WaitHeight(ctx, 4); err != nil {
		t.Fatal(err)
	}
	return home, n, stop
}

// snapshot export, verify and restore through the command line: refused
// while the node runs, refused over state without --force, refused for a
// damaged file (exit status 1, the message says why), and a forced restore
// reports which checks ran.
func TestSnapshotCommands(t *testing.T) {
	home, _, stop := snapshotHome(t)
	file := filepath.Join(t.TempDir(), "state.export")
	out, err := runSnapshot(t, "export", "--home", home, "--out", file)
	if err == nil || !strings.Contains(err.Error(), "stop the node first") || !strings.Contains(err.Error(), "is in use by another normledger process (pid ") || ExitCode(err) != ExitError {
		t.Fatalf("export of a running node: %v\n%s", err, out)
	}
	stop()
	// A chunk height state sync cannot carry is refused before anything.
	for _, h := range []string{"20", "-1", "14"} {
		out, err := runSnapshot(t, "export", "--home", home, "--out", file, "--chunk-height", h)
		if err == nil || !strings.Contains(err.Error(), "--chunk-height: chunk height "+h+": must be 1 to 13") || ExitCode(err) != ExitError {
			t.Fatalf("export --chunk-height %s: %v\n%s", h, err, out)
		}
	}
	if out, err := runSnapshot(t, "restore", "--help"); err != nil || !strings.Contains(out, "--unverified") || !strings.Contains(out, "only for a home whose CometBFT data is gone and that will be re-synced") {
		t.Fatalf("restore --help: %v\n%s", err, out)
	}
	out, err = runSnapshot(t, "export", "--home", home, "--out", file, "--height", "3", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var ex struct {
		Height  int64  `json:"height"`
		AppHash string `json:"app_hash"`
		ChainID string `json:"chain_id"`
		Chunks  int    `json:"chunks"`
	}
	if err := json.Unmarshal([]byte(out), &ex); err != nil || ex.Height != 3 || ex.ChainID != "snapshot-cli" || len(ex.AppHash) != 64 {
		t.Fatalf("export output %q: %v", out, err)
	}
	if out, err := runSnapshot(t, "verify", file); err != nil || !strings.Contains(out, "at height 3") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	out, err = runSnapshot(t, "restore", "--home", home, file)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore over state: %v\n%s", err, out)
	}
	bz, _ := os.ReadFile(file)
	bz[len(bz)/2] ^= 0x10
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, bz, 0o600)
	for _, args := range [][]string{{"verify", bad}, {"restore", "--home", home, "--force", bad}} {
		out, err := runSnapshot(t, args...)
		if err == nil || !strings.Contains(err.Error(), "damaged") || ExitCode(err) != ExitError {
			t.Fatalf("%s of a damaged export: %v\n%s", args[0], err, out)
		}
	}
	out, err = runSnapshot(t, "restore", "--home", home, "--force", file)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("restore output:\n%s", out)
	for _, want := range []string{"restored the state of chain snapshot-cli at height 3 (app hash " + ex.AppHash,
		"verified: the home's block store: the header of block 4 carries app hash " + ex.AppHash,
		"the previous application state is in " + filepath.Join(home, "data", "app-state-"), "it replays blocks 4 to"} {
		if !strings.Contains(out, want) {
			t.Fatalf("restore output lacks %q:\n%s", want, out)
		}
	}
	// The restored home starts (CometBFT replays the blocks after 3).
	ccfg, err := operator.LoadCometConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Home: home, Comet: ccfg, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); n.Store().Version() < 6; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the restored node is at height %d", n.Store().Version())
		}
	}
}

// restore refuses an export whose app hash the home's chain cannot
// confirm unless --unverified (and then says it was not checked); as
// root on a home another user owns, every offline command refuses,
// naming the user to run it as.
func TestSnapshotRefusals(t *testing.T) {
	home, _, stop := snapshotHome(t)
	stop()
	data := filepath.Join(home, "data")
	if os.Geteuid() == 0 {
		const uid = 54321
		if err := os.Chown(data, uid, uid); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			args    []string
			command string
		}{
			{[]string{"snapshot", "export", "--out", filepath.Join(t.TempDir(), "x")}, "snapshot export"},
			{[]string{"snapshot", "restore", "x"}, "snapshot restore"},
			{[]string{"rollback"}, "rollback"},
		} {
			var out, errOut bytes.Buffer
			root := NewRootCmd(&out, &errOut, strings.NewReader(""))
			root.SetArgs(append(c.args, "--home", home))
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s belongs to uid %d, but this command runs as ", data, uid)) ||
				!strings.Contains(err.Error(), fmt.Sprintf("run it as the node's user, e.g. `sudo -u '#%d' normledger %s ...`", uid, c.command)) || ExitCode(err) != ExitError {
				t.Fatalf("%s as root on a home of uid %d: %v\n%s%s", c.command, uid, err, out.String(), errOut.String())
			}
			t.Logf("%s: %v", c.command, err)
		}
		if err := os.Chown(data, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "state.export")
	if out, err := runSnapshot(t, "export", "--home", home, "--out", file); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// CometBFT's state gone: the latest height's app hash is nowhere.
	if err := os.Rename(filepath.Join(data, "state.db"), filepath.Join(t.TempDir(), "state.db")); err != nil {
		t.Fatal(err)
	}
	out, err := runSnapshot(t, "restore", "--home", home, "--force", file)
	if err == nil || !strings.Contains(err.Error(), "restore with --unverified") || ExitCode(err) != ExitError {
		t.Fatalf("restore with nothing to check the app hash against: %v\n%s", err, out)
	}
	out, err = runSnapshot(t, "restore", "--home", home, "--force", "--unverified", file)
	if err != nil || !strings.Contains(out, "NOT checked against the home's chain (--unverified): the home's block store ends at height") {
		t.Fatalf("restore --unverified: %v\n%s", err, out)
	}
	t.Logf("restore --unverified output:\n%s", out)
}
