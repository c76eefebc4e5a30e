package api

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The fields PyMISP's feed generator writes (MISPEvent.to_feed and the
// _fields_for_feed of each class, pymisp/mispevent.py, without
// distribution and sharing groups), and the fields of a manifest entry
// (MISPEvent.manifest).
var (
	feedEventFields     = []string{"analysis", "date", "extends_uuid", "info", "protected", "publish_timestamp", "published", "threat_level_id", "timestamp", "uuid", "Orgc", "Tag", "Attribute", "Object"}
	feedAttributeFields = []string{"category", "comment", "data", "deleted", "disable_correlation", "first_seen", "last_seen", "timestamp", "to_ids", "type", "uuid", "value", "object_relation", "Tag"}
	feedObjectFields    = []string{"comment", "deleted", "description", "first_seen", "last_seen", "meta-category", "name", "template_uuid", "template_version", "timestamp", "uuid", "ObjectReference", "Attribute"}
	feedTagFields       = []string{"colour", "local", "name", "relationship_type"}
	feedManifestFields  = []string{"Orgc", "Tag", "info", "date", "analysis", "threat_level_id", "timestamp"}
)

func fetch(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	bz, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, bz
}

// onlyFields checks m's keys are among allowed and holds every required
// one; integers must be strings (PyMISP's _int_to_str).
func onlyFields(t *testing.T, what string, m map[string]any, allowed []string, required ...string) {
	t.Helper()
	for k, v := range m {
		if !slices.Contains(allowed, k) {
			t.Errorf("%s: field %q is not in the feed format", what, k)
		}
		if _, ok := v.(float64); ok {
			t.Errorf("%s: %q is a JSON number; the feed writes integers as strings", what, k)
		}
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: required field %q missing", what, k)
		}
	}
}

func TestMISPFeed(t *testing.T) {
	l := newTestLedger(t)
	// Retract the amended incident's new version (record 8, by xbb).
	l.extend(fixture.Step{Author: "xbb", Build: func(ids []string) *pb.Record {
		return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Retraction{Retraction: &pb.Retraction{TargetId: ids[8], Reason: "Superseded."}}}
	}})
	srv := restServer(t, Config{}, l.server(&fakeChain{}))
	res, bz := fetch(t, srv.URL+"/misp/manifest.json")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("manifest: %d %s", res.StatusCode, bz)
	}
	var manifest map[string]map[string]any
	if err := json.Unmarshal(bz, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) < 2 {
		t.Fatalf("manifest of %d events", len(manifest))
	}
	var wantHashes []string
	deleted := 0
	for id, entry := range manifest {
		for k, v := range entry {
			if !slices.Contains(feedManifestFields, k) {
				t.Errorf("manifest %s: field %q is not in the format", id, k)
			}
			if _, num := v.(float64); num != (k == "analysis" || k == "threat_level_id" || k == "timestamp") {
				t.Errorf("manifest %s: %s %v: PyMISP writes analysis, threat_level_id and timestamp as numbers, the rest as strings", id, k, v)
			}
		}
		res, bz := fetch(t, srv.URL+"/misp/"+id+".json")
		if res.StatusCode != 200 {
			t.Fatalf("event %s: %d %s", id, res.StatusCode, bz)
		}
		var file map[string]map[string]any
		if err := json.Unmarshal(bz, &file); err != nil || len(file) != 1 || file["Event"] == nil {
			t.Fatalf("event %s is not {\"Event\": ...}: %v %s", id, err, bz)
		}
		ev := file["Event"]
		onlyFields(t, "event "+id, ev, feedEventFields, "analysis", "date", "extends_uuid", "info", "protected", "publish_timestamp", "published", "threat_level_id", "timestamp", "uuid", "Orgc", "Tag")
		if ev["uuid"] != id {
			t.Errorf("event file %s holds event %v", id, ev["uuid"])
		}
		for _, k := range []string{"info", "date", "analysis", "threat_level_id", "timestamp"} {
			if n, ok := entry[k].(float64); ok && ev[k] != strconv.FormatFloat(n, 'f', 0, 64) || !ok && ev[k] != entry[k] {
				t.Errorf("event %s: %s %v, manifest says %v", id, k, ev[k], entry[k])
			}
		}
		onlyFields(t, "Orgc", ev["Orgc"].(map[string]any), []string{"name", "uuid"}, "name", "uuid")
		for _, tg := range ev["Tag"].([]any) {
			onlyFields(t, "tag", tg.(map[string]any), feedTagFields, feedTagFields...)
		}
		var attrs []any
		if a, ok := ev["Attribute"].([]any); ok {
			attrs = a
		}
		objs, _ := ev["Object"].([]any)
		for _, o := range objs {
			om := o.(map[string]any)
			onlyFields(t, "object", om, feedObjectFields, "name", "meta-category", "description", "template_uuid", "template_version", "uuid", "timestamp", "comment", "Attribute")
			attrs = append(attrs, om["Attribute"].([]any)...)
		}
		allDeleted := len(attrs) > 0
		for _, a := range attrs {
			am := a.(map[string]any)
			onlyFields(t, "attribute", am, feedAttributeFields, "category", "comment", "timestamp", "to_ids", "disable_correlation", "type", "uuid", "value")
			allDeleted = allDeleted && am["deleted"] == true
			v := am["value"].(string)
			if am["type"] == "datetime" {
				v = strings.Replace(v, "T", " ", 1) // Python's str() of the datetime PyMISP reads
			}
			parts := []string{v}
			if strings.Contains(am["type"].(string), "|") {
				parts = strings.Split(v, "|")
			}
			for _, p := range parts {
				h := md5.Sum([]byte(p))
				wantHashes = append(wantHashes, hex.EncodeToString(h[:])+","+id)
			}
		}
		if allDeleted {
			deleted++
		}
	}
	if deleted != 1 {
		t.Errorf("%d events with every attribute deleted, want 1 (the retracted new version)", deleted)
	}
	_, hz := fetch(t, srv.URL+"/misp/hashes.csv")
	got := strings.Split(strings.TrimSuffix(string(hz), "\n"), "\n")
	sort.Strings(got)
	sort.Strings(wantHashes)
	if strings.Join(got, "\n") != strings.Join(wantHashes, "\n") {
		t.Errorf("hashes.csv:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantHashes, "\n"))
	}
	// A retracted attribution rides in no event: the feed made after its
	// retraction has no threat-actor attribute left.
	countActors := func() int {
		_, mz := fetch(t, srv.URL+"/misp/manifest.json")
		var man map[string]any
		json.Unmarshal(mz, &man)
		n := 0
		for id := range man {
			_, ez := fetch(t, srv.URL+"/misp/"+id+".json")
			n += strings.Count(string(ez), `"type": "threat-actor"`)
		}
		return n
	}
	if countActors() == 0 {
		t.Fatal("the scenario's attribution rides in no event")
	}
	_, az := fetch(t, srv.URL+"/v1/records?kind=attribution")
	var atts struct {
		Records []struct{ ID, Author string } `json:"records"`
	}
	if err := json.Unmarshal(az, &atts); err != nil || len(atts.Records) == 0 {
		t.Fatalf("attributions: %v %s", err, az)
	}
	for _, a := range atts.Records {
		l.extend(fixture.Step{Author: a.Author, Build: func([]string) *pb.Record {
			return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Retraction{Retraction: &pb.Retraction{TargetId: a.ID, Reason: "Withdrawn."}}}
		}})
	}
	if n := countActors(); n != 0 {
		t.Errorf("%d threat-actor attributes after the attributions' retraction", n)
	}
	for _, p := range []string{"/misp/nothing.json", "/misp/00000000-0000-0000-0000-000000000000.json"} {
		if res, _ := fetch(t, srv.URL+p); res.StatusCode != 404 {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	if res, _ := fetch(t, srv.URL+"/misp/manifest.json?x=1"); res.StatusCode != 400 {
		t.Errorf("a parameter: %d", res.StatusCode)
	}
}

// pymispCheck is run by TestMISPFeedPyMISP with PyMISP's own code: it
// loads each event file as MISP does (MISPEvent.load_file), writes it back
// in the feed format (to_feed) and regenerates manifest.json and
// hashes.csv with the feed generator (pymisp/tools/feed.py).
const pymispCheck = `
import importlib.metadata as m, json, pathlib, sys
_v = m.version
m.version = lambda n: "0" if n == "pymisp" else _v(n)
from pymisp import MISPEvent
from pymisp.tools.feed import feed_meta_generator
d = pathlib.Path(sys.argv[1])
out = {}
for f in sorted(d.glob("*.json")):
    if f.name == "manifest.json":
        continue
    e = MISPEvent()
    e.load_file(str(f))
    out[e.uuid] = e.to_feed()["Event"]
feed_meta_generator(d)
json.dump(out, open(d / "to_feed.json", "w"))
`

// TestMISPFeedPyMISP checks the feed with PyMISP itself (its feed
// generator is what the format is defined by). PyMISP is not packaged by
// Debian and PyPI is out of reach here: the test runs when
// NORMLEDGER_PYMISP names a directory holding PyMISP's pymisp package
// (a checkout of github.com/MISP/PyMISP) and NORMLEDGER_PYTHON a Python
// with python3-dateutil, -deprecated, -jsonschema and -requests.
func TestMISPFeedPyMISP(t *testing.T) {
	dir := os.Getenv("NORMLEDGER_PYMISP")
	if dir == "" {
		t.Skip("NORMLEDGER_PYMISP is not set (a directory holding PyMISP's pymisp package)")
	}
	py := os.Getenv("NORMLEDGER_PYTHON")
	if py == "" {
		py = "python3"
	}
	l := newTestLedger(t)
	l.extend(fixture.Step{Author: "xbb", Build: func(ids []string) *pb.Record {
		return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Retraction{Retraction: &pb.Retraction{TargetId: ids[8], Reason: "Superseded."}}}
	}})
	srv := restServer(t, Config{}, l.server(&fakeChain{}))
	_, mz := fetch(t, srv.URL+"/misp/manifest.json")
	_, hz := fetch(t, srv.URL+"/misp/hashes.csv")
	var manifest map[string]any
	if err := json.Unmarshal(mz, &manifest); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ours := map[string]any{}
	for id := range manifest {
		_, bz := fetch(t, srv.URL+"/misp/"+id+".json")
		if err := os.WriteFile(filepath.Join(out, id+".json"), bz, 0o644); err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		if err := json.Unmarshal(bz, &ev); err != nil {
			t.Fatal(err)
		}
		ours[id] = ev["Event"]
	}
	cmd := exec.Command(py, "-c", pymispCheck, out)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("PyMISP: %v\n%s", err, b)
	}
	var theirs map[string]any
	readJSON := func(name string, v any) {
		bz, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(bz, v); err != nil {
			t.Fatal(err)
		}
	}
	readJSON("manifest.json", &theirs)
	if !reflect.DeepEqual(theirs, manifest) {
		a, _ := json.MarshalIndent(theirs, "", " ")
		t.Errorf("PyMISP's manifest.json differs from the node's:\n%s\nnode:\n%s", a, mz)
	}
	var feed map[string]any
	readJSON("to_feed.json", &feed)
	for id, ev := range ours {
		if !reflect.DeepEqual(feed[id], ev) {
			a, _ := json.MarshalIndent(feed[id], "", " ")
			b, _ := json.MarshalIndent(ev, "", " ")
			t.Errorf("event %s: PyMISP's to_feed after load_file:\n%s\nnode:\n%s", id, a, b)
		}
	}
	hb, err := os.ReadFile(filepath.Join(out, "hashes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	sortLines := func(b []byte) string {
		ls := strings.Split(strings.TrimSpace(string(b)), "\n")
		sort.Strings(ls)
		return strings.Join(ls, "\n")
	}
	if sortLines(hb) != sortLines(hz) {
		t.Errorf("PyMISP's hashes.csv:\n%s\nnode:\n%s", hb, hz)
	}
}
