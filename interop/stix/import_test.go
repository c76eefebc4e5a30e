package stix_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/interop/stix"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// incidentsOf returns the incident objects of an export, in bundle order.
func incidentsOf(t *testing.T, bz []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, o := range objectsOf(t, bz) {
		if o["type"] == "incident" {
			out = append(out, o)
		}
	}
	return out
}

// content is what of an incident must survive a round trip: its STIX
// content and the incident disclosure the normledger extension carries.
func content(t *testing.T, o map[string]any) (stixPart string, disclosure *pb.IncidentDisclosure, tlp pb.Tlp) {
	t.Helper()
	exts := o["extensions"].(map[string]any)
	core, _ := json.Marshal(exts[stix.IncidentCoreExtension].(map[string]any)["determination"])
	status, _ := json.Marshal(exts[stix.IncidentCoreExtension].(map[string]any)["investigation_status"])
	crit, _ := json.Marshal(exts[stix.IncidentCoreExtension].(map[string]any)["criticality"])
	marks, _ := json.Marshal(o["object_marking_refs"])
	stixPart = fmt.Sprintf("name=%v description=%v determination=%s status=%s criticality=%s markings=%s",
		o["name"], o["description"], core, status, crit, marks)
	x := exts[stix.RecordExtension].(map[string]any)
	bz, _ := json.Marshal(x)
	imp, err := stix.Import([]byte(`{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[`+
		mustJSON(o)+`]}`), stix.ImportOptions{Author: "xbb"})
	if err != nil {
		t.Fatalf("re-read %s: %v", bz, err)
	}
	rec := imp.Records[0]
	return stixPart, rec.GetIncidentDisclosure(), rec.Tlp
}

func mustJSON(v any) string {
	bz, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(bz)
}

// Export the scenario, import its incidents and attributions into a fresh
// chain, export again: the incidents and attributions are equal field by
// field, and what STIX cannot carry is listed.
func TestRoundTrip(t *testing.T) {
	a := scenario(t)
	first, _ := export(t, a.input(), stix.Filter{})
	imp, err := stix.Import(first, stix.ImportOptions{Author: "xbb"})
	if err != nil {
		t.Fatal(err)
	}
	// The disclosure, its amendment, the incident withholding the
	// operator's name, the near-miss and the intermediate report; the
	// co-signed attribution.
	if len(imp.Records) != 5 || len(imp.Attributions) != 1 || imp.Report.Attributions != 1 || imp.Report.Exported != 5 {
		t.Fatalf("imported %d incidents and %d attributions, want 5 and 1", len(imp.Records), len(imp.Attributions))
	}
	if len(imp.Report.NotCarried) == 0 || imp.Report.Skipped["identity"] == 0 || imp.Report.Skipped["note"] == 0 ||
		imp.Report.Skipped["threat-actor"] == 0 {
		t.Fatalf("the import report does not say what it left: %+v", imp.Report)
	}
	if d := imp.Records[3].GetIncidentDisclosure(); d.Outcome != pb.IncidentOutcome_INCIDENT_OUTCOME_BLOCKED {
		t.Fatalf("the near-miss came back as %v", d)
	}
	b := newChain(t)
	b.now = t0.Add(24 * time.Hour)
	second, rep := replay(t, b, imp, "xbb")
	if len(rep.NotCarried) == 0 {
		t.Fatal("the export does not list what STIX cannot carry")
	}
	compareIncidents(t, first, second)
	compareAttributions(t, first, second)

	// Imported by a co-attributor (xcc), the attribution is re-filed with
	// the importer as its author and the author at the source (xbb) as a
	// co-attributor, who co-signs; the report says so.
	imp, err = stix.Import(first, stix.ImportOptions{Author: "xcc"})
	if err != nil {
		t.Fatal(err)
	}
	report := strings.Join(imp.Report.Unmapped, "\n")
	if len(imp.Attributions) != 1 || !strings.Contains(report,
		"co-attributor xcc re-files the attribution as its author; its author at the source, xbb, becomes a co-attributor and must co-sign") {
		t.Fatalf("imported by a co-attributor: %v, report\n%s", imp.Attributions, report)
	}
	c := newChain(t)
	c.now = t0.Add(24 * time.Hour)
	third, _ := replay(t, c, imp, "xcc")
	x, y := attributionsOf(t, first), attributionsOf(t, third)
	if len(y) != 1 {
		t.Fatalf("%d attributions re-filed by the co-attributor", len(y))
	}
	want := proto.Clone(x[0].record).(*pb.Record)
	want.GetAttribution().CoAttributors = []string{"xbb"}
	if !proto.Equal(y[0].record, want) || !strings.Contains(strings.Join(y[0].stix, "\n"), "by xcc with xbb") {
		t.Fatalf("re-filed by the co-attributor:\n%v\n%s\nwant\n%v", y[0].record, strings.Join(y[0].stix, "\n"), want)
	}
	// Imported by a member that is neither its author nor a co-attributor
	// (here the state it names), the attribution is not imported: that
	// would put it under another author's name.
	imp, err = stix.Import(first, stix.ImportOptions{Author: "xaa"})
	if err != nil {
		t.Fatal(err)
	}
	report = strings.Join(imp.Report.Unmapped, "\n")
	if len(imp.Attributions) != 0 || imp.Report.Attributions != 0 ||
		!strings.Contains(report, "attribution by xbb: only its author or a co-attributor may re-file it; not imported") {
		t.Fatalf("imported by neither author nor co-attributor: %v, report\n%s", imp.Attributions, report)
	}
}

// replay signs the imported incidents as author on chain c, then the
// attributions linked to them (co-signed by their co-attributors), and
// exports the incidents and attributions of the chain.
func replay(t *testing.T, c *chain, imp *stix.Imported, author string) ([]byte, *stix.Report) {
	t.Helper()
	var ids []string
	for _, rec := range imp.Records {
		tx := c.sign(author, rec)
		c.block(tx)
		ids = append(ids, ledger.RecordID(tx))
	}
	atts, err := imp.Link(ids)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := imp.Link(ids[1:]); err == nil {
		t.Fatal("Link takes a wrong number of ids")
	}
	for _, rec := range atts {
		c.block(c.sign(author, rec, rec.GetAttribution().CoAttributors...))
	}
	c.block()
	return export(t, c.input(), stix.Filter{Kinds: []pb.RecordKind{pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE, pb.RecordKind_RECORD_KIND_ATTRIBUTION}})
}

// compareIncidents checks that the incidents of two exports are equal
// field by field (the second being of records imported from the first).
func compareIncidents(t *testing.T, first, second []byte) {
	t.Helper()
	x, y := incidentsOf(t, first), incidentsOf(t, second)
	if len(x) != len(y) {
		t.Fatalf("%d incidents, then %d", len(x), len(y))
	}
	for i := range x {
		sa, da, ta := content(t, x[i])
		sb, db, tb := content(t, y[i])
		if sa != sb {
			t.Errorf("incident %d: STIX content differs:\n%s\n%s", i, sa, sb)
		}
		if !proto.Equal(da, db) || ta != tb {
			t.Errorf("incident %d: disclosure differs:\n%v %v\n%v %v", i, da, ta, db, tb)
		}
		if x[i]["id"] == y[i]["id"] {
			t.Errorf("incident %d: the new chain's record has the old id", i)
		}
	}
}

// attribution is what of an exported attribution must survive a round
// trip: the STIX content of its relationships and threat actors, the
// record (incidents aside), and the incidents it attributes (by their
// disclosures, which have other record ids on another chain).
type attribution struct {
	stix      []string
	record    *pb.Record
	incidents []*pb.IncidentDisclosure
}

// attributionsOf reads the attributions of an export, in bundle order.
func attributionsOf(t *testing.T, bz []byte) []*attribution {
	t.Helper()
	var b struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(bz, &b); err != nil {
		t.Fatal(err)
	}
	byID := map[string]map[string]any{}
	disclosures := map[string]*pb.IncidentDisclosure{} // by record id
	for _, o := range b.Objects {
		// The first version of each object: the one an attribution of an
		// original names (the later are its amendments).
		if _, ok := byID[o["id"].(string)]; !ok {
			byID[o["id"].(string)] = o
		}
		if o["type"] == "incident" {
			_, d, _ := content(t, o)
			x := o["extensions"].(map[string]any)[stix.RecordExtension].(map[string]any)
			disclosures[x["record_id"].(string)] = d
		}
	}
	var out []*attribution
	index := map[string]*attribution{}
	for _, o := range b.Objects {
		if o["type"] != "relationship" || o["relationship_type"] != "attributed-to" {
			continue
		}
		exts, _ := o["extensions"].(map[string]any)
		x, ok := exts[stix.RecordExtension].(map[string]any)
		if !ok {
			continue
		}
		rid := x["record_id"].(string)
		a := index[rid]
		if a == nil {
			rec := new(pb.Record)
			if err := protojson.Unmarshal([]byte(mustJSON(x["record"])), rec); err != nil {
				t.Fatal(err)
			}
			a = &attribution{record: rec}
			for _, inc := range rec.GetAttribution().Incidents {
				a.incidents = append(a.incidents, disclosures[inc])
			}
			rec.GetAttribution().Incidents = nil
			index[rid] = a
			out = append(out, a)
		}
		ta := byID[o["target_ref"].(string)]
		src := byID[o["source_ref"].(string)]
		a.stix = append(a.stix, fmt.Sprintf("description=%v confidence=%v markings=%v labels=%v incident=%v actor=%v %v %v %v",
			o["description"], o["confidence"], o["object_marking_refs"], o["labels"], src["name"],
			ta["name"], ta["threat_actor_types"], ta["description"], ta["object_marking_refs"]))
	}
	return out
}

// compareAttributions checks that the attributions of two exports are
// equal field by field, the second's naming the second's incidents.
func compareAttributions(t *testing.T, first, second []byte) {
	t.Helper()
	x, y := attributionsOf(t, first), attributionsOf(t, second)
	if len(x) == 0 || len(x) != len(y) {
		t.Fatalf("%d attributions, then %d", len(x), len(y))
	}
	for i := range x {
		if !proto.Equal(x[i].record, y[i].record) {
			t.Errorf("attribution %d differs:\n%v\n%v", i, x[i].record, y[i].record)
		}
		if len(x[i].incidents) != len(y[i].incidents) {
			t.Fatalf("attribution %d: %d incidents, then %d", i, len(x[i].incidents), len(y[i].incidents))
		}
		for j := range x[i].incidents {
			if x[i].incidents[j] == nil || !proto.Equal(x[i].incidents[j], y[i].incidents[j]) {
				t.Errorf("attribution %d, incident %d: not the same incident:\n%v\n%v", i, j, x[i].incidents[j], y[i].incidents[j])
			}
		}
		if strings.Join(x[i].stix, "\n") != strings.Join(y[i].stix, "\n") {
			t.Errorf("attribution %d: STIX content differs:\n%s\n%s", i, strings.Join(x[i].stix, "\n"), strings.Join(y[i].stix, "\n"))
		}
	}
}

// An incident from another tool (no normledger extension) is mapped from
// STIX and Incident Core, and every field that could not be mapped is
// reported with its JSON pointer.
func TestImportForeign(t *testing.T) {
	bundle := `{"type":"bundle","id":"bundle--6b4c2f4e-0d4f-4d5e-9c55-2f7d0d8f8e11","objects":[
	 {"type":"identity","spec_version":"2.1","id":"identity--0f2e1d3c-4b5a-4978-8a6b-5c4d3e2f1a0b","created":"2026-11-01T10:00:00.000Z","modified":"2026-11-01T10:00:00.000Z","name":"Regional hospital","identity_class":"organization","sectors":["healthcare"]},
	 {"type":"incident","spec_version":"2.1","id":"incident--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","created":"2026-11-02T08:30:00.000Z","modified":"2026-11-02T09:00:00.000Z",
	  "name":"CERT-XB-2026-117","description":"Wiper on hospital scheduling systems.","labels":["wiper"],"object_marking_refs":["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"],
	  "kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"impact"}],
	  "extensions":{"extension-definition--ef765651-680c-498d-9894-99799f2fa126":{"extension_type":"property-extension","determination":"confirmed","investigation_status":"closed","criticality":92,"incident_types":["destruction"],"impact_refs":["impact--1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"]}}},
	 {"type":"impact","spec_version":"2.1","id":"impact--1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e","created":"2026-11-02T08:30:00.000Z","modified":"2026-11-02T08:30:00.000Z","impact_category":"availability","description":"Scheduling down for 20 hours","start_time":"2026-11-01T23:00:00Z",
	  "extensions":{"extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9":{"extension_type":"new-sdo"},"availability-ext":{"availability_impact":90}}},
	 {"type":"relationship","spec_version":"2.1","id":"relationship--2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f","created":"2026-11-02T08:30:00.000Z","modified":"2026-11-02T08:30:00.000Z","relationship_type":"targets","source_ref":"incident--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","target_ref":"identity--0f2e1d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"}
	]}`
	imp, err := stix.Import([]byte(bundle), stix.ImportOptions{Author: "xbb"})
	if err != nil {
		t.Fatal(err)
	}
	if len(imp.Records) != 1 {
		t.Fatalf("%d records", len(imp.Records))
	}
	d := imp.Records[0].GetIncidentDisclosure()
	want := &pb.IncidentDisclosure{IncidentRef: "CERT-XB-2026-117", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_FINAL,
		Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM, Sectors: []pb.Sector{pb.Sector_SECTOR_HEALTH}, AffectedStates: []string{"xbb"},
		FirstObservedAt: ts(time.Date(2026, 11, 1, 23, 0, 0, 0, time.UTC)),
		DetectedAt:      ts(time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC)), AwareAt: ts(time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC)),
		Impacts: []string{"Scheduling down for 20 hours"}, Severity: pb.Severity_SEVERITY_CRITICAL, Summary: "Wiper on hospital scheduling systems."}
	if !proto.Equal(d, want) || imp.Records[0].Tlp != pb.Tlp_TLP_AMBER {
		t.Fatalf("mapped\n%v\nwant\n%v", d, want)
	}
	for _, p := range []string{"/objects/1/kill_chain_phases: no ledger field", "/objects/1/labels: no ledger field",
		"/objects/1/extensions/extension-definition--ef765651-680c-498d-9894-99799f2fa126/incident_types: no ledger field",
		"/objects/1/created: "} {
		found := false
		for _, u := range imp.Report.Unmapped {
			found = found || strings.HasPrefix(u, p)
		}
		if !found {
			t.Errorf("unmapped %q not reported: %v", p, imp.Report.Unmapped)
		}
	}
	// The record is one the ledger accepts, signed by the importer.
	c := newChain(t)
	c.now = t0.Add(30 * 24 * time.Hour)
	c.block(c.sign("xbb", imp.Records[0]))
	// A revoked (retracted) incident is not imported, and the report says so.
	revoked := strings.Replace(bundle, `"name":"CERT-XB-2026-117"`, `"name":"CERT-XB-2026-117","revoked":true`, 1)
	imp, err = stix.Import([]byte(revoked), stix.ImportOptions{Author: "xbb"})
	if err != nil || len(imp.Records) != 0 || !strings.Contains(strings.Join(imp.Report.Unmapped, "\n"), "/objects/1: revoked") {
		t.Fatalf("revoked incident: %v %+v", err, imp)
	}
	// Names the ledger takes as references stay references.
	under := strings.Replace(bundle, `"CERT-XB-2026-117"`, `"INC_2026#117"`, 1)
	if imp, err = stix.Import([]byte(under), stix.ImportOptions{Author: "xbb"}); err != nil || imp.Records[0].GetIncidentDisclosure().IncidentRef != "INC_2026#117" {
		t.Fatalf("reference kept: %v", err)
	}
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func readGolden() ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", "scenario.stix.json"))
}

// Bad bundles get errors naming the offending value, and nothing to submit.
func TestImportBadBundles(t *testing.T) {
	obj := func(extra string) string {
		return `{"type":"incident","spec_version":"2.1","id":"incident--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","created":"2026-11-02T08:30:00.000Z","modified":"2026-11-02T09:00:00.000Z","name":"X-1"` + extra + `}`
	}
	wrap := func(objs ...string) string {
		return `{"type":"bundle","id":"bundle--6b4c2f4e-0d4f-4d5e-9c55-2f7d0d8f8e11","objects":[` + strings.Join(objs, ",") + `]}`
	}
	many := make([]string, 10000)
	for i := range many {
		many[i] = fmt.Sprintf(`{"type":"identity","spec_version":"2.1","id":"identity--%08x-0000-4000-8000-000000000000","created":"2026-11-01T10:00:00.000Z","modified":"2026-11-01T10:00:00.000Z","name":"n"}`, i)
	}
	for _, c := range []struct {
		name, data, pointer, msg string
	}{
		{"not JSON", `{"type": "bundle", `, "", "not JSON"},
		{"not an object", `[1,2]`, "", "JSON object"},
		{"trailing data", wrap() + `{}`, "", "data after"},
		{"not a bundle", `{"type":"incident"}`, "/type", "bundle"},
		{"2.0 bundle", `{"type":"bundle","id":"bundle--6b4c2f4e-0d4f-4d5e-9c55-2f7d0d8f8e11","spec_version":"2.0","objects":[]}`, "/spec_version", "2.1"},
		{"wrong object spec_version", wrap(strings.Replace(obj(""), `"2.1"`, `"2.0"`, 1)), "/objects/0/spec_version", "2.1"},
		{"missing spec_version", wrap(strings.Replace(obj(""), `"spec_version":"2.1",`, ``, 1)), "/objects/0/spec_version", "2.1"},
		{"missing name", wrap(strings.Replace(obj(""), `,"name":"X-1"`, ``, 1)), "/objects/0/name", "required"},
		{"missing created", wrap(strings.Replace(obj(""), `"created":"2026-11-02T08:30:00.000Z",`, ``, 1)), "/objects/0/created", "required"},
		{"unknown type", wrap(`{"type":"x-weird","spec_version":"2.1","id":"x-weird--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}`), "/objects/0/type", "unknown object type"},
		{"bad id", wrap(strings.Replace(obj(""), `incident--7a1b2c3d`, `incident--zzzz2c3d`, 1)), "/objects/0/id", "identifier"},
		{"id of another type", wrap(strings.Replace(obj(""), `incident--7a1b2c3d`, `identity--7a1b2c3d`, 1)), "/objects/0/id", "not a incident identifier"},
		{"bad timestamp", wrap(strings.Replace(obj(""), `2026-11-02T09:00:00.000Z`, `2026-11-02 09:00`, 1)), "/objects/0/modified", "timestamp"},
		{"modified before created", wrap(strings.Replace(obj(""), `2026-11-02T09:00:00.000Z`, `2026-11-01T09:00:00.000Z`, 1)), "/objects/0/modified", "before created"},
		{"empty object_refs", wrap(`{"type":"note","spec_version":"2.1","id":"note--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","created":"2026-11-02T08:30:00.000Z","modified":"2026-11-02T08:30:00.000Z","content":"c","object_refs":[]}`), "/objects/0/object_refs", "non-empty"},
		{"bad criticality", wrap(obj(`,"extensions":{"extension-definition--ef765651-680c-498d-9894-99799f2fa126":{"extension_type":"property-extension","determination":"confirmed","investigation_status":"open","criticality":150}}`)), "/objects/0/extensions/extension-definition--ef765651-680c-498d-9894-99799f2fa126/criticality", "0 to 100"},
		{"bad determination", wrap(obj(`,"extensions":{"extension-definition--ef765651-680c-498d-9894-99799f2fa126":{"extension_type":"property-extension","determination":"probably","investigation_status":"open"}}`)), "/objects/0/extensions/extension-definition--ef765651-680c-498d-9894-99799f2fa126/determination", "enum"},
		{"bad extension type", wrap(obj(`,"extensions":{"extension-definition--ef765651-680c-498d-9894-99799f2fa126":{"extension_type":"addon"}}`)), "/objects/0/extensions/extension-definition--ef765651-680c-498d-9894-99799f2fa126/extension_type", "unknown"},
		{"bad normledger record", wrap(obj(`,"extensions":{"` + stix.RecordExtension + `":{"extension_type":"property-extension","record":{"incident_disclosure":{"stage":"DISCLOSURE_STAGE_SOMETIME"}}}}`)), "/objects/0/extensions/" + stix.RecordExtension + "/record", "not a normledger record"},
		{"oversized", wrap(obj(`,"description":"` + strings.Repeat("x", stix.MaxBundleBytes) + `"`)), "", "exceed the limit"},
		{"10,000 objects", wrap(many...), "/objects", "10000 objects exceed"},
		{"no sector", wrap(obj("")), "/objects/0", "no sector"},
	} {
		t.Run(c.name, func(t *testing.T) {
			imp, err := stix.Import([]byte(c.data), stix.ImportOptions{Author: "xbb"})
			if imp != nil || err == nil {
				t.Fatalf("accepted: %+v", imp)
			}
			var se *stix.Error
			if !errors.As(err, &se) || !errors.Is(err, stix.ErrBadBundle) {
				t.Fatalf("error %T %v is not a *stix.Error", err, err)
			}
			if se.Pointer != c.pointer || !strings.Contains(se.Msg, c.msg) {
				t.Fatalf("got pointer %q msg %q, want %q containing %q", se.Pointer, se.Msg, c.pointer, c.msg)
			}
		})
	}
}

// The importer never panics, and what it accepts is a record the ledger's
// format checks would look at (an incident disclosure with a body, an
// attribution of imported incidents).
func FuzzImport(f *testing.F) {
	f.Add([]byte(`{"type":"bundle","id":"bundle--6b4c2f4e-0d4f-4d5e-9c55-2f7d0d8f8e11","objects":[]}`))
	f.Add([]byte(`{"type":"bundle","id":"bundle--6b4c2f4e-0d4f-4d5e-9c55-2f7d0d8f8e11","objects":[{"type":"incident","spec_version":"2.1","id":"incident--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","created":"2026-11-02T08:30:00.000Z","modified":"2026-11-02T09:00:00.000Z","name":"X-1","extensions":{"extension-definition--ef765651-680c-498d-9894-99799f2fa126":{"extension_type":"property-extension","determination":"confirmed","investigation_status":"open","criticality":50,"impact_refs":["impact--1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"]}}}]}`))
	if bz, err := readGolden(); err == nil {
		f.Add(bz)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		imp, err := stix.Import(data, stix.ImportOptions{Author: "xbb", Sectors: []pb.Sector{pb.Sector_SECTOR_HEALTH}})
		if err != nil {
			if !errors.Is(err, stix.ErrBadBundle) {
				t.Fatalf("error outside the bad-bundle kind: %v", err)
			}
			return
		}
		for _, r := range imp.Records {
			if r.GetIncidentDisclosure() == nil || ledger.KindOf(r) != pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE {
				t.Fatalf("imported a non-incident %v", r)
			}
		}
		ids := make([]string, len(imp.Records))
		for i := range ids {
			ids[i] = fmt.Sprintf("%064x", i)
		}
		atts, err := imp.Link(ids)
		if err != nil || len(atts) != len(imp.Attributions) {
			t.Fatalf("link: %v", err)
		}
		for _, r := range atts {
			if at := r.GetAttribution(); at == nil || len(at.Incidents) == 0 {
				t.Fatalf("imported an attribution of no incident, or not an attribution: %v", r)
			}
		}
	})
}

// Another tool's incident is read in every form of the Incident Extension
// Suite: the determinations of Incident Core 2.0 and 2.1 and of the
// drafts before 2.0 (successful-attempt, low-value), and impacts whose
// category is named with or without the "-ext" suffix and whose details
// sit under the extension with the suffix (2.0 and later) or without it
// (the drafts), monetary (2.0) or economic (2.1).
func TestImportIncidentCoreForms(t *testing.T) {
	bundle := func(determination, status, category, key string) []byte {
		return []byte(`{"type":"bundle","id":"bundle--6b4c2f4e-0d4f-4d5e-9c55-2f7d0d8f8e11","objects":[
	 {"type":"incident","spec_version":"2.1","id":"incident--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","created":"2026-11-02T08:30:00.000Z","modified":"2026-11-02T09:00:00.000Z","name":"CERT-XB-2026-119",
	  "extensions":{"extension-definition--ef765651-680c-498d-9894-99799f2fa126":{"extension_type":"property-extension","determination":"` + determination + `","investigation_status":"` + status + `","criticality":40,"impact_refs":["impact--1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"]}}},
	 {"type":"impact","spec_version":"2.1","id":"impact--1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e","created":"2026-11-02T08:30:00.000Z","modified":"2026-11-02T08:30:00.000Z","impact_category":"` + category + `","description":"Clinic network down","start_time":"2026-11-01T23:00:00Z",
	  "extensions":{"extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9":{"extension_type":"new-sdo"},"` + key + `":{"impact_type":"public-health","variety":"business-disruption"}}}
	]}`)
	}
	imp := func(t *testing.T, bz []byte) (*stix.Imported, string) {
		t.Helper()
		out, err := stix.Import(bz, stix.ImportOptions{Author: "xbb", Sectors: []pb.Sector{pb.Sector_SECTOR_HEALTH}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Records) != 1 {
			t.Fatalf("%d records", len(out.Records))
		}
		if d := out.Records[0].GetIncidentDisclosure(); !slices.Equal(d.Impacts, []string{"Clinic network down"}) || d.FirstObservedAt == nil {
			t.Fatalf("impact not read: %v", d)
		}
		return out, strings.Join(out.Report.Unmapped, "\n")
	}
	const corePtr = "/objects/0/extensions/extension-definition--ef765651-680c-498d-9894-99799f2fa126"
	for _, c := range []struct {
		determination, status string
		outcome               pb.IncidentOutcome
		stage                 pb.DisclosureStage
		report                string // a line the report must hold
	}{
		{"confirmed", "open", 0, pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION, ""},                          // 2.0, 2.1
		{"successful-attempt", "closed", 0, pb.DisclosureStage_DISCLOSURE_STAGE_FINAL, ""},                      // the drafts before 2.0
		{"suspected", "new", 0, pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING, ""},                          // all
		{"low-value", "open", 0, pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION, "/determination: low-value"}, // the drafts before 2.0
		{"blocked", "closed", pb.IncidentOutcome_INCIDENT_OUTCOME_BLOCKED, pb.DisclosureStage_DISCLOSURE_STAGE_FINAL, ""},
		{"failed-attempt", "open", pb.IncidentOutcome_INCIDENT_OUTCOME_FAILED_ATTEMPT, pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION, ""},
		{"confirmed", "triaged", 0, pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION, `/investigation_status: "triaged" is not in incident-investigation-ov`},
	} {
		t.Run(c.determination+"/"+c.status, func(t *testing.T) {
			out, report := imp(t, bundle(c.determination, c.status, "external", "external-ext"))
			d := out.Records[0].GetIncidentDisclosure()
			if d.Outcome != c.outcome || d.Stage != c.stage {
				t.Fatalf("outcome %v stage %v, want %v %v", d.Outcome, d.Stage, c.outcome, c.stage)
			}
			if c.report != "" && !strings.Contains(report, corePtr+c.report) {
				t.Fatalf("report does not say %q:\n%s", c.report, report)
			}
			if c.report == "" && strings.Contains(report, corePtr+"/determination") {
				t.Fatalf("the determination is reported:\n%s", report)
			}
			// The ledger takes the record.
			ch := newChain(t)
			ch.now = t0.Add(30 * 24 * time.Hour)
			ch.block(ch.sign("xbb", out.Records[0]))
		})
	}
	// A false positive is refused, and so is a determination no version
	// of the suite has.
	for _, det := range []string{"false-positive", "probable"} {
		if _, err := stix.Import(bundle(det, "open", "external", "external-ext"), stix.ImportOptions{Author: "xbb", Sectors: []pb.Sector{pb.Sector_SECTOR_HEALTH}}); err == nil {
			t.Errorf("determination %s imported", det)
		}
	}
	// Impacts: the category and the key of its details in every form.
	const impactPtr = "/objects/0/extensions/extension-definition--ef765651-680c-498d-9894-99799f2fa126/impact_refs/0: "
	for _, c := range []struct{ category, key, report string }{
		{"external", "external-ext", `impact category "external" (extensions/external-ext) has no ledger field`},     // 2.1
		{"external-ext", "external-ext", `impact category "external" (extensions/external-ext) has no ledger field`}, // 2.1 drafts
		{"external", "external", `impact category "external" (extensions/external) has no ledger field`},             // the drafts before 2.0
		{"monetary", "monetary-ext", `impact category "monetary" (extensions/monetary-ext) has no ledger field`},     // 2.0
		{"economic", "economic-ext", `impact category "economic" (extensions/economic-ext) has no ledger field`},     // 2.1
		{"external", "availability-ext", `impact category "external" has no extension of its name`},
	} {
		t.Run(c.category+"/"+c.key, func(t *testing.T) {
			_, report := imp(t, bundle("confirmed", "open", c.category, c.key))
			if !strings.Contains(report, impactPtr+c.report) {
				t.Fatalf("report does not say %q:\n%s", c.report, report)
			}
		})
	}
}
