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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/internal/buildinfo"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	"github.com/normledger/normledger/node/ui"
	nlproto "github.com/normledger/normledger/proto"
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
	// Now is the read rate limiter's clock; nil means time.Now. Tests set
	// it to refill buckets without sleeping. No app.toml setting reaches
	// it (cli builds Config field by field).
	Now func() time.Time
	// ReadTimeout bounds reading a whole request, body included (408
	// beyond); 0 means 15 s.
	ReadTimeout time.Duration
	Logger      *slog.Logger
	// Collectors are registered on /metrics next to the API's own (the
	// node's ledger metrics).
	Collectors []prometheus.Collector
	// TLSCertFile and TLSKeyFile are PEM files (app.toml [api]
	// tls_cert_file, tls_key_file): with both set, REST serves HTTPS and
	// gRPC serves TLS on their listeners; one without the other is an
	// error at Start. Changed files are picked up without a restart.
	TLSCertFile string
	TLSKeyFile  string
	// TrustedProxies are IP addresses and CIDR prefixes (app.toml [api]
	// trusted_proxies) whose X-Forwarded-For, X-Forwarded-Proto and
	// X-Forwarded-Host headers (gRPC: x-forwarded-for metadata) the node
	// believes: the read rate limit then keys on the client they name,
	// and links use the scheme and host the client used. Nobody else's
	// forwarding headers count (links then use the request's Host, or the
	// listener's address when that Host cannot go into a URL). Of
	// X-Forwarded-Proto and X-Forwarded-Host the leftmost value is taken,
	// so a trusted proxy must overwrite, not append to, what a client sent
	// (the shipped nginx configuration does). Trusting 0.0.0.0/0 or ::/0
	// trusts every client's headers: Start warns.
	TrustedProxies []string
	// MetricsListen is host:port ("tcp://" accepted; app.toml [api]
	// metrics_laddr): when set, /metrics is served there only (with
	// /livez and /readyz), and the REST port answers /metrics 404; empty
	// keeps /metrics on the REST port.
	MetricsListen string
	// Restoring says whether a state-sync snapshot is being restored (the
	// node is not ready meanwhile); nil means never.
	Restoring func() bool
	// Lag is how many heights the connected peers have committed beyond
	// this node (the node reads it from its CometBFT peers' consensus
	// state: the best peer's, or the second best's when there are three or
	// more, so one peer lying about its height cannot take the node out of
	// rotation); past ReadyMaxLag the node is not ready. nil means
	// 0. CometBFT's own catching_up says only whether block sync or state
	// sync still runs: it never turns true again once consensus took over,
	// however far behind the node falls later.
	Lag func() int64
}

// ReadyMaxLag is how many heights the node may be behind its peers
// (Config.Lag) and still be ready. Blocks propagate within a height or two
// in normal operation (a peer can have committed a block this node is
// still applying, and be entering the next): further behind, the node has
// fallen out of step (a partition, a slow disk) and its answers and
// proofs are stale, so a load balancer should send clients elsewhere.
const ReadyMaxLag = 5

// DefaultConfig is used for zero fields.
func DefaultConfig() Config {
	return Config{RESTListen: "127.0.0.1:1317", GRPCListen: "127.0.0.1:9090", MaxBodyBytes: 256 << 10,
		ReadRateLimit: 200, ReadRateBurst: 400}
}

// Servers are the running REST and gRPC servers.
type Servers struct {
	rest      *http.Server
	grpc      *grpc.Server
	metrics   *http.Server
	health    *healthServer
	restLn    net.Listener
	grpcLn    net.Listener
	metricsLn net.Listener
	log       *slog.Logger
	wg        sync.WaitGroup
}

func hostPort(addr string) string { return strings.TrimPrefix(addr, "tcp://") }

// edgeState is what the REST and gRPC doors share: one metrics registry,
// one read rate limiter (so a client has one budget over both), the
// trusted proxies and the readiness check.
type edgeState struct {
	reg         *prometheus.Registry
	metrics     *metrics
	grpcMetrics *grpcMetrics
	lim         *limiter
	proxies     trustedProxies
	svc         *Server
	restoring   func() bool
	lag         func() int64
	readyCache  readyCache
}

func newEdgeState(cfg Config, svc *Server) (*edgeState, error) {
	proxies, err := parseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("api config: %w", err)
	}
	reg := prometheus.NewRegistry()
	e := &edgeState{reg: reg, metrics: newMetrics(reg), grpcMetrics: newGRPCMetrics(reg),
		lim: newLimiter(cfg.ReadRateLimit, cfg.ReadRateBurst, cfg.Now), proxies: proxies, svc: svc, restoring: cfg.Restoring, lag: cfg.Lag,
		readyCache: readyCache{sem: make(chan struct{}, 1)}}
	if err := reg.Register(buildinfo.Collector(svc.version)); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	for _, c := range cfg.Collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return e, nil
}

// readyCacheFor is how long a ready answer is reused. Probes are not
// rate limited and each fresh answer asks CometBFT for its status (block
// store and state store reads), so a flood of probes costs at most a few
// of those a second; a load balancer probing every few seconds sees a
// state at most this old.
var readyCacheFor = 250 * time.Millisecond

// readyTimeout bounds one readiness computation.
const readyTimeout = 5 * time.Second

// readyCache is the latest readiness answer. One computation runs at a
// time (sem), so answers are stored in the order they were computed and
// callers arriving meanwhile take the fresh one.
type readyCache struct {
	sem     chan struct{} // a token while a computation runs
	mu      sync.Mutex    // guards the rest
	valid   bool          // the last answer was ready: reusable until at+readyCacheFor
	at      time.Time     // when the last computation ended
	started time.Time     // when it began
	h       int64
	why     string
}

// since is the last answer if its computation began at or after t: fresh
// for a caller that arrived at t, whatever it says.
func (c *readyCache) since(t time.Time) (int64, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started.IsZero() || c.started.Before(t) {
		return 0, "", false
	}
	return c.h, c.why, true
}

func (c *readyCache) get() (int64, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.valid || time.Since(c.at) >= readyCacheFor {
		return 0, "", false
	}
	return c.h, c.why, true
}

// ready is the node's readiness: its attested height, and why it is not
// ready ("" when it is), at most readyCacheFor old. A node is ready when
// it is not restoring a state-sync snapshot, CometBFT is not catching up
// (block sync or state sync), it is no more than ReadyMaxLag heights
// behind its best peer and some state is attested; until then its
// answers would be of a stale or missing state.
func (e *edgeState) ready(ctx context.Context) (int64, string) {
	c := &e.readyCache
	if h, why, ok := c.get(); ok {
		return h, why
	}
	arrived := time.Now()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, "readiness unavailable: " + ctx.Err().Error()
	}
	defer func() { <-c.sem }()
	if h, why, ok := c.since(arrived); ok {
		return h, why // computed, from its start, while this caller waited
	}
	// Not the caller's context: a probe that gives up must not leave
	// its cancellation cached as the answer for the others.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	started := time.Now()
	h, why := e.computeReady(cctx)
	// A ready answer is reused for readyCacheFor; a not-ready one only by
	// the callers that were waiting while it was computed (so a flood of
	// probes on a node that is not ready costs one computation at a time,
	// each shared by everyone who arrived before it began), never by a
	// later caller: one computed just before the node became ready (its
	// first attested state, the end of a catch-up) must not keep it out.
	c.mu.Lock()
	c.valid, c.at, c.started, c.h, c.why = why == "", time.Now(), started, h, why
	c.mu.Unlock()
	return h, why
}

// computeReady is ready without the cache. Its reasons come in this
// order: restoring, catching up, behind its peers, no attested state.
func (e *edgeState) computeReady(ctx context.Context) (int64, string) {
	if e.restoring != nil && e.restoring() {
		return 0, "restoring a state-sync snapshot"
	}
	st, err := e.svc.chain.Status(ctx)
	if err != nil {
		return 0, "consensus status unavailable: " + err.Error()
	}
	if st.SyncInfo.CatchingUp {
		return 0, fmt.Sprintf("catching up (at block %d)", st.SyncInfo.LatestBlockHeight)
	}
	if e.lag != nil {
		if lag := e.lag(); lag > ReadyMaxLag {
			return 0, fmt.Sprintf("behind its peers by %d heights", lag)
		}
	}
	h := e.svc.AttestedHeight()
	if h < 1 {
		return 0, "no attested state yet"
	}
	return h, ""
}

// readyz answers 200 with the attested height when the node is ready,
// else 503 saying why (GET /readyz, and /healthz, its older name).
func (e *edgeState) readyz(w http.ResponseWriter, r *http.Request) {
	h, why := e.ready(r.Context())
	if why != "" {
		writeError(w, http.StatusServiceUnavailable, codes.Unavailable, ledger.CodeUnavailable, "not ready: "+why)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, `{"status":"ok","attested_height":"%d"}`+"\n", h)
}

// livez answers 200 while the process serves requests (GET /livez).
func livez(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, `{"status":"ok"}`+"\n")
}

func (e *edgeState) metricsHandler() http.Handler {
	return promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{})
}

// Start listens and serves. Listening errors, bad TLS files and bad
// trusted proxies are returned at once.
func Start(cfg Config, svc *Server) (*Servers, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultConfig().MaxBodyBytes
	}
	tlsCfg, err := loadTLS(cfg.TLSCertFile, cfg.TLSKeyFile, log)
	if err != nil {
		return nil, err
	}
	e, err := newEdgeState(cfg, svc)
	if err != nil {
		return nil, err
	}
	for _, p := range e.proxies {
		if p.Bits() == 0 {
			log.Warn("api trusted_proxies contains "+p.String()+", which trusts every peer: any client can choose the address it is rate limited as and the host its links name; list only your proxies' addresses",
				"trusted_proxies", cfg.TrustedProxies)
		}
	}
	s := &Servers{log: log}
	if cfg.GRPCListen != "" {
		ln, err := net.Listen("tcp", hostPort(cfg.GRPCListen))
		if err != nil {
			return nil, fmt.Errorf("grpc listen %s: %w", cfg.GRPCListen, err)
		}
		s.grpcLn = ln
		opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(int(cfg.MaxBodyBytes)), grpc.MaxConcurrentStreams(grpcMaxStreams),
			grpc.ChainUnaryInterceptor(e.unaryInterceptor), grpc.ChainStreamInterceptor(e.streamInterceptor)}
		if tlsCfg != nil {
			opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg.Clone())))
		}
		s.grpc = grpc.NewServer(opts...)
		ledgersvc.RegisterLedgerServiceServer(s.grpc, svc)
		s.health = newHealthServer(e.ready)
		healthpb.RegisterHealthServer(s.grpc, s.health)
		reflection.Register(s.grpc)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			// ErrServerStopped: Start failed further on and stopped the
			// server before it served.
			if err := s.grpc.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				log.Error("grpc server", "err", err)
			}
		}()
	}
	if cfg.MetricsListen != "" {
		ln, err := net.Listen("tcp", hostPort(cfg.MetricsListen))
		if err != nil {
			s.Stop(context.Background())
			return nil, fmt.Errorf("metrics listen %s: %w", cfg.MetricsListen, err)
		}
		s.metricsLn = ln
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", e.metricsHandler())
		mux.HandleFunc("GET /livez", livez)
		mux.HandleFunc("GET /readyz", e.readyz)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, codes.NotFound, ledger.CodeNoRoute, "no such endpoint: "+r.URL.Path+" (this is the metrics listener)")
		})
		s.metrics = &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    32 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.metrics.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server", "err", err)
			}
		}()
	}
	if cfg.RESTListen != "" {
		h, err := e.handler(cfg, svc)
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
		serveLn := ln
		if tlsCfg != nil {
			serveLn = newTLSListener(ln, tlsCfg)
			s.rest.Handler = restTLSState(h)
			s.rest.ConnContext = restConnContext
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.rest.Serve(jsonErrorsListener{serveLn}); err != nil && !errors.Is(err, http.ErrServerClosed) {
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

// MetricsAddr is the metrics listener's address, or "" without one.
func (s *Servers) MetricsAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}

// Stop shuts the servers down, letting requests in flight finish until
// ctx ends. The health service says NOT_SERVING from the start of it, and
// ends its Watch streams (which would otherwise hold the gRPC server's
// graceful stop until ctx ends).
func (s *Servers) Stop(ctx context.Context) error {
	var err error
	if s.health != nil {
		s.health.shutdown()
	}
	if s.rest != nil {
		err = s.rest.Shutdown(ctx)
	}
	if s.metrics != nil {
		err = errors.Join(err, s.metrics.Shutdown(ctx))
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

// Handler builds the REST handler: gateway routes under /v1, plus
// /livez, /readyz (and /healthz, its older name), /metrics (unless
// cfg.MetricsListen moves it) and /openapi.json, behind the edge
// middleware.
func Handler(cfg Config, svc *Server) (http.Handler, error) {
	e, err := newEdgeState(cfg, svc)
	if err != nil {
		return nil, err
	}
	return e.handler(cfg, svc)
}

func (e *edgeState) handler(cfg Config, svc *Server) (http.Handler, error) {
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
	mux := http.NewServeMux()
	// Liveness and readiness apart (Kubernetes' probes): /livez is 200
	// while the process serves; /readyz only when the node's answers are
	// of the chain's current state. /healthz is /readyz under the name
	// earlier releases had.
	mux.HandleFunc("GET /livez", livez)
	mux.HandleFunc("GET /readyz", e.readyz)
	mux.HandleFunc("GET /healthz", e.readyz)
	if cfg.MetricsListen == "" {
		mux.Handle("GET /metrics", e.metricsHandler())
	}
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(nlproto.OpenAPI)
	})
	// The same document as OpenAPI 3.0, converted on the first request
	// (proto.OpenAPI3).
	mux.HandleFunc("GET /openapi3.json", func(w http.ResponseWriter, r *http.Request) {
		bz, err := nlproto.OpenAPI3()
		if err != nil {
			writeError(w, http.StatusInternalServerError, codes.Internal, ledger.CodeInternal, "the OpenAPI 3 document: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(bz)
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
	mux.HandleFunc("GET /v1/stix/bundle", func(w http.ResponseWriter, r *http.Request) {
		// Links use the scheme and host the client used: https over TLS,
		// or what a trusted proxy says it received (proxy.go).
		svc.stixBundle(w, r, e.proxies.baseURL(r))
	})
	newTaxii(svc).register(mux, e.proxies.baseURL)
	new(mispFeedCache).register(mux, svc, e.proxies.baseURL)
	mux.Handle("/v1/", bulk(gw, cacheable(svc, gw)))
	noRoute := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codes.NotFound, ledger.CodeNoRoute, "no such endpoint: "+r.URL.Path)
	})
	mux.Handle("GET "+ui.Prefix, ui.Handler(noRoute))
	mux.Handle("GET /ui", http.RedirectHandler(ui.Prefix, http.StatusMovedPermanently))
	mux.Handle("/", noRoute)
	rs, err := loadRoutes()
	if err != nil {
		return nil, err
	}
	if cfg.MetricsListen != "" {
		// /metrics is no route of the REST port: 404 for every method.
		rs = slices.DeleteFunc(rs, func(r *apiRoute) bool { return r.template() == "/metrics" })
	}
	return edge(cfg, rs, e, mux), nil
}
