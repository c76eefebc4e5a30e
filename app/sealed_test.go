package app

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// sealKit is a governance harness whose states xbb, xcc and xdd have
// registered encryption keys (by vote, as on a real chain).
type sealKit struct {
	*harness
	ids map[string]*age.X25519Identity
}

func newSealKit(t *testing.T) *sealKit {
	t.Helper()
	k := &sealKit{harness: newGovHarness(t, 4), ids: map[string]*age.X25519Identity{}}
	for _, m := range []string{"xbb", "xcc", "xdd"} {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		k.ids[m] = id
		k.pass(addEncryptionKey(m, id.Recipient().String()))
	}
	return k
}

func addEncryptionKey(member, recipient string) *pb.GovernanceAction {
	return &pb.GovernanceAction{Action: &pb.GovernanceAction_AddKey{AddKey: &pb.AddKey{Member: member, AgeRecipient: recipient}}}
}

// pass proposes act and has every state vote yes.
func (h *harness) pass(act *pb.GovernanceAction) string {
	h.t.Helper()
	id := h.fileNow("xaa", govProposal(act, h.now.Add(48*time.Hour)))
	for _, s := range []string{"xaa", "xbb", "xcc", "xdd"} {
		h.fileNow(s, govVote(id, pb.VoteOption_VOTE_OPTION_YES))
	}
	if p := h.proposalState(id); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED {
		h.t.Fatalf("proposal %s: %v", id, p.Status)
	}
	h.block() // keys are valid from the block after the one that adds them
	return id
}

func (k *sealKit) recipient(m string) age.Recipient { return k.ids[m].Recipient() }

func (k *sealKit) named(ms ...string) []*pb.SealRecipient {
	var out []*pb.SealRecipient
	for _, m := range ms {
		out = append(out, &pb.SealRecipient{Member: m, KeyId: ledger.EncryptionKeyID(k.ids[m].Recipient().String())})
	}
	return out
}

// encrypt is an age file of plaintext to rs, made with the age library
// alone (as any sealer's tool would).
func encrypt(t *testing.T, plaintext []byte, rs ...age.Recipient) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plaintext); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// notice seals body with salt: the sealed record and its payload.
func (k *sealKit) notice(body *pb.Record, salt byte) (*pb.Sealed, []byte) {
	k.t.Helper()
	s := bytes.Repeat([]byte{salt}, 32)
	c, err := ledger.SealCommitment(s, body)
	if err != nil {
		k.t.Fatal(err)
	}
	payload, err := ledger.SealedPayload(s, body)
	if err != nil {
		k.t.Fatal(err)
	}
	return &pb.Sealed{SealedKind: ledger.KindOf(body), Commitment: c, RevealBy: timestampAfter(k.harness, 72)}, payload
}

func sealedRecord(s *pb.Sealed) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Sealed{Sealed: s}}
}

func receipt(sealedID string, matches bool, fileKey []byte) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Receipt{Receipt: &pb.Receipt{SealedId: sealedID, Matches: matches, FileKey: fileKey}}}
}

func decrypt(t *testing.T, ct []byte, id age.Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(ct), id)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func fileKeyOf(t *testing.T, ct []byte, id age.Identity) []byte {
	t.Helper()
	hdr, err := age.ExtractHeader(bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	fk, err := age.DecryptHeader(hdr, id)
	if err != nil {
		t.Fatal(err)
	}
	return fk
}

// A notice sealed to three recipients reads the same for each, and each
// owes a receipt; every forged ciphertext gets its own code in CheckTx and
// FinalizeBlock and leaves the app hash unchanged.
func TestSealedToRecipients(t *testing.T) {
	k := newSealKit(t)
	body := fixture.SealedBody(k.now)
	s, payload := k.notice(body, 1)
	s.Recipients = k.named("xbb", "xcc", "xdd")
	s.Ciphertext = encrypt(t, payload, k.recipient("xbb"), k.recipient("xcc"), k.recipient("xdd"))
	id := k.fileNow("xaa", sealedRecord(s))
	for _, m := range []string{"xbb", "xcc", "xdd"} {
		pt := decrypt(t, s.Ciphertext, k.ids[m])
		if !bytes.Equal(pt, payload) {
			t.Fatalf("%s reads a different payload", m)
		}
		if err := ledger.CheckSealedPayload(s, pt); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if ob := k.ob(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, id, m); ob == nil || ob.Status != pb.ObligationStatus_OBLIGATION_STATUS_OPEN || ob.Creditors[0] != "xaa" {
			t.Fatalf("%s owes no open receipt to xaa: %v", m, ob)
		}
	}

	// The revoked key: xdd revokes its encryption key in an emergency.
	revoked := ledger.EncryptionKeyID(k.ids["xdd"].Recipient().String())
	k.fileNow("xdd", &pb.Record{SchemaVersion: 1, Body: &pb.Record_KeyRevocation{KeyRevocation: &pb.KeyRevocation{Member: "xdd", KeyId: revoked, Reason: "lost laptop"}}})
	stranger, _ := age.GenerateX25519Identity()
	scrypt, err := age.NewScryptRecipient("pass")
	if err != nil {
		t.Fatal(err)
	}
	scrypt.SetWorkFactor(10)
	forged := func(mut func(s *pb.Sealed)) []byte {
		s, payload := k.notice(body, 2)
		s.Recipients = k.named("xbb", "xcc")
		s.Ciphertext = encrypt(t, payload, k.recipient("xbb"), k.recipient("xcc"))
		mut(s)
		return k.signSeq("xaa", k.nextSeq("xaa"), sealedRecord(s))
	}
	big := make([]byte, ledger.MaxSealedCiphertext)
	cases := []struct {
		name string
		tx   []byte
		want ledger.Code
	}{
		{"a missing stanza", forged(func(s *pb.Sealed) { s.Ciphertext = encrypt(t, payload, k.recipient("xbb")) }), ledger.CodeSealStanzaCount},
		{"an extra stanza", forged(func(s *pb.Sealed) {
			s.Ciphertext = encrypt(t, payload, k.recipient("xbb"), k.recipient("xcc"), stranger.Recipient())
		}), ledger.CodeSealStanzaCount},
		{"a wrong stanza type", forged(func(s *pb.Sealed) {
			s.Recipients = k.named("xbb")
			s.Ciphertext = encrypt(t, payload, scrypt)
		}), ledger.CodeSealStanzaType},
		{"not an age file", forged(func(s *pb.Sealed) { s.Ciphertext = []byte("-----BEGIN PGP MESSAGE-----\n") }), ledger.CodeSealHeader},
		{"an oversized body", forged(func(s *pb.Sealed) {
			s.Ciphertext = encrypt(t, big, k.recipient("xbb"), k.recipient("xcc"))
		}), ledger.CodeSealTooLarge},
		{"a recipient without an encryption key", forged(func(s *pb.Sealed) {
			s.Recipients[1] = &pb.SealRecipient{Member: "observatory", KeyId: s.Recipients[1].KeyId}
		}), ledger.CodeNoEncryptionKey},
		{"a revoked key", forged(func(s *pb.Sealed) {
			s.Recipients = k.named("xbb", "xdd")
			s.Ciphertext = encrypt(t, payload, k.recipient("xbb"), k.recipient("xdd"))
		}), ledger.CodeEncryptionKeyInactive},
		{"a per-recipient copy (deprecated)", forged(func(s *pb.Sealed) {
			s.Ciphertext, s.Recipients = nil, nil
			s.EncryptedCopies = []*pb.EncryptedCopy{{Recipient: "xbb", Ciphertext: []byte{1}}}
		}), ledger.CodeDeprecatedField},
		{"the sealer as its own recipient", forged(func(s *pb.Sealed) {
			s.Recipients[1] = &pb.SealRecipient{Member: "xaa", KeyId: s.Recipients[1].KeyId}
		}), ledger.CodeSelfReference},
		{"a receipt by a non-recipient", k.signSeq("lumen", k.nextSeq("lumen"), receipt(id, true, nil)), ledger.CodeNotRecipient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { k.mustReject(t, c.tx, c.want) })
	}
}

// Receipts: a recipient confirms, a lying sealer is proven so by a
// recipient's published file key (and only then), and a recipient that
// does not answer falls overdue at block time.
func TestReceipts(t *testing.T) {
	k := newSealKit(t)
	body := fixture.SealedBody(k.now)
	honest, payload := k.notice(body, 3)
	honest.Recipients = k.named("xbb", "xcc", "xdd")
	honest.Ciphertext = encrypt(t, payload, k.recipient("xbb"), k.recipient("xcc"), k.recipient("xdd"))
	hid := k.fileNow("xaa", sealedRecord(honest))

	// The liar commits to one body and encrypts another.
	other := proto.Clone(body).(*pb.Record)
	other.GetNotification().Summary = "Something else entirely."
	liar, _ := k.notice(body, 4)
	_, otherPayload := k.notice(other, 4)
	liar.Recipients = k.named("xbb", "xcc")
	liar.Ciphertext = encrypt(t, otherPayload, k.recipient("xbb"), k.recipient("xcc"))
	lid := k.fileNow("xaa", sealedRecord(liar))
	due := k.now.Add(24 * time.Hour)

	k.fileNow("xbb", receipt(hid, true, nil))
	k.expect(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, hid, "xbb", pb.ObligationStatus_OBLIGATION_STATUS_MET)

	fk := fileKeyOf(t, liar.Ciphertext, k.ids["xbb"])
	honestKey := fileKeyOf(t, honest.Ciphertext, k.ids["xcc"])
	next := func(m string, r *pb.Record) []byte { return k.signSeq(m, k.nextSeq(m), r) }
	wrong := bytes.Clone(fk)
	wrong[0] ^= 1
	for _, c := range []struct {
		name string
		tx   []byte
		want ledger.Code
	}{
		{"a second receipt", next("xbb", receipt(hid, true, nil)), ledger.CodeObligationClosed},
		{"a file key that does not open the header", next("xbb", receipt(lid, false, wrong)), ledger.CodeBadFileKey},
		{"a false mismatch (the key opens a matching body)", next("xcc", receipt(hid, false, honestKey)), ledger.CodeSealedBodyMatches},
		{"a file key beside matches", next("xcc", receipt(hid, true, honestKey)), ledger.CodeBadFormat},
		{"a receipt for a record that is not sealed", next("xcc", receipt(k.fileNow("xaa", note("plain")), true, nil)), ledger.CodeWrongRecordKind},
		{"the sealer waives a receipt (silencing a recipient)", next("xaa", &pb.Record{SchemaVersion: 1, Body: &pb.Record_Waiver{Waiver: &pb.Waiver{
			ObligationId: ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, lid, "xcc"), Reason: "no need"}}}), ledger.CodeNotWaivable},
		{"a receipt sealed (not a sealable kind)", next("xaa", sealedRecord(&pb.Sealed{SealedKind: pb.RecordKind_RECORD_KIND_RECEIPT,
			Commitment: make([]byte, 32), RevealBy: timestampAfter(k.harness, 72)})), ledger.CodeWrongRecordKind},
	} {
		t.Run(c.name, func(t *testing.T) { k.mustReject(t, c.tx, c.want) })
	}

	// The proven mismatch: anyone re-checks it from the two records.
	rid := k.fileNow("xbb", receipt(lid, false, fk))
	rtx, err := ledger.DecodeTx(k.record(rid).Tx, 0)
	if err != nil {
		t.Fatal(err)
	}
	why, err := ledger.ReceiptProof(liar, rtx.Body.Record.GetReceipt())
	if err != nil || why == "" {
		t.Fatalf("receipt proof: %q %v", why, err)
	}
	if _, err := ledger.ReceiptProof(honest, &pb.Receipt{SealedId: hid, FileKey: honestKey}); err == nil {
		t.Fatal("a matching body passed as a mismatch")
	}
	k.expect(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, lid, "xbb", pb.ObligationStatus_OBLIGATION_STATUS_MET)

	// xcc answers the honest notice in time; xdd never does.
	k.fileNow("xcc", receipt(hid, true, nil))
	k.now = due.Add(time.Minute)
	k.block()
	k.expect(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, hid, "xcc", pb.ObligationStatus_OBLIGATION_STATUS_MET)
	k.expect(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, hid, "xdd", pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE)
	k.expect(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, lid, "xcc", pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE)
	// A late receipt still counts, as late.
	k.fileNow("xdd", receipt(hid, true, nil))
	k.expect(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, hid, "xdd", pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE)

	// The reveal is checked against the same commitment, and dates the
	// receipts against the operation window.
	k.mustReject(t, k.signSeq("xaa", k.nextSeq("xaa"), &pb.Record{SchemaVersion: 1, Body: &pb.Record_Reveal{Reveal: &pb.Reveal{
		SealedId: lid, Salt: bytes.Repeat([]byte{4}, 32), Body: other}}}), ledger.CodeRevealMismatch)
	rid2 := k.fileNow("xaa", &pb.Record{SchemaVersion: 1, Body: &pb.Record_Reveal{Reveal: &pb.Reveal{SealedId: hid, Salt: bytes.Repeat([]byte{3}, 32), Body: body}}})
	v, err := k.st.At(0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := v.SealedNotice(hid)
	if err != nil || n == nil {
		t.Fatal(err)
	}
	start := body.GetNotification().OperationWindow.Start.Seconds
	if n.Told != 3 || n.Confirmed != 3 || n.MismatchesProven != 0 || n.RevealId != rid2 || n.OperationWindow.GetStart().GetSeconds() != start {
		t.Fatalf("notice: %v", n)
	}
	for _, r := range n.Recipients {
		if r.ReceiptId == "" || !r.Matches || !r.HasLead || r.LeadSeconds != start-r.ReceiptTime.Seconds {
			t.Fatalf("recipient %s: %v", r.Member, r)
		}
	}
	if n.Recipients[2].Member != "xdd" || n.Recipients[2].Status != pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE || n.Recipients[2].LeadSeconds >= 0 {
		t.Fatalf("xdd confirmed late, after the window opened: %v", n.Recipients[2])
	}
	if n, err = v.SealedNotice(lid); err != nil || n.MismatchesProven != 1 || !n.Recipients[0].MismatchProven || n.Recipients[1].Status != pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE {
		t.Fatalf("the liar's notice: %v %v", n, err)
	}
	c, err := v.MemberCompliance("xdd")
	if err != nil || c.ReceiptsMissed.GetCount() != 1 || c.ReceiptsOnTime.GetDenominator() != 1 || c.ReceiptsOnTime.GetNumerator() != 0 {
		t.Fatalf("xdd's receipt figures: %v %v", c, err)
	}
	if c, err = v.MemberCompliance("xbb"); err != nil || c.ReceiptsMissed.GetCount() != 0 || c.ReceiptsOnTime.GetNumerator() != 2 {
		t.Fatalf("xbb's receipt figures: %v %v", c, err)
	}
}

// Below app version 8 what it introduced is refused as unknown fields, the
// answer a binary that predates it gives.
func TestSealedNeedsAppVersion8(t *testing.T) {
	h := newHarnessAt(t, ledger.AppVersionContentIndexOff)
	h.block()
	id, _ := age.GenerateX25519Identity()
	s := &pb.Sealed{SealedKind: pb.RecordKind_RECORD_KIND_NOTIFICATION, Commitment: make([]byte, 32), RevealBy: timestampAfter(h, 72),
		Recipients: []*pb.SealRecipient{{Member: "xbb", KeyId: ledger.EncryptionKeyID(id.Recipient().String())}},
		Ciphertext: encrypt(t, []byte("x"), id.Recipient())}
	next := func(r *pb.Record) []byte { return h.signSeq("xaa", h.nextSeq("xaa"), r) }
	for _, c := range []struct {
		name string
		tx   []byte
	}{
		{"a sealed record to recipients", next(sealedRecord(s))},
		{"a receipt", next(receipt(ledger.RecordID(next(note("x"))), true, nil))},
		{"an encryption key", next(govProposal(addEncryptionKey("xbb", id.Recipient().String()), h.now.Add(48*time.Hour)))},
		{"a receipt carried in an amendment", next(&pb.Record{SchemaVersion: 1, Body: &pb.Record_Amendment{Amendment: &pb.Amendment{
			TargetId: ledger.RecordID(next(note("y"))), Reason: "r", Replacement: receipt(ledger.RecordID(next(note("z"))), true, nil)}}})},
		{"a ciphertext in a reveal's body", next(&pb.Record{SchemaVersion: 1, Body: &pb.Record_Reveal{Reveal: &pb.Reveal{
			SealedId: ledger.RecordID(next(note("w"))), Salt: make([]byte, 16), Body: sealedRecord(s)}}})},
	} {
		t.Run(c.name, func(t *testing.T) { h.mustReject(t, c.tx, ledger.CodeNonCanonical) })
	}
	// The kind 8 added is an undefined enum value below 8, as it is to the
	// binaries that predate it.
	h.mustReject(t, next(sealedRecord(&pb.Sealed{SealedKind: pb.RecordKind_RECORD_KIND_RECEIPT, Commitment: make([]byte, 32),
		RevealBy: timestampAfter(h, 72)})), ledger.CodeBadEnum)
	// Per-recipient copies are still taken at 7.
	copies := proto.Clone(sealedRecord(s)).(*pb.Record)
	copies.GetSealed().Ciphertext, copies.GetSealed().Recipients = nil, nil
	copies.GetSealed().EncryptedCopies = []*pb.EncryptedCopy{{Recipient: "xbb", Ciphertext: []byte{1}}}
	if res := h.block(h.sign("xaa", copies)); res.TxResults[0].Code != 0 {
		t.Fatal(res.TxResults[0].Log)
	}
}

func timestampAfter(h *harness, hours int) *timestamppb.Timestamp {
	return timestamppb.New(h.now.Add(time.Duration(hours) * time.Hour))
}

// Encryption keys follow the signing keys' governance: added, rotated and
// revoked by vote (or revoked by their member), one purpose each, unique
// across both kinds; an encryption key signs nothing.
func TestEncryptionKeyGovernance(t *testing.T) {
	k := newSealKit(t)
	xbbKey := ledger.EncryptionKeyID(k.ids["xbb"].Recipient().String())
	fresh, _ := age.GenerateX25519Identity()
	later := func() time.Time { return k.now.Add(48 * time.Hour) }
	next := func(m string, r *pb.Record) []byte { return k.signSeq(m, k.nextSeq(m), r) }
	rotate := func(member, old string, pub []byte, recipient string) *pb.GovernanceAction {
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_RotateKey{RotateKey: &pb.RotateKey{Member: member, OldKeyId: old, NewPubKey: pub, NewAgeRecipient: recipient}}}
	}
	for _, c := range []struct {
		name string
		tx   []byte
		want ledger.Code
	}{
		{"a key with two purposes", next("xaa", govProposal(&pb.GovernanceAction{Action: &pb.GovernanceAction_AddKey{AddKey: &pb.AddKey{
			Member: "xbb", PubKey: make([]byte, 32), AgeRecipient: fresh.Recipient().String()}}}, later())), ledger.CodeBadFormat},
		{"not an age recipient", next("xaa", govProposal(addEncryptionKey("xbb", "age1notarecipient"), later())), ledger.CodeBadFormat},
		{"an upper-case recipient", next("xaa", govProposal(addEncryptionKey("xbb", strings.ToUpper(fresh.Recipient().String())), later())), ledger.CodeBadFormat},
		{"an encryption key signs nothing", func() []byte {
			body := &pb.TxBody{ChainId: testChain, Signer: "xbb", Sequence: k.nextSeq("xbb"), Record: note("signed with what?")}
			tx, err := ledger.BuildTx(body, k.members["xbb"].Signer())
			if err != nil {
				t.Fatal(err)
			}
			dec, _ := ledger.DecodeTx(tx, 0)
			dec.Body.KeyId = xbbKey
			bz, _ := ledger.Canonical(dec)
			return bz
		}(), ledger.CodeUnknownKey},
	} {
		t.Run(c.name, func(t *testing.T) { k.mustReject(t, c.tx, c.want) })
	}
	// A registered recipient cannot be registered again, for anyone; a
	// purpose cannot change in a rotation (both refused when proposed).
	k.mustReject(t, next("xaa", govProposal(addEncryptionKey("xcc", k.ids["xbb"].Recipient().String()), later())), ledger.CodeKeyExists)
	k.mustReject(t, next("xaa", govProposal(rotate("xbb", xbbKey, make([]byte, 32), ""), later())), ledger.CodeBadFormat)
	k.pass(rotate("xbb", xbbKey, nil, fresh.Recipient().String()))
	freshKey := ledger.EncryptionKeyID(fresh.Recipient().String())
	encKey := func(id string) *pb.MemberKey {
		for _, ek := range k.member("xbb").EncryptionKeys {
			if ek.KeyId == id {
				return ek
			}
		}
		t.Fatalf("xbb has no encryption key %s", id)
		return nil
	}
	if o, n := encKey(xbbKey), encKey(freshKey); o.Status != pb.KeyStatus_KEY_STATUS_ROTATED || n.Status != pb.KeyStatus_KEY_STATUS_ACTIVE ||
		n.AgeRecipient != fresh.Recipient().String() || n.ValidFromHeight != o.ValidUntilHeight+1 || len(k.member("xbb").Keys) != 1 {
		t.Fatalf("after the rotation: %v", k.member("xbb"))
	}
	// The rotated key receives nothing new; the new one does.
	s, payload := k.notice(fixture.SealedBody(k.now), 5)
	s.Recipients = k.named("xbb")
	s.Ciphertext = encrypt(t, payload, k.recipient("xbb"))
	k.mustReject(t, k.signSeq("xaa", k.nextSeq("xaa"), sealedRecord(s)), ledger.CodeEncryptionKeyInactive)
	s.Recipients = []*pb.SealRecipient{{Member: "xbb", KeyId: freshKey}}
	s.Ciphertext = encrypt(t, payload, fresh.Recipient())
	k.fileNow("xaa", sealedRecord(s))
	// Revoked by vote.
	k.pass(&pb.GovernanceAction{Action: &pb.GovernanceAction_RevokeKey{RevokeKey: &pb.RevokeKey{Member: "xbb", KeyId: freshKey}}})
	if st := encKey(freshKey).Status; st != pb.KeyStatus_KEY_STATUS_REVOKED {
		t.Fatalf("after the vote: %v", st)
	}
}

func (h *harness) member(id string) *pb.Member {
	h.t.Helper()
	v, err := h.st.At(0)
	if err != nil {
		h.t.Fatal(err)
	}
	m, err := v.Member(id)
	if err != nil || m == nil {
		h.t.Fatalf("member %s: %v", id, err)
	}
	return m
}

// A chain at app version 7 takes sealed records to recipients from the
// normledger-v8 upgrade's block on, not before.
func TestUpgradeToV8EnablesSealedToRecipients(t *testing.T) {
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessVersion(t, st, true, 4, 1, ledger.AppVersionContentIndexOff)
	h.block()
	id, _ := age.GenerateX25519Identity()
	act := addEncryptionKey("xbb", id.Recipient().String())
	h.mustReject(t, h.signSeq("xaa", h.nextSeq("xaa"), govProposal(act, h.now.Add(48*time.Hour))), ledger.CodeNonCanonical)
	at := h.height + 8
	up := h.fileNow("xaa", govProposal(&pb.GovernanceAction{Action: &pb.GovernanceAction_SoftwareUpgrade{SoftwareUpgrade: &pb.SoftwareUpgrade{
		Name: ledger.UpgradeV8, Height: at, AppVersion: 8}}}, h.now.Add(72*time.Hour)))
	for _, v := range []string{"xaa", "xbb", "xcc"} {
		h.fileNow(v, govVote(up, pb.VoteOption_VOTE_OPTION_YES))
	}
	for h.height < at {
		h.block()
	}
	info, err := h.app.Info(context.Background(), &abci.RequestInfo{})
	if err != nil || info.AppVersion != 8 {
		t.Fatalf("app version after the upgrade: %v %v", info.GetAppVersion(), err)
	}
	h.pass(act)
	k := &sealKit{harness: h, ids: map[string]*age.X25519Identity{"xbb": id}}
	s, payload := k.notice(fixture.SealedBody(h.now), 6)
	s.Recipients = k.named("xbb")
	s.Ciphertext = encrypt(t, payload, id.Recipient())
	sid := h.fileNow("xaa", sealedRecord(s))
	h.fileNow("xbb", receipt(sid, true, nil))
	h.expect(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, sid, "xbb", pb.ObligationStatus_OBLIGATION_STATUS_MET)
}
