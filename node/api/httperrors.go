package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

var jsonMarshaler = &runtime.JSONPb{}

// writeError writes the same JSON error shape the gateway does
// (google.rpc.Status with an ErrorInfo detail).
func writeError(w http.ResponseWriter, httpStatus int, gc codes.Code, lc ledger.Code, msg string) {
	st := status.New(gc, msg)
	if d, err := st.WithDetails(errorInfo(lc)); err == nil {
		st = d
	}
	bz, err := jsonMarshaler.Marshal(st.Proto())
	if err != nil {
		bz = []byte(`{"code":13,"message":"failed to marshal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	w.Write(bz)
}

// errorHandler gives ledger codes their HTTP status where gRPC codes cannot
// (413) and makes sure every error carries an ErrorInfo.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	var info *pb.ErrorInfo
	for _, d := range st.Details() {
		if ei, ok := d.(*pb.ErrorInfo); ok {
			info = ei
		}
	}
	httpStatus := 0
	if b, ok := r.Context().Value(bodyKey{}).(*bodyReader); ok && b.err != nil && !errors.Is(b.err, io.EOF) {
		status, lc, msg := bodyFailure(b.err)
		writeError(w, status, codes.InvalidArgument, lc, msg)
		return
	}
	if info == nil {
		// Errors raised by the gateway itself: unparsable parameters or bodies.
		lc := ledger.CodeBadFormat
		if strings.Contains(st.Message(), "request body too large") {
			lc, httpStatus = ledger.CodeTxTooLarge, http.StatusRequestEntityTooLarge
		}
		if st.Code() != codes.InvalidArgument && httpStatus == 0 {
			lc = ledger.CodeInternal
		}
		msg := st.Message()
		if strings.Contains(msg, "strconv.") || strings.Contains(msg, "parsing time") || strings.Contains(msg, "parsing field") {
			// The edge checks parameters first; this is a safety net that
			// keeps Go's parse messages out of answers.
			msg = "a parameter has a value of the wrong type (see /openapi.json)"
		}
		st = status.New(st.Code(), msg)
		if d, derr := st.WithDetails(errorInfo(lc)); derr == nil {
			st = d
		}
	} else {
		httpStatus = httpOverride(ledger.Code(info.Code))
	}
	err = st.Err()
	if httpStatus != 0 {
		err = &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	gc := codes.NotFound
	msg := "no such endpoint: " + r.URL.Path
	if httpStatus == http.StatusMethodNotAllowed {
		gc, msg = codes.Unimplemented, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path)
	} else if httpStatus == http.StatusBadRequest {
		gc, msg = codes.InvalidArgument, "bad request path"
	}
	st := status.New(gc, msg)
	if d, err := st.WithDetails(errorInfo(ledger.CodeNoRoute)); err == nil {
		st = d
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: st.Err()})
}
