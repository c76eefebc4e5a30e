package client

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"filippo.io/age"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/disclose"
	"github.com/normledger/normledger/ledger/seal"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Selective disclosure (docs/disclosure.md), the client's side: withhold
// fields when filing (disclose.Redact, with crypto/rand), deliver what an
// order covers to its approved persons, and open and confirm a delivery.

// OrderBundle is the part of bundle an order covers: the disclosures of its
// paths, naming the record.
func OrderBundle(record string, o *pb.ProtectiveOrder, bundle *pb.DisclosureBundle) (*pb.DisclosureBundle, error) {
	out := &pb.DisclosureBundle{RecordId: record}
	for _, p := range o.Paths {
		n := 0
		for _, d := range bundle.GetDisclosures() {
			if d.Path == p {
				out.Disclosures = append(out.Disclosures, d)
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("the disclosures hold nothing for %s, which the order covers", p)
		}
	}
	return out, nil
}

// Deliver builds the delivery of what order o (record id order) covers,
// encrypted once to keys (the approved persons' encryption keys).
func Deliver(order, record string, o *pb.ProtectiveOrder, bundle *pb.DisclosureBundle, keys []SealKey) (*pb.DisclosureStep, error) {
	b, err := OrderBundle(record, o, bundle)
	if err != nil {
		return nil, err
	}
	pt, err := ledger.Canonical(b)
	if err != nil {
		return nil, err
	}
	ct, named, err := EncryptTo(pt, keys)
	if err != nil {
		return nil, err
	}
	return &pb.DisclosureStep{Step: pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_DELIVER, SourceId: order, Ciphertext: ct, Recipients: named}, nil
}

// OpenedDelivery is a delivery an approved person decrypted.
type OpenedDelivery struct {
	Bundle *pb.DisclosureBundle
	// FileKey proves a mismatch to everyone when published in a confirmation.
	FileKey []byte
	// Mismatch is empty when the values open the record's digests, else why not.
	Mismatch string
}

// OpenDelivery decrypts a delivery with an approved person's identity and
// checks what it holds against the redacted record and the order.
func OpenDelivery(d *pb.DisclosureStep, subject *pb.Record, o *pb.ProtectiveOrder, id age.Identity) (*OpenedDelivery, error) {
	hdr, err := age.ExtractHeader(bytes.NewReader(d.Ciphertext))
	if err != nil {
		return nil, err
	}
	fileKey, err := age.DecryptHeader(hdr, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStanza, err)
	}
	out := &OpenedDelivery{FileKey: fileKey}
	pt, err := seal.Open(d.Ciphertext, fileKey)
	if err != nil {
		out.Mismatch = err.Error()
		return out, nil
	}
	if err := ledger.CheckDelivery(subject, o, pt); err != nil {
		out.Mismatch = err.Error()
	}
	b := new(pb.DisclosureBundle)
	if err := ledger.UnmarshalCanonical(pt, b); err == nil {
		out.Bundle = b
	}
	return out, nil
}

// SortApprovals sorts an order's approvals by member, as the ledger wants them.
func SortApprovals(a []*pb.Approval) {
	sort.Slice(a, func(i, j int) bool { return a[i].Member < a[j].Member })
}

// WriteDisclosures keeps a disclosures file (protobuf JSON, mode 0600): the
// only copy of the salts that open a record's digests.
func WriteDisclosures(path string, b *pb.DisclosureBundle) error {
	bz, err := protojson.MarshalOptions{Multiline: true}.Marshal(b)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(bz, '\n'), 0o600)
}

// ReadDisclosures reads a disclosures file (WriteDisclosures writes one):
// a DisclosureBundle in protobuf JSON.
func ReadDisclosures(path string) (*pb.DisclosureBundle, error) {
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b := new(pb.DisclosureBundle)
	if err := protojson.Unmarshal(bz, b); err != nil {
		return nil, fmt.Errorf("disclosures file %s: %w", path, err)
	}
	return b, nil
}

// Disclosed is what a disclosures file proves about a record: each field
// opened, and the withheld fields it leaves closed.
type Disclosed struct {
	Opened []*disclose.Opened
	Closed []string
}

// CheckDisclosures checks a bundle against a (proven) redacted record.
func CheckDisclosures(record string, r *pb.Record, b *pb.DisclosureBundle) (*Disclosed, error) {
	opened, err := disclose.Verify(r, record, b)
	if err != nil {
		return nil, err
	}
	out := &Disclosed{Opened: opened}
	for _, p := range disclose.Paths(r) {
		found := false
		for _, o := range opened {
			found = found || o.Path == p
		}
		if !found {
			out.Closed = append(out.Closed, p)
		}
	}
	return out, nil
}
