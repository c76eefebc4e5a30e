package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	missing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := Handler(missing)
	get := func(path, enc string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if enc != "" {
			r.Header.Set("Accept-Encoding", enc)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	wasmMagic := []byte("\x00asm")
	plain := get("/ui/verifier.wasm", "")
	if plain.Code != 200 || plain.Header().Get("Content-Type") != "application/wasm" || !bytes.HasPrefix(plain.Body.Bytes(), wasmMagic) {
		t.Fatalf("verifier without gzip: %d %q %x", plain.Code, plain.Header().Get("Content-Type"), plain.Body.Bytes()[:min(8, plain.Body.Len())])
	}
	gz := get("/ui/verifier.wasm", "gzip, deflate")
	if gz.Header().Get("Content-Encoding") != "gzip" || gz.Body.Len() >= plain.Body.Len() {
		t.Fatalf("verifier with gzip: %q, %d bytes (plain %d)", gz.Header().Get("Content-Encoding"), gz.Body.Len(), plain.Body.Len())
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Fatal("the gzip and plain verifier differ")
	}
	for path, ct := range map[string]string{"/ui/": "text/html; charset=utf-8", "/ui/app.js": "text/javascript; charset=utf-8", "/ui/style.css": "text/css; charset=utf-8"} {
		w := get(path, "")
		if w.Code != 200 || w.Header().Get("Content-Type") != ct || w.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %d %q", path, w.Code, w.Header().Get("Content-Type"))
		}
	}
	for _, path := range []string{"/ui/nothing.js", "/ui/../ui.go", "/ui/verifier.wasm.gz", "/ui/static"} {
		if w := get(path, ""); w.Code != http.StatusTeapot {
			t.Errorf("%s: %d, want the not-found handler", path, w.Code)
		}
	}
}
