package stix

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Attributions (app version 12) in STIX.
//
// STIX 2.1 has no attribution object: "incident X is attributed to Y" is a
// relationship, and the relationship CTI platforms read as attribution of
// an incident is `attributed-to` from the incident to a threat-actor (or
// intrusion-set or campaign); OpenCTI refuses incident attributed-to
// identity, and STIX defines attributed-to identity only from a
// threat-actor ("the real identity behind the actor"). So an attribution
// record is exported as:
//
//   - one threat-actor per attributed party, named by the party (a member's
//     registry name). threat_actor_types is nation-state when the conduct
//     basis makes the conduct a state's (state organ, empowered entity,
//     direction or control, acknowledgement: ARSIWA arts. 4, 5, 8, 11) and
//     unknown for a non-state actor (the record does not say what kind).
//     Not an intrusion-set: that is a cluster of adversary behaviour and
//     resources, which an attribution does not describe; it names who is
//     responsible, which is a threat actor. The object is the
//     attribution's own (its id derives from the record id and the party),
//     so it carries the attribution's author, TLP marking, ledger link and
//     revocation: a party named under TLP:RED in one attribution is not
//     merged into a shared object seen under another's marking;
//   - for a party that is a ledger member, threat-actor attributed-to the
//     member's identity;
//   - for every attributed incident and party, incident attributed-to
//     threat-actor, with the STIX confidence of the attribution, a
//     description in words (kind, conduct, standard of proof, legal basis,
//     confidences, evidence digest, co-attributors, reply window and the
//     summary, withheld values never included) and the normledger record
//     extension carrying the attribution as signed, which is what the
//     importer reads back (once per record).
//
// The source of the incident relationship is the deterministic id of the
// incident's object, whether or not the incident is in the same export.
//
// An amended attribution is exported as its new version: objects of the
// amendment (their ids derive from the amendment's record id), marked
// with the strictest of the original's, the amendment's and the new
// version's TLP, and each of its threat actors derived-from the original's
// threat actor for the same party (for a party the original did not name,
// from each of the original's threat actors). STIX relates SDOs and SCOs
// only, never relationships, so the new version's attributed-to
// relationships are linked to the original's through their threat actors
// (and the record extension, whose record is the amendment naming the
// original).

// stixConfidence is the STIX 2.1 confidence (Appendix A, None/Low/Med/High
// scale) of a ledger confidence.
var stixConfidence = map[pb.Confidence]int{
	pb.Confidence_CONFIDENCE_LOW: 15, pb.Confidence_CONFIDENCE_MODERATE: 50, pb.Confidence_CONFIDENCE_HIGH: 85,
}

// human is an enum value in words ("direction or control").
func human(v protoreflect.Enum) string { return strings.ReplaceAll(enum.Name(v), "_", " ") }

// exerciseLabel is the labels of the objects of a record: "exercise" for
// exercise traffic (record.exercise).
func exerciseLabel(rec, body *pb.Record) []string {
	if rec.GetExercise() || body.GetExercise() {
		return []string{"exercise"}
	}
	return nil
}

// AttributionRelationshipID is the STIX id of the attributed-to relationship
// from the object of incident to the threat actor of party in attribution
// record recordID.
func AttributionRelationshipID(recordID, incident, party string) string {
	return ID("relationship", recordID+"/attributed-to/"+incident+"/"+party)
}

// AttributionThreatActorID is the STIX id of the threat actor that stands
// for party in attribution record recordID.
func AttributionThreatActorID(recordID, party string) string {
	return ID("threat-actor", recordID+"/"+party)
}

// attribution exports attribution record r (rec as signed, body the
// attribution it stands for: rec, or the new version of the original
// amends).
func (e *exporter) attribution(r *pb.StoredRecord, rec, body *pb.Record, amends string) error {
	at := body.GetAttribution()
	x, err := e.ext(r, rec, body, pb.RecordKind_RECORD_KIND_ATTRIBUTION)
	if err != nil {
		return err
	}
	var original []string // the parties the amended original names
	if amends != "" {
		orig, err := e.versions.record(amends)
		if err != nil {
			return err
		}
		for _, p := range orig.GetAttribution().GetAttributed() {
			original = append(original, p.Party)
		}
	}
	var conf *int
	if v, ok := stixConfidence[at.Confidence]; ok {
		conf = &v
	}
	labels := exerciseLabel(rec, body)
	for _, p := range at.Attributed {
		name, member := p.Party, e.members[p.Party]
		if member != nil && member.Name != "" {
			name = member.Name
		}
		types := []string{"nation-state"}
		if p.Conduct == pb.ConductBasis_CONDUCT_BASIS_NON_STATE_ACTOR {
			types = []string{"unknown"}
		}
		taID := AttributionThreatActorID(r.Id, p.Party)
		c := e.common("threat-actor", taID, r, body)
		c.Labels = labels
		if err := e.add(taID, c.Modified, ThreatActor{Common: c, Name: name, ThreatActorTypes: types,
			Description: fmt.Sprintf("%s, named responsible (conduct: %s) in a %s attribution by %s on the normledger ledger.",
				p.Party, human(p.Conduct), human(at.Kind), attributors(r.Author, at))}); err != nil {
			return err
		}
		from := original
		if slices.Contains(original, p.Party) {
			from = []string{p.Party}
		}
		for _, q := range from {
			target := AttributionThreatActorID(amends, q)
			id := ID("relationship", r.Id+"/derived-from/"+p.Party+"/"+q)
			c := e.common("relationship", id, r, body)
			c.Labels = labels
			if err := e.add(id, c.Modified, Relationship{Common: c, RelationshipType: "derived-from",
				Description: "a new version of the attribution, by amendment: the threat actor the original named as " + q,
				SourceRef:   taID, TargetRef: target}); err != nil {
				return err
			}
		}
		if member != nil {
			e.named[p.Party] = true
			id := ID("relationship", r.Id+"/attributed-to/"+p.Party)
			c := e.common("relationship", id, r, body)
			c.Labels = labels
			if err := e.add(id, c.Modified, Relationship{Common: c, Confidence: conf, RelationshipType: "attributed-to",
				Description: "the party the attribution names is the ledger member " + p.Party,
				SourceRef:   taID, TargetRef: MemberIdentity(p.Party)}); err != nil {
				return err
			}
		}
		for _, inc := range at.Incidents {
			id := AttributionRelationshipID(r.Id, inc, p.Party)
			c := e.common("relationship", id, r, body)
			c.Labels = labels
			c.Extensions = map[string]any{RecordExtension: x}
			if err := e.add(id, c.Modified, Relationship{Common: c, Confidence: conf, RelationshipType: "attributed-to",
				Description: withheld(attributionText(r.Author, at, p, name), body.Redaction),
				SourceRef:   RecordObjectID(pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE, inc), TargetRef: taID}); err != nil {
				return err
			}
		}
	}
	return nil
}

// attributors is the author and co-attributors of an attribution in words.
func attributors(author string, at *pb.AttributionRecord) string {
	if len(at.CoAttributors) == 0 {
		return author
	}
	return author + " with " + strings.Join(at.CoAttributors, ", ")
}

// attributionText says in words what an attribution asserts of party p
// (named name): only what the signed record holds, so never a withheld
// value.
func attributionText(author string, at *pb.AttributionRecord, p *pb.AttributedParty, name string) string {
	var b strings.Builder
	who := p.Party
	if name != p.Party {
		who = name + " (" + p.Party + ")"
	}
	fmt.Fprintf(&b, "%s attribution to %s by %s: conduct by %s; standard of proof: %s",
		capitalize(human(at.Kind)), who, attributors(author, at), human(p.Conduct), human(at.StandardOfProof))
	if at.LegalBasis != "" {
		fmt.Fprintf(&b, "; legal basis: %s", at.LegalBasis)
	}
	fmt.Fprintf(&b, "; confidence: %s", human(at.Confidence))
	if at.IntentConfidence != pb.Confidence_CONFIDENCE_UNSPECIFIED {
		fmt.Fprintf(&b, "; intent confidence: %s", human(at.IntentConfidence))
	}
	fmt.Fprintf(&b, "; evidence bundle SHA-256 %s", hex.EncodeToString(at.EvidenceDigest))
	hours := at.ReplyWithinHours
	if hours == 0 {
		hours = ledger.DefaultAttributionReplyHours
	}
	fmt.Fprintf(&b, "; a state member named owes a reply within %d hours.", hours)
	if len(at.Evidence) > 0 {
		fmt.Fprintf(&b, " Evidence: %s.", strings.Join(at.Evidence, "; "))
	}
	if at.Summary != "" {
		b.WriteString(" " + at.Summary)
	}
	return b.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// importAttributions reads the attribution records a normledger export
// carried on its attributed-to relationships, each once however many
// relationships carry it (one per incident and party).
//
//   - Versions: of an amended attribution (an amendment whose new version
//     is an attribution, and the original it amends) only the newest
//     version not revoked is imported (the highest height, then the last
//     in the bundle); the others are reported as superseded. A revoked one
//     (retracted at the source) is reported, not imported.
//   - Authorship: the importer signs what it imports, so it imports an
//     attribution only if it is the source record's author or one of its
//     co-attributors; a co-attributor becomes the author and the source
//     author a co-attributor (who must co-sign), and the report says so.
//     A record that withholds fields (record.redaction) is imported only
//     by its author: no one else holds the salts that answer a protective
//     order for the withheld values.
//   - Incidents: those an attribution names must be among those imported
//     from the same bundle (imported maps their record ids at the source
//     to their index in out.Records): one that is not is dropped and
//     reported, and an attribution left with none is not imported.
//
// An attributed-to relationship from an incident without the normledger
// record (another tool's) is reported: a ledger attribution needs a
// standard of proof, a confidence and an evidence digest, which STIX does
// not carry. src maps records the bundle carries to their TLP at the
// source (decodeRecordExtension).
func importAttributions(objs []any, byID map[string]map[string]any, imported map[string]int, src map[string]pb.Tlp, opt ImportOptions, out *Imported) error {
	rep := out.Report
	unmapped := func(ptr, why string) { rep.Unmapped = append(rep.Unmapped, ptr+": "+why) }
	// One entry per attribution record, at its first relationship.
	type version struct {
		ptr, source string // JSON pointer and STIX id of the relationship
		m, x        map[string]any
		rid         string // record id at the source
		original    string // the record it is a version of: itself, or the original it amends
		height      int64
		revoked     bool
	}
	var all []*version
	seen := map[string]bool{}  // relationship ids
	taken := map[string]bool{} // attribution record ids
	for i, o := range objs {
		m := o.(map[string]any)
		if m["type"] != "relationship" || m["relationship_type"] != "attributed-to" {
			continue
		}
		id := m["id"].(string)
		ptr := "/objects/" + strconv.Itoa(i)
		x := recordExt(m)
		if x == nil {
			if src, _ := m["source_ref"].(string); strings.HasPrefix(src, "incident--") {
				unmapped(ptr, "attributed-to without the normledger record: not imported (a ledger attribution needs a standard of proof, a confidence and an evidence digest)")
			}
			continue
		}
		if seen[id] || byID[id]["modified"] != m["modified"] {
			continue // an older version, or one already read
		}
		seen[id] = true
		rid, _ := x["record_id"].(string)
		if taken[rid] {
			continue
		}
		taken[rid] = true
		v := &version{ptr: ptr, source: id, m: m, x: x, rid: rid, original: rid}
		v.revoked, _ = m["revoked"].(bool)
		if n, ok := x["height"].(json.Number); ok {
			v.height, _ = n.Int64()
		}
		rec, _ := x["record"].(map[string]any)
		if am, ok := rec["amendment"].(map[string]any); ok {
			if t, _ := am["target_id"].(string); t != "" {
				v.original = t
			}
		}
		all = append(all, v)
	}
	// The newest version of each attribution not revoked.
	newest := map[string]*version{}
	for _, v := range all {
		if n := newest[v.original]; !v.revoked && (n == nil || v.height >= n.height) {
			newest[v.original] = v
		}
	}
	for _, v := range all {
		ptr, x := v.ptr, v.x
		if v.revoked {
			unmapped(ptr, "revoked (the attribution was retracted at the source): not imported")
			continue
		}
		if n := newest[v.original]; n != v {
			unmapped(ptr, fmt.Sprintf("attribution record %s is superseded by its newer version %s in this bundle (an amendment): only the newest version is imported", v.rid, n.rid))
			continue
		}
		xptr := ptr + "/extensions/" + ptrEsc(RecordExtension)
		rec, err := decodeRecordExtension(xptr, x, tlpOf(v.m["object_marking_refs"]), src)
		if err != nil {
			return err
		}
		at := rec.GetAttribution()
		if at == nil {
			return bad(xptr+"/record", "the record of an attributed-to relationship is not an attribution")
		}
		author, _ := x["author"].(string)
		coAttributor := slices.Contains(at.CoAttributors, opt.Author)
		switch {
		case opt.Author != author && !coAttributor:
			unmapped(xptr+"/author", fmt.Sprintf("attribution by %s: only its author or a co-attributor may re-file it; not imported", author))
			continue
		case opt.Author != author && rec.Redaction != nil:
			unmapped(xptr+"/record/redaction", fmt.Sprintf("the attribution withholds fields and only its author %s holds the salts to answer a protective order for them: not imported (%s may file it itself)", author, author))
			continue
		}
		a := &ImportedAttribution{Record: rec, Source: v.source}
		for j, inc := range at.Incidents {
			k, ok := imported[inc]
			if !ok {
				unmapped(xptr+"/record", fmt.Sprintf("attributed incident %d (%s) is not imported from this bundle: dropped", j, inc))
				continue
			}
			a.Incidents = append(a.Incidents, k)
		}
		if len(a.Incidents) == 0 {
			unmapped(xptr+"/record", "none of the attributed incidents is imported from this bundle: the attribution is not imported")
			continue
		}
		at.Incidents = nil
		if coAttributor && opt.Author != author {
			at.CoAttributors = sortedUnique(append(slices.DeleteFunc(at.CoAttributors, func(m string) bool { return m == opt.Author }), author))
			unmapped(xptr+"/record/attribution/co_attributors", fmt.Sprintf("co-attributor %s re-files the attribution as its author; its author at the source, %s, becomes a co-attributor and must co-sign", opt.Author, author))
		}
		if len(rec.Refs) > 0 {
			unmapped(xptr+"/record/refs", fmt.Sprintf("%d references to records of the exporting ledger dropped", len(rec.Refs)))
			rec.Refs = nil
		}
		rec.ClientTime = nil
		rec.SchemaVersion = 1
		out.Attributions = append(out.Attributions, a)
	}
	return nil
}
