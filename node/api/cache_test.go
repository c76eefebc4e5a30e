package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/normledger/normledger/ledger"
)

// Height-pinned reads are immutable and carry a strong ETag that a
// revalidation answers with 304; reads at the newest height say no-cache;
// errors (a height beyond the attested one) carry no cache headers.
func TestHeightPinnedReadsAreImmutable(t *testing.T) {
	l := newTestLedger(t)
	h, err := Handler(Config{MaxBodyBytes: 1 << 10}, l.server(&fakeChain{}))
	if err != nil {
		t.Fatal(err)
	}
	height := l.st.Version()
	pinned := fmt.Sprintf("/v1/records/%s?prove=true&height=%d", l.ids[0], height)
	w := serve(h, http.MethodGet, pinned, "", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("pinned read: %d %s", w.Code, w.Body)
	}
	etag := w.Header().Get("ETag")
	if cc := w.Header().Get("Cache-Control"); cc != cacheImmutable || len(etag) < 10 {
		t.Fatalf("pinned read: Cache-Control %q, ETag %q", cc, etag)
	}
	body := w.Body.String()
	// The same answer again (a cache may serve either), and 304 for its tag.
	if w2 := serve(h, http.MethodGet, pinned, "", nil); w2.Body.String() != body || w2.Header().Get("ETag") != etag {
		t.Fatal("a pinned answer changed between two reads")
	}
	r := httptest.NewRequest(http.MethodGet, pinned, nil)
	r.Header.Set("If-None-Match", etag)
	w3 := httptest.NewRecorder()
	h.ServeHTTP(w3, r)
	if w3.Code != http.StatusNotModified || w3.Body.Len() != 0 {
		t.Fatalf("revalidation: %d, %d bytes", w3.Code, w3.Body.Len())
	}
	r.Header.Set("If-None-Match", `"other"`)
	w4 := httptest.NewRecorder()
	h.ServeHTTP(w4, r)
	if w4.Code != http.StatusOK || w4.Body.String() != body {
		t.Fatalf("another tag: %d", w4.Code)
	}
	// A listing pinned to a height too.
	if w := serve(h, http.MethodGet, fmt.Sprintf("/v1/records?height=%d&prove=true", height), "", nil); w.Header().Get("Cache-Control") != cacheImmutable {
		t.Fatalf("pinned listing: %d %q", w.Code, w.Header().Get("Cache-Control"))
	}
	// The newest height moves: no-cache, no ETag.
	w = serve(h, http.MethodGet, "/v1/records/"+l.ids[0]+"?prove=true", "", nil)
	if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != cacheRevalidate || w.Header().Get("ETag") != "" {
		t.Fatalf("unpinned read: %d %q %q", w.Code, w.Header().Get("Cache-Control"), w.Header().Get("ETag"))
	}
	// Status is of the node, not of a height.
	if w := serve(h, http.MethodGet, fmt.Sprintf("/v1/status?height=%d", height), "", nil); w.Header().Get("Cache-Control") == cacheImmutable {
		t.Fatal("status answered as immutable")
	}
	// Beyond the attested height: an error, never cached.
	w = serve(h, http.MethodGet, fmt.Sprintf("/v1/records/%s?height=%d", l.ids[0], height+5), "", nil)
	if w.Code == http.StatusOK || w.Header().Get("Cache-Control") != "" || w.Header().Get("ETag") != "" {
		t.Fatalf("read beyond the attested height: %d %q %q", w.Code, w.Header().Get("Cache-Control"), w.Header().Get("ETag"))
	}
	wantError(t, "beyond", w.Header(), w.Body.Bytes(), ledger.CodeHeightTooHigh)
	// An absent record at a pinned height is a 404, not cached either.
	missing := "0" + l.ids[0][1:]
	if missing == l.ids[0] {
		missing = "1" + l.ids[0][1:]
	}
	w = serve(h, http.MethodGet, fmt.Sprintf("/v1/records/%s?height=%d", missing, height), "", nil)
	if w.Code != http.StatusNotFound || w.Header().Get("Cache-Control") != "" {
		t.Fatalf("absent record: %d %q", w.Code, w.Header().Get("Cache-Control"))
	}
}
