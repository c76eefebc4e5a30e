package api

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/proto/gen/normledger/v1/ledgersvc"
)

// The gRPC door has the REST door's edge: the read rate limit (the same
// buckets, so that a client has one budget over both), request metrics on
// the same registry, and the standard health service, whose status
// follows /readyz. The interceptors are written here rather than taken
// from go-grpc-middleware: its rate limit interceptor limits every method
// alike and answers with a message of its own, where the node's answer
// carries the ledger's rate_limited code as REST's 429 does.

// healthService is the service name the health service reports besides
// "" (the whole server).
var healthService = ledgersvc.LedgerService_ServiceDesc.ServiceName

// unlimitedMethods are not reads: writes have no read budget (as REST's
// POST /v1/txs), and health checks are probes that must never be told to
// slow down.
func unlimitedMethod(fullMethod string) bool {
	return fullMethod == ledgersvc.LedgerService_BroadcastTx_FullMethodName ||
		strings.HasPrefix(fullMethod, "/"+healthpb.Health_ServiceDesc.ServiceName+"/")
}

type grpcMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newGRPCMetrics(reg prometheus.Registerer) *grpcMetrics {
	m := &grpcMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "normledger", Subsystem: "grpc", Name: "requests_total",
			Help: "gRPC calls by full method name and status code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "normledger", Subsystem: "grpc", Name: "request_duration_seconds",
			Help:    "gRPC call latency by full method name (streams: until the handler returns).",
			Buckets: latencyBuckets,
		}, []string{"method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *grpcMetrics) observe(method string, err error, d time.Duration) {
	m.requests.WithLabelValues(method, status.Code(err).String()).Inc()
	m.latency.WithLabelValues(method).Observe(d.Seconds())
}

// Only registered methods reach the interceptors (gRPC answers unknown
// ones itself), so the method label is bounded.

func (e *edgeState) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() { e.grpcMetrics.observe(info.FullMethod, err, time.Since(start)) }()
	if err := e.grpcAllow(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (e *edgeState) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	defer func() { e.grpcMetrics.observe(info.FullMethod, err, time.Since(start)) }()
	if err := e.grpcAllow(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// grpcAllow takes one read from the client's bucket (a stream counts once,
// when it opens).
func (e *edgeState) grpcAllow(ctx context.Context, fullMethod string) error {
	if unlimitedMethod(fullMethod) || e.lim.allow(e.proxies.grpcClient(ctx)) {
		return nil
	}
	return apiError(codes.ResourceExhausted, ledger.CodeRateLimited, "rate limit exceeded; retry later")
}

// grpcMaxStreams bounds the streams (calls) one gRPC connection carries
// at once, health Watch streams included; a client's further calls wait
// for one to end. grpc-go's default is no bound; 100 is HTTP/2's
// recommended minimum and what most servers set.
const grpcMaxStreams = 100

// healthServer is the standard health service (grpc.health.v1.Health)
// for the server ("") and the ledger service, its status kept to the
// node's readiness by a poller: Check and List answer from that status
// (so a flood of checks asks CometBFT nothing), and Watch streams hear
// each change. It is written here rather than taken from grpc's health
// package, whose Watch streams outlive its Shutdown: they would hold the
// server's graceful stop until its deadline.
type healthServer struct {
	healthpb.UnimplementedHealthServer
	ready    func(context.Context) (int64, string)
	mu       sync.Mutex // guards status, changed and down
	status   healthpb.HealthCheckResponse_ServingStatus
	changed  chan struct{} // closed (and replaced) when status changes
	down     bool
	stop     chan struct{} // closed at shutdown: the poller ends
	stopOnce sync.Once
	done     chan struct{} // closed when the poller has returned
}

// healthPoll is how often the health status follows readiness.
var healthPoll = time.Second

func newHealthServer(ready func(context.Context) (int64, string)) *healthServer {
	h := &healthServer{ready: ready, status: healthpb.HealthCheckResponse_NOT_SERVING,
		changed: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	h.refresh(context.Background())
	go func() {
		defer close(h.done)
		t := time.NewTicker(healthPoll)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				// As long as one readiness computation may take: a poll
				// that gave up waiting for another caller's computation
				// would report NOT_SERVING for no reason.
				ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
				h.refresh(ctx)
				cancel()
			}
		}
	}()
	return h
}

// refresh sets the status from readiness. Only the poller (and the first
// call, before it starts) refreshes, so no older answer can overwrite a
// newer one.
func (h *healthServer) refresh(ctx context.Context) {
	st := healthpb.HealthCheckResponse_SERVING
	if _, why := h.ready(ctx); why != "" {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	h.set(st, false)
}

// set changes the status (unless shut down already) and wakes the Watch
// streams; down shuts the service down for good.
func (h *healthServer) set(st healthpb.HealthCheckResponse_ServingStatus, down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down || st == h.status && !down {
		return
	}
	h.status, h.down = st, down
	close(h.changed)
	h.changed = make(chan struct{})
}

// knownHealthService says whether the health service answers for a
// service.
func knownHealthService(service string) bool { return service == "" || service == healthService }

// Check implements the health service: the status the poller last set.
func (h *healthServer) Check(_ context.Context, in *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if !knownHealthService(in.Service) {
		return nil, status.Error(codes.NotFound, "unknown service")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return &healthpb.HealthCheckResponse{Status: h.status}, nil
}

// List implements the health service.
func (h *healthServer) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{
		"": {Status: h.status}, healthService: {Status: h.status}}}, nil
}

// Watch implements the health service: the status, then each change,
// until the client goes or the server stops (then NOT_SERVING, and the
// stream ends UNAVAILABLE). A service it does not know is
// SERVICE_UNKNOWN, as grpc's own health service says.
func (h *healthServer) Watch(in *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	known := knownHealthService(in.Service)
	var last healthpb.HealthCheckResponse_ServingStatus = -1
	for {
		h.mu.Lock()
		st, changed, down := h.status, h.changed, h.down
		h.mu.Unlock()
		if !known {
			st = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
		}
		if st != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
				return status.Error(codes.Canceled, "stream has ended")
			}
			last = st
		}
		if down {
			return status.Error(codes.Unavailable, "the server is stopping")
		}
		select {
		case <-changed:
		case <-stream.Context().Done():
			return status.Error(codes.Canceled, "stream has ended")
		}
	}
}

// shutdown reports NOT_SERVING for good (the server is stopping), ends
// the Watch streams and stops the poller.
func (h *healthServer) shutdown() {
	h.set(healthpb.HealthCheckResponse_NOT_SERVING, true)
	h.stopOnce.Do(func() { close(h.stop) })
	<-h.done
}
