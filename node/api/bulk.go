package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Bulk export of the listings: ?format=jsonl (one item per line, each
// exactly as the JSON listing writes it: proto3 JSON, lowerCamelCase
// names, 64-bit integers as strings, enums by name) or ?format=csv (the
// item's flat fields, BulkColumns) on /v1/records, /v1/obligations,
// /v1/members, /v1/cases and /v1/proposals. The node pages through the
// whole listing at one height (the first page's, in X-Normledger-Height)
// with the listing's own filters; limit, when given, bounds the items
// written; pageToken starts from a page. Proofs do not fit a line:
// prove is refused.

// bulkListing is one listing that can be exported.
type bulkListing struct {
	path  string
	items string // the response field holding the items
	msg   protoreflect.MessageDescriptor
	paged bool
}

// bulkPageWriteTime is the write time each page of a bulk export gets.
const bulkPageWriteTime = 30 * time.Second

var bulkListings = []bulkListing{
	{"/v1/records", "records", (&pb.StoredRecord{}).ProtoReflect().Descriptor(), true},
	{"/v1/obligations", "obligations", (&pb.Obligation{}).ProtoReflect().Descriptor(), true},
	{"/v1/members", "members", (&pb.Member{}).ProtoReflect().Descriptor(), false},
	{"/v1/cases", "cases", (&pb.CaseState{}).ProtoReflect().Descriptor(), true},
	{"/v1/proposals", "proposals", (&pb.ProposalState{}).ProtoReflect().Descriptor(), true},
}

// BulkColumn is one CSV column: a top-level field of the listed message
// that is a scalar, an enum, a timestamp, or a list of those (joined with
// ";"). Bytes and nested messages are left out of CSV (jsonl has them).
type BulkColumn struct {
	Name string // the JSON name: the CSV header
	Type string // as written: string, int64 (a decimal string in JSON), bool, enum, timestamp (RFC 3339), list of ...
}

// BulkColumns lists the CSV columns of a listing's items, in field order.
func BulkColumns(msg protoreflect.MessageDescriptor) []BulkColumn {
	var out []BulkColumn
	fs := msg.Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		if fd.IsMap() {
			continue
		}
		typ := ""
		switch fd.Kind() {
		case protoreflect.StringKind:
			typ = "string"
		case protoreflect.BoolKind:
			typ = "bool"
		case protoreflect.EnumKind:
			typ = "enum " + string(fd.Enum().Name())
		case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
			typ = "int64"
		case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			typ = "uint64"
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
			typ = "int32"
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
			typ = "uint32"
		case protoreflect.MessageKind:
			if fd.Message().FullName() == "google.protobuf.Timestamp" {
				typ = "timestamp"
			}
		}
		if typ == "" {
			continue
		}
		if fd.IsList() {
			typ = "list of " + typ
		}
		out = append(out, BulkColumn{Name: fd.JSONName(), Type: typ})
	}
	return out
}

// BulkListingMessages names each exportable listing's path and item message.
func BulkListingMessages() map[string]protoreflect.MessageDescriptor {
	out := map[string]protoreflect.MessageDescriptor{}
	for _, l := range bulkListings {
		out[l.path] = l.msg
	}
	return out
}

// csvCell writes one JSON value as a CSV cell.
func csvCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = csvCell(e)
		}
		return strings.Join(parts, ";")
	}
	bz, _ := json.Marshal(v)
	return string(bz)
}

// bulk answers a listing GET with format=jsonl or csv by paging through
// pager (the gateway); every other request goes to next.
func bulk(pager, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every read passes here: the query is parsed only for a listing.
		var listing *bulkListing
		for i := range bulkListings {
			if bulkListings[i].path == strings.TrimSuffix(r.URL.Path, "/") {
				listing = &bulkListings[i]
			}
		}
		if r.Method != http.MethodGet || listing == nil || !strings.Contains(r.URL.RawQuery, "format") {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		format := q.Get("format")
		if !q.Has("format") {
			next.ServeHTTP(w, r)
			return
		}
		if format != "jsonl" && format != "csv" && format != "json" {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument, ledger.CodeBadFormat, fmt.Sprintf("format %q is not json, jsonl or csv", format))
			return
		}
		q.Del("format")
		if format == "json" {
			r2 := r.Clone(r.Context())
			r2.URL.RawQuery = q.Encode()
			next.ServeHTTP(w, r2)
			return
		}
		if p := q.Get("prove"); p != "" && p != "false" {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument, ledger.CodeBadFormat, "prove cannot be combined with format "+format+": proofs do not fit a line (use the JSON listing, or normledger verify)")
			return
		}
		total := -1
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				writeError(w, http.StatusBadRequest, codes.InvalidArgument, ledger.CodeBadFormat, "limit must be a positive integer")
				return
			}
			total = n
		}
		cols := BulkColumns(listing.msg)
		var cw *csv.Writer
		started := false
		rc := http.NewResponseController(w)
		// abort ends a stream whose status is sent: the connection is
		// closed without the last chunk, so that no client takes a short
		// export for a whole one.
		abort := func() { panic(http.ErrAbortHandler) }
		for written := 0; ; {
			// Each page has the server's write time of its own: an export
			// streams for as long as it has pages.
			_ = rc.SetWriteDeadline(time.Now().Add(bulkPageWriteTime))
			if listing.paged {
				page := store.MaxPageSize
				if total >= 0 && total-written < page {
					page = total - written
				}
				q.Set("limit", strconv.Itoa(page))
			}
			r2 := r.Clone(r.Context())
			r2.URL.RawQuery = q.Encode()
			rec := httptest.NewRecorder()
			pager.ServeHTTP(rec, r2)
			if rec.Code != http.StatusOK {
				if !started {
					for k, vs := range rec.Header() {
						w.Header()[k] = vs
					}
					w.WriteHeader(rec.Code)
					w.Write(rec.Body.Bytes())
					return
				}
				abort() // past the first page the status is sent
			}
			var resp map[string]json.RawMessage
			var items []json.RawMessage
			err := json.Unmarshal(rec.Body.Bytes(), &resp)
			if raw := resp[listing.items]; err == nil && len(raw) > 0 {
				err = json.Unmarshal(raw, &items)
			}
			if err != nil {
				if !started {
					writeError(w, http.StatusInternalServerError, codes.Internal, ledger.CodeInternal, err.Error())
					return
				}
				abort()
			}
			var height string
			_ = json.Unmarshal(resp["height"], &height)
			if !started {
				started = true
				if height != "" {
					w.Header().Set("X-Normledger-Height", height)
					// Every later page at the same height.
					q.Set("height", height)
				}
				if format == "csv" {
					w.Header().Set("Content-Type", "text/csv; charset=utf-8")
					cw = csv.NewWriter(w)
					header := make([]string, len(cols))
					for i, c := range cols {
						header[i] = c.Name
					}
					cw.Write(header)
				} else {
					w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
				}
				if headRequest(r) {
					return // the headers of the GET; no body to make
				}
			}
			for _, it := range items {
				if total >= 0 && written == total {
					break
				}
				written++
				if format == "jsonl" {
					var buf bytes.Buffer
					if err := json.Compact(&buf, it); err != nil {
						abort()
					}
					buf.WriteByte('\n')
					w.Write(buf.Bytes())
					continue
				}
				dec := json.NewDecoder(bytes.NewReader(it))
				dec.UseNumber()
				var m map[string]any
				if err := dec.Decode(&m); err != nil {
					abort()
				}
				row := make([]string, len(cols))
				for i, c := range cols {
					row[i] = csvCell(m[c.Name])
				}
				cw.Write(row)
			}
			if cw != nil {
				cw.Flush()
			}
			var token string
			_ = json.Unmarshal(resp["nextPageToken"], &token)
			if !listing.paged || token == "" || total >= 0 && written >= total {
				return
			}
			q.Set("pageToken", token)
		}
	})
}
