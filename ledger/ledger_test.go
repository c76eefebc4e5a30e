package ledger_test

import (
	stded25519 "crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

var update = flag.Bool("update", false, "rewrite golden files")

// signVector is the worked example in docs/signing.md; clients in other
// languages can check their encoder and signer against it.
type signVector struct {
	PrivateKeySeedHex string `json:"private_key_seed_hex"`
	PublicKeyHex      string `json:"public_key_hex"`
	KeyID             string `json:"key_id"`
	BodyHex           string `json:"canonical_body_hex"`
	SignBytesHex      string `json:"sign_bytes_hex"`
	SignatureHex      string `json:"signature_hex"`
	TxHex             string `json:"tx_hex"`
	RecordID          string `json:"record_id"`
}

func vector(t *testing.T) signVector {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	key := ed25519.PrivKey(stded25519.NewKeyFromSeed(seed))
	body := &pb.TxBody{ChainId: "normledger-dev", Sequence: 1, Record: &pb.Record{
		SchemaVersion: 1,
		ClientTime:    timestamppb.New(time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)),
		Body: &pb.Record_Acknowledgement{Acknowledgement: &pb.Acknowledgement{
			NotificationId: "4f3c2b1a000000000000000000000000000000000000000000000000000000ff",
			Note:           "Received.",
		}},
	}}
	tx, err := ledger.BuildTx(body, ledger.Signer{Member: "xbb", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	bodyBz, _ := ledger.Canonical(body)
	sb, _ := ledger.SignBytes(body, "xbb", body.KeyId)
	dec, err := ledger.DecodeTx(tx, 0)
	if err != nil {
		t.Fatal(err)
	}
	return signVector{
		PrivateKeySeedHex: hex.EncodeToString(seed),
		PublicKeyHex:      hex.EncodeToString(key.PubKey().Bytes()),
		KeyID:             body.KeyId,
		BodyHex:           hex.EncodeToString(bodyBz),
		SignBytesHex:      hex.EncodeToString(sb),
		SignatureHex:      hex.EncodeToString(dec.Signature),
		TxHex:             hex.EncodeToString(tx),
		RecordID:          ledger.RecordID(tx),
	}
}

func TestSignBytesGoldenVector(t *testing.T) {
	got := vector(t)
	path := "testdata/sign_vector.json"
	if *update {
		bz, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(bz, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bz, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	var want signVector
	if err := json.Unmarshal(bz, &want); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("sign vector changed: the signing format is part of the protocol.\ngot  %+v\nwant %+v", got, want)
	}
	// The signature verifies with nothing but the documented construction.
	pub, _ := hex.DecodeString(want.PublicKeyHex)
	sb, _ := hex.DecodeString(want.SignBytesHex)
	sig, _ := hex.DecodeString(want.SignatureHex)
	if !ed25519.PubKey(pub).VerifySignature(sb, sig) {
		t.Fatal("vector signature does not verify")
	}
}

// Result codes are append-only: this table must only ever grow.
func TestCodesAreStable(t *testing.T) {
	want := []string{"ok", "internal", "tx_decode", "non_canonical", "tx_too_large", "bad_signature",
		"wrong_chain_id", "unknown_signer", "unknown_key", "replay", "sequence_gap", "duplicate_record",
		"class_not_allowed", "missing_field", "bad_enum", "bad_time", "field_too_long", "bad_format",
		"unsupported_schema", "unknown_record", "wrong_record_kind", "not_author", "not_recipient",
		"member_inactive", "key_inactive", "co_signature", "reveal_mismatch", "unknown_member",
		"assessor_mismatch", "genesis", "empty_body", "self_reference", "rate_limited", "no_route", "unavailable", "height_too_high", "unknown_obligation", "not_creditor", "obligation_closed"}
	codes := ledger.Codes()
	if len(codes) < len(want) {
		t.Fatalf("codes were removed: have %d, had %d", len(codes), len(want))
	}
	for i, name := range want {
		if codes[i] != ledger.Code(i) || codes[i].String() != name {
			t.Fatalf("code %d is %q, was %q: codes are never renumbered or renamed", i, codes[i], name)
		}
	}
}

func TestRegistryNames(t *testing.T) {
	reg := ledger.DefaultRegistry()
	if len(reg.Kinds()) != len(pb.RecordKind_name)-1 {
		t.Fatalf("registry has %d kinds, proto defines %d", len(reg.Kinds()), len(pb.RecordKind_name)-1)
	}
	for _, k := range reg.Kinds() {
		if k.Name != ledger.KindNameOf(k.Enum) {
			t.Errorf("kind %v named %q, want %q", k.Enum, k.Name, ledger.KindNameOf(k.Enum))
		}
		if reg.KindByName(k.Name) != k {
			t.Errorf("KindByName(%q) mismatch", k.Name)
		}
	}
	if _, err := ledger.NewRegistry(*reg.Kinds()[0], *reg.Kinds()[0]); err == nil {
		t.Fatal("duplicate kind accepted")
	}
}

func TestValidateGenesis(t *testing.T) {
	good := fixture.Genesis(fixture.Dev(2, fixture.SeededKey))
	if err := ledger.ValidateGenesis(good); err != nil {
		t.Fatal(err)
	}
	bad := fixture.Genesis(fixture.Dev(2, fixture.SeededKey))
	bad.Members[1].Keys[0].KeyId = "0000000000000000"
	if ledger.CodeOf(ledger.ValidateGenesis(bad)) != ledger.CodeGenesis {
		t.Fatal("mismatched key id accepted")
	}
	dup := fixture.Genesis(fixture.Dev(2, fixture.SeededKey))
	dup.Members = append(dup.Members, dup.Members[0])
	if ledger.ValidateGenesis(dup) == nil {
		t.Fatal("duplicate member accepted")
	}
	// A directory entry is the member's own record, never preset.
	preset := fixture.Genesis(fixture.Dev(2, fixture.SeededKey))
	preset.Members[0].Directory = &pb.DirectoryEntry{Points: []*pb.ContactPoint{fixture.Contact("xaa", pb.ContactRole_CONTACT_ROLE_TECHNICAL)}}
	if ledger.CodeOf(ledger.ValidateGenesis(preset)) != ledger.CodeGenesis {
		t.Fatal("a preset directory entry accepted")
	}
}
