package node_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/node"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func upgradeNeeded(name string, height int64, info string) *ledger.UpgradeNeededError {
	return &ledger.UpgradeNeededError{Plan: &pb.SoftwareUpgrade{Name: name, Height: height, AppVersion: 13, Info: info}, Proposal: "p1"}
}

// upgrade-info.json holds exactly the fields of the SDK's Plan that its
// x/upgrade keeper writes and cosmovisor reads (name, height, info), mode
// 0600; writing it again for the same upgrade changes nothing, not even
// its modification time; a new upgrade replaces it.
func TestWriteUpgradeInfo(t *testing.T) {
	home := t.TempDir() // no data directory yet: it is created
	if err := node.WriteUpgradeInfo(home, upgradeNeeded("normledger-v13", 120, `{"binaries":{"linux/amd64":"https://example.org/n?checksum=sha256:00"}}`)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, "data", "upgrade-info.json")
	bz, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(bz, &fields); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(keys, []string{"height", "info", "name"}) {
		t.Fatalf("fields %v in %s", keys, bz)
	}
	// Height is a JSON number, as encoding/json writes the SDK's int64 (and
	// protobuf JSON accepts it as well as a string).
	if string(fields["height"]) != "120" || string(fields["name"]) != `"normledger-v13"` {
		t.Fatalf("content %s", bz)
	}
	u, err := node.ReadUpgradeInfo(home)
	if err != nil || u.Name != "normledger-v13" || u.Height != 120 || !strings.Contains(u.Info, "binaries") {
		t.Fatalf("read back %+v %v", u, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}

	// Again, for the same upgrade (the node refusing to start again):
	// nothing changes.
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if err := node.WriteUpgradeInfo(home, upgradeNeeded("normledger-v13", 120, `{"binaries":{"linux/amd64":"https://example.org/n?checksum=sha256:00"}}`)); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); !st.ModTime().Equal(old) {
		t.Fatalf("rewriting the same upgrade touched the file: %v", st.ModTime())
	}
	if bz2, _ := os.ReadFile(path); string(bz2) != string(bz) {
		t.Fatalf("rewritten: %s", bz2)
	}
	// A later upgrade replaces it (the supervisor sees a newer height).
	if err := node.WriteUpgradeInfo(home, upgradeNeeded("normledger-v14", 300, "")); err != nil {
		t.Fatal(err)
	}
	if u, err := node.ReadUpgradeInfo(home); err != nil || u != (node.UpgradeInfo{Name: "normledger-v14", Height: 300}) {
		t.Fatalf("replaced: %+v %v", u, err)
	}
	if st, _ := os.Stat(path); !st.ModTime().After(old) {
		t.Fatal("the new upgrade left the modification time")
	}
	// No temporary file is left beside it.
	ents, _ := os.ReadDir(filepath.Join(home, "data"))
	for _, e := range ents {
		if atomicfile.IsTemp(e.Name()) {
			t.Fatalf("left behind: %s", e.Name())
		}
	}
	// Not a plan: refused, the file kept.
	if err := node.WriteUpgradeInfo(home, &ledger.UpgradeNeededError{Plan: &pb.SoftwareUpgrade{}}); err == nil {
		t.Fatal("an empty plan was written")
	}
	if u, _ := node.ReadUpgradeInfo(home); u.Name != "normledger-v14" {
		t.Fatalf("after a refused write: %+v", u)
	}
}

// A supervisor polling the file while upgrades replace it never reads a
// partial file: each read is one whole version or the other (cosmovisor
// panics on an unparsable file, and the SDK's in-place write once let it
// read an empty one: cosmos-sdk#21086).
func TestWriteUpgradeInfoAtomic(t *testing.T) {
	home := t.TempDir()
	plans := []*ledger.UpgradeNeededError{
		upgradeNeeded("normledger-a", 100, strings.Repeat("a", 3000)),
		upgradeNeeded("normledger-b", 200, strings.Repeat("b", 3000)),
	}
	if err := node.WriteUpgradeInfo(home, plans[0]); err != nil {
		t.Fatal(err)
	}
	var want [2]string
	for i, p := range plans {
		bz, _ := json.Marshal(node.UpgradeInfo{Name: p.Plan.Name, Height: p.Plan.Height, Info: p.Plan.Info})
		want[i] = string(bz)
	}
	var stop atomic.Bool
	var reads, bad atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			bz, err := os.ReadFile(node.UpgradeInfoPath(home))
			if err != nil {
				bad.Add(1)
				first.CompareAndSwap(nil, err.Error())
				continue
			}
			reads.Add(1)
			if s := string(bz); s != want[0] && s != want[1] {
				bad.Add(1)
				first.CompareAndSwap(nil, s)
			}
		}
	}()
	for i := range 300 {
		if err := node.WriteUpgradeInfo(home, plans[(i+1)%2]); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d of %d reads saw no whole file, first: %.80q", bad.Load(), reads.Load()+bad.Load(), first.Load())
	}
	t.Logf("%d reads during 300 replacements, each a whole file", reads.Load())
}
