package api

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestBulkExport(t *testing.T) {
	l := newTestLedger(t)
	srv := restServer(t, Config{}, l.server(&fakeChain{}))
	for _, c := range []struct{ path, items string }{
		{"/v1/records", "records"}, {"/v1/obligations", "obligations"}, {"/v1/members", "members"},
		{"/v1/cases", "cases"}, {"/v1/proposals", "proposals"},
	} {
		// The JSON listing, page by page.
		var want []string
		token := ""
		for {
			u := srv.URL + c.path + "?limit=2"
			if c.path == "/v1/members" {
				u = srv.URL + c.path
			}
			if token != "" {
				u += "&pageToken=" + token
			}
			res, bz := fetch(t, u)
			if res.StatusCode != 200 {
				t.Fatalf("%s: %d %s", u, res.StatusCode, bz)
			}
			var resp map[string]json.RawMessage
			if err := json.Unmarshal(bz, &resp); err != nil {
				t.Fatal(err)
			}
			var items []json.RawMessage
			if len(resp[c.items]) > 0 {
				json.Unmarshal(resp[c.items], &items)
			}
			for _, it := range items {
				var b bytes.Buffer
				json.Compact(&b, it)
				want = append(want, b.String())
			}
			token = ""
			json.Unmarshal(resp["nextPageToken"], &token)
			if token == "" {
				break
			}
		}
		res, bz := fetch(t, srv.URL+c.path+"?format=jsonl")
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/jsonl") {
			t.Fatalf("%s jsonl: %d %s %s", c.path, res.StatusCode, res.Header.Get("Content-Type"), bz)
		}
		got := strings.Split(strings.TrimSuffix(string(bz), "\n"), "\n")
		if len(want) == 0 {
			got = nil
			if len(bz) != 0 {
				t.Errorf("%s: %q for an empty listing", c.path, bz)
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s jsonl:\n%s\nlisting:\n%s", c.path, bz, strings.Join(want, "\n"))
		}
		// limit bounds the lines (of the paged listings: /v1/members
		// takes no limit).
		if len(want) > 1 && c.path != "/v1/members" {
			_, bz := fetch(t, srv.URL+c.path+"?format=jsonl&limit=1")
			if n := bytes.Count(bz, []byte("\n")); n != 1 {
				t.Errorf("%s limit=1: %d lines", c.path, n)
			}
		}
		// CSV: a header of BulkColumns, one row per item, each cell the
		// item's value.
		res, bz = fetch(t, srv.URL+c.path+"?format=csv")
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("%s csv: %d %s", c.path, res.StatusCode, bz)
		}
		rows, err := csv.NewReader(bytes.NewReader(bz)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		cols := BulkColumns(BulkListingMessages()[c.path])
		if len(rows) != len(want)+1 || len(rows[0]) != len(cols) {
			t.Fatalf("%s csv: %d rows of %d columns, want %d of %d", c.path, len(rows), len(rows[0]), len(want)+1, len(cols))
		}
		for i, line := range want {
			var m map[string]any
			json.Unmarshal([]byte(line), &m)
			for j, col := range cols {
				if v, ok := m[col.Name].(string); ok && rows[i+1][j] != v {
					t.Errorf("%s row %d %s: %q, item has %q", c.path, i, col.Name, rows[i+1][j], v)
				}
			}
		}
	}
	// HEAD: the GET's headers, no body.
	res, err := http.Head(srv.URL + "/v1/records?format=csv")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || res.Header.Get("X-Normledger-Height") == "" {
		t.Errorf("HEAD: %d %v", res.StatusCode, res.Header)
	}
	for _, q := range []string{"/v1/records?format=xml", "/v1/records?format=jsonl&prove=true", "/v1/records?format=jsonl&limit=0", "/v1/records?format=jsonl&kind=nonsense"} {
		if res, bz := fetch(t, srv.URL+q); res.StatusCode != 400 {
			t.Errorf("%s: %d %s", q, res.StatusCode, bz)
		}
	}
}

// TestBulkPandas reads the jsonl and CSV exports with pandas, as a
// researcher would (pandas.read_json(url, lines=True)). It runs where a
// Python with pandas is (NORMLEDGER_PYTHON, default python3); with
// NORMLEDGER_REQUIRE_PYTHON=1 a missing pandas fails it.
func TestBulkPandas(t *testing.T) {
	py := os.Getenv("NORMLEDGER_PYTHON")
	if py == "" {
		py = "python3"
	}
	if err := exec.Command(py, "-c", "import pandas").Run(); err != nil {
		if os.Getenv("NORMLEDGER_REQUIRE_PYTHON") == "1" {
			t.Fatalf("%s has no pandas: %v", py, err)
		}
		t.Skipf("%s has no pandas", py)
	}
	l := newTestLedger(t)
	srv := restServer(t, Config{}, l.server(&fakeChain{}))
	script := `
import sys, pandas as pd
base = sys.argv[1]
r = pd.read_json(base + "/v1/records?format=jsonl", lines=True, dtype={"seq": str, "height": str})
assert len(r) == int(sys.argv[2]), (len(r), sys.argv[2])
assert list(r["seq"].astype(int)) == list(range(1, len(r) + 1))
c = pd.read_csv(base + "/v1/records?format=csv", dtype=str)
assert list(c["id"]) == list(r["id"]), "csv and jsonl disagree"
o = pd.read_json(base + "/v1/obligations?format=jsonl", lines=True)
print(len(r), len(c), len(o), sorted(o["status"].unique()))
`
	out, err := exec.Command(py, "-c", script, srv.URL, strconvItoa(len(l.ids))).CombinedOutput()
	if err != nil {
		t.Fatalf("pandas: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		t.Log(sc.Text())
	}
}

func strconvItoa(n int) string { b, _ := json.Marshal(n); return string(b) }
