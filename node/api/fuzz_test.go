package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The REST edge judges every request before a handler sees it: for any
// method, path and query it never panics, and a rejection is a 4xx with a
// ledger code and a message; the request bodies' JSON decoder (the
// gateway's, strict) never panics either.
func FuzzEdge(f *testing.F) {
	rs, err := loadRoutes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add("GET", "/v1/records", "kind=pledge&limit=5", []byte(`{"tx":"AAAA","mode":"BROADCAST_MODE_COMMIT"}`))
	f.Add("GET", "/v1/records/"+strings.Repeat("a", 64), "prove=true&height=3", []byte(`{}`))
	f.Add("POST", "/v1/txs", "", []byte(`{"tx":"!!","mode":7}`))
	f.Add("HEAD", "/v1/stix/bundle", "since=2026-01-01T00:00:00Z&kind=pledge,finding", []byte(`{"tx":null}`))
	f.Add("GET", "/v1/obligations", "status=%zz&due_before=x", []byte(`[`))
	dec := &runtime.JSONPb{UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false}}
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		r := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{}}
		_, e := rs.check(r)
		if e != nil && (e.status < 400 || e.status > 499 || e.msg == "" || e.lc == 0) {
			t.Fatalf("%s %s?%s: edge error %+v", method, path, query, e)
		}
		var req pb.BroadcastTxRequest
		_ = dec.Unmarshal(body, &req)
	})
}
