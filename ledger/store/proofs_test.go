package store

import (
	"bytes"
	"testing"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store/tlog/logproof"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// A record's answer proves itself against the committed root: its entry,
// the log state and its inclusion in the log; an absent record's answer
// proves the absence; without prove, only the record.
func TestRecordWithProofs(t *testing.T) {
	s, err := OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, _ := fileGenesisAndStep(t, s, 0)
	v, err := s.At(0)
	if err != nil {
		t.Fatal(err)
	}
	root := v.RootHash()
	id := ledger.RecordID(tx)
	verify := func(p *pb.Proof) bool {
		cp := new(ics23.CommitmentProof)
		if err := cp.Unmarshal(p.Proof); err != nil {
			t.Fatal(err)
		}
		if !p.Exists {
			return ics23.VerifyNonMembership(ics23.IavlSpec, root, cp, p.Key)
		}
		return ics23.VerifyMembership(ics23.IavlSpec, root, cp, p.Key, p.Value)
	}

	rec, proofs, inc, err := v.RecordWithProofs(id, true)
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil || rec.Id != id || !bytes.Equal(rec.Tx, tx) || len(proofs) != 2 || inc == nil {
		t.Fatalf("record %v, %d proofs, inclusion %v", rec, len(proofs), inc)
	}
	idKey, _ := layout.ID(id)
	if !bytes.Equal(proofs[0].Key, idKey) || !proofs[0].Exists || !verify(proofs[0]) {
		t.Fatalf("entry proof of %x does not verify", proofs[0].Key)
	}
	if string(proofs[1].Key) != layout.KeyLog || !proofs[1].Exists || !verify(proofs[1]) {
		t.Fatalf("log state proof of %q does not verify", proofs[1].Key)
	}
	size, logRoot, err := layout.ParseLogState(proofs[1].Value)
	if err != nil {
		t.Fatal(err)
	}
	if err := logproof.VerifyInclusion(inc.LogIndex, size, rec.Tx, inc.Hashes, logRoot); err != nil || inc.LogIndex != rec.Seq-1 {
		t.Fatalf("inclusion of log entry %d: %v", inc.LogIndex, err)
	}

	bare, proofs, inc, err := v.RecordWithProofs(id, false)
	if err != nil || bare == nil || bare.Id != id || proofs != nil || inc != nil {
		t.Fatalf("without prove: %v %v %v %v", bare, proofs, inc, err)
	}

	missing := "0" + id[1:]
	if missing == id {
		missing = "1" + id[1:]
	}
	rec, proofs, inc, err = v.RecordWithProofs(missing, true)
	if err != nil || rec != nil || len(proofs) != 1 || inc != nil {
		t.Fatalf("absent record: %v, %d proofs, %v, %v", rec, len(proofs), inc, err)
	}
	if proofs[0].Exists || !verify(proofs[0]) {
		t.Fatal("absence proof does not verify")
	}
}
