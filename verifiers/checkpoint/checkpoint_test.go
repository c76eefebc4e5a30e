package checkpoint_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmtversion "github.com/cometbft/cometbft/proto/tendermint/version"
	"github.com/cometbft/cometbft/types"
	"github.com/cometbft/cometbft/version"
	tlogformat "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/checkpoint"
)

const chainID = "checkpoint-test"

// signedLightBlock is a header of height committing to appHash, signed by
// one validator.
func signedLightBlock(t testing.TB, height int64, appHash []byte, pv types.PrivValidator) *types.LightBlock {
	t.Helper()
	pub, _ := pv.GetPubKey()
	val := types.NewValidator(pub, 10)
	vs := types.NewValidatorSet([]*types.Validator{val})
	h := &types.Header{Version: cmtversion.Consensus{Block: version.BlockProtocol}, ChainID: chainID, Height: height,
		Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), ValidatorsHash: vs.Hash(), NextValidatorsHash: vs.Hash(),
		AppHash: appHash, ProposerAddress: val.Address, LastBlockID: types.BlockID{Hash: bytes.Repeat([]byte{1}, 32),
			PartSetHeader: types.PartSetHeader{Total: 1, Hash: bytes.Repeat([]byte{2}, 32)}}}
	bid := types.BlockID{Hash: h.Hash(), PartSetHeader: types.PartSetHeader{Total: 1, Hash: bytes.Repeat([]byte{3}, 32)}}
	vote := &types.Vote{Type: cmtproto.PrecommitType, Height: height, BlockID: bid, Timestamp: h.Time, ValidatorAddress: val.Address}
	vp := vote.ToProto()
	if err := pv.SignVote(chainID, vp); err != nil {
		t.Fatal(err)
	}
	commit := &types.Commit{Height: height, BlockID: bid, Signatures: []types.CommitSig{{BlockIDFlag: types.BlockIDFlagCommit,
		ValidatorAddress: val.Address, Timestamp: h.Time, Signature: vp.Signature}}}
	lb := &types.LightBlock{SignedHeader: &types.SignedHeader{Header: h, Commit: commit}, ValidatorSet: vs}
	if err := lb.ValidateBasic(chainID); err != nil {
		t.Fatal(err)
	}
	return lb
}

// state is a committed state with records, its log state and a signed note.
func signedCheckpoint(t testing.TB) ([]byte, uint64, []byte, *types.LightBlock) {
	t.Helper()
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.InitGenesis(chainID, fixture.Genesis(fixture.Dev(3, fixture.SeededKey)), 1, ledger.CurrentAppVersion); err != nil {
		t.Fatal(err)
	}
	if err := st.BeginBlock(1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.EndBlock(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	v, _ := st.At(0)
	size, root, err := v.LogState()
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.ProofOf([]byte(layout.KeyLog))
	if err != nil {
		t.Fatal(err)
	}
	lb := signedLightBlock(t, v.Version()+1, v.RootHash(), types.NewMockPV())
	lbp, _ := lb.ToProto()
	lbBytes, _ := lbp.Marshal()
	msg, err := checkpoint.Sign(checkpoint.Origin(chainID), size, root, &pb.CheckpointCertificate{Height: v.Version(), LightBlock: lbBytes, LogProof: p.Proof})
	if err != nil {
		t.Fatal(err)
	}
	return msg, size, root, lb
}

// The checkpoint note parses with x/mod's note and transparency-dev's log
// packages; its certificate verifies; a changed body, certificate or header
// does not.
func TestCertificate(t *testing.T) {
	msg, size, root, lb := signedCheckpoint(t)
	n, err := note.Open(msg, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) || len(unverified.Note.UnverifiedSigs) != 1 {
		t.Fatalf("x/mod/sumdb/note: %v %v", n, err)
	}
	if sig := unverified.Note.UnverifiedSigs[0]; sig.Name != checkpoint.Origin(chainID) || sig.Hash != checkpoint.LogKeyHash(checkpoint.Origin(chainID)) {
		t.Fatalf("log signature %+v", sig)
	}
	c, err := checkpoint.Open(msg, chainID, nil, func(got *types.LightBlock) error {
		if !bytes.Equal(got.Hash(), lb.Hash()) {
			return errors.New("another header")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != size || !bytes.Equal(c.Root, root) || c.Height != lb.Height-1 {
		t.Fatalf("checkpoint %+v", c)
	}
	for name, bad := range map[string][]byte{
		"size changed":   []byte(strings.Replace(string(msg), fmt.Sprintf("\n%d\n", size), fmt.Sprintf("\n%d\n", size+1), 1)),
		"origin changed": []byte(strings.Replace(string(msg), checkpoint.Origin(chainID)+"\n", checkpoint.Origin("other")+"\n", 1)),
		"signature cut":  msg[:len(msg)-10],
	} {
		if _, err := checkpoint.Open(append(bad, '\n'), chainID, nil, nil); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if _, err := checkpoint.Open(msg, chainID, nil, func(*types.LightBlock) error { return errors.New("not the chain's header") }); !errors.Is(err, checkpoint.ErrCheckpoint) {
		t.Fatalf("header refused by the light client: %v", err)
	}
	if _, err := checkpoint.Open(msg, "another-chain", nil, nil); err == nil {
		t.Fatal("another chain's origin verified")
	}
}

// The cosignature is tlog-cosignature/v1 byte for byte: computed here from
// the specification for a fixed key, time and body (the golden vector in
// testdata), and transparency-dev/formats' verifier accepts it; the
// witness's own signer produces the same format.
func TestCosignatureGoldenVector(t *testing.T) {
	seed := sha256.Sum256([]byte("normledger cosignature test vector"))
	key := ed25519.NewKeyFromSeed(seed[:])
	pub := key.Public().(ed25519.PublicKey)
	name := checkpoint.WitnessName("lumen")
	body := []byte("normledger/golden\n42\n" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) + "\n")
	const ts = 1764547200 // 2025-12-01T00:00:00Z
	// The spec: sign "cosignature/v1\ntime <T>\n" || body; the signature is
	// T as 8 bytes big-endian || the Ed25519 signature; the key hash is
	// SHA-256(name || 0x0A || 0x04 || public key)[:4].
	signed := ed25519.Sign(key, []byte(fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, body)))
	sig := binary.BigEndian.AppendUint64(nil, ts)
	sig = append(sig, signed...)
	kh := sha256.Sum256(append(append([]byte(name), '\n', 0x04), pub...))
	line := fmt.Sprintf("— %s %s\n", name, base64.StdEncoding.EncodeToString(append(kh[:4], sig...)))
	want := strings.Join([]string{"vkey " + checkpoint.VerifierKey(name, pub), "body " + base64.StdEncoding.EncodeToString(body), "line " + line}, "\n")
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		os.WriteFile("testdata/cosignature-v1.txt", []byte(want), 0o644)
	}
	golden, err := os.ReadFile("testdata/cosignature-v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(golden) != want {
		t.Fatalf("golden vector changed:\n%s\nwant\n%s", golden, want)
	}
	v, err := fnote.NewVerifierForCosignatureV1(checkpoint.VerifierKey(name, pub))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(append(append(append([]byte(nil), body...), '\n'), line...), note.VerifierList(v)); err != nil {
		t.Fatalf("transparency-dev/formats rejects the specified cosignature: %v", err)
	}
	// The witness's signer: same key hash and format, its own timestamp.
	s, err := checkpoint.NewCosigner(name, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Cosign(s, body)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(got))
	raw, _ := base64.StdEncoding.DecodeString(f[2])
	if f[0] != "—" || f[1] != name || !bytes.Equal(raw[:4], kh[:4]) || len(raw) != 4+8+64 {
		t.Fatalf("cosigner line %q", got)
	}
	t2 := binary.BigEndian.Uint64(raw[4:12])
	if !ed25519.Verify(pub, []byte(fmt.Sprintf("cosignature/v1\ntime %d\n%s", t2, body)), raw[12:]) {
		t.Fatal("the cosigner's signature is not over the specified message")
	}
}

func TestPolicy(t *testing.T) {
	key := func(s string) (string, ed25519.PrivateKey) {
		seed := sha256.Sum256([]byte(s))
		k := ed25519.NewKeyFromSeed(seed[:])
		return checkpoint.VerifierKey(checkpoint.WitnessName(s), k.Public().(ed25519.PublicKey)), k
	}
	ka, _ := key("a")
	kb, _ := key("b")
	kc, _ := key("c")
	text := fmt.Sprintf("# witnesses\nlog normledger/x\nwitness normledger-witness/a %s\nwitness normledger-witness/b %s\nwitness normledger-witness/c %s\n"+
		"group two 2 normledger-witness/a normledger-witness/b normledger-witness/c\nquorum two\n", ka, kb, kc)
	p, err := checkpoint.ParsePolicy(text)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		have []string
		ok   bool
	}{
		{nil, false}, {[]string{"normledger-witness/a"}, false}, {[]string{"normledger-witness/a", "normledger-witness/c"}, true},
		{[]string{"normledger-witness/a", "normledger-witness/a"}, false}, {[]string{"normledger-witness/a", "other"}, false},
	} {
		if got := p.Satisfied(tc.have); got != tc.ok {
			t.Errorf("%v: %v", tc.have, got)
		}
	}
	again, err := checkpoint.ParsePolicy(p.String())
	if err != nil || again.String() != p.String() {
		t.Fatalf("round trip: %v\n%s", err, p.String())
	}
	for name, bad := range map[string]string{
		"no quorum":         "witness normledger-witness/a " + ka + "\n",
		"unknown member":    "group g 1 nobody\nquorum g\n",
		"threshold too big": fmt.Sprintf("witness normledger-witness/a %s\ngroup g 2 normledger-witness/a\nquorum g\n", ka),
		"bad key":           "witness normledger-witness/a not-a-key\nquorum normledger-witness/a\n",
		"name mismatch":     fmt.Sprintf("witness normledger-witness/z %s\nquorum normledger-witness/z\n", ka),
		"unknown keyword":   "trust me\nquorum none\n",
		"twice":             fmt.Sprintf("witness normledger-witness/a %s\nwitness normledger-witness/a %s\nquorum none\n", ka, ka),
	} {
		if _, err := checkpoint.ParsePolicy(bad); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// Cosignatures of policy witnesses count toward the quorum; a cosignature
// on another body, by an unknown key or under another name does not.
func TestQuorum(t *testing.T) {
	msg, _, _, _ := signedCheckpoint(t)
	body, _, _ := bytes.Cut(msg, []byte("\n\n"))
	body = append(body, '\n')
	var lines [][]byte
	var text string
	for _, m := range []string{"a", "b", "c"} {
		seed := sha256.Sum256([]byte(m))
		k := ed25519.NewKeyFromSeed(seed[:])
		name := checkpoint.WitnessName(m)
		s, _ := checkpoint.NewCosigner(name, k)
		l, err := checkpoint.Cosign(s, body)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
		text += fmt.Sprintf("witness %s %s\n", name, checkpoint.VerifierKey(name, k.Public().(ed25519.PublicKey)))
	}
	p, err := checkpoint.ParsePolicy(text + "group all2 2 normledger-witness/a normledger-witness/b normledger-witness/c\nquorum all2\n")
	if err != nil {
		t.Fatal(err)
	}
	with := func(ls ...[]byte) []byte { return append(append([]byte(nil), msg...), bytes.Join(ls, nil)...) }
	if _, err := p.Check(with(lines[0]), chainID, nil); err == nil || !strings.Contains(err.Error(), "no witness quorum") {
		t.Fatalf("one of three: %v", err)
	}
	c, err := p.Check(with(lines[0], lines[2]), chainID, nil)
	if err != nil || len(c.Cosigners) != 2 {
		t.Fatalf("two of three: %v %v", c, err)
	}
	// Cosignatures copied onto another body (here: another size) fail the
	// whole note, even with a quorum of them.
	ls := strings.SplitN(string(msg), "\n", 3)
	forged := []byte(ls[0] + "\n" + ls[1] + "7\n" + ls[2])
	forged = append(forged, bytes.Join([][]byte{lines[0], lines[1]}, nil)...)
	if _, err := p.Check(forged, chainID, nil); err == nil {
		t.Fatal("cosignatures moved to another checkpoint verified")
	}
	// transparency-dev/formats parses and verifies it as it is, with the
	// log's verifier and a witness's.
	wv, _ := fnote.NewVerifierForCosignatureV1(p.Witnesses[0].Key)
	parsed, _, n, err := tlogformat.ParseCheckpoint(with(lines[0], lines[2]), checkpoint.Origin(chainID), checkpoint.LogVerifier(chainID, nil), wv)
	if err != nil || parsed.Size != c.Size || len(n.Sigs) != 2 {
		t.Fatalf("transparency-dev/formats ParseCheckpoint: %v %v", parsed, err)
	}
	// Unknown cosigners are ignored, not counted.
	seed := sha256.Sum256([]byte("stranger"))
	s, _ := checkpoint.NewCosigner(checkpoint.WitnessName("stranger"), ed25519.NewKeyFromSeed(seed[:]))
	sl, _ := checkpoint.Cosign(s, body)
	if _, err := p.Check(with(lines[0], sl), chainID, nil); err == nil {
		t.Fatal("a stranger's cosignature counted")
	}
}

// BenchmarkPolicyCheck is what a witness policy adds to a verification, on
// the verifier's CPU: parsing the checkpoint note, the certificate's proof
// and two cosignatures (the light client's check of the header, which the
// verification does anyway for the answer, is left out).
func BenchmarkPolicyCheck(b *testing.B) {
	t := &testing.T{}
	msg, _, _, _ := signedCheckpoint(t)
	body, _, _ := bytes.Cut(msg, []byte("\n\n"))
	body = append(body, '\n')
	text := ""
	for _, m := range []string{"observatory", "lumen"} {
		seed := sha256.Sum256([]byte(m))
		k := ed25519.NewKeyFromSeed(seed[:])
		name := checkpoint.WitnessName(m)
		s, _ := checkpoint.NewCosigner(name, k)
		l, _ := checkpoint.Cosign(s, body)
		msg = append(msg, l...)
		text += fmt.Sprintf("witness %s %s\n", name, checkpoint.VerifierKey(name, k.Public().(ed25519.PublicKey)))
	}
	p, err := checkpoint.ParsePolicy(text + "group w 2 normledger-witness/observatory normledger-witness/lumen\nquorum w\n")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Check(msg, chainID, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// A verifier key whose base64 holds '+' (about half of all keys) parses to
// the witness's public key.
func TestPolicyKeyWithPlus(t *testing.T) {
	for i := 0; ; i++ {
		seed := sha256.Sum256([]byte(fmt.Sprintf("plus-%d", i)))
		pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
		vkey := checkpoint.VerifierKey(checkpoint.WitnessName("p"), pub)
		if strings.Count(vkey, "+") < 3 {
			continue
		}
		p, err := checkpoint.ParsePolicy(fmt.Sprintf("witness normledger-witness/p %s\nquorum normledger-witness/p\n", vkey))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Witnesses[0].Pub, pub) {
			t.Fatalf("key %s parsed to %x, want %x", vkey, p.Witnesses[0].Pub, []byte(pub))
		}
		return
	}
}
