package verifiers

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/disclose"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// DisclosedField is a withheld value a disclosure opened, proven by its
// digest in a record whose proof verified.
type DisclosedField struct {
	Path string `json:"path"`
	// Value is the opened value in protobuf JSON (a string, a number, an
	// object), as the body would hold it.
	Value json.RawMessage `json:"value"`
}

// Disclosures checks a bundle of disclosures against a verified record
// (docs/disclosure.md): each disclosure must open one digest of its field
// in the record's redaction, no digest twice, and a bundle naming a record
// must name this one. It returns the fields opened, in the bundle's order,
// and the withheld fields left closed. Check the record's proof first: the
// digests are only as good as the record they are read from.
func Disclosures(rec *pb.StoredRecord, b *pb.DisclosureBundle) ([]DisclosedField, []string, error) {
	tx := new(pb.Tx)
	if err := proto.Unmarshal(rec.Tx, tx); err != nil {
		return nil, nil, fmt.Errorf("record %s does not decode: %w", rec.Id, err)
	}
	r := ledger.RedactedRecord(tx)
	if r == nil {
		return nil, nil, Failf("record %s withholds no field: there is nothing to disclose", rec.Id)
	}
	opened, err := disclose.Verify(r, rec.Id, b)
	if err != nil {
		return nil, nil, Failf("disclosures for record %s: %v", rec.Id, err)
	}
	var out []DisclosedField
	done := map[string]bool{}
	for _, o := range opened {
		// The value alone, as protobuf JSON writes it inside the body.
		_, bm := disclose.Body(r)
		one := bm.New()
		if o.Field.IsList() {
			one.Mutable(o.Field).List().Append(o.Value)
		} else {
			one.Set(o.Field, o.Value)
		}
		js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(one.Interface())
		if err != nil {
			return nil, nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(js, &m); err != nil {
			return nil, nil, err
		}
		v := m[o.Path]
		if o.Field.IsList() {
			var l []json.RawMessage
			if err := json.Unmarshal(v, &l); err == nil && len(l) == 1 {
				v = l[0]
			}
		}
		out = append(out, DisclosedField{Path: o.Path, Value: v})
		done[o.Path] = true
	}
	var closed []string
	for _, p := range disclose.Paths(r) {
		if !done[p] {
			closed = append(closed, p)
		}
	}
	return out, closed, nil
}
