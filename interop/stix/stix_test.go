package stix_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/normledger/normledger/interop/stix"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const chainID = "normledger-stix-test"

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// chain is an in-memory ledger fed block by block.
type chain struct {
	t       testing.TB
	id      string // chain id
	st      *store.Store
	reg     *ledger.Registry
	members map[string]fixture.Member
	seq     map[string]uint64
	height  int64
	now     time.Time
}

func newChain(t testing.TB) *chain { return newChainID(t, chainID) }

// newChainID is a chain with chain id id (another ledger: the same record
// signed there has another id).
func newChainID(t testing.TB, id string) *chain {
	t.Helper()
	ms := fixture.Dev(3, fixture.SeededKey)
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.InitGenesis(id, fixture.Genesis(ms), 1, ledger.CurrentAppVersion); err != nil {
		t.Fatal(err)
	}
	return &chain{t: t, id: id, st: st, reg: ledger.DefaultRegistry(), members: fixture.ByID(ms), seq: map[string]uint64{}, now: t0}
}

func (c *chain) sign(author string, rec *pb.Record, co ...string) []byte {
	c.t.Helper()
	rec.SchemaVersion = 1
	c.seq[author]++
	var cs []ledger.Signer
	for _, m := range co {
		cs = append(cs, c.members[m].Signer())
	}
	tx, err := ledger.BuildTx(&pb.TxBody{ChainId: c.id, Sequence: c.seq[author], Record: rec}, c.members[author].Signer(), cs...)
	if err != nil {
		c.t.Fatal(err)
	}
	return tx
}

// block commits txs in a block a minute after the last; each must be accepted.
func (c *chain) block(txs ...[]byte) {
	c.t.Helper()
	c.height++
	c.now = c.now.Add(time.Minute)
	b := ledger.Block{ChainID: c.id, Height: c.height, Time: c.now, Params: ledger.DefaultParams()}
	if err := c.st.BeginBlock(c.height); err != nil {
		c.t.Fatal(err)
	}
	bb, err := c.reg.BeginBlock(c.st.Working(), b)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.st.Write(bb); err != nil {
		c.t.Fatal(err)
	}
	for i, tx := range txs {
		b.TxIndex = uint32(i)
		ch, err := c.reg.Apply(c.st.Working(), tx, b)
		if err != nil {
			c.t.Fatalf("tx %d at height %d: %v", i, c.height, err)
		}
		if err := c.st.Write(ch); err != nil {
			c.t.Fatal(err)
		}
	}
	if _, _, err := c.st.EndBlock(); err != nil {
		c.t.Fatal(err)
	}
	if _, _, err := c.st.Commit(); err != nil {
		c.t.Fatal(err)
	}
}

// scenario files the fixture scenario, one record per block.
func scenario(t *testing.T) *chain {
	c := newChain(t)
	var ids []string
	for _, s := range fixture.Scenario(t0) {
		if s.Key != nil {
			c.members[s.Author] = fixture.Member{ID: s.Author, Key: s.Key}
		}
		tx := c.sign(s.Author, s.Build(ids), s.CoSigners...)
		c.block(tx)
		ids = append(ids, ledger.RecordID(tx))
	}
	c.block()
	return c
}

func (c *chain) input() stix.Input {
	c.t.Helper()
	v, err := c.st.At(0)
	if err != nil {
		c.t.Fatal(err)
	}
	recs, err := v.AllRecords(store.Filter{})
	if err != nil {
		c.t.Fatal(err)
	}
	ms, err := v.Members()
	if err != nil {
		c.t.Fatal(err)
	}
	return stix.Input{ChainID: c.id, BaseURL: "http://127.0.0.1:1317", GenesisTime: t0, Members: ms, Records: recs, At: c.now}
}

func export(t *testing.T, in stix.Input, f stix.Filter) ([]byte, *stix.Report) {
	t.Helper()
	b, rep, err := stix.Export(in, f)
	if err != nil {
		t.Fatal(err)
	}
	bz, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return bz, rep
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the export (run go test ./interop/stix -update after checking the change)", path)
	}
}

// The export of the seeded scenario is pinned, and exporting twice gives
// the same bytes.
func TestExportGolden(t *testing.T) {
	c := scenario(t)
	got, rep := export(t, c.input(), stix.Filter{})
	again, _ := export(t, c.input(), stix.Filter{})
	if !bytes.Equal(got, again) {
		t.Fatal("two exports of the same records differ")
	}
	golden(t, "scenario.stix.json", got)
	// 6 records, a case request, its reply, a protest, a redacted incident,
	// a joint harm assessment, an attribution, a near-miss and an
	// intermediate report.
	if rep.Exported != 14 || len(rep.NotCarried) == 0 || rep.Skipped["notification"] == 0 || rep.Skipped["methodology"] != 1 ||
		rep.Skipped["declaration"] != 1 {
		t.Fatalf("report %+v", rep)
	}
	// A withheld value never reaches the feed: the redacted incident says
	// what it withholds and why, not the value (the scenario publishes it
	// later in a disclosure step, which is not exported).
	if bytes.Contains(got, []byte("Northgrid")) || !bytes.Contains(got, []byte("Withheld (commercial): affected_entities, summary")) {
		t.Fatal("the export leaks a withheld value or does not say what is withheld")
	}
	mispOut, mrep, err := stix.MISP(c.input(), stix.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "scenario.misp.json", mispOut)
	if mrep.Exported != 5 { // the disclosure, its amendment, the redacted incident, the near-miss and the intermediate report
		t.Fatalf("MISP events: %d", mrep.Exported)
	}
	// The attribution rides in the event of the incident it attributes
	// (so it is not left out), the near-miss says how it ended.
	if mrep.Skipped["attribution"] != 0 || !bytes.Contains(mispOut, []byte(`"type": "threat-actor"`)) ||
		!bytes.Contains(mispOut, []byte(`"value": "blocked"`)) || bytes.Contains(mispOut, []byte("Northgrid")) {
		t.Fatalf("MISP: attribution or near-miss missing, or a withheld value leaks (report %+v)", mrep)
	}
}

var (
	idRE = regexp.MustCompile(`^([a-z][a-z0-9-]+[a-z0-9])--[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	// created and modified: millisecond precision, Z.
	msRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$`)
	tsRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$`)
	// Custom (extension) property names.
	propRE = regexp.MustCompile(`^[a-z][a-z0-9_]{2,249}$`)
)

var requiredProps = map[string][]string{
	"identity": {"name"}, "incident": {"name"}, "note": {"content", "object_refs"}, "opinion": {"opinion", "object_refs"},
	"report": {"name", "published", "object_refs"}, "relationship": {"relationship_type", "source_ref", "target_ref"},
	"threat-actor": {"name"},
	"impact":       {"impact_category", "extensions"}, "extension-definition": {"created_by_ref", "name", "schema", "version", "extension_types"},
	"marking-definition": {"created", "extensions"},
}

var vocab = map[string][]string{
	"determination":        {"blocked", "confirmed", "failed-attempt", "false-positive", "suspected"},
	"investigation_status": {"closed", "new", "open"},
	"recoverability":       {"not-applicable", "regular", "supplemented", "extended", "not-recoverable"},
	"opinion":              {"strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"},
	"identity_class":       {"individual", "group", "system", "organization", "class", "unknown"},
	"impact_type":          {"economic", "emergency-services", "foreign-relations", "national-security", "public-confidence", "public-health", "public-safety"},
	"threat_actor_types": {"activist", "competitor", "crime-syndicate", "criminal", "hacker", "insider-accidental", "insider-disgruntled",
		"nation-state", "sensationalist", "spy", "terrorist", "unknown"},
	"sectors": {"agriculture", "aerospace", "automotive", "chemical", "commercial", "communications", "construction", "defense",
		"education", "energy", "engineering", "entertainment", "financial-services", "government", "emergency-services",
		"government-local", "government-national", "government-public-services", "government-regional", "healthcare",
		"hospitality-leisure", "infrastructure", "dams", "nuclear", "water", "insurance", "manufacturing", "mining", "non-profit",
		"pharmaceuticals", "retail", "technology", "telecommunications", "transportation", "utilities"},
}

func in(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Every object has the STIX 2.1 required properties, valid ids and
// timestamps, refs to known kinds of objects; the Incident Core fields lie
// within their vocabularies; the TLP objects are the official ones; the
// normledger extension validates against its shipped JSON schema.
func TestExportValid(t *testing.T) {
	c := scenario(t)
	b, _, err := stix.Export(c.input(), stix.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	written, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var reread stix.Bundle
	if err := json.Unmarshal(written, &reread); err != nil || len(reread.Objects) != len(b.Objects) || reread.ID != b.ID {
		t.Fatalf("the written bundle does not read back: %v", err)
	}
	if !idRE.MatchString(b.ID) || !strings.HasPrefix(b.ID, "bundle--") {
		t.Fatalf("bundle id %q", b.ID)
	}
	sch := extensionSchema(t)
	ids := map[string]string{}
	versions := map[string]bool{}
	created := map[string]any{}
	types := map[string]int{}
	for i, raw := range b.Objects {
		var o map[string]any
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		typ, _ := o["type"].(string)
		id, _ := o["id"].(string)
		types[typ]++
		where := func(f string, args ...any) {
			t.Helper()
			t.Errorf("object %d (%s %s): "+f, append([]any{i, typ, id}, args...)...)
		}
		if m := idRE.FindStringSubmatch(id); m == nil || m[1] != typ {
			where("bad id")
		}
		// Versions of one object share its id; no two objects share an
		// id and modified, and the versions of one id agree on type and
		// created.
		version := id + " " + fmt.Sprint(o["modified"])
		if versions[version] {
			where("duplicate version (id and modified)")
		}
		versions[version] = true
		if t, dup := ids[id]; dup && (t != typ || created[id] != o["created"]) {
			where("a version of another type or created")
		}
		ids[id] = typ
		created[id] = o["created"]
		if o["spec_version"] != "2.1" {
			where("spec_version %v", o["spec_version"])
		}
		for _, p := range requiredProps[typ] {
			if v, ok := o[p]; !ok || v == nil || v == "" {
				where("missing %s", p)
			}
		}
		created, _ := o["created"].(string)
		if !msRE.MatchString(created) {
			where("created %q", created)
		}
		if typ != "marking-definition" {
			modified, _ := o["modified"].(string)
			if !msRE.MatchString(modified) || modified < created {
				where("modified %q (created %q)", modified, created)
			}
		}
		for _, p := range []string{"published", "start_time", "end_time"} {
			if v, ok := o[p]; ok && !tsRE.MatchString(v.(string)) {
				where("%s %v", p, v)
			}
		}
		for k, v := range o {
			if list, ok := v.([]any); ok && len(list) == 0 {
				where("empty list %s", k)
			}
		}
		if v, ok := o["identity_class"]; ok && !in(vocab["identity_class"], v.(string)) {
			where("identity_class %v", v)
		}
		if list, ok := o["sectors"].([]any); ok {
			for _, s := range list {
				if !in(vocab["sectors"], s.(string)) {
					where("sector %v", s)
				}
			}
		}
		if v, ok := o["opinion"]; ok && !in(vocab["opinion"], v.(string)) {
			where("opinion %v", v)
		}
		if list, ok := o["threat_actor_types"].([]any); ok {
			for _, s := range list {
				if !in(vocab["threat_actor_types"], s.(string)) {
					where("threat_actor_type %v", s)
				}
			}
		}
		if v, ok := o["confidence"].(float64); ok && (v < 0 || v > 100 || v != float64(int(v))) {
			where("confidence %v", v)
		}
		exts, _ := o["extensions"].(map[string]any)
		for k, v := range exts {
			e := v.(map[string]any)
			if strings.HasPrefix(k, "extension-definition--") {
				if !idRE.MatchString(k) {
					where("extension key %s", k)
				}
				if _, ok := e["extension_type"]; !ok {
					where("extension %s without extension_type", k)
				}
			}
			for p := range e {
				if !propRE.MatchString(p) {
					where("extension property name %q", p)
				}
			}
		}
		if core, ok := exts[stix.IncidentCoreExtension].(map[string]any); ok {
			allowed := []string{"extension_type", "determination", "investigation_status", "criticality", "detection_methods", "events",
				"tasks", "impact_refs", "impacted_entity_counts", "incident_types", "recoverability", "scores"}
			for k := range core {
				if !in(allowed, k) {
					where("Incident Core property %q is not in the extension", k)
				}
			}
			if core["extension_type"] != "property-extension" {
				where("Incident Core extension_type %v", core["extension_type"])
			}
			for _, p := range []string{"determination", "investigation_status", "recoverability"} {
				if v, ok := core[p]; ok && !in(vocab[p], v.(string)) {
					where("%s %v", p, v)
				}
			}
			for _, p := range []string{"determination", "investigation_status"} {
				if _, ok := core[p]; !ok {
					where("Incident Core without %s", p)
				}
			}
			if v, ok := core["criticality"].(float64); ok && (v < 0 || v > 100 || v != float64(int(v))) {
				where("criticality %v", v)
			}
		}
		if typ == "impact" {
			if exts[stix.ImpactExtension].(map[string]any)["extension_type"] != "new-sdo" || len(exts) != 2 {
				where("impact extensions %v", exts)
			}
			if ext, ok := exts["external-ext"].(map[string]any); !ok || !in(vocab["impact_type"], ext["impact_type"].(string)) {
				where("impact external-ext %v", exts["external-ext"])
			}
			if o["impact_category"] != "external" {
				where("impact_category %v", o["impact_category"])
			}
		}
		if x, ok := exts[stix.RecordExtension]; ok {
			if err := sch.Validate(x); err != nil {
				where("normledger extension does not match schema.json: %v", err)
			}
		}
	}
	// References point at identities and objects of the bundle (or, for
	// records outside it, at their deterministic ids).
	for i, raw := range b.Objects {
		var o map[string]any
		json.Unmarshal(raw, &o)
		if cb, ok := o["created_by_ref"].(string); ok && ids[cb] != "identity" {
			t.Errorf("object %d: created_by_ref %s is no identity of the bundle", i, cb)
		}
		for _, p := range []string{"object_refs", "object_marking_refs", "impact_refs", "impacted_refs"} {
			list, _ := o[p].([]any)
			for _, r := range list {
				if _, ok := ids[r.(string)]; !ok {
					t.Errorf("object %d: %s %s not in the bundle", i, p, r)
				}
			}
		}
		for _, p := range []string{"source_ref", "target_ref"} {
			if r, ok := o[p].(string); ok {
				if _, ok := ids[r]; !ok {
					t.Errorf("object %d: %s %s not in the bundle", i, p, r)
				}
			}
		}
	}
	for _, typ := range []string{"identity", "incident", "impact", "note", "opinion", "report", "relationship", "threat-actor", "marking-definition", "extension-definition"} {
		if types[typ] == 0 {
			t.Errorf("no %s object in the scenario's export: %v", typ, types)
		}
	}
	// The TLP objects are the official files' objects, byte for byte up to
	// insignificant whitespace (same keys, same order, same values).
	for _, name := range []string{"clear", "green", "amber", "amber-strict", "red"} {
		file, err := os.ReadFile(filepath.Join("tlp", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var wrapper struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(file, &wrapper); err != nil {
			t.Fatal(err)
		}
		official := compact(t, wrapper.Objects[0])
		var id struct {
			ID string `json:"id"`
		}
		json.Unmarshal(official, &id)
		for _, raw := range b.Objects {
			var o struct {
				ID string `json:"id"`
			}
			json.Unmarshal(raw, &o)
			if o.ID == id.ID && !bytes.Equal(compact(t, raw), official) {
				t.Errorf("TLP %s in the bundle is not the official object:\n%s\n%s", name, compact(t, raw), official)
			}
		}
		// And the written bundle holds the official object's bytes as
		// published (whitespace included), for the markings it uses.
		if bytes.Contains(written, []byte(id.ID)) && !bytes.Contains(written, wrapper.Objects[0]) {
			t.Errorf("the written bundle does not hold TLP %s byte for byte", name)
		}
	}
}

func compact(t *testing.T, bz []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, bz); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func extensionSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(stix.ExtensionSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// The shipped extension definition names the shipped schema.
func TestExtensionDefinition(t *testing.T) {
	bz, err := os.ReadFile("extension.json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(bz, &d); err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(stix.ExtensionSchema(), &s); err != nil {
		t.Fatal(err)
	}
	if d["schema"] != s["$id"] {
		t.Fatalf("extension definition's schema %v, the schema's $id %v", d["schema"], s["$id"])
	}
	// A wrong extension is refused by the schema (the test can fail).
	sch := extensionSchema(t)
	for _, bad := range []string{
		`{"extension_type":"property-extension"}`,
		`{"extension_type":"property-extension","record_id":"x","kind":"pledge","author":"xaa","height":1,"block_time":"2026-01-01T00:00:00.000Z","record":{"pledge":{}}}`,
		`{"extension_type":"property-extension","record_id":"` + strings.Repeat("a", 64) + `","kind":"pledge","author":"xaa","height":1,"block_time":"2026-01-01T00:00:00.000Z","record":{"pledge":{}},"extra":1}`,
	} {
		var v any
		json.Unmarshal([]byte(bad), &v)
		if sch.Validate(v) == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
	// An attribution's reply window is 0 (the default) or 24 to 8760
	// hours, as the ledger checks it.
	for hours, ok := range map[int]bool{0: true, 1: false, 23: false, 24: true, 720: true, 8760: true, 8761: false} {
		x := fmt.Sprintf(`{"extension_type":"property-extension","record_id":"%[1]s","kind":"attribution","author":"xbb","height":1,
			"block_time":"2026-01-01T00:00:00.000Z","record":{"attribution":{"kind":"ATTRIBUTION_KIND_TECHNICAL","incidents":["%[1]s"],
			"attributed":[{"party":"xaa","conduct":"CONDUCT_BASIS_STATE_ORGAN"}],"standard_of_proof":"STANDARD_OF_PROOF_PREPONDERANCE",
			"confidence":"CONFIDENCE_LOW","evidence_digest":"%[2]s=","reply_within_hours":%[3]d}}}`, strings.Repeat("a", 64), strings.Repeat("A", 43), hours)
		var v any
		if err := json.Unmarshal([]byte(x), &v); err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); (err == nil) != ok {
			t.Errorf("reply_within_hours %d: schema says %v", hours, err)
		}
	}
}

// Filters select by time, member and kind.
func TestExportFilters(t *testing.T) {
	c := scenario(t)
	in := c.input()
	count := func(f stix.Filter) int {
		_, rep, err := stix.Export(in, f)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Exported
	}
	all := count(stix.Filter{})
	// The disclosure, its amendment, the redacted incident, the near-miss
	// and the intermediate report.
	if n := count(stix.Filter{Kinds: []pb.RecordKind{pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE}}); n != 5 {
		t.Fatalf("incidents: %d", n)
	}
	if n := count(stix.Filter{Kinds: []pb.RecordKind{pb.RecordKind_RECORD_KIND_ATTRIBUTION}}); n != 1 {
		t.Fatalf("attributions: %d", n)
	}
	if n := count(stix.Filter{Member: "lumen"}); n != 2 { // its finding, and the harm assessment it co-signed
		t.Fatalf("lumen's: %d", n)
	}
	if n := count(stix.Filter{Member: "xcc"}); n != 2 { // the near-miss, and the attribution it co-signed
		t.Fatalf("xcc's: %d", n)
	}
	if n := count(stix.Filter{Since: t0.Add(6 * time.Minute)}); n == 0 || n >= all {
		t.Fatalf("since: %d of %d", n, all)
	}
}
