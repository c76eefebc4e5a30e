package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/normledger/normledger/interop/stix"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// MaxExportRecords bounds the records one REST export reads (the CLI
// pages through any number).
const MaxExportRecords = 20000

// stixBundle serves GET /v1/stix/bundle: the STIX 2.1 export (or, with
// format=misp, the MISP events) of the state at a height, for TAXII-like
// consumers that pull. Its links start with base (scheme://host as the
// client reached the node: trustedProxies.baseURL).
func (s *Server) stixBundle(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query()
	f, err := stix.ParseFilter(q.Get("since"), q.Get("member"), q.Get("kind"))
	if err != nil {
		writeError(w, http.StatusBadRequest, codes.InvalidArgument, ledger.CodeBadFormat, err.Error())
		return
	}
	format := q.Get("format")
	if format != "" && format != "stix" && format != "misp" {
		writeError(w, http.StatusBadRequest, codes.InvalidArgument, ledger.CodeBadFormat, fmt.Sprintf("format %q is not stix or misp", format))
		return
	}
	var height int64
	if h := q.Get("height"); h != "" {
		if height, err = strconv.ParseInt(h, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument, ledger.CodeBadFormat, "height must be an integer")
			return
		}
	}
	v, err := s.view(height)
	if err != nil {
		writeStatusError(w, err)
		return
	}
	in, err := s.exportInput(r, v, f, base)
	if err != nil {
		var tooMany *tooManyError
		if errors.As(err, &tooMany) {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument, ledger.CodeBadFormat, err.Error())
			return
		}
		writeError(w, http.StatusInternalServerError, codes.Internal, ledger.CodeInternal, err.Error())
		return
	}
	var out []byte
	if format == "misp" {
		out, _, err = stix.MISP(in, f)
		w.Header().Set("Content-Type", "application/json")
	} else {
		var b *stix.Bundle
		if b, _, err = stix.Export(in, f); err == nil {
			out, err = b.Marshal()
		}
		w.Header().Set("Content-Type", "application/stix+json;version=2.1")
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, codes.Internal, ledger.CodeInternal, err.Error())
		return
	}
	w.Header().Set("X-Normledger-Height", strconv.FormatInt(v.Version(), 10))
	w.Write(out)
}

type tooManyError struct{ n int }

func (e *tooManyError) Error() string {
	return fmt.Sprintf("more than %d records match: narrow the export with since, or use normledger export, which pages", e.n)
}

func (s *Server) exportInput(r *http.Request, v *store.View, f stix.Filter, base string) (stix.Input, error) {
	lf := store.Filter{Limit: store.MaxPageSize}
	if !f.Since.IsZero() {
		lf.From, lf.HasFrom = f.Since, true
	}
	var recs []*pb.StoredRecord
	for {
		page, next, err := v.List(lf)
		if err != nil {
			return stix.Input{}, err
		}
		recs = append(recs, page...)
		if len(recs) > MaxExportRecords {
			return stix.Input{}, &tooManyError{MaxExportRecords}
		}
		if next == 0 {
			break
		}
		lf.After = next
	}
	ms, err := v.Members()
	if err != nil {
		return stix.Input{}, err
	}
	in := stix.Input{Members: ms, Records: recs, BaseURL: base}
	// The originals of amendments from since on: their TLP bounds the new
	// versions' markings.
	missing, err := stix.MissingOriginals(recs)
	if err != nil {
		return stix.Input{}, err
	}
	for _, id := range missing {
		orig, err := v.Record(id)
		if err != nil {
			return stix.Input{}, err
		}
		if orig != nil {
			in.Amended = append(in.Amended, orig)
		}
	}
	if g, err := s.chain.Genesis(r.Context()); err == nil && g.Genesis != nil {
		in.ChainID, in.GenesisTime = g.Genesis.ChainID, g.Genesis.GenesisTime
	}
	h := v.Version()
	if cm, err := s.chain.Commit(r.Context(), &h); err == nil && cm.SignedHeader.Header != nil {
		in.At = cm.SignedHeader.Header.Time
	}
	return in, nil
}

// writeStatusError writes a gRPC status error (as the Server's methods
// return them) with its HTTP status and details, like the gateway.
func writeStatusError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	bz, merr := jsonMarshaler.Marshal(st.Proto())
	if merr != nil {
		bz = []byte(`{"code":13,"message":"failed to marshal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	w.Write(bz)
}
