package seal_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/normledger/normledger/ledger/seal"
)

func sealed(t testing.TB, n, size int) ([]byte, []*age.X25519Identity) {
	t.Helper()
	var ids []*age.X25519Identity
	var rs []age.Recipient
	for i := 0; i < n; i++ {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		rs = append(rs, id.Recipient())
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte{'x'}, size))
	w.Close()
	return buf.Bytes(), ids
}

// The header is read without keys; a published file key opens the
// payload only if it is the one the header was sealed with.
func TestStanzasAndOpen(t *testing.T) {
	ct, ids := sealed(t, 3, 1000)
	st, err := seal.Stanzas(ct)
	if err != nil || len(st) != 3 {
		t.Fatalf("stanzas: %d %v", len(st), err)
	}
	hdr, _ := age.ExtractHeader(bytes.NewReader(ct))
	fk, err := age.DecryptHeader(hdr, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	pt, err := seal.Open(ct, fk)
	if err != nil || len(pt) != 1000 {
		t.Fatalf("open: %d %v", len(pt), err)
	}
	fk[0] ^= 1
	if _, err := seal.Open(ct, fk); !errors.Is(err, seal.ErrFileKey) {
		t.Fatalf("a wrong file key: %v", err)
	}
	fk[0] ^= 1
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1
	if _, err := seal.Open(bad, fk); !errors.Is(err, seal.ErrPayload) {
		t.Fatalf("a tampered payload: %v", err)
	}
	if _, err := seal.Stanzas([]byte("age-encryption.org/v1\n-> X25519\n")); !errors.Is(err, seal.ErrHeader) {
		t.Fatalf("a truncated header: %v", err)
	}
}

// What the ledger pays per sealed record (CheckTx and FinalizeBlock each)
// and per receipt that publishes a file key.
func BenchmarkStanzas3(b *testing.B) {
	ct, _ := sealed(b, 3, 2000)
	b.SetBytes(int64(len(ct)))
	for b.Loop() {
		if _, err := seal.Stanzas(ct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen2KiB(b *testing.B) {
	ct, ids := sealed(b, 3, 2000)
	hdr, _ := age.ExtractHeader(bytes.NewReader(ct))
	fk, _ := age.DecryptHeader(hdr, ids[0])
	b.SetBytes(int64(len(ct)))
	for b.Loop() {
		if _, err := seal.Open(ct, fk); err != nil {
			b.Fatal(err)
		}
	}
}

// The header rules the ledger applies come partly from the age library
// (its parser); these vectors pin what v1.3.2 answers, so that a library
// upgrade that changes any of them fails here first: a changed answer is a
// consensus change (the result codes are in every block's results).
func TestHeaderVectors(t *testing.T) {
	b64 := func(n int, c byte) string { return base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{c}, n)) }
	x25519 := "-> X25519 " + b64(32, 1) + "\n" + b64(32, 2) + "\n"
	mac := "--- " + b64(32, 3) + "\n"
	payload := string(bytes.Repeat([]byte{9}, 40))
	file := func(stanzas ...string) []byte {
		return []byte("age-encryption.org/v1\n" + strings.Join(stanzas, "") + mac + payload)
	}
	for _, c := range []struct {
		name string
		ct   []byte
		n    int
		want error
	}{
		{"one X25519 stanza", file(x25519), 1, nil},
		{"three X25519 stanzas", file(x25519, x25519, x25519), 3, nil},
		{"no stanza", file(), 0, seal.ErrHeader},
		{"an scrypt stanza", file("-> scrypt " + b64(16, 4) + " 10\n" + b64(32, 5) + "\n"), 0, seal.ErrStanza},
		{"X25519 beside scrypt", file(x25519, "-> scrypt "+b64(16, 4)+" 10\n"+b64(32, 5)+"\n"), 0, seal.ErrStanza},
		{"a grease stanza", file(x25519, "-> grease-x y\n\n"), 0, seal.ErrStanza},
		{"a post-quantum stanza", file("-> mlkem768x25519 " + b64(32, 6) + "\n" + b64(32, 7) + "\n"), 0, seal.ErrStanza},
		{"X25519 with two arguments", file("-> X25519 " + b64(32, 1) + " extra\n" + b64(32, 2) + "\n"), 0, seal.ErrStanza},
		{"X25519 with a short body", file("-> X25519 " + b64(32, 1) + "\n" + b64(16, 2) + "\n"), 0, seal.ErrStanza},
		{"an armored file", []byte("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"), 0, seal.ErrHeader},
		{"a wrong version line", []byte("age-encryption.org/v2\n" + x25519 + mac), 0, seal.ErrHeader},
		{"no MAC line", []byte("age-encryption.org/v1\n" + x25519), 0, seal.ErrHeader},
		{"padded base64 in a body", file("-> X25519 " + b64(32, 1) + "\n" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)) + "\n"), 0, seal.ErrHeader},
		{"nothing", nil, 0, seal.ErrHeader},
	} {
		st, err := seal.Stanzas(c.ct)
		if c.want == nil {
			if err != nil || len(st) != c.n {
				t.Errorf("%s: %d stanzas, %v", c.name, len(st), err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
