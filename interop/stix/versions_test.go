package stix_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/interop/stix"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// amended is the scenario plus amendments of every amendable kind
// exported as one object (incident, harm assessment, finding, pledge)
// and retractions: the records' ids by name.
type amended struct {
	c   *chain
	ids map[string]string
}

// versionsScenario files, after the fixture scenario: an amendment of the
// joint harm assessment, of the finding and of the pledge; two
// amendments of the near-miss in one block; a retraction of the
// amendment of the hospital incident; an amendment of the intermediate
// report and then a retraction of the report itself (the original).
func versionsScenario(t *testing.T) *amended {
	c := scenario(t)
	var ids []string
	for _, r := range c.input().Records {
		ids = append(ids, r.Id)
	}
	steps := fixture.Scenario(t0)
	// again rebuilds step i as filed (its record), for a replacement.
	again := func(i int) *pb.Record { return steps[i].Build(ids) }
	amend := func(target string, replacement *pb.Record) *pb.Record {
		return &pb.Record{Body: &pb.Record_Amendment{Amendment: &pb.Amendment{TargetId: target, Reason: "A new version.", Replacement: replacement}}}
	}
	retract := func(target string) *pb.Record {
		return &pb.Record{Body: &pb.Record_Retraction{Retraction: &pb.Retraction{TargetId: target, Reason: "Withdrawn."}}}
	}
	a := &amended{c: c, ids: map[string]string{"incident": ids[4], "amendment": ids[8], "harm": ids[37], "finding": ids[6],
		"pledge": ids[0], "nearmiss": ids[46], "report": ids[48]}}
	sign := func(name, author string, rec *pb.Record, co ...string) []byte {
		tx := c.sign(author, rec, co...)
		a.ids[name] = ledger.RecordID(tx)
		return tx
	}
	harm := again(37)
	harm.GetHarmAssessment().Status = pb.AssessmentStatus_ASSESSMENT_STATUS_FINAL
	finding := again(6)
	finding.GetFinding().Summary = "Conduct remains consistent with the pledge after review."
	pledge := again(0)
	pledge.GetPledge().Text += " Reviewed."
	c.block(sign("harm2", "observatory", amend(ids[37], harm), "lumen"))
	c.block(sign("finding2", "lumen", amend(ids[6], finding)))
	c.block(sign("pledge2", "xaa", amend(ids[0], pledge), "xbb"))
	n1, n2 := again(46), again(46)
	n1.GetIncidentDisclosure().Summary = "Blocked at the perimeter; the grid operator confirms no intrusion."
	n2.GetIncidentDisclosure().Summary = "Blocked at the perimeter; forensic review closed."
	n2.GetIncidentDisclosure().Stage = pb.DisclosureStage_DISCLOSURE_STAGE_FINAL
	c.block(sign("nearmiss2", "xcc", amend(ids[46], n1)), sign("nearmiss3", "xcc", amend(ids[46], n2)))
	c.block(sign("retract-amendment", "xbb", retract(ids[8])))
	r2 := again(48)
	r2.GetIncidentDisclosure().Summary = "Progress: backups verified."
	c.block(sign("report2", "xbb", amend(ids[48], r2)))
	c.block(sign("retract-report", "xbb", retract(ids[48])))
	c.block()
	return a
}

// objectsOf reads a bundle's objects.
func objectsOf(t *testing.T, bz []byte) []map[string]any {
	t.Helper()
	var b struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(bz, &b); err != nil {
		t.Fatal(err)
	}
	return b.Objects
}

// recordIDOf is the record id an object's normledger extension carries.
func recordIDOf(o map[string]any) string {
	exts, _ := o["extensions"].(map[string]any)
	x, _ := exts[stix.RecordExtension].(map[string]any)
	id, _ := x["record_id"].(string)
	return id
}

// An amendment of a kind exported as one object is a version of the
// original's object: the same id, created the original's block time,
// modified its own (a millisecond later when it shares the block of the
// version before it), the amendment as signed in the record extension,
// and no derived-from relationship. Every version is in the bundle; a
// retracted original's version is revoked with the retraction's time, and
// so is every version after it; a retracted amendment's retraction is a
// version with the content of the version that stands again.
func TestAmendmentVersions(t *testing.T) {
	a := versionsScenario(t)
	in := a.c.input()
	at := map[string]string{} // record id -> block time
	for _, r := range in.Records {
		at[r.Id] = stix.Timestamp(r.BlockTime.AsTime())
	}
	bz, rep := export(t, in, stix.Filter{})
	objs := objectsOf(t, bz)
	type v struct {
		record, created, modified, by string
		revoked                       bool
	}
	versions := map[string][]v{}
	for _, o := range objs {
		typ := o["type"].(string)
		if o["relationship_type"] == "derived-from" && typ == "relationship" && !strings.HasPrefix(o["source_ref"].(string), "threat-actor--") {
			t.Errorf("%s: derived-from from a %s (versions of one object need none)", o["id"], o["source_ref"])
		}
		if typ != "incident" && typ != "note" && typ != "opinion" && typ != "report" {
			continue
		}
		rv, _ := o["revoked"].(bool)
		versions[o["id"].(string)] = append(versions[o["id"].(string)], v{recordIDOf(o), o["created"].(string), o["modified"].(string), o["created_by_ref"].(string), rv})
	}
	incidentID := func(name string) string {
		return stix.RecordObjectID(pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE, a.ids[name])
	}
	noteID := func(name string) string {
		return stix.RecordObjectID(pb.RecordKind_RECORD_KIND_HARM_ASSESSMENT, a.ids[name])
	}
	ids := a.ids
	want := map[string][]v{
		// The scenario's amended hospital incident, its amendment retracted:
		// the original, then at the retraction's time the original again
		// (on the ledger it stands again; STIX revokes objects, not
		// versions, so revoking would withdraw the incident).
		incidentID("incident"): {{ids["incident"], at[ids["incident"]], at[ids["incident"]], stix.MemberIdentity("xbb"), false},
			{ids["incident"], at[ids["incident"]], at[ids["retract-amendment"]], stix.MemberIdentity("xbb"), false}},
		noteID("harm"): {{ids["harm"], at[ids["harm"]], at[ids["harm"]], stix.MemberIdentity("observatory"), false},
			{ids["harm2"], at[ids["harm"]], at[ids["harm2"]], stix.MemberIdentity("observatory"), false}},
		noteID("finding"): {{ids["finding"], at[ids["finding"]], at[ids["finding"]], stix.MemberIdentity("lumen"), false},
			{ids["finding2"], at[ids["finding"]], at[ids["finding2"]], stix.MemberIdentity("lumen"), false}},
		stix.RecordObjectID(pb.RecordKind_RECORD_KIND_PLEDGE, ids["pledge"]): {
			{ids["pledge"], at[ids["pledge"]], at[ids["pledge"]], stix.MemberIdentity("xaa"), false},
			{ids["pledge2"], at[ids["pledge"]], at[ids["pledge2"]], stix.MemberIdentity("xaa"), false}},
		// Two amendments in one block: the second a millisecond later.
		incidentID("nearmiss"): {{ids["nearmiss"], at[ids["nearmiss"]], at[ids["nearmiss"]], stix.MemberIdentity("xcc"), false},
			{ids["nearmiss2"], at[ids["nearmiss"]], at[ids["nearmiss2"]], stix.MemberIdentity("xcc"), false},
			{ids["nearmiss3"], at[ids["nearmiss"]], plusMS(t, at[ids["nearmiss3"]], 1), stix.MemberIdentity("xcc"), false}},
		// The original retracted after its amendment: the amendment's
		// version, then the original's, revoked.
		incidentID("report"): {{ids["report2"], at[ids["report"]], at[ids["report2"]], stix.MemberIdentity("xbb"), false},
			{ids["report"], at[ids["report"]], at[ids["retract-report"]], stix.MemberIdentity("xbb"), true}},
	}
	for id, w := range want {
		got := versions[id]
		slices.SortFunc(got, func(x, y v) int { return strings.Compare(x.modified, y.modified) })
		if !slices.Equal(got, w) {
			t.Errorf("versions of %s:\n%+v\nwant\n%+v", id, got, w)
		}
	}
	// Every version of one object is an object of its own, in modified
	// order unique.
	for id, vs := range versions {
		for i := 1; i < len(vs); i++ {
			if vs[i].created != vs[0].created {
				t.Errorf("%s: versions created %s and %s", id, vs[0].created, vs[i].created)
			}
		}
	}
	// The scenario's 14 records and 6 amendments; retractions are not
	// exported.
	if rep.Exported != 20 {
		t.Errorf("exported %d records", rep.Exported)
	}
	if at[ids["nearmiss2"]] != at[ids["nearmiss3"]] {
		t.Fatal("the near-miss's amendments are not in one block")
	}
}

// plusMS is STIX timestamp ts plus n milliseconds.
func plusMS(t *testing.T, ts string, n int) string {
	t.Helper()
	tt, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatal(err)
	}
	return stix.Timestamp(tt.Add(time.Duration(n) * time.Millisecond))
}

// A bundle with versions imports each record once: the original and each
// amendment (its new version) as incident disclosures, as on the ledger;
// a retracted record (a revoked version, or one whose record extension
// names its retraction) is not imported, and the report says so.
func TestAmendmentVersionsImport(t *testing.T) {
	a := versionsScenario(t)
	bz, _ := export(t, a.c.input(), stix.Filter{})
	imp, err := stix.Import(bz, stix.ImportOptions{Author: "xbb"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range imp.Records {
		got = append(got, r.GetIncidentDisclosure().Summary)
	}
	want := []string{
		"Ransomware encrypted patient-record systems at a regional hospital.", // the amendment of it retracted
		fixture.Scenario(t0)[29].Build(make([]string, 49)).GetIncidentDisclosure().Summary,
		fixture.Scenario(t0)[46].Build(make([]string, 49)).GetIncidentDisclosure().Summary,
		"Blocked at the perimeter; the grid operator confirms no intrusion.",
		"Blocked at the perimeter; forensic review closed.",
		"Progress: backups verified.", // the amendment of the retracted report, not retracted itself
	}
	if !slices.Equal(got, want) {
		t.Fatalf("imported\n%q\nwant\n%q", got, want)
	}
	report := strings.Join(imp.Report.Unmapped, "\n")
	// (The retracted amendment is in no version: its retraction's version
	// is the original's, read once.)
	for _, id := range []string{a.ids["report"]} {
		if !strings.Contains(report, "record "+id+" was retracted at the source") {
			t.Errorf("the retracted record %s is not reported:\n%s", id, report)
		}
	}
	// The attribution names the hospital incident's original, which is
	// imported.
	if len(imp.Attributions) != 1 || !slices.Equal(imp.Attributions[0].Incidents, []int{0}) {
		t.Fatalf("attributions %+v", imp.Attributions)
	}
	// A bundle holding a record in two versions (a consumer's merge of two
	// exports: the original, later revoked) imports it at most once, and
	// not when any version is revoked.
	objs := objectsOf(t, bz)
	var merged []map[string]any
	for _, o := range objs {
		merged = append(merged, o)
		if recordIDOf(o) == a.ids["report"] {
			old := map[string]any{}
			for k, v := range o {
				old[k] = v
			}
			delete(old, "revoked")
			old["modified"] = old["created"]
			merged = append(merged, old)
		}
		if recordIDOf(o) == a.ids["nearmiss"] {
			again := map[string]any{}
			for k, v := range o {
				again[k] = v
			}
			merged = append(merged, again) // the same version twice
		}
	}
	imp2, err := stix.Import([]byte(mustJSON(map[string]any{"type": "bundle", "id": "bundle--6b4c2f4e-0d4f-4d5e-9c55-2f7d0d8f8e11", "objects": merged})),
		stix.ImportOptions{Author: "xbb"})
	if err != nil {
		t.Fatal(err)
	}
	if len(imp2.Records) != len(imp.Records) {
		t.Fatalf("merged bundle: %d records, want %d", len(imp2.Records), len(imp.Records))
	}
	for i := range imp.Records {
		if !proto.Equal(imp.Records[i], imp2.Records[i]) {
			t.Errorf("merged bundle, record %d:\n%v\nwant\n%v", i, imp2.Records[i], imp.Records[i])
		}
	}
}

// Bundles of earlier releases (an amendment its own object, derived-from
// its original) import as they did: the same records as the versions of
// today's export of the same ledger.
func TestImportBundleBeforeVersions(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", "scenario-v1.stix.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(old), `"relationship_type": "derived-from"`) {
		t.Fatal("scenario-v1.stix.json is not a bundle of the form before versions")
	}
	c := scenario(t)
	bz, _ := export(t, c.input(), stix.Filter{})
	before, err := stix.Import(old, stix.ImportOptions{Author: "xbb"})
	if err != nil {
		t.Fatal(err)
	}
	now, err := stix.Import(bz, stix.ImportOptions{Author: "xbb"})
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Records) != 5 || len(before.Records) != len(now.Records) || len(before.Attributions) != len(now.Attributions) {
		t.Fatalf("before versions: %d incidents, %d attributions; now %d, %d", len(before.Records), len(before.Attributions),
			len(now.Records), len(now.Attributions))
	}
	for i := range now.Records {
		if !proto.Equal(before.Records[i], now.Records[i]) {
			t.Errorf("incident %d:\n%v\nnow\n%v", i, before.Records[i], now.Records[i])
		}
	}
	for i := range now.Attributions {
		if !proto.Equal(before.Attributions[i].Record, now.Attributions[i].Record) ||
			!slices.Equal(before.Attributions[i].Incidents, now.Attributions[i].Incidents) {
			t.Errorf("attribution %d differs", i)
		}
	}
}

// An export from since holds the versions after since: given the
// originals (Input.Amended, as MissingOriginals names them) they keep the
// original's created; without, the first version's time stands in, and
// the report says so.
func TestAmendmentVersionsSince(t *testing.T) {
	a := versionsScenario(t)
	in := a.c.input()
	var since []*pb.StoredRecord
	cut := slices.IndexFunc(in.Records, func(r *pb.StoredRecord) bool { return r.Id == a.ids["harm2"] })
	since = append(since, in.Records[cut:]...)
	originals, err := stix.MissingOriginals(since)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*pb.StoredRecord{}
	for _, r := range in.Records {
		byID[r.Id] = r
	}
	id := stix.RecordObjectID(pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE, a.ids["nearmiss"])
	for _, given := range []bool{false, true} {
		part := in
		part.Records, part.Amended = since, nil
		if given {
			for _, o := range originals {
				part.Amended = append(part.Amended, byID[o])
			}
		}
		bz, rep := export(t, part, stix.Filter{})
		want := stix.Timestamp(byID[a.ids["nearmiss"]].BlockTime.AsTime())
		if !given {
			want = stix.Timestamp(byID[a.ids["nearmiss2"]].BlockTime.AsTime())
		}
		n := 0
		for _, o := range objectsOf(t, bz) {
			if o["id"] == id {
				n++
				if o["created"] != want {
					t.Errorf("originals given %v: created %v, want %s", given, o["created"], want)
				}
			}
		}
		said := strings.Contains(strings.Join(rep.NotCarried, "\n"), "the first version's block time stands in")
		if n != 2 || said == given {
			t.Errorf("originals given %v: %d versions, report %q", given, n, rep.NotCarried)
		}
	}
}

// An amendment filed in its original's block is a version a millisecond
// after the original's, in the whole export and in an export of the
// amendment alone (the original read beside it, as the object stream
// computes versions).
func TestAmendmentVersionSameBlock(t *testing.T) {
	c := newChain(t)
	orig := &pb.Record{Tlp: pb.Tlp_TLP_GREEN, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: "XBB-2026-0200", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING, Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
		Sectors: []pb.Sector{pb.Sector_SECTOR_WATER}, AffectedStates: []string{"xbb"}, DetectedAt: ts(t0.Add(-time.Hour)),
		AwareAt: ts(t0.Add(-time.Hour)), Severity: pb.Severity_SEVERITY_LOW, Impacts: []string{"Pumping station on manual control"},
		Summary: "Intrusion at a pumping station."}}}
	tx1 := c.sign("xbb", orig)
	next := proto.Clone(orig).(*pb.Record)
	next.GetIncidentDisclosure().Stage = pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION
	tx2 := c.sign("xbb", amendment(ledger.RecordID(tx1), next))
	c.block(tx1, tx2)
	c.block()
	in := c.input()
	id := stix.RecordObjectID(pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE, ledger.RecordID(tx1))
	created := stix.Timestamp(in.Records[0].BlockTime.AsTime())
	versionsOf := func(in stix.Input) []string {
		bz, _ := export(t, in, stix.Filter{})
		var out []string
		for _, o := range objectsOf(t, bz) {
			if o["id"] == id {
				if o["created"] != created {
					t.Errorf("created %v, want %s", o["created"], created)
				}
				out = append(out, o["modified"].(string))
			}
		}
		return out
	}
	if got := versionsOf(in); !slices.Equal(got, []string{created, plusMS(t, created, 1)}) {
		t.Fatalf("versions %v", got)
	}
	alone := in
	alone.Records, alone.Amended = in.Records[1:2], in.Records[:1]
	if got := versionsOf(alone); !slices.Equal(got, []string{plusMS(t, created, 1)}) {
		t.Fatalf("the amendment alone: versions %v", got)
	}
}
