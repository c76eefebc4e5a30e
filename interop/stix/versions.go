package stix

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// strictest is the strictest of TLP levels, CLEAR < GREEN < AMBER <
// AMBER+STRICT < RED. An unset level (UNSPECIFIED) restricts nothing but
// counts as unset, not as CLEAR: it is the result only when no level is
// set. A level this package does not know counts as RED.
func strictest(levels ...pb.Tlp) pb.Tlp {
	out := pb.Tlp_TLP_UNSPECIFIED
	for _, t := range levels {
		if t > pb.Tlp_TLP_RED || t < pb.Tlp_TLP_UNSPECIFIED {
			t = pb.Tlp_TLP_RED
		}
		if t > out {
			out = t
		}
	}
	return out
}

// versions reads the records an export's amendments depend on: the
// original each amends (for its TLP and, for an attribution, its
// parties) and the newest version of an amended record. An amendment
// always amends an original (the ledger refuses one of an amendment:
// the target's kind must be the replacement's), so versions are one level
// deep.
type versions struct {
	byID    map[string]*pb.StoredRecord
	decoded map[string]*pb.Record
	// amendments maps an original's id to the ids of its amendments not
	// retracted, in ledger order: the last is the newest version.
	amendments map[string][]string
	// unknown counts the amendments exported whose original is not in
	// the input (an export from since): their TLP is taken as RED.
	unknown map[string]bool
}

// newVersions indexes in.Records and in.Amended; retracted holds the ids of
// retracted records.
func newVersions(in Input, retracted map[string]bool) (*versions, error) {
	v := &versions{byID: map[string]*pb.StoredRecord{}, decoded: map[string]*pb.Record{},
		amendments: map[string][]string{}, unknown: map[string]bool{}}
	for _, r := range in.Amended {
		v.byID[r.Id] = r
	}
	for _, r := range in.Records {
		v.byID[r.Id] = r
	}
	for _, r := range in.Records {
		if r.Kind != pb.RecordKind_RECORD_KIND_AMENDMENT || retracted[r.Id] {
			continue
		}
		rec, err := v.record(r.Id)
		if err != nil {
			return nil, err
		}
		if t := rec.GetAmendment().GetTargetId(); t != "" {
			v.amendments[t] = append(v.amendments[t], r.Id)
		}
	}
	return v, nil
}

// record is the record of id as signed; nil when it is not in the input.
func (v *versions) record(id string) (*pb.Record, error) {
	if rec, ok := v.decoded[id]; ok {
		return rec, nil
	}
	r := v.byID[id]
	if r == nil {
		return nil, nil
	}
	tx, err := ledger.DecodeTx(r.Tx, 0)
	if err != nil {
		return nil, err
	}
	v.decoded[id] = tx.Body.Record
	return tx.Body.Record, nil
}

// newest is the id of the newest version of record id: its last
// amendment not retracted, or id itself.
func (v *versions) newest(id string) string {
	if am := v.amendments[id]; len(am) > 0 {
		return am[len(am)-1]
	}
	return id
}

// effective is what record r (rec as signed) is exported as: for an
// amendment a copy of its new version, with the amendment's exercise flag
// and, as TLP, the strictest of the original's, the amendment's and the
// new version's (so a new version that states no TLP, or on a chain from
// before app version 12 a looser one, is never less restricted than the
// original); kind is the kind the record stands for and amends the
// original's id. When the original is not in the input its TLP is not
// known and the new version is taken as TLP:RED.
func (v *versions) effective(r *pb.StoredRecord, rec *pb.Record) (body *pb.Record, kind pb.RecordKind, amends string, err error) {
	am := rec.GetAmendment()
	if am == nil {
		return rec, r.Kind, "", nil
	}
	body = proto.Clone(am.Replacement).(*pb.Record)
	orig, err := v.record(am.TargetId)
	if err != nil {
		return nil, 0, "", err
	}
	origTLP := pb.Tlp_TLP_RED
	if orig != nil {
		origTLP = orig.Tlp
	} else {
		v.unknown[r.Id] = true
	}
	body.Tlp = strictest(origTLP, rec.Tlp, body.Tlp)
	body.Exercise = body.Exercise || rec.Exercise
	return body, ledger.KindOf(am.Replacement), am.TargetId, nil
}

// unknownNote is the report's line for amendments whose original was not
// in the input, or "".
func (v *versions) unknownNote() string {
	if len(v.unknown) == 0 {
		return ""
	}
	return "the TLP of " + strconv.Itoa(len(v.unknown)) + " amended record(s) whose original is not in the export's input (an export from since): " +
		"marked TLP:RED, since an amendment never loosens the original's TLP and the original's is not known here " +
		"(an export without since marks them as the ledger does)"
}

// MissingOriginals lists, sorted, the ids of the records that amendments in
// recs amend and that recs does not hold (an export from since): what an
// exporter reads into Input.Amended.
func MissingOriginals(recs []*pb.StoredRecord) ([]string, error) {
	have := map[string]bool{}
	for _, r := range recs {
		have[r.Id] = true
	}
	var out []string
	for _, r := range recs {
		if r.Kind != pb.RecordKind_RECORD_KIND_AMENDMENT {
			continue
		}
		tx := new(pb.Tx)
		if err := proto.Unmarshal(r.Tx, tx); err != nil {
			return nil, fmt.Errorf("record %s: %w", r.Id, err)
		}
		if t := tx.GetBody().GetRecord().GetAmendment().GetTargetId(); t != "" && !have[t] && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out, nil
}

// STIX versions.
//
// A record of a kind exported as one object (incident, note, opinion,
// report) is one version of that object, and an amendment is a version
// of its original's object: the same id, created the original's block
// time, modified the amendment's, created_by_ref the same author (only
// the author may amend), and the record extension of the amendment (the
// record as signed, record_id the amendment's). The objects an export
// holds of one original are its versions in ledger order: a bundle may
// hold several versions of one object, and every version is one object
// of the bundle (exporter.add keys by id and modified). A retracted
// original's version is revoked, modified the retraction's block time (as
// for any object of a retracted record); so is every version after the
// original's retraction, since STIX knows no version after a revocation.
// A retracted amendment is not a withdrawal of the record: the version
// before it stands again, so its retraction is a new version with that
// version's content (STIX revokes objects, never one version of one).
//
// modified is the block time of the record (or the retraction), but
// strictly after the version before it: versions of one object filed in
// one block (an original and its amendment, two amendments, an amendment
// and a retraction) are a millisecond apart, in ledger order. An
// amendment's version is at least a millisecond after its original's
// whatever else the export holds, so an export of the amendment alone
// gives the same version; only two versions of one object in one block
// besides the original's need the whole export to be told apart.
//
// Attributions are several objects a record, and are versioned apart
// (attribution.go).

// family is the object an original and its amendments are versions of.
type family struct {
	id   string // the object's STIX id
	orig string // the original's record id
	// created is the original's block time; when the original is not in
	// the input (an export from since without Input.Amended), the first
	// version's.
	created  string
	versions []*version
}

// version is one version of a family's object.
type version struct {
	slot    int       // its place in exporter.order
	seq     int       // its place in ledger order (a revoked one's: the retraction's)
	at      time.Time // the block time of the record or its retraction
	revoked bool
	// amendment: the version is an amendment's (not the original's).
	amendment bool
	maker     string // the record that makes it (object.maker)
	c         Common
	obj       func(Common) any
}

// reserve keeps a place in the bundle's order for an object written
// later (a version, once the export knows all versions of its object).
func (e *exporter) reserve() int {
	e.order = append(e.order, "")
	return len(e.order) - 1
}

// version adds record r's version of object id, whose original is orig;
// c are its common properties (created and modified are set when the
// versions are written), obj makes the object from them. slot is its
// reserved place in the bundle (-1: here).
func (e *exporter) version(slot int, id, orig string, r *pb.StoredRecord, c Common, obj func(Common) any) {
	if slot < 0 {
		slot = e.reserve()
	}
	f := e.families[id]
	if f == nil {
		f = &family{id: id, orig: orig, created: Timestamp(r.BlockTime.AsTime())}
		if o := e.versions.byID[orig]; o != nil && o.BlockTime != nil {
			f.created = Timestamp(o.BlockTime.AsTime())
		} else {
			e.createdUnknown++
		}
		e.families[id] = f
		e.familyList = append(e.familyList, f)
	}
	v := &version{slot: slot, seq: e.index[r.Id], at: r.BlockTime.AsTime(), c: c, obj: obj, amendment: orig != r.Id, maker: r.Id}
	if ret, ok := e.retract[r.Id]; ok {
		if i, ok := e.index[ret]; ok {
			v.seq, v.at, v.maker = i, revokedAt(r, e.in.Records[i].BlockTime.AsTime()), ret
		}
		v.revoked = true
	}
	// An amendment's version is after the original's even in the
	// original's block: a rule that needs only the two records, so an
	// export of the amendment alone (with its original as Input.Amended,
	// as the object stream computes it) gives the same version.
	if o := e.versions.byID[orig]; orig != r.Id && o != nil && o.BlockTime != nil {
		first := o.BlockTime.AsTime().UTC().Truncate(time.Millisecond)
		if !v.at.UTC().Truncate(time.Millisecond).After(first) {
			v.at = first.Add(time.Millisecond)
		}
	}
	f.versions = append(f.versions, v)
}

// writeVersions writes every family's versions: created the family's,
// modified strictly increasing in ledger order, revoked when the record
// or (for a version after it) the original is retracted.
func (e *exporter) writeVersions() error {
	for _, f := range e.familyList {
		vs := slices.Clone(f.versions)
		slices.SortStableFunc(vs, func(a, b *version) int { return a.seq - b.seq })
		origRetracted := -1
		if ret, ok := e.retract[f.orig]; ok {
			if i, ok := e.index[ret]; ok {
				origRetracted = i
			}
		}
		var prev time.Time
		// standing is the newest version not retracted: what a retracted
		// amendment's retraction restores. It starts as the original's,
		// wherever its own retraction sorts it.
		var standing *version
		for _, v := range vs {
			if !v.amendment {
				standing = v
			}
		}
		for i, v := range vs {
			at := v.at.UTC().Truncate(time.Millisecond)
			if i > 0 && !at.After(prev) {
				at = prev.Add(time.Millisecond)
			}
			prev = at
			c, obj := v.c, v.obj
			revoked := v.revoked || (origRetracted >= 0 && v.seq > origRetracted)
			if v.revoked && v.amendment && standing != nil && (origRetracted < 0 || v.seq < origRetracted) {
				// A retracted amendment: on the ledger the version before
				// it stands again. STIX revokes objects, not versions, so
				// the retraction is a new version with the standing
				// version's content (and its record extension), modified
				// the retraction's time.
				c, obj, revoked = standing.c, standing.obj, false
			} else if !v.revoked {
				standing = v
			}
			c.Created, c.Modified = f.created, Timestamp(at)
			if c.Created > c.Modified {
				c.Created = c.Modified
			}
			c.Revoked = revoked
			raw, err := json.Marshal(obj(c))
			if err != nil {
				return fmt.Errorf("encode %s: %w", f.id, err)
			}
			key := objectKey(f.id, c.Modified)
			e.order[v.slot] = key
			e.objects[key] = object{f.id, raw, v.maker}
		}
	}
	return nil
}
