package normledger_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/normledger/normledger/"

func golist(t *testing.T, args ...string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, out)
	}
	set := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		set[d] = true
	}
	return set
}

// Dependencies point one way:
// proto <- ledger <- (ledger/keys, ledger/store, verifiers) <- app <- node <- cli <- cmd,
// with testnet on top; only cli reads viper; only ledger/store uses IAVL.
func TestDependencyDirections(t *testing.T) {
	forbidden := map[string][]string{
		"ledger":          {mod + "app", mod + "node", mod + "cli", mod + "verifiers", mod + "testnet", mod + "ledger/store", "github.com/spf13/viper", "github.com/cosmos/iavl"},
		"ledger/keys":     {mod + "ledger/store", mod + "app", mod + "node", mod + "cli", "github.com/cosmos/iavl", "github.com/spf13/viper"},
		"ledger/store":    {mod + "app", mod + "node", mod + "cli", mod + "verifiers", mod + "testnet", "github.com/spf13/viper"},
		"ledger/stix":     {mod + "ledger/store", mod + "app", mod + "node", mod + "cli", mod + "verifiers", mod + "testnet", "github.com/spf13/viper", "github.com/cosmos/iavl"},
		"ledger/fixture":  {mod + "app", mod + "node", mod + "cli", mod + "testnet", "github.com/spf13/viper"},
		"verifiers":       {mod + "app", mod + "node", mod + "cli", mod + "testnet", mod + "ledger/store", "github.com/spf13/viper", "github.com/cosmos/iavl"},
		"verifiers/audit": {mod + "node", mod + "cli", mod + "testnet", "github.com/spf13/viper"},
		"app":             {mod + "node", mod + "cli", mod + "verifiers", mod + "testnet", "github.com/spf13/viper"},
		"node":            {mod + "cli", mod + "testnet", "github.com/spf13/viper"},
		"node/api":        {mod + "cli", mod + "testnet", mod + "app", "github.com/spf13/viper"},
		"cli":             {mod + "testnet"},
	}
	for pkg, bad := range forbidden {
		deps := golist(t, "-deps", "./"+pkg)
		for _, b := range bad {
			if deps[b] {
				t.Errorf("%s must not depend on %s", pkg, b)
			}
		}
	}
}

// The record log stands alone: the standard library and
// transparency-dev/merkle only, so verifiers can use its proof checks
// without pulling in the store.
func TestRecordLogImports(t *testing.T) {
	deps := golist(t, "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./ledger/store/tlog")
	for d := range deps {
		if d != mod+"ledger/store/tlog" && !strings.HasPrefix(d, "github.com/transparency-dev/merkle") {
			t.Errorf("ledger/store/tlog depends on %s", d)
		}
	}
}

// The deterministic core does no I/O, reads no clock or randomness and
// starts no goroutines; this checks its own imports (what it calls
// directly), since the standard library and protobuf use such packages
// internally.
func TestDeterministicCoreImports(t *testing.T) {
	for _, pkg := range []string{"ledger", "ledger/keys", "app"} {
		imports := golist(t, "-f", "{{join .Imports \" \"}}", "./"+pkg)
		// sync is allowed: the signature cache's mutex guards a memo of
		// verified signatures, which cannot change any result.
		for _, b := range []string{"os", "net", "net/http", "math/rand", "math/rand/v2", "crypto/rand", "io/ioutil", "github.com/spf13/viper"} {
			if imports[b] {
				t.Errorf("%s imports %s", pkg, b)
			}
		}
	}
}

// No wall clock and no goroutines in the deterministic core's own source.
func TestDeterministicCoreSource(t *testing.T) {
	for _, dir := range []string{"ledger", "ledger/keys", "app"} {
		files := golist(t, "-f", "{{join .GoFiles \" \"}}", "./"+dir)
		for f := range files {
			bz, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			src := string(bz)
			for _, bad := range []string{"time.Now(", "go func", "time.Since(", "time.Sleep("} {
				if strings.Contains(src, bad) {
					t.Errorf("%s/%s uses %s", dir, f, bad)
				}
			}
		}
	}
}
