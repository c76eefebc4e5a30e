package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Limits of an imported bundle.
const (
	MaxBundleBytes   = 8 << 20
	MaxBundleObjects = 5000
)

// Error is a bad bundle: the JSON pointer (RFC 6901) of the offending value
// and what is wrong with it.
type Error struct {
	Pointer string
	Msg     string
}

func (e *Error) Error() string {
	p := e.Pointer
	if p == "" {
		p = "(the bundle)"
	}
	return "stix: " + p + ": " + e.Msg
}

// ErrBadBundle is what every *Error matches with errors.Is.
var ErrBadBundle = errors.New("stix: bad bundle")

func (e *Error) Is(target error) bool { return target == ErrBadBundle }

func bad(ptr, format string, args ...any) error {
	return &Error{Pointer: ptr, Msg: fmt.Sprintf(format, args...)}
}

func ptrEsc(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }

// ImportOptions say how incidents become records.
type ImportOptions struct {
	// Author is the importing member: the affected state of incidents that
	// carry no normledger record. It re-files only attributions it wrote
	// or co-attributed at the source (importAttributions).
	Author string
	// Sectors of incidents that carry no normledger record and whose
	// victims' identities name none.
	Sectors []pb.Sector
}

// Imported is what an import would submit.
type Imported struct {
	// Records are incident disclosures, in bundle order, ready to sign.
	Records []*pb.Record
	// Sources are the STIX ids of the incidents they came from.
	Sources []string
	// Attributions are the attribution records a normledger export
	// carried on its attributed-to relationships, in bundle order. They
	// name incidents of Records, which get their record ids only when
	// committed: submit them after Records, as Link returns them.
	Attributions []*ImportedAttribution
	Report       *Report
}

// ImportedAttribution is an attribution record waiting for the record ids
// of the incidents it attributes.
type ImportedAttribution struct {
	// Record is the attribution as signed at the source (an amended one
	// as its newest version), with no incidents (Link fills them in), no
	// refs and no client time; re-filed by a co-attributor, its author at
	// the source is a co-attributor in the importer's place.
	Record *pb.Record
	// Incidents are the indexes in Imported.Records of the attributed
	// incidents, in the order the source record named them.
	Incidents []int
	// Source is the STIX id of the first relationship that carried it.
	Source string
}

// Link returns the attribution records to submit once the imported
// incidents are committed, ids[i] being the record id Records[i] got:
// copies of Attributions whose incidents name those records.
func (imp *Imported) Link(ids []string) ([]*pb.Record, error) {
	if len(ids) != len(imp.Records) {
		return nil, fmt.Errorf("stix: %d record ids for %d imported incidents", len(ids), len(imp.Records))
	}
	var out []*pb.Record
	for _, a := range imp.Attributions {
		rec := proto.Clone(a.Record).(*pb.Record)
		at := rec.GetAttribution()
		if at == nil {
			return nil, fmt.Errorf("stix: %s: not an attribution", a.Source)
		}
		at.Incidents = nil
		for _, k := range a.Incidents {
			if k < 0 || k >= len(ids) || !ledger.IsRecordID(ids[k]) {
				return nil, fmt.Errorf("stix: %s: no record id for imported incident %d", a.Source, k)
			}
			at.Incidents = append(at.Incidents, ids[k])
		}
		out = append(out, rec)
	}
	return out, nil
}

var (
	idPattern = regexp.MustCompile(`^([a-z][a-z0-9-]+[a-z0-9])--[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tsPattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$`)
)

// Required properties (besides type, id, spec_version) of the types STIX
// 2.1 defines; SCOs need only type and id.
var required = map[string][]string{
	"attack-pattern": {"created", "modified", "name"}, "campaign": {"created", "modified", "name"},
	"course-of-action": {"created", "modified", "name"}, "grouping": {"created", "modified", "context", "object_refs"},
	"identity": {"created", "modified", "name"}, "incident": {"created", "modified", "name"},
	"indicator": {"created", "modified", "pattern", "pattern_type", "valid_from"}, "infrastructure": {"created", "modified", "name"},
	"intrusion-set": {"created", "modified", "name"}, "location": {"created", "modified"},
	"malware": {"created", "modified", "is_family"}, "malware-analysis": {"created", "modified", "product"},
	"note": {"created", "modified", "content", "object_refs"}, "observed-data": {"created", "modified", "first_observed", "last_observed", "number_observed"},
	"opinion": {"created", "modified", "opinion", "object_refs"}, "report": {"created", "modified", "name", "published", "object_refs"},
	"threat-actor": {"created", "modified", "name"}, "tool": {"created", "modified", "name"},
	"vulnerability": {"created", "modified", "name"}, "relationship": {"created", "modified", "relationship_type", "source_ref", "target_ref"},
	"sighting": {"created", "modified", "sighting_of_ref"}, "marking-definition": {"created"},
	"language-content":     {"created", "modified", "object_ref", "contents"},
	"extension-definition": {"created", "modified", "created_by_ref", "name", "schema", "version", "extension_types"},
}

var scoTypes = map[string]bool{
	"artifact": true, "autonomous-system": true, "directory": true, "domain-name": true, "email-addr": true, "email-message": true,
	"file": true, "ipv4-addr": true, "ipv6-addr": true, "mac-addr": true, "mutex": true, "network-traffic": true, "process": true,
	"software": true, "url": true, "user-account": true, "windows-registry-key": true, "x509-certificate": true,
}

var timestampProps = []string{"created", "modified", "published", "valid_from", "valid_until", "first_seen", "last_seen",
	"first_observed", "last_observed", "start_time", "stop_time"}

// Import reads a STIX 2.1 bundle and turns its incidents into incident
// disclosures, and the attributions a normledger export carried on its
// attributed-to relationships into attribution records of those incidents
// (Imported.Attributions, submitted after the incidents: Link). A bad
// bundle is an *Error naming the offending value, and nothing is returned
// to submit.
func Import(data []byte, opt ImportOptions) (*Imported, error) {
	if len(data) > MaxBundleBytes {
		return nil, bad("", "%d bytes exceed the limit of %d", len(data), MaxBundleBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, bad("", "not JSON: %v (at byte %d)", err, se.Offset)
		}
		return nil, bad("", "not JSON: %v", err)
	}
	if dec.More() {
		return nil, bad("", "not JSON: data after the bundle")
	}
	b, ok := top.(map[string]any)
	if !ok {
		return nil, bad("", "a bundle is a JSON object")
	}
	if t, _ := b["type"].(string); t != "bundle" {
		return nil, bad("/type", "want \"bundle\", got %s", show(b["type"]))
	}
	if sv, ok := b["spec_version"]; ok {
		// STIX 2.0 bundles carried a spec_version; 2.1 puts it on each object.
		return nil, bad("/spec_version", "a STIX 2.1 bundle has no spec_version (got %s): only STIX 2.1 is supported", show(sv))
	}
	if err := checkID("/id", b["id"], "bundle"); err != nil {
		return nil, err
	}
	raw, ok := b["objects"]
	if !ok {
		return &Imported{Report: &Report{}}, nil
	}
	objs, ok := raw.([]any)
	if !ok {
		return nil, bad("/objects", "want an array, got %s", show(raw))
	}
	if len(objs) > MaxBundleObjects {
		return nil, bad("/objects", "%d objects exceed the limit of %d", len(objs), MaxBundleObjects)
	}
	byID := map[string]map[string]any{}
	for i, o := range objs {
		ptr := "/objects/" + strconv.Itoa(i)
		m, ok := o.(map[string]any)
		if !ok {
			return nil, bad(ptr, "an object is a JSON object, got %s", show(o))
		}
		if err := checkObject(ptr, m); err != nil {
			return nil, err
		}
		id := m["id"].(string)
		if _, dup := byID[id]; dup {
			// Versions of one object: the newest wins.
			if newer(byID[id], m) {
				byID[id] = m
			}
			continue
		}
		byID[id] = m
	}
	src := sourceTLPs(objs)
	withdrawn := withdrawnRecords(objs)
	out := &Imported{Report: &Report{Skipped: map[string]int{}}}
	seen := map[string]bool{}       // object ids imported (another tool's incidents)
	seenRecord := map[string]bool{} // record ids imported (normledger incidents)
	// imported maps the record id an imported incident had at its source
	// (normledger exports) to its index in out.Records.
	imported := map[string]int{}
	for i, o := range objs {
		m := o.(map[string]any)
		id := m["id"].(string)
		typ := m["type"].(string)
		ptr := "/objects/" + strconv.Itoa(i)
		if typ == "relationship" && m["relationship_type"] == "attributed-to" && recordExt(m) != nil {
			continue // an attribution: read once the incidents are
		}
		if typ != "incident" {
			out.Report.Skipped[typ]++
			continue
		}
		// A normledger export writes each record as one version: the
		// original and each amendment (the same object id, or, from
		// exports before versions, an object of its own) are records of
		// their own, each imported once. Of another tool's incident only
		// the newest version is read.
		x := recordExt(m)
		rid, _ := x["record_id"].(string)
		if x != nil && rid != "" {
			if seenRecord[rid] {
				continue
			}
			seenRecord[rid] = true
			if why, ok := withdrawn[rid]; ok {
				out.Report.Unmapped = append(out.Report.Unmapped, ptr+": "+why+": not imported")
				continue
			}
		} else {
			if seen[id] || byID[id]["modified"] != m["modified"] {
				continue // an older version, or one already imported
			}
			seen[id] = true
			if rv, _ := m["revoked"].(bool); rv {
				out.Report.Unmapped = append(out.Report.Unmapped, ptr+": revoked (retracted at the source): not imported")
				continue
			}
		}
		rec, err := incidentRecord(ptr, m, byID, src, opt, out.Report)
		if err != nil {
			return nil, err
		}
		if rid != "" {
			imported[rid] = len(out.Records)
		}
		out.Records = append(out.Records, rec)
		out.Sources = append(out.Sources, id)
	}
	if err := importAttributions(objs, byID, imported, src, opt, out); err != nil {
		return nil, err
	}
	if len(out.Report.Skipped) == 0 {
		out.Report.Skipped = nil
	}
	out.Report.Exported = len(out.Records)
	out.Report.Attributions = len(out.Attributions)
	if len(out.Records) > 0 {
		out.Report.NotCarried = NotCarried
	}
	return out, nil
}

func show(v any) string {
	if v == nil {
		return "nothing"
	}
	bz, _ := json.Marshal(v)
	if len(bz) > 60 {
		bz = append(bz[:57], "..."...)
	}
	return string(bz)
}

func newer(a, b map[string]any) bool {
	am, _ := a["modified"].(string)
	bm, _ := b["modified"].(string)
	return bm > am
}

func checkID(ptr string, v any, typ string) error {
	s, ok := v.(string)
	if !ok {
		return bad(ptr, "an identifier is required (type--UUID), got %s", show(v))
	}
	m := idPattern.FindStringSubmatch(s)
	if m == nil {
		return bad(ptr, "%q is not a STIX identifier (type--UUID)", s)
	}
	if typ != "" && m[1] != typ {
		return bad(ptr, "%q is not a %s identifier", s, typ)
	}
	return nil
}

func parseTimestamp(ptr string, v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok || !tsPattern.MatchString(s) {
		return time.Time{}, bad(ptr, "%s is not a STIX timestamp (RFC 3339, UTC, Z)", show(v))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, bad(ptr, "%q is not a valid time: %v", s, err)
	}
	return t, nil
}

// definedByExtension reports whether an object of an unknown type is
// defined by an extension (a new SDO, SRO or SCO).
func definedByExtension(m map[string]any) bool {
	exts, _ := m["extensions"].(map[string]any)
	for k, v := range exts {
		e, _ := v.(map[string]any)
		if t, _ := e["extension_type"].(string); strings.HasPrefix(k, "extension-definition--") && strings.HasPrefix(t, "new-s") {
			return true
		}
	}
	return false
}

func checkObject(ptr string, m map[string]any) error {
	typ, ok := m["type"].(string)
	if !ok {
		return bad(ptr+"/type", "the type is required, got %s", show(m["type"]))
	}
	req, known := required[typ]
	if !known && !scoTypes[typ] && !definedByExtension(m) {
		return bad(ptr+"/type", "unknown object type %q (neither STIX 2.1 nor defined by an extension)", typ)
	}
	if err := checkID(ptr+"/id", m["id"], typ); err != nil {
		return err
	}
	sv, hasSV := m["spec_version"]
	if hasSV || !scoTypes[typ] {
		if s, _ := sv.(string); s != SpecVersion {
			return bad(ptr+"/spec_version", "want \"2.1\", got %s", show(sv))
		}
	}
	for _, p := range req {
		if v, ok := m[p]; !ok || v == nil {
			return bad(ptr+"/"+p, "property %q is required for %s objects", p, typ)
		}
	}
	for _, p := range timestampProps {
		if v, ok := m[p]; ok {
			if _, err := parseTimestamp(ptr+"/"+p, v); err != nil {
				return err
			}
		}
	}
	if c, ok := m["created"]; ok {
		if md, ok := m["modified"]; ok {
			ct, _ := parseTimestamp("", c)
			mt, _ := parseTimestamp("", md)
			if mt.Before(ct) {
				return bad(ptr+"/modified", "modified %s is before created %s", md, c)
			}
		}
	}
	if v, ok := m["created_by_ref"]; ok {
		if err := checkID(ptr+"/created_by_ref", v, "identity"); err != nil {
			return err
		}
	}
	for _, p := range []string{"object_refs", "object_marking_refs"} {
		if v, ok := m[p]; ok {
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return bad(ptr+"/"+p, "a non-empty list of identifiers is required, got %s", show(v))
			}
			for j, x := range list {
				if err := checkID(fmt.Sprintf("%s/%s/%d", ptr, p, j), x, ""); err != nil {
					return err
				}
			}
		}
	}
	for _, p := range []string{"source_ref", "target_ref", "sighting_of_ref"} {
		if v, ok := m[p]; ok {
			if err := checkID(ptr+"/"+p, v, ""); err != nil {
				return err
			}
		}
	}
	if exts, ok := m["extensions"]; ok {
		em, ok := exts.(map[string]any)
		if !ok {
			return bad(ptr+"/extensions", "want an object, got %s", show(exts))
		}
		for k, v := range em {
			e, ok := v.(map[string]any)
			if !ok {
				return bad(ptr+"/extensions/"+ptrEsc(k), "want an object, got %s", show(v))
			}
			if strings.HasPrefix(k, "extension-definition--") {
				if err := checkID(ptr+"/extensions/"+ptrEsc(k), k, "extension-definition"); err != nil {
					return err
				}
				t, _ := e["extension_type"].(string)
				switch t {
				case "new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension":
				default:
					return bad(ptr+"/extensions/"+ptrEsc(k)+"/extension_type", "unknown extension_type %s", show(e["extension_type"]))
				}
			}
		}
	}
	return nil
}

// Incident properties an import reads; any other is reported unmapped.
var incidentRead = map[string]bool{"type": true, "spec_version": true, "id": true, "created": true, "modified": true,
	"name": true, "description": true, "object_marking_refs": true, "extensions": true, "labels": true}

var coreRead = map[string]bool{"extension_type": true, "determination": true, "investigation_status": true,
	"criticality": true, "impact_refs": true}

// incidentRecord turns incident m into an incident disclosure: from the
// normledger record extension when it has one (lossless), else from the
// STIX properties and the Incident Core extension.
func incidentRecord(ptr string, m map[string]any, byID map[string]map[string]any, src map[string]pb.Tlp, opt ImportOptions, rep *Report) (*pb.Record, error) {
	exts, _ := m["extensions"].(map[string]any)
	if x, ok := exts[RecordExtension].(map[string]any); ok {
		return fromRecordExtension(ptr+"/extensions/"+ptrEsc(RecordExtension), x, tlpOf(m["object_marking_refs"]), src, rep)
	}
	unmapped := func(p, why string) { rep.Unmapped = append(rep.Unmapped, ptr+p+": "+why) }
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !incidentRead[k] {
			unmapped("/"+ptrEsc(k), "no ledger field")
		}
	}
	// The label "exercise" marks exercise traffic (record.exercise); other
	// labels have no ledger field.
	labels, _ := m["labels"].([]any)
	exercise := slices.Contains(labels, any("exercise"))
	if slices.ContainsFunc(labels, func(l any) bool { return l != "exercise" }) {
		unmapped("/labels", "no ledger field")
	}
	for _, k := range slices.Sorted(maps.Keys(exts)) {
		if k != IncidentCoreExtension {
			unmapped("/extensions/"+ptrEsc(k), "extension not read")
		}
	}
	name, _ := m["name"].(string)
	desc, _ := m["description"].(string)
	d := &pb.IncidentDisclosure{Summary: strings.TrimSpace(desc), Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
		AffectedStates: []string{opt.Author}, Stage: pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION}
	if d.Summary == "" {
		d.Summary = name
	}
	d.IncidentRef = incidentRef(name, m["id"].(string))
	if d.IncidentRef != name {
		unmapped("/name", fmt.Sprintf("not a ledger reference; incident_ref %q used, the name kept in the summary", d.IncidentRef))
		if !strings.Contains(d.Summary, name) {
			d.Summary = name + ": " + d.Summary
		}
	}
	created, _ := parseTimestamp("", m["created"])
	d.DetectedAt, d.AwareAt = timestamppb.New(created), timestamppb.New(created)
	unmapped("/created", "no detection or awareness time in STIX: detected_at and aware_at set to created")
	d.Severity = pb.Severity_SEVERITY_MEDIUM
	core, hasCore := exts[IncidentCoreExtension].(map[string]any)
	if hasCore {
		cptr := ptr + "/extensions/" + ptrEsc(IncidentCoreExtension)
		for _, k := range slices.Sorted(maps.Keys(core)) {
			if !coreRead[k] {
				unmapped("/extensions/"+ptrEsc(IncidentCoreExtension)+"/"+ptrEsc(k), "no ledger field")
			}
		}
		// incident-investigation-ov (an open vocabulary).
		switch s, _ := core["investigation_status"].(string); s {
		case "new":
			d.Stage = pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING
		case "closed":
			d.Stage = pb.DisclosureStage_DISCLOSURE_STAGE_FINAL
		case "open", "":
		default:
			unmapped("/extensions/"+ptrEsc(IncidentCoreExtension)+"/investigation_status", fmt.Sprintf("%q is not in incident-investigation-ov: stage notification assumed", s))
		}
		// incident-determination-enum: Incident Core 2.0 and 2.1 (blocked,
		// confirmed, failed-attempt, false-positive, suspected) and the
		// 2.0 drafts before it (successful-attempt for confirmed, and
		// low-value).
		switch det, _ := core["determination"].(string); det {
		case "false-positive":
			return nil, bad(cptr+"/determination", "a false positive is not an incident to disclose")
		case "blocked":
			d.Outcome = pb.IncidentOutcome_INCIDENT_OUTCOME_BLOCKED
		case "failed-attempt":
			d.Outcome = pb.IncidentOutcome_INCIDENT_OUTCOME_FAILED_ATTEMPT
		case "confirmed", "successful-attempt", "suspected", "":
		case "low-value":
			unmapped("/extensions/"+ptrEsc(IncidentCoreExtension)+"/determination", "low-value (an incident of no importance, Incident Core 2.0 drafts) has no ledger field: imported as an incident")
		default:
			return nil, bad(cptr+"/determination", "%q is not in incident-determination-enum", det)
		}
		if c, ok := core["criticality"]; ok {
			num, isNum := c.(json.Number)
			n, err := num.Int64()
			if !isNum || err != nil || n < 0 || n > 100 {
				return nil, bad(cptr+"/criticality", "an integer from 0 to 100 is required, got %s", show(c))
			}
			switch {
			case n < 30:
				d.Severity = pb.Severity_SEVERITY_LOW
			case n < 50:
				d.Severity = pb.Severity_SEVERITY_MEDIUM
			case n < 90:
				d.Severity = pb.Severity_SEVERITY_HIGH
			default:
				d.Severity = pb.Severity_SEVERITY_CRITICAL
			}
		} else {
			unmapped("/extensions/"+ptrEsc(IncidentCoreExtension), "no criticality: severity medium assumed")
		}
		refs, _ := core["impact_refs"].([]any)
		for j, r := range refs {
			im := byID[fmt.Sprint(r)]
			if im == nil {
				unmapped(fmt.Sprintf("/extensions/%s/impact_refs/%d", ptrEsc(IncidentCoreExtension), j), "impact not in the bundle")
				continue
			}
			if s, _ := im["description"].(string); s != "" {
				d.Impacts = append(d.Impacts, s)
			}
			iptr := fmt.Sprintf("/extensions/%s/impact_refs/%d", ptrEsc(IncidentCoreExtension), j)
			for _, k := range slices.Sorted(maps.Keys(im)) {
				switch k {
				case "type", "spec_version", "id", "created", "modified", "description", "start_time", "extensions", "impact_category":
				default:
					unmapped(iptr, fmt.Sprintf("impact property %q has no ledger field", k))
				}
			}
			if cat, key := ImpactCategory(im); cat != "" {
				if key == "" {
					unmapped(iptr, fmt.Sprintf("impact category %q has no extension of its name", cat))
				} else {
					unmapped(iptr, fmt.Sprintf("impact category %q (extensions/%s) has no ledger field", cat, ptrEsc(key)))
				}
			}
			if st, ok := im["start_time"]; ok && d.FirstObservedAt == nil {
				if t, err := parseTimestamp("", st); err == nil && !t.After(created) {
					d.FirstObservedAt = timestamppb.New(t)
				}
			}
		}
	} else {
		unmapped("/extensions", "no Incident Core extension: stage notification and severity medium assumed")
	}
	d.Sectors = victimSectors(m["id"].(string), byID)
	if len(d.Sectors) == 0 {
		d.Sectors = opt.Sectors
	}
	if len(d.Sectors) == 0 {
		return nil, bad(ptr, "no sector: the incident's victims name no industry sector the ledger knows; pass the sectors to assume")
	}
	rec := &pb.Record{SchemaVersion: 1, Exercise: exercise, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: d}}
	rec.Tlp = tlpOf(m["object_marking_refs"])
	return rec, nil
}

// ImpactCategory is the category of impact object im (its
// impact_category without the "-ext" suffix) and the key of its
// extensions that holds the category's details, or "" if none does. It
// reads every form of the Incident Extension Suite: the category named
// without the suffix (2.1, revision 07) or with it (2.1 drafts until
// revision 06), and the details under the name with the suffix (2.0 and
// later: "external-ext") or without it (the 2.0 drafts: "external").
// Incident Core 2.1 renamed the monetary category economic; both are
// categories of their own here, as in the extension keys.
func ImpactCategory(im map[string]any) (category, key string) {
	cat, _ := im["impact_category"].(string)
	category = strings.TrimSuffix(cat, "-ext")
	if category == "" {
		return "", ""
	}
	exts, _ := im["extensions"].(map[string]any)
	for _, k := range []string{category + "-ext", category} {
		if _, ok := exts[k].(map[string]any); ok {
			return category, k
		}
	}
	return category, ""
}

func incidentRef(name, id string) string {
	if ledger.IsToken(name) {
		return name
	}
	return "STIX-" + strings.TrimPrefix(id, "incident--")[:8]
}

// tlpOf is the strictest TLP of the official markings in v (an
// object_marking_refs list), UNSPECIFIED if none.
func tlpOf(v any) pb.Tlp {
	out := pb.Tlp_TLP_UNSPECIFIED
	list, _ := v.([]any)
	for _, x := range list {
		for _, m := range tlpMarkings {
			if x == m.id {
				out = strictest(out, m.tlp)
			}
		}
	}
	return out
}

// withdrawnRecords maps the id at the source of every record a version
// of the bundle shows withdrawn (a revoked version carrying it, or its
// record extension naming the retraction) to why.
func withdrawnRecords(objs []any) map[string]string {
	out := map[string]string{}
	for _, o := range objs {
		m := o.(map[string]any)
		x := recordExt(m)
		rid, _ := x["record_id"].(string)
		if rid == "" {
			continue
		}
		ret, _ := x["retracted_by"].(string)
		switch rv, _ := m["revoked"].(bool); {
		case ret != "":
			out[rid] = "record " + rid + " was retracted at the source (retraction " + ret + ")"
		case rv:
			out[rid] = "revoked (retracted at the source)"
		}
	}
	return out
}

// sourceTLPs maps the id at the source of every record a normledger
// record extension of the bundle carries (in any version of any object)
// to its TLP as signed (what an amendment of it in the same bundle
// inherits).
func sourceTLPs(objs []any) map[string]pb.Tlp {
	out := map[string]pb.Tlp{}
	for _, o := range objs {
		x := recordExt(o.(map[string]any))
		rid, _ := x["record_id"].(string)
		rec, _ := x["record"].(map[string]any)
		name, _ := rec["tlp"].(string)
		if t, ok := pb.Tlp_value[name]; ok && rid != "" {
			out[rid] = strictest(out[rid], pb.Tlp(t))
		}
	}
	return out
}

// victimSectors are the ledger sectors of the identities an incident's
// relationships or impacts name.
func victimSectors(incident string, byID map[string]map[string]any) []pb.Sector {
	var ids []string
	for _, o := range byID {
		if o["type"] == "relationship" && o["source_ref"] == incident {
			ids = append(ids, fmt.Sprint(o["target_ref"]))
		}
	}
	set := map[pb.Sector]bool{}
	for _, id := range ids {
		o := byID[id]
		if o == nil || o["type"] != "identity" {
			continue
		}
		list, _ := o["sectors"].([]any)
		for _, s := range list {
			for sec, name := range sectorNames {
				if s == name {
					set[sec] = true
				}
			}
		}
	}
	var out []pb.Sector
	for s := range set {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// recordExt is the normledger record extension of object m, or nil.
func recordExt(m map[string]any) map[string]any {
	exts, _ := m["extensions"].(map[string]any)
	x, _ := exts[RecordExtension].(map[string]any)
	return x
}

// fromRecordExtension decodes the incident disclosure a normledger export
// carried on an object marked marked.
func fromRecordExtension(ptr string, x map[string]any, marked pb.Tlp, src map[string]pb.Tlp, rep *Report) (*pb.Record, error) {
	rec, err := decodeRecordExtension(ptr, x, marked, src)
	if err != nil {
		return nil, err
	}
	if rec.GetIncidentDisclosure() == nil {
		return nil, bad(ptr+"/record", "an incident's record is not an incident disclosure")
	}
	if len(rec.Refs) > 0 {
		rep.Unmapped = append(rep.Unmapped, fmt.Sprintf("%s/record/refs: %d references to records of the exporting ledger dropped", ptr, len(rec.Refs)))
		rec.Refs = nil
	}
	rec.ClientTime = nil
	rec.SchemaVersion = 1
	return rec, nil
}

// decodeRecordExtension decodes the record of a normledger record
// extension on an object marked marked: an amendment as its new version
// (with the amendment's exercise flag where the new version sets none).
// Its TLP is the strictest of the record's, the object's marking and, for
// an amendment, the amendment's and the original's (src, when the bundle
// carries the original): an amendment never loosens the original's TLP,
// whether or not its new version restates it.
func decodeRecordExtension(ptr string, x map[string]any, marked pb.Tlp, src map[string]pb.Tlp) (*pb.Record, error) {
	raw, ok := x["record"]
	if !ok {
		return nil, bad(ptr+"/record", "the normledger extension carries no record")
	}
	bz, err := json.Marshal(raw)
	if err != nil {
		return nil, bad(ptr+"/record", "%v", err)
	}
	rec := new(pb.Record)
	if err := (protojson.UnmarshalOptions{}).Unmarshal(bz, rec); err != nil {
		return nil, bad(ptr+"/record", "not a normledger record: %v", err)
	}
	tlp := strictest(rec.Tlp, marked)
	if am := rec.GetAmendment(); am != nil {
		exercise := rec.Exercise
		tlp = strictest(tlp, src[am.TargetId])
		rec = am.Replacement
		if rec == nil {
			return nil, bad(ptr+"/record/amendment", "no replacement")
		}
		rec.Exercise = rec.Exercise || exercise
	}
	rec.Tlp = strictest(rec.Tlp, tlp)
	return rec, nil
}
