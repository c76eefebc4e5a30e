package stix

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The object stream: what a TAXII collection serves. Every record in the
// ledger's log adds the versions of the STIX objects it makes (an
// exportable record its objects, an amendment the new version of its
// original's object, a retraction the revoked versions of its target's
// objects or, for a retracted amendment, the version that stands again),
// computed as an export of the record with the earlier versions of the
// same object and the records it names read beside it (RecordObjects), so
// that an object version is the same whoever computes it and whenever.
// Reference objects (the members' identities, the normledger identity
// and extension definition, the TLP marking definitions) are served apart
// (ReferenceObjects).

// StreamObject is one version of one STIX object.
type StreamObject struct {
	ID, Type, Version, SpecVersion string
	// Marking is the TLP marking definition id of the object ("" when it
	// carries none).
	Marking string
	Raw     json.RawMessage
}

// RecordObjects returns the object versions record r adds to the stream:
// the objects an export of r, with the records before it that add versions
// of the same object (family), makes, and r's own among them (for a
// retraction, what it revokes or restores). in carries the chain, members,
// genesis time and base URL; in.Records and in.Amended are ignored:
// context holds the records r names (RecordRefs; for a retraction, its
// target and what the target names) and family, in log order, the
// original, amendments and retractions before r that make versions of the
// object r makes a version of (VersionedObjectID). So a version is what a
// whole export makes of it, whoever computes it and whenever: it depends
// only on records that never change, and on the members admitted by r's
// block (an attribution names a party as a member only if it was one).
func RecordObjects(in Input, r *pb.StoredRecord, context, family []*pb.StoredRecord) ([]StreamObject, error) {
	var recs []*pb.StoredRecord
	have := map[string]bool{r.Id: true}
	for _, f := range family {
		if f.Seq < r.Seq && !have[f.Id] {
			recs, have[f.Id] = append(recs, f), true
		}
	}
	if r.Kind == pb.RecordKind_RECORD_KIND_RETRACTION {
		tx, err := ledger.DecodeTx(r.Tx, 0)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", r.Id, err)
		}
		target := tx.Body.Record.GetRetraction().GetTargetId()
		for _, c := range context {
			if c.Id == target && !have[c.Id] {
				recs, have[c.Id] = append(recs, c), true
			}
		}
	}
	slices.SortFunc(recs, func(a, b *pb.StoredRecord) int { return cmp.Compare(a.Seq, b.Seq) })
	in.Records = append(recs, r)
	in.Amended = nil
	for _, c := range context {
		if !have[c.Id] {
			in.Amended = append(in.Amended, c)
		}
	}
	in.Members = membersAt(in.Members, r.BlockTime.AsTime())
	// A version describes the state when it was made (a pledge's state).
	in.At = r.BlockTime.AsTime()
	b, _, err := Export(in, Filter{})
	if err != nil {
		return nil, err
	}
	var out []StreamObject
	for i, raw := range b.Objects {
		if b.makers[i] != r.Id {
			continue
		}
		o, err := streamObject(raw)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", r.Id, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// membersAt are the members of ms admitted at or before t (genesis
// members always).
func membersAt(ms []*pb.Member, t time.Time) []*pb.Member {
	var out []*pb.Member
	for _, m := range ms {
		if len(m.History) > 0 && m.History[0].Time != nil && strings.Contains(m.History[0].Change, "admitted") && m.History[0].Time.AsTime().After(t) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// VersionedObjectID is the id of the object record r is a version of,
// when r is of a kind exported as one object (incident, note, opinion,
// report) or an amendment of one: its original's object. "" otherwise.
func VersionedObjectID(r *pb.StoredRecord) (string, error) {
	kind, orig := r.Kind, r.Id
	if kind == pb.RecordKind_RECORD_KIND_AMENDMENT {
		tx, err := ledger.DecodeTx(r.Tx, 0)
		if err != nil {
			return "", fmt.Errorf("record %s: %w", r.Id, err)
		}
		am := tx.Body.Record.GetAmendment()
		kind, orig = ledger.KindOf(am.GetReplacement()), am.GetTargetId()
	}
	if kind == pb.RecordKind_RECORD_KIND_ATTRIBUTION {
		return "", nil
	}
	return RecordObjectID(kind, orig), nil
}

// RetractionTarget is the id of the record a retraction retracts ("" for
// another kind).
func RetractionTarget(r *pb.StoredRecord) (string, error) {
	if r.Kind != pb.RecordKind_RECORD_KIND_RETRACTION {
		return "", nil
	}
	tx, err := ledger.DecodeTx(r.Tx, 0)
	if err != nil {
		return "", fmt.Errorf("record %s: %w", r.Id, err)
	}
	return tx.Body.Record.GetRetraction().GetTargetId(), nil
}

// streamObject reads an exported object's head: its version is modified
// (created for the TLP 2.0 marking definitions, which have only that).
func streamObject(raw json.RawMessage) (StreamObject, error) {
	var head struct {
		Type        string   `json:"type"`
		ID          string   `json:"id"`
		Created     string   `json:"created"`
		Modified    string   `json:"modified"`
		SpecVersion string   `json:"spec_version"`
		Markings    []string `json:"object_marking_refs"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return StreamObject{}, err
	}
	o := StreamObject{ID: head.ID, Type: head.Type, Version: head.Modified, SpecVersion: head.SpecVersion, Raw: raw}
	if o.Version == "" {
		o.Version = head.Created
	}
	if len(head.Markings) > 0 {
		o.Marking = head.Markings[0]
	}
	return o, nil
}

// RecordRefs lists, sorted, the record ids record r names anywhere in its
// body (references, subjects, targets, an amendment's original): the
// records whose objects its own objects point at.
func RecordRefs(r *pb.StoredRecord) ([]string, error) {
	tx, err := ledger.DecodeTx(r.Tx, 0)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", r.Id, err)
	}
	seen := map[string]bool{}
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList():
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					if fd.Kind() == protoreflect.MessageKind {
						walk(l.Get(i).Message())
					} else if fd.Kind() == protoreflect.StringKind && isRecordID(l.Get(i).String()) {
						seen[l.Get(i).String()] = true
					}
				}
			case fd.IsMap():
			case fd.Kind() == protoreflect.MessageKind:
				walk(v.Message())
			case fd.Kind() == protoreflect.StringKind && isRecordID(v.String()):
				seen[v.String()] = true
			}
			return true
		})
	}
	walk(proto.Clone(tx.Body.Record).ProtoReflect())
	delete(seen, r.Id)
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

// isRecordID says s has the form of a record id: 64 lowercase hex digits.
func isRecordID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ReferenceObjects returns the objects every collection serves beside the
// records' own: the normledger identity and the record extension's
// definition, the five TLP 2.0 marking definitions (exactly as
// published) and an identity for every member of in.Members, in this
// order.
func ReferenceObjects(in Input) ([]StreamObject, error) {
	e := &exporter{in: in, members: map[string]*pb.Member{}, objects: map[string]object{}, named: map[string]bool{},
		markings: map[pb.Tlp]bool{}, retract: map[string]string{}, report: &Report{}}
	for _, m := range in.Members {
		e.members[m.Id] = m
		e.named[m.Id] = true
	}
	for _, m := range tlpMarkings {
		e.markings[m.tlp] = true
	}
	b, _, err := e.finish()
	if err != nil {
		return nil, err
	}
	out := make([]StreamObject, 0, len(b.Objects))
	for _, raw := range b.Objects {
		o, err := streamObject(raw)
		if err != nil {
			return nil, err
		}
		// Reference objects carry no TLP collection: every one holds them.
		o.Marking = ""
		out = append(out, o)
	}
	return out, nil
}
