package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/normledger/normledger/ledger"
)

// edge applies CORS, the route table's checks (methods, parameters),
// body limits, rate limits and metrics. The rate limit's client is the
// peer's address, or the client a trusted proxy names (proxy.go); the
// request's origin (scheme and host for links) is set the same way. GET
// and HEAD are reads, except the probes (probePath).
func edge(cfg Config, rs routes, e *edgeState, next http.Handler) http.Handler {
	lim, m := e.lim, e.metrics
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
		if len(origins) > 0 {
			// Every answer varies by Origin when CORS is on, so that a
			// shared cache never serves an answer made for a request
			// without one (no Allow-Origin) to a browser, or the reverse.
			rw.Header().Add("Vary", "Origin")
		}
		if o := r.Header.Get("Origin"); o != "" && (allowAll || origins[o]) {
			h := rw.Header()
			h.Set("Access-Control-Allow-Origin", o)
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
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !probePath(r.URL.Path) &&
			!lim.allow(e.proxies.client(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))) {
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
			// for the original HEAD request (a handler that streams may
			// stop early: headRequest).
			g := r.Clone(context.WithValue(r.Context(), headKey{}, true))
			g.Method = http.MethodGet
			r = g
		}
		next.ServeHTTP(rw, r)
	})
}

// probePath says whether a path is a liveness or readiness probe's
// (/livez, /readyz, /healthz). Probes are not reads for the rate limit
// (nor are gRPC health checks): a load balancer probing through a proxy
// the node does not trust shares its clients' bucket, and a 429 to its
// probe would take a healthy node out of rotation. They cost little:
// /livez nothing, /readyz a ready answer cached for readyCacheFor, or one
// computation at a time shared by every probe waiting for it.
func probePath(p string) bool {
	return p == "/livez" || p == "/readyz" || p == "/healthz"
}

// headKey marks the context of a HEAD request answered as a GET.
type headKey struct{}

// headRequest says r was a HEAD request.
func headRequest(r *http.Request) bool { v, _ := r.Context().Value(headKey{}).(bool); return v }

type statusWriter struct {
	http.ResponseWriter
	status int
}

// Unwrap gives http.ResponseController the connection's writer (for a
// write deadline of its own: a bulk export streams for longer than the
// server's WriteTimeout).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
