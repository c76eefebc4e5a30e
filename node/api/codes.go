package api

import (
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// grpcCode maps a ledger result code to a gRPC code (and so, through
// grpc-gateway, to an HTTP status). This is the only such mapping.
func grpcCode(c ledger.Code) codes.Code {
	switch c {
	case ledger.CodeOK:
		return codes.OK
	case ledger.CodeInternal:
		return codes.Internal
	case ledger.CodeBadSignature, ledger.CodeUnknownSigner, ledger.CodeUnknownKey, ledger.CodeKeyInactive, ledger.CodeCoSignature:
		return codes.Unauthenticated
	case ledger.CodeClassNotAllowed, ledger.CodeNotAuthor, ledger.CodeNotRecipient, ledger.CodeMemberInactive, ledger.CodeNotCaseParty,
		ledger.CodeOrderNotEntitled, ledger.CodeNotApproved, ledger.CodeAttributionNotAllowed, ledger.CodeNotAssessor:
		return codes.PermissionDenied
	case ledger.CodeReplay, ledger.CodeSequenceGap, ledger.CodeDuplicateRecord:
		return codes.AlreadyExists
	case ledger.CodeUnknownRecord, ledger.CodeUnknownMember, ledger.CodeUnknownCase, ledger.CodeUnknownOrder:
		return codes.FailedPrecondition // a tx refers to something absent: the request, not the URL, is wrong
	}
	return codes.InvalidArgument
}

// httpOverride gives HTTP statuses that no gRPC code maps to.
func httpOverride(c ledger.Code) int {
	if c == ledger.CodeTxTooLarge {
		return http.StatusRequestEntityTooLarge
	}
	return 0
}

// HTTPStatus is the HTTP status of a REST error whose gRPC code comes from
// ledger code c through grpcCode: what a transaction rejected with c gets
// from POST /v1/txs. Errors the API raises with a gRPC code or HTTP status
// of their own (a read of something absent, the rate limit...) do not go
// through grpcCode; ErrorHTTPStatus gives the status of the former.
// docs/verifying.md tabulates both (TestVerifyingCodeTable).
func HTTPStatus(c ledger.Code) int { return ErrorHTTPStatus(grpcCode(c), c) }

// ErrorHTTPStatus is the HTTP status of a REST error raised with gRPC code
// gc and carrying ledger code c, as errorHandler answers it: c's override
// if it has one, else grpc-gateway's status for gc.
func ErrorHTTPStatus(gc codes.Code, c ledger.Code) int {
	if s := httpOverride(c); s != 0 {
		return s
	}
	return runtime.HTTPStatusFromCode(gc)
}

func errorInfo(c ledger.Code) *pb.ErrorInfo {
	return &pb.ErrorInfo{Code: uint32(c), Codespace: ledger.Codespace, CodeName: c.String()}
}

// apiError builds a status error with the ledger code attached as details.
func apiError(gc codes.Code, lc ledger.Code, msg string) error {
	st := status.New(gc, msg)
	if d, err := st.WithDetails(errorInfo(lc)); err == nil {
		st = d
	}
	return st.Err()
}

func badRequest(lc ledger.Code, msg string) error { return apiError(codes.InvalidArgument, lc, msg) }

func internal(err error) error {
	return apiError(codes.Internal, ledger.CodeInternal, err.Error())
}

// notFound is NOT_FOUND with the ledger code and, as further details, the
// (proof-carrying) response describing the absence.
func notFound(c ledger.Code, msg string, absence proto.Message) error {
	st := status.New(codes.NotFound, msg)
	details := []protoadapt.MessageV1{protoadapt.MessageV1Of(errorInfo(c))}
	if absence != nil {
		details = append(details, protoadapt.MessageV1Of(absence))
	}
	if d, err := st.WithDetails(details...); err == nil {
		st = d
	}
	return st.Err()
}
