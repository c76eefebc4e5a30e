package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/proto/gen/normledger/v1/ledgersvc"
)

// startAPI runs the servers on loopback ports of their own (REST and
// gRPC; cfg's listen addresses are replaced) and stops them at the end.
func startAPI(t *testing.T, cfg Config, svc *Server) *Servers {
	t.Helper()
	cfg.RESTListen, cfg.GRPCListen = "127.0.0.1:0", "127.0.0.1:0"
	s, err := Start(cfg, svc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

func dialGRPC(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func httpGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	bz, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(bz)
}

// wantRateLimited checks a gRPC error is RESOURCE_EXHAUSTED carrying the
// ledger's rate_limited code, as REST's 429.
func wantRateLimited(t *testing.T, what string, err error) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("%s: %v, want ResourceExhausted", what, err)
	}
	for _, d := range st.Details() {
		if ei, ok := d.(*pb.ErrorInfo); ok && ledger.Code(ei.Code) == ledger.CodeRateLimited {
			return
		}
	}
	t.Errorf("%s: no rate_limited ErrorInfo in %v", what, st.Details())
}

// gRPC reads share REST's read budget per client: past it they are
// RESOURCE_EXHAUSTED (and so are REST's reads from the same address);
// BroadcastTx and health checks are not reads. Every call is counted in
// normledger_grpc_requests_total by method and code, with a latency
// histogram, on REST's /metrics.
func TestGRPCRateLimitAndMetrics(t *testing.T) {
	l := newTestLedger(t)
	clk := newFakeClock()
	s := startAPI(t, Config{ReadRateLimit: 1, ReadRateBurst: 3, Now: clk.Now}, l.server(&fakeChain{}))
	cc := dialGRPC(t, s.GRPCAddr())
	lc := ledgersvc.NewLedgerServiceClient(cc)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := lc.Status(ctx, &pb.StatusRequest{}); err != nil {
			t.Fatalf("read %d within the burst: %v", i, err)
		}
	}
	_, err := lc.Status(ctx, &pb.StatusRequest{})
	wantRateLimited(t, "Status past the burst", err)
	_, err = lc.GetMember(ctx, &pb.GetMemberRequest{Id: "xaa"})
	wantRateLimited(t, "GetMember past the burst", err)
	// One budget over both doors: REST from the same address is limited too.
	if code, body := httpGet(t, nil, "http://"+s.RESTAddr()+"/v1/status"); code != 429 || !strings.Contains(body, "rate_limited") {
		t.Errorf("REST after gRPC spent the budget: %d %s", code, body)
	}
	if _, err := lc.BroadcastTx(ctx, &pb.BroadcastTxRequest{Tx: []byte{0}}); status.Code(err) == codes.ResourceExhausted {
		t.Errorf("BroadcastTx is limited as a read: %v", err)
	}
	hc := healthpb.NewHealthClient(cc)
	for i := 0; i < 5; i++ {
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("health check %d over the read limit: %v", i, err)
		}
	}
	clk.Advance(time.Second)
	if _, err := lc.Status(ctx, &pb.StatusRequest{}); err != nil {
		t.Fatalf("after a refill: %v", err)
	}
	// The metrics.
	clk.Advance(time.Minute)
	code, metrics := httpGet(t, nil, "http://"+s.RESTAddr()+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`normledger_grpc_requests_total{code="OK",method="/normledger.v1.LedgerService/Status"} 4`,
		`normledger_grpc_requests_total{code="ResourceExhausted",method="/normledger.v1.LedgerService/Status"} 1`,
		`normledger_grpc_requests_total{code="ResourceExhausted",method="/normledger.v1.LedgerService/GetMember"} 1`,
		`normledger_grpc_requests_total{code="OK",method="/grpc.health.v1.Health/Check"} 5`,
		`normledger_grpc_request_duration_seconds_count{method="/normledger.v1.LedgerService/Status"} 5`,
		`normledger_grpc_request_duration_seconds_bucket{method="/normledger.v1.LedgerService/Status",le="30"} 5`,
		`normledger_grpc_requests_total{code="`, // BroadcastTx's, whatever the fake chain made of it
		`normledger_api_requests_total{method="GET",route="/v1/status",status="429"} 1`,
		"normledger_build_info{",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(metrics, `method="/normledger.v1.LedgerService/BroadcastTx"`) {
		t.Error("/metrics does not count BroadcastTx")
	}
}

// The standard health service answers for the server ("") and for the
// ledger service, SERVING when /readyz would be 200 and NOT_SERVING when
// catching up, restoring or behind its peers (as soon as its poller has
// looked); Watch streams follow; at Stop it says NOT_SERVING. Reflection
// lists the services as before.
func TestGRPCHealth(t *testing.T) {
	defer func(d, c time.Duration) { healthPoll, readyCacheFor = d, c }(healthPoll, readyCacheFor)
	healthPoll, readyCacheFor = 20*time.Millisecond, 0
	l := newTestLedger(t)
	chain := newSyncChain()
	var restoring atomic.Bool
	var lag atomic.Int64
	s := startAPI(t, Config{Restoring: restoring.Load, Lag: lag.Load}, l.server(chain))
	cc := dialGRPC(t, s.GRPCAddr())
	hc := healthpb.NewHealthClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	check := func(what string, want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for _, svc := range []string{"", "normledger.v1.LedgerService"} {
			deadline := time.Now().Add(5 * time.Second)
			for {
				res, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
				if err == nil && res.Status == want {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("%s: Check(%q): %v %v, want %v", what, svc, res, err, want)
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	check("ready", healthpb.HealthCheckResponse_SERVING)
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"}); status.Code(err) != codes.NotFound {
		t.Errorf("an unknown service: %v", err)
	}
	if uw, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"}); err != nil {
		t.Fatal(err)
	} else if res, err := uw.Recv(); err != nil || res.Status != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Errorf("Watch of an unknown service: %v %v", res, err)
	}
	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "normledger.v1.LedgerService"})
	if err != nil {
		t.Fatal(err)
	}
	next := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		res, err := watch.Recv()
		if err != nil || res.Status != want {
			t.Fatalf("Watch: %v %v, want %v", res, err, want)
		}
	}
	next(healthpb.HealthCheckResponse_SERVING)
	chain.catchingUp.Store(true)
	check("catching up", healthpb.HealthCheckResponse_NOT_SERVING)
	next(healthpb.HealthCheckResponse_NOT_SERVING)
	chain.catchingUp.Store(false)
	next(healthpb.HealthCheckResponse_SERVING)
	restoring.Store(true)
	check("restoring", healthpb.HealthCheckResponse_NOT_SERVING)
	next(healthpb.HealthCheckResponse_NOT_SERVING)
	restoring.Store(false)
	check("restored", healthpb.HealthCheckResponse_SERVING)
	next(healthpb.HealthCheckResponse_SERVING)
	lag.Store(ReadyMaxLag + 1)
	check("behind its peers", healthpb.HealthCheckResponse_NOT_SERVING)
	next(healthpb.HealthCheckResponse_NOT_SERVING)
	lag.Store(0)
	check("back in step", healthpb.HealthCheckResponse_SERVING)
	next(healthpb.HealthCheckResponse_SERVING)
	if res, err := hc.List(ctx, &healthpb.HealthListRequest{}); err != nil || len(res.Statuses) != 2 ||
		res.Statuses[""].GetStatus() != healthpb.HealthCheckResponse_SERVING || res.Statuses["normledger.v1.LedgerService"].GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("List: %v %v", res, err)
	}

	// Reflection stays.
	rc, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	res, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sv := range res.GetListServicesResponse().GetService() {
		names = append(names, sv.Name)
	}
	for _, want := range []string{"normledger.v1.LedgerService", "grpc.health.v1.Health"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("reflection lists %v, not %s", names, want)
		}
	}
	rc.CloseSend()

	// Stopping: the watcher hears NOT_SERVING before the server goes.
	stopped := make(chan error, 1)
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer scancel()
		stopped <- s.Stop(sctx)
	}()
	res2, err := watch.Recv()
	if err == nil && res2.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("at Stop: %v", res2.Status)
	}
	if err != nil && !errors.Is(err, io.EOF) && status.Code(err) != codes.Unavailable {
		t.Errorf("at Stop: %v", err)
	}
	cancel()
	<-stopped
}

// A client holding a health Watch stream open does not hold Stop up until
// its context expires: the stream hears NOT_SERVING and ends, and Stop
// returns at once.
func TestGRPCStopWithWatchOpen(t *testing.T) {
	l := newTestLedger(t)
	s := startAPI(t, Config{}, l.server(&fakeChain{}))
	cc := dialGRPC(t, s.GRPCAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	watch, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := watch.Recv(); err != nil || res.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: %v %v", res, err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	start := time.Now()
	if err := s.Stop(sctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("Stop with a Watch stream open took %s", took)
	}
	if res, err := watch.Recv(); err != nil || res.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("at Stop the watcher heard %v %v, want NOT_SERVING", res, err)
	}
	if res, err := watch.Recv(); err == nil {
		t.Errorf("the Watch stream goes on after Stop: %v", res)
	}
}

// countingChain is the fake chain counting its Status calls.
type countingChain struct {
	*fakeChain
	calls atomic.Int64
}

func (c *countingChain) Status(ctx context.Context) (*coretypes.ResultStatus, error) {
	c.calls.Add(1)
	return c.fakeChain.Status(ctx)
}

// Health checks answer from the status the poller keeps, so a flood of
// them does not ask CometBFT once each; and one connection carries at
// most grpcMaxStreams streams at once (a further Watch waits for one to
// end).
func TestGRPCHealthCachedAndStreamsBounded(t *testing.T) {
	l := newTestLedger(t)
	chain := &countingChain{fakeChain: &fakeChain{}}
	s := startAPI(t, Config{}, l.server(chain))
	cc := dialGRPC(t, s.GRPCAddr())
	hc := healthpb.NewHealthClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := chain.calls.Load()
	for i := 0; i < 200; i++ {
		if res, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || res.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Check %d: %v %v", i, res, err)
		}
	}
	if n := chain.calls.Load() - before; n > 5 {
		t.Errorf("200 health checks asked CometBFT for its status %d times", n)
	}

	cancels := make([]context.CancelFunc, 0, 100)
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	for i := 0; i < 100; i++ {
		wctx, wcancel := context.WithCancel(ctx)
		cancels = append(cancels, wcancel)
		w, err := hc.Watch(wctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("Watch %d: %v", i, err)
		}
		if _, err := w.Recv(); err != nil {
			t.Fatalf("Watch %d: %v", i, err)
		}
	}
	one := func(d time.Duration) error {
		wctx, wcancel := context.WithTimeout(ctx, d)
		defer wcancel()
		w, err := hc.Watch(wctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		_, err = w.Recv()
		return err
	}
	if err := one(300 * time.Millisecond); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Watch number 101 on one connection: %v, want it held back (DeadlineExceeded)", err)
	}
	cancels[0]()
	if err := one(5 * time.Second); err != nil {
		t.Errorf("a Watch once another ended: %v", err)
	}
}

// syncBuffer is a log sink safe for the servers' goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// When Start fails after the gRPC server was set up (here: the metrics
// address is taken), stopping the gRPC server it never got to serve is
// no error to log.
func TestStartFailureLogsNoGRPCError(t *testing.T) {
	l := newTestLedger(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for i := 0; i < 20; i++ {
		if _, err := Start(Config{GRPCListen: "127.0.0.1:0", MetricsListen: busy.Addr().String(), Logger: log}, l.server(&fakeChain{})); err == nil {
			t.Fatal("Start on a taken metrics address")
		}
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a failed Start logged errors:\n%s", logs.String())
	}
}
