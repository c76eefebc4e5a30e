package api

import (
	"bytes"
	"context"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/normledger/normledger/app"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The API's record answer and the ABCI /record query prove a record alike
// (one builder, store.View.RecordWithProofs): the same record, the same
// ICS23 proofs of the same keys in the same order, the same log inclusion;
// for an absent record, the same proof of absence.
func TestRecordProofsMatchABCI(t *testing.T) {
	l := newTestLedger(t)
	svc := l.server(&fakeChain{})
	missing := "0" + l.ids[0][1:]
	if missing == l.ids[0] {
		missing = "1" + l.ids[0][1:]
	}
	for _, id := range append(append([]string(nil), l.ids...), missing) {
		resp, err := svc.GetRecord(context.Background(), &pb.GetRecordRequest{Id: id, Prove: true})
		if id == missing {
			st := status.Convert(err)
			if st.Code() != codes.NotFound || len(st.Details()) != 2 {
				t.Fatalf("absent record: %v", err)
			}
			resp = st.Details()[1].(*pb.GetRecordResponse)
		} else if err != nil {
			t.Fatal(err)
		}
		q, err := l.app.Query(context.Background(), &abci.RequestQuery{Path: "/record/" + id, Prove: true})
		if err != nil {
			t.Fatal(err)
		}
		if q.Height != resp.Height {
			t.Fatalf("%s: ABCI height %d, API height %d", id, q.Height, resp.Height)
		}
		ops := q.ProofOps.GetOps()
		wantOps := len(resp.Proofs)
		if resp.Inclusion != nil {
			wantOps++
		}
		if len(ops) != wantOps {
			t.Fatalf("%s: %d ProofOps, %d API proofs and inclusion %v", id, len(ops), len(resp.Proofs), resp.Inclusion != nil)
		}
		for i, p := range resp.Proofs {
			if ops[i].Type != app.ProofOpType || !bytes.Equal(ops[i].Key, p.Key) || !bytes.Equal(ops[i].Data, p.Proof) {
				t.Errorf("%s: proof %d differs (ABCI key %x, API key %x)", id, i, ops[i].Key, p.Key)
			}
		}
		if id == missing {
			if resp.Record != nil || q.Code != uint32(ledger.CodeUnknownRecord) || len(resp.Proofs) != 1 || resp.Proofs[0].Exists {
				t.Errorf("absent record: API %v, ABCI code %d", resp, q.Code)
			}
			continue
		}
		inc := ops[len(ops)-1]
		want, err := ledger.Canonical(resp.Inclusion)
		if err != nil {
			t.Fatal(err)
		}
		if inc.Type != app.InclusionOpType || !bytes.Equal(inc.Data, want) || !bytes.Equal(inc.Key, layout.U64(resp.Inclusion.LogIndex)) {
			t.Errorf("%s: inclusion differs", id)
		}
		rec, err := ledger.Canonical(ledger.Bare(resp.Record))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(q.Value, rec) {
			t.Errorf("%s: ABCI and API records differ", id)
		}
	}
}
