package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc/codes"

	"github.com/normledger/normledger/ledger"
	nlproto "github.com/normledger/normledger/proto"
)

// The strict edge: every request is checked against the route table before
// a handler sees it, so that a misspelt parameter, a value of the wrong
// type or a method the route does not have gets a JSON error that names
// the problem, in the same shape on every route, and never one of Go's own
// parse messages.

// param is one parameter a route takes.
type param struct {
	name string // as the OpenAPI document names it (lowerCamelCase)
	in   string // "query" or "path"
	typ  string // OpenAPI type: string, integer, boolean
	fmt  string // OpenAPI format: int64, uint64, date-time...
}

// apiRoute is one path template with what each method takes.
type apiRoute struct {
	segs    []string // "v1", "records", "{id}"; a trailing "*" matches any rest
	methods map[string][]param
	// anyQuery: the query string is the page's own (the dashboard's
	// ?trust=), not parameters of the node's.
	anyQuery bool
}

// routes is the REST API's route table: the gateway's routes from the
// OpenAPI document it is generated with, plus the node's own.
type routes []*apiRoute

func loadRoutes() (routes, error) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string `json:"name"`
				In     string `json:"in"`
				Type   string `json:"type"`
				Format string `json:"format"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(nlproto.OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	var rs routes
	for path, ops := range doc.Paths {
		if strings.HasPrefix(path, "/taxii2/") || strings.HasPrefix(path, "/misp/") {
			// Documented for clients, but TAXII and the MISP feed check
			// their own requests and answer in their own formats.
			continue
		}
		r := &apiRoute{segs: strings.Split(strings.Trim(path, "/"), "/"), methods: map[string][]param{}}
		for method, op := range ops {
			var ps []param
			for _, p := range op.Parameters {
				if p.In == "query" || p.In == "path" {
					ps = append(ps, param{name: p.Name, in: p.In, typ: p.Type, fmt: p.Format})
				}
			}
			r.methods[strings.ToUpper(method)] = ps
		}
		rs = append(rs, r)
	}
	for _, own := range []struct{ path, method string }{
		{"livez", http.MethodGet}, {"readyz", http.MethodGet}, {"healthz", http.MethodGet},
		{"metrics", http.MethodGet}, {"openapi.json", http.MethodGet}, {"openapi3.json", http.MethodGet},
		{"tlog/checkpoint", http.MethodGet}, {"tlog/cosignature", http.MethodPost}, {"tlog/tile/*", http.MethodGet},
		{"ui", http.MethodGet}, {"ui/*", http.MethodGet},
	} {
		rs = append(rs, &apiRoute{segs: strings.Split(own.path, "/"), methods: map[string][]param{own.method: nil},
			anyQuery: strings.HasPrefix(own.path, "ui")})
	}
	// TAXII 2.1 (taxii.go) and the MISP feed (mispfeed.go) read their own
	// query parameters (match[type]...) and answer in their own formats.
	rs = append(rs,
		&apiRoute{segs: []string{"taxii2"}, methods: map[string][]param{http.MethodGet: nil}, anyQuery: true},
		&apiRoute{segs: []string{"taxii2", "*"}, methods: map[string][]param{http.MethodGet: nil, http.MethodPost: nil, http.MethodDelete: nil}, anyQuery: true},
		&apiRoute{segs: []string{"misp", "*"}, methods: map[string][]param{http.MethodGet: nil}, anyQuery: true})
	// Literal segments before parameters: /v1/log/consistency must not be
	// taken for a parameter of some /v1/log/{x}.
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].literals() > rs[j].literals() })
	return rs, nil
}

func (r *apiRoute) literals() int {
	n := 0
	for _, s := range r.segs {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}

// match finds the route of an (unescaped) path and its path parameters.
func (rs routes) match(path string) (*apiRoute, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range rs {
		vals := map[string]string{}
		ok := true
		for i, s := range r.segs {
			if s == "*" {
				ok = len(segs) > i
				break
			}
			if i >= len(segs) {
				ok = false
				break
			}
			if strings.HasPrefix(s, "{") {
				if segs[i] == "" {
					ok = false
					break
				}
				vals[strings.Trim(s, "{}")] = segs[i]
			} else if s != segs[i] {
				ok = false
				break
			}
		}
		if ok && (len(r.segs) == len(segs) || r.segs[len(r.segs)-1] == "*") {
			return r, vals
		}
	}
	return nil, nil
}

// template is the route's path as the OpenAPI document writes it.
func (r *apiRoute) template() string { return "/" + strings.Join(r.segs, "/") }

// allow is the route's Allow header value.
func (r *apiRoute) allow() string {
	ms := []string{http.MethodOptions}
	for m := range r.methods {
		ms = append(ms, m)
		if m == http.MethodGet {
			ms = append(ms, http.MethodHead)
		}
	}
	sort.Strings(ms)
	return strings.Join(ms, ", ")
}

// snake turns the document's lowerCamelCase name into the proto name the
// gateway also accepts: pageToken -> page_token.
func snake(s string) string {
	var b strings.Builder
	for _, c := range s {
		if unicode.IsUpper(c) {
			b.WriteByte('_')
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// edgeError is a request the strict edge refuses.
type edgeError struct {
	status int
	gc     codes.Code
	lc     ledger.Code
	msg    string
}

// check validates a request against its route: the method, the query
// string's encoding, the parameter names and the types of their values.
// It returns the route (nil for a path no route has: the mux answers 404).
func (rs routes) check(r *http.Request) (*apiRoute, *edgeError) {
	rt, pathVals := rs.match(r.URL.Path)
	if rt == nil {
		return nil, nil
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	ps, ok := rt.methods[method]
	if !ok {
		return rt, &edgeError{http.StatusMethodNotAllowed, codes.Unimplemented, ledger.CodeMethodNotAllowed,
			fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rt.allow())}
	}
	if rt.anyQuery {
		return rt, nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return rt, &edgeError{http.StatusBadRequest, codes.InvalidArgument, ledger.CodeBadFormat,
			"the query string is malformed (bad percent-encoding, or a ';' separator)"}
	}
	known := map[string]param{}
	var names []string
	for _, p := range ps {
		if p.in == "query" {
			known[p.name], known[snake(p.name)] = p, p
			names = append(names, p.name)
		}
	}
	var unknown []string
	for name := range q {
		if _, ok := known[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		takes := "takes no query parameters"
		if len(names) > 0 {
			takes = "takes " + strings.Join(names, ", ")
		}
		what := "parameter"
		if len(unknown) > 1 {
			what = "parameters"
		}
		return rt, &edgeError{http.StatusBadRequest, codes.InvalidArgument, ledger.CodeUnknownParameter,
			fmt.Sprintf("unknown query %s %s: %s %s", what, quoteAll(unknown), r.URL.Path, takes)}
	}
	seen := map[string]string{}
	for name, vs := range q {
		p := known[name]
		if prev, ok := seen[p.name]; ok || len(vs) > 1 {
			if !ok {
				prev = name
			}
			return rt, &edgeError{http.StatusBadRequest, codes.InvalidArgument, ledger.CodeBadFormat,
				fmt.Sprintf("query parameter %q is given more than once (as %q and %q)", p.name, prev, name)}
		}
		seen[p.name] = name
		if e := checkValue("query parameter", p, vs[0]); e != nil {
			return rt, e
		}
	}
	for _, p := range ps {
		if p.in == "path" {
			v, err := url.PathUnescape(pathVals[p.name])
			if err != nil {
				v = pathVals[p.name]
			}
			if e := checkValue("path parameter", p, v); e != nil {
				return rt, e
			}
		}
	}
	return rt, nil
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// checkValue checks one value against its parameter's type, with a message
// in the API's own terms.
func checkValue(where string, p param, v string) *edgeError {
	bad := func(want string) *edgeError {
		shown := v
		if len(shown) > 64 {
			shown = shown[:64] + "..."
		}
		lc := ledger.CodeBadFormat
		if p.fmt == "date-time" {
			lc = ledger.CodeBadTime
		}
		return &edgeError{http.StatusBadRequest, codes.InvalidArgument, lc,
			fmt.Sprintf("%s %q must be %s, got %q", where, p.name, want, shown)}
	}
	switch {
	case p.typ == "boolean":
		if !slices.Contains([]string{"true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False"}, v) {
			return bad("true or false")
		}
	case p.fmt == "int64" || p.fmt == "int32":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return bad("an integer that fits in 64 bits")
			}
			return bad("an integer")
		}
		if p.typ == "integer" { // the uint32 page sizes
			if n, _ := strconv.ParseInt(v, 10, 64); n < 0 || n > 1<<32-1 {
				return bad("a non-negative integer below 2^32")
			}
		}
	case p.fmt == "uint64" || p.fmt == "uint32":
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return bad("a non-negative integer")
		}
	case p.fmt == "date-time":
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return bad("an RFC 3339 time such as 2026-01-31T12:00:00Z")
		}
	}
	return nil
}

// bodyKey carries a request's *bodyReader in its context, so that the
// gateway's error handler can tell a body that failed to arrive from one
// that did not parse.
type bodyKey struct{}

// bodyReader remembers the first error reading a request body.
type bodyReader struct {
	io.ReadCloser
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && b.err == nil {
		b.err = err
	}
	return n, err
}

// bodyFailure answers a body that could not be read, without the
// connection's addresses or Go's error text: 408 when it did not arrive in
// time, 413 beyond the size limit, 400 otherwise.
func bodyFailure(err error) (int, ledger.Code, string) {
	var tooLarge *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, ledger.CodeTxTooLarge, fmt.Sprintf("request body exceeds %d bytes", tooLarge.Limit)
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout, ledger.CodeRequestTimeout, "the request body did not arrive in time"
	}
	return http.StatusBadRequest, ledger.CodeBadFormat, "the request body could not be read (connection closed or malformed chunked encoding)"
}

// jsonErrorsListener makes the errors Go's HTTP server writes itself,
// before any handler runs (a malformed request line or URI, headers over
// MaxHeaderBytes, an unsupported transfer encoding), JSON in the API's
// error shape instead of plain text.
type jsonErrorsListener struct{ net.Listener }

func (l jsonErrorsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorsConn{Conn: c}, nil
}

type jsonErrorsConn struct{ net.Conn }

// serverErrorHeaders is how net/http ends the header of the responses it
// writes on its own; a handler's response always carries a Date header,
// which these never do.
const serverErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *jsonErrorsConn) Write(p []byte) (int, error) {
	if bz, ok := rewriteServerError(p); ok {
		if _, err := c.Conn.Write(bz); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// rewriteServerError turns one of net/http's own plain-text error
// responses into the JSON one; ok is false for anything else.
func rewriteServerError(p []byte) ([]byte, bool) {
	s := string(p)
	if !strings.HasPrefix(s, "HTTP/1.1 ") {
		return nil, false
	}
	i := strings.Index(s, serverErrorHeaders)
	if i < 0 || strings.Contains(s[:i], "\r\n") {
		return nil, false // more header lines: a handler's response
	}
	statusLine := s[len("HTTP/1.1 "):i]
	code, err := strconv.Atoi(strings.SplitN(statusLine, " ", 2)[0])
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	gc, lc, msg := codes.InvalidArgument, ledger.CodeBadFormat, "malformed HTTP request"
	switch code {
	case http.StatusRequestHeaderFieldsTooLarge:
		lc, msg = ledger.CodeTxTooLarge, "request headers too large"
	case http.StatusNotImplemented:
		gc, msg = codes.Unimplemented, "unsupported transfer encoding"
	case http.StatusBadRequest:
		// net/http's own detail ("missing required Host header",
		// "malformed Host header"...) names no internals.
		if _, detail, ok := strings.Cut(statusLine, ": "); ok {
			msg = "malformed HTTP request: " + detail
		} else {
			msg = "malformed HTTP request (request line, URI or headers)"
		}
	}
	rec := &headerRecorder{h: http.Header{}}
	writeError(rec, code, gc, lc, msg)
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		code, http.StatusText(code), len(rec.body))
	b.Write(rec.body)
	return []byte(b.String()), true
}

// headerRecorder collects what writeError writes.
type headerRecorder struct {
	h    http.Header
	body []byte
}

func (r *headerRecorder) Header() http.Header { return r.h }
func (r *headerRecorder) WriteHeader(int)     {}
func (r *headerRecorder) Write(p []byte) (int, error) {
	r.body = append(r.body, p...)
	return len(p), nil
}
