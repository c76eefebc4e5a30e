package testnet

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/proto/gen/normledger/v1/ledgersvc"
)

// ReadResult is one read benchmark point.
type ReadResult struct {
	Transport   string  `json:"transport"`
	Concurrency int     `json:"concurrency"`
	Reads       int     `json:"reads"`
	Errors      int     `json:"errors"`
	PerSecond   float64 `json:"reads_per_s"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
}

func (r ReadResult) String() string {
	return fmt.Sprintf("%s c=%d: %.0f reads/s, p50 %.2f ms, p99 %.2f ms (%d reads, %d errors)",
		r.Transport, r.Concurrency, r.PerSecond, r.P50ms, r.P99ms, r.Reads, r.Errors)
}

// ReadBench issues proof-carrying record reads (prove=true) for random ids
// from concurrency workers spread over nodes, for d, over REST or gRPC.
func ReadBench(ctx context.Context, nodes []NodeInfo, ids []string, transport string, concurrency int, d time.Duration) (ReadResult, error) {
	res := ReadResult{Transport: transport, Concurrency: concurrency}
	var mu sync.Mutex
	var lat []time.Duration
	var conns []*grpc.ClientConn
	if transport == "grpc" {
		for _, n := range nodes {
			cc, err := grpc.NewClient(n.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return res, err
			}
			defer cc.Close()
			conns = append(conns, cc)
		}
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxIdleConns: 4 * concurrency}}
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			var mine []time.Duration
			errs := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				id := ids[rng.IntN(len(ids))]
				t0 := time.Now()
				var err error
				if transport == "grpc" {
					cl := ledgersvc.NewLedgerServiceClient(conns[w%len(conns)])
					_, err = cl.GetRecord(ctx, &pb.GetRecordRequest{Id: id, Prove: true})
				} else {
					var resp *http.Response
					resp, err = hc.Get(nodes[w%len(nodes)].RESTURL() + "/v1/records/" + id + "?prove=true")
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							err = fmt.Errorf("status %d", resp.StatusCode)
						}
					}
				}
				if err != nil {
					errs++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			res.Errors += errs
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.Reads = len(lat)
	if len(lat) > 0 {
		res.PerSecond = float64(len(lat)) / el
		res.P50ms = float64(lat[len(lat)/2].Microseconds()) / 1000
		res.P99ms = float64(lat[len(lat)*99/100].Microseconds()) / 1000
	}
	return res, nil
}
