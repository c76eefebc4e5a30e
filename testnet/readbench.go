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
	// Setup says where the reads went and how the validators ran: ""
	// (the full node directly), "validators niced" (the validators at
	// nice 19, standing in for separate hosts), "nginx cache" (a caching
	// reverse proxy in front of the full node).
	Setup string `json:"setup,omitempty"`
	// Height is the state height the reads were pinned to (0: the newest
	// attested, unpinned).
	Height int64 `json:"height,omitempty"`
	// CacheHits counts answers the proxy served from its cache
	// (X-Cache-Status: HIT).
	CacheHits int `json:"cache_hits,omitempty"`
}

func (r ReadResult) String() string {
	s := fmt.Sprintf("%s c=%d: %.0f reads/s, p50 %.2f ms, p99 %.2f ms (%d reads, %d errors)",
		r.Transport, r.Concurrency, r.PerSecond, r.P50ms, r.P99ms, r.Reads, r.Errors)
	if r.Height > 0 {
		s += fmt.Sprintf(", pinned to height %d", r.Height)
	}
	if r.Setup != "" {
		s += ", " + r.Setup
	}
	if r.CacheHits > 0 && r.Reads > 0 {
		s += fmt.Sprintf(", cache hit rate %.0f%%", 100*float64(r.CacheHits)/float64(r.Reads))
	}
	return s
}

// ReadOptions describe one read benchmark point.
type ReadOptions struct {
	Transport   string // "rest" or "grpc"
	Concurrency int
	For         time.Duration
	// Height pins the reads to a state height (0: the newest attested).
	Height int64
	// Setup labels the point (ReadResult.Setup).
	Setup string
	// BaseURL, if set, is where REST reads go instead of the nodes (a
	// proxy in front of them).
	BaseURL string
}

// ReadBench issues proof-carrying record reads (prove=true) for random ids
// from concurrency workers spread over nodes (or o.BaseURL), for o.For,
// over REST or gRPC.
func ReadBench(ctx context.Context, nodes []NodeInfo, ids []string, o ReadOptions) (ReadResult, error) {
	transport, concurrency, d := o.Transport, o.Concurrency, o.For
	res := ReadResult{Transport: transport, Concurrency: concurrency, Setup: o.Setup, Height: o.Height}
	query := "?prove=true"
	if o.Height > 0 {
		query += fmt.Sprintf("&height=%d", o.Height)
	}
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
			errs, hits := 0, 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				id := ids[rng.IntN(len(ids))]
				t0 := time.Now()
				var err error
				if transport == "grpc" {
					cl := ledgersvc.NewLedgerServiceClient(conns[w%len(conns)])
					_, err = cl.GetRecord(ctx, &pb.GetRecordRequest{Id: id, Prove: true, Height: o.Height})
				} else {
					base := o.BaseURL
					if base == "" {
						base = nodes[w%len(nodes)].RESTURL()
					}
					var resp *http.Response
					resp, err = hc.Get(base + "/v1/records/" + id + query)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							err = fmt.Errorf("status %d", resp.StatusCode)
						} else if resp.Header.Get("X-Cache-Status") == "HIT" {
							hits++
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
			res.CacheHits += hits
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
