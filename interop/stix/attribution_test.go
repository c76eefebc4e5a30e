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

	// The attribution withholds evidence: a co-attributor cannot re-file
	// it (it holds no salts to answer a protective order), and the report
	// says why.
	imp, err = stix.Import(bz, stix.ImportOptions{Author: "xcc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(imp.Attributions) != 0 || !strings.Contains(strings.Join(imp.Report.Unmapped, "\n"), "withholds fields and only its author xbb holds the salts") {
		t.Fatalf("a redacted attribution re-filed by a co-attributor: %v, report %v", imp.Attributions, imp.Report.Unmapped)
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
	revoked, live, derived := 0, 0, 0
	for _, o := range bundle.Objects {
		switch {
		case o["relationship_type"] == "derived-from":
			derived++ // the new version's actors from the original's, live
			if o["revoked"] == true {
				t.Errorf("%s: the new version's derived-from relationship is revoked", o["id"])
			}
		case o["type"] != "relationship" && o["type"] != "threat-actor":
		case o["revoked"] == true:
			revoked++
		default:
			live++
		}
	}
	// Per version: two actors, four incident relationships, one identity
	// relationship; and a derived-from relationship per actor.
	if revoked != 7 || live != 7 || derived != 2 {
		t.Fatalf("%d revoked, %d live, %d derived-from", revoked, live, derived)
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

// redMarking is the id of the official TLP:RED marking definition.
const redMarking = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"

// amendment is an amendment of target whose new version is replacement.
func amendment(target string, replacement *pb.Record) *pb.Record {
	return &pb.Record{Body: &pb.Record_Amendment{Amendment: &pb.Amendment{TargetId: target, Reason: "Update.", Replacement: replacement}}}
}

// mispEvents reads a MISP export.
func mispEvents(t *testing.T, bz []byte) []stix.MISPEvent {
	t.Helper()
	var out struct {
		Response []struct {
			Event stix.MISPEvent `json:"Event"`
		} `json:"response"`
	}
	if err := json.Unmarshal(bz, &out); err != nil {
		t.Fatal(err)
	}
	var evs []stix.MISPEvent
	for _, w := range out.Response {
		evs = append(evs, w.Event)
	}
	return evs
}

// threatActors counts an event's threat-actor attributes.
func threatActors(ev stix.MISPEvent) int {
	n := 0
	for _, a := range ev.Attribute {
		if a.Type == "threat-actor" {
			n++
		}
	}
	return n
}

// An amendment is never less restricted than the original it amends: a
// TLP:RED attribution or incident amended without restating its TLP stays
// TLP:RED in STIX (every object of the new version carries the RED
// marking) and in MISP (the attribution rides in no AMBER event, the
// incident's event is tagged tlp:red), and so does one a chain from before
// app version 12 let loosen it. An export whose input lacks the original
// (since) marks the new version RED and says why.
func TestAmendmentKeepsTLP(t *testing.T) {
	c := newChain(t)
	incident := func(ref string, tlp pb.Tlp) *pb.Record {
		return &pb.Record{SchemaVersion: 1, Tlp: tlp, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
			IncidentRef: ref, Stage: pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION, Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
			Sectors: []pb.Sector{pb.Sector_SECTOR_HEALTH}, AffectedStates: []string{"xbb"},
			DetectedAt: ts(t0.Add(-4 * time.Hour)), AwareAt: ts(t0.Add(-4 * time.Hour)), Severity: pb.Severity_SEVERITY_HIGH,
			Summary: "Intrusion at a hospital " + ref + ".",
		}}}
	}
	amber, red := incident("XBB-2026-0100", pb.Tlp_TLP_AMBER), incident("XBB-2026-0101", pb.Tlp_TLP_RED)
	txAmber, txRed := c.sign("xbb", amber), c.sign("xbb", red)
	c.block(txAmber, txRed)
	amberID, redID := ledger.RecordID(txAmber), ledger.RecordID(txRed)
	digest := sha256.Sum256([]byte("red evidence"))
	att := &pb.Record{Tlp: pb.Tlp_TLP_RED, Body: &pb.Record_Attribution{Attribution: &pb.AttributionRecord{
		Kind: pb.AttributionKind_ATTRIBUTION_KIND_TECHNICAL, Incidents: []string{amberID},
		Attributed:      []*pb.AttributedParty{{Party: "xaa", Conduct: pb.ConductBasis_CONDUCT_BASIS_STATE_ORGAN}},
		StandardOfProof: pb.StandardOfProof_STANDARD_OF_PROOF_REASONABLE_GROUNDS, Confidence: pb.Confidence_CONFIDENCE_LOW,
		EvidenceDigest: digest[:], Summary: "Shared tooling.",
	}}}
	txAtt := c.sign("xbb", att)
	c.block(txAtt)
	attID := ledger.RecordID(txAtt)
	// Both amended with no TLP, in the amendment or the new version.
	newAtt := proto.Clone(att).(*pb.Record)
	newAtt.Tlp, newAtt.GetAttribution().Confidence = pb.Tlp_TLP_UNSPECIFIED, pb.Confidence_CONFIDENCE_MODERATE
	newRed := incident("XBB-2026-0101", pb.Tlp_TLP_UNSPECIFIED)
	newRed.GetIncidentDisclosure().Summary = "Contained."
	txAttAm, txRedAm := c.sign("xbb", amendment(attID, newAtt)), c.sign("xbb", amendment(redID, newRed))
	c.block(txAttAm, txRedAm)
	c.block()
	in := c.input()
	// A chain from before app version 12 may hold an amendment whose new
	// version names a looser TLP (GREEN) than the original's (RED).
	loose := incident("XBB-2026-0101", pb.Tlp_TLP_GREEN)
	txLoose := c.sign("xbb", amendment(redID, loose))
	in.Records = append(in.Records, &pb.StoredRecord{Id: ledger.RecordID(txLoose), Seq: uint64(len(in.Records) + 1), Height: c.height + 1,
		BlockTime: ts(c.now.Add(time.Minute)), Kind: pb.RecordKind_RECORD_KIND_AMENDMENT, Author: "xbb", Tx: txLoose})
	amended := []string{ledger.RecordID(txAttAm), ledger.RecordID(txRedAm), ledger.RecordID(txLoose)}

	// STIX: every object of the new versions (incident, threat actor,
	// attributed-to and derived-from relationships) is marked RED.
	bz, _ := export(t, in, stix.Filter{})
	var bundle struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(bz, &bundle); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range bundle.Objects {
		var rid string
		if refs, _ := o["external_references"].([]any); len(refs) > 0 {
			rid, _ = refs[0].(map[string]any)["external_id"].(string)
		}
		if !slices.Contains(amended, rid) {
			continue
		}
		n++
		if marks := mustJSON(o["object_marking_refs"]); marks != `["`+redMarking+`"]` {
			t.Errorf("%s (%s) of an amendment of a TLP:RED record is marked %s", o["id"], o["type"], marks)
		}
	}
	// Two new versions of the incident (versions of the original's
	// object, no relationship of their own); a threat actor, its
	// attributed-to relationships (incident, member) and its derived-from
	// relationship.
	if n != 6 {
		t.Fatalf("%d objects of the amendments", n)
	}

	// Imported, the new versions keep TLP:RED: from the object's marking,
	// or, in a bundle of an older exporter that marked them not, from the
	// original the bundle carries.
	var stripped struct {
		Type    string           `json:"type"`
		ID      string           `json:"id"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(bz, &stripped); err != nil {
		t.Fatal(err)
	}
	for _, o := range stripped.Objects {
		refs, _ := o["external_references"].([]any)
		if len(refs) > 0 && slices.Contains(amended, refs[0].(map[string]any)["external_id"].(string)) {
			delete(o, "object_marking_refs")
		}
	}
	for name, b := range map[string][]byte{"marked": bz, "unmarked": []byte(mustJSON(stripped))} {
		imp, err := stix.Import(b, stix.ImportOptions{Author: "xbb"})
		if err != nil {
			t.Fatal(err)
		}
		var tlps []string
		for _, r := range imp.Records {
			tlps = append(tlps, r.Tlp.String())
		}
		for _, a := range imp.Attributions {
			tlps = append(tlps, a.Record.Tlp.String())
		}
		// The AMBER and RED incidents, the RED one's two new versions, the
		// attribution's new version.
		if strings.Join(tlps, " ") != "TLP_AMBER TLP_RED TLP_RED TLP_RED TLP_RED" {
			t.Errorf("%s bundle imported with TLPs %v", name, tlps)
		}
	}

	// MISP: the RED attribution rides in no event (its incident's is
	// AMBER); the amended incident's events are tagged tlp:red.
	out, rep, err := stix.MISP(in, stix.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(`"type": "threat-actor"`)) || rep.Skipped["amendment"] != 1 || rep.Skipped["superseded attribution"] != 1 {
		t.Fatalf("the TLP:RED attribution rides in a less strict event (report %+v):\n%s", rep, out)
	}
	for _, ev := range mispEvents(t, out) {
		var tags []string
		for _, tag := range ev.Tag {
			tags = append(tags, tag.Name)
		}
		want := "tlp:red"
		if strings.HasSuffix(ev.Object[0].Comment, amberID) {
			want = "tlp:amber"
		}
		if strings.Join(tags, ",") != want {
			t.Errorf("event %s (%s): tags %v, want %s", ev.Info, ev.Object[0].Comment, tags, want)
		}
	}

	// Without the originals in the input (an export from since), the new
	// versions are marked RED and the report says why; given the
	// originals (Input.Amended), the report has nothing to say.
	var since, originals []*pb.StoredRecord
	for _, r := range in.Records {
		if r.Id == redID || r.Id == attID {
			originals = append(originals, r)
		} else {
			since = append(since, r)
		}
	}
	in.Records = since
	// MissingOriginals names exactly the originals an exporter must read.
	if ids, err := stix.MissingOriginals(since); err != nil || !slices.Equal(ids, sortedIDs(originals)) {
		t.Fatalf("MissingOriginals: %v %v, want %v", ids, err, sortedIDs(originals))
	}
	for _, amendedIn := range [][]*pb.StoredRecord{nil, originals} {
		in.Amended = amendedIn
		for name, rep := range map[string]*stix.Report{"STIX": nil, "MISP": nil} {
			var err error
			if name == "STIX" {
				_, rep, err = stix.Export(in, stix.Filter{})
			} else {
				_, rep, err = stix.MISP(in, stix.Filter{})
			}
			if err != nil {
				t.Fatal(err)
			}
			said := strings.Contains(strings.Join(rep.NotCarried, "\n"), "3 amended record(s) whose original is not in the export's input")
			if said != (amendedIn == nil) {
				t.Errorf("%s, originals given %v: report %v", name, amendedIn != nil, rep.NotCarried)
			}
		}
	}
}

// An amended attribution (not retracted) is exported with each threat
// actor of the new version derived-from the original's (for the same
// party; a party the original did not name, from each of them), and
// imported once: the newest version, the superseded one reported.
func TestAttributionAmendedImportsNewest(t *testing.T) {
	a, filed := nearMisses(t)
	v1 := a.input().Records[len(a.input().Records)-1].Id
	replacement := proto.Clone(filed[2]).(*pb.Record)
	replacement.Redaction = nil
	at := replacement.GetAttribution()
	at.Confidence, at.Evidence = pb.Confidence_CONFIDENCE_HIGH, []string{"Shared command servers"}
	at.Attributed = append(at.Attributed, &pb.AttributedParty{Party: "EMBER-CREW", Conduct: pb.ConductBasis_CONDUCT_BASIS_NON_STATE_ACTOR})
	tx := a.sign("xbb", amendment(v1, replacement), "xcc")
	a.block(tx)
	a.block()
	v2 := ledger.RecordID(tx)
	bz, _ := export(t, a.input(), stix.Filter{})
	var bundle struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(bz, &bundle); err != nil {
		t.Fatal(err)
	}
	var derived []string
	ids := map[string]bool{}
	for _, o := range bundle.Objects {
		ids[o["id"].(string)] = true
		if o["relationship_type"] == "derived-from" {
			derived = append(derived, o["source_ref"].(string)+" "+o["target_ref"].(string))
		}
	}
	ta := stix.AttributionThreatActorID
	want := []string{ta(v2, "xaa") + " " + ta(v1, "xaa"), ta(v2, "GRIDLOCK-TEAM") + " " + ta(v1, "GRIDLOCK-TEAM"),
		ta(v2, "EMBER-CREW") + " " + ta(v1, "xaa"), ta(v2, "EMBER-CREW") + " " + ta(v1, "GRIDLOCK-TEAM")}
	slices.Sort(derived)
	slices.Sort(want)
	if !slices.Equal(derived, want) {
		t.Fatalf("derived-from relationships\n%v\nwant\n%v", derived, want)
	}
	for _, d := range derived {
		for _, id := range strings.Fields(d) {
			if !ids[id] {
				t.Errorf("derived-from names %s, not in the bundle", id)
			}
		}
	}
	imp, err := stix.Import(bz, stix.ImportOptions{Author: "xbb"})
	if err != nil {
		t.Fatal(err)
	}
	report := strings.Join(imp.Report.Unmapped, "\n")
	if len(imp.Attributions) != 1 || !strings.Contains(report, "attribution record "+v1+" is superseded by its newer version "+v2) {
		t.Fatalf("imported %d attributions, report\n%s", len(imp.Attributions), report)
	}
	got := imp.Attributions[0].Record
	wantRec := proto.Clone(replacement).(*pb.Record)
	wantRec.GetAttribution().Incidents, wantRec.SchemaVersion = nil, 1
	if !proto.Equal(got, wantRec) {
		t.Fatalf("imported\n%v\nwant the new version\n%v", got, wantRec)
	}
}

// MISP carries an attribution in the event of the newest version of the
// incident it names (events are one per record version), and an export
// of attributions alone exports the events that carry them.
func TestMISPAttributionCarriers(t *testing.T) {
	c := scenario(t)
	in := c.input()
	carriers := func(f stix.Filter) ([]string, *stix.Report) {
		t.Helper()
		out, rep, err := stix.MISP(in, f)
		if err != nil {
			t.Fatal(err)
		}
		var comments []string
		for _, ev := range mispEvents(t, out) {
			if threatActors(ev) > 0 {
				comments = append(comments, strings.Fields(ev.Object[0].Comment)[1])
			}
		}
		if len(mispEvents(t, out)) != rep.Exported {
			t.Fatalf("%d events, report says %d", len(mispEvents(t, out)), rep.Exported)
		}
		return comments, rep
	}
	// The scenario's attribution names the hospital incident, which is
	// amended: it rides in the amendment's event, not the original's.
	got, rep := carriers(stix.Filter{})
	if !slices.Equal(got, []string{"amendment"}) || rep.Exported != 5 || !slices.Contains(rep.NotCarried, stix.MISPAttributionNote) {
		t.Fatalf("carried in %v (report %+v)", got, rep)
	}
	// Attributions alone: the one event that carries it.
	only := stix.Filter{Kinds: []pb.RecordKind{pb.RecordKind_RECORD_KIND_ATTRIBUTION}}
	got, rep = carriers(only)
	if !slices.Equal(got, []string{"amendment"}) || rep.Exported != 1 || rep.Skipped["attribution"] != 0 ||
		!slices.Contains(rep.NotCarried, stix.MISPAttributionNote) {
		t.Fatalf("attributions alone: carried in %v (report %+v)", got, rep)
	}
	// The member filter then selects attributions: the state it names, not
	// a member it does not concern.
	only.Member = "xaa"
	if got, rep = carriers(only); len(got) != 1 || rep.Exported != 1 {
		t.Fatalf("attributions naming xaa: %v %+v", got, rep)
	}
	only.Member = "lumen"
	if got, rep = carriers(only); len(got) != 0 || rep.Exported != 0 {
		t.Fatalf("attributions concerning lumen: %v %+v", got, rep)
	}
}

func sortedIDs(recs []*pb.StoredRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Id)
	}
	slices.Sort(out)
	return out
}
