package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/ledger"
	nlproto "github.com/normledger/normledger/proto"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Config configures the API servers.
type Config struct {
	// RESTListen and GRPCListen are host:port (a "tcp://" prefix is
	// accepted); empty disables that server.
	RESTListen string
	GRPCListen string
	// CORSOrigins may call the REST API from a browser ("*" allows any).
	CORSOrigins []string
	// MaxBodyBytes bounds request bodies (413 beyond).
	MaxBodyBytes int64
	// ReadRateLimit is GET requests per second per client address; 0 disables.
	ReadRateLimit float64
	ReadRateBurst int
	Logger        *slog.Logger
}

// DefaultConfig is used for zero fields.
func DefaultConfig() Config {
	return Config{RESTListen: "127.0.0.1:1317", GRPCListen: "127.0.0.1:9090", MaxBodyBytes: 256 << 10,
		ReadRateLimit: 200, ReadRateBurst: 400}
}

// Servers are the running REST and gRPC servers.
type Servers struct {
	rest   *http.Server
	grpc   *grpc.Server
	restLn net.Listener
	grpcLn net.Listener
	log    *slog.Logger
	wg     sync.WaitGroup
}

func hostPort(addr string) string { return strings.TrimPrefix(addr, "tcp://") }

// Start listens and serves. Listening errors are returned at once.
func Start(cfg Config, svc *Server) (*Servers, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultConfig().MaxBodyBytes
	}
	s := &Servers{log: log}
	if cfg.GRPCListen != "" {
		ln, err := net.Listen("tcp", hostPort(cfg.GRPCListen))
		if err != nil {
			return nil, fmt.Errorf("grpc listen %s: %w", cfg.GRPCListen, err)
		}
		s.grpcLn = ln
		s.grpc = grpc.NewServer(grpc.MaxRecvMsgSize(int(cfg.MaxBodyBytes)))
		pb.RegisterLedgerServiceServer(s.grpc, svc)
		reflection.Register(s.grpc)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.grpc.Serve(ln); err != nil {
				log.Error("grpc server", "err", err)
			}
		}()
	}
	if cfg.RESTListen != "" {
		h, err := Handler(cfg, svc)
		if err != nil {
			s.Stop(context.Background())
			return nil, err
		}
		ln, err := net.Listen("tcp", hostPort(cfg.RESTListen))
		if err != nil {
			s.Stop(context.Background())
			return nil, fmt.Errorf("rest listen %s: %w", cfg.RESTListen, err)
		}
		s.restLn = ln
		s.rest = &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      45 * time.Second, // commit-mode broadcasts wait for a block
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    32 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.rest.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("rest server", "err", err)
			}
		}()
	}
	return s, nil
}

// RESTAddr is the REST listener's address (useful with port 0).
func (s *Servers) RESTAddr() string {
	if s.restLn == nil {
		return ""
	}
	return s.restLn.Addr().String()
}

// GRPCAddr is the gRPC listener's address.
func (s *Servers) GRPCAddr() string {
	if s.grpcLn == nil {
		return ""
	}
	return s.grpcLn.Addr().String()
}

// Stop shuts both servers down, letting requests in flight finish until ctx ends.
func (s *Servers) Stop(ctx context.Context) error {
	var err error
	if s.rest != nil {
		err = s.rest.Shutdown(ctx)
	}
	if s.grpc != nil {
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.grpc.Stop()
		}
	}
	s.wg.Wait()
	return err
}

// Handler builds the REST handler: gateway routes under /v1, plus /healthz,
// /metrics and /openapi.json, behind the edge middleware.
func Handler(cfg Config, svc *Server) (http.Handler, error) {
	gw := runtime.NewServeMux(
		// Strict bodies: an unknown field or enum name is an error, not ignored.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
	)
	if err := pb.RegisterLedgerServiceHandlerServer(context.Background(), gw, svc); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if svc.AttestedHeight() < 1 {
			writeError(w, http.StatusServiceUnavailable, codes.Unavailable, ledger.CodeUnavailable, "no attested state yet")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","attested_height":"%d"}`+"\n", svc.AttestedHeight())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(nlproto.OpenAPI)
	})
	mux.Handle("/v1/", gw)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codes.NotFound, ledger.CodeNoRoute, "no such endpoint: "+r.URL.Path)
	})
	lim := newLimiter(cfg.ReadRateLimit, cfg.ReadRateBurst)
	return edge(cfg, lim, m, mux), nil
}

// edge applies CORS, body limits, rate limits and metrics.
func edge(cfg Config, lim *limiter, m *metrics, next http.Handler) http.Handler {
	allowAll := false
	origins := map[string]bool{}
	for _, o := range cfg.CORSOrigins {
		allowAll = allowAll || o == "*"
		origins[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() { m.observe(r, rw.status, time.Since(start)) }()
		if o := r.Header.Get("Origin"); o != "" && (allowAll || origins[o]) {
			h := rw.Header()
			h.Set("Access-Control-Allow-Origin", o)
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Content-Type")
				h.Set("Access-Control-Max-Age", "600")
				rw.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if r.Method == http.MethodGet && !lim.allow(clientKey(r)) {
			rw.Header().Set("Retry-After", "1")
			writeError(rw, http.StatusTooManyRequests, codes.ResourceExhausted, ledger.CodeRateLimited, "rate limit exceeded; retry later")
			return
		}
		if r.ContentLength > cfg.MaxBodyBytes {
			writeError(rw, http.StatusRequestEntityTooLarge, codes.InvalidArgument, ledger.CodeTxTooLarge,
				fmt.Sprintf("request body is %d bytes, limit %d", r.ContentLength, cfg.MaxBodyBytes))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(rw, r.Body, cfg.MaxBodyBytes)
		}
		next.ServeHTTP(rw, r)
	})
}

func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

var jsonMarshaler = &runtime.JSONPb{}

// writeError writes the same JSON error shape the gateway does
// (google.rpc.Status with an ErrorInfo detail).
func writeError(w http.ResponseWriter, httpStatus int, gc codes.Code, lc ledger.Code, msg string) {
	st := status.New(gc, msg)
	if d, err := st.WithDetails(errorInfo(lc)); err == nil {
		st = d
	}
	bz, err := jsonMarshaler.Marshal(st.Proto())
	if err != nil {
		bz = []byte(`{"code":13,"message":"failed to marshal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	w.Write(bz)
}

// errorHandler gives ledger codes their HTTP status where gRPC codes cannot
// (413) and makes sure every error carries an ErrorInfo.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	var info *pb.ErrorInfo
	for _, d := range st.Details() {
		if ei, ok := d.(*pb.ErrorInfo); ok {
			info = ei
		}
	}
	httpStatus := 0
	if info == nil {
		// Errors raised by the gateway itself: unparsable parameters or bodies.
		lc := ledger.CodeBadFormat
		if strings.Contains(st.Message(), "request body too large") {
			lc, httpStatus = ledger.CodeTxTooLarge, http.StatusRequestEntityTooLarge
		}
		if st.Code() != codes.InvalidArgument && httpStatus == 0 {
			lc = ledger.CodeInternal
		}
		if d, derr := st.WithDetails(errorInfo(lc)); derr == nil {
			st = d
		}
	} else {
		httpStatus = httpOverride(ledger.Code(info.Code))
	}
	err = st.Err()
	if httpStatus != 0 {
		err = &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	gc := codes.NotFound
	msg := "no such endpoint: " + r.URL.Path
	if httpStatus == http.StatusMethodNotAllowed {
		gc, msg = codes.Unimplemented, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path)
	} else if httpStatus == http.StatusBadRequest {
		gc, msg = codes.InvalidArgument, "bad request path"
	}
	st := status.New(gc, msg)
	if d, err := st.WithDetails(errorInfo(ledger.CodeNoRoute)); err == nil {
		st = d
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: st.Err()})
}

// limiter is a per-client token bucket for reads.
type limiter struct {
	rps   rate.Limit
	burst int
	mu    sync.Mutex // guards clients and calls
	m     map[string]*client
	calls int
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(rps float64, burst int) *limiter {
	if burst <= 0 {
		burst = int(rps) + 1
	}
	return &limiter{rps: rate.Limit(rps), burst: burst, m: map[string]*client{}}
}

func (l *limiter) allow(key string) bool {
	if l.rps <= 0 {
		return true
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%4096 == 0 { // forget idle clients now and then
		for k, c := range l.m {
			if now.Sub(c.seen) > 10*time.Minute {
				delete(l.m, k)
			}
		}
	}
	c, ok := l.m[key]
	if !ok {
		c = &client{lim: rate.NewLimiter(l.rps, l.burst)}
		l.m[key] = c
	}
	c.seen = now
	return c.lim.AllowN(now, 1)
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "normledger", Subsystem: "api", Name: "requests_total", Help: "REST requests by route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "normledger", Subsystem: "api", Name: "request_duration_seconds", Help: "REST request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5, 30},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.latency, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// route folds path parameters so metric labels stay bounded.
func route(p string) string {
	switch {
	case strings.HasPrefix(p, "/v1/records/"):
		return "/v1/records/{id}"
	case strings.HasPrefix(p, "/v1/members/"):
		return "/v1/members/{id}"
	case strings.HasPrefix(p, "/v1/txs/"):
		return "/v1/txs/{hash}"
	case strings.HasPrefix(p, "/v1/light_blocks/"):
		return "/v1/light_blocks/{height}"
	case strings.HasPrefix(p, "/v1/blocks/"):
		return "/v1/blocks/{height}"
	case strings.HasPrefix(p, "/v1/obligations/"):
		return "/v1/obligations/{id}"
	case strings.HasPrefix(p, "/v1/compliance/"):
		return "/v1/compliance/{member}"
	case strings.HasPrefix(p, "/v1/pledges/"):
		return "/v1/pledges/{id}/compliance"
	}
	switch p {
	case "/v1/status", "/v1/members", "/v1/records", "/v1/txs", "/v1/proofs", "/v1/obligations", "/v1/genesis",
		"/healthz", "/metrics", "/openapi.json":
		return p
	}
	return "other"
}

func (m *metrics) observe(r *http.Request, status int, d time.Duration) {
	rt := route(r.URL.Path)
	m.requests.WithLabelValues(r.Method, rt, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(r.Method, rt).Observe(d.Seconds())
}
