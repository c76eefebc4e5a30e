// Package disclose is the selective-disclosure construction of app version
// 11 (docs/disclosure.md): a record of a disclosable kind withholds named
// fields of its body, each value replaced by a salted digest in the signed
// record, and a Disclosure opens one value later, to anyone who holds it.
//
//	digest = SHA-256("normledger/v1/disclosure" 0x00 || canonical(Disclosure{path, salt, value}))
//
// where value is the canonical (deterministic) protobuf encoding of the body
// message holding only that value: the field itself for a singular field,
// one element for a repeated one. The path and the field's tag are both
// inside the digest, so a value cannot be moved to another field; the salt
// (16 to 64 random bytes) keeps a guessable value (a name from a short list)
// from being found by trying candidates. A repeated field may carry decoy
// digests that hide how many elements it has (RFC 9901's decoys).
//
// Checking (Check, Verify) is deterministic and uses no key; making a
// redaction (Redact) takes a source of randomness and is the client's.
package disclose

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Domain separates disclosure digests from every other hash the ledger
// takes (seal commitments, record ids).
const Domain = "normledger/v1/disclosure"

// DigestSize is the size of a digest (and of a decoy).
const DigestSize = sha256.Size

// MinSalt and MaxSalt bound a disclosure's salt: at least 128 bits.
const (
	MinSalt = 16
	MaxSalt = 64
)

// MaxDecoys bounds the decoys Redact adds per repeated field.
const MaxDecoys = 16

// redactable lists, per body field of Record, the fields that may be
// withheld. Everything else in those bodies drives obligations, indexes or
// compliance figures (affected states, sectors, times, stages, recipients,
// severity, parties) and stays public; other kinds withhold nothing.
var redactable = map[protoreflect.Name][]protoreflect.Name{
	"incident_disclosure": {"summary", "impacts", "attribution", "affected_entities"},
	"harm_assessment":     {"methodology", "persons_affected", "physical_harm", "economic_harm_usd"},
	"finding":             {"summary", "evidence_refs", "methodology"},
	"notification":        {"summary", "geo_scope"},
	// App version 12: an attribution's evidence in words and summary.
	"attribution": {"evidence", "summary"},
}

// Body returns the body message of r and the name of its oneof case ("",
// nil when r has no body).
func Body(r *pb.Record) (protoreflect.Name, protoreflect.Message) {
	m := r.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("body"))
	if fd == nil {
		return "", nil
	}
	return fd.Name(), m.Get(fd).Message()
}

// Redactable lists the fields a body of kind (the Record oneof name,
// "incident_disclosure") may withhold; nil when the kind withholds nothing.
func Redactable(kind string) []string {
	var out []string
	for _, n := range redactable[protoreflect.Name(kind)] {
		out = append(out, string(n))
	}
	return out
}

// Disclosable says whether a record of kind may carry a redaction.
func Disclosable(kind string) bool { return len(redactable[protoreflect.Name(kind)]) > 0 }

// ErrNotRedactable is wrapped by FieldOf for a path that names no
// withholdable field of the body: one that drives obligations, indexes or
// figures, or none at all.
var ErrNotRedactable = errors.New("not a field that may be withheld")

// FieldOf returns the body field path names in a body of kind, or an error
// wrapping ErrNotRedactable.
func FieldOf(body protoreflect.Message, kind protoreflect.Name, path string) (protoreflect.FieldDescriptor, error) {
	fd := body.Descriptor().Fields().ByName(protoreflect.Name(path))
	if fd == nil {
		return nil, fmt.Errorf("%s has no field %q: %w", kind, path, ErrNotRedactable)
	}
	if !slices.Contains(redactable[kind], fd.Name()) {
		return nil, fmt.Errorf("%s.%s drives obligations, indexes or figures and stays public (withholdable: %v): %w",
			kind, path, redactable[kind], ErrNotRedactable)
	}
	return fd, nil
}

// Digest computes the digest of d.
func Digest(d *pb.Disclosure) []byte {
	bz, err := proto.MarshalOptions{Deterministic: true}.Marshal(d)
	if err != nil {
		// A message of two byte fields and a string always encodes.
		panic(err)
	}
	h := sha256.New()
	h.Write([]byte(Domain))
	h.Write([]byte{0})
	h.Write(bz)
	return h.Sum(nil)
}

// Value encodes one value of field fd of a body like body: a message of
// that type holding only v (one element when fd is repeated).
func Value(body protoreflect.Message, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	m := body.New()
	if fd.IsList() {
		m.Mutable(fd).List().Append(v)
	} else {
		m.Set(fd, v)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m.Interface())
}

// Opened is one disclosure that checked out: the field and the value it
// holds.
type Opened struct {
	Path   string
	Field  protoreflect.FieldDescriptor
	Value  protoreflect.Value
	Digest []byte
}

// Check checks d against r's redaction: the path is withheld in r, the
// value is the canonical encoding of a body holding exactly one value of
// that field, and the digest of d is one of the path's digests.
func Check(r *pb.Record, d *pb.Disclosure) (*Opened, error) {
	kind, body := Body(r)
	if body == nil {
		return nil, errors.New("the record has no body")
	}
	rf := Field(r.GetRedaction(), d.GetPath())
	if rf == nil {
		return nil, fmt.Errorf("%s.%s is not withheld in this record", kind, d.GetPath())
	}
	if n := len(d.GetSalt()); n < MinSalt || n > MaxSalt {
		return nil, fmt.Errorf("%s: salt is %d bytes (%d to %d)", d.GetPath(), n, MinSalt, MaxSalt)
	}
	fd, err := FieldOf(body, kind, d.GetPath())
	if err != nil {
		return nil, err
	}
	v, err := decodeValue(body, fd, d.GetValue())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.GetPath(), err)
	}
	dg := Digest(d)
	if !slices.ContainsFunc(rf.Digests, func(x []byte) bool { return bytes.Equal(x, dg) }) {
		return nil, fmt.Errorf("%s: the salt and value do not give any of the field's %d digests", d.GetPath(), len(rf.Digests))
	}
	return &Opened{Path: d.GetPath(), Field: fd, Value: v, Digest: dg}, nil
}

// decodeValue decodes a disclosure's value: the canonical encoding of a
// body holding exactly one value of fd.
func decodeValue(body protoreflect.Message, fd protoreflect.FieldDescriptor, bz []byte) (protoreflect.Value, error) {
	m := body.New()
	if err := proto.Unmarshal(bz, m.Interface()); err != nil {
		return protoreflect.Value{}, fmt.Errorf("value does not decode as %s: %w", body.Descriptor().Name(), err)
	}
	if len(m.GetUnknown()) > 0 {
		return protoreflect.Value{}, errors.New("value carries unknown fields")
	}
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.Interface())
	if err != nil || !bytes.Equal(again, bz) {
		return protoreflect.Value{}, errors.New("value is not in canonical encoding")
	}
	var set []protoreflect.FieldDescriptor
	m.Range(func(f protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		set = append(set, f)
		return true
	})
	if len(set) != 1 || set[0].Number() != fd.Number() {
		var names []string
		for _, f := range set {
			names = append(names, string(f.Name()))
		}
		return protoreflect.Value{}, fmt.Errorf("value must hold field %s alone, it holds %v", fd.Name(), names)
	}
	if fd.IsList() {
		l := m.Get(fd).List()
		if l.Len() != 1 {
			return protoreflect.Value{}, fmt.Errorf("value must hold one element of %s, it holds %d", fd.Name(), l.Len())
		}
		return l.Get(0), nil
	}
	return m.Get(fd), nil
}

// Field returns the redacted field path of red, or nil.
func Field(red *pb.Redaction, path string) *pb.RedactedField {
	for _, f := range red.GetFields() {
		if f.Path == path {
			return f
		}
	}
	return nil
}

// Verify checks every disclosure of b against r (whose id the bundle must
// name, when it names one) and that no digest is opened twice. It returns
// what each disclosure opened, in the bundle's order, and the first error.
func Verify(r *pb.Record, recordID string, b *pb.DisclosureBundle) ([]*Opened, error) {
	if b.GetRecordId() != "" && recordID != "" && b.GetRecordId() != recordID {
		return nil, fmt.Errorf("the disclosures are for record %s, not %s", b.GetRecordId(), recordID)
	}
	if len(b.GetDisclosures()) == 0 {
		return nil, errors.New("no disclosures")
	}
	seen := map[string]bool{}
	var out []*Opened
	for i, d := range b.GetDisclosures() {
		o, err := Check(r, d)
		if err != nil {
			return out, fmt.Errorf("disclosure %d: %w", i, err)
		}
		if seen[string(o.Digest)] {
			return out, fmt.Errorf("disclosure %d: %s opens a digest already opened", i, o.Path)
		}
		seen[string(o.Digest)] = true
		out = append(out, o)
	}
	return out, nil
}

// Restore returns a copy of r with the opened values put back into its body
// and the fields they complete removed from the redaction (a repeated
// field stays listed until every digest of it is opened, which decoys
// prevent; Restore leaves it listed with its opened elements filled in).
func Restore(r *pb.Record, opened []*Opened) *pb.Record {
	out := proto.Clone(r).(*pb.Record)
	_, body := Body(out)
	done := map[string]int{}
	for _, o := range opened {
		if o.Field.IsList() {
			body.Mutable(o.Field).List().Append(o.Value)
		} else {
			body.Set(o.Field, o.Value)
		}
		done[o.Path]++
	}
	if red := out.GetRedaction(); red != nil {
		var keep []*pb.RedactedField
		for _, f := range red.Fields {
			if done[f.Path] == 0 || done[f.Path] < len(f.Digests) {
				keep = append(keep, f)
			}
		}
		red.Fields = keep
	}
	return out
}

// Redact withholds the named fields of r's body: it returns a copy of r
// with those fields cleared and a redaction of their digests (plus, per
// repeated field, decoys digests), and the bundle of disclosures that
// open them. Salts and decoys come from rand.
func Redact(r *pb.Record, paths []string, decoys int, basis pb.DesignationBasis, summary string, rand io.Reader) (*pb.Record, *pb.DisclosureBundle, error) {
	if decoys < 0 || decoys > MaxDecoys {
		return nil, nil, fmt.Errorf("decoys: %d (0 to %d per repeated field)", decoys, MaxDecoys)
	}
	out := proto.Clone(r).(*pb.Record)
	kind, body := Body(out)
	if body == nil {
		return nil, nil, errors.New("the record has no body")
	}
	paths = slices.Clone(paths)
	sort.Strings(paths)
	red := &pb.Redaction{PublicSummary: summary, Basis: basis}
	bundle := &pb.DisclosureBundle{}
	for i, p := range paths {
		if i > 0 && paths[i-1] == p {
			return nil, nil, fmt.Errorf("%s named twice", p)
		}
		fd, err := FieldOf(body, kind, p)
		if err != nil {
			return nil, nil, err
		}
		if !body.Has(fd) {
			return nil, nil, fmt.Errorf("%s.%s is empty: nothing to withhold", kind, p)
		}
		var vals []protoreflect.Value
		if fd.IsList() {
			l := body.Get(fd).List()
			for j := 0; j < l.Len(); j++ {
				vals = append(vals, l.Get(j))
			}
		} else {
			vals = append(vals, body.Get(fd))
		}
		rf := &pb.RedactedField{Path: p}
		for _, v := range vals {
			bz, err := Value(body, fd, v)
			if err != nil {
				return nil, nil, err
			}
			salt := make([]byte, 32)
			if _, err := io.ReadFull(rand, salt); err != nil {
				return nil, nil, fmt.Errorf("salt: %w", err)
			}
			d := &pb.Disclosure{Path: p, Salt: salt, Value: bz}
			bundle.Disclosures = append(bundle.Disclosures, d)
			rf.Digests = append(rf.Digests, Digest(d))
		}
		if fd.IsList() {
			for j := 0; j < decoys; j++ {
				dec := make([]byte, DigestSize)
				if _, err := io.ReadFull(rand, dec); err != nil {
					return nil, nil, fmt.Errorf("decoy: %w", err)
				}
				rf.Digests = append(rf.Digests, dec)
			}
		}
		sort.Slice(rf.Digests, func(a, b int) bool { return bytes.Compare(rf.Digests[a], rf.Digests[b]) < 0 })
		red.Fields = append(red.Fields, rf)
		body.Clear(fd)
	}
	out.Redaction = red
	return out, bundle, nil
}

// Paths lists the withheld paths of r.
func Paths(r *pb.Record) []string {
	var out []string
	for _, f := range r.GetRedaction().GetFields() {
		out = append(out, f.Path)
	}
	return out
}
