package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func note(summary string) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xbb"}, Summary: summary,
	}}}
}

func disclosure(detected, aware time.Time) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: "XAA-1", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING, Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
		Sectors: []pb.Sector{pb.Sector_SECTOR_WATER}, AffectedStates: []string{"xaa"},
		DetectedAt: timestamppb.New(detected), AwareAt: timestamppb.New(aware),
		Severity: pb.Severity_SEVERITY_LOW, Summary: "Pump controller tampering.",
	}}}
}

// Each bad input class gets its own stable code, in CheckTx and when
// smuggled into a block, and leaves the app hash unchanged.
func TestBadInputsHaveStableCodes(t *testing.T) {
	h := newHarness(t)
	ids, txs := h.runScenario()
	accepted := h.sign("xaa", note("accepted once"))
	if res := h.block(accepted); res.TxResults[0].Code != 0 {
		t.Fatal(res.TxResults[0].Log)
	}

	resign := func(body *pb.TxBody, key ed25519.PrivKey, keyID string) []byte {
		msg, err := ledger.SignBytes(body, body.Signer, keyID)
		if err != nil {
			t.Fatal(err)
		}
		body.KeyId = keyID
		sig, _ := key.Sign(msg)
		bz, err := ledger.Canonical(&pb.Tx{Body: body, Signature: sig})
		if err != nil {
			t.Fatal(err)
		}
		return bz
	}
	xaa := h.members["xaa"]
	good := func(rec *pb.Record) []byte { return h.signSeq("xaa", h.nextSeq("xaa"), rec) }

	cases := []struct {
		name string
		tx   []byte
		want ledger.Code
	}{
		{"undecodable bytes", []byte{0xff, 0xff, 0xff, 0xff}, ledger.CodeTxDecode},
		{"empty tx", nil, ledger.CodeTxDecode},
		{"trailing unknown field", protowire.AppendVarint(protowire.AppendTag(good(note("a")), 15, protowire.VarintType), 1), ledger.CodeNonCanonical},
		{"trailing duplicate field", append(good(note("b")), good(note("c"))...), ledger.CodeNonCanonical},
		{"fields out of order", func() []byte {
			tx, _ := ledger.DecodeTx(good(note("d")), 0)
			body, _ := ledger.Canonical(tx.Body)
			var b []byte
			b = protowire.AppendTag(b, 2, protowire.BytesType)
			b = protowire.AppendBytes(b, tx.Signature)
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			return protowire.AppendBytes(b, body)
		}(), ledger.CodeNonCanonical},
		{"non-minimal varint", func() []byte {
			tx, _ := ledger.DecodeTx(good(note("e")), 0)
			body, _ := ledger.Canonical(tx.Body)
			// The body length encoded with a redundant continuation byte.
			var out []byte
			out = append(out, 0x0a)
			n := uint64(len(body))
			out = append(out, byte(n&0x7f)|0x80, byte(n>>7)|0x80, 0x00)
			out = append(out, body...)
			out = protowire.AppendTag(out, 2, protowire.BytesType)
			return protowire.AppendBytes(out, tx.Signature)
		}(), ledger.CodeNonCanonical},
		{"oversized tx", func() []byte {
			rec := &pb.Record{SchemaVersion: 1, Body: &pb.Record_Sealed{Sealed: &pb.Sealed{
				SealedKind: pb.RecordKind_RECORD_KIND_NOTIFICATION, Commitment: make([]byte, 32), RevealBy: timestamppb.New(h.now.Add(2 * time.Hour)),
			}}}
			for i := 0; i < 5; i++ {
				rec.GetSealed().EncryptedCopies = append(rec.GetSealed().EncryptedCopies, &pb.EncryptedCopy{Recipient: "xbb", Ciphertext: bytes.Repeat([]byte{7}, 16000)})
			}
			return good(rec)
		}(), ledger.CodeTxTooLarge},
		{"bad signature", func() []byte {
			tx, _ := ledger.DecodeTx(good(note("f")), 0)
			tx.Signature[0] ^= 0x40
			bz, _ := ledger.Canonical(tx)
			return bz
		}(), ledger.CodeBadSignature},
		{"signature by another member's key", func() []byte {
			body := &pb.TxBody{ChainId: testChain, Signer: "xaa", Sequence: h.nextSeq("xaa"), Record: note("g")}
			return resign(body, h.members["xbb"].Key, xaa.Signer().KeyID())
		}(), ledger.CodeBadSignature},
		{"wrong chain id", func() []byte {
			body := &pb.TxBody{ChainId: "other-chain", Signer: "xaa", Sequence: h.nextSeq("xaa"), Record: note("h")}
			return resign(body, xaa.Key, xaa.Signer().KeyID())
		}(), ledger.CodeWrongChainID},
		{"unknown signer", func() []byte {
			k := fixture.SeededKey("xzz")
			body := &pb.TxBody{ChainId: testChain, Signer: "xzz", Sequence: 1, Record: note("i")}
			return resign(body, k, ledger.KeyID(k.PubKey().Bytes()))
		}(), ledger.CodeUnknownSigner},
		{"unknown key", func() []byte {
			k := fixture.SeededKey("xaa-second-key")
			body := &pb.TxBody{ChainId: testChain, Signer: "xaa", Sequence: h.nextSeq("xaa"), Record: note("j")}
			return resign(body, k, ledger.KeyID(k.PubKey().Bytes()))
		}(), ledger.CodeUnknownKey},
		{"replayed tx", accepted, ledger.CodeReplay},
		{"replayed scenario tx", txs[0], ledger.CodeReplay},
		{"sequence from the future", h.signSeq("xaa", h.nextSeq("xaa")+5, note("k")), ledger.CodeSequenceGap},
		{"duplicate record", good(note("accepted once")), ledger.CodeDuplicateRecord},
		{"class not allowed: finding by a state", good(&pb.Record{SchemaVersion: 1, Body: &pb.Record_Finding{Finding: &pb.Finding{
			SubjectType: pb.FindingSubjectType_FINDING_SUBJECT_TYPE_PLEDGE, SubjectId: ids[0], SubjectStates: []string{"xbb"},
			Determination: pb.Determination_DETERMINATION_INCONSISTENT, EvidenceRefs: []string{"x"},
			Methodology: &pb.Methodology{Name: "m", Version: "1"}, ConflictOfInterest: &pb.ConflictOfInterest{NoneDeclared: true}, Summary: "s",
		}}}), ledger.CodeClassNotAllowed},
		{"class not allowed: pledge by a neutral body", h.signSeq("observatory", h.nextSeq("observatory"), &pb.Record{SchemaVersion: 1,
			Body: &pb.Record_Pledge{Pledge: &pb.Pledge{Title: "t", Pledgors: []string{"observatory"}, NormRefs: []string{"n"},
				ProtectedSectors: []pb.Sector{pb.Sector_SECTOR_FOOD}, GeoScope: []string{"GLOBAL"}, EffectiveFrom: timestamppb.New(t0)}}}), ledger.CodeClassNotAllowed},
		{"missing field", good(note("")), ledger.CodeMissingField},
		{"missing schema version", good(&pb.Record{Body: note("l").Body}), ledger.CodeMissingField},
		{"unsupported schema version", good(&pb.Record{SchemaVersion: 9, Body: note("m").Body}), ledger.CodeUnsupportedSchema},
		{"empty body", good(&pb.Record{SchemaVersion: 1}), ledger.CodeEmptyBody},
		{"bad enum: unspecified", good(&pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
			Recipients: []string{"xbb"}, Summary: "n"}}}), ledger.CodeBadEnum},
		{"bad enum: undefined", good(&pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: 99, Recipients: []string{"xbb"}, Summary: "o"}}}), ledger.CodeBadEnum},
		{"impossible times: aware before detected", good(disclosure(t0.Add(-time.Hour), t0.Add(-2*time.Hour))), ledger.CodeBadTime},
		{"impossible times: detected in the future", good(disclosure(h.now.Add(time.Hour+2*time.Hour), h.now.Add(time.Hour+3*time.Hour))), ledger.CodeBadTime},
		{"impossible times: deadline already passed", good(&pb.Record{SchemaVersion: 1, Body: &pb.Record_Challenge{Challenge: &pb.Challenge{
			TargetId: ids[5], Grounds: "g", ReplyBy: timestamppb.New(t0.Add(-time.Hour))}}}), ledger.CodeBadTime},
		{"impossible times: deadline beyond 2199", good(&pb.Record{SchemaVersion: 1, Body: &pb.Record_Challenge{Challenge: &pb.Challenge{
			TargetId: ids[5], Grounds: "g", ReplyBy: timestamppb.New(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))}}}), ledger.CodeBadTime},
		{"field too long", good(note(strings.Repeat("x", ledger.MaxSummaryLen+1))), ledger.CodeFieldTooLong},
		{"bad format: recipient id", good(&pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"Not An Id"}, Summary: "p"}}}), ledger.CodeBadFormat},
		{"unknown referenced record", good(&pb.Record{SchemaVersion: 1, Refs: []string{strings.Repeat("ab", 32)}, Body: note("q").Body}), ledger.CodeUnknownRecord},
		{"not a recipient", h.signSeq("observatory", h.nextSeq("observatory"), &pb.Record{SchemaVersion: 1, Body: &pb.Record_Acknowledgement{
			Acknowledgement: &pb.Acknowledgement{NotificationId: ids[1]}}}), ledger.CodeNotRecipient},
		{"not the author", good(&pb.Record{SchemaVersion: 1, Body: &pb.Record_Retraction{Retraction: &pb.Retraction{TargetId: ids[4], Reason: "r"}}}), ledger.CodeNotAuthor},
		{"missing co-signature", h.signSeq("xaa", h.nextSeq("xaa"), fixture.Scenario(t0)[0].Build(nil)), ledger.CodeCoSignature},
		{"reveal mismatch", good(&pb.Record{SchemaVersion: 1, Body: &pb.Record_Reveal{Reveal: &pb.Reveal{
			SealedId: ids[10], Salt: bytes.Repeat([]byte{1}, 16), Body: fixture.SealedBody(t0)}}}), ledger.CodeRevealMismatch},
		{"assessor class mismatch", h.signSeq("observatory", h.nextSeq("observatory"), func() *pb.Record {
			r := fixture.Scenario(t0)[5].Build(ids)
			r.GetHarmAssessment().AssessorClass = pb.AssessorClass_ASSESSOR_CLASS_SELF
			return r
		}()), ledger.CodeAssessorMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { h.mustReject(t, c.tx, c.want) })
	}
	// A good tx still goes through afterwards: nothing above consumed a sequence.
	tx := good(note("still fine"))
	if r := h.checkTx(tx); r.Code != 0 {
		t.Fatalf("good tx after bad ones: %s", r.Log)
	}
	if res := h.block(tx); res.TxResults[0].Code != 0 {
		t.Fatalf("good tx after bad ones: %s", res.TxResults[0].Log)
	}
}

// mustReject checks that tx gets code want in CheckTx, that
// ProcessProposal refuses and PrepareProposal drops a block carrying it,
// and that FinalizeBlock, given it anyway, gives the same code and leaves
// the app hash unchanged; the block (empty in effect) is committed.
func (h *harness) mustReject(t *testing.T, tx []byte, want ledger.Code) {
	t.Helper()
	blockT := h.now.Add(time.Second)
	before := h.st.Hash()
	r := h.checkTx(tx)
	if ledger.Code(r.Code) != want {
		t.Fatalf("CheckTx: code %d (%v) %q, want %d (%v)", r.Code, ledger.Code(r.Code), r.Log, want, want)
	}
	if r.Codespace != ledger.Codespace || r.Log == "" {
		t.Fatalf("CheckTx: codespace %q log %q", r.Codespace, r.Log)
	}
	pp, err := h.app.ProcessProposal(context.Background(), &abci.RequestProcessProposal{Txs: [][]byte{tx}, Height: h.height + 1, Time: blockT})
	if err != nil || pp.Status != abci.ResponseProcessProposal_REJECT {
		t.Fatalf("ProcessProposal: %v %v", pp.GetStatus(), err)
	}
	prep, err := h.app.PrepareProposal(context.Background(), &abci.RequestPrepareProposal{Txs: [][]byte{tx}, Height: h.height + 1, Time: blockT, MaxTxBytes: 1 << 20})
	if err != nil || len(prep.Txs) != 0 {
		t.Fatalf("PrepareProposal kept it: %v", err)
	}
	res, err := h.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Txs: [][]byte{tx}, Height: h.height + 1, Time: blockT})
	if err != nil {
		t.Fatal(err)
	}
	if got := ledger.Code(res.TxResults[0].Code); got != want {
		t.Fatalf("FinalizeBlock: code %d (%v) %q, want %v", got, got, res.TxResults[0].Log, want)
	}
	if !bytes.Equal(res.AppHash, before) {
		t.Fatalf("app hash changed: %X -> %X", before, res.AppHash)
	}
	if _, err := h.app.Commit(context.Background(), &abci.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
	h.height++
	h.now = blockT
	if !bytes.Equal(h.st.Hash(), before) {
		t.Fatal("committed hash changed")
	}
}
