package app

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// The app hash after the fixed scenario (every record kind, fixed keys and
// times) is pinned: a change to the state layout, an index, or any encoding
// changes it, and must come with a new AppVersion (an existing chain cannot
// replay its blocks under the new layout). Rewrite with -update.
func TestAppHashGolden(t *testing.T) {
	h := newHarness(t)
	h.runScenario()
	got := hex.EncodeToString(h.st.Hash()) + "\n"
	const golden = "testdata/apphash.golden"
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("app hash after the scenario is %s, pinned %s (app version %d): "+
			"a state layout change needs a new AppVersion; then run go test ./app -run AppHashGolden -update",
			strings.TrimSpace(got), strings.TrimSpace(string(want)), AppVersion)
	}
}
