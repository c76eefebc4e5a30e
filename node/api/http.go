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
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"

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
	mux.Handle("/v1/", cacheable(svc, gw))
	noRoute := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codes.NotFound, ledger.CodeNoRoute, "no such endpoint: "+r.URL.Path)
	})
	mux.Handle("GET "+ui.Prefix, ui.Handler(noRoute))
	mux.Handle("GET /ui", http.RedirectHandler(ui.Prefix, http.StatusMovedPermanently))
	mux.Handle("/", noRoute)
	lim := newLimiter(cfg.ReadRateLimit, cfg.ReadRateBurst, cfg.Now)
	rs, err := loadRoutes()
	if err != nil {
		return nil, err
	}
	return edge(cfg, rs, lim, m, mux), nil
}
