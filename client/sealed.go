package client

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"

	"filippo.io/age"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/seal"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// SealTo builds a Sealed record for body, encrypted once to every recipient
// (docs/sealed.md): a fresh 32-byte salt, the commitment, and an age file
// whose plaintext is the canonical SealedPayload, with one X25519 stanza
// per recipient in the order given. keys names each recipient's member id
// and its registered encryption key (age recipient string).
func SealTo(body *pb.Record, recipients []SealKey) (*pb.Sealed, []byte, error) {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, nil, err
	}
	commitment, err := ledger.SealCommitment(salt, body)
	if err != nil {
		return nil, nil, err
	}
	payload, err := ledger.SealedPayload(salt, body)
	if err != nil {
		return nil, nil, err
	}
	ct, named, err := EncryptTo(payload, recipients)
	if err != nil {
		return nil, nil, err
	}
	return &pb.Sealed{SealedKind: ledger.KindOf(body), Commitment: commitment, Ciphertext: ct, Recipients: named}, salt, nil
}

// EncryptTo encrypts plaintext once to every recipient: an age v1 file
// (binary) with one X25519 stanza per recipient in the order given, and the
// recipients as a record names them.
func EncryptTo(plaintext []byte, recipients []SealKey) ([]byte, []*pb.SealRecipient, error) {
	var rs []age.Recipient
	var named []*pb.SealRecipient
	for _, k := range recipients {
		r, err := age.ParseX25519Recipient(k.AgeRecipient)
		if err != nil {
			return nil, nil, fmt.Errorf("recipient %s: %w", k.Member, err)
		}
		rs = append(rs, r)
		named = append(named, &pb.SealRecipient{Member: k.Member, KeyId: ledger.EncryptionKeyID(k.AgeRecipient)})
	}
	var ct bytes.Buffer
	w, err := age.Encrypt(&ct, rs...)
	if err != nil {
		return nil, nil, err
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, nil, err
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	return ct.Bytes(), named, nil
}

// SealKey is one recipient of SealTo.
type SealKey struct {
	Member       string
	AgeRecipient string
}

// RecipientKeys finds each member's newest active encryption key in the
// registry answers ms.
func RecipientKeys(ms []*pb.Member, members []string) ([]SealKey, error) {
	byID := map[string]*pb.Member{}
	for _, m := range ms {
		byID[m.Id] = m
	}
	var out []SealKey
	for _, id := range members {
		m := byID[id]
		if m == nil {
			return nil, fmt.Errorf("%q is not a member", id)
		}
		var key string
		for _, k := range m.EncryptionKeys {
			if k.Status == pb.KeyStatus_KEY_STATUS_ACTIVE {
				key = k.AgeRecipient
			}
		}
		if key == "" {
			return nil, fmt.Errorf("%q has no active encryption key (a vote adds one: gov propose add-key %s AGE_RECIPIENT)", id, id)
		}
		out = append(out, SealKey{Member: id, AgeRecipient: key})
	}
	return out, nil
}

// ErrStanza: no stanza of the sealed record opens with the identity (not
// a recipient, or the sealer garbled its stanza).
var ErrStanza = errors.New("no recipient stanza opens with this identity")

// Opened is a sealed record a recipient decrypted.
type Opened struct {
	Payload *pb.SealedPayload
	// FileKey is what the recipient's stanza unwrapped to: publishing it in
	// a receipt proves a mismatch to everyone (and discloses the body).
	FileKey []byte
	// Mismatch is empty when the payload matches the commitment, else why not.
	Mismatch string
}

// OpenSealed decrypts s with a recipient's identity and checks the payload
// against the commitment.
func OpenSealed(s *pb.Sealed, id age.Identity) (*Opened, error) {
	hdr, err := age.ExtractHeader(bytes.NewReader(s.Ciphertext))
	if err != nil {
		return nil, err
	}
	fileKey, err := age.DecryptHeader(hdr, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStanza, err)
	}
	out := &Opened{FileKey: fileKey}
	pt, err := seal.Open(s.Ciphertext, fileKey)
	if err != nil {
		out.Mismatch = err.Error()
		return out, nil
	}
	if err := ledger.CheckSealedPayload(s, pt); err != nil {
		out.Mismatch = err.Error()
	}
	out.Payload, _ = ledger.ParseSealedPayload(pt)
	return out, nil
}

// Answer opens sealed record id with a recipient's identity and builds the
// receipt to file: it matches; or it does not, with the file key that
// proves it (unless withhold); or no stanza opens with the identity (the
// sealer garbled it), an unproven mismatch. why says what was found ("" when
// the body matches).
func Answer(id string, s *pb.Sealed, ident age.Identity, withhold bool) (rc *pb.Receipt, why string, err error) {
	rc = &pb.Receipt{SealedId: id}
	op, err := OpenSealed(s, ident)
	switch {
	case errors.Is(err, ErrStanza):
		rc.Statement = "The recipient stanza for this member does not open with its registered key."
		return rc, "no recipient stanza opens with this member's key (unprovable without the private key): " + err.Error(), nil
	case err != nil:
		return nil, "", err
	case op.Mismatch != "":
		if !withhold {
			rc.FileKey = op.FileKey
		}
		return rc, op.Mismatch, nil
	}
	rc.Matches = true
	return rc, "", nil
}
