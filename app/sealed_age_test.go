package app

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// stockAge is the stock age tool (Debian package age). .ci/run installs it
// and sets NORMLEDGER_REQUIRE_AGE, so there a missing tool fails; elsewhere
// (a machine with only Go) the test skips, as the browser test does.
func stockAge(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("age")
	if err != nil {
		if os.Getenv("NORMLEDGER_REQUIRE_AGE") != "" {
			t.Fatal("the stock age tool is not installed (apt-get install age): ", err)
		}
		t.Skip("no age on PATH: this test needs the stock age tool (apt-get install age)")
	}
	return p
}

// The format is the standard one: the stock age tool decrypts what
// normledger seals with a recipient's exported identity, and a body the
// stock tool encrypted to the registered recipients is accepted.
func TestStockAgeTool(t *testing.T) {
	bin := stockAge(t)
	h := newHarness(t)
	h.block()
	dir := t.TempDir()
	to := []string{"xbb", "xcc"}
	var keys []client.SealKey
	for _, m := range to {
		keys = append(keys, client.SealKey{Member: m, AgeRecipient: fixture.AgeRecipient(fixture.EncryptionIdentity(m))})
	}
	body := fixture.ExerciseBody()

	// normledger seals; the stock tool opens it with xcc's exported identity.
	sealed, salt, err := client.SealTo(body, keys)
	if err != nil {
		t.Fatal(err)
	}
	sealed.RevealBy = timestampAfter(h, 72)
	if res := h.block(h.sign("xaa", sealedRecord(sealed))); res.TxResults[0].Code != 0 {
		t.Fatal(res.TxResults[0].Log)
	}
	kr, err := keyring.Open(filepath.Join(dir, "keyring"), keyring.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.ParseX25519Identity(fixture.EncryptionIdentity("xcc"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.AddIdentity("xcc-enc", "xcc", id); err != nil {
		t.Fatal(err)
	}
	exported, err := kr.AgeIdentity("xcc-enc")
	if err != nil {
		t.Fatal(err)
	}
	idFile, ctFile := filepath.Join(dir, "xcc.age-identity"), filepath.Join(dir, "sealed.age")
	if err := os.WriteFile(idFile, []byte(exported+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ctFile, sealed.Ciphertext, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-d", "-i", idFile, ctFile).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	want, err := ledger.SealedPayload(salt, body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Fatal("the stock tool decrypts a different payload")
	}
	if err := ledger.CheckSealedPayload(sealed, out); err != nil {
		t.Fatal(err)
	}

	// The stock tool seals (binary output, one -r per registered recipient);
	// the ledger takes it.
	cmd := exec.Command(bin, "-r", keys[0].AgeRecipient, "-r", keys[1].AgeRecipient)
	other := proto.Clone(body).(*pb.Record)
	other.GetNotification().Summary = "Exercise plan, sealed with the stock age tool."
	s, payload := (&sealKit{harness: h}).notice(other, 9)
	cmd.Stdin = bytes.NewReader(payload)
	ct, err := cmd.Output()
	if err != nil {
		t.Fatalf("age -r: %v", err)
	}
	s.Ciphertext = ct
	for _, k := range keys {
		s.Recipients = append(s.Recipients, &pb.SealRecipient{Member: k.Member, KeyId: ledger.EncryptionKeyID(k.AgeRecipient)})
	}
	tx := h.sign("xaa", sealedRecord(s))
	if r := h.checkTx(tx); r.Code != 0 {
		t.Fatalf("CheckTx: %s", r.Log)
	}
	if res := h.block(tx); res.TxResults[0].Code != 0 {
		t.Fatal(res.TxResults[0].Log)
	}
	// ... and each recipient reads the same body with the library.
	for _, m := range to {
		id, _ := age.ParseX25519Identity(fixture.EncryptionIdentity(m))
		op, err := client.OpenSealed(s, id)
		if err != nil || op.Mismatch != "" {
			t.Fatalf("%s: %v %s", m, err, op.Mismatch)
		}
	}
}
