// Package ui is the dashboard every node serves at /ui/: static files
// embedded in the binary (no CDN, no network at run time beyond the node's
// own REST API). The page verifies what it shows in the browser: the
// project's verifier compiled to WebAssembly (cmd/verifier-wasm, built by
// scripts/wasm.sh into static/verifier.wasm.gz, served compressed) checks the light blocks
// against a trust root the user pins and every record, member and
// obligation proof against the verified app hash, so the page trusts no
// server, including the one that served it.
package ui

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is where the dashboard is served.
const Prefix = "/ui/"

var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".wasm": "application/wasm",
}

// Handler serves the dashboard under Prefix; notFound answers names it
// does not hold.
func Handler(notFound http.Handler) http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "" {
			name = "index.html"
		}
		if name == "verifier.wasm" {
			serveGzipped(w, r, sub, name, notFound)
			return
		}
		bz, err := fs.ReadFile(sub, name)
		ct, known := types[path.Ext(name)]
		if err != nil || !known {
			notFound.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		setHeaders(h, ct)
		w.Write(bz)
	})
}

func setHeaders(h http.Header, ct string) {
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	// The page talks to its own origin only; wasm needs wasm-unsafe-eval.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'")
	h.Add("Vary", "Accept-Encoding")
}

// serveGzipped serves name from the embedded name.gz: as it is to clients
// that take gzip (every browser), decompressed to the others.
func serveGzipped(w http.ResponseWriter, r *http.Request, sub fs.FS, name string, notFound http.Handler) {
	bz, err := fs.ReadFile(sub, name+".gz")
	if err != nil {
		notFound.ServeHTTP(w, r) // a build without scripts/wasm.sh
		return
	}
	setHeaders(w.Header(), types[path.Ext(name)])
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(bz)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(bz))
	if err != nil {
		notFound.ServeHTTP(w, r) // cannot happen with the file scripts/wasm.sh writes
		return
	}
	io.Copy(w, zr)
}
