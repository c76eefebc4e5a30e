package stix_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/interop/stix"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/disclose"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// withheldEvidence is the evidence item the test's attribution withholds:
// it must never reach an export.
const withheldEvidence = "Intercepted tasking order 77-B from the XAA signals directorate"

// nearMisses files two near-misses (a failed attempt in an exercise, with
// an exploited vulnerability, and a blocked attempt) and a legal
// attribution of both, co-signed, to a state and to a non-state actor,
// withholding part of its evidence. It returns the records as filed.
func nearMisses(t *testing.T) (*chain, []*pb.Record) {
	c := newChain(t)
	h := time.Hour
	failed := &pb.Record{Tlp: pb.Tlp_TLP_AMBER, Exercise: true, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: "XBB-EX-0001", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_PROGRESS, Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
		Sectors: []pb.Sector{pb.Sector_SECTOR_WATER}, AffectedStates: []string{"xbb"},
		DetectedAt: ts(t0.Add(-6 * h)), AwareAt: ts(t0.Add(-5 * h)), CorrectiveMeasureAt: ts(t0.Add(-2 * h)),
		Severity: pb.Severity_SEVERITY_HIGH, Outcome: pb.IncidentOutcome_INCIDENT_OUTCOME_FAILED_ATTEMPT,
		Vulnerability: &pb.Vulnerability{Identifier: "CVE-2026-12345", Product: "SCADA gateway 4.2", ActivelyExploited: true},
		Impacts:       []string{"None: the exploit failed against the patched gateway."},
		Summary:       "Exercise: an exploit of the SCADA gateway failed against a patched unit.",
	}}}
	blocked := &pb.Record{Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: "XCC-2026-0100", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION, Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
		Sectors: []pb.Sector{pb.Sector_SECTOR_ENERGY}, AffectedStates: []string{"xcc"},
		DetectedAt: ts(t0.Add(-4 * h)), AwareAt: ts(t0.Add(-4 * h)), Severity: pb.Severity_SEVERITY_MEDIUM,
		Outcome: pb.IncidentOutcome_INCIDENT_OUTCOME_BLOCKED,
		Summary: "Wiper delivery to a grid operator blocked at the perimeter.",
	}}}
	tx1 := c.sign("xbb", failed)
	tx2 := c.sign("xcc", blocked)
	c.block(tx1, tx2)
	digest := sha256.Sum256([]byte("evidence bundle of the test"))
	att := &pb.Record{SchemaVersion: 1, Tlp: pb.Tlp_TLP_GREEN, Body: &pb.Record_Attribution{Attribution: &pb.AttributionRecord{
		Kind: pb.AttributionKind_ATTRIBUTION_KIND_LEGAL, Incidents: []string{ledger.RecordID(tx1), ledger.RecordID(tx2)},
		Attributed: []*pb.AttributedParty{{Party: "xaa", Conduct: pb.ConductBasis_CONDUCT_BASIS_STATE_ORGAN},
			{Party: "GRIDLOCK-TEAM", Conduct: pb.ConductBasis_CONDUCT_BASIS_NON_STATE_ACTOR}},
		StandardOfProof: pb.StandardOfProof_STANDARD_OF_PROOF_PREPONDERANCE, LegalBasis: "ARSIWA art. 4",
		Confidence: pb.Confidence_CONFIDENCE_MODERATE, EvidenceDigest: digest[:],
		Evidence:      []string{withheldEvidence},
		CoAttributors: []string{"xcc"},
		Summary:       "XBB and XCC attribute both attempts to XAA's signals directorate and a contracted group.",
	}}}
	red, _, err := disclose.Redact(att, []string{"evidence"}, 1, pb.DesignationBasis_DESIGNATION_BASIS_SOURCES_AND_METHODS,
		"An intercepted document is withheld to protect its source.", fixture.Seeded("stix attribution test"))
	if err != nil {
		t.Fatal(err)
	}
	c.block(c.sign("xbb", red, "xcc"))
	c.block()
	return c, []*pb.Record{failed, blocked, red}
}

// A near-miss and an attribution survive export and import: the incidents'
// outcome (Incident Core determination), exercise flag, vulnerability and
// corrective measure time, and the attribution field by field, naming the
// imported incidents; nothing withheld is exported, to STIX or MISP.
func TestRoundTripNearMissAttribution(t *testing.T) {
	a, filed := nearMisses(t)
	bz, rep := export(t, a.input(), stix.Filter{})
	if rep.Exported != 3 {
		t.Fatalf("exported %+v", rep)
	}
	mispOut, mrep, err := stix.MISP(a.input(), stix.Filter{})
	if err != nil || mrep.Exported != 2 || mrep.Skipped != nil {
		t.Fatalf("MISP: %v %+v", err, mrep)
	}
	for _, out := range [][]byte{bz, mispOut} {
		if bytes.Contains(out, []byte("Intercepted tasking")) || !bytes.Contains(out, []byte("Withheld (sources and methods): evidence")) {
			t.Fatalf("a withheld value leaks, or what is withheld is not said:\n%s", out)
		}
	}
	// STIX: determinations, the exercise label, the attribution's objects.
	var bundle struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(bz, &bundle); err != nil {
		t.Fatal(err)
	}
	var dets []string
	types := map[string]int{}
	var actors []string
	sch := extensionSchema(t)
	for _, o := range bundle.Objects {
		typ := o["type"].(string)
		types[typ]++
		exts, _ := o["extensions"].(map[string]any)
		if x, ok := exts[stix.RecordExtension]; ok {
			if err := sch.Validate(x); err != nil {
				t.Errorf("%s: extension does not match schema.json: %v", o["id"], err)
			}
		}
		switch typ {
		case "incident":
			dets = append(dets, exts[stix.IncidentCoreExtension].(map[string]any)["determination"].(string))
			labels, _ := o["labels"].([]any)
			x := exts[stix.RecordExtension].(map[string]any)
			if ex := slices.Contains(labels, any("exercise")); ex != (o["name"] == "XBB-EX-0001 (progress)") || ex != (x["exercise"] == true) {
				t.Errorf("%s: labels %v, extension exercise %v", o["name"], labels, x["exercise"])
			}
		case "threat-actor":
			actors = append(actors, o["name"].(string)+" "+mustJSON(o["threat_actor_types"]))
		case "relationship":
			if o["relationship_type"] == "attributed-to" && o["confidence"] != float64(50) {
				t.Errorf("%s: confidence %v", o["id"], o["confidence"])
			}
		}
	}
	if strings.Join(dets, ",") != "failed-attempt,blocked" {
		t.Fatalf("determinations %v", dets)
	}
	slices.Sort(actors)
	if strings.Join(actors, "; ") != `GRIDLOCK-TEAM ["unknown"]; Republic of Aldervane ["nation-state"]` {
		t.Fatalf("threat actors %v", actors)
	}
	// Two incidents times two parties, and the state party's identity.
	if types["relationship"] != 5 || types["threat-actor"] != 2 {
		t.Fatalf("objects %v", types)
	}
	// MISP: the determinations, the exercise tag, the vulnerability; the
	// TLP:GREEN attribution rides in the TLP:AMBER event only, not in the
	// unmarked one (less strict than the attribution).
	if !bytes.Contains(mispOut, []byte(`"value": "failed-attempt"`)) || !bytes.Contains(mispOut, []byte(`"value": "blocked"`)) ||
		!bytes.Contains(mispOut, []byte(stix.MISPExerciseTag)) || !bytes.Contains(mispOut, []byte(`"value": "CVE-2026-12345"`)) ||
		bytes.Count(mispOut, []byte(`"type": "threat-actor"`)) != 2 || bytes.Count(mispOut, []byte(`"tlp:green"`)) != 3 {
		t.Fatalf("MISP export:\n%s", mispOut)
	}

	// Import as the author: the records as filed, the attribution naming
	// the imported incidents.
	imp, err := stix.Import(bz, stix.ImportOptions{Author: "xbb"})
	if err != nil {
		t.Fatal(err)
	}
	if len(imp.Records) != 2 || len(imp.Attributions) != 1 || !slices.Equal(imp.Attributions[0].Incidents, []int{0, 1}) {
		t.Fatalf("imported %d incidents, %+v", len(imp.Records), imp.Attributions)
	}
	for i, rec := range imp.Records {
		want := proto.Clone(filed[i]).(*pb.Record)
		want.SchemaVersion = 1
		if !proto.Equal(rec, want) {
			t.Errorf("incident %d:\n%v\nwant\n%v", i, rec, want)
		}
	}
	b := newChainID(t, "normledger-stix-test-2")
	b.now = t0.Add(24 * time.Hour)
	var ids []string
	for _, rec := range imp.Records {
		tx := b.sign("xbb", rec)
		b.block(tx)
		ids = append(ids, ledger.RecordID(tx))
	}
	atts, err := imp.Link(ids)
	if err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(filed[2]).(*pb.Record)
	want.GetAttribution().Incidents = ids
	if len(atts) != 1 || !proto.Equal(atts[0], want) {
		t.Fatalf("attribution:\n%v\nwant\n%v", atts, want)
	}
	b.block(b.sign("xbb", atts[0], "xcc"))
	b.block()
	second, _ := export(t, b.input(), stix.Filter{})
	compareIncidents(t, bz, second)
	compareAttributions(t, bz, second)

	// Imported by the co-attributor, the attribution is its own: it is no
	// longer a co-attributor, and the report says so.
	imp, err = stix.Import(bz, stix.ImportOptions{Author: "xcc"})
	if err != nil {
		t.Fatal(err)
	}
	if at := imp.Attributions[0].Record.GetAttribution(); len(at.CoAttributors) != 0 ||
		!strings.Contains(strings.Join(imp.Report.Unmapped, "\n"), "co-attributor xcc signs the import") {
		t.Fatalf("co-attributors %v, report %v", at.CoAttributors, imp.Report.Unmapped)
	}
	// Without the incidents it attributes (an export of attributions
	// alone), an attribution is not imported, and the report says why.
	only, _ := export(t, a.input(), stix.Filter{Kinds: []pb.RecordKind{pb.RecordKind_RECORD_KIND_ATTRIBUTION}})
	imp, err = stix.Import(only, stix.ImportOptions{Author: "xbb"})
	if err != nil || len(imp.Attributions) != 0 || !strings.Contains(strings.Join(imp.Report.Unmapped, "\n"), "none of the attributed incidents") {
		t.Fatalf("attribution without its incidents: %v %+v", err, imp)
	}
}

// Another tool's near-miss and exercise label map to the outcome and
// record.exercise; its attributed-to relationship (no standard of proof,
// no evidence digest) is reported, not imported.
func TestImportForeignNearMiss(t *testing.T) {
	bundle := `{"type":"bundle","id":"bundle--6b4c2f4e-0d4f-4d5e-9c55-2f7d0d8f8e11","objects":[
	 {"type":"incident","spec_version":"2.1","id":"incident--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","created":"2026-11-02T08:30:00.000Z","modified":"2026-11-02T09:00:00.000Z",
	  "name":"CERT-XB-2026-118","labels":["exercise","phishing"],
	  "extensions":{"extension-definition--ef765651-680c-498d-9894-99799f2fa126":{"extension_type":"property-extension","determination":"failed-attempt","investigation_status":"closed","criticality":20}}},
	 {"type":"threat-actor","spec_version":"2.1","id":"threat-actor--0f2e1d3c-4b5a-4978-8a6b-5c4d3e2f1a0b","created":"2026-11-01T10:00:00.000Z","modified":"2026-11-01T10:00:00.000Z","name":"APT-X"},
	 {"type":"relationship","spec_version":"2.1","id":"relationship--2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f","created":"2026-11-02T08:30:00.000Z","modified":"2026-11-02T08:30:00.000Z","relationship_type":"attributed-to","source_ref":"incident--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","target_ref":"threat-actor--0f2e1d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"}
	]}`
	imp, err := stix.Import([]byte(bundle), stix.ImportOptions{Author: "xbb", Sectors: []pb.Sector{pb.Sector_SECTOR_FINANCE}})
	if err != nil {
		t.Fatal(err)
	}
	rec := imp.Records[0]
	if rec.GetIncidentDisclosure().Outcome != pb.IncidentOutcome_INCIDENT_OUTCOME_FAILED_ATTEMPT || !rec.Exercise || len(imp.Attributions) != 0 {
		t.Fatalf("imported %v, attributions %v", rec, imp.Attributions)
	}
	report := strings.Join(imp.Report.Unmapped, "\n")
	for _, want := range []string{"/objects/0/labels: no ledger field", "/objects/2: attributed-to without the normledger record"} {
		if !strings.Contains(report, want) {
			t.Errorf("not reported: %q in\n%s", want, report)
		}
	}
	if strings.Contains(report, "determination") {
		t.Errorf("the determination is reported unmapped:\n%s", report)
	}
	// The ledger takes it (signed by the importer).
	c := newChain(t)
	c.now = t0.Add(30 * 24 * time.Hour)
	c.block(c.sign("xbb", rec))
}

// An amended attribution is exported as its new version (relationships of
// the amendment, carrying it), a retracted one as revoked objects; the
// importer takes the new version and reports the retracted one.
func TestAttributionAmendedAndRetracted(t *testing.T) {
	a, filed := nearMisses(t)
	v1 := a.input().Records[len(a.input().Records)-1].Id
	replacement := proto.Clone(filed[2]).(*pb.Record)
	replacement.Redaction = nil
	at := replacement.GetAttribution()
	at.Confidence, at.Evidence = pb.Confidence_CONFIDENCE_HIGH, []string{"Shared command servers"}
	a.block(a.sign("xbb", &pb.Record{Body: &pb.Record_Amendment{Amendment: &pb.Amendment{TargetId: v1,
		Reason: "A second source raises our confidence.", Replacement: replacement}}}, "xcc"))
	a.block(a.sign("xbb", &pb.Record{Body: &pb.Record_Retraction{Retraction: &pb.Retraction{TargetId: v1, Reason: "Superseded."}}}))
	a.block()
	bz, _ := export(t, a.input(), stix.Filter{})
	var bundle struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(bz, &bundle); err != nil {
		t.Fatal(err)
	}
	revoked, live := 0, 0
	for _, o := range bundle.Objects {
		if o["type"] != "relationship" && o["type"] != "threat-actor" {
			continue
		}
		if o["revoked"] == true {
			revoked++
		} else {
			live++
		}
	}
	if revoked != 7 || live != 7 { // per version: two actors, four incident relationships, one identity relationship
		t.Fatalf("%d revoked, %d live", revoked, live)
	}
	imp, err := stix.Import(bz, stix.ImportOptions{Author: "xbb"})
	if err != nil {
		t.Fatal(err)
	}
	if len(imp.Attributions) != 1 || !strings.Contains(strings.Join(imp.Report.Unmapped, "\n"), "attribution was retracted at the source") {
		t.Fatalf("attributions %v, report %v", imp.Attributions, imp.Report.Unmapped)
	}
	got := imp.Attributions[0].Record
	want := proto.Clone(replacement).(*pb.Record)
	want.GetAttribution().Incidents, want.SchemaVersion = nil, 1
	if !proto.Equal(got, want) {
		t.Fatalf("imported\n%v\nwant the new version\n%v", got, want)
	}
}
