package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// taxiiVersion is one object version as a TAXII page lists it.
type taxiiVersion struct{ ID, Version string }

// taxiiPage fetches one page of a collection's objects.
func taxiiPage(t *testing.T, base, col string, q url.Values) (objs []taxiiVersion, next string, more bool) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/taxii2/api/collections/"+col+"/objects/?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	bz, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("TAXII objects: %d %s", res.StatusCode, bz)
	}
	var env struct {
		More    bool   `json:"more"`
		Next    string `json:"next"`
		Objects []struct {
			ID       string `json:"id"`
			Modified string `json:"modified"`
			Created  string `json:"created"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(bz, &env); err != nil {
		t.Fatal(err)
	}
	for _, o := range env.Objects {
		v := o.Modified
		if v == "" {
			v = o.Created
		}
		objs = append(objs, taxiiVersion{o.ID, v})
	}
	return objs, env.Next, env.More
}

// taxiiAll is a collection's whole stream from one node in one request.
func taxiiAll(t *testing.T, base, col string) []taxiiVersion {
	t.Helper()
	objs, _, more := taxiiPage(t, base, col, url.Values{"limit": {"1000"}})
	if more {
		t.Fatal("more than 1000 objects")
	}
	return objs
}

// testTAXIIAcrossNodes pages through the "all" collection three objects
// at a time, each page from the next node, while records are still being
// written, and checks the result is the stream as one node serves it
// afterwards: nothing lost, nothing twice. Then, when
// NORMLEDGER_TAXII_CLIENT names a directory holding OASIS's
// cti-taxii-client (taxii2client), that client does the same.
func testTAXIIAcrossNodes(t *testing.T, ip *inproc, write func()) {
	ctx := context.Background()
	var got []taxiiVersion
	next := ""
	for page := 0; ; page++ {
		if page == 2 {
			write() // the log grows under the paging
		}
		base := ip.clients[page%len(ip.clients)].Base()
		q := url.Values{"limit": {"3"}}
		if next != "" {
			q.Set("next", next)
		}
		objs, n, more := taxiiPage(t, base, "all", q)
		got = append(got, objs...)
		if !more {
			break
		}
		next = n
		if page > 500 {
			t.Fatal("paging does not end")
		}
	}
	ip.caughtUp(t, ctx)
	want := taxiiAll(t, ip.clients[0].Base(), "all")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged across nodes (%d):\n%v\none node afterwards (%d):\n%v", len(got), got, len(want), want)
	}
	seen := map[taxiiVersion]bool{}
	for _, o := range got {
		if seen[o] {
			t.Fatalf("%v twice", o)
		}
		seen[o] = true
	}
	t.Logf("%d object versions paged across %d nodes", len(got), len(ip.clients))

	dir := os.Getenv("NORMLEDGER_TAXII_CLIENT")
	if dir == "" {
		t.Log("NORMLEDGER_TAXII_CLIENT not set: OASIS's cti-taxii-client not run")
		return
	}
	py := os.Getenv("NORMLEDGER_PYTHON")
	if py == "" {
		py = "python3"
	}
	script := `
import json, sys
from taxii2client.v21 import Server, Collection, as_pages
bases = sys.argv[1:]
server = Server(bases[0] + "/taxii2/")
root = server.default
cols = {c.alias: c for c in root.collections}
assert set(cols) >= {"all", "tlp-clear", "tlp-green", "tlp-amber", "tlp-amber-strict", "tlp-red", "unmarked"}, list(cols)
col_id = cols["all"].id
assert not cols["all"].can_write and cols["all"].can_read
out = []
env = cols["all"].get_objects(limit=4)
i = 0
while True:
    out += [[o["id"], o.get("modified", o.get("created"))] for o in env.get("objects", [])]
    if not env.get("more"):
        break
    i += 1
    c = Collection(bases[i % len(bases)] + "/taxii2/api/collections/" + col_id + "/")
    env = c.get_objects(limit=4, next=env["next"])
paged = []
for env in as_pages(cols["all"].get_manifest, per_request=5):
    paged += [[o["id"], o["version"]] for o in env.get("objects", [])]
obj = out[-1][0]
vers = cols["all"].object_versions(obj)
one = cols["all"].get_object(obj)
print(json.dumps({"objects": out, "manifest": paged, "versions": vers.get("versions", []), "object": one["objects"][0]["id"]}))
`
	args := []string{"-c", script}
	for _, c := range ip.clients {
		args = append(args, c.Base())
	}
	cmd := exec.Command(py, args...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+dir)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("cti-taxii-client: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var res struct {
		Objects, Manifest [][2]string
		Versions          []string
		Object            string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want = taxiiAll(t, ip.clients[0].Base(), "all")
	var w [][2]string
	for _, o := range want {
		w = append(w, [2]string{o.ID, o.Version})
	}
	if fmt.Sprint(res.Objects) != fmt.Sprint(w) || fmt.Sprint(res.Manifest) != fmt.Sprint(w) {
		t.Fatalf("cti-taxii-client paged\n%v\nmanifest\n%v\nnode\n%v", res.Objects, res.Manifest, w)
	}
	if len(res.Versions) == 0 || res.Object != w[len(w)-1][0] {
		t.Fatalf("cti-taxii-client object/versions: %+v", res)
	}
	t.Logf("cti-taxii-client paged %d object versions across %d nodes, and the manifest", len(res.Objects), len(ip.clients))
}

// testBulkCLI runs normledger export jsonl|csv against a node.
func testBulkCLI(t *testing.T, ip *inproc) {
	ctx := context.Background()
	dir := t.TempDir()
	node := ip.clients[1].Base()
	st, err := ip.clients[1].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := fmt.Sprint(st.LatestAttestedHeight)
	recs := filepath.Join(dir, "records.jsonl")
	if code, out := runCLI(t, "export", "jsonl", "records", "--node", node, "--height", h, "-f", recs); code != 0 {
		t.Fatalf("export jsonl records: %d %s", code, out)
	}
	lines := readLines(t, recs)
	res, err := ip.clients[1].Records(ctx, &pb.ListRecordsRequest{Limit: 200, Height: st.LatestAttestedHeight})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(res.Records) || len(lines) == 0 {
		t.Fatalf("%d lines, the listing has %d records", len(lines), len(res.Records))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if m["id"] != res.Records[i].Id || m["seq"] != fmt.Sprint(res.Records[i].Seq) {
			t.Fatalf("line %d: id %v seq %v (a string), record %s seq %d", i, m["id"], m["seq"], res.Records[i].Id, res.Records[i].Seq)
		}
	}
	inc := filepath.Join(dir, "incidents.csv")
	if code, out := runCLI(t, "export", "csv", "records", "--node", node, "--where", "kind=incident_disclosure", "-f", inc); code != 0 {
		t.Fatalf("export csv records: %d %s", code, out)
	}
	rows := readLines(t, inc)
	if len(rows) < 2 || !strings.HasPrefix(rows[0], "id,seq,height,blockTime,txIndex,kind,author") {
		t.Fatalf("csv: %v", rows)
	}
	for _, r := range rows[1:] {
		if !strings.Contains(r, ",RECORD_KIND_INCIDENT_DISCLOSURE,") {
			t.Fatalf("row of another kind: %s", r)
		}
	}
	comp := filepath.Join(dir, "compliance.csv")
	if code, out := runCLI(t, "export", "csv", "compliance", "--node", node, "-f", comp); code != 0 {
		t.Fatalf("export csv compliance: %d %s", code, out)
	}
	ms, err := ip.clients[1].ListMembers(ctx, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	rows = readLines(t, comp)
	if len(rows) != len(ms.Members)+1 || !strings.HasPrefix(rows[0], "member,name,onTime.numerator,onTime.denominator,onTime.basisPoints") {
		t.Fatalf("compliance csv (%d members): %v", len(ms.Members), rows)
	}
	if code, out := runCLI(t, "export", "csv", "records", "--node", node, "--where", "colour=red"); code == 0 || !strings.Contains(out, "colour") {
		t.Fatalf("an unknown filter: %d %s", code, out)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	bz, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(bz), "\n"), "\n")
}
