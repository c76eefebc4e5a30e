package stix

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Input is what an export is made from.
type Input struct {
	ChainID string
	// BaseURL is a node's REST address for the proof links (empty: paths only).
	BaseURL string
	// GenesisTime dates the identities of members from genesis.
	GenesisTime time.Time
	// Members are the registry (identities are made for the members the
	// exported records name).
	Members []*pb.Member
	// Records, in ledger order. Export filters them.
	Records []*pb.StoredRecord
	// Amended are the originals amended by amendments in Records that
	// are not in Records themselves (an export from since), read for what
	// the new versions inherit (the TLP; an attribution's parties) and
	// never exported. Without them, such a new version is marked TLP:RED.
	Amended []*pb.StoredRecord
	// At is the block time the export describes (pledge states); zero: the
	// newest record's time.
	At time.Time
}

// Filter selects the records exported; zero values select everything.
type Filter struct {
	Since  time.Time
	Member string // author, or a state the record concerns
	Kinds  []pb.RecordKind
}

// Report says what an export (or import) left out and why.
type Report struct {
	Exported int `json:"exported"`
	// Skipped counts records not exported, by kind (STIX has no object for them).
	Skipped map[string]int `json:"skipped,omitempty"`
	// NotCarried lists what of the exported records STIX cannot carry.
	NotCarried []string `json:"not_carried,omitempty"`
	// Unmapped lists, on import, each field that could not be mapped (JSON pointer: reason).
	Unmapped []string `json:"unmapped,omitempty"`
	// Attributions counts, on import, the attribution records read
	// (Imported.Attributions; not in Exported, which counts the incidents).
	Attributions int `json:"attributions,omitempty"`
}

// NotCarried is what no STIX object can carry, whatever the record.
var NotCarried = []string{
	"signatures and co-signatures (an import is signed afresh by the importer)",
	"ledger position (record id, sequence, height, block time): kept in the normledger extension and external_references, assigned anew on import",
	"proofs (external_references link each object to its record and proof on the ledger)",
}

var recordJSON = protojson.MarshalOptions{UseProtoNames: true}

// sectorNames maps ledger sectors to STIX industry-sector-ov values.
var sectorNames = map[pb.Sector]string{
	pb.Sector_SECTOR_HEALTH:             "healthcare",
	pb.Sector_SECTOR_ENERGY:             "energy",
	pb.Sector_SECTOR_WATER:              "water",
	pb.Sector_SECTOR_TELECOM:            "telecommunications",
	pb.Sector_SECTOR_TRANSPORT:          "transportation",
	pb.Sector_SECTOR_FINANCE:            "financial-services",
	pb.Sector_SECTOR_FOOD:               "agriculture",
	pb.Sector_SECTOR_GOVERNMENT:         "government-national",
	pb.Sector_SECTOR_ELECTIONS:          "government-public-services",
	pb.Sector_SECTOR_EMERGENCY_SERVICES: "emergency-services",
	pb.Sector_SECTOR_HUMANITARIAN:       "non-profit",
	pb.Sector_SECTOR_EDUCATION:          "education",
	pb.Sector_SECTOR_INTERNET_CORE:      "infrastructure",
}

// externalImpact maps a sector to the Impact extension's external-impact-ov.
var externalImpact = map[pb.Sector]string{
	pb.Sector_SECTOR_HEALTH:             "public-health",
	pb.Sector_SECTOR_EMERGENCY_SERVICES: "emergency-services",
	pb.Sector_SECTOR_FINANCE:            "economic",
	pb.Sector_SECTOR_GOVERNMENT:         "public-confidence",
	pb.Sector_SECTOR_ELECTIONS:          "public-confidence",
	pb.Sector_SECTOR_EDUCATION:          "public-confidence",
}

// determination is the Incident Core determination of a near-miss (an
// outcome other than unspecified, which keeps the stage's determination).
var determination = map[pb.IncidentOutcome]string{
	pb.IncidentOutcome_INCIDENT_OUTCOME_BLOCKED:        "blocked",
	pb.IncidentOutcome_INCIDENT_OUTCOME_FAILED_ATTEMPT: "failed-attempt",
}

// Criticality of a severity: Appendix B "5 qualitative" of Incident Core.
var criticality = map[pb.Severity]int{
	pb.Severity_SEVERITY_LOW: 15, pb.Severity_SEVERITY_MEDIUM: 40, pb.Severity_SEVERITY_HIGH: 70, pb.Severity_SEVERITY_CRITICAL: 95,
}

// Exported kinds; amendments are exported as the kind they replace.
var exportKinds = map[pb.RecordKind]bool{
	pb.RecordKind_RECORD_KIND_PLEDGE: true, pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE: true,
	pb.RecordKind_RECORD_KIND_HARM_ASSESSMENT: true, pb.RecordKind_RECORD_KIND_FINDING: true,
	pb.RecordKind_RECORD_KIND_CHALLENGE: true, pb.RecordKind_RECORD_KIND_AMENDMENT: true,
	pb.RecordKind_RECORD_KIND_CASE_STEP: true, pb.RecordKind_RECORD_KIND_MEASURE: true,
	pb.RecordKind_RECORD_KIND_ATTRIBUTION: true,
}

// ExportKinds lists the record kinds an export can hold.
func ExportKinds() []pb.RecordKind {
	var out []pb.RecordKind
	for k := range exportKinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// object is one exported object version with its sort key.
type object struct {
	id  string
	raw json.RawMessage
	// maker is the record that made this version: the record, or for a
	// revoked (or, after a retracted amendment, restored) version, the
	// retraction (RecordObjects keeps a record's own).
	maker string
}

type exporter struct {
	in Input
	// members by id.
	members map[string]*pb.Member
	// objects by key (objectKey: id and modified, so the versions of one
	// object never replace each other); order lists the keys in the
	// order the objects are written.
	objects  map[string]object
	order    []string
	current  string          // the record being exported
	named    map[string]bool // members needing an identity
	markings map[pb.Tlp]bool
	retract  map[string]string // record id -> retraction id
	// index is each input record's position in ledger order.
	index map[string]int
	// families are the objects written in versions (versions.go), by
	// STIX id, in the order of their first version.
	families   map[string]*family
	familyList []*family
	versions   *versions
	// createdUnknown counts the families whose original is not in the
	// input: created is their first version's block time.
	createdUnknown int
	report         *Report
}

// objectKey is the key of one version of an object: its id and modified.
func objectKey(id, modified string) string { return id + "\x00" + modified }

// add adds one object version (modified: its modified, or "" for an
// object without one). A second version of an object is a second object
// of the bundle: nothing is keyed by id alone.
func (e *exporter) add(id, modified string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", id, err)
	}
	key := objectKey(id, modified)
	if _, ok := e.objects[key]; !ok {
		e.order = append(e.order, key)
	}
	e.objects[key] = object{id, raw, e.makerOf(e.current)}
	return nil
}

// makerOf is the record that makes the objects of record id: itself, or
// its retraction when the input holds one (they are revoked).
func (e *exporter) makerOf(id string) string {
	if ret, ok := e.retract[id]; ok {
		if _, ok := e.index[ret]; ok {
			return ret
		}
	}
	return id
}

// revokedAt is when a retraction of record r at block time t revokes r's
// objects: t, but at least a millisecond (STIX timestamps' precision)
// after r's own version, so that a record and its retraction in one block
// make two versions.
func revokedAt(r *pb.StoredRecord, t time.Time) time.Time {
	own := r.BlockTime.AsTime().UTC().Truncate(time.Millisecond)
	if t = t.UTC().Truncate(time.Millisecond); !t.After(own) {
		t = own.Add(time.Millisecond)
	}
	return t
}

// Export makes a bundle of the records f selects.
func Export(in Input, f Filter) (*Bundle, *Report, error) {
	e := &exporter{in: in, members: map[string]*pb.Member{}, objects: map[string]object{}, named: map[string]bool{},
		markings: map[pb.Tlp]bool{}, retract: map[string]string{}, index: map[string]int{}, families: map[string]*family{},
		report: &Report{Skipped: map[string]int{}}}
	for _, m := range in.Members {
		e.members[m.Id] = m
	}
	kinds := map[pb.RecordKind]bool{}
	for _, k := range f.Kinds {
		kinds[k] = true
	}
	at := in.At
	for i, r := range in.Records {
		e.index[r.Id] = i
		if r.BlockTime != nil && r.BlockTime.AsTime().After(at) {
			at = r.BlockTime.AsTime()
		}
		if r.Kind == pb.RecordKind_RECORD_KIND_RETRACTION {
			tx, err := ledger.DecodeTx(r.Tx, 0)
			if err == nil {
				e.retract[tx.Body.Record.GetRetraction().GetTargetId()] = r.Id
			}
		}
	}
	e.in.At = at
	retracted := map[string]bool{}
	for id := range e.retract {
		retracted[id] = true
	}
	var err error
	if e.versions, err = newVersions(in, retracted); err != nil {
		return nil, nil, err
	}
	for _, r := range in.Records {
		tx, err := ledger.DecodeTx(r.Tx, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("record %s: %w", r.Id, err)
		}
		rec := tx.Body.Record
		kind := r.Kind
		if am := rec.GetAmendment(); am != nil {
			kind = ledger.KindOf(am.Replacement)
		}
		if !exportKinds[r.Kind] || !exportKinds[kind] || (len(kinds) > 0 && !kinds[r.Kind] && !kinds[kind]) {
			e.report.Skipped[ledger.KindNameOf(r.Kind)]++
			continue
		}
		if !f.Since.IsZero() && r.BlockTime.AsTime().Before(f.Since) {
			continue
		}
		if f.Member != "" && r.Author != f.Member && !slices.Contains(concerns(rec), f.Member) {
			continue
		}
		e.current = r.Id
		if err := e.record(r, tx); err != nil {
			return nil, nil, fmt.Errorf("record %s: %w", r.Id, err)
		}
		e.report.Exported++
	}
	if err := e.writeVersions(); err != nil {
		return nil, nil, err
	}
	if len(e.report.Skipped) == 0 {
		e.report.Skipped = nil
	}
	if e.report.Exported > 0 {
		e.report.NotCarried = NotCarried
	}
	if note := e.versions.unknownNote(); note != "" {
		e.report.NotCarried = append(slices.Clone(e.report.NotCarried), note)
	}
	if e.createdUnknown > 0 {
		e.report.NotCarried = append(slices.Clone(e.report.NotCarried), fmt.Sprintf("the created time of %d object(s) whose versions "+
			"are amendments of an original not in the export's input (an export from since): the first version's block time "+
			"stands in for the original's (an export without since gives the original's)", e.createdUnknown))
	}
	return e.finish()
}

// concerns lists the members a record names (for the member filter).
func concerns(r *pb.Record) []string {
	switch b := r.Body.(type) {
	case *pb.Record_Pledge:
		return b.Pledge.Pledgors
	case *pb.Record_IncidentDisclosure:
		return b.IncidentDisclosure.AffectedStates
	case *pb.Record_HarmAssessment:
		h := b.HarmAssessment
		return append(append(slices.Clone(h.AffectedStates), h.CoAssessors...), h.ResponsibleParty)
	case *pb.Record_Finding:
		return b.Finding.SubjectStates
	case *pb.Record_CaseStep:
		return append(append([]string{b.CaseStep.Respondent, b.CaseStep.Mediator}, b.CaseStep.CoComplainants...), b.CaseStep.Verifiers...)
	case *pb.Record_Measure:
		return []string{b.Measure.Target}
	case *pb.Record_Attribution:
		out := slices.Clone(b.Attribution.CoAttributors)
		for _, p := range b.Attribution.Attributed {
			out = append(out, p.Party)
		}
		return out
	case *pb.Record_Amendment:
		if b.Amendment.Replacement != nil {
			return concerns(b.Amendment.Replacement)
		}
	}
	return nil
}

// refObject is the STIX id of the object a referenced record became, if
// it is an exported kind present in the input (any export would give it
// that id, so references resolve across exports). An amendment of a kind
// exported as one object is a version of its original's object: its id
// is the original's.
func (e *exporter) refObject(id string) string {
	r := e.versions.byID[id]
	if r == nil {
		return ""
	}
	kind := r.Kind
	if kind == pb.RecordKind_RECORD_KIND_AMENDMENT {
		rec, err := e.versions.record(id)
		if err != nil || rec == nil {
			return ""
		}
		am := rec.GetAmendment()
		kind = ledger.KindOf(am.GetReplacement())
		if kind != pb.RecordKind_RECORD_KIND_ATTRIBUTION && am.GetTargetId() != "" {
			id = am.GetTargetId()
		}
	}
	return RecordObjectID(kind, id)
}

// recordTimes are the created and modified of the objects record r makes
// itself (not versions of another record's object): its block time, and
// when it is retracted, revoked with the retraction's block time as
// modified.
func (e *exporter) recordTimes(r *pb.StoredRecord) (created, modified string, revoked bool) {
	created = Timestamp(r.BlockTime.AsTime())
	modified = created
	if ret, ok := e.retract[r.Id]; ok {
		revoked = true
		if i, ok := e.index[ret]; ok {
			modified = Timestamp(revokedAt(r, e.in.Records[i].BlockTime.AsTime()))
		}
	}
	return created, modified, revoked
}

func (e *exporter) common(typ, id string, r *pb.StoredRecord, rec *pb.Record) Common {
	t := Timestamp(r.BlockTime.AsTime())
	c := Common{Type: typ, SpecVersion: SpecVersion, ID: id, CreatedByRef: MemberIdentity(r.Author), Created: t, Modified: t,
		ExternalReferences: []ExternalReference{{SourceName: "normledger", ExternalID: r.Id,
			Description: "the signed record on the normledger ledger, with its merkle proof",
			URL:         e.proofURL(r.Id)}}}
	e.named[r.Author] = true
	if m := markingOf(rec.Tlp); m != nil {
		c.ObjectMarkingRefs = []string{m.id}
		e.markings[rec.Tlp] = true
	}
	_, c.Modified, c.Revoked = e.recordTimes(r)
	return c
}

func (e *exporter) proofURL(id string) string {
	return strings.TrimSuffix(e.in.BaseURL, "/") + "/v1/records/" + id + "?prove=true"
}

func (e *exporter) ext(r *pb.StoredRecord, rec, body *pb.Record, kind pb.RecordKind) (RecordExt, error) {
	bz, err := recordJSON.Marshal(rec)
	if err != nil {
		return RecordExt{}, err
	}
	// protojson output is not stable across versions in whitespace: compact it.
	var buf bytes.Buffer
	if err := json.Compact(&buf, bz); err != nil {
		return RecordExt{}, err
	}
	x := RecordExt{ExtensionType: "property-extension", ChainID: e.in.ChainID, RecordID: r.Id, Kind: ledger.KindNameOf(kind),
		Author: r.Author, Height: r.Height, BlockTime: Timestamp(r.BlockTime.AsTime()), Record: buf.Bytes(), RetractedBy: e.retract[r.Id],
		Exercise: rec.Exercise || body.Exercise}
	if p := body.GetPledge(); p != nil {
		x.PledgeState = enum.Name(ledger.PledgeStateAt(p, e.in.At))
	}
	return x, nil
}

// record exports one record. A record of a kind exported as one object
// (incident, note, opinion, report) is a version of that object: an
// amendment is a version of its original's object (same id, created the
// original's block time, modified its own), marked with the strictest of
// the original's, the amendment's and the new version's TLP and carrying
// the amendment as signed in the record extension (versions.go). The
// other objects a record makes (impacts, groupings, relationships) have
// ids of their own, derived from the record's id.
func (e *exporter) record(r *pb.StoredRecord, tx *pb.Tx) error {
	rec := tx.Body.Record
	// For an amendment body is a copy: the record extension carries the
	// record as signed.
	body, kind, amends, err := e.versions.effective(r, rec)
	if err != nil {
		return err
	}
	if kind == pb.RecordKind_RECORD_KIND_ATTRIBUTION {
		// No one object stands for an attribution (nor for the new
		// version of an amended one): it is relationships.
		return e.attribution(r, rec, body, amends)
	}
	orig := r.Id
	if amends != "" {
		orig = amends
	}
	id := RecordObjectID(kind, orig)
	x, err := e.ext(r, rec, body, kind)
	if err != nil {
		return err
	}
	c := e.common(strings.SplitN(id, "--", 2)[0], id, r, body)
	c.Labels = exerciseLabel(rec, body)
	c.Extensions = map[string]any{RecordExtension: x}
	var obj func(c Common) any // the version, given its common properties
	slot := -1                 // where in the bundle the version goes (-1: after the record's other objects)
	var refs []string          // ids of records this one refers to, for relationships
	refs = append(refs, body.Refs...)
	switch b := body.Body.(type) {
	case *pb.Record_IncidentDisclosure:
		if obj, err = e.incident(c, r, b.IncidentDisclosure, body.Redaction); err != nil {
			return err
		}
	case *pb.Record_HarmAssessment:
		h := b.HarmAssessment
		var objs []string
		for _, s := range h.SubjectIncidents {
			if o := e.refObject(s); o != "" {
				objs = append(objs, o)
			}
		}
		for _, s := range h.AffectedStates {
			objs = append(objs, MemberIdentity(s))
			e.named[s] = true
		}
		refs = append(refs, h.CascadeRefs...)
		if len(objs) == 0 {
			objs = []string{MemberIdentity(r.Author)}
		}
		n := Note{Abstract: "Civilian harm assessment (" + enum.Name(h.Status) + ")",
			Content: withheld(harmText(h), body.Redaction), ObjectRefs: sortedUnique(objs)}
		obj = func(c Common) any { n.Common = c; return n }
	case *pb.Record_Finding:
		fd := b.Finding
		var objs []string
		if o := e.refObject(fd.SubjectId); o != "" {
			objs = append(objs, o)
		}
		for _, s := range fd.SubjectStates {
			objs = append(objs, MemberIdentity(s))
			e.named[s] = true
		}
		refs = append(refs, fd.EvidenceRefs...)
		n := Note{Abstract: "Verification finding: " + enum.Name(fd.Determination),
			Content: withheld(fd.Summary, body.Redaction), ObjectRefs: sortedUnique(objs)}
		obj = func(c Common) any { n.Common = c; return n }
	case *pb.Record_Challenge:
		target := e.refObject(b.Challenge.TargetId)
		if target == "" {
			target = MemberIdentity(r.Author)
		}
		o := Opinion{Explanation: b.Challenge.Grounds, Opinion: "disagree", ObjectRefs: []string{target}}
		obj = func(c Common) any { o.Common = c; return o }
	case *pb.Record_Pledge:
		p := b.Pledge
		var objs []string
		for _, s := range p.Pledgors {
			objs = append(objs, MemberIdentity(s))
			e.named[s] = true
		}
		c.Labels = append(c.Labels, "pledge")
		// published: when the pledge was first published (the version's
		// created), whichever version this is.
		rp := ReportObject{Name: p.Title, Description: p.Text, ObjectRefs: objs}
		obj = func(c Common) any { rp.Common, rp.Published = c, c.Created; return rp }
	case *pb.Record_CaseStep:
		if obj, err = e.caseStep(c, r, b.CaseStep, &slot); err != nil {
			return err
		}
	case *pb.Record_Measure:
		m := b.Measure
		abstract := fmt.Sprintf("Measure: %s against %s at ladder level %d, answering %s", enum.Name(m.Type), m.Target, m.Level, m.Conduct)
		content := fmt.Sprintf("Proportionality: %s Reversible: %v. Expected end: %s. %s", m.Proportionality, m.Reversible, Timestamp(m.ExpectedEnd.AsTime()), m.Statement)
		if m.Action == pb.MeasureAction_MEASURE_ACTION_STAND_DOWN {
			abstract = fmt.Sprintf("Stand-down of measure %s, returning to ladder level %d", m.MeasureId, m.ReturnLevel)
			content = m.Statement
			refs = append(refs, m.MeasureId)
		} else {
			e.named[m.Target] = true
		}
		n := Note{Abstract: abstract, Content: strings.TrimSpace(content), ObjectRefs: e.caseRefs(r, m.CaseId, m.Target)}
		obj = func(c Common) any { n.Common = c; return n }
	default:
		return fmt.Errorf("kind %v is not exported", kind)
	}
	e.version(slot, id, orig, r, c, obj)
	for _, ref := range sortedUnique(refs) {
		if err := e.relate(r, body.Tlp, id, ref, "related-to", "the record refers to it"); err != nil {
			return err
		}
	}
	return nil
}

// relate adds a relationship from object src (record r, of TLP tlp, which
// marks the relationship too) to the object of record target, if it is an
// exported kind.
func (e *exporter) relate(r *pb.StoredRecord, tlp pb.Tlp, src, target, typ, desc string) error {
	dst := e.refObject(target)
	if dst == "" || dst == src {
		return nil
	}
	t := Timestamp(r.BlockTime.AsTime())
	id := ID("relationship", r.Id+"/"+typ+"/"+target)
	c := Common{Type: "relationship", SpecVersion: SpecVersion, ID: id, CreatedByRef: MemberIdentity(r.Author), Created: t, Modified: t}
	if m := markingOf(tlp); m != nil {
		c.ObjectMarkingRefs = []string{m.id}
		e.markings[tlp] = true
	}
	return e.add(id, c.Modified, Relationship{Common: c, RelationshipType: typ, Description: desc, SourceRef: src, TargetRef: dst})
}

// caseRefs are what a later step of case caseID refers to: the case's
// grouping and request note when the request is in the export, else the
// identities of the author and of who (if anyone) it is addressed to.
func (e *exporter) caseRefs(r *pb.StoredRecord, caseID string, also ...string) []string {
	if o := e.refObject(caseID); o != "" {
		return []string{CaseGroupingID(caseID), o}
	}
	out := []string{MemberIdentity(r.Author)}
	for _, m := range also {
		if m != "" {
			out = append(out, MemberIdentity(m))
			e.named[m] = true
		}
	}
	return sortedUnique(out)
}

// caseStep exports a case step as a note (the version it returns); a
// request also becomes the case's grouping (what the case is about and
// its parties), an object of the request's own.
func (e *exporter) caseStep(c Common, r *pb.StoredRecord, s *pb.CaseStep, slot *int) (func(Common) any, error) {
	name := ledger.StepName(s.Step)
	if s.Step != pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION {
		content := s.Statement
		if content == "" {
			content = strings.ReplaceAll(name, "_", " ")
		}
		n := Note{Abstract: "Case step: " + strings.ReplaceAll(name, "_", " "), Content: content,
			ObjectRefs: e.caseRefs(r, s.CaseId, s.Mediator)}
		return func(c Common) any { n.Common = c; return n }, nil
	}
	objs := []string{MemberIdentity(r.Author), MemberIdentity(s.Respondent)}
	e.named[s.Respondent] = true
	for _, m := range s.CoComplainants {
		objs = append(objs, MemberIdentity(m))
		e.named[m] = true
	}
	for _, sub := range s.Subjects {
		if o := e.refObject(sub); o != "" {
			objs = append(objs, o)
		}
	}
	n := Note{Abstract: "Request for consultation: " + s.Conduct, Content: s.Statement, ObjectRefs: sortedUnique(objs)}
	*slot = e.reserve() // the request's note before the case's grouping
	g := c
	g.Type, g.ID, g.Labels = "grouping", CaseGroupingID(r.Id), append(slices.Clone(c.Labels), "normledger-case")
	g.Created, g.Modified, g.Revoked = e.recordTimes(r)
	basis := s.Norm
	if s.PledgeId != "" {
		basis = strings.TrimSpace("pledge " + s.PledgeId + " " + s.Norm)
	}
	if err := e.add(g.ID, g.Modified, Grouping{Common: g, Name: fmt.Sprintf("Case %s: %s v %s (%s)", r.Id[:12], r.Author, s.Respondent, s.Conduct),
		Description: fmt.Sprintf("Consultation requested under %s. Urgent: %v. %s", basis, s.Urgent, s.Statement),
		Context:     "unspecified", ObjectRefs: sortedUnique(append(objs, c.ID))}); err != nil {
		return nil, err
	}
	return func(c Common) any { n.Common = c; return n }, nil
}

// withheld adds to text what a record withholds (docs/disclosure.md): the
// fields, the basis and the author's public summary. Withheld values are
// never exported; a protective order delivers them off the feed.
func withheld(text string, red *pb.Redaction) string {
	if red == nil {
		return text
	}
	var paths []string
	for _, f := range red.Fields {
		paths = append(paths, f.Path)
	}
	note := fmt.Sprintf("[Withheld (%s): %s. %s]", strings.ReplaceAll(enum.Name(red.Basis), "_", " "), strings.Join(paths, ", "), red.PublicSummary)
	return strings.TrimSpace(text + " " + note)
}

func (e *exporter) incident(c Common, r *pb.StoredRecord, d *pb.IncidentDisclosure, red *pb.Redaction) (func(Common) any, error) {
	core := IncidentCore{ExtensionType: "property-extension", Determination: "confirmed", InvestigationStatus: "open"}
	switch d.Stage {
	case pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING:
		core.Determination, core.InvestigationStatus = "suspected", "new"
	case pb.DisclosureStage_DISCLOSURE_STAGE_FINAL:
		core.InvestigationStatus = "closed"
	}
	// A near-miss (app version 12) says how it ended, whatever the stage.
	if det, ok := determination[d.Outcome]; ok {
		core.Determination = det
	}
	if v, ok := criticality[d.Severity]; ok {
		core.Criticality = &v
	}
	if d.RemediatedAt != nil {
		core.Recoverability = "regular"
	}
	var victims []string
	for _, s := range d.AffectedStates {
		victims = append(victims, MemberIdentity(s))
		e.named[s] = true
	}
	impactType := "public-safety"
	if len(d.Sectors) > 0 {
		if v, ok := externalImpact[d.Sectors[0]]; ok {
			impactType = v
		}
	}
	// The impacts are objects of the record itself (an amendment's are new
	// objects, not versions of the original's).
	created, modified, revoked := e.recordTimes(r)
	for i, text := range d.Impacts {
		iid := ID("impact", fmt.Sprintf("%s/%d", r.Id, i))
		ic := Common{Type: "impact", SpecVersion: SpecVersion, ID: iid, CreatedByRef: c.CreatedByRef, Created: created, Modified: modified,
			ObjectMarkingRefs: c.ObjectMarkingRefs, Revoked: revoked, Labels: c.Labels,
			Extensions: map[string]any{ImpactExtension: map[string]string{"extension_type": "new-sdo"},
				ExternalImpactExtension: map[string]string{"impact_type": impactType}}}
		im := Impact{Common: ic, ImpactCategory: ExternalImpactCategory, Criticality: core.Criticality, Description: text, ImpactedRefs: victims}
		if d.FirstObservedAt != nil {
			im.StartTime = Timestamp(d.FirstObservedAt.AsTime())
		} else if d.DetectedAt != nil {
			im.StartTime = Timestamp(d.DetectedAt.AsTime())
		}
		if d.RemediatedAt != nil {
			im.EndTime = Timestamp(d.RemediatedAt.AsTime())
		}
		if err := e.add(iid, ic.Modified, im); err != nil {
			return nil, err
		}
		core.ImpactRefs = append(core.ImpactRefs, iid)
	}
	c.Extensions[IncidentCoreExtension] = core
	inc := Incident{Name: d.IncidentRef + " (" + strings.ReplaceAll(enum.Name(d.Stage), "_", " ") + ")", Description: withheld(d.Summary, red)}
	return func(c Common) any { inc.Common = c; return inc }, nil
}

func harmText(h *pb.HarmAssessment) string {
	var b strings.Builder
	if p := h.PersonsAffected; p != nil {
		fmt.Fprintf(&b, "Persons affected: %d (range %d to %d). ", p.Best, p.Min, p.Max)
	}
	for _, s := range h.ServicesLost {
		fmt.Fprintf(&b, "Service lost: %s (%s) for %d minutes, %d people. ", s.Service, enum.Name(s.Sector), s.DurationMinutes, s.People)
	}
	if h.PhysicalHarm != "" {
		fmt.Fprintf(&b, "Physical harm: %s ", h.PhysicalHarm)
	}
	if h.EconomicHarmUsd > 0 {
		fmt.Fprintf(&b, "Economic harm: USD %d. ", h.EconomicHarmUsd)
	}
	// Harm assessment v2 (app version 12).
	for _, hm := range h.Harms {
		fmt.Fprintf(&b, "Harm (%s, %s order): %s", human(hm.Dimension), human(hm.Order), hm.Description)
		if est := hm.Estimate; est != nil {
			fmt.Fprintf(&b, " Estimate: %d %s (range %d to %d).", est.Best, hm.Unit, est.Min, est.Max)
		}
		if hm.DurationHours > 0 {
			fmt.Fprintf(&b, " Lasted %d hours.", hm.DurationHours)
		}
		b.WriteString(" ")
	}
	if len(h.VulnerableGroups) > 0 {
		fmt.Fprintf(&b, "Vulnerable groups: %s. ", strings.Join(h.VulnerableGroups, "; "))
	}
	fmt.Fprintf(&b, "Causation confidence: %s.", enum.Name(h.CausationConfidence))
	if len(h.CoAssessors) > 0 {
		fmt.Fprintf(&b, " Joint assessment with %s.", strings.Join(h.CoAssessors, ", "))
	}
	for _, d := range h.Dissents {
		fmt.Fprintf(&b, " Dissent (%s): %s", d.Member, d.Statement)
	}
	return strings.TrimSpace(b.String())
}

// sortedUnique is in without empty and repeated strings, sorted; nil when
// nothing is left.
func sortedUnique(in []string) []string {
	out := slices.DeleteFunc(slices.Clone(in), func(s string) bool { return s == "" })
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// finish adds identities, markings and the extension definition, and
// orders the bundle: definitions, identities, markings, then the records'
// objects in ledger order.
func (e *exporter) finish() (*Bundle, *Report, error) {
	var head []json.RawMessage
	ext := bytes.ReplaceAll(extensionDefinition, []byte("{{ID}}"), []byte(RecordExtension))
	ext = bytes.ReplaceAll(ext, []byte("{{IDENTITY}}"), []byte(LedgerIdentity))
	var buf bytes.Buffer
	if err := json.Compact(&buf, ext); err != nil {
		return nil, nil, fmt.Errorf("extension definition: %w", err)
	}
	lt := Timestamp(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	ledgerID, err := json.Marshal(Identity{Common: Common{Type: "identity", SpecVersion: SpecVersion, ID: LedgerIdentity, Created: lt, Modified: lt},
		Name: "normledger", Description: "The normledger project: the cyber-norms compliance ledger that defines the normledger record extension.",
		IdentityClass: "system"})
	if err != nil {
		return nil, nil, err
	}
	head = append(head, ledgerID, buf.Bytes())
	var names []string
	for m := range e.named {
		names = append(names, m)
	}
	sort.Strings(names)
	for _, id := range names {
		raw, err := json.Marshal(e.identity(id))
		if err != nil {
			return nil, nil, err
		}
		head = append(head, raw)
	}
	verbatim := map[int]bool{}
	for _, m := range tlpMarkings {
		if !e.markings[m.tlp] {
			continue
		}
		raw, err := OfficialMarking(m.tlp)
		if err != nil {
			return nil, nil, err
		}
		verbatim[len(head)] = true
		head = append(head, raw)
	}
	b := &Bundle{Type: "bundle", Objects: head, verbatim: verbatim, makers: make([]string, len(head))}
	for _, key := range e.order {
		if o, ok := e.objects[key]; ok { // a reserved place may stay empty
			b.Objects = append(b.Objects, o.raw)
			b.makers = append(b.makers, o.maker)
		}
	}
	// The bundle id is derived from its content, so the same export has the same id.
	h := sha256.New()
	for _, o := range b.Objects {
		h.Write(o)
		h.Write([]byte{0})
	}
	b.ID = ID("bundle", hex.EncodeToString(h.Sum(nil)))
	return b, e.report, nil
}

func (e *exporter) identity(member string) Identity {
	m := e.members[member]
	created := e.in.GenesisTime
	modified := created
	if m != nil {
		for i, ch := range m.History {
			if ch.Time == nil {
				continue
			}
			if i == 0 && strings.Contains(ch.Change, "admitted") {
				created = ch.Time.AsTime()
			}
			if ch.Time.AsTime().After(modified) {
				modified = ch.Time.AsTime()
			}
		}
	}
	if modified.Before(created) {
		modified = created
	}
	id := Identity{Common: Common{Type: "identity", SpecVersion: SpecVersion, ID: MemberIdentity(member),
		Created: Timestamp(created), Modified: Timestamp(modified),
		ExternalReferences: []ExternalReference{{SourceName: "normledger-member", ExternalID: member,
			URL: strings.TrimSuffix(e.in.BaseURL, "/") + "/v1/members/" + member + "?prove=true"}}},
		Name: member, IdentityClass: "organization"}
	if m == nil {
		id.Description = "Not a member in the registry read for this export."
		return id
	}
	id.Name = m.Name
	switch m.Class {
	case pb.MemberClass_MEMBER_CLASS_STATE:
		id.Description = "State member " + m.CountryCode + " of the normledger consortium."
		id.Sectors = []string{"government-national"}
	case pb.MemberClass_MEMBER_CLASS_NEUTRAL_BODY:
		id.Description = "Neutral body member of the normledger consortium."
		id.Sectors = []string{"non-profit"}
	case pb.MemberClass_MEMBER_CLASS_VERIFIER:
		id.Description = "Verifier member of the normledger consortium."
		id.Sectors = []string{"non-profit"}
	default:
		id.Description = "Observer member of the normledger consortium."
	}
	if p := m.PointOfContact; p != nil {
		var parts []string
		for _, s := range []string{p.Name, p.Organisation, p.Email, p.Phone} {
			if s != "" {
				parts = append(parts, s)
			}
		}
		id.ContactInformation = strings.Join(parts, ", ")
	}
	// The member's own directory entry (app version 9) supersedes the
	// point of contact set at admission.
	if d := m.GetDirectory(); d != nil {
		var points []string
		for _, p := range d.Points {
			parts := []string{enum.Name(p.Role) + ": " + p.Name}
			if p.Organisation != "" {
				parts = append(parts, p.Organisation)
			}
			for _, c := range p.Channels {
				parts = append(parts, enum.Name(c.Type)+" "+c.Address)
			}
			points = append(points, strings.Join(parts, ", "))
		}
		id.ContactInformation = strings.Join(points, "; ")
	}
	return id
}
