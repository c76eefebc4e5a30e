package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"filippo.io/age"

	"github.com/normledger/normledger/ledger/seal"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Sealed records to named recipients and receipts (app version 8,
// docs/sealed.md).

// MaxSealedCiphertext caps Sealed.ciphertext: the age file, header and
// payload. A record body of the largest kind (a pledge's text) fits with
// room for 64 recipient stanzas.
const MaxSealedCiphertext = 32768

// newInV8 names the first field of r that app version 8 introduced, or "".
// Below that version such a transaction is refused as carrying unknown
// fields, the answer a binary that predates them gives (DecodeTx), so that
// a chain's results do not depend on which binary a validator runs before
// the upgrade. checkAppVersion looks into the records carried inside
// others (an amendment's replacement, a reveal's body) too.
func newInV8(r *pb.Record) string {
	switch body := r.GetBody().(type) {
	case *pb.Record_Receipt:
		return "record.receipt"
	case *pb.Record_Sealed:
		if len(body.Sealed.Ciphertext) > 0 {
			return "sealed.ciphertext"
		}
		if len(body.Sealed.Recipients) > 0 {
			return "sealed.recipients"
		}
	case *pb.Record_Proposal:
		switch a := body.Proposal.GetAction().GetAction().(type) {
		case *pb.GovernanceAction_AddKey:
			if a.AddKey.AgeRecipient != "" {
				return "add_key.age_recipient"
			}
		case *pb.GovernanceAction_RotateKey:
			if a.RotateKey.NewAgeRecipient != "" {
				return "rotate_key.new_age_recipient"
			}
		}
	}
	return ""
}

// enumSince refuses, below app version since, an enum value that version
// defined (isNew), as the binaries that predate it do: an undefined value.
func (v *validator) enumSince(field string, since uint64, isNew bool, n int32) error {
	if !isNew {
		return nil
	}
	if ok, err := atLeast(v.st, since); err != nil || ok {
		return err
	}
	return errf(CodeBadEnum, "%s has undefined value %d", field, n)
}

// newIn names, per app version, the first part of a record (not looking
// into the records it carries) that version introduced.
var newIn = []struct {
	find func(*pb.Record) string
	need uint64
}{{newInV8, AppVersionSealedToRecipients}, {newInV9, AppVersionContactDirectory}, {newInV10, AppVersionCases},
	{newInV11, AppVersionDisclosure}, {newInV12, AppVersionEvidence}}

// carried is the record r carries (an amendment's replacement, a reveal's
// body), or nil.
func carried(r *pb.Record) *pb.Record {
	if am := r.GetAmendment(); am != nil {
		return am.GetReplacement()
	}
	return r.GetReveal().GetBody()
}

// checkAppVersion refuses a record, or a record it carries, using what a
// later app version than the chain's introduced (newIn).
func checkAppVersion(st State, r *pb.Record) error {
	for _, c := range newIn {
		field := ""
		for x := r; x != nil && field == ""; x = carried(x) {
			field = c.find(x)
		}
		if field == "" {
			continue
		}
		v, err := appVersion(st)
		if err != nil {
			return err
		}
		if v < c.need {
			return errf(CodeNonCanonical, "tx carries unknown fields (%s needs app version %d; the chain is at %d)", field, c.need, v)
		}
	}
	return nil
}

// AgeRecipient checks an age X25519 recipient string ("age1...") and
// returns its key id (EncryptionKeyID).
func AgeRecipient(field, s string) (string, error) {
	if s == "" {
		return "", errf(CodeMissingField, "%s is required", field)
	}
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return "", wrapf(CodeBadFormat, err, "%s is not an age X25519 recipient", field)
	}
	if r.String() != s {
		return "", errf(CodeBadFormat, "%s is not in canonical form (%s)", field, r.String())
	}
	return EncryptionKeyID(s), nil
}

// EncryptionKeyID is the key id of an encryption key: the lowercase hex of
// the first 8 bytes of SHA-256(age recipient string).
func EncryptionKeyID(ageRecipient string) string { return KeyID([]byte(ageRecipient)) }

// findEncryptionKey returns m's encryption key keyID, or nil.
func findEncryptionKey(m *pb.Member, keyID string) *pb.MemberKey {
	return keyIn(m.GetEncryptionKeys(), keyID)
}

// findAnyKey returns m's signing or encryption key keyID, or nil.
func findAnyKey(m *pb.Member, keyID string) *pb.MemberKey {
	if k := findKey(m, keyID); k != nil {
		return k
	}
	return findEncryptionKey(m, keyID)
}

// SealedPayload is the canonical plaintext of a sealed record's ciphertext.
func SealedPayload(salt []byte, body *pb.Record) ([]byte, error) {
	return Canonical(&pb.SealedPayload{Salt: salt, Body: body})
}

// ParseSealedPayload decodes a sealed record's plaintext, insisting on the
// canonical encoding.
func ParseSealedPayload(bz []byte) (*pb.SealedPayload, error) {
	p := new(pb.SealedPayload)
	if err := unmarshalCanonical(bz, p, "payload"); err != nil {
		return nil, err
	}
	if p.Body == nil {
		return nil, errors.New("payload has no body")
	}
	return p, nil
}

// CheckSealedPayload says whether plaintext is the body s commits to: a
// canonical payload whose body is of the sealed kind and whose salt and
// body give the commitment. A nil error means it matches; the error says
// why it does not.
func CheckSealedPayload(s *pb.Sealed, plaintext []byte) error {
	p, err := ParseSealedPayload(plaintext)
	if err != nil {
		return err
	}
	if got := KindOf(p.Body); got != s.SealedKind {
		return fmt.Errorf("the payload's body is a %v, the commitment is to a %v", got, s.SealedKind)
	}
	c, err := SealCommitment(p.Salt, p.Body)
	if err != nil {
		return err
	}
	if !bytes.Equal(c, s.Commitment) {
		return errors.New("the payload's salt and body do not give the sealed commitment")
	}
	return nil
}

// validateSealedTo checks, without keys, a sealed record's ciphertext
// against its recipient list.
func validateSealedTo(s *pb.Sealed) error {
	if len(s.Ciphertext) == 0 && len(s.Recipients) == 0 {
		return nil
	}
	if len(s.Recipients) == 0 {
		return errf(CodeMissingField, "sealed.recipients is required with sealed.ciphertext")
	}
	if len(s.Ciphertext) == 0 {
		return errf(CodeMissingField, "sealed.ciphertext is required with sealed.recipients")
	}
	if len(s.EncryptedCopies) > 0 {
		return errf(CodeDeprecatedField, "sealed.encrypted_copies cannot accompany sealed.ciphertext (one ciphertext for all recipients)")
	}
	return validateAgeTo("sealed", s.Ciphertext, s.Recipients)
}

// validateAgeTo checks, without keys, an age file (prefix.ciphertext)
// against the recipients it names (prefix.recipients): sealed records and
// deliveries of withheld values (docs/disclosure.md).
func validateAgeTo(prefix string, ct []byte, recipients []*pb.SealRecipient) error {
	if err := checkListLen(prefix+".recipients", len(recipients), MaxListLen); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range recipients {
		if err := memberRef(prefix+".recipients.member", r.GetMember()); err != nil {
			return err
		}
		if err := keyIDField(prefix+".recipients.key_id", r.GetKeyId()); err != nil {
			return err
		}
		if seen[r.Member] {
			return errf(CodeBadFormat, "%s.recipients names %q twice", prefix, r.Member)
		}
		seen[r.Member] = true
	}
	if len(ct) > MaxSealedCiphertext {
		return errf(CodeSealTooLarge, "%s.ciphertext is %d bytes, limit %d", prefix, len(ct), MaxSealedCiphertext)
	}
	stanzas, err := seal.Stanzas(ct)
	switch {
	case errors.Is(err, seal.ErrStanza):
		return wrapf(CodeSealStanzaType, err, "%s.ciphertext", prefix)
	case err != nil:
		return wrapf(CodeSealHeader, err, "%s.ciphertext", prefix)
	}
	if len(stanzas) != len(recipients) {
		return errf(CodeSealStanzaCount, "%s.ciphertext has %d recipient stanzas for %d recipients (one each)", prefix, len(stanzas), len(recipients))
	}
	return nil
}

// admitSealedTo checks a sealed record's recipients against the registry:
// each an active member whose named encryption key is active.
func admitSealedTo(a *admission, s *pb.Sealed) error {
	if len(s.EncryptedCopies) > 0 {
		v8, err := atLeast(a.st, AppVersionSealedToRecipients)
		if err != nil {
			return err
		}
		if v8 {
			return errf(CodeDeprecatedField, "sealed.encrypted_copies is deprecated from app version %d: encrypt once to sealed.recipients", AppVersionSealedToRecipients)
		}
	}
	return admitRecipients(a, "sealed", "the sealer", s.Recipients)
}

// admitRecipients checks the recipients of an age file against the
// registry: each an active member, not the signer (who), whose named
// encryption key is active.
func admitRecipients(a *admission, prefix, who string, recipients []*pb.SealRecipient) error {
	for _, r := range recipients {
		m, err := a.member(prefix+".recipients.member", r.Member)
		if err != nil {
			return err
		}
		if r.Member == a.author {
			return errf(CodeSelfReference, "%s.recipients: %s %q does not send a notice to itself", prefix, who, r.Member)
		}
		k := findEncryptionKey(m, r.KeyId)
		if k == nil {
			if len(m.EncryptionKeys) == 0 {
				return errf(CodeNoEncryptionKey, "%s.recipients: %q has no encryption key (add one by a vote: add_key with age_recipient)", prefix, r.Member)
			}
			return errf(CodeNoEncryptionKey, "%s.recipients: %q has no encryption key %q", prefix, r.Member, r.KeyId)
		}
		if k.Status != pb.KeyStatus_KEY_STATUS_ACTIVE || a.b.Height < k.ValidFromHeight {
			return errf(CodeEncryptionKeyInactive, "%s.recipients: encryption key %q of %q is %v (valid from height %d)", prefix, r.KeyId, r.Member, k.Status, k.ValidFromHeight)
		}
		a.subject(r.Member)
	}
	return nil
}

func validateReceipt(v *validator, r *pb.Record) error {
	rc := r.GetReceipt()
	if err := recordID("receipt.sealed_id", rc.SealedId); err != nil {
		return err
	}
	if rc.Matches && len(rc.FileKey) > 0 {
		return errf(CodeBadFormat, "receipt.file_key proves a mismatch; a receipt that matches carries none")
	}
	if len(rc.FileKey) > 0 && len(rc.FileKey) != seal.FileKeySize {
		return errf(CodeBadFormat, "receipt.file_key must be %d bytes, got %d", seal.FileKeySize, len(rc.FileKey))
	}
	return checkText("receipt.statement", rc.Statement, MaxSummaryLen)
}

func admitReceipt(a *admission, r *pb.Record) error {
	rc := r.GetReceipt()
	rec, stx, err := a.record("receipt.sealed_id", rc.SealedId, pb.RecordKind_RECORD_KIND_SEALED)
	if err != nil {
		return err
	}
	s := stx.GetBody().GetRecord().GetSealed()
	if !slices.ContainsFunc(s.GetRecipients(), func(x *pb.SealRecipient) bool { return x.Member == a.author }) {
		return errf(CodeNotRecipient, "receipt.sealed_id: %q is not a recipient of sealed record %s", a.author, rc.SealedId)
	}
	id := ObligationID(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, rc.SealedId, a.author)
	ob, err := a.st.Obligation(id)
	if err != nil {
		return fmt.Errorf("read obligation %s: %w", id, err)
	}
	if ob != nil && !Open(ob) {
		return errf(CodeObligationClosed, "receipt.sealed_id: the receipt %q owes for %s is already %v", a.author, rc.SealedId, ob.Status)
	}
	if len(rc.FileKey) > 0 {
		pt, err := seal.Open(s.Ciphertext, rc.FileKey)
		if errors.Is(err, seal.ErrFileKey) || errors.Is(err, seal.ErrHeader) {
			return wrapf(CodeBadFileKey, err, "receipt.file_key")
		}
		// A payload that does not decrypt under the header's own file key
		// is a mismatch as proven as a wrong body.
		if err == nil && CheckSealedPayload(s, pt) == nil {
			return errf(CodeSealedBodyMatches, "receipt.file_key opens a body that matches the commitment of %s", rc.SealedId)
		}
	}
	a.subject(rec.Author)
	return nil
}

// ReceiptProof re-checks a receipt's published file key against its sealed
// record: nil when the key opens the ciphertext and the body does not
// match the commitment (a proven mismatch, described by the string); the
// error says otherwise. `verify receipt` uses it; the ledger ran the same
// check on admission (admitReceipt), which an audit re-executes.
func ReceiptProof(s *pb.Sealed, rc *pb.Receipt) (string, error) {
	if rc.Matches || len(rc.FileKey) == 0 {
		return "", errors.New("the receipt publishes no file key")
	}
	pt, err := seal.Open(s.Ciphertext, rc.FileKey)
	if errors.Is(err, seal.ErrPayload) {
		return "the payload does not decrypt under the file key the header was sealed with", nil
	}
	if err != nil {
		return "", err
	}
	if err := CheckSealedPayload(s, pt); err != nil {
		return err.Error(), nil
	}
	return "", errors.New("the file key opens a body that matches the commitment")
}
