package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	nlproto "github.com/normledger/normledger/proto"
)

// The repository root, seen from this package's directory.
const repoRoot = "../.."

// clientUse calls a few of the generated client's operations, so that the
// build checks they exist with the types a client needs: the gateway's
// routes, the own routes (TAXII, the MISP feed), a 64-bit integer as a
// string, an error's details by their @type.
const clientUse = `package main

import (
	"context"
	"fmt"

	"example.invalid/normledgerclient/nlclient"
	openapi_types "github.com/oapi-codegen/runtime/types"
)

func main() {
	c, err := nlclient.NewClientWithResponses("http://127.0.0.1:1317")
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	st, err := c.LedgerServiceStatusWithResponse(ctx)
	if err == nil && st.JSON200 != nil && st.JSON200.LatestHeight != nil {
		var height string = *st.JSON200.LatestHeight
		fmt.Println(height)
	}
	rec, err := c.LedgerServiceGetRecordWithResponse(ctx, "id", &nlclient.LedgerServiceGetRecordParams{})
	if err == nil && rec.JSON404 != nil && rec.JSON404.Details != nil {
		for _, d := range *rec.JSON404.Details {
			if info, err := d.AsV1ErrorInfo(); err == nil && info.CodeName != nil {
				fmt.Println(*info.CodeName)
			}
			if v, err := d.ValueByDiscriminator(); err == nil {
				fmt.Println(v)
			}
		}
	}
	limit := 10
	objs, err := c.TaxiiGetObjectsWithResponse(ctx, "all", &nlclient.TaxiiGetObjectsParams{Limit: &limit})
	if err == nil && objs.ApplicationtaxiiJSONVersion21200 != nil {
		fmt.Println(objs.ApplicationtaxiiJSONVersion21200.More)
	}
	ev, err := c.MispGetEventWithResponse(ctx, openapi_types.UUID{})
	if err == nil && ev.JSON200 != nil {
		fmt.Println(ev.JSON200.Event.Uuid)
	}
	_, _ = c.LedgerServiceBroadcastTxWithResponse(ctx, nlclient.LedgerServiceBroadcastTxJSONRequestBody{})
}
`

// A Go client generated from the OpenAPI 3 document by oapi-codegen (the
// tool tools/go.mod pins) builds and vets in a module of its own, against
// the runtime testdata/client/go.mod pins (from the module proxy, checked
// against testdata/client/go.sum). CI runs it (.ci/run); -short skips it
// (it builds the generator).
func TestGeneratedClientBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds oapi-codegen and a generated client: not with -short")
	}
	spec, err := nlproto.OpenAPI3()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	specPath := filepath.Join(dir, "openapi3.json")
	if err := os.WriteFile(specPath, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	tools, err := filepath.Abs(filepath.Join(repoRoot, "tools"))
	if err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(dir, "oapi-codegen")
	runIn(t, tools, "go", "build", "-o", gen, "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen")

	// The client's module: testdata/client's go.mod and go.sum pin the
	// runtime its code imports (and what that needs), checked against
	// the sums there.
	mod := filepath.Join(dir, "client")
	if err := os.MkdirAll(filepath.Join(mod, "nlclient"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"main.go": []byte(clientUse)}
	for _, name := range []string{"go.mod", "go.sum"} {
		if files[name], err = os.ReadFile(filepath.Join("testdata", "client", name)); err != nil {
			t.Fatal(err)
		}
	}
	for name, bz := range files {
		if err := os.WriteFile(filepath.Join(mod, name), bz, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runIn(t, mod, gen, "-generate", "types,client", "-package", "nlclient", "-o", filepath.Join("nlclient", "client.gen.go"), specPath)
	runIn(t, mod, "go", "build", "-o", filepath.Join(dir, "client-bin"), ".")
	runIn(t, mod, "go", "vet", "./...")
	bz, err := os.ReadFile(filepath.Join(mod, "nlclient", "client.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated client: %d lines, builds and vets", strings.Count(string(bz), "\n"))
}

// runIn runs a command in dir with the module settings CI uses (read-only
// go.mod, no workspace) and fails the test with its output.
func runIn(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
}
