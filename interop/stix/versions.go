package stix

import (
	"fmt"
	"slices"
	"strconv"

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
