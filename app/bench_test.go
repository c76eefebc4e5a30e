package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	ics23 "github.com/cosmos/ics23/go"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// benchRecord is a ~1 KB signed notification.
func benchRecord(i int) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"lumen"},
		Summary: fmt.Sprintf("benchmark %d %0800d", i, i)}}}
}

// benchSeq makes every benchmark record distinct (equal records from one
// author are rejected as duplicates).
var benchSeq int

// signedTxs makes n valid txs spread over the three states.
func signedTxs(h *harness, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		benchSeq++
		out[i] = h.sign([]string{"xaa", "xbb", "xcc"}[i%3], benchRecord(benchSeq))
	}
	return out
}

// BenchmarkDecodeVerify: decode, canonical check and one ed25519 verification.
func BenchmarkDecodeVerify(b *testing.B) {
	h := newHarness(b)
	tx := signedTxs(h, 1)[0]
	m := h.members["xaa"].Proto()
	b.SetBytes(int64(len(tx)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := ledger.DecodeTx(tx, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := ledger.VerifySignatures(func(string) (*pb.Member, error) { return m, nil }, d, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckTx: a full CheckTx (every ledger check) per tx.
func BenchmarkCheckTx(b *testing.B) {
	h := newHarness(b)
	h.block() // a committed state to check against
	txs := signedTxs(h, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := h.checkTx(txs[i]); r.Code != 0 {
			b.Fatalf("tx %d: %s", i, r.Log)
		}
	}
}

// BenchmarkRecheck: the recheck after a commit of a mempool of 1,000
// ~1 KB records, per transaction: "quick" as CheckTx takes it (the block
// changed nothing the waiting transactions depend on), "full" judging each
// again (as after a block that changed governance state). Signatures are
// remembered in both (the SigCache), as in a node.
func BenchmarkRecheck(b *testing.B) {
	for _, mode := range []string{"quick", "full"} {
		b.Run(mode, func(b *testing.B) {
			h := newHarness(b)
			h.block()
			txs := signedTxs(h, 1000)
			for _, tx := range txs {
				if r := h.checkTx(tx); r.Code != 0 {
					b.Fatal(r.Log)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				h.block() // an empty block: the mempool waits on
				if mode == "full" {
					h.app.mp.full = true
				}
				b.StartTimer()
				for _, tx := range txs {
					if r := h.recheck(tx); r.Code != 0 {
						b.Fatal(r.Log)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(txs)), "ns/tx")
		})
	}
}

// BenchmarkFinalizeCommit: FinalizeBlock + Commit of blocks of 100 and 1000
// ~1 KB signed records, on a state that already holds 10k records.
func BenchmarkFinalizeCommit(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("txs=%d", size), func(b *testing.B) {
			h := newHarness(b)
			for _, chunk := range chunks(signedTxs(h, 10000), 1000) {
				h.block(chunk...)
			}
			blocks := make([][][]byte, b.N)
			for i := range blocks {
				blocks[i] = signedTxs(h, size)
			}
			ctx := context.Background()
			sets0, _ := h.st.Writes()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.height++
				h.now = h.now.Add(time.Second)
				res, err := h.app.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: blocks[i], Height: h.height, Time: h.now})
				if err != nil || res.TxResults[size-1].Code != 0 {
					b.Fatalf("%v %v", err, res.TxResults[size-1])
				}
				if _, err := h.app.Commit(ctx, &abci.RequestCommit{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "tx/s")
			sets, _ := h.st.Writes()
			b.ReportMetric(float64(sets-sets0)/float64(size*b.N), "iavl_sets/record")
		})
	}
}

func chunks(txs [][]byte, n int) [][][]byte {
	var out [][][]byte
	for len(txs) > 0 {
		k := min(n, len(txs))
		out = append(out, txs[:k])
		txs = txs[k:]
	}
	return out
}

// proofState is a committed state of 100k records (built once).
var proofState *harness

func hundredK(b *testing.B) *harness {
	if proofState == nil {
		h := newHarness(b)
		for _, chunk := range chunks(signedTxs(h, 100_000), 2000) {
			h.block(chunk...)
		}
		proofState = h
	}
	return proofState
}

// BenchmarkProof generates and verifies the ICS23 proofs of record entries
// (i/<id>) at 100k records.
func BenchmarkProof(b *testing.B) {
	h := hundredK(b)
	v, err := h.st.At(0)
	if err != nil {
		b.Fatal(err)
	}
	root := v.RootHash()
	var idKeys [][]byte
	for seq := uint64(1); seq <= 100_000; seq += 97 {
		r, err := v.RecordBySeq(seq)
		if err != nil || r == nil {
			b.Fatal(seq, err)
		}
		k, _ := layout.ID(r.Id)
		idKeys = append(idKeys, k)
	}
	b.Run("generate", func(b *testing.B) {
		var size int
		for i := 0; i < b.N; i++ {
			p, err := v.Proof(idKeys[i%len(idKeys)])
			if err != nil {
				b.Fatal(err)
			}
			if i == 0 {
				bz, _ := p.Marshal()
				size = len(bz)
			}
		}
		b.ReportMetric(float64(size), "proof_bytes")
	})
	b.Run("verify", func(b *testing.B) {
		key := idKeys[len(idKeys)/2]
		val, _ := v.Get(key)
		p, _ := v.Proof(key)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if !ics23.VerifyMembership(ics23.IavlSpec, root, p, key, val) {
				b.Fatal("does not verify")
			}
		}
	})
}
