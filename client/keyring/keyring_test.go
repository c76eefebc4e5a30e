package keyring

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cometbft/cometbft/crypto/ed25519"
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
