package verifiers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/keys"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ErrVerification is wrapped by every verification failure.
var ErrVerification = errors.New("verification failed")

func failf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrVerification, fmt.Sprintf(format, args...))
}

// Proof checks that p proves its key's value (or absence) under appHash.
func Proof(appHash []byte, p *pb.Proof) error {
	if p == nil {
		return failf("no proof")
	}
	cp := new(ics23.CommitmentProof)
	if err := cp.Unmarshal(p.Proof); err != nil {
		return failf("proof for key %x does not decode: %v", p.Key, err)
	}
	if p.Exists {
		if len(p.Value) == 0 {
			return failf("existence proof for key %x carries no value", p.Key)
		}
		if !ics23.VerifyMembership(ics23.IavlSpec, appHash, cp, p.Key, p.Value) {
			return failf("key %x: value is not proven by the app hash %X", p.Key, appHash)
		}
		return nil
	}
	if len(p.Value) != 0 {
		return failf("absence proof for key %x carries a value", p.Key)
	}
	if !ics23.VerifyNonMembership(ics23.IavlSpec, appHash, cp, p.Key) {
		return failf("key %x: absence is not proven by the app hash %X", p.Key, appHash)
	}
	return nil
}

// Record checks a GetRecordResponse for id against appHash (the app hash of
// the response's height, i.e. from header height+1): the id index entry, the
// record entry, and that the returned record is exactly the proven bytes,
// carries id, and hashes to it. It returns the verified record.
func Record(appHash []byte, id string, resp *pb.GetRecordResponse) (*pb.StoredRecord, error) {
	idKey, err := keys.ID(id)
	if err != nil {
		return nil, failf("%v", err)
	}
	if resp == nil || len(resp.Proofs) != 2 {
		return nil, failf("record answer for %s carries %d proofs, want 2", id, len(resp.GetProofs()))
	}
	ip, rp := resp.Proofs[0], resp.Proofs[1]
	if !bytes.Equal(ip.Key, idKey) || !ip.Exists || len(ip.Value) != 8 {
		return nil, failf("first proof is not of the id index entry for %s", id)
	}
	if err := Proof(appHash, ip); err != nil {
		return nil, err
	}
	seq := binary.BigEndian.Uint64(ip.Value)
	if !bytes.Equal(rp.Key, keys.Record(seq)) || !rp.Exists {
		return nil, failf("second proof is not of record %d", seq)
	}
	if err := Proof(appHash, rp); err != nil {
		return nil, err
	}
	proven := new(pb.StoredRecord)
	if err := proto.Unmarshal(rp.Value, proven); err != nil {
		return nil, failf("proven record does not decode: %v", err)
	}
	if resp.Record == nil || !proto.Equal(resp.Record, proven) {
		return nil, failf("the record in the answer differs from the proven record")
	}
	if proven.Id != id || proven.Seq != seq || ledger.RecordID(proven.Tx) != id {
		return nil, failf("proven record %d does not carry id %s", seq, id)
	}
	return proven, nil
}

// Absence checks that resp (the details of a 404 with prove=true) proves
// that no record id exists under appHash.
func Absence(appHash []byte, id string, resp *pb.GetRecordResponse) error {
	idKey, err := keys.ID(id)
	if err != nil {
		return failf("%v", err)
	}
	if resp == nil || len(resp.Proofs) != 1 || resp.Record != nil {
		return failf("absence answer for %s is malformed", id)
	}
	p := resp.Proofs[0]
	if !bytes.Equal(p.Key, idKey) || p.Exists {
		return failf("absence proof is not of the id index entry for %s", id)
	}
	return Proof(appHash, p)
}

// Member checks a GetMemberResponse against appHash and returns the member.
func Member(appHash []byte, id string, resp *pb.GetMemberResponse) (*pb.Member, error) {
	if resp == nil || resp.Proof == nil || !resp.Proof.Exists {
		return nil, failf("member answer for %q carries no existence proof", id)
	}
	if !bytes.Equal(resp.Proof.Key, keys.Member(id)) {
		return nil, failf("proof is not of member %q", id)
	}
	if err := Proof(appHash, resp.Proof); err != nil {
		return nil, err
	}
	proven := new(pb.Member)
	if err := proto.Unmarshal(resp.Proof.Value, proven); err != nil {
		return nil, failf("proven member does not decode: %v", err)
	}
	if resp.Member == nil || !proto.Equal(resp.Member, proven) || proven.Id != id {
		return nil, failf("the member in the answer differs from the proven member")
	}
	return proven, nil
}

// Signatures re-checks a record's signatures against member entries that
// were themselves verified at the record's height.
func Signatures(rec *pb.StoredRecord, members map[string]*pb.Member) error {
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		return failf("record %s: %v", rec.Id, err)
	}
	if tx.Body.Signer != rec.Author {
		return failf("record %s: author %q but signer %q", rec.Id, rec.Author, tx.Body.Signer)
	}
	err = ledger.VerifySignatures(func(id string) (*pb.Member, error) { return members[id], nil }, tx, rec.Height)
	if err != nil {
		return failf("record %s: %v", rec.Id, err)
	}
	return nil
}

// Signers lists the member ids whose signatures a record carries.
func Signers(rec *pb.StoredRecord) ([]string, error) {
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		return nil, err
	}
	out := []string{tx.Body.Signer}
	for _, cs := range tx.CoSignatures {
		out = append(out, cs.Signer)
	}
	return out, nil
}
