package app

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
)

// The app hash after the fixed scenario (every record kind, fixed keys and
// times) is pinned: a change to the state layout, an index, or any encoding
// changes it, and must come with a new AppVersion (an existing chain cannot
// replay its blocks under the new layout). Rewrite with -update.
//
// Every app version this binary replays keeps its golden: a chain started
// at 6 (no version in its genesis) must replay exactly as it was made.
func TestAppHashGolden(t *testing.T) {
	for _, c := range []struct {
		version uint64
		golden  string
	}{
		{ledger.GenesisAppVersion, "testdata/apphash-v6.golden"},
		{ledger.AppVersionContentIndexOff, "testdata/apphash-v7.golden"},
		{ledger.AppVersionSealedToRecipients, "testdata/apphash-v8.golden"},
		{ledger.AppVersionContactDirectory, "testdata/apphash-v9.golden"},
		{ledger.AppVersionCases, "testdata/apphash-v10.golden"},
		{ledger.AppVersionDisclosure, "testdata/apphash-v11.golden"},
		{ledger.CurrentAppVersion, "testdata/apphash.golden"},
	} {
		h := newHarnessAt(t, c.version)
		steps := fixture.Scenario(t0)
		if c.version < ledger.AppVersionSealedToRecipients {
			steps = steps[:scenarioBefore8]
		} else if c.version < ledger.AppVersionContactDirectory {
			steps = steps[:scenarioBefore9]
		} else if c.version < ledger.AppVersionCases {
			steps = steps[:scenarioBefore10]
		} else if c.version < ledger.AppVersionDisclosure {
			steps = steps[:scenarioBefore11]
		} else if c.version < ledger.AppVersionEvidence {
			steps = steps[:scenarioBefore12]
		}
		h.runSteps(steps)
		got := hex.EncodeToString(h.st.Hash()) + "\n"
		if *updateGolden {
			if err := os.WriteFile(c.golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(c.golden)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Fatalf("app hash after the scenario at app version %d is %s, pinned %s: "+
				"a state layout change needs a new AppVersion; then run go test ./app -run AppHashGolden -update",
				c.version, strings.TrimSpace(got), strings.TrimSpace(string(want)))
		}
	}
}
