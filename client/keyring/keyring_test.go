package keyring

import (
	"bytes"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/normledger/normledger/ledger"
)

func fixed(p string) Passphrase { return func(string, bool) (string, error) { return p, nil } }

func TestFileBackendRoundTrip(t *testing.T) {
	dir := t.TempDir()
	kr, _ := Open(dir, BackendFile, fixed("correct horse battery"))
	key := ed25519.GenPrivKey()
	info, err := kr.Add("xaa", "xaa", key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := kr.Signer("xaa")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Key, key) || s.Member != "xaa" || s.KeyID() != info.KeyID {
		t.Fatal("signer differs from the stored key")
	}
	// The file holds no plaintext key.
	raw, _ := kr.read("xaa")
	if raw.PrivateKey != "" || raw.Crypto == nil {
		t.Fatal("file backend stored the key in the clear")
	}
	wrong, _ := Open(dir, BackendFile, fixed("wrong passphrase"))
	if _, err := wrong.Signer("xaa"); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := kr.Add("xaa", "xaa", key); err == nil {
		t.Fatal("overwrote an existing key")
	}
}

func TestExportImport(t *testing.T) {
	src, _ := Open(t.TempDir(), BackendTest, nil)
	key := ed25519.GenPrivKey()
	if _, err := src.Add("lumen", "lumen", key); err != nil {
		t.Fatal(err)
	}
	blob, err := src.Export("lumen", "export passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, []byte("private_key")) {
		t.Fatal("export contains a plaintext key")
	}
	dst, _ := Open(t.TempDir(), BackendFile, fixed("local passphrase"))
	if _, err := dst.Import("lumen2", blob, "bad passphrase"); err == nil {
		t.Fatal("imported with a wrong passphrase")
	}
	info, err := dst.Import("lumen2", blob, "export passphrase")
	if err != nil {
		t.Fatal(err)
	}
	s, err := dst.Signer("lumen2")
	if err != nil || !bytes.Equal(s.Key, key) || info.Member != "lumen" {
		t.Fatalf("imported key differs: %v", err)
	}
	list, _ := dst.List()
	if len(list) != 1 || list[0].Name != "lumen2" {
		t.Fatalf("list: %v", list)
	}
}

// An encryption identity: stored encrypted (file backend), unlocked only
// as an identity (never as a signer), exported and imported like a
// signing key, and written in age's own format for the stock tool.
func TestEncryptionIdentity(t *testing.T) {
	dir := t.TempDir()
	kr, _ := Open(dir, BackendFile, fixed("correct horse battery"))
	info, err := kr.AddEncryption("xbb-enc", "xbb")
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != TypeEncryption || info.PubKey != "" || !strings.HasPrefix(info.AgeRecipient, "age1") ||
		info.KeyID != ledger.EncryptionKeyID(info.AgeRecipient) || info.Member != "xbb" {
		t.Fatalf("info: %+v", info)
	}
	raw, _ := kr.read("xbb-enc")
	if raw.PrivateKey != "" || raw.Crypto == nil {
		t.Fatal("file backend stored the identity in the clear")
	}
	id, err := kr.Identity("xbb-enc")
	if err != nil || id.Recipient().String() != info.AgeRecipient {
		t.Fatalf("identity: %v", err)
	}
	if _, err := kr.Signer("xbb-enc"); err == nil || !strings.Contains(err.Error(), "signs nothing") {
		t.Fatalf("an encryption identity signed: %v", err)
	}
	if _, err := kr.Add("xbb", "xbb", ed25519.GenPrivKey()); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Identity("xbb"); err == nil {
		t.Fatal("a signing key decrypted")
	}
	s, err := kr.AgeIdentity("xbb-enc")
	if err != nil || !strings.HasPrefix(s, "AGE-SECRET-KEY-1") {
		t.Fatalf("age identity: %q %v", s, err)
	}
	if parsed, err := age.ParseX25519Identity(s); err != nil || parsed.Recipient().String() != info.AgeRecipient {
		t.Fatalf("age's own parser: %v", err)
	}
	blob, err := kr.Export("xbb-enc", "export passphrase")
	if err != nil || bytes.Contains(blob, []byte("AGE-SECRET-KEY")) {
		t.Fatalf("export: %v (plaintext in it: %v)", err, bytes.Contains(blob, []byte("AGE-SECRET-KEY")))
	}
	dst, _ := Open(t.TempDir(), BackendTest, nil)
	if _, err := dst.Import("copy", blob, "wrong passphrase"); err == nil {
		t.Fatal("imported with a wrong passphrase")
	}
	got, err := dst.Import("copy", blob, "export passphrase")
	if err != nil || got.AgeRecipient != info.AgeRecipient || got.Type != TypeEncryption || got.Member != "xbb" {
		t.Fatalf("import: %+v %v", got, err)
	}
	if id2, err := dst.Identity("copy"); err != nil || id2.String() != id.String() {
		t.Fatalf("imported identity: %v", err)
	}
}
