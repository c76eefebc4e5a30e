package stix

import (
	"encoding/hex"
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

func (e *exporter) attribution(r *pb.StoredRecord, rec, body *pb.Record) error {
	at := body.GetAttribution()
	x, err := e.ext(r, rec, body, pb.RecordKind_RECORD_KIND_ATTRIBUTION)
	if err != nil {
		return err
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
		if err := e.add(taID, ThreatActor{Common: c, Name: name, ThreatActorTypes: types,
			Description: fmt.Sprintf("%s, named responsible (conduct: %s) in a %s attribution by %s on the normledger ledger.",
				p.Party, human(p.Conduct), human(at.Kind), attributors(r.Author, at))}); err != nil {
			return err
		}
		if member != nil {
			e.named[p.Party] = true
			id := ID("relationship", r.Id+"/attributed-to/"+p.Party)
			c := e.common("relationship", id, r, body)
			c.Labels = labels
			if err := e.add(id, Relationship{Common: c, Confidence: conf, RelationshipType: "attributed-to",
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
			if err := e.add(id, Relationship{Common: c, Confidence: conf, RelationshipType: "attributed-to",
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
// relationships carry it (one per incident and party). The incidents an
// attribution names must be among those imported from the same bundle
// (imported maps their record ids at the source to their index in
// out.Records): one that is not is dropped and reported, and an
// attribution left with none is not imported. An attributed-to
// relationship from an incident without the normledger record (another
// tool's) is reported: a ledger attribution needs a standard of proof, a
// confidence and an evidence digest, which STIX does not carry.
func importAttributions(objs []any, byID map[string]map[string]any, imported map[string]int, opt ImportOptions, out *Imported) error {
	rep := out.Report
	unmapped := func(ptr, why string) { rep.Unmapped = append(rep.Unmapped, ptr+": "+why) }
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
		if rv, _ := m["revoked"].(bool); rv {
			unmapped(ptr, "revoked (the attribution was retracted at the source): not imported")
			continue
		}
		xptr := ptr + "/extensions/" + ptrEsc(RecordExtension)
		rec, err := decodeRecordExtension(xptr, x)
		if err != nil {
			return err
		}
		at := rec.GetAttribution()
		if at == nil {
			return bad(xptr+"/record", "the record of an attributed-to relationship is not an attribution")
		}
		a := &ImportedAttribution{Record: rec, Source: id}
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
		if j := slices.Index(at.CoAttributors, opt.Author); j >= 0 {
			at.CoAttributors = slices.Delete(at.CoAttributors, j, j+1)
			unmapped(xptr+"/record", fmt.Sprintf("co-attributor %s signs the import as its author: no longer a co-attributor", opt.Author))
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
