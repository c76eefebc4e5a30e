package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/normledger/normledger/ledger/store"
)

func runRollback(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRootCmd(&out, &errOut, strings.NewReader(""))
	root.SetArgs(append([]string{"rollback"}, args...))
	err := root.Execute()
	return out.String() + errOut.String(), err
}

// rollback through the command line: refused while the node runs (exit
// status 1, the message says to stop it); then it prints the heights and
// hashes, CometBFT's first line among them; run again it finds the
// application already there; --hard then removes the kept block.
func TestRollbackCommand(t *testing.T) {
	home, n, stop := snapshotHome(t)
	out, err := runRollback(t, "--home", home)
	if err == nil || !strings.Contains(err.Error(), "stop the node first: an export, a restore or a rollback needs the home to itself") || ExitCode(err) != ExitError {
		t.Fatalf("rollback of a running node: %v\n%s", err, out)
	}
	stop()
	N := n.Store().Version()
	st, err := store.Open(filepath.Join(home, "data"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := st.At(N - 1)
	if err != nil {
		t.Fatal(err)
	}
	hashN, hashPrev := fmt.Sprintf("%X", st.Hash()), fmt.Sprintf("%X", v.RootHash())
	st.Close()

	out, err = runRollback(t, "--home", home)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("rollback output:\n%s", out)
	for _, want := range []string{
		fmt.Sprintf("Rolled back state to height %d and hash %s\n", N-1, hashPrev),
		fmt.Sprintf("CometBFT state: height %d -> %d", N, N-1),
		fmt.Sprintf("block store: height %d (kept)", N),
		fmt.Sprintf("application state: height %d -> %d (app hash %s -> %s)", N, N-1, hashN, hashPrev),
		fmt.Sprintf("replays block %d", N),
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}

	out, err = runRollback(t, "--home", home, "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res struct {
		Height    int64  `json:"height"`
		AppHash   string `json:"app_hash"`
		CometFrom int64  `json:"comet_from"`
		AppFrom   int64  `json:"app_from"`
		BlocksTo  int64  `json:"blocks_to"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Height != N-1 || res.AppHash != hashPrev || res.CometFrom != N-1 || res.AppFrom != N-1 || res.BlocksTo != N {
		t.Fatalf("run again: %+v %v\n%s", res, err, out)
	}

	out, err = runRollback(t, "--home", home, "--hard")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("rollback --hard output:\n%s", out)
	for _, want := range []string{
		fmt.Sprintf("Rolled back both state and block to height %d and hash %s\n", N-1, hashPrev),
		fmt.Sprintf("block store: height %d -> %d (block %d removed)", N, N-1, N),
		fmt.Sprintf("application state: already at height %d", N-1),
		fmt.Sprintf("it gets block %d from its peers", N),
		fmt.Sprintf("it will not sign block %d again", N),
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}
