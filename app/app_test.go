package app

import (
	"bytes"
	"context"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	ics23 "github.com/cosmos/ics23/go"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	"github.com/normledger/normledger/ledger/store/tlog/logproof"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Every kind: submit -> commit -> query returns the identical signed record.
func TestEveryKindRoundTrip(t *testing.T) {
	h := newHarness(t)
	ids, txs := h.runScenario()
	seen := map[pb.RecordKind]bool{}
	for i, id := range ids {
		got := h.record(id)
		if !bytes.Equal(got.Tx, txs[i]) {
			t.Fatalf("step %d: stored tx differs from submitted tx", i)
		}
		if got.Id != id || got.Seq != uint64(i+1) || got.Height != int64(i+1) {
			t.Fatalf("step %d: got id %s seq %d height %d", i, got.Id, got.Seq, got.Height)
		}
		sent, _ := ledger.DecodeTx(txs[i], 0)
		back, err := ledger.DecodeTx(got.Tx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(sent, back) {
			t.Fatalf("step %d: record differs after round trip", i)
		}
		if got.Kind != ledger.KindOf(sent.Body.Record) || got.Author != sent.Body.Signer {
			t.Fatalf("step %d: kind %v author %s", i, got.Kind, got.Author)
		}
		seen[got.Kind] = true
	}
	for _, k := range h.app.Registry().Kinds() {
		if !seen[k.Enum] {
			t.Errorf("scenario never filed a %s record", k.Name)
		}
	}
}

// Reads carry ICS23 proofs that verify against the committed root; absent
// ids get non-existence proofs.
func TestRecordProofs(t *testing.T) {
	h := newHarness(t)
	ids, _ := h.runScenario()
	root := h.st.Hash()
	r := h.query("/record/"+ids[0], nil, true)
	if r.Code != 0 || r.ProofOps == nil || len(r.ProofOps.Ops) != 3 {
		t.Fatalf("record query: code %d ops %v", r.Code, r.ProofOps)
	}
	rec := new(pb.StoredRecord)
	if err := proto.Unmarshal(r.Value, rec); err != nil {
		t.Fatal(err)
	}
	idKey, _ := layout.ID(ids[0])
	verify := func(op []byte, key, val []byte) bool {
		p := new(ics23.CommitmentProof)
		if err := p.Unmarshal(op); err != nil {
			t.Fatal(err)
		}
		if val == nil {
			return ics23.VerifyNonMembership(ics23.IavlSpec, root, p, key)
		}
		return ics23.VerifyMembership(ics23.IavlSpec, root, p, key, val)
	}
	v, _ := h.st.At(0)
	refVal, _ := v.Get(idKey)
	ref := new(pb.RecordRef)
	if err := proto.Unmarshal(refVal, ref); err != nil || ref.Seq != 1 || ref.Height != rec.Height || ref.Author != rec.Author {
		t.Fatalf("ref %v: %v", ref, err)
	}
	if !verify(r.ProofOps.Ops[0].Data, idKey, refVal) {
		t.Fatal("record entry proof does not verify")
	}
	logVal, _ := v.Get([]byte(layout.KeyLog))
	if !verify(r.ProofOps.Ops[1].Data, []byte(layout.KeyLog), logVal) {
		t.Fatal("log state proof does not verify")
	}
	size, logRoot, err := layout.ParseLogState(logVal)
	if err != nil {
		t.Fatal(err)
	}
	op := r.ProofOps.Ops[2]
	inc := new(pb.LogInclusion)
	if op.Type != InclusionOpType || proto.Unmarshal(op.Data, inc) != nil || inc.LogIndex != 0 {
		t.Fatalf("inclusion op %v", op)
	}
	if err := logproof.VerifyInclusion(inc.LogIndex, size, rec.Tx, inc.Hashes, logRoot); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}
	tampered := append([]byte(nil), rec.Tx...)
	tampered[len(tampered)-1] ^= 1
	if logproof.VerifyInclusion(inc.LogIndex, size, tampered, inc.Hashes, logRoot) == nil {
		t.Fatal("tampered record verified")
	}
	missing := "00" + ids[0][2:]
	r = h.query("/record/"+missing, nil, true)
	if r.Code != uint32(ledger.CodeUnknownRecord) || r.ProofOps == nil {
		t.Fatalf("missing record: code %d", r.Code)
	}
	mk, _ := layout.ID(missing)
	if !verify(r.ProofOps.Ops[0].Data, mk, nil) {
		t.Fatal("non-existence proof does not verify")
	}
}

func TestListRecords(t *testing.T) {
	h := newHarness(t)
	ids, _ := h.runScenario()
	list := func(req *pb.ListRecordsRequest) *pb.ListRecordsResponse {
		bz, _ := proto.Marshal(req)
		r := h.query("/records", bz, false)
		if r.Code != 0 {
			t.Fatalf("list %v: %s", req, r.Log)
		}
		out := new(pb.ListRecordsResponse)
		if err := proto.Unmarshal(r.Value, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := list(&pb.ListRecordsRequest{Kind: "pledge"}); len(got.Records) != 1 || got.Records[0].Id != ids[0] {
		t.Fatalf("kind=pledge: %v", got.Records)
	}
	if got := list(&pb.ListRecordsRequest{Author: "xbb"}); len(got.Records) != 19 { // 5 records, a vote, a receipt, a contact update, a ping answer, a case request, a protest, an undertaking, a confirmation and a return; an attribution, a proposal, a vote, an exercise notice and an intermediate report
		t.Fatalf("author=xbb: %d records", len(got.Records))
	}
	if got := list(&pb.ListRecordsRequest{Sector: "health", Author: "observatory"}); len(got.Records) != 1 {
		t.Fatalf("sector=health author=observatory: %d records", len(got.Records))
	}
	// Pagination walks everything exactly once.
	var all []string
	tok := ""
	for {
		got := list(&pb.ListRecordsRequest{Limit: 5, PageToken: tok})
		for _, r := range got.Records {
			all = append(all, r.Id)
		}
		if got.NextPageToken == "" {
			break
		}
		tok = got.NextPageToken
	}
	if len(all) != len(ids) {
		t.Fatalf("paged %d records, want %d", len(all), len(ids))
	}
	bad, _ := proto.Marshal(&pb.ListRecordsRequest{Kind: "nonsense"})
	if r := h.query("/records", bad, false); r.Code != uint32(ledger.CodeBadEnum) {
		t.Fatalf("unknown kind: code %d", r.Code)
	}
}

// Store survives close and reopen with identical height, hash and records.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessOn(t, st, true)
	ids, txs := h.runScenario()
	height, hash := st.Version(), st.Hash()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	h2 := newHarnessOn(t, st2, false)
	info, err := h2.app.Info(context.Background(), &abci.RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if info.LastBlockHeight != height || !bytes.Equal(info.LastBlockAppHash, hash) {
		t.Fatalf("after reopen: height %d hash %X, want %d %X", info.LastBlockHeight, info.LastBlockAppHash, height, hash)
	}
	for i, id := range ids {
		if got := h2.record(id); !bytes.Equal(got.Tx, txs[i]) {
			t.Fatalf("record %d differs after reopen", i)
		}
	}
	// The chain keeps going: the next sequence of xaa is still accepted.
	h2.seq, h2.height, h2.now = h.seq, h.height, h.now
	tx := h2.sign("xcc", &pb.Record{SchemaVersion: 1, Body: &pb.Record_Retraction{Retraction: &pb.Retraction{TargetId: ids[0], Reason: "x"}}})
	if res := h2.block(tx); res.TxResults[0].Code != uint32(ledger.CodeNotAuthor) {
		t.Fatalf("after reopen: code %d: %s", res.TxResults[0].Code, res.TxResults[0].Log)
	}
}

// Replies: the challenged author may answer a challenge, a state a finding
// concerns may answer the finding; nobody else.
func TestReplies(t *testing.T) {
	h := newHarness(t)
	ids, _ := h.runScenario()
	reply := func(to string) *pb.Record {
		return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Response{Response: &pb.Response{
			RequestId: to, Disposition: pb.ResponseDisposition_RESPONSE_DISPOSITION_INFORMATION_PROVIDED, Summary: "Our reply."}}}
	}
	cases := []struct {
		who, to string
		want    ledger.Code
	}{
		{"observatory", ids[7], ledger.CodeOK},      // challenge 7 targets observatory's assessment 5
		{"xbb", ids[7], ledger.CodeNotRecipient},    // not the challenged author
		{"xbb", ids[6], ledger.CodeOK},              // finding 6 concerns xaa and xbb
		{"xcc", ids[6], ledger.CodeNotRecipient},    // not a subject of the finding
		{"xcc", ids[4], ledger.CodeWrongRecordKind}, // a disclosure is not something to reply to
	}
	for _, c := range cases {
		tx := h.signSeq(c.who, h.nextSeq(c.who), reply(c.to))
		res := h.block(tx)
		if got := ledger.Code(res.TxResults[0].Code); got != c.want {
			t.Errorf("%s replying to %s: %v (%s), want %v", c.who, c.to[:8], got, res.TxResults[0].Log, c.want)
		}
		if res.TxResults[0].Code == 0 {
			h.seq[c.who]++
		}
	}
}
