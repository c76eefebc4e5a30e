package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
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
	"github.com/normledger/normledger/ledger/store"
	"github.com/normledger/normledger/node/ui"
	nlproto "github.com/normledger/normledger/proto"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/proto/gen/normledger/v1/ledgersvc"
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
	// ReadRateLimit is reads (GET and HEAD) per second per client address;
	// 0 disables.
	ReadRateLimit float64
	ReadRateBurst int
	// ReadTimeout bounds reading a whole request, body included (408
	// beyond); 0 means 15 s.
	ReadTimeout time.Duration
	Logger      *slog.Logger
	// Collectors are registered on /metrics next to the API's own (the
	// node's ledger metrics).
	Collectors []prometheus.Collector
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
		ledgersvc.RegisterLedgerServiceServer(s.grpc, svc)
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
		readTimeout := cfg.ReadTimeout
		if readTimeout <= 0 {
			readTimeout = 15 * time.Second
		}
		s.rest = &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       readTimeout,
			WriteTimeout:      45 * time.Second, // commit-mode broadcasts wait for a block
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    32 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.rest.Serve(jsonErrorsListener{ln}); err != nil && !errors.Is(err, http.ErrServerClosed) {
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
		// A form-encoded POST is never a GET in disguise: the edge answers
		// it 405 (and so it cannot escape the read rate limit).
		runtime.WithDisablePathLengthFallback(),
		runtime.WithDisableHTTPMethodOverride(),
	)
	if err := ledgersvc.RegisterLedgerServiceHandlerServer(context.Background(), gw, svc); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	for _, c := range cfg.Collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
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
	mux.HandleFunc("GET /tlog/checkpoint", func(w http.ResponseWriter, r *http.Request) {
		cp, err := svc.Checkpoint()
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, codes.Unavailable, ledger.CodeUnavailable, err.Error())
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(cp)
	})
	// Witnesses in follower mode deliver their cosignatures here: the
	// checkpoint body and the cosignature lines, as a signed note.
	mux.HandleFunc("POST /tlog/cosignature", func(w http.ResponseWriter, r *http.Request) {
		if svc.checkpoints == nil {
			writeError(w, http.StatusNotFound, codes.NotFound, ledger.CodeNoRoute, "this node publishes no checkpoints")
			return
		}
		bz, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			status, lc, msg := bodyFailure(err)
			writeError(w, status, codes.InvalidArgument, lc, msg)
			return
		}
		switch err := svc.checkpoints.Receive(bz); {
		case errors.Is(err, ErrUnknownCheckpoint):
			writeError(w, http.StatusNotFound, codes.NotFound, ledger.CodeUnavailable, "no checkpoint with this body was published here")
		case err != nil:
			writeError(w, http.StatusForbidden, codes.PermissionDenied, ledger.CodeBadSignature, err.Error())
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	// C2SP tlog-tiles: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>].
	mux.HandleFunc("GET /tlog/tile/", func(w http.ResponseWriter, r *http.Request) {
		level, index, width, bundle, ok := store.ParseTilePath(strings.TrimPrefix(r.URL.Path, "/tlog/"))
		if !ok {
			writeError(w, http.StatusNotFound, codes.NotFound, ledger.CodeNoRoute, "not a C2SP tile path: "+r.URL.Path)
			return
		}
		var bz []byte
		var err error
		if bundle {
			bz, err = svc.st.LogBundle(index, width)
		} else {
			bz, err = svc.st.LogTile(level, index, width)
		}
		if errors.Is(err, os.ErrNotExist) {
			writeError(w, http.StatusNotFound, codes.NotFound, ledger.CodeUnknownRecord, "the committed log has no "+r.URL.Path)
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, codes.Internal, ledger.CodeInternal, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if width == 0 {
			// A full tile or bundle never changes.
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=60")
		}
		w.Write(bz)
	})
	mux.HandleFunc("GET /v1/stix/bundle", svc.stixBundle)
	mux.Handle("/v1/", gw)
	noRoute := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codes.NotFound, ledger.CodeNoRoute, "no such endpoint: "+r.URL.Path)
	})
	mux.Handle("GET "+ui.Prefix, ui.Handler(noRoute))
	mux.Handle("GET /ui", http.RedirectHandler(ui.Prefix, http.StatusMovedPermanently))
	mux.Handle("/", noRoute)
	lim := newLimiter(cfg.ReadRateLimit, cfg.ReadRateBurst)
	rs, err := loadRoutes()
	if err != nil {
		return nil, err
	}
	return edge(cfg, rs, lim, m, mux), nil
}

// edge applies CORS, the route table's checks (methods, parameters),
// body limits, rate limits and metrics.
func edge(cfg Config, rs routes, lim *limiter, m *metrics, next http.Handler) http.Handler {
	allowAll := false
	origins := map[string]bool{}
	for _, o := range cfg.CORSOrigins {
		allowAll = allowAll || o == "*"
		origins[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		rt, bad := rs.check(r)
		defer func() { m.observe(r.Method, rt, rw.status, time.Since(start)) }()
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
		if r.Method == http.MethodOptions && rt != nil {
			rw.Header().Set("Allow", rt.allow())
			rw.WriteHeader(http.StatusNoContent)
			return
		}
		if bad != nil {
			if bad.status == http.StatusMethodNotAllowed {
				rw.Header().Set("Allow", rt.allow())
			}
			writeError(rw, bad.status, bad.gc, bad.lc, bad.msg)
			return
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !lim.allow(clientKey(r)) {
			rw.Header().Set("Retry-After", "1")
			writeError(rw, http.StatusTooManyRequests, codes.ResourceExhausted, ledger.CodeRateLimited, "rate limit exceeded; retry later")
			return
		}
		if r.ContentLength > cfg.MaxBodyBytes {
			writeError(rw, http.StatusRequestEntityTooLarge, codes.InvalidArgument, ledger.CodeTxTooLarge,
				fmt.Sprintf("request body is %d bytes, limit %d", r.ContentLength, cfg.MaxBodyBytes))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			b := &bodyReader{ReadCloser: http.MaxBytesReader(rw, r.Body, cfg.MaxBodyBytes)}
			r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
			r.Body = b
		}
		if r.Method == http.MethodHead {
			// Answered as the GET it asks about; the server writes no body
			// for the original HEAD request.
			g := r.Clone(r.Context())
			g.Method = http.MethodGet
			r = g
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
	if b, ok := r.Context().Value(bodyKey{}).(*bodyReader); ok && b.err != nil && !errors.Is(b.err, io.EOF) {
		status, lc, msg := bodyFailure(b.err)
		writeError(w, status, codes.InvalidArgument, lc, msg)
		return
	}
	if info == nil {
		// Errors raised by the gateway itself: unparsable parameters or bodies.
		lc := ledger.CodeBadFormat
		if strings.Contains(st.Message(), "request body too large") {
			lc, httpStatus = ledger.CodeTxTooLarge, http.StatusRequestEntityTooLarge
		}
		if st.Code() != codes.InvalidArgument && httpStatus == 0 {
			lc = ledger.CodeInternal
		}
		msg := st.Message()
		if strings.Contains(msg, "strconv.") || strings.Contains(msg, "parsing time") || strings.Contains(msg, "parsing field") {
			// The edge checks parameters first; this is a safety net that
			// keeps Go's parse messages out of answers.
			msg = "a parameter has a value of the wrong type (see /openapi.json)"
		}
		st = status.New(st.Code(), msg)
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

// observe counts a request under its route's template (/v1/records/{id}),
// so labels stay bounded: paths no route has, and methods no route takes,
// count as "other".
func (m *metrics) observe(method string, rt *apiRoute, status int, d time.Duration) {
	label := "other"
	if rt != nil {
		label = rt.template()
		if _, ok := rt.methods[method]; !ok && method != http.MethodHead && method != http.MethodOptions {
			method = "other"
		}
	} else {
		method = "other"
	}
	m.requests.WithLabelValues(method, label, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, label).Observe(d.Seconds())
}
