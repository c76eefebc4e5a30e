package verifiers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/cometbft/cometbft/crypto/ed25519"
	ics23 "github.com/cosmos/ics23/go"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ErrVerification is wrapped by every verification failure.
var ErrVerification = errors.New("verification failed")

// Failf returns a verification failure: the message, wrapping
// ErrVerification.
func Failf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrVerification, fmt.Sprintf(format, args...))
}

// Proof checks that p proves its key's value (or absence) under appHash.
func Proof(appHash []byte, p *pb.Proof) error {
	if p == nil {
		return Failf("no proof")
	}
	cp := new(ics23.CommitmentProof)
	if err := cp.Unmarshal(p.Proof); err != nil {
		return Failf("proof for key %x does not decode: %v", p.Key, err)
	}
	if p.Exists {
		if len(p.Value) == 0 {
			return Failf("existence proof for key %x carries no value", p.Key)
		}
		if !ics23.VerifyMembership(ics23.IavlSpec, appHash, cp, p.Key, p.Value) {
			return Failf("key %x: value is not proven by the app hash %X", p.Key, appHash)
		}
		return nil
	}
	if len(p.Value) != 0 {
		return Failf("absence proof for key %x carries a value", p.Key)
	}
	if !ics23.VerifyNonMembership(ics23.IavlSpec, appHash, cp, p.Key) {
		return Failf("key %x: absence is not proven by the app hash %X", p.Key, appHash)
	}
	return nil
}

// Record checks a GetRecordResponse for id against appHash (the app hash of
// the response's height, i.e. from header height+1): the RecordRef entry
// i/<id>, the log state meta/log, the record's transaction as entry seq-1
// of that log, and that the returned record is exactly what they prove. It
// returns the verified record.
func Record(appHash []byte, id string, resp *pb.GetRecordResponse) (*pb.StoredRecord, error) {
	rec, _, err := RecordWithLog(appHash, id, resp)
	return rec, err
}

// RecordWithLog is Record, also returning the proven log state (for the
// consistency check against what a verifier saw before).
func RecordWithLog(appHash []byte, id string, resp *pb.GetRecordResponse) (*pb.StoredRecord, LogState, error) {
	idKey, err := layout.ID(id)
	if err != nil {
		return nil, LogState{}, Failf("%v", err)
	}
	if resp == nil || len(resp.Proofs) != 2 {
		return nil, LogState{}, Failf("record answer for %s carries %d proofs, want 2", id, len(resp.GetProofs()))
	}
	ip, lp := resp.Proofs[0], resp.Proofs[1]
	if ip == nil || lp == nil {
		return nil, LogState{}, Failf("record answer for %s carries an empty proof", id)
	}
	if !bytes.Equal(ip.Key, idKey) || !ip.Exists {
		return nil, LogState{}, Failf("first proof is not of the state entry of %s", id)
	}
	if err := Proof(appHash, ip); err != nil {
		return nil, LogState{}, err
	}
	ref := new(pb.RecordRef)
	if err := proto.Unmarshal(ip.Value, ref); err != nil || ref.Seq == 0 {
		return nil, LogState{}, Failf("proven state entry of %s is not a RecordRef", id)
	}
	ls, err := ProvenLog(appHash, lp, resp.Height)
	if err != nil {
		return nil, LogState{}, err
	}
	rec := resp.Record
	if rec == nil {
		return nil, LogState{}, Failf("record answer for %s carries no record", id)
	}
	if ledger.RecordID(rec.Tx) != id {
		return nil, LogState{}, Failf("the answer's transaction does not hash to %s", id)
	}
	if err := Included(ls, resp.Inclusion, ref.Seq-1, rec.Tx); err != nil {
		return nil, LogState{}, err
	}
	want := &pb.StoredRecord{Id: id, Seq: ref.Seq, Height: ref.Height, BlockTime: ref.BlockTime, TxIndex: ref.TxIndex,
		Kind: ref.Kind, Author: ref.Author, Tx: rec.Tx}
	if !proto.Equal(ledger.Bare(rec), want) {
		return nil, LogState{}, Failf("the record in the answer differs from the proven state entry and log entry")
	}
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		return nil, LogState{}, Failf("record %s: %v", id, err)
	}
	if ledger.KindOf(tx.Body.Record) != ref.Kind || tx.Body.Signer != ref.Author {
		return nil, LogState{}, Failf("the proven state entry of %s names a kind or author its transaction does not", id)
	}
	if err := readableMatches(rec, tx); err != nil {
		return nil, LogState{}, err
	}
	want.Decoded, want.Signers = tx, ledger.TxSigners(tx)
	return want, ls, nil
}

// readableMatches checks an answer's reading aids (the decoded transaction
// and the signers, which no proof covers) against the signed transaction
// itself, so a node cannot show readers something other than what was
// signed. Absent aids are fine (older nodes, evidence bundles of format v1).
func readableMatches(r *pb.StoredRecord, tx *pb.Tx) error {
	if r.Decoded != nil && !proto.Equal(r.Decoded, tx) {
		return Failf("record %s: the decoded record in the answer differs from its signed transaction", r.Id)
	}
	if r.Signers != nil && !slices.Equal(r.Signers, ledger.TxSigners(tx)) {
		return Failf("record %s: the answer lists signers %v, its signed transaction %v", r.Id, r.Signers, ledger.TxSigners(tx))
	}
	return nil
}

// RecordV1 checks a record answer of app versions 1-3 (evidence bundles of
// format v1): proofs of i/<id> -> seq and r/<seq> -> StoredRecord.
func RecordV1(appHash []byte, id string, resp *pb.GetRecordResponse) (*pb.StoredRecord, error) {
	idKey, err := layout.ID(id)
	if err != nil {
		return nil, Failf("%v", err)
	}
	if resp == nil || len(resp.Proofs) != 2 {
		return nil, Failf("record answer for %s carries %d proofs, want 2", id, len(resp.GetProofs()))
	}
	ip, rp := resp.Proofs[0], resp.Proofs[1]
	if ip == nil || rp == nil {
		return nil, Failf("record answer for %s carries an empty proof", id)
	}
	if !bytes.Equal(ip.Key, idKey) || !ip.Exists || len(ip.Value) != 8 {
		return nil, Failf("first proof is not of the id index entry for %s", id)
	}
	if err := Proof(appHash, ip); err != nil {
		return nil, err
	}
	seq := binary.BigEndian.Uint64(ip.Value)
	if !bytes.Equal(rp.Key, append([]byte("r/"), layout.U64(seq)...)) || !rp.Exists {
		return nil, Failf("second proof is not of record %d", seq)
	}
	if err := Proof(appHash, rp); err != nil {
		return nil, err
	}
	proven := new(pb.StoredRecord)
	if err := proto.Unmarshal(rp.Value, proven); err != nil {
		return nil, Failf("proven record does not decode: %v", err)
	}
	if resp.Record == nil || !proto.Equal(ledger.Bare(resp.Record), proven) {
		return nil, Failf("the record in the answer differs from the proven record")
	}
	if tx, err := ledger.DecodeTx(proven.Tx, 0); err == nil {
		if err := readableMatches(resp.Record, tx); err != nil {
			return nil, err
		}
	}
	if proven.Id != id || proven.Seq != seq || ledger.RecordID(proven.Tx) != id {
		return nil, Failf("proven record %d does not carry id %s", seq, id)
	}
	return proven, nil
}

// Absence checks that resp (the details of a 404 with prove=true) proves
// that no record id exists under appHash.
func Absence(appHash []byte, id string, resp *pb.GetRecordResponse) error {
	idKey, err := layout.ID(id)
	if err != nil {
		return Failf("%v", err)
	}
	if resp == nil || len(resp.Proofs) != 1 || resp.Record != nil {
		return Failf("absence answer for %s is malformed", id)
	}
	p := resp.Proofs[0]
	if !bytes.Equal(p.GetKey(), idKey) || p.GetExists() {
		return Failf("absence proof is not of the id index entry for %s", id)
	}
	return Proof(appHash, p)
}

// Member checks a GetMemberResponse against appHash and returns the member.
func Member(appHash []byte, id string, resp *pb.GetMemberResponse) (*pb.Member, error) {
	proven := new(pb.Member)
	if err := provenEntry(appHash, "member", strconv.Quote(id), layout.Member(id), resp.GetProof(), resp.GetMember(), proven); err != nil {
		return nil, err
	}
	if proven.Id != id {
		return nil, Failf("the member in the answer differs from the proven member")
	}
	return proven, nil
}

// provenEntry checks the answer for one state entry (what, named shown in
// messages): p must prove that key exists under appHash, and its value,
// decoded into proven, must equal answered.
func provenEntry(appHash []byte, what, shown string, key []byte, p *pb.Proof, answered, proven proto.Message) error {
	if p == nil || !p.Exists {
		return Failf("%s answer for %s carries no existence proof", what, shown)
	}
	if !bytes.Equal(p.Key, key) {
		return Failf("proof is not of %s %s", what, shown)
	}
	if err := Proof(appHash, p); err != nil {
		return err
	}
	if err := proto.Unmarshal(p.Value, proven); err != nil {
		return Failf("proven %s does not decode: %v", what, err)
	}
	if !answered.ProtoReflect().IsValid() || !proto.Equal(answered, proven) {
		return Failf("the %s in the answer differs from the proven %s", what, what)
	}
	return nil
}

// Obligation checks a GetObligationResponse (with prove=true) for id
// against appHash and returns the obligation.
func Obligation(appHash []byte, id string, resp *pb.GetObligationResponse) (*pb.Obligation, error) {
	if !ledger.IsObligationID(id) {
		return nil, Failf("%q is not an obligation id", id)
	}
	proven := new(pb.Obligation)
	if err := provenEntry(appHash, "obligation", id, layout.Obligation(id), resp.GetProof(), resp.GetObligation(), proven); err != nil {
		return nil, err
	}
	if proven.Id != id {
		return nil, Failf("the obligation in the answer differs from the proven obligation")
	}
	return proven, nil
}

// MemberHeight is the state a record's signatures are checked against
// (Signatures): the state before its block (or the first state, for block
// 1). Its app hash is in header MemberHeight(h)+1.
func MemberHeight(recordHeight int64) int64 {
	if recordHeight > 1 {
		return recordHeight - 1
	}
	return recordHeight
}

// Signatures re-checks a record's signatures against member entries that
// were themselves verified at the record's height.
func Signatures(rec *pb.StoredRecord, members map[string]*pb.Member) error {
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		return Failf("record %s: %v", rec.Id, err)
	}
	if tx.Body.Signer != rec.Author {
		return Failf("record %s: author %q but signer %q", rec.Id, rec.Author, tx.Body.Signer)
	}
	err = ledger.VerifySignatures(func(id string) (*pb.Member, error) { return members[id], nil }, tx, rec.Height)
	if err != nil {
		return Failf("record %s: %v", rec.Id, err)
	}
	return nil
}

// Signers lists the member ids whose signatures a record carries.
func Signers(rec *pb.StoredRecord) ([]string, error) {
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		return nil, err
	}
	return ledger.TxSigners(tx), nil
}

// Proposal checks a GetProposalResponse (with prove=true) for id against
// appHash: the proposal entry, and for every elector of its (proven)
// electorate a proof of its vote or of its absence, so no vote can be
// hidden, invented or repeated; the votes in the answer must be exactly the
// proven ones, in electorate order. It returns the proven proposal and votes.
func Proposal(appHash []byte, id string, resp *pb.GetProposalResponse) (*pb.ProposalState, []*pb.VoteState, error) {
	if resp == nil || len(resp.Proofs) == 0 {
		return nil, nil, Failf("proposal answer for %s carries no proofs", id)
	}
	pp := resp.Proofs[0]
	if !bytes.Equal(pp.GetKey(), layout.Proposal(id)) || !pp.GetExists() {
		return nil, nil, Failf("first proof is not of proposal %s", id)
	}
	if err := Proof(appHash, pp); err != nil {
		return nil, nil, err
	}
	p := new(pb.ProposalState)
	if err := proto.Unmarshal(pp.Value, p); err != nil {
		return nil, nil, Failf("proven proposal does not decode: %v", err)
	}
	if p.Id != id || !proto.Equal(p, resp.Proposal) {
		return nil, nil, Failf("the proposal in the answer differs from the proven proposal")
	}
	if len(resp.Proofs) != 1+len(p.Electorate) {
		return nil, nil, Failf("proposal answer for %s carries %d vote proofs for %d electors", id, len(resp.Proofs)-1, len(p.Electorate))
	}
	var votes []*pb.VoteState
	for i, e := range p.Electorate {
		vp := resp.Proofs[1+i]
		if !bytes.Equal(vp.GetKey(), layout.Vote(id, e)) {
			return nil, nil, Failf("proof %d is not of %s's vote", 1+i, e)
		}
		if err := Proof(appHash, vp); err != nil {
			return nil, nil, err
		}
		if !vp.Exists {
			continue
		}
		pv := new(pb.VoteState)
		if err := proto.Unmarshal(vp.Value, pv); err != nil || pv.ProposalId != id || pv.Elector != e {
			return nil, nil, Failf("the proven vote of %s does not decode as its vote on %s", e, id)
		}
		votes = append(votes, pv)
	}
	if len(votes) != len(resp.Votes) {
		return nil, nil, Failf("the answer lists %d votes, %d are proven", len(resp.Votes), len(votes))
	}
	for i := range votes {
		if !proto.Equal(votes[i], resp.Votes[i]) {
			return nil, nil, Failf("the vote of %s in the answer differs from the proven vote", votes[i].Elector)
		}
	}
	return p, votes, nil
}

// Evidence checks an evidence answer (GET /v1/evidence/{id}?prove=true)
// against a verified app hash and returns the proven evidence: what
// consensus committed about a validator's misbehaviour, and the member it
// is linked to.
func Evidence(appHash []byte, id string, resp *pb.GetEvidenceResponse) (*pb.Evidence, error) {
	h, i, ok := layout.ParseEvidenceID(id)
	if !ok {
		return nil, Failf("%q is not an evidence id", id)
	}
	proven := new(pb.Evidence)
	if err := provenEntry(appHash, "evidence", id, layout.Evidence(h, i), resp.GetProof(), resp.GetEvidence(), proven); err != nil {
		return nil, err
	}
	if proven.Id != id {
		return nil, Failf("the evidence in the answer differs from the proven evidence")
	}
	return proven, nil
}

// EvidenceMember checks that member m (proven in the state the evidence's
// block built on) holds the validator key the evidence is about.
func EvidenceMember(ev *pb.Evidence, m *pb.Member) error {
	if m.GetId() != ev.GetMember() {
		return Failf("evidence %s names member %q, the proven entry is %q's", ev.GetId(), ev.GetMember(), m.GetId())
	}
	if len(m.ValidatorPubKey) != ed25519.PubKeySize {
		return Failf("evidence %s names member %q, which held no validator key", ev.GetId(), m.GetId())
	}
	if addr := ed25519.PubKey(m.ValidatorPubKey).Address(); !bytes.Equal(addr, ev.GetValidatorAddress()) {
		return Failf("evidence %s is against validator %X, member %q held validator %X", ev.GetId(), ev.GetValidatorAddress(), m.GetId(), []byte(addr))
	}
	return nil
}
