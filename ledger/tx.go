package ledger

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// SignDomain prefixes every signed message; see docs/signing.md.
const SignDomain = "normledger/v1/tx"

// SealDomain prefixes the preimage of a sealed record's commitment.
const SealDomain = "normledger/v1/seal"

// CurrentSchemaVersion is the record schema version this ledger accepts.
const CurrentSchemaVersion = 1

// DefaultMaxTxBytes bounds a transaction when params do not say otherwise.
const DefaultMaxTxBytes = MaxTxBytesLimit

// MaxTxBytesLimit is the largest max_tx_bytes: a record's transaction is an
// entry of the record log, and C2SP tlog-tiles entry bundles prefix each
// entry with a 16-bit length.
const MaxTxBytesLimit = 1<<16 - 1

// Canonical returns the canonical encoding of m: deterministic protobuf
// encoding (fields in ascending number order, proto3 defaults omitted, packed
// repeated scalars, minimal varints, no unknown fields).
func Canonical(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// DecodeTx parses raw transaction bytes and insists they are the canonical
// encoding of the Tx they decode to, and no larger than maxBytes.
func DecodeTx(raw []byte, maxBytes int) (*pb.Tx, error) {
	if err := checkTxSize(raw, maxBytes); err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, errf(CodeTxDecode, "empty tx")
	}
	tx := new(pb.Tx)
	if err := unmarshalCanonical(raw, tx, "tx"); err != nil {
		return nil, err
	}
	if tx.Body == nil {
		return nil, errf(CodeMissingField, "tx has no body")
	}
	if tx.Body.Record == nil {
		return nil, errf(CodeMissingField, "tx body has no record")
	}
	return tx, nil
}

// unmarshalCanonical decodes raw into m and insists raw is m's canonical
// encoding: no unknown fields, nothing that re-encodes differently. what
// names the message in the errors (CodeTxDecode, CodeNonCanonical).
// UnmarshalCanonical decodes raw into m and insists it is m's canonical
// encoding (no unknown fields, deterministic order).
func UnmarshalCanonical(raw []byte, m proto.Message) error {
	return unmarshalCanonical(raw, m, string(m.ProtoReflect().Descriptor().Name()))
}

func unmarshalCanonical(raw []byte, m proto.Message, what string) error {
	if err := proto.Unmarshal(raw, m); err != nil {
		return wrapf(CodeTxDecode, err, "%s does not decode", what)
	}
	if hasUnknown(m.ProtoReflect()) {
		return errf(CodeNonCanonical, "%s carries unknown fields", what)
	}
	again, err := Canonical(m)
	if err != nil {
		return wrapf(CodeTxDecode, err, "%s does not re-encode", what)
	}
	if string(again) != string(raw) {
		return errf(CodeNonCanonical, "%s encoding is not canonical (%d bytes; canonical form is %d bytes)", what, len(raw), len(again))
	}
	return nil
}

// checkTxSize refuses a tx larger than maxBytes (0: no limit).
func checkTxSize(raw []byte, maxBytes int) error {
	if maxBytes > 0 && len(raw) > maxBytes {
		return errf(CodeTxTooLarge, "tx is %d bytes, limit %d", len(raw), maxBytes)
	}
	return nil
}

// hasUnknown reports whether m or any message inside it carries unknown fields.
func hasUnknown(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return true
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && !found; i++ {
				found = hasUnknown(l.Get(i).Message())
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapValue().Message() != nil {
					found = hasUnknown(mv.Message())
				}
				return !found
			})
		default:
			found = hasUnknown(v.Message())
		}
		return !found
	})
	return found
}

// SignBytes returns the message a member signs:
//
//	"normledger/v1/tx" 0x00 || u32be(len(signer)) || signer || u32be(len(keyID)) || keyID || canonical(body)
//
// The primary signer passes body.signer and body.key_id; a co-signer passes its
// own. The body carries the chain id and the primary signer's sequence.
func SignBytes(body *pb.TxBody, signer, keyID string) ([]byte, error) {
	bz, err := Canonical(body)
	if err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	out := make([]byte, 0, len(SignDomain)+1+8+len(signer)+len(keyID)+len(bz))
	out = append(out, SignDomain...)
	out = append(out, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(len(signer)))
	out = append(out, signer...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(keyID)))
	out = append(out, keyID...)
	out = append(out, bz...)
	return out, nil
}

// RecordID is the id of the record carried by raw (canonical) tx bytes: the
// lowercase hex SHA-256 of those bytes. It equals the CometBFT tx hash.
func RecordID(rawTx []byte) string {
	h := sha256.Sum256(rawTx)
	return hex.EncodeToString(h[:])
}

// KeyID derives a key id from an ed25519 public key: lowercase hex of the
// first 8 bytes of its SHA-256.
func KeyID(pub []byte) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// ContentHash identifies a record's content for duplicate detection: the
// SHA-256 of its canonical encoding with client_time cleared, so that the
// same statement filed twice is caught even if the client clock moved.
func ContentHash(r *pb.Record) ([32]byte, error) {
	c := proto.Clone(r).(*pb.Record)
	c.ClientTime = nil
	bz, err := Canonical(c)
	if err != nil {
		return [32]byte{}, fmt.Errorf("encode record: %w", err)
	}
	return sha256.Sum256(bz), nil
}

// SealCommitment computes the commitment a Sealed record carries for body.
func SealCommitment(salt []byte, body *pb.Record) ([]byte, error) {
	bz, err := Canonical(body)
	if err != nil {
		return nil, fmt.Errorf("encode sealed body: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(SealDomain))
	h.Write([]byte{0})
	h.Write(salt)
	h.Write(bz)
	return h.Sum(nil), nil
}

// Signer holds one member key able to sign transactions.
type Signer struct {
	Member string
	Key    ed25519.PrivKey
}

// KeyID returns the id of the signer's key.
func (s Signer) KeyID() string { return KeyID(s.Key.PubKey().Bytes()) }

// BuildTx signs body with primary (whose member id and key id are written
// into the body) and with each co-signer, and returns the canonical tx bytes.
// Co-signers are sorted by member id as the ledger requires.
func BuildTx(body *pb.TxBody, primary Signer, coSigners ...Signer) ([]byte, error) {
	body.Signer = primary.Member
	body.KeyId = primary.KeyID()
	msg, err := SignBytes(body, body.Signer, body.KeyId)
	if err != nil {
		return nil, err
	}
	sig, err := primary.Key.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	tx := &pb.Tx{Body: body, Signature: sig}
	sorted := append([]Signer(nil), coSigners...)
	sortSigners(sorted)
	for _, cs := range sorted {
		m, err := SignBytes(body, cs.Member, cs.KeyID())
		if err != nil {
			return nil, err
		}
		s, err := cs.Key.Sign(m)
		if err != nil {
			return nil, fmt.Errorf("co-sign: %w", err)
		}
		tx.CoSignatures = append(tx.CoSignatures, &pb.CoSignature{Signer: cs.Member, KeyId: cs.KeyID(), Signature: s})
	}
	return Canonical(tx)
}

// sortSigners sorts by member id, stably (equal ids keep the caller's order).
func sortSigners(s []Signer) {
	slices.SortStableFunc(s, func(a, b Signer) int { return cmp.Compare(a.Member, b.Member) })
}

// TxSigners lists the member ids whose signatures tx carries: the author,
// then every co-signer in order.
func TxSigners(tx *pb.Tx) []string {
	out := []string{tx.GetBody().GetSigner()}
	for _, cs := range tx.GetCoSignatures() {
		out = append(out, cs.GetSigner())
	}
	return out
}

// Readable returns a copy of r with its reading aids filled in: the
// transaction decoded and the signers. Proofs never cover them; r itself
// is not changed. A transaction that does not decode leaves them empty.
func Readable(r *pb.StoredRecord) *pb.StoredRecord {
	if r == nil {
		return nil
	}
	out := &pb.StoredRecord{Id: r.Id, Seq: r.Seq, Height: r.Height, BlockTime: r.BlockTime, TxIndex: r.TxIndex,
		Kind: r.Kind, Author: r.Author, Tx: r.Tx}
	if tx, err := DecodeTx(r.Tx, 0); err == nil {
		out.Decoded, out.Signers = tx, TxSigners(tx)
	}
	return out
}

// Bare returns r without its reading aids (what proofs cover).
func Bare(r *pb.StoredRecord) *pb.StoredRecord {
	if r == nil || (r.Decoded == nil && r.Signers == nil) {
		return r
	}
	return &pb.StoredRecord{Id: r.Id, Seq: r.Seq, Height: r.Height, BlockTime: r.BlockTime, TxIndex: r.TxIndex,
		Kind: r.Kind, Author: r.Author, Tx: r.Tx}
}
