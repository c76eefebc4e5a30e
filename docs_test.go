package normledger_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/normledger/normledger/internal/codedoc"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/node/api"
)

var update = flag.Bool("update", false, "rewrite the generated parts of docs/verifying.md")

const verifyingDoc = "docs/verifying.md"

const (
	codesBegin = "<!-- codes:begin -->"
	codesEnd   = "<!-- codes:end -->"
)

// TestVerifyingCodeTable keeps the result code table of docs/verifying.md
// what the code says: every code of ledger/codes.go with its name, its
// line comment as its meaning, the HTTP status of a transaction rejected
// with it (api.HTTPStatus) and the statuses node/api raises it with itself.
// `go test . -run TestVerifyingCodeTable -update` rewrites the table.
func TestVerifyingCodeTable(t *testing.T) {
	table := codeTable(t)
	doc, err := os.ReadFile(verifyingDoc)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(doc, []byte(codesBegin))
	j := bytes.Index(doc, []byte(codesEnd))
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %s ... %s", verifyingDoc, codesBegin, codesEnd)
	}
	start := i + len(codesBegin)
	if string(doc[start:j]) == table {
		return
	}
	if *update {
		out := append(append(append([]byte(nil), doc[:start]...), table...), doc[j:]...)
		if err := os.WriteFile(verifyingDoc, out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the result code table of %s", verifyingDoc)
		return
	}
	t.Fatalf("the result code table of %s is out of date (a code, its comment or its HTTP statuses changed); "+
		"run `go test . -run TestVerifyingCodeTable -update`. %s", verifyingDoc, firstDiff(string(doc[start:j]), table))
}

// firstDiff shows the first line where have and want differ.
func firstDiff(have, want string) string {
	h, w := strings.Split(have, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(h) || i < len(w); i++ {
		var hl, wl string
		if i < len(h) {
			hl = h[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if hl != wl {
			return fmt.Sprintf("Line %d of the table:\n have: %s\n want: %s", i+1, hl, wl)
		}
	}
	return ""
}

// codeTable renders the table between the markers.
func codeTable(t *testing.T) string {
	t.Helper()
	idents, meanings := ledgerCodes(t)
	raised := raisedByLedger(t, idents)
	own := apiStatuses(t, idents)
	var b strings.Builder
	b.WriteString("\n<!-- Generated from ledger/codes.go and node/api by TestVerifyingCodeTable; do not edit by hand. -->\n\n")
	b.WriteString("| code | name | HTTP, as a transaction's result | HTTP, raised by the API | meaning |\n")
	b.WriteString("|---:|---|---|---|---|\n")
	for _, c := range ledger.Codes() {
		tx := "—"
		switch {
		case c == ledger.CodeOK:
			tx = strconv.Itoa(http.StatusOK)
		case raised[c]:
			tx = strconv.Itoa(api.HTTPStatus(c))
		}
		raisedAs := "—"
		if ss := own[c]; len(ss) > 0 {
			parts := make([]string, len(ss))
			for i, s := range ss {
				parts[i] = strconv.Itoa(s)
			}
			raisedAs = strings.Join(parts, ", ")
		}
		fmt.Fprintf(&b, "| %d | `%s` | %s | %s | %s |\n", c, c, tx, raisedAs, strings.ReplaceAll(meanings[c], "|", `\|`))
	}
	return b.String()
}

// ledgerCodes parses ledger/codes.go: each code constant's identifier and
// its line comment (its meaning), checked against ledger.Codes().
func ledgerCodes(t *testing.T) (map[string]ledger.Code, map[ledger.Code]string) {
	t.Helper()
	consts, err := codedoc.Parse("ledger/codes.go")
	if err != nil {
		t.Fatal(err)
	}
	idents := map[string]ledger.Code{}
	meanings := map[ledger.Code]string{}
	for _, k := range consts {
		idents[k.Name] = ledger.Code(k.Value)
		meanings[ledger.Code(k.Value)] = k.Meaning
	}
	for _, c := range ledger.Codes() {
		if _, ok := meanings[c]; !ok {
			t.Fatalf("code %d (%s) is not a constant of ledger/codes.go", c, c)
		}
		if meanings[c] == "" {
			if c != ledger.CodeOK {
				t.Fatalf("ledger/codes.go: code %d (%s) needs a line comment saying what it means", c, c)
			}
			meanings[c] = "accepted"
		}
	}
	if len(meanings) != len(ledger.Codes()) {
		t.Fatalf("ledger/codes.go defines %d codes, ledger.Codes() lists %d: give every code a name", len(meanings), len(ledger.Codes()))
	}
	return idents, meanings
}

// parseGo parses the non-test Go files of dir (except skip).
func parseGo(t *testing.T, dir string, skip ...string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*ast.File
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") || slices.Contains(skip, filepath.ToSlash(p)) {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// raisedByLedger lists the codes that the ledger (transaction checks) or
// the ABCI app name, i.e. the codes a transaction's result can carry.
func raisedByLedger(t *testing.T, idents map[string]ledger.Code) map[ledger.Code]bool {
	t.Helper()
	out := map[ledger.Code]bool{}
	files := append(parseGo(t, "ledger", "ledger/codes.go"), parseGo(t, "app")...)
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				if c, ok := idents[id.Name]; ok {
					out[c] = true
				}
			}
			return true
		})
	}
	return out
}

// apiStatuses lists, per code, the HTTP statuses node/api raises it with
// itself: calls that pass a constant ledger code together with an HTTP
// status (writeError), a gRPC code (apiError, status.New) or through the
// helpers notFound and badRequest.
func apiStatuses(t *testing.T, idents map[string]ledger.Code) map[ledger.Code][]int {
	t.Helper()
	helpers := map[string]codes.Code{"notFound": codes.NotFound, "badRequest": codes.InvalidArgument}
	seen := map[ledger.Code]map[int]bool{}
	add := func(c ledger.Code, s int) {
		if seen[c] == nil {
			seen[c] = map[int]bool{}
		}
		seen[c][s] = true
	}
	for _, f := range parseGo(t, "node/api") {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var lcs []ledger.Code
			var hs []int
			var gcs []codes.Code
			for _, a := range call.Args {
				pkg, name, ok := selector(a)
				if !ok {
					continue
				}
				switch pkg {
				case "ledger":
					if c, ok := idents[name]; ok {
						lcs = append(lcs, c)
					}
				case "http":
					if !strings.HasPrefix(name, "Status") {
						continue
					}
					s, ok := httpStatusNamed(name)
					if !ok {
						t.Fatalf("node/api: cannot tell which status http.%s is", name)
					}
					hs = append(hs, s)
				case "codes":
					gc, ok := grpcCodeNamed(name)
					if !ok {
						t.Fatalf("node/api: cannot tell which gRPC code codes.%s is", name)
					}
					gcs = append(gcs, gc)
				}
			}
			if len(lcs) != 1 {
				return true
			}
			switch fn, _ := call.Fun.(*ast.Ident); {
			case len(hs) == 1:
				add(lcs[0], hs[0])
			case len(gcs) == 1:
				add(lcs[0], api.ErrorHTTPStatus(gcs[0], lcs[0]))
			case fn != nil && helpers[fn.Name] != codes.OK:
				add(lcs[0], api.ErrorHTTPStatus(helpers[fn.Name], lcs[0]))
			}
			return true
		})
	}
	out := map[ledger.Code][]int{}
	for c, ss := range seen {
		for s := range ss {
			out[c] = append(out[c], s)
		}
		slices.Sort(out[c])
	}
	return out
}

func selector(e ast.Expr) (pkg, name string, ok bool) {
	s, ok := e.(*ast.SelectorExpr)
	if !ok {
		return "", "", false
	}
	x, ok := s.X.(*ast.Ident)
	if !ok {
		return "", "", false
	}
	return x.Name, s.Sel.Name, true
}

// httpStatusNamed resolves net/http's constant StatusXxx by its name,
// which is its status text without spaces and hyphens.
func httpStatusNamed(name string) (int, bool) {
	for s := 100; s < 600; s++ {
		txt := http.StatusText(s)
		if txt != "" && "Status"+strings.NewReplacer(" ", "", "-", "").Replace(txt) == name {
			return s, true
		}
	}
	return 0, false
}

func grpcCodeNamed(name string) (codes.Code, bool) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return c, true
		}
	}
	return 0, false
}

// TestVerifyingKeyExamples checks the worked key examples of
// docs/verifying.md against ledger/layout.
func TestVerifyingKeyExamples(t *testing.T) {
	doc, err := os.ReadFile(verifyingDoc)
	if err != nil {
		t.Fatal(err)
	}
	// The record of docs/signing.md's worked example, and an obligation id.
	const id = "746693d7a8ba27e12371e632fba9d9e8524ea5ee416717470432c29c8576dc2e"
	const ob = "10a36750a56267c8ee9763e3ece8190e"
	idKey, err := layout.ID(id)
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string][]byte{
		"i/<id>":               idKey,
		"m/xbb":                layout.Member("xbb"),
		"n/xbb":                layout.Sequence("xbb"),
		"x/k/notification/<5>": layout.Index(layout.IndexKind, "notification", 5),
		"x/f/<id>/<5>":         layout.Index(layout.IndexRef, id, 5),
		"g/p/<id>":             layout.Proposal(id),
		"g/v/<id>/xbb":         layout.Vote(id, "xbb"),
		"o/<ob>":               layout.Obligation(ob),
		"ob/d/xbb/<due>/<ob>":  layout.ObIndex(layout.ObDebtorPrefix("xbb"), 1_793_707_200_000_000_000, ob),
		"meta/log":             layout.LogState(2, mustHex(t, "9b7e648d2fe55cd364e28b9d9b2b5c4bec0f4b51354c956d251ef0f2941a1b45")),
	}
	for name, k := range examples {
		if !bytes.Contains(doc, []byte(hex.EncodeToString(k))) {
			t.Errorf("%s: the example %s should read %x", verifyingDoc, name, k)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
