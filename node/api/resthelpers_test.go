package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/normledger/normledger/ledger"
)

// serve runs one request through h as from client address remote
// (host:port), with no server in between.
func serve(h http.Handler, method, target, remote string, body io.Reader) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, body)
	if remote != "" {
		r.RemoteAddr = remote
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// send sends req through srv's client and returns the response with its
// body read.
func send(t *testing.T, srv *httptest.Server, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bz, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, bz
}

// restError is the REST error shape: a google.rpc.Status whose details
// hold a normledger ErrorInfo.
type restError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type     string `json:"@type"`
		Code     uint32 `json:"code"`
		CodeName string `json:"codeName"`
	} `json:"details"`
}

// wantError checks that an answer is a JSON error carrying ledger code
// code (one ErrorInfo, named), and returns its message.
func wantError(t *testing.T, what string, header http.Header, body []byte, code ledger.Code) string {
	t.Helper()
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: content type %q: %s", what, ct, body)
	}
	var e restError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("%s: not JSON: %v: %s", what, err, body)
		return ""
	}
	var got []ledger.Code
	for _, d := range e.Details {
		if d.Type == "type.googleapis.com/normledger.v1.ErrorInfo" {
			got = append(got, ledger.Code(d.Code))
			if d.CodeName != ledger.Code(d.Code).String() {
				t.Errorf("%s: code %d named %q", what, d.Code, d.CodeName)
			}
		}
	}
	if len(got) != 1 || got[0] != code || e.Message == "" {
		t.Errorf("%s: codes %v, message %q; want %s: %s", what, got, e.Message, code, body)
	}
	return e.Message
}

// wantRecorded checks a recorded answer's status, then that it is the
// JSON error with code.
func wantRecorded(t *testing.T, what string, w *httptest.ResponseRecorder, status int, code ledger.Code) string {
	t.Helper()
	if w.Code != status {
		t.Errorf("%s: status %d, want %d: %s", what, w.Code, status, w.Body.Bytes())
	}
	return wantError(t, what, w.Header(), w.Body.Bytes(), code)
}
