package disclose_test

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger/disclose"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

var t0 = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

func incident() *pb.Record {
	return &pb.Record{SchemaVersion: 1, Tlp: pb.Tlp_TLP_AMBER, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: "inc-water-7", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION, Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
		Sectors: []pb.Sector{pb.Sector_SECTOR_WATER}, AffectedStates: []string{"state-a"},
		DetectedAt: timestamppb.New(t0), AwareAt: timestamppb.New(t0.Add(time.Hour)),
		Impacts:          []string{"chlorination halted for 6 hours", "telemetry lost at 3 pumping stations"},
		Severity:         pb.Severity_SEVERITY_HIGH,
		Attribution:      &pb.Attribution{To: []string{"XYZ"}, Confidence: pb.Confidence_CONFIDENCE_MODERATE, Basis: "shared tooling"},
		Summary:          "Ransomware at a regional water utility.",
		AffectedEntities: []string{"Northgrid Water Authority"},
	}}}
}

// vector is one digest: inputs and output, in hex.
type vector struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Salt   string `json:"salt"`
	Value  string `json:"value"`
	Digest string `json:"digest"`
}

// example is a whole redacted record with the disclosures that open it,
// and disclosures that must be refused.
type example struct {
	Record      string   `json:"record"`
	Disclosures []vector `json:"disclosures"`
	Refused     []struct {
		Name       string `json:"name"`
		Disclosure vector `json:"disclosure"`
	} `json:"refused"`
}

type vectors struct {
	Comment string   `json:"comment"`
	Digests []vector `json:"digests"`
	Example example  `json:"example"`
}

func hx(b []byte) string { return hex.EncodeToString(b) }

func unhx(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func disclosureOf(t *testing.T, v vector) *pb.Disclosure {
	return &pb.Disclosure{Path: v.Path, Salt: unhx(t, v.Salt), Value: unhx(t, v.Value)}
}

func vec(name string, d *pb.Disclosure) vector {
	return vector{Name: name, Path: d.Path, Salt: hx(d.Salt), Value: hx(d.Value), Digest: hx(disclose.Digest(d))}
}

// build makes the vectors from fixed inputs.
func build(t *testing.T) vectors {
	red, bundle, err := disclose.Redact(incident(), []string{"affected_entities", "summary", "impacts"}, 2,
		pb.DesignationBasis_DESIGNATION_BASIS_COMMERCIAL, "The operator's name and the impacts are withheld.", fixture.Seeded("vectors"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(red)
	if err != nil {
		t.Fatal(err)
	}
	out := vectors{Comment: "normledger selective disclosure vectors (docs/disclosure.md): digest = SHA-256(\"normledger/v1/disclosure\" 0x00 || canonical(Disclosure{path=1, salt=2, value=3})); value = canonical body message holding only that value. All bytes in hex."}
	// Single digests, including a message value and a scalar.
	s := fixture.Seeded("digests")
	salt := func() []byte { b := make([]byte, 16); _, _ = s.Read(b); return b }
	for _, c := range []struct {
		name string
		m    *pb.HarmAssessment
		path string
	}{
		{"string", &pb.HarmAssessment{PhysicalHarm: "none reported"}, "physical_harm"},
		{"uint64", &pb.HarmAssessment{EconomicHarmUsd: 2500000}, "economic_harm_usd"},
		{"message", &pb.HarmAssessment{PersonsAffected: &pb.Estimate{Min: 1000, Best: 40000, Max: 90000}}, "persons_affected"},
	} {
		v, err := proto.MarshalOptions{Deterministic: true}.Marshal(c.m)
		if err != nil {
			t.Fatal(err)
		}
		out.Digests = append(out.Digests, vec("harm_assessment."+c.name, &pb.Disclosure{Path: c.path, Salt: salt(), Value: v}))
	}
	out.Example.Record = hx(raw)
	for _, d := range bundle.Disclosures {
		out.Example.Disclosures = append(out.Example.Disclosures, vec(d.Path, d))
	}
	refuse := func(name string, d *pb.Disclosure) {
		out.Example.Refused = append(out.Example.Refused, struct {
			Name       string `json:"name"`
			Disclosure vector `json:"disclosure"`
		}{name, vec(name, d)})
	}
	first := bundle.Disclosures[0] // affected_entities
	changed := proto.Clone(first).(*pb.Disclosure)
	changed.Value, _ = proto.MarshalOptions{Deterministic: true}.Marshal(&pb.IncidentDisclosure{AffectedEntities: []string{"Southgrid Water Authority"}})
	refuse("changed value", changed)
	wrongSalt := proto.Clone(first).(*pb.Disclosure)
	wrongSalt.Salt = append([]byte(nil), first.Salt...)
	wrongSalt.Salt[0] ^= 1
	refuse("wrong salt", wrongSalt)
	moved := proto.Clone(first).(*pb.Disclosure)
	moved.Path = "impacts"
	refuse("value moved to another path (path changed)", moved)
	retagged := proto.Clone(first).(*pb.Disclosure)
	retagged.Value, _ = proto.MarshalOptions{Deterministic: true}.Marshal(&pb.IncidentDisclosure{Impacts: []string{"Northgrid Water Authority"}})
	refuse("value moved to another field (tag changed)", retagged)
	public := &pb.Disclosure{Path: "severity", Salt: first.Salt, Value: []byte{0x60, 0x03}}
	refuse("a field that is not withheld", public)
	short := proto.Clone(first).(*pb.Disclosure)
	short.Salt = short.Salt[:15]
	refuse("salt under 128 bits", short)
	return out
}

func TestVectors(t *testing.T) {
	got := build(t)
	path := "testdata/vectors.json"
	if *update {
		bz, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(bz, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bz, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want vectors
	if err := json.Unmarshal(bz, &want); err != nil {
		t.Fatal(err)
	}
	// The file is checked as another implementation would: recompute each
	// digest from its inputs, open the example record, refuse the bad ones.
	for _, v := range want.Digests {
		if d := hx(disclose.Digest(disclosureOf(t, v))); d != v.Digest {
			t.Errorf("%s: digest %s, file says %s", v.Name, d, v.Digest)
		}
	}
	rec := new(pb.Record)
	if err := proto.Unmarshal(unhx(t, want.Example.Record), rec); err != nil {
		t.Fatal(err)
	}
	if rec.GetIncidentDisclosure().Summary != "" || len(rec.GetIncidentDisclosure().AffectedEntities) != 0 {
		t.Fatal("the example record still holds withheld values")
	}
	b := &pb.DisclosureBundle{}
	for _, v := range want.Example.Disclosures {
		b.Disclosures = append(b.Disclosures, disclosureOf(t, v))
		if d := hx(disclose.Digest(disclosureOf(t, v))); d != v.Digest {
			t.Errorf("%s: digest %s, file says %s", v.Name, d, v.Digest)
		}
	}
	opened, err := disclose.Verify(rec, "", b)
	if err != nil {
		t.Fatal(err)
	}
	back := disclose.Restore(rec, opened)
	if got := back.GetIncidentDisclosure().AffectedEntities; len(got) != 1 || got[0] != "Northgrid Water Authority" {
		t.Fatalf("restored affected_entities = %v", got)
	}
	if back.GetIncidentDisclosure().Summary != incident().GetIncidentDisclosure().Summary {
		t.Fatal("summary not restored")
	}
	// impacts carries two decoys: four digests for two elements, so the
	// field stays listed after both elements are opened.
	if f := disclose.Field(back.Redaction, "impacts"); f == nil || len(f.Digests) != 4 {
		t.Fatalf("impacts after restore: %v", f)
	}
	if disclose.Field(back.Redaction, "summary") != nil {
		t.Fatal("summary still listed after it was opened")
	}
	if len(want.Example.Refused) < 6 {
		t.Fatalf("%d refused vectors", len(want.Example.Refused))
	}
	for _, r := range want.Example.Refused {
		if _, err := disclose.Check(rec, disclosureOf(t, r.Disclosure)); err == nil {
			t.Errorf("%s: accepted", r.Name)
		} else {
			t.Logf("%s: %v", r.Name, err)
		}
	}
	// The file is what build makes (the inputs are fixed).
	again, _ := json.MarshalIndent(got, "", "  ")
	if strings.TrimSpace(string(again)) != strings.TrimSpace(string(bz)) {
		t.Fatal("testdata/vectors.json is stale: go test ./ledger/disclose -update")
	}
}

func TestRedactRefuses(t *testing.T) {
	for _, c := range []struct {
		paths []string
		want  string
	}{
		{[]string{"affected_states"}, "stays public"},
		{[]string{"stage"}, "stays public"},
		{[]string{"no_such"}, "has no field"},
		{[]string{"summary", "summary"}, "twice"},
		{[]string{"remediated_at"}, "stays public"},
	} {
		_, _, err := disclose.Redact(incident(), c.paths, 0, pb.DesignationBasis_DESIGNATION_BASIS_COMMERCIAL, "x", fixture.Seeded("r"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.paths, err, c.want)
		}
	}
	empty := incident()
	empty.GetIncidentDisclosure().Attribution = nil
	if _, _, err := disclose.Redact(empty, []string{"attribution"}, 0, 0, "x", fixture.Seeded("r")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty field: %v", err)
	}
	if _, _, err := disclose.Redact(&pb.Record{Body: &pb.Record_Pledge{Pledge: &pb.Pledge{Title: "x"}}}, []string{"title"}, 0, 0, "x", fixture.Seeded("r")); err == nil {
		t.Error("a pledge withheld a field")
	}
}

// Decoys are indistinguishable by construction (32 random bytes like a
// digest); what a test can check is that they hide the count and that
// every real element still opens.
func TestDecoys(t *testing.T) {
	red, b, err := disclose.Redact(incident(), []string{"impacts"}, 3, 0, "x", fixture.Seeded("d"))
	if err != nil {
		t.Fatal(err)
	}
	f := disclose.Field(red.Redaction, "impacts")
	if len(f.Digests) != 5 {
		t.Fatalf("%d digests for 2 elements and 3 decoys", len(f.Digests))
	}
	for i := 1; i < len(f.Digests); i++ {
		if hx(f.Digests[i-1]) >= hx(f.Digests[i]) {
			t.Fatal("digests are not sorted")
		}
	}
	if _, err := disclose.Verify(red, "", b); err != nil {
		t.Fatal(err)
	}
	// A decoy opened twice or a bundle naming another record is refused.
	b.Disclosures = append(b.Disclosures, b.Disclosures[0])
	if _, err := disclose.Verify(red, "", b); err == nil || !strings.Contains(err.Error(), "already opened") {
		t.Fatalf("twice: %v", err)
	}
	if _, err := disclose.Verify(red, "aa", &pb.DisclosureBundle{RecordId: "bb", Disclosures: b.Disclosures[:1]}); err == nil {
		t.Fatal("a bundle for another record verified")
	}
	if _, _, err := disclose.Redact(incident(), []string{"impacts"}, disclose.MaxDecoys+1, 0, "x", fixture.Seeded("d")); err == nil {
		t.Fatal("too many decoys accepted")
	}
}
