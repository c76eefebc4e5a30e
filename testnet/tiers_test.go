package testnet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Test tiers. `go test ./...` runs the unit tests and the networks whose
// nodes run in the test process (TestVerification, TestAudit,
// TestDashboard, ...), in minutes. The networks of OS processes (the fault
// suite, partitions, remote signers, state sync, upgrades, governance
// across operators, the record log through a full node and its rewritten
// history, the monitor's binary killed mid-run) build the
// normledger binary and run for about ten minutes: they run only with
// NORMLEDGER_NETWORKS=1, as .ci/run does (README, "Two commands").
const networksEnv = "NORMLEDGER_NETWORKS"

// networks skips the test unless the OS-process network tier is on.
func networks(t testing.TB) {
	t.Helper()
	if os.Getenv(networksEnv) == "" {
		t.Skipf("an OS-process network: runs with %s=1 (the whole suite, as .ci/run)", networksEnv)
	}
}

// The binaries the OS-process networks run, built once per test process
// on first use: the release build, one with -tags lyingproposer (a
// byzantine proposer) and one with -tags upgradetest (a build with a
// migration).
var (
	buildOnce                             sync.Once
	buildErr                              error
	binDir                                string
	nodeBinary, liarBinary, upgradeBinary string
)

// binaries builds them (once) and returns the release build's path; the
// test is skipped unless NORMLEDGER_NETWORKS is set.
func binaries(t testing.TB) string {
	t.Helper()
	networks(t)
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "normledger-testnet-bin"); buildErr != nil {
			return
		}
		nodeBinary = filepath.Join(binDir, "normledger")
		liarBinary = filepath.Join(binDir, "normledger-lying-proposer")
		upgradeBinary = filepath.Join(binDir, "normledger-upgraded")
		for bin, tag := range map[string]string{nodeBinary: "", liarBinary: "lyingproposer", upgradeBinary: "upgradetest"} {
			args := []string{"build", "-o", bin}
			if tag != "" {
				args = append(args, "-tags", tag)
			}
			if out, err := exec.Command("go", append(args, "../cmd/normledger")...).CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", tag, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return nodeBinary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
