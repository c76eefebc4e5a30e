package normledger_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

const mod = "github.com/normledger/normledger/"

// graph is the import graph of the module's packages and everything they
// depend on, for one GOOS/GOARCH: package -> its imports.
type graph struct {
	imports  map[string][]string
	standard map[string]bool
}

func loadGraph(t *testing.T, env []string, patterns ...string) *graph {
	t.Helper()
	g, err := listGraph(env, patterns...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func listGraph(env []string, patterns ...string) (*graph, error) {
	args := append([]string{"list", "-deps", "-tags", "force64bit", "-f", "{{.ImportPath}}|{{.Standard}}|{{join .Imports \" \"}}"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %v: %w", args, err)
	}
	g := &graph{imports: map[string][]string{}, standard: map[string]bool{}}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "|", 3)
		g.imports[f[0]] = strings.Fields(f[2])
		g.standard[f[0]] = f[1] == "true"
	}
	g.standard["C"] = true // cgo's pseudo-package, which the standard library's net imports
	return g, nil
}

var native struct {
	once sync.Once
	g    *graph
	err  error
}

// moduleGraph is the native import graph of ./..., loaded once per test
// process.
func moduleGraph(t *testing.T) *graph {
	t.Helper()
	native.once.Do(func() { native.g, native.err = listGraph(nil, "./...") })
	if native.err != nil {
		t.Fatal(native.err)
	}
	return native.g
}

// deps is every package pkg depends on, transitively; stop, when not nil,
// names packages whose own imports are not followed.
func (g *graph) deps(pkg string, stop func(string) bool) map[string]bool {
	seen := map[string]bool{}
	var visit func(p string)
	visit = func(p string) {
		for _, d := range g.imports[p] {
			if seen[d] {
				continue
			}
			seen[d] = true
			if stop == nil || !stop(d) {
				visit(d)
			}
		}
	}
	visit(pkg)
	return seen
}

// floors are the layers of the module, bottom up, as the README's layout
// describes them: a package may import, of this module, only packages of
// its own floor or of the floors it lists. (Module-internal imports are
// checked directly; the floors below checked the same way make the rule
// hold transitively.)
var floors = []struct {
	name     string
	packages []string // prefixes of import paths below mod
	may      []string // other floors it may import
}{
	{"helpers", []string{"internal/atomicfile", "internal/codedoc", "internal/human", "internal/testports"}, nil},
	{"messages", []string{"proto/gen/normledger/v1"}, nil},
	{"examples", []string{"examples"}, nil},
	// normledger_build_info, for every process that serves metrics.
	{"build info", []string{"internal/buildinfo"}, nil},
	{"core", []string{"ledger", "ledger/enum", "ledger/layout", "ledger/fixture"}, []string{"messages"}},
	{"record log", []string{"ledger/store/tlog"}, nil},
	{"store", []string{"ledger/store"}, []string{"core", "record log", "messages"}},
	{"interop", []string{"interop/"}, []string{"core", "messages"}},
	{"verifiers", []string{"verifiers", "verifiers/checkpoint", "verifiers/jsonapi"}, []string{"core", "record log", "messages"}},
	{"remote verifier", []string{"verifiers/remote"}, []string{"verifiers", "core", "record log", "messages"}},
	{"client", []string{"client"}, []string{"core", "messages"}},
	{"app", []string{"app"}, []string{"core", "store", "record log", "messages"}},
	{"audit", []string{"audit"}, []string{"app", "store", "record log", "core", "verifiers", "remote verifier", "messages"}},
	{"service", []string{"proto/gen/normledger/v1/ledgersvc", "proto"}, []string{"messages"}},
	{"node", []string{"node"}, []string{"build info", "app", "store", "record log", "core", "interop", "verifiers", "service", "messages"}},
	{"monitor", []string{"monitor"}, []string{"build info", "client", "verifiers", "remote verifier", "core", "messages"}},
	{"cli", []string{"cli"}, []string{"examples", "monitor", "node", "audit", "app", "store", "record log", "core", "interop", "verifiers", "remote verifier", "client", "service", "messages"}},
	{"testnet", []string{"testnet"}, []string{"cli", "monitor", "node", "audit", "app", "store", "record log", "core", "interop", "verifiers", "remote verifier", "client", "service", "messages"}},
	{"commands", []string{"cmd/", "internal/openapigen"}, []string{"testnet", "cli", "node", "service", "verifiers", "core", "messages"}},
	// Operators' files (units, images, proxy and alert configurations)
	// and the tests that check them; nothing imports deploy.
	{"deploy", []string{"deploy"}, nil},
	{"root", []string{""}, nil},
}

// floorOf is the floor of a module package (its longest matching prefix).
func floorOf(pkg string) string {
	rel := strings.TrimPrefix(pkg, mod)
	if pkg == strings.TrimSuffix(mod, "/") {
		rel = ""
	}
	best, bestLen := "", -1
	for _, f := range floors {
		for _, p := range f.packages {
			match := rel == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(rel, p)) || (p != "" && strings.HasPrefix(rel, p+"/") && !strings.HasSuffix(p, "/"))
			if p == "" {
				match = rel == ""
			}
			if match && len(p) > bestLen {
				best, bestLen = f.name, len(p)
			}
		}
	}
	return best
}

func TestFloors(t *testing.T) {
	g := moduleGraph(t)
	allowed := map[string][]string{}
	for _, f := range floors {
		// Every floor may use the helpers (standard library and protobuf only).
		allowed[f.name] = append([]string{f.name, "helpers"}, f.may...)
	}
	var pkgs []string
	for p := range g.imports {
		if strings.HasPrefix(p, mod) || p+"/" == mod {
			pkgs = append(pkgs, p)
		}
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		fl := floorOf(p)
		if fl == "" {
			t.Errorf("%s is on no floor: add it to the table (and to the README's layout)", p)
			continue
		}
		for _, d := range g.imports[p] {
			if !strings.HasPrefix(d, mod) {
				continue
			}
			if df := floorOf(d); !slices.Contains(allowed[fl], df) {
				t.Errorf("%s (floor %s) imports %s (floor %s)", p, fl, d, df)
			}
		}
	}
}

// What the floors may not reach, transitively.
func TestExternalDependencies(t *testing.T) {
	g := moduleGraph(t)
	grpc := func(d string) bool {
		return d == "google.golang.org/grpc" || strings.HasPrefix(d, "google.golang.org/grpc/")
	}
	gateway := func(d string) bool { return strings.HasPrefix(d, "github.com/grpc-ecosystem/") }
	stubs := func(d string) bool { return strings.HasPrefix(d, mod+"proto/gen/normledger/v1/ledgersvc") }
	// CometBFT's ABCI types import gRPC (their service definitions); every
	// CometBFT package that the floors below the service use reaches gRPC
	// only through them.
	abciTypes := func(d string) bool { return d == "github.com/cometbft/cometbft/abci/types" }
	rules := []struct {
		floors []string
		what   string
		bad    func(string) bool
		stop   func(string) bool
	}{
		// The deterministic core and the interop adapters decode records
		// without a network stack.
		{[]string{"messages", "core", "record log", "store", "interop"}, "gRPC", grpc, nil},
		{[]string{"messages", "core", "record log", "store", "interop", "verifiers", "remote verifier", "client", "monitor", "app", "audit"}, "the gRPC gateway", gateway, nil},
		{[]string{"core", "record log", "store", "interop", "verifiers", "remote verifier", "client", "monitor", "app", "audit"}, "the service stubs", stubs, nil},
		// CometBFT's types import its ABCI types, which import gRPC: the
		// verifiers, the client, the monitor, the app and the audit may
		// reach gRPC that way only.
		{[]string{"verifiers", "remote verifier", "client", "monitor", "app", "audit"}, "gRPC other than through CometBFT's ABCI types", grpc, abciTypes},
		{[]string{"messages", "core", "record log", "interop", "verifiers", "remote verifier", "client", "monitor"}, "IAVL",
			func(d string) bool { return strings.HasPrefix(d, "github.com/cosmos/iavl") }, nil},
		{[]string{"helpers", "messages", "core", "record log", "store", "interop", "verifiers", "remote verifier", "client", "app", "audit", "node", "monitor"}, "viper",
			func(d string) bool { return strings.HasPrefix(d, "github.com/spf13/viper") }, nil},
		// The record log stands alone: the standard library,
		// transparency-dev/merkle, internal/atomicfile (its writes) and
		// hashicorp/golang-lru (its tile caches, standard library only).
		// Its proof checks (logproof) need only merkle, so that the
		// verifiers, the WebAssembly one too, link no storage.
		{[]string{"record log"}, "anything but the standard library, transparency-dev/merkle, internal/atomicfile and hashicorp/golang-lru",
			func(d string) bool {
				return !g.standard[d] && !strings.HasPrefix(d, "github.com/transparency-dev/merkle") && d != mod+"internal/atomicfile" &&
					!strings.HasPrefix(d, "github.com/hashicorp/golang-lru/v2") && !strings.HasPrefix(d, mod+"ledger/store/tlog/")
			}, nil},
		// The helpers serve every floor: the standard library and protobuf only.
		{[]string{"helpers"}, "anything but the standard library and protobuf",
			func(d string) bool { return !g.standard[d] && !strings.HasPrefix(d, "google.golang.org/protobuf/") }, nil},
		// The pure verifiers have no database: CometBFT's light client
		// (which needs one) is for verifiers/remote.
		{[]string{"verifiers"}, "a database or CometBFT's light client", func(d string) bool {
			return d == "github.com/cometbft/cometbft/light" || strings.HasPrefix(d, "github.com/cometbft/cometbft-db") ||
				strings.HasPrefix(d, "github.com/syndtr/goleveldb")
		}, nil},
	}
	for p := range g.imports {
		if !strings.HasPrefix(p, mod) {
			continue
		}
		fl := floorOf(p)
		for _, r := range rules {
			if !slices.Contains(r.floors, fl) {
				continue
			}
			for d := range g.deps(p, r.stop) {
				if r.bad(d) {
					t.Errorf("%s (floor %s) depends on %s: the %s floor must not depend on %s", p, fl, d, fl, r.what)
					break
				}
			}
		}
	}
}

// wasmPackageBudget bounds the non-standard packages linked into the browser
// verifier: 223 when the service stubs lived in the message package, 213
// after they left (most of the rest are CometBFT's types and what they
// import, gRPC among them), 228 with filippo.io/age (app version 8: the
// ledger checks sealed ciphertexts' headers and re-checks receipts' file
// keys, and the browser verifier re-checks a proven mismatch the same
// way), 229 with ledger/disclose (app version 11: the digests of withheld
// fields, which the browser checks a viewer's local disclosures against).
// Raise it only with a reason.
const wasmPackageBudget = 229

// The browser verifier builds only for js/wasm, so the host's go list does
// not see it: its floors and its budget are checked here, under js/wasm.
func TestWasmVerifierBudget(t *testing.T) {
	g := loadGraph(t, []string{"GOOS=js", "GOARCH=wasm"}, "./cmd/verifier-wasm")
	root := mod + "cmd/verifier-wasm"
	n := 0
	for p := range g.deps(root, nil) {
		if !g.standard[p] {
			n++
		}
		if strings.HasPrefix(p, mod) {
			if fl := floorOf(p); !slices.Contains([]string{"verifiers", "core", "record log", "messages", "helpers"}, fl) {
				t.Errorf("the browser verifier links %s (floor %s): only the pure verifiers and what they stand on", p, fl)
			}
		}
		if strings.HasPrefix(p, "github.com/grpc-ecosystem/") {
			t.Errorf("the browser verifier links %s", p)
		}
	}
	for p := range g.deps(root, func(d string) bool { return d == "github.com/cometbft/cometbft/abci/types" }) {
		if p == "google.golang.org/grpc" || strings.HasPrefix(p, "google.golang.org/grpc/") {
			t.Errorf("the browser verifier reaches %s other than through CometBFT's ABCI types", p)
			break
		}
	}
	if n > wasmPackageBudget {
		t.Errorf("the browser verifier links %d non-standard packages, the budget is %d", n, wasmPackageBudget)
	}
	t.Logf("browser verifier: %d non-standard packages (budget %d)", n, wasmPackageBudget)
}

// The deterministic core does no I/O, reads no clock or randomness and
// starts no goroutines; this checks its own imports (what it calls
// directly), since the standard library and protobuf use such packages
// internally.
var deterministic = []string{"ledger", "ledger/enum", "ledger/layout", "ledger/seal", "app"}

func TestDeterministicCoreImports(t *testing.T) {
	g := moduleGraph(t)
	for _, pkg := range deterministic {
		// sync is allowed: the signature cache's mutex guards a memo of
		// verified signatures, which cannot change any result.
		for _, b := range []string{"os", "net", "net/http", "math/rand", "math/rand/v2", "crypto/rand", "io/ioutil", "github.com/spf13/viper"} {
			if slices.Contains(g.imports[mod+pkg], b) {
				t.Errorf("%s imports %s", pkg, b)
			}
		}
	}
}

// No wall clock in the deterministic core's own source (goroutines:
// TestDeterministicCoreStartsNoGoroutines, by syntax).
func TestDeterministicCoreSource(t *testing.T) {
	sourcesFree(t, deterministic, "time.Now(", "time.Since(", "time.Sleep(")
}

// The pure verifiers are given the time: they read no clock (CometBFT's
// light/verifier.go takes "now" as a parameter; so do they).
func TestVerifiersReadNoClock(t *testing.T) {
	sourcesFree(t, []string{"verifiers", "verifiers/checkpoint", "verifiers/jsonapi"}, "time.Now(", "time.Since(", "//go:build")
}

// sourcesFree reports each non-test Go file of dirs that contains one of
// bad.
func sourcesFree(t *testing.T, dirs []string, bad ...string) {
	t.Helper()
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: %v (%d files)", dir, err, len(files))
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			bz, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range bad {
				if strings.Contains(string(bz), b) {
					t.Errorf("%s uses %s", f, b)
				}
			}
		}
	}
}

// No go statement at all in the deterministic core (the text search above
// sees only "go func"; this sees "go f()" too).
func TestDeterministicCoreStartsNoGoroutines(t *testing.T) {
	for _, dir := range deterministic {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				if _, ok := n.(*ast.GoStmt); ok {
					t.Errorf("%s starts a goroutine", f)
				}
				return true
			})
		}
	}
}
