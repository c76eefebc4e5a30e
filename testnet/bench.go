package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/remote"
)

// BenchOptions configure the network benchmarks.
type BenchOptions struct {
	Dir        string
	Rates      []float64
	Step       time.Duration // per ramp step
	Size       int
	ReadConc   []int
	ReadFor    time.Duration
	Progress   io.Writer
	Validators int
}

// BenchResult is everything the network benchmarks measured.
type BenchResult struct {
	Date       time.Time                `json:"date"`
	Machine    string                   `json:"machine"`
	Ramp       map[string][]*LoadReport `json:"ramp"`
	Saturation map[string]float64       `json:"saturation_tx_per_s"`
	HalfRate   float64                  `json:"half_rate"`
	Half       map[string]*LoadReport   `json:"at_half_rate"`
	Reads      []ReadResult             `json:"reads_under_load"`
	// ReadNode is the non-validator full node the reads went to.
	ReadNode       string           `json:"read_node,omitempty"`
	ReadsWriteLoad *LoadReport      `json:"write_load_during_reads"`
	RSS            map[string]int64 `json:"rss_bytes"`
	Records        int              `json:"records"`
	RecordBytes    int64            `json:"record_bytes"`
	StateBytes     int64            `json:"state_bytes"`
	// BlockStoreBytes is node0's CometBFT block store (the same
	// transactions, as blocks).
	BlockStoreBytes int64 `json:"block_store_bytes,omitempty"`
	// Join is the join benchmark (testnet joinbench), when run.
	Join *JoinResult `json:"join,omitempty"`
	// CacheNote says why there is no caching-proxy point, if there is none.
	CacheNote string `json:"cache_note,omitempty"`
	// CacheVerified counts records a verifier accepted as served by the
	// caching proxy (of cacheVerifyCount); CacheVerifyNote says why others
	// were not.
	CacheVerified   int    `json:"cache_verified,omitempty"`
	CacheVerifyNote string `json:"cache_verify_note,omitempty"`
}

func (o BenchOptions) logf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

func benchNetwork(o BenchOptions, app string) (*Network, error) {
	dir := filepath.Join(o.Dir, app)
	os.RemoveAll(dir)
	opts := Options{Dir: dir, Validators: o.Validators, App: app, TimeoutCommit: 200 * time.Millisecond, ChainID: "bench-" + app}
	if app == AppNormledger {
		opts.LoadMembers = 28
	}
	nw, err := Generate(opts)
	if err != nil {
		return nil, err
	}
	if err := InstallBinary(dir); err != nil {
		return nil, err
	}
	return nw, nil
}

// Bench runs the network benchmarks: kvstore and normledger ramps to
// saturation on the same 4-validator loopback configuration, both at half of
// normledger's saturation rate, then proof-carrying reads at increasing
// concurrency while normledger takes writes at that rate.
func Bench(ctx context.Context, o BenchOptions) (*BenchResult, error) {
	res := &BenchResult{Date: time.Now().UTC(), Ramp: map[string][]*LoadReport{}, Saturation: map[string]float64{},
		Half: map[string]*LoadReport{}, RSS: map[string]int64{}}
	res.Machine = machine()
	nets := map[string]*Network{}
	for _, app := range []string{AppKVStore, AppNormledger} {
		nw, err := benchNetwork(o, app)
		if err != nil {
			return nil, err
		}
		nets[app] = nw
		if err := runRamp(ctx, o, nw, app, res); err != nil {
			stopAll(nw)
			return nil, err
		}
		stopAll(nw)
	}
	res.HalfRate = float64(int(res.Saturation[AppNormledger]/2/10) * 10)
	if res.HalfRate < 10 {
		res.HalfRate = 10
	}
	for _, app := range []string{AppKVStore, AppNormledger} {
		nw := nets[app]
		if _, err := startAll(ctx, io.Discard, nw); err != nil {
			stopAll(nw)
			return nil, err
		}
		// A freshly started node has cold caches; both apps get the same
		// unmeasured warm-up at the measured rate first.
		o.logf("%s: warm-up at %.0f tx/s for %s (not measured)", app, res.HalfRate, o.Step/4)
		if _, err := RunLoad(ctx, nw, LoadOptions{Rate: res.HalfRate, Duration: o.Step / 4, Size: o.Size}); err != nil {
			stopAll(nw)
			return nil, err
		}
		o.logf("%s at half of normledger's saturation, %.0f tx/s", app, res.HalfRate)
		rep, err := RunLoad(ctx, nw, LoadOptions{Rate: res.HalfRate, Duration: 2 * o.Step, Size: o.Size})
		if err != nil {
			stopAll(nw)
			return nil, err
		}
		o.logf("  %s", rep)
		res.Half[app] = rep
		if app == AppKVStore {
			stopAll(nw)
		}
	}
	nw := nets[AppNormledger]
	defer stopAll(nw)
	if err := readsUnderLoad(ctx, o, nw, res); err != nil {
		return nil, err
	}
	for _, n := range nw.Nodes {
		if pid, ok := PID(n); ok {
			res.RSS[n.Name] = pidRSS(pid)
		}
	}
	c, _ := client.New(nw.Nodes[0].RESTURL())
	if st, err := c.Status(ctx); err == nil {
		if recs, err := allRecords(ctx, c, st.LatestAttestedHeight); err == nil {
			res.Records = len(recs)
		}
	}
	res.RecordBytes = int64(res.Records) * int64(o.Size)
	data := filepath.Join(nw.Nodes[0].Home, "data")
	res.StateBytes = dirSize(filepath.Join(data, "appstate.db")) + dirSize(filepath.Join(data, store.LogDir)) + dirSize(filepath.Join(data, "appindex.db"))
	res.BlockStoreBytes = dirSize(filepath.Join(data, "blockstore.db"))
	return res, nil
}

func runRamp(ctx context.Context, o BenchOptions, nw *Network, app string, res *BenchResult) error {
	if _, err := startAll(ctx, io.Discard, nw); err != nil {
		return err
	}
	for _, r := range o.Rates {
		o.logf("%s: offering %.0f tx/s for %s", app, r, o.Step)
		rep, err := RunLoad(ctx, nw, LoadOptions{Rate: r, Duration: o.Step, Size: o.Size, Settle: 20 * time.Second})
		if err != nil {
			return err
		}
		o.logf("  %s", rep)
		res.Ramp[app] = append(res.Ramp[app], rep)
		// Saturation is what commits while the load runs: a full mempool
		// drained after the step would otherwise count as throughput.
		if rep.SustainedRate > res.Saturation[app] {
			res.Saturation[app] = rep.SustainedRate
		}
		if rep.SustainedRate < 0.8*r {
			break // saturated: more offered load only queues
		}
	}
	return nil
}

func readsUnderLoad(ctx context.Context, o BenchOptions, nw *Network, res *BenchResult) error {
	c, _ := client.New(nw.Nodes[0].RESTURL())
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for tok := ""; ; {
		page, err := c.Records(ctx, &pb.ListRecordsRequest{Height: st.LatestAttestedHeight, Limit: 200, PageToken: tok})
		if err != nil {
			return err
		}
		for _, r := range page.Records {
			ids = append(ids, r.Id)
		}
		if page.NextPageToken == "" || len(ids) >= 20000 {
			break
		}
		tok = page.NextPageToken
	}
	if len(ids) == 0 {
		return fmt.Errorf("no records to read")
	}
	// Verifiers read from a full node that does not validate, as in a real
	// deployment; the validators take the writes.
	validators := append([]NodeInfo(nil), nw.Nodes...)
	full, err := nw.AddFullNode(freeLoopbackPorts())
	if err != nil {
		return err
	}
	if _, err := StartNode(nw.Dir, full); err != nil {
		return err
	}
	fc, _ := client.New(full.RESTURL())
	for {
		fs, err := fc.Status(ctx)
		if err == nil && !fs.CatchingUp && fs.LatestHeight >= st.LatestHeight {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	res.ReadNode = full.Name
	// The points: the full node directly (reads at the newest height, and
	// pinned to one height; gRPC), then with the validators at nice 19 (a
	// stand-in for validators on other hosts: on one 2-core machine they
	// and the full node share the CPU), then through nginx caching what
	// the node marks immutable, then a verifier checking answers the cache
	// served.
	pinned := st.LatestAttestedHeight
	var direct, niced, cached []ReadOptions
	for _, conc := range o.ReadConc {
		direct = append(direct,
			ReadOptions{Transport: "rest", Concurrency: conc},
			ReadOptions{Transport: "rest", Concurrency: conc, Height: pinned},
			ReadOptions{Transport: "grpc", Concurrency: conc})
		niced = append(niced, ReadOptions{Setup: "validators niced", Transport: "rest", Concurrency: conc, Height: pinned})
		cached = append(cached, ReadOptions{Setup: "nginx cache, validators niced", Transport: "rest", Concurrency: conc, Height: pinned})
	}
	points := len(direct) + len(niced) + len(cached)
	total := time.Duration(points+2)*o.ReadFor + 30*time.Second
	loadDone := make(chan *LoadReport, 1)
	go func() {
		rep, _ := RunLoad(ctx, nw, LoadOptions{Rate: res.HalfRate, Duration: total, Size: o.Size, Nodes: validators})
		loadDone <- rep
	}()
	time.Sleep(o.ReadFor / 2)
	run := func(ps []ReadOptions, base string) error {
		for _, ro := range ps {
			ro.For, ro.BaseURL = o.ReadFor, base
			r, err := ReadBench(ctx, []NodeInfo{full}, ids, ro)
			if err != nil {
				return err
			}
			o.logf("  reads %s", r)
			res.Reads = append(res.Reads, r)
		}
		return nil
	}
	nice := func(n int) {
		for _, v := range validators {
			if pid, ok := PID(v); ok {
				if err := setNice(pid, n); err != nil {
					o.logf("  nice %d %s: %v", n, v.Name, err)
				}
			}
		}
	}
	if err := run(direct, ""); err != nil {
		return err
	}
	nice(19)
	defer nice(0)
	if err := run(niced, ""); err != nil {
		return err
	}
	proxy, err := startCacheProxy(ctx, filepath.Join(o.Dir, "nginx"), full.REST)
	if err != nil {
		o.logf("  no caching proxy point: %v", err)
		res.CacheNote = err.Error()
	} else {
		defer proxy.stop()
		if err := run(cached, proxy.URL); err != nil {
			return err
		}
		res.CacheVerified, res.CacheVerifyNote = verifyThroughCache(ctx, nw, proxy.URL, ids, pinned)
		o.logf("  verifier through the cache: %d of %d records verified%s", res.CacheVerified, cacheVerifyCount, res.CacheVerifyNote)
	}
	nice(0)
	res.ReadsWriteLoad = <-loadDone
	if res.ReadsWriteLoad != nil {
		o.logf("  writes during reads: %s", res.ReadsWriteLoad)
	}
	return nil
}

// cacheVerifyCount is how many records the verifier reads through the cache.
const cacheVerifyCount = 5

// verifyThroughCache has a verifier (light client primary: the proxy;
// witness: a validator) check records read through the caching proxy at
// the pinned height, each after the proxy has cached it (a second read is
// a HIT). It returns how many verified, and why not, if some did not.
func verifyThroughCache(ctx context.Context, nw *Network, proxyURL string, ids []string, height int64) (int, string) {
	gen, err := cmttypes.GenesisDocFromFile(nw.Genesis)
	if err != nil {
		return 0, ": " + err.Error()
	}
	pc, _ := client.New(proxyURL)
	wc, _ := client.New(nw.Nodes[1].RESTURL())
	root, err := remote.TrustFromGenesis(ctx, gen, wc)
	if err != nil {
		return 0, ": " + err.Error()
	}
	lc, err := remote.NewLightClient(ctx, gen.ChainID, remote.NewProvider(gen.ChainID, proxyURL, pc),
		[]*remote.Provider{remote.NewProvider(gen.ChainID, wc.Base(), wc)}, root, "")
	if err != nil {
		return 0, ": " + err.Error()
	}
	defer lc.Close()
	v := &remote.Verifier{API: pc, Light: lc, ChainID: gen.ChainID, At: height}
	ok := 0
	var why string
	for i := 0; i < cacheVerifyCount && i < len(ids); i++ {
		id := ids[len(ids)-1-i]
		url := fmt.Sprintf("%s/v1/records/%s?prove=true&height=%d", proxyURL, id, height)
		hit := false
		for range 2 {
			resp, err := http.Get(url)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				hit = resp.Header.Get("X-Cache-Status") == "HIT"
			}
		}
		if !hit {
			why = fmt.Sprintf("; record %s was not served from the cache", id)
			continue
		}
		if _, _, err := v.Record(ctx, id); err != nil {
			why = fmt.Sprintf("; record %s: %v", id, err)
			continue
		}
		ok++
	}
	return ok, why
}

func machine() string {
	cpu := "unknown CPU"
	if bz, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(bz), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if bz, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem = strings.Fields(strings.SplitN(string(bz), "\n", 2)[0])[1] + " kB RAM"
	}
	return fmt.Sprintf("%s, %d cores, %s, %s %s/%s", cpu, runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// ReadBenchJSON loads a result saved by WriteJSON.
func ReadBenchJSON(path string) (*BenchResult, error) {
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := new(BenchResult)
	if err := json.Unmarshal(bz, r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// WriteJSON saves the result.
func (r *BenchResult) WriteJSON(path string) error {
	bz, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(bz, '\n'), 0o644)
}
