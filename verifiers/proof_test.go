// The tests of package verifiers build ledgers with ledger/store and
// compare with CometBFT's light client, neither of which has a js/wasm
// build, so they run natively; verifiers/jsonapi runs the tamper vectors
// (testdata/vectors.json) under js/wasm.

package verifiers_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

func TestProof(t *testing.T) {
	c := chain(t)
	v := c.view(t, c.top)
	root := v.RootHash()
	present := proofOf(t, v, layout.Member("xaa"))
	absent := proofOf(t, v, layout.Member("zzz"))
	if !present.Exists || absent.Exists {
		t.Fatalf("fixture: present.Exists=%v absent.Exists=%v", present.Exists, absent.Exists)
	}
	other := proofOf(t, v, layout.Member("xbb"))
	cases := []struct {
		name   string
		honest *pb.Proof
		mutate func(p *pb.Proof)
		hash   []byte // nil: the view's root
		ok     bool
	}{
		{name: "existence proof", honest: present, ok: true},
		{name: "non-existence proof", honest: absent, ok: true},
		{name: "existence proof under another height's app hash", honest: present, hash: c.root(t, 1)},
		{name: "non-existence proof under another height's app hash", honest: absent, hash: c.root(t, 1)},
		{name: "existence proof under no app hash", honest: present, hash: []byte{}},
		{name: "flipped value byte", honest: present, mutate: func(p *pb.Proof) { p.Value = flipped(p.Value, len(p.Value)/2) }},
		{name: "flipped last proof byte", honest: present, mutate: func(p *pb.Proof) { p.Proof = flipped(p.Proof, len(p.Proof)-1) }},
		{name: "flipped middle proof byte", honest: present, mutate: func(p *pb.Proof) { p.Proof = flipped(p.Proof, len(p.Proof)/2) }},
		{name: "flipped absence proof byte", honest: absent, mutate: func(p *pb.Proof) { p.Proof = flipped(p.Proof, len(p.Proof)-1) }},
		{name: "existence proof claimed as absence", honest: present, mutate: func(p *pb.Proof) { p.Exists, p.Value = false, nil }},
		{name: "absence proof claimed as existence", honest: absent, mutate: func(p *pb.Proof) { p.Exists, p.Value = true, present.Value }},
		{name: "existence proof without its value", honest: present, mutate: func(p *pb.Proof) { p.Value = nil }},
		{name: "value attached to an absence proof", honest: absent, mutate: func(p *pb.Proof) { p.Value = []byte("x") }},
		{name: "another member's value", honest: present, mutate: func(p *pb.Proof) { p.Value = other.Value }},
		{name: "existence proof for another key", honest: present, mutate: func(p *pb.Proof) { p.Key = layout.Member("xbb") }},
		// A non-existence proof shows the two neighbours of a gap, so it
		// proves every key in that gap absent (m/yyy lies between the same
		// neighbours as m/zzz), and no key outside it.
		{name: "absence proof for another key in the same gap", honest: absent, mutate: func(p *pb.Proof) { p.Key = layout.Member("yyy") }, ok: true},
		{name: "absence proof for a key outside its gap", honest: absent, mutate: func(p *pb.Proof) { p.Key = layout.Member("aaa") }},
		{name: "absence proof for a present key", honest: absent, mutate: func(p *pb.Proof) { p.Key = layout.Member("xaa") }},
		{name: "undecodable proof bytes", honest: present, mutate: func(p *pb.Proof) { p.Proof = []byte{0xff, 0xff, 0xff} }},
		{name: "empty proof bytes", honest: present, mutate: func(p *pb.Proof) { p.Proof = nil }},
		{name: "empty absence proof bytes", honest: absent, mutate: func(p *pb.Proof) { p.Proof = nil }},
		{name: "no proof", honest: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p *pb.Proof
			if tc.honest != nil {
				p = proto.Clone(tc.honest).(*pb.Proof)
			}
			if tc.mutate != nil {
				tc.mutate(p)
			}
			hash := root
			if tc.hash != nil {
				hash = tc.hash
			}
			checkOutcome(t, tc.ok, verifiers.Proof(hash, p))
		})
	}
}

// answerCase is an answer check: the honest answer, mutated, checked for id
// against hash.
type answerCase[R proto.Message] struct {
	name      string
	mutate    func(r R)
	id        string // "": the honest answer's
	hash      []byte // nil: the root at the top height
	ok        bool
	nilAnswer bool
}

// answer is the case's answer (honest, mutated), the id it is checked for
// (else honestID) and the root it is checked against (else root).
func (tc answerCase[R]) answer(honest R, honestID string, root []byte) (R, string, []byte) {
	r := proto.Clone(honest).(R)
	if tc.mutate != nil {
		tc.mutate(r)
	}
	id, hash := honestID, root
	if tc.id != "" {
		id = tc.id
	}
	if tc.hash != nil {
		hash = tc.hash
	}
	return r, id, hash
}

// recordCase is a record answer check: the honest answer for note1 at the
// top height.
type recordCase = answerCase[*pb.GetRecordResponse]

// recordCases are TestRecord's cases (also tamper vectors, vectors_test.go).
func recordCases(t *testing.T, c *testChain) (honest *pb.GetRecordResponse, cases []recordCase) {
	t.Helper()
	h := c.top
	honest = c.recordAnswer(t, h, c.note1)
	note2 := c.recordAnswer(t, h, c.note2)
	early := c.recordAnswer(t, 2, c.note1) // the same record, proven at height 2
	if len(honest.Proofs) != 2 || honest.Record == nil {
		t.Fatalf("fixture: %d proofs, record %v", len(honest.Proofs), honest.Record)
	}
	return honest, []recordCase{
		{name: "honest", ok: true},
		{name: "honest answer at an earlier height", mutate: func(r *pb.GetRecordResponse) { proto.Reset(r); proto.Merge(r, early) }, hash: c.root(t, 2), ok: true},
		{name: "flags are not Record's business", mutate: func(r *pb.GetRecordResponse) {
			r.Flags = []*pb.RecordFlag{{RecordId: c.note1, Member: "xaa", Reason: ledger.FlagKeyCompromised}}
		}, ok: true},
		{name: "an answer without reading aids (older node)", mutate: func(r *pb.GetRecordResponse) {
			r.Record.Decoded, r.Record.Signers = nil, nil
		}, ok: true},
		{name: "decoded record says something the signed bytes do not", mutate: func(r *pb.GetRecordResponse) {
			r.Record.Decoded.Body.Record.GetNotification().Summary = "a different note"
		}},
		{name: "decoded record names another signer", mutate: func(r *pb.GetRecordResponse) { r.Record.Decoded.Body.Signer = "xbb" }},
		{name: "signers list changed", mutate: func(r *pb.GetRecordResponse) { r.Record.Signers = []string{"xaa", "xbb"} }},
		{name: "record author changed", mutate: func(r *pb.GetRecordResponse) { r.Record.Author = "xbb" }},
		{name: "record height changed", mutate: func(r *pb.GetRecordResponse) { r.Record.Height++ }},
		{name: "record tx byte flipped", mutate: func(r *pb.GetRecordResponse) { r.Record.Tx = flipped(r.Record.Tx, len(r.Record.Tx)-1) }},
		{name: "record block time changed", mutate: func(r *pb.GetRecordResponse) { r.Record.BlockTime = timestamppb.New(t0) }},
		{name: "no record in the answer", mutate: func(r *pb.GetRecordResponse) { r.Record = nil }},
		{name: "another record in the answer", mutate: func(r *pb.GetRecordResponse) { r.Record = note2.Record }},
		{name: "proofs swapped", mutate: func(r *pb.GetRecordResponse) { r.Proofs[0], r.Proofs[1] = r.Proofs[1], r.Proofs[0] }},
		{name: "no proofs", mutate: func(r *pb.GetRecordResponse) { r.Proofs = nil }},
		{name: "only the id proof", mutate: func(r *pb.GetRecordResponse) { r.Proofs = r.Proofs[:1] }},
		{name: "three proofs", mutate: func(r *pb.GetRecordResponse) { r.Proofs = append(r.Proofs, r.Proofs[1]) }},
		{name: "nil answer", nilAnswer: true},
		{name: "record entry points to another seq", mutate: func(r *pb.GetRecordResponse) {
			ref := new(pb.RecordRef)
			proto.Unmarshal(r.Proofs[0].Value, ref)
			ref.Seq = note2.Record.Seq
			r.Proofs[0].Value, _ = proto.Marshal(ref)
			r.Inclusion = note2.Inclusion
		}},
		{name: "record entry value not a RecordRef", mutate: func(r *pb.GetRecordResponse) { r.Proofs[0].Value = append(r.Proofs[0].Value, 0xff) }},
		{name: "record entry proof claims absence", mutate: func(r *pb.GetRecordResponse) { r.Proofs[0].Exists = false }},
		{name: "log proof claims absence", mutate: func(r *pb.GetRecordResponse) { r.Proofs[1].Exists = false }},
		{name: "log state value flipped", mutate: func(r *pb.GetRecordResponse) {
			r.Proofs[1].Value = flipped(r.Proofs[1].Value, len(r.Proofs[1].Value)-1)
		}},
		{name: "log proof of another key", mutate: func(r *pb.GetRecordResponse) { r.Proofs[1] = r.Proofs[0] }},
		{name: "log proof from another height", mutate: func(r *pb.GetRecordResponse) { r.Proofs[1] = early.Proofs[1] }},
		{name: "no inclusion proof", mutate: func(r *pb.GetRecordResponse) { r.Inclusion = nil }},
		{name: "inclusion proof of another record", mutate: func(r *pb.GetRecordResponse) { r.Inclusion = note2.Inclusion }},
		{name: "inclusion proof with another index", mutate: func(r *pb.GetRecordResponse) { r.Inclusion.LogIndex++ }},
		{name: "inclusion proof hash flipped", mutate: func(r *pb.GetRecordResponse) {
			r.Inclusion.Hashes[0] = flipped(r.Inclusion.Hashes[0], 0)
		}},
		{name: "inclusion proof shortened", mutate: func(r *pb.GetRecordResponse) { r.Inclusion.Hashes = r.Inclusion.Hashes[1:] }},
		{name: "inclusion proof into an earlier log", mutate: func(r *pb.GetRecordResponse) { r.Inclusion = early.Inclusion }},
		{name: "record seq changed", mutate: func(r *pb.GetRecordResponse) { r.Record.Seq++ }},
		{name: "record kind changed", mutate: func(r *pb.GetRecordResponse) { r.Record.Kind = pb.RecordKind_RECORD_KIND_PLEDGE }},
		{name: "record of another id", mutate: func(r *pb.GetRecordResponse) { proto.Reset(r); proto.Merge(r, note2) }},
		{name: "asked for an id the answer is not about", id: c.note2},
		{name: "malformed id", id: "not-a-record-id"},
		{name: "answer checked against another height's root", hash: c.root(t, 2)},
		{name: "id proof from another height", mutate: func(r *pb.GetRecordResponse) { r.Proofs[0] = early.Proofs[0] }},
	}
}

func TestRecord(t *testing.T) {
	c := chain(t)
	root := c.root(t, c.top)
	honest, cases := recordCases(t, c)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, id, hash := tc.answer(honest, c.note1, root)
			ans := r
			if tc.nilAnswer {
				ans = nil
			}
			rec, err := verifiers.Record(hash, id, ans)
			checkOutcome(t, tc.ok, err)
			if tc.ok && (rec.Id != id || !proto.Equal(rec, ledger.Readable(ledger.Bare(r.Record)))) {
				t.Fatalf("verified record %v is not the answer's", rec)
			}
		})
	}
}

// absenceCases are TestAbsence's cases (also tamper vectors): the honest
// absence answer for absentID() at the top height, mutated, checked for id
// (default absentID()) against hash.
func absenceCases(t *testing.T, c *testChain) (honest *pb.GetRecordResponse, cases []recordCase) {
	t.Helper()
	h := c.top
	honest = c.recordAnswer(t, h, absentID())
	if honest.Record != nil || len(honest.Proofs) != 1 || honest.Proofs[0].Exists {
		t.Fatalf("fixture: absence answer %v", honest)
	}
	present := c.recordAnswer(t, h, c.note1)
	// The record note2 did not exist yet at height 1.
	before := c.recordAnswer(t, 1, c.note2)
	return honest, []recordCase{
		{name: "honest", ok: true},
		{name: "honest absence before the record was filed", id: c.note2, hash: c.root(t, 1),
			mutate: func(r *pb.GetRecordResponse) { proto.Reset(r); proto.Merge(r, before) }, ok: true},
		{name: "absence claimed for an existing id with its real proof", id: c.note1, mutate: func(r *pb.GetRecordResponse) {
			r.Proofs = present.Proofs[:1]
		}},
		{name: "absence claimed for an existing id, proof recast as absence", id: c.note1, mutate: func(r *pb.GetRecordResponse) {
			p := proto.Clone(present.Proofs[0]).(*pb.Proof)
			p.Exists, p.Value = false, nil
			r.Proofs = []*pb.Proof{p}
		}},
		{name: "absence claimed for an existing id with another id's absence proof", id: c.note1},
		{name: "absence of a filed record proven at an older height, checked at the newer", id: c.note2,
			mutate: func(r *pb.GetRecordResponse) { proto.Reset(r); proto.Merge(r, before) }},
		{name: "answer checked against another height's root", hash: c.root(t, 1)},
		{name: "no proofs", mutate: func(r *pb.GetRecordResponse) { r.Proofs = nil }},
		{name: "two proofs", mutate: func(r *pb.GetRecordResponse) { r.Proofs = append(r.Proofs, r.Proofs[0]) }},
		{name: "a record attached", mutate: func(r *pb.GetRecordResponse) { r.Record = present.Record }},
		{name: "value attached to the absence proof", mutate: func(r *pb.GetRecordResponse) { r.Proofs[0].Value = binary.BigEndian.AppendUint64(nil, 1) }},
		{name: "absence proof claims existence", mutate: func(r *pb.GetRecordResponse) { r.Proofs[0].Exists = true }},
		{name: "proof of another key", mutate: func(r *pb.GetRecordResponse) { r.Proofs[0].Key = layout.Member("zzz") }},
		{name: "undecodable proof bytes", mutate: func(r *pb.GetRecordResponse) { r.Proofs[0].Proof = []byte{0xff} }},
		{name: "malformed id", id: "xyz"},
		{name: "nil answer", nilAnswer: true},
	}
}

func TestAbsence(t *testing.T) {
	c := chain(t)
	root := c.root(t, c.top)
	missing := absentID()
	honest, cases := absenceCases(t, c)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, id, hash := tc.answer(honest, missing, root)
			if tc.nilAnswer {
				r = nil
			}
			checkOutcome(t, tc.ok, verifiers.Absence(hash, id, r))
		})
	}
}

// memberCase is a member answer check: the honest answer for xaa at the top
// height.
type memberCase = answerCase[*pb.GetMemberResponse]

// memberCases are TestMember's cases (also tamper vectors).
func memberCases(t *testing.T, c *testChain) (honest *pb.GetMemberResponse, cases []memberCase) {
	t.Helper()
	h := c.top
	honest = c.memberAnswer(t, h, "xaa")
	xbb := c.memberAnswer(t, h, "xbb")
	return honest, []memberCase{
		{name: "honest", ok: true},
		{name: "honest, another member", id: "xbb", mutate: func(r *pb.GetMemberResponse) { proto.Reset(r); proto.Merge(r, xbb) }, ok: true},
		{name: "next sequence is not proven and not checked", mutate: func(r *pb.GetMemberResponse) { r.NextSequence = 99 }, ok: true},
		{name: "member name differs from the proven one", mutate: func(r *pb.GetMemberResponse) { r.Member.Name = "Someone else" }},
		{name: "member key status differs from the proven one", mutate: func(r *pb.GetMemberResponse) {
			r.Member.Keys[0].Status = pb.KeyStatus_KEY_STATUS_REVOKED
		}},
		{name: "member key compromise hidden", mutate: func(r *pb.GetMemberResponse) { r.Member.Keys[0].CompromisedSinceHeight = 1 }},
		{name: "another member in the answer", mutate: func(r *pb.GetMemberResponse) { r.Member = xbb.Member }},
		{name: "no member in the answer", mutate: func(r *pb.GetMemberResponse) { r.Member = nil }},
		{name: "proof of another member", mutate: func(r *pb.GetMemberResponse) { r.Proof = xbb.Proof }},
		{name: "proof and member of another member", mutate: func(r *pb.GetMemberResponse) { proto.Reset(r); proto.Merge(r, xbb) }},
		{name: "proof keyed to xaa with xbb's value", mutate: func(r *pb.GetMemberResponse) {
			r.Proof.Value, r.Member = xbb.Proof.Value, xbb.Member
		}},
		{name: "proven value flipped", mutate: func(r *pb.GetMemberResponse) { r.Proof.Value = flipped(r.Proof.Value, 3) }},
		{name: "no proof", mutate: func(r *pb.GetMemberResponse) { r.Proof = nil }},
		{name: "proof claims absence", mutate: func(r *pb.GetMemberResponse) { r.Proof.Exists, r.Proof.Value = false, nil }},
		{name: "answer checked against another height's root", hash: c.root(t, 2)},
		{name: "nil answer", nilAnswer: true},
	}
}

func TestMember(t *testing.T) {
	c := chain(t)
	root := c.root(t, c.top)
	honest, cases := memberCases(t, c)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, id, hash := tc.answer(honest, "xaa", root)
			if tc.nilAnswer {
				r = nil
			}
			m, err := verifiers.Member(hash, id, r)
			checkOutcome(t, tc.ok, err)
			if tc.ok && (m.Id != id || !proto.Equal(m, r.Member)) {
				t.Fatalf("verified member %v is not the answer's", m)
			}
		})
	}
}

// obligationCase is an obligation answer check: the honest answer for xaa's
// duty to vote on prop at the top height (met at height 4).
type obligationCase = answerCase[*pb.GetObligationResponse]

// obligationCases are TestObligation's cases (also tamper vectors).
func obligationCases(t *testing.T, c *testChain) (id string, honest *pb.GetObligationResponse, cases []obligationCase) {
	t.Helper()
	h := c.top
	id = ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_VOTE, c.prop, "xaa")
	other := ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_VOTE, c.prop2, "xaa")
	honest = c.obligationAnswer(t, h, id)
	open := c.obligationAnswer(t, 3, id) // before xaa voted
	another := c.obligationAnswer(t, h, other)
	if honest.Obligation.Status != pb.ObligationStatus_OBLIGATION_STATUS_MET || open.Obligation.Status != pb.ObligationStatus_OBLIGATION_STATUS_OPEN {
		t.Fatalf("fixture: obligation %s is %v at the top, %v at height 3", id, honest.Obligation.Status, open.Obligation.Status)
	}
	return id, honest, []obligationCase{
		{name: "honest", ok: true},
		{name: "honest, still open at an earlier height", mutate: func(r *pb.GetObligationResponse) { proto.Reset(r); proto.Merge(r, open) }, hash: c.root(t, 3), ok: true},
		{name: "honest, another obligation", id: other, mutate: func(r *pb.GetObligationResponse) { proto.Reset(r); proto.Merge(r, another) }, ok: true},
		{name: "status changed (met shown as overdue)", mutate: func(r *pb.GetObligationResponse) {
			r.Obligation.Status = pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE
		}},
		{name: "met record hidden", mutate: func(r *pb.GetObligationResponse) { r.Obligation.StatusRecord = "" }},
		{name: "due time moved", mutate: func(r *pb.GetObligationResponse) { r.Obligation.Due = timestamppb.New(t0) }},
		{name: "debtor changed", mutate: func(r *pb.GetObligationResponse) { r.Obligation.Debtor = "xbb" }},
		{name: "creditor added", mutate: func(r *pb.GetObligationResponse) {
			r.Obligation.Creditors = append(r.Obligation.Creditors, "xcc")
		}},
		{name: "the earlier (open) state shown with the current proof", mutate: func(r *pb.GetObligationResponse) { r.Obligation = open.Obligation }},
		{name: "another obligation in the answer", mutate: func(r *pb.GetObligationResponse) { r.Obligation = another.Obligation }},
		{name: "no obligation in the answer", mutate: func(r *pb.GetObligationResponse) { r.Obligation = nil }},
		{name: "proof of another obligation", mutate: func(r *pb.GetObligationResponse) { r.Proof = another.Proof }},
		{name: "proof and obligation of another obligation", mutate: func(r *pb.GetObligationResponse) { proto.Reset(r); proto.Merge(r, another) }},
		{name: "proof keyed to the obligation with another's value", mutate: func(r *pb.GetObligationResponse) {
			r.Proof.Value, r.Obligation = another.Proof.Value, another.Obligation
		}},
		{name: "proven value flipped", mutate: func(r *pb.GetObligationResponse) { r.Proof.Value = flipped(r.Proof.Value, 3) }},
		{name: "proof bytes flipped", mutate: func(r *pb.GetObligationResponse) { r.Proof.Proof = flipped(r.Proof.Proof, len(r.Proof.Proof)/2) }},
		{name: "no proof", mutate: func(r *pb.GetObligationResponse) { r.Proof = nil }},
		{name: "proof claims absence", mutate: func(r *pb.GetObligationResponse) { r.Proof.Exists, r.Proof.Value = false, nil }},
		{name: "proof from an earlier height", mutate: func(r *pb.GetObligationResponse) { r.Proof = open.Proof }},
		{name: "answer checked against another height's root", hash: c.root(t, 3)},
		{name: "asked for another obligation", id: other},
		{name: "malformed id", id: "not-an-obligation"},
		{name: "upper-case id", id: strings.ToUpper(id)},
		{name: "nil answer", nilAnswer: true},
	}
}

func TestObligation(t *testing.T) {
	c := chain(t)
	root := c.root(t, c.top)
	honestID, honest, cases := obligationCases(t, c)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, id, hash := tc.answer(honest, honestID, root)
			if tc.nilAnswer {
				r = nil
			}
			o, err := verifiers.Obligation(hash, id, r)
			checkOutcome(t, tc.ok, err)
			if tc.ok && (o.Id != id || !proto.Equal(o, r.Obligation)) {
				t.Fatalf("verified obligation %v is not the answer's", o)
			}
		})
	}
}

func TestSignatures(t *testing.T) {
	c := chain(t)
	rec := c.record(t, c.note2) // xbb, height 2
	if rec.Height != 2 || rec.Author != "xbb" {
		t.Fatalf("fixture: note2 at height %d by %s", rec.Height, rec.Author)
	}
	// The member entry of the state before the record's block, itself
	// verified, as Verifier.Record and VerifyBundle use it.
	mh := rec.Height - 1
	xbb, err := verifiers.Member(c.root(t, mh), "xbb", c.memberAnswer(t, mh, "xbb"))
	if err != nil {
		t.Fatal(err)
	}
	xaa, err := verifiers.Member(c.root(t, mh), "xaa", c.memberAnswer(t, mh, "xaa"))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		t.Fatal(err)
	}
	retx := func(mutate func(tx *pb.Tx)) []byte {
		x := proto.Clone(tx).(*pb.Tx)
		mutate(x)
		bz, err := ledger.Canonical(x)
		if err != nil {
			t.Fatal(err)
		}
		return bz
	}
	cases := []struct {
		name    string
		rec     func(r *pb.StoredRecord)
		members func(ms map[string]*pb.Member)
		ok      bool
	}{
		{name: "honest", ok: true},
		{name: "other members in the map do not matter", members: func(ms map[string]*pb.Member) { ms["xaa"] = xaa }, ok: true},
		{name: "key rotated later still verifies", members: func(ms map[string]*pb.Member) {
			k := ms["xbb"].Keys[0]
			k.Status, k.ValidUntilHeight = pb.KeyStatus_KEY_STATUS_ROTATED, rec.Height
		}, ok: true},
		{name: "key rotated much later still verifies", members: func(ms map[string]*pb.Member) {
			k := ms["xbb"].Keys[0]
			k.Status, k.ValidUntilHeight = pb.KeyStatus_KEY_STATUS_ROTATED, rec.Height+10
		}, ok: true},
		{name: "key revoked later still verifies", members: func(ms map[string]*pb.Member) {
			k := ms["xbb"].Keys[0]
			k.Status, k.ValidUntilHeight = pb.KeyStatus_KEY_STATUS_REVOKED, rec.Height
		}, ok: true},
		{name: "member suspended later still verifies", members: func(ms map[string]*pb.Member) {
			ms["xbb"].Status = pb.MemberStatus_MEMBER_STATUS_SUSPENDED
		}, ok: true},
		{name: "tampered signature", rec: func(r *pb.StoredRecord) {
			r.Tx = retx(func(x *pb.Tx) { x.Signature = flipped(x.Signature, 0) })
		}},
		{name: "truncated signature", rec: func(r *pb.StoredRecord) {
			r.Tx = retx(func(x *pb.Tx) { x.Signature = x.Signature[:len(x.Signature)-1] })
		}},
		{name: "tampered body", rec: func(r *pb.StoredRecord) {
			r.Tx = retx(func(x *pb.Tx) { x.Body.Sequence++ })
		}},
		{name: "signed by another member's key", rec: func(r *pb.StoredRecord) {
			r.Tx = retx(func(x *pb.Tx) {
				s := c.members["xaa"].Key
				msg, err := ledger.SignBytes(x.Body, x.Body.Signer, x.Body.KeyId)
				if err != nil {
					t.Fatal(err)
				}
				if x.Signature, err = s.Sign(msg); err != nil {
					t.Fatal(err)
				}
			})
		}},
		{name: "undecodable tx", rec: func(r *pb.StoredRecord) { r.Tx = []byte{0xff} }},
		{name: "author is not the signer", rec: func(r *pb.StoredRecord) { r.Author = "xaa" }},
		{name: "key valid only from after the record", members: func(ms map[string]*pb.Member) {
			ms["xbb"].Keys[0].ValidFromHeight = rec.Height + 1
		}},
		{name: "key ended before the record", members: func(ms map[string]*pb.Member) {
			k := ms["xbb"].Keys[0]
			k.Status, k.ValidUntilHeight = pb.KeyStatus_KEY_STATUS_ROTATED, rec.Height-1
		}},
		{name: "member has no such key", members: func(ms map[string]*pb.Member) {
			ms["xbb"].Keys[0].KeyId = "0000000000000000"
		}},
		{name: "member's key is another public key", members: func(ms map[string]*pb.Member) {
			ms["xbb"].Keys[0].PubKey = xaa.Keys[0].PubKey
		}},
		{name: "signer's member entry missing", members: func(ms map[string]*pb.Member) { delete(ms, "xbb") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, ms := signedInputs(rec, xbb, tc.rec, tc.members)
			checkOutcome(t, tc.ok, verifiers.Signatures(r, ms))
		})
	}
}

// signedInputs are what a check of rec's signatures by xbb gets: copies of
// rec and of xbb's member entry, changed by the case (when it changes them).
func signedInputs(rec *pb.StoredRecord, xbb *pb.Member, changeRec func(*pb.StoredRecord), changeMembers func(map[string]*pb.Member)) (*pb.StoredRecord, map[string]*pb.Member) {
	r := proto.Clone(rec).(*pb.StoredRecord)
	if changeRec != nil {
		changeRec(r)
	}
	ms := map[string]*pb.Member{"xbb": proto.Clone(xbb).(*pb.Member)}
	if changeMembers != nil {
		changeMembers(ms)
	}
	return r, ms
}

func TestSigners(t *testing.T) {
	c := chain(t)
	for _, id := range []string{c.note1, c.note2, c.voteB} {
		rec := c.record(t, id)
		got, err := verifiers.Signers(rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != rec.Author {
			t.Fatalf("%s: signers %v, want [%s]", id, got, rec.Author)
		}
	}
	if _, err := verifiers.Signers(&pb.StoredRecord{Tx: []byte{0xff}}); err == nil {
		t.Fatal("undecodable tx: no error")
	}
}

func TestProposal(t *testing.T) {
	c := chain(t)
	h := c.top
	root := c.root(t, h)
	honest := c.proposalAnswer(t, h, c.prop)
	other := c.proposalAnswer(t, h, c.prop2)
	if len(honest.Votes) != 2 || len(honest.Proofs) != 4 || len(other.Votes) != 0 { // one proof per elector (xaa, xbb, xcc)
		t.Fatalf("fixture: %d votes, %d proofs; other proposal has %d votes", len(honest.Votes), len(honest.Proofs), len(other.Votes))
	}
	if honest.Votes[0].Elector != "xaa" || honest.Votes[1].Elector != "xbb" {
		t.Fatalf("fixture: votes by %s, %s", honest.Votes[0].Elector, honest.Votes[1].Elector)
	}
	early := c.proposalAnswer(t, 3, c.prop) // before any vote
	cases := []struct {
		name      string
		mutate    func(r *pb.GetProposalResponse)
		id        string // "": prop
		hash      []byte
		ok        bool
		nilAnswer bool
	}{
		{name: "honest", ok: true},
		{name: "honest, no votes yet", mutate: func(r *pb.GetProposalResponse) { proto.Reset(r); proto.Merge(r, early) }, hash: c.root(t, 3), ok: true},
		{name: "honest, another proposal", id: c.prop2, mutate: func(r *pb.GetProposalResponse) { proto.Reset(r); proto.Merge(r, other) }, ok: true},
		{name: "changed vote option", mutate: func(r *pb.GetProposalResponse) { r.Votes[1].Option = pb.VoteOption_VOTE_OPTION_YES }},
		{name: "changed vote elector", mutate: func(r *pb.GetProposalResponse) { r.Votes[1].Elector = "xcc" }},
		{name: "changed vote proposal id", mutate: func(r *pb.GetProposalResponse) { r.Votes[0].ProposalId = c.prop2 }},
		{name: "dropped vote proof", mutate: func(r *pb.GetProposalResponse) { r.Proofs = r.Proofs[:2] }},
		{name: "a vote hidden (with its proof kept)", mutate: func(r *pb.GetProposalResponse) { r.Votes = r.Votes[:1] }},
		{name: "a vote repeated", mutate: func(r *pb.GetProposalResponse) { r.Votes = append(r.Votes, r.Votes[1]) }},
		{name: "a vote hidden behind an absence claim", mutate: func(r *pb.GetProposalResponse) {
			r.Votes = r.Votes[:1]
			r.Proofs[2].Exists, r.Proofs[2].Value = false, nil
		}},
		{name: "extra proof", mutate: func(r *pb.GetProposalResponse) { r.Proofs = append(r.Proofs, r.Proofs[1]) }},
		{name: "vote proofs swapped", mutate: func(r *pb.GetProposalResponse) { r.Proofs[1], r.Proofs[2] = r.Proofs[2], r.Proofs[1] }},
		{name: "vote proof carries the other vote's value", mutate: func(r *pb.GetProposalResponse) {
			r.Proofs[2].Value = r.Proofs[1].Value
		}},
		{name: "the other vote shown under its proof", mutate: func(r *pb.GetProposalResponse) { r.Votes[1] = r.Votes[0] }},
		{name: "a vote by an elector who did not vote", mutate: func(r *pb.GetProposalResponse) {
			v := proto.Clone(r.Votes[1]).(*pb.VoteState)
			v.Elector = "xcc"
			r.Votes = append(r.Votes, v)
		}},
		{name: "changed proposal title", mutate: func(r *pb.GetProposalResponse) { r.Proposal.Title = "something else" }},
		{name: "changed proposal tally", mutate: func(r *pb.GetProposalResponse) { r.Proposal.Tally = nil }},
		{name: "no proposal in the answer", mutate: func(r *pb.GetProposalResponse) { r.Proposal = nil }},
		{name: "proposal from another id", mutate: func(r *pb.GetProposalResponse) {
			r.Proposal, r.Proofs[0] = other.Proposal, other.Proofs[0]
		}},
		{name: "another proposal's answer", mutate: func(r *pb.GetProposalResponse) { proto.Reset(r); proto.Merge(r, other) }},
		{name: "asked for another proposal", id: c.prop2},
		{name: "asked for a record that is no proposal", id: c.note1},
		{name: "proposal proof claims absence", mutate: func(r *pb.GetProposalResponse) { r.Proofs[0].Exists = false }},
		{name: "proposal proof value flipped", mutate: func(r *pb.GetProposalResponse) {
			r.Proofs[0].Value = flipped(r.Proofs[0].Value, len(r.Proofs[0].Value)-1)
		}},
		{name: "proposal proof from before the votes", mutate: func(r *pb.GetProposalResponse) { r.Proofs[0] = early.Proofs[0] }},
		{name: "answer checked against another height's root", hash: c.root(t, 3)},
		{name: "no proofs", mutate: func(r *pb.GetProposalResponse) { r.Proofs = nil }},
		{name: "nil answer", nilAnswer: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := proto.Clone(honest).(*pb.GetProposalResponse)
			if tc.mutate != nil {
				tc.mutate(r)
			}
			id, hash := c.prop, root
			if tc.id != "" {
				id = tc.id
			}
			if tc.hash != nil {
				hash = tc.hash
			}
			if tc.nilAnswer {
				r = nil
			}
			p, votes, err := verifiers.Proposal(hash, id, r)
			checkOutcome(t, tc.ok, err)
			if !tc.ok {
				return
			}
			if p.Id != id || !proto.Equal(p, r.Proposal) || len(votes) != len(r.Votes) {
				t.Fatalf("verified proposal %v with %d votes is not the answer's", p, len(votes))
			}
			for i := range votes {
				if !proto.Equal(votes[i], r.Votes[i]) {
					t.Fatalf("verified vote %d %v is not the answer's %v", i, votes[i], r.Votes[i])
				}
			}
		})
	}
}
