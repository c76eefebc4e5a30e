package stix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// MISP core format (draft-misp-core-format): one event per incident
// disclosure, with the incident as a MISP "incident" object (the template
// that mirrors STIX Incident Core), its text, impacts and ledger link as
// attributes, and the TLP as a tlp: tag. Values are strings, as the format
// wants; uuids are UUIDv5 like the STIX ids, so re-exports update events.
//
// A near-miss carries the incident object's determination (blocked,
// failed-attempt), exercise traffic the exercise:generic tag of MISP's
// exercise taxonomy. An amendment's event is its new version's, tagged
// with the strictest of the original's, the amendment's and the new
// version's TLP. MISP has no object for an attribution: the newest version
// of one (an amendment supersedes the original) rides in the event of the
// newest version of each incident it attributes (events are keyed by
// record, one per version): one attribute per attributed party of MISP's
// own type for it (threat-actor, category Attribution) whose comment says
// the attribution in words (withheld values never, as in STIX), and a link
// to the signed record, tagged with the attribution's TLP (and exercise)
// tags. It is left out of an event whose TLP is less strict than its own.

// MISPIncidentTemplate is the MISP object template "incident".
const (
	MISPIncidentTemplate        = "38597424-f9bb-4865-9b4b-819172df0334"
	MISPIncidentTemplateVersion = "1"
)

// MISPEvent is a MISP event.
type MISPEvent struct {
	UUID             string          `json:"uuid"`
	Info             string          `json:"info"`
	Date             string          `json:"date"`
	ThreatLevelID    string          `json:"threat_level_id"`
	Analysis         string          `json:"analysis"`
	Distribution     string          `json:"distribution"`
	Published        bool            `json:"published"`
	Timestamp        string          `json:"timestamp"`
	PublishTimestamp string          `json:"publish_timestamp"`
	AttributeCount   string          `json:"attribute_count"`
	Orgc             MISPOrg         `json:"Orgc"`
	Tag              []MISPTag       `json:"Tag,omitempty"`
	Attribute        []MISPAttribute `json:"Attribute"`
	Object           []MISPObject    `json:"Object"`
}

// MISPOrg is the creator organisation of an event.
type MISPOrg struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

// MISPTag is a taxonomy tag.
type MISPTag struct {
	Name       string `json:"name"`
	Colour     string `json:"colour,omitempty"`
	Exportable bool   `json:"exportable"`
}

// MISPAttribute is an attribute of an event or object.
type MISPAttribute struct {
	UUID           string    `json:"uuid"`
	ObjectRelation string    `json:"object_relation,omitempty"`
	Type           string    `json:"type"`
	Category       string    `json:"category"`
	Value          string    `json:"value"`
	ToIDs          bool      `json:"to_ids"`
	Distribution   string    `json:"distribution"`
	Timestamp      string    `json:"timestamp"`
	Comment        string    `json:"comment"`
	Deleted        bool      `json:"deleted"`
	FirstSeen      string    `json:"first_seen,omitempty"`
	Tag            []MISPTag `json:"Tag,omitempty"`
}

// MISPObject is an object (a template instance) of an event.
type MISPObject struct {
	UUID            string          `json:"uuid"`
	Name            string          `json:"name"`
	MetaCategory    string          `json:"meta-category"`
	Description     string          `json:"description"`
	TemplateUUID    string          `json:"template_uuid"`
	TemplateVersion string          `json:"template_version"`
	Timestamp       string          `json:"timestamp"`
	Distribution    string          `json:"distribution"`
	Deleted         bool            `json:"deleted"`
	Comment         string          `json:"comment"`
	Attribute       []MISPAttribute `json:"Attribute"`
}

var tlpColour = map[pb.Tlp]string{pb.Tlp_TLP_CLEAR: "#ffffff", pb.Tlp_TLP_GREEN: "#33FF00", pb.Tlp_TLP_AMBER: "#FFC000",
	pb.Tlp_TLP_AMBER_STRICT: "#FFC000", pb.Tlp_TLP_RED: "#FF2B2B"}

func mispUUID(name string) string { return uuid.NewSHA1(Namespace, []byte("misp\x00"+name)).String() }

// MISPExerciseTag marks exercise traffic: the "generic" (unnamed exercise)
// predicate of MISP's exercise taxonomy.
const MISPExerciseTag = "exercise:generic"

// tlpRank orders TLP levels by strictness; an unmarked record restricts
// nothing more than TLP:CLEAR.
func tlpRank(t pb.Tlp) int {
	if t == pb.Tlp_TLP_UNSPECIFIED {
		return int(pb.Tlp_TLP_CLEAR)
	}
	return int(t)
}

// mispTags are the tags of a record's TLP and exercise flag.
func mispTags(tlp pb.Tlp, exercise bool) []MISPTag {
	var tags []MISPTag
	if m := markingOf(tlp); m != nil {
		tags = append(tags, MISPTag{Name: m.misp, Colour: tlpColour[tlp], Exportable: true})
	}
	if exercise {
		tags = append(tags, MISPTag{Name: MISPExerciseTag, Exportable: true})
	}
	return tags
}

// mispAttribution is an attribution the MISP export carries.
type mispAttribution struct {
	r       *pb.StoredRecord
	body    *pb.Record // the attribution (an amendment's new version), with its effective TLP
	carried bool
}

// mispEvent is an event being made, and whether the export holds it.
type mispEvent struct {
	ev       MISPEvent
	record   string // the incident record's id
	tlp      pb.Tlp
	time     int64
	selected bool // chosen by the filter (else made only to carry attributions)
	carries  bool
}

// MISPAttributionNote is what the MISP report says of attributions: MISP
// has no object for one, so it rides in incident events.
const MISPAttributionNote = "attributions as objects of their own: MISP has none, so an attribution rides only in the event of the " +
	"newest version of each incident it names (an export of attributions alone exports those events to carry them); " +
	"one whose TLP is stricter than that event's, or whose incidents have no event, is left out and counted as skipped"

// MISP exports the incident disclosures f selects (amendments as their new
// version) as MISP events: {"response": [{"Event": ...}, ...]}, the shape
// of MISP's own event export. The attributions f selects ride in the
// events of the newest versions of the incidents they name; when f
// selects attributions and not incidents, those events are exported to
// carry them (since and member then select the attributions).
func MISP(in Input, f Filter) ([]byte, *Report, error) {
	return mispExport(in, f, false)
}

// mispExport is MISP; keepRetracted keeps the events of retracted
// incident disclosures (without attributions), for a feed that marks them
// deleted (BuildMISPFeed).
func mispExport(in Input, f Filter, keepRetracted bool) ([]byte, *Report, error) {
	rep := &Report{Skipped: map[string]int{}}
	names := map[string]string{}
	for _, m := range in.Members {
		names[m.Id] = m.Name
	}
	type wrapped struct {
		Event MISPEvent `json:"Event"`
	}
	out := struct {
		Response []wrapped `json:"response"`
	}{Response: []wrapped{}}
	retracted := map[string]bool{}
	for _, r := range in.Records {
		if r.Kind == pb.RecordKind_RECORD_KIND_RETRACTION {
			if tx, err := ledger.DecodeTx(r.Tx, 0); err == nil {
				retracted[tx.Body.Record.GetRetraction().GetTargetId()] = true
			}
		}
	}
	v, err := newVersions(in, retracted)
	if err != nil {
		return nil, nil, err
	}
	kindSelected := func(r *pb.StoredRecord, kind pb.RecordKind) bool {
		return len(f.Kinds) == 0 || slices.Contains(f.Kinds, r.Kind) || slices.Contains(f.Kinds, kind)
	}
	// Only attributions selected: the events are made for them.
	carrierOnly := len(f.Kinds) > 0 && !slices.Contains(f.Kinds, pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE) &&
		!slices.Contains(f.Kinds, pb.RecordKind_RECORD_KIND_AMENDMENT) && slices.Contains(f.Kinds, pb.RecordKind_RECORD_KIND_ATTRIBUTION)
	var attributions []*mispAttribution
	var events []*mispEvent
	byRecord := map[string]*mispEvent{}
	for _, r := range in.Records {
		if retracted[r.Id] && !keepRetracted {
			rep.Skipped["retracted "+ledger.KindNameOf(r.Kind)]++
			continue
		}
		rec, err := v.record(r.Id)
		if err != nil {
			return nil, nil, fmt.Errorf("record %s: %w", r.Id, err)
		}
		body, kind, amends, err := v.effective(r, rec)
		if err != nil {
			return nil, nil, fmt.Errorf("record %s: %w", r.Id, err)
		}
		if retracted[r.Id] && kind != pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE {
			rep.Skipped["retracted "+ledger.KindNameOf(r.Kind)]++
			continue
		}
		if kind == pb.RecordKind_RECORD_KIND_ATTRIBUTION {
			// Only the newest version of an attribution rides (an
			// amendment supersedes the original it amends).
			orig := orDefault(amends, r.Id)
			switch {
			case v.newest(orig) != r.Id:
				rep.Skipped["superseded "+ledger.KindNameOf(r.Kind)]++
			case !kindSelected(r, kind):
			case carrierOnly && (!f.Since.IsZero() && r.BlockTime.AsTime().Before(f.Since) ||
				f.Member != "" && r.Author != f.Member && !slices.Contains(concerns(rec), f.Member)):
			default:
				attributions = append(attributions, &mispAttribution{r: r, body: body})
			}
			continue
		}
		d := body.GetIncidentDisclosure()
		if d == nil {
			rep.Skipped[ledger.KindNameOf(r.Kind)]++
			continue
		}
		selected := kindSelected(r, kind) && (f.Since.IsZero() || !r.BlockTime.AsTime().Before(f.Since)) &&
			(f.Member == "" || r.Author == f.Member || slices.Contains(d.AffectedStates, f.Member))
		if !selected && !carrierOnly {
			continue
		}
		me := mispIncidentEvent(in, names, r, rec, body, d)
		me.selected = selected
		events = append(events, me)
		if !retracted[r.Id] {
			byRecord[r.Id] = me // a retracted incident's event carries no attribution
		}
	}
	// Each attribution rides in the event of the newest version of each
	// incident it names (the ledger's attributions name originals), if
	// that event is at least as strict.
	for _, a := range attributions {
		for _, inc := range a.body.GetAttribution().Incidents {
			// The newest version the filter let through.
			var me *mispEvent
			for vs, i := append([]string{inc}, v.amendments[inc]...), len(v.amendments[inc]); me == nil && i >= 0; i-- {
				me = byRecord[vs[i]]
			}
			if me == nil || tlpRank(a.body.Tlp) > tlpRank(me.tlp) {
				continue // no event, or one less strict than the attribution
			}
			me.ev.Attribute = append(me.ev.Attribute, mispAttributionAttributes(in, names, me.record, a)...)
			// The event changed when the attribution came.
			if t := a.r.BlockTime.AsTime().Unix(); t > me.time {
				me.time = t
			}
			me.carries, a.carried = true, true
		}
	}
	for _, me := range events {
		if !me.selected && !me.carries {
			continue
		}
		ev := me.ev
		ev.Timestamp = strconv.FormatInt(me.time, 10)
		count := len(ev.Attribute)
		for _, o := range ev.Object {
			count += len(o.Attribute)
		}
		ev.AttributeCount = strconv.Itoa(count)
		out.Response = append(out.Response, wrapped{ev})
		rep.Exported++
	}
	for _, a := range attributions {
		if !a.carried {
			rep.Skipped[ledger.KindNameOf(a.r.Kind)]++
		}
	}
	if len(attributions) > 0 {
		rep.NotCarried = append(rep.NotCarried, MISPAttributionNote)
	}
	if note := v.unknownNote(); note != "" {
		rep.NotCarried = append(rep.NotCarried, note)
	}
	if len(rep.Skipped) == 0 {
		rep.Skipped = nil
	}
	bz, err := json.Marshal(out)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bz, "", "  "); err != nil {
		return nil, nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), rep, nil
}

// mispIncidentEvent is the event of incident record r (rec as signed; body
// the disclosure d it stands for, with its effective TLP), without
// attributions.
func mispIncidentEvent(in Input, names map[string]string, r *pb.StoredRecord, rec, body *pb.Record, d *pb.IncidentDisclosure) *mispEvent {
	ts := strconv.FormatInt(r.BlockTime.AsTime().Unix(), 10)
	n := 0
	attr := func(rel, typ, cat, value, comment string) MISPAttribute {
		n++
		return MISPAttribute{UUID: mispUUID(fmt.Sprintf("%s/%d/%s", r.Id, n, rel)), ObjectRelation: rel, Type: typ, Category: cat,
			Value: value, Distribution: "5", Timestamp: ts, Comment: comment}
	}
	threat := map[pb.Severity]string{pb.Severity_SEVERITY_CRITICAL: "1", pb.Severity_SEVERITY_HIGH: "1",
		pb.Severity_SEVERITY_MEDIUM: "2", pb.Severity_SEVERITY_LOW: "3"}[d.Severity]
	if threat == "" {
		threat = "4"
	}
	analysis := map[pb.DisclosureStage]string{pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING: "0",
		pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION: "1", pb.DisclosureStage_DISCLOSURE_STAGE_FINAL: "2",
		pb.DisclosureStage_DISCLOSURE_STAGE_INTERMEDIATE: "1", pb.DisclosureStage_DISCLOSURE_STAGE_PROGRESS: "1"}[d.Stage]
	crit := "Not Specified"
	if c, ok := criticality[d.Severity]; ok {
		crit = map[int]string{15: "Low", 40: "Moderate", 70: "High", 95: "Extreme"}[c]
	}
	status := map[pb.DisclosureStage]string{pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING: "new",
		pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION: "open", pb.DisclosureStage_DISCLOSURE_STAGE_FINAL: "closed",
		pb.DisclosureStage_DISCLOSURE_STAGE_INTERMEDIATE: "open", pb.DisclosureStage_DISCLOSURE_STAGE_PROGRESS: "open"}[d.Stage]
	obj := MISPObject{UUID: mispUUID(r.Id + "/incident"), Name: "incident", MetaCategory: "misc",
		Description:  "Incident object template as described in STIX 2.1 Incident object and its core extension.",
		TemplateUUID: MISPIncidentTemplate, TemplateVersion: MISPIncidentTemplateVersion, Timestamp: ts, Distribution: "5",
		Comment: "normledger " + ledger.KindNameOf(r.Kind) + " " + r.Id,
		Attribute: []MISPAttribute{
			attr("name", "text", "Other", d.IncidentRef, ""),
			attr("description", "text", "Other", withheld(d.Summary, body.Redaction), ""),
			attr("criticality", "text", "Other", crit, "from severity "+enum.Name(d.Severity)),
			attr("investigation_status", "text", "Other", status, "from stage "+enum.Name(d.Stage)),
		}}
	if det, ok := determination[d.Outcome]; ok {
		obj.Attribute = append(obj.Attribute, attr("determination", "text", "Other", det, "near-miss: outcome "+enum.Name(d.Outcome)))
	} else if d.Stage == pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING {
		obj.Attribute = append(obj.Attribute, attr("determination", "text", "Other", "suspected", ""))
	}
	ev := MISPEvent{UUID: mispUUID(r.Id), Info: oneLine(d.IncidentRef + ": " + withheld(d.Summary, body.Redaction)), Date: r.BlockTime.AsTime().UTC().Format("2006-01-02"),
		ThreatLevelID: threat, Analysis: analysis, Distribution: "1", Timestamp: ts, PublishTimestamp: "0",
		Orgc:   MISPOrg{Name: orDefault(names[r.Author], r.Author), UUID: mispUUID("member/" + r.Author)},
		Object: []MISPObject{obj}}
	ev.Tag = mispTags(body.Tlp, rec.Exercise || body.Exercise)
	ev.Attribute = append(ev.Attribute, attr("", "link", "Internal reference", strings.TrimSuffix(in.BaseURL, "/")+"/v1/records/"+r.Id+"?prove=true",
		"the signed record on the normledger ledger, with its merkle proof"))
	for _, s := range d.Sectors {
		ev.Attribute = append(ev.Attribute, attr("", "text", "Other", "sector: "+sectorNames[s], "affected civilian sector"))
	}
	for _, a := range d.AffectedStates {
		ev.Attribute = append(ev.Attribute, attr("", "text", "Other", "affected state: "+orDefault(names[a], a), a))
	}
	for _, im := range d.Impacts {
		ev.Attribute = append(ev.Attribute, attr("", "text", "Other", im, "impact"))
	}
	if v := d.Vulnerability; v != nil {
		comment := strings.TrimSpace(fmt.Sprintf("vulnerability of %s; actively exploited: %v", orDefault(v.Product, "an unnamed product"), v.ActivelyExploited))
		if cve.MatchString(v.Identifier) {
			ev.Attribute = append(ev.Attribute, attr("", "vulnerability", "External analysis", v.Identifier, comment))
		} else {
			ev.Attribute = append(ev.Attribute, attr("", "text", "Other", "vulnerability: "+v.Identifier, comment))
		}
	}
	for _, t := range []struct {
		name string
		ts   *timestamppb.Timestamp
	}{{"first_observed_at", d.FirstObservedAt}, {"detected_at", d.DetectedAt}, {"aware_at", d.AwareAt},
		{"contained_at", d.ContainedAt}, {"remediated_at", d.RemediatedAt}, {"corrective_measure_at", d.CorrectiveMeasureAt}} {
		if t.ts != nil {
			ev.Attribute = append(ev.Attribute, attr("", "datetime", "Other", t.ts.AsTime().UTC().Format("2006-01-02T15:04:05.000000+00:00"), t.name))
		}
	}
	return &mispEvent{ev: ev, record: r.Id, tlp: body.Tlp, time: r.BlockTime.AsTime().Unix()}
}

// cve is the shape MISP's vulnerability attribute type accepts.
var cve = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// mispAttributionAttributes are the attributes of attribution a in the
// event of incident record incident: a threat-actor attribute per party,
// saying the attribution in words (never a withheld value), and a link to
// the signed record.
func mispAttributionAttributes(in Input, names map[string]string, incident string, a *mispAttribution) []MISPAttribute {
	at := a.body.GetAttribution()
	ts := strconv.FormatInt(a.r.BlockTime.AsTime().Unix(), 10)
	tags := mispTags(a.body.Tlp, a.body.Exercise)
	var out []MISPAttribute
	for _, p := range at.Attributed {
		name := orDefault(names[p.Party], p.Party)
		out = append(out, MISPAttribute{UUID: mispUUID(incident + "/attribution/" + a.r.Id + "/" + p.Party), Type: "threat-actor",
			Category: "Attribution", Value: name, Distribution: "5", Timestamp: ts, Tag: tags,
			Comment: withheld(attributionText(a.r.Author, at, p, name), a.body.Redaction)})
	}
	return append(out, MISPAttribute{UUID: mispUUID(incident + "/attribution/" + a.r.Id), Type: "link", Category: "Internal reference",
		Value: strings.TrimSuffix(in.BaseURL, "/") + "/v1/records/" + a.r.Id + "?prove=true", Distribution: "5", Timestamp: ts, Tag: tags,
		Comment: "the signed " + human(at.Kind) + " attribution on the normledger ledger, with its merkle proof"})
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 256 {
		s = string(r[:253]) + "..."
	}
	return s
}
