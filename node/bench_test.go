package node_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/node/api"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// BenchmarkRESTProofReads measures GET /v1/records/{id}?prove=true over
// loopback REST against a single node holding benchRecords records, with
// benchConcurrency clients; it reports reads/s and p50/p99 latency.
//
//	go test -run '^$' -bench RESTProofReads -benchtime 20000x ./node
func BenchmarkRESTProofReads(b *testing.B) {
	const benchRecords, benchConcurrency = 2000, 16
	n, c, ms := startNode(b, api.Config{ReadRateLimit: 0})
	ctx := context.Background()
	chainID, _ := c.ChainID(ctx)
	authors := []string{"xaa", "xbb", "xcc"}
	seq := map[string]uint64{}
	for _, a := range authors {
		s, err := c.NextSequence(ctx, a)
		if err != nil {
			b.Fatal(err)
		}
		seq[a] = s
	}
	var ids []string
	var last []byte
	for i := 0; i < benchRecords; i++ {
		a := authors[i%3]
		rec := &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"lumen"},
			Summary: fmt.Sprintf("benchmark record %d: %0800d", i, i)}}} // ~1 KB records
		tx, err := ledger.BuildTx(&pb.TxBody{ChainId: chainID, Sequence: seq[a], Record: rec}, ms[a].Signer())
		if err != nil {
			b.Fatal(err)
		}
		seq[a]++
		res, err := c.Broadcast(ctx, tx, false)
		if err != nil || res.Rejected() {
			b.Fatalf("seed %d: %+v %v", i, res, err)
		}
		ids = append(ids, res.ID)
		last = tx
	}
	// Wait until the last record is attested, so every read finds its record.
	for {
		if _, err := c.GetRecord(ctx, ledger.RecordID(last), 0, false); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	base := "http://" + n.RESTAddress() + "/v1/records/"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency}}
	lat := make([]time.Duration, b.N)
	var next int64
	var mu sync.Mutex
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < benchConcurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				resp, err := hc.Get(base + ids[rng.IntN(len(ids))] + "?prove=true")
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				lat[i] = time.Since(t0)
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reads/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}
