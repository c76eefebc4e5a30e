package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// taxiiGet fetches a TAXII URL with the TAXII Accept header.
func taxiiGet(t *testing.T, base, path string, accept string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	bz, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(bz, &out); err != nil {
		t.Fatalf("GET %s: %d %s: not JSON: %v", path, res.StatusCode, bz, err)
	}
	return res, out
}

// wantKeys checks that m has the properties the TAXII 2.1 specification
// requires of a resource (and its example shows), and only known ones.
func wantKeys(t *testing.T, what string, m map[string]any, required []string, optional ...string) {
	t.Helper()
	for _, k := range required {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: no required property %q in %v", what, k, m)
		}
	}
	for k := range m {
		known := false
		for _, x := range append(required, optional...) {
			known = known || x == k
		}
		if !known {
			t.Errorf("%s: property %q is not in the specification", what, k)
		}
	}
}

type objVersion struct{ id, version string }

// pageAll pages through a collection's objects (or manifest) with limit
// and next, returning every (id, version) in order and the date_added of
// each (the manifest's).
func pageAll(t *testing.T, base, col, endpoint, query string, limit int) []objVersion {
	t.Helper()
	var out []objVersion
	next := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		q := url.Values{}
		if query != "" {
			var err error
			if q, err = url.ParseQuery(query); err != nil {
				t.Fatal(err)
			}
		}
		q.Set("limit", fmt.Sprint(limit))
		if next != "" {
			q.Set("next", next)
		}
		res, env := taxiiGet(t, base, "/taxii2/api/collections/"+col+"/"+endpoint+"/?"+q.Encode(), taxiiMedia)
		if res.StatusCode != 200 {
			t.Fatalf("%s page %d: %d %v", endpoint, pages, res.StatusCode, env)
		}
		if ct := res.Header.Get("Content-Type"); ct != taxiiMedia {
			t.Fatalf("content type %q", ct)
		}
		objs, _ := env["objects"].([]any)
		if len(objs) > limit {
			t.Fatalf("page of %d objects over limit %d", len(objs), limit)
		}
		for i, o := range objs {
			m := o.(map[string]any)
			v, _ := m["modified"].(string)
			if endpoint == "manifest" {
				v, _ = m["version"].(string)
				wantKeys(t, "manifest record", m, []string{"id", "date_added", "version"}, "media_type")
				if i == 0 && res.Header.Get("X-TAXII-Date-Added-First") != m["date_added"] {
					t.Errorf("X-TAXII-Date-Added-First %q, first date_added %q", res.Header.Get("X-TAXII-Date-Added-First"), m["date_added"])
				}
				if i == len(objs)-1 && res.Header.Get("X-TAXII-Date-Added-Last") != m["date_added"] {
					t.Errorf("X-TAXII-Date-Added-Last %q, last date_added %q", res.Header.Get("X-TAXII-Date-Added-Last"), m["date_added"])
				}
			} else if v == "" {
				v, _ = m["created"].(string) // the TLP marking definitions
			}
			out = append(out, objVersion{m["id"].(string), v})
		}
		more, _ := env["more"].(bool)
		n, _ := env["next"].(string)
		if !more {
			if n != "" {
				t.Fatalf("next %q with more false", n)
			}
			return out
		}
		if n == "" {
			t.Fatal("more without next")
		}
		next = n
	}
}

// retractChallenge is a step that retracts the scenario's challenge
// (record 7, by xaa): its opinion gets a revoked version.
func retractChallenge() fixture.Step {
	return fixture.Step{Author: "xaa", Build: func(ids []string) *pb.Record {
		return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Retraction{Retraction: &pb.Retraction{
			TargetId: ids[7], Reason: "Withdrawn after the assessor's reply."}}}
	}}
}

// retractAmendment is a step that retracts the scenario's amendment of
// its incident (record 8, by xbb): the original stands again.
func retractAmendment() fixture.Step {
	return fixture.Step{Author: "xbb", Build: func(ids []string) *pb.Record {
		return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Retraction{Retraction: &pb.Retraction{
			TargetId: ids[8], Reason: "The final report was premature."}}}
	}}
}

// incidentStep is a new incident disclosure by xcc (summary makes it
// unique), TLP tlp.
func incidentStep(summary string, tlp pb.Tlp) fixture.Step {
	return fixture.Step{Author: "xcc", Build: func([]string) *pb.Record {
		return &pb.Record{SchemaVersion: 1, Tlp: tlp, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
			IncidentRef: "XCC-" + summary[:4], Stage: pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION,
			Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM, Sectors: []pb.Sector{pb.Sector_SECTOR_WATER},
			AffectedStates: []string{"xcc"}, DetectedAt: timestamppb.New(testT0.Add(-2 * time.Hour)),
			AwareAt: timestamppb.New(testT0.Add(-time.Hour)), Impacts: []string{"Pumping stations on manual control"},
			Severity: pb.Severity_SEVERITY_MEDIUM, Summary: summary,
		}}}
	}}
}

// amendStep amends the record at index i (an incident by xcc) with a new
// summary, TLP tlp.
func amendStep(i int, summary string, tlp pb.Tlp) fixture.Step {
	return fixture.Step{Author: "xcc", Build: func(ids []string) *pb.Record {
		repl := incidentStep(summary, pb.Tlp_TLP_UNSPECIFIED).Build(ids)
		return &pb.Record{SchemaVersion: 1, Tlp: tlp, Body: &pb.Record_Amendment{Amendment: &pb.Amendment{
			TargetId: ids[i], Reason: "Update.", Replacement: repl}}}
	}}
}

// retractStep retracts the record at index i, by author.
func retractStep(author string, i int) fixture.Step {
	return fixture.Step{Author: author, Build: func(ids []string) *pb.Record {
		return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Retraction{Retraction: &pb.Retraction{TargetId: ids[i], Reason: "Withdrawn."}}}
	}}
}

// TestTAXIIMatchesExport: every object version of the whole export (the
// bundle a consumer gets from /v1/stix/bundle) is in the TAXII stream,
// byte for byte; the stream holds each (id, version) once; and an
// object's last version in the stream is its last in the bundle: the
// stream computes each record's versions with the object's earlier
// versions, the bundle all at once. With the versions of one object in
// one block (a record and its retraction, two amendments, an amendment
// and the original's retraction) and amendments that raise the TLP.
func TestTAXIIMatchesExport(t *testing.T) {
	l := newTestLedger(t)
	l.extend(retractChallenge(), retractAmendment())
	n := len(l.ids)
	// n: an incident and its retraction, in one block.
	l.together(incidentStep("Alpha: filed and withdrawn at once", pb.Tlp_TLP_GREEN), retractStep("xcc", n))
	// n+2: an incident; n+3, n+4: two amendments in one block (the second
	// raises the TLP to AMBER).
	l.extend(incidentStep("Bravo: pumping stations", pb.Tlp_TLP_GREEN))
	l.together(amendStep(n+2, "Bravo: contained", pb.Tlp_TLP_GREEN), amendStep(n+2, "Charlie: remediated", pb.Tlp_TLP_AMBER))
	// n+5: an incident; n+6 an amendment and n+7 the original's
	// retraction, in one block.
	l.extend(incidentStep("Delta: a false alarm", pb.Tlp_TLP_GREEN))
	l.together(amendStep(n+5, "Delta: confirmed false alarm", pb.Tlp_TLP_GREEN), retractStep("xcc", n+5))
	// n+8: an incident, n+9 an amendment raising it to AMBER, n+10 the
	// amendment's retraction: the original stands again.
	l.extend(incidentStep("Echo: telemetry loss", pb.Tlp_TLP_GREEN), amendStep(n+8, "Echo: telemetry restored", pb.Tlp_TLP_AMBER),
		retractStep("xcc", n+9))
	srv := restServer(t, Config{}, l.server(&fakeChain{}))
	_, bz := fetch(t, srv.URL+"/v1/stix/bundle")
	var bundle struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(bz, &bundle); err != nil {
		t.Fatal(err)
	}
	_, env := taxiiGet(t, srv.URL, "/taxii2/api/collections/all/objects/?match[version]=all&limit=1000", "")
	stream := map[objVersion]string{}
	last := map[string]string{}
	for _, o := range env["objects"].([]any) {
		m := o.(map[string]any)
		v, _ := m["modified"].(string)
		if v == "" {
			v, _ = m["created"].(string)
		}
		raw, _ := json.Marshal(m)
		k := objVersion{m["id"].(string), v}
		if prev, ok := stream[k]; ok {
			t.Errorf("%v twice in the stream:\n%s\n%s", k, prev, raw)
		}
		stream[k] = string(raw)
		if v > last[m["id"].(string)] {
			last[m["id"].(string)] = v
		}
	}
	bundleLast := map[string]string{}
	restored := false
	for _, raw := range bundle.Objects {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] == "identity" || m["type"] == "marking-definition" || m["type"] == "extension-definition" {
			continue
		}
		v, _ := m["modified"].(string)
		if v > bundleLast[m["id"].(string)] {
			bundleLast[m["id"].(string)] = v
		}
		canon, _ := json.Marshal(m)
		got, ok := stream[objVersion{m["id"].(string), v}]
		if !ok {
			t.Errorf("bundle object %s version %s is not in the TAXII stream", m["id"], v)
			continue
		}
		if got != string(canon) {
			t.Errorf("%s %s:\nstream %s\nbundle %s", m["id"], v, got, canon)
		}
		if m["type"] == "incident" && v == last[m["id"].(string)] {
			ext := m["extensions"].(map[string]any)
			for _, x := range ext {
				if xm, ok := x.(map[string]any); ok && xm["record_id"] == l.ids[4] && m["created"] != v {
					restored = true // the original's content again, after the amendment's retraction
				}
			}
		}
	}
	if !restored {
		t.Error("the retracted amendment's incident: no later version with the original's record")
	}
	for id, v := range bundleLast {
		if last[id] != v {
			t.Errorf("%s: last version %s in the stream, %s in the bundle", id, last[id], v)
		}
	}
	// The default (last) versions: one per object, the bundle's last.
	_, env = taxiiGet(t, srv.URL, "/taxii2/api/collections/all/objects/?limit=1000", "")
	seen := map[string]bool{}
	byName := map[string]map[string]any{}
	for _, o := range env["objects"].([]any) {
		m := o.(map[string]any)
		id := m["id"].(string)
		if seen[id] {
			t.Errorf("%s: two last versions", id)
		}
		seen[id] = true
		if v, ok := bundleLast[id]; ok && m["modified"] != v {
			t.Errorf("%s: last %v, bundle's last %s", id, m["modified"], v)
		}
		if m["type"] == "incident" {
			byName[strings.SplitN(m["description"].(string), ":", 2)[0]] = m
		}
	}
	for name, want := range map[string]struct {
		desc    string
		revoked bool
	}{
		"Alpha": {"Alpha: filed and withdrawn at once", true}, "Charlie": {"Charlie: remediated", false},
		"Delta": {"Delta: a false alarm", true}, "Echo": {"Echo: telemetry loss", false},
	} {
		m := byName[name]
		if m == nil {
			t.Errorf("no last version of %s among %v", name, byName)
			continue
		}
		if rv, _ := m["revoked"].(bool); m["description"] != want.desc || rv != want.revoked {
			t.Errorf("%s's last version: %q revoked %v, want %q revoked %v", name, m["description"], rv, want.desc, want.revoked)
		}
	}
	// Each collection's last version of an object is the newest it holds;
	// a retraction's version reaches every collection that held a version
	// (Echo's restored original, after an amendment raised it to AMBER,
	// is the last in both); Bravo, raised to AMBER by its second
	// amendment, stands in TLP:GREEN at its last GREEN version.
	echo := byName["Echo"]["id"].(string)
	for _, col := range []string{"tlp-green", "tlp-amber"} {
		_, all := taxiiGet(t, srv.URL, "/taxii2/api/collections/"+col+"/objects/?limit=1000&match[type]=incident&match[version]=all", "")
		newest := map[string]string{}
		for _, o := range all["objects"].([]any) {
			m := o.(map[string]any)
			if v := m["modified"].(string); v > newest[m["id"].(string)] {
				newest[m["id"].(string)] = v
			}
		}
		_, env := taxiiGet(t, srv.URL, "/taxii2/api/collections/"+col+"/objects/?limit=1000&match[type]=incident", "")
		lastOf := map[string]string{}
		for _, o := range env["objects"].([]any) {
			m := o.(map[string]any)
			if lastOf[m["id"].(string)] != "" {
				t.Errorf("%s: two last versions of %s", col, m["id"])
			}
			lastOf[m["id"].(string)] = m["modified"].(string)
		}
		for id, v := range newest {
			if lastOf[id] != v {
				t.Errorf("%s: %s's last version %s, the newest it holds %s", col, id, lastOf[id], v)
			}
		}
		if lastOf[echo] != bundleLast[echo] {
			t.Errorf("%s: Echo's last version %s, the restored original is %s", col, lastOf[echo], bundleLast[echo])
		}
	}
}

func TestTAXII(t *testing.T) {
	l := newTestLedger(t)
	l.extend(retractChallenge())
	srv := restServer(t, Config{}, l.server(&fakeChain{}))

	// Discovery, API root, collections: the properties section 4 and 5
	// require, as in the specification's examples.
	res, disc := taxiiGet(t, srv.URL, "/taxii2/", taxiiMedia)
	if res.StatusCode != 200 {
		t.Fatalf("discovery: %d %v", res.StatusCode, disc)
	}
	wantKeys(t, "discovery", disc, []string{"title"}, "description", "contact", "default", "api_roots")
	if disc["default"] != srv.URL+"/taxii2/api/" {
		t.Errorf("default API root %v", disc["default"])
	}
	_, root := taxiiGet(t, srv.URL, "/taxii2/api/", "")
	wantKeys(t, "api root", root, []string{"title", "versions", "max_content_length"}, "description")
	if vs := root["versions"].([]any); len(vs) != 1 || vs[0] != taxiiMedia {
		t.Errorf("versions %v", vs)
	}
	_, cols := taxiiGet(t, srv.URL, "/taxii2/api/collections/", "application/taxii+json")
	list := cols["collections"].([]any)
	if len(list) != len(taxiiCollections) {
		t.Fatalf("%d collections", len(list))
	}
	ids := map[string]string{}
	for _, c := range list {
		m := c.(map[string]any)
		wantKeys(t, "collection", m, []string{"id", "title", "can_read", "can_write"}, "description", "alias", "media_types")
		if m["can_write"] != false || m["can_read"] != true {
			t.Errorf("collection %v: can_read/can_write", m["alias"])
		}
		ids[m["alias"].(string)] = m["id"].(string)
		_, one := taxiiGet(t, srv.URL, "/taxii2/api/collections/"+m["id"].(string)+"/", "")
		if one["id"] != m["id"] {
			t.Errorf("collection by id: %v", one)
		}
	}

	// The whole stream at once, then paged: the same objects in the same
	// order, nothing twice; the manifest agrees with the objects.
	all := pageAll(t, srv.URL, ids["all"], "objects", "", 1000)
	if len(all) < 20 {
		t.Fatalf("only %d objects in the stream", len(all))
	}
	for _, limit := range []int{1, 3, 7} {
		paged := pageAll(t, srv.URL, ids["all"], "objects", "", limit)
		if fmt.Sprint(paged) != fmt.Sprint(all) {
			t.Fatalf("paged by %d:\n%v\nat once:\n%v", limit, paged, all)
		}
	}
	if man := pageAll(t, srv.URL, ids["all"], "manifest", "", 5); fmt.Sprint(man) != fmt.Sprint(all) {
		t.Fatalf("manifest %v\nobjects %v", man, all)
	}
	seen := map[objVersion]bool{}
	for _, o := range all {
		if seen[o] {
			t.Fatalf("%v twice", o)
		}
		seen[o] = true
	}

	// match[version]=all serves every version; the default only the last.
	every := pageAll(t, srv.URL, ids["all"], "objects", "match[version]=all", 1000)
	perID := map[string][]string{}
	for _, o := range every {
		perID[o.id] = append(perID[o.id], o.version)
	}
	multi := ""
	for id, vs := range perID {
		if len(vs) > 1 && multi == "" || len(vs) > 1 && id < multi {
			multi = id
		}
	}
	if multi == "" {
		t.Fatal("no object with several versions in the scenario (an amendment or a retraction)")
	}
	if len(every) <= len(all) {
		t.Fatalf("all versions %d, last versions %d", len(every), len(all))
	}
	_, vers := taxiiGet(t, srv.URL, "/taxii2/api/collections/"+ids["all"]+"/objects/"+multi+"/versions/", "")
	wantKeys(t, "versions", vers, []string{}, "more", "versions", "next")
	got := vers["versions"].([]any)
	if len(got) != len(perID[multi]) || !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].(string) < got[j].(string) }) {
		t.Fatalf("versions of %s: %v, stream has %v", multi, got, perID[multi])
	}
	_, obj := taxiiGet(t, srv.URL, "/taxii2/api/collections/"+ids["all"]+"/objects/"+multi+"/", "")
	objs := obj["objects"].([]any)
	if len(objs) != 1 || objs[0].(map[string]any)["modified"] != got[len(got)-1] {
		t.Fatalf("object %s: default version %v, want the last %v", multi, objs, got[len(got)-1])
	}
	_, first := taxiiGet(t, srv.URL, "/taxii2/api/collections/"+ids["all"]+"/objects/"+multi+"/?match[version]=first", "")
	if fo := first["objects"].([]any); len(fo) != 1 || fo[0].(map[string]any)["modified"] != got[0] {
		t.Fatalf("first version %v, want %v", fo, got[0])
	}

	// A version named in another precision is the same instant; a match
	// filter this server does not know is ignored.
	short := strings.Replace(got[0].(string), ".000Z", "Z", 1)
	res, byTime := taxiiGet(t, srv.URL, "/taxii2/api/collections/"+ids["all"]+"/objects/"+multi+"/?match[version]="+short+"&match[relationship_type]=x", "")
	if bo, _ := byTime["objects"].([]any); res.StatusCode != 200 || len(bo) != 1 || bo[0].(map[string]any)["modified"] != got[0] {
		t.Fatalf("match[version]=%s: %d %v", short, res.StatusCode, byTime)
	}

	// Every record's object links to the signed record and its proof.
	res, env := taxiiGet(t, srv.URL, "/taxii2/api/collections/"+ids["all"]+"/objects/?match[type]=incident,note,report,opinion,relationship,grouping,threat-actor&limit=1000", "")
	if res.StatusCode != 200 {
		t.Fatal(env)
	}
	for _, o := range env["objects"].([]any) {
		m := o.(map[string]any)
		refs, _ := m["external_references"].([]any)
		ok := false
		for _, r := range refs {
			u, _ := r.(map[string]any)["url"].(string)
			ok = ok || strings.HasPrefix(u, srv.URL+"/v1/records/") && strings.HasSuffix(u, "?prove=true")
		}
		if !ok && m["type"] != "relationship" {
			t.Errorf("%v carries no link to its proof: %v", m["id"], refs)
		}
	}

	// The TLP collections split the records' objects; every collection
	// carries the reference objects.
	union := map[objVersion]int{}
	for alias, id := range ids {
		if alias == "all" {
			continue
		}
		for _, o := range pageAll(t, srv.URL, id, "objects", "", 1000) {
			union[o]++
		}
	}
	for _, o := range all {
		isRef := strings.HasPrefix(o.id, "identity--") || strings.HasPrefix(o.id, "marking-definition--") || strings.HasPrefix(o.id, "extension-definition--")
		switch {
		case isRef && union[o] != len(ids)-1:
			t.Errorf("reference object %v in %d of %d collections", o, union[o], len(ids)-1)
		case !isRef && union[o] != 1:
			t.Errorf("%v in %d TLP collections", o, union[o])
		}
	}

	// added_after: what was added after a page's last date_added, with no
	// repeats; the remainder of the stream.
	res, env = taxiiGet(t, srv.URL, "/taxii2/api/collections/"+ids["all"]+"/objects/?limit=10", "")
	lastAdded := res.Header.Get("X-TAXII-Date-Added-Last")
	at, err := time.Parse(time.RFC3339Nano, lastAdded)
	if err != nil {
		t.Fatalf("X-TAXII-Date-Added-Last %q: %v", lastAdded, err)
	}
	rest := pageAll(t, srv.URL, ids["all"], "objects", "added_after="+lastAdded, 4)
	man := pageAll(t, srv.URL, ids["all"], "manifest", "", 1000)
	_ = man
	_, manEnv := taxiiGet(t, srv.URL, "/taxii2/api/collections/"+ids["all"]+"/manifest/?limit=1000", "")
	want := 0
	for _, m := range manEnv["objects"].([]any) {
		d, _ := time.Parse(time.RFC3339Nano, m.(map[string]any)["date_added"].(string))
		if d.After(at) {
			want++
		}
	}
	if len(rest) != want || want == 0 {
		t.Errorf("added_after %s: %d objects, %d were added after it", lastAdded, len(rest), want)
	}

	// Errors: TAXII error messages with the status as a string.
	for _, c := range []struct {
		path, accept string
		status       int
	}{
		{"/taxii2/api/collections/" + ids["all"] + "/objects/", "application/json", 406},
		{"/taxii2/api/collections/" + ids["all"] + "/objects/", "application/taxii+json;version=2.0", 406},
		{"/taxii2/api/collections/no-such/", "", 404},
		{"/taxii2/api/collections/" + ids["all"] + "/objects/?limit=0", "", 400},
		{"/taxii2/api/collections/" + ids["all"] + "/objects/?next=garbage", "", 400},
		{"/taxii2/api/collections/" + ids["all"] + "/objects/?added_after=yesterday", "", 400},
		{"/taxii2/api/collections/" + ids["all"] + "/objects/?colour=red", "", 400},
		{"/taxii2/api/collections/" + ids["all"] + "/objects/?next=" + streamKey{t: 1}.encode(), "", 400},
		{"/taxii2/api/collections/" + ids["all"] + "/manifest/?match[id]=x&match[version]=yesterday", "", 400},
		{"/taxii2/api/collections/" + ids["all"] + "/objects/incident--00000000-0000-4000-8000-000000000000/", "", 404},
		{"/taxii2/api/nowhere/", "", 404},
	} {
		res, env := taxiiGet(t, srv.URL, c.path, c.accept)
		if res.StatusCode != c.status {
			t.Errorf("%s (Accept %q): %d, want %d: %v", c.path, c.accept, res.StatusCode, c.status, env)
			continue
		}
		wantKeys(t, "error "+c.path, env, []string{"title"}, "description", "http_status", "error_id", "error_code", "external_details", "details")
		if env["http_status"] != fmt.Sprint(c.status) {
			t.Errorf("%s: http_status %v", c.path, env["http_status"])
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/taxii2/api/collections/"+ids["all"]+"/objects/", strings.NewReader(`{"objects":[]}`))
	req.Header.Set("Content-Type", taxiiMedia)
	req.Header.Set("Accept", taxiiMedia)
	pres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pres.Body.Close()
	if pres.StatusCode != http.StatusForbidden {
		t.Errorf("POST objects: %d, want 403 (can_write false)", pres.StatusCode)
	}
}

// TestTAXIINextAcrossNodes continues a paging on another node: the next
// token of one serves the rest on the other, nothing lost or repeated,
// and a node further ahead serves the newer objects after it.
func TestTAXIINextAcrossNodes(t *testing.T) {
	l := newTestLedger(t)
	l.extend(retractChallenge())
	a := restServer(t, Config{}, l.server(&fakeChain{}))
	// The second node: a second store fed the same blocks.
	l2 := newTestLedger(t)
	l2.extend(retractChallenge())
	b := restServer(t, Config{}, l2.server(&fakeChain{}))
	all := pageAll(t, a.URL, "all", "objects", "", 1000)
	var got []objVersion
	next := ""
	for i := 0; ; i++ {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		q := "?limit=4"
		if next != "" {
			q += "&next=" + next
		}
		_, env := taxiiGet(t, srv.URL, "/taxii2/api/collections/all/objects/"+q, "")
		for _, o := range env["objects"].([]any) {
			m := o.(map[string]any)
			v, _ := m["modified"].(string)
			if v == "" {
				v, _ = m["created"].(string)
			}
			got = append(got, objVersion{m["id"].(string), v})
		}
		if more, _ := env["more"].(bool); !more {
			break
		}
		next = env["next"].(string)
	}
	if fmt.Sprint(got) != fmt.Sprint(all) {
		t.Fatalf("paging across two nodes:\n%v\none node:\n%v", got, all)
	}
}
