package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// pinnable are the reads whose answer at a given committed height never
// changes: the state at that height and its proofs, the same on every
// honest node. (Compliance answers judge against block times and the
// status answer is of the node; they are left out.)
var pinnable = []string{"/v1/records", "/v1/txs/", "/v1/members", "/v1/obligations", "/v1/proposals",
	"/v1/evidence", "/v1/proofs", "/v1/governance/rules", "/v1/cases"}

// Cache-Control values: an answer pinned to an attested height is kept
// for a year by any cache; an answer at "the newest height" must be
// revalidated, since the next block moves it.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// cacheable serves height-pinned reads so that an ordinary HTTP cache (a
// reverse proxy, a CDN) in front of a full node can answer them: a GET of
// a pinnable route with ?height=N, N at most the attested height, gets
// Cache-Control: immutable and a strong ETag (of the body), and a request
// with that ETag in If-None-Match gets 304. Other successful GETs under
// /v1/ say no-cache, so that no cache keeps an answer about the newest
// height. Errors carry no cache headers.
func cacheable(svc *Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		h := pinnedHeight(r)
		pinned := h > 0 && h <= svc.AttestedHeight() && isPinnable(r.URL.Path)
		if !pinned {
			next.ServeHTTP(&headerOnSuccess{ResponseWriter: w, value: cacheRevalidate}, r)
			return
		}
		buf := &bufferedWriter{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(buf, r)
		hd := w.Header()
		for k, vs := range buf.header {
			hd[k] = vs
		}
		if buf.status != http.StatusOK {
			w.WriteHeader(buf.status)
			w.Write(buf.body.Bytes())
			return
		}
		sum := sha256.Sum256(buf.body.Bytes())
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		hd.Set("ETag", etag)
		hd.Set("Cache-Control", cacheImmutable)
		if matchesETag(r.Header.Get("If-None-Match"), etag) {
			hd.Del("Content-Length")
			hd.Del("Content-Type")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		hd.Set("Content-Length", strconv.Itoa(buf.body.Len()))
		w.WriteHeader(http.StatusOK)
		w.Write(buf.body.Bytes())
	})
}

// pinnedHeight is the request's height parameter (0: none or not a number).
func pinnedHeight(r *http.Request) int64 {
	n, err := strconv.ParseInt(r.URL.Query().Get("height"), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func isPinnable(path string) bool {
	for _, p := range pinnable {
		if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// matchesETag reports whether an If-None-Match header names etag (or *).
func matchesETag(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// bufferedWriter holds an answer until its ETag is known.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}

// headerOnSuccess sets Cache-Control on a 200 answer that set none.
type headerOnSuccess struct {
	http.ResponseWriter
	value string
	done  bool
}

func (w *headerOnSuccess) WriteHeader(code int) {
	if !w.done {
		w.done = true
		if code == http.StatusOK && w.Header().Get("Cache-Control") == "" {
			w.Header().Set("Cache-Control", w.value)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerOnSuccess) Write(p []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}
