package api

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cometbft/cometbft/mempool"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// BroadcastTx implements LedgerService. Rejections are errors carrying the
// ledger code (and the response, for its hash and log) in their details.
func (s *Server) BroadcastTx(ctx context.Context, req *pb.BroadcastTxRequest) (*pb.BroadcastTxResponse, error) {
	if len(req.Tx) == 0 {
		return nil, badRequest(ledger.CodeTxDecode, "tx is required (base64 in JSON)")
	}
	tx := cmttypes.Tx(req.Tx)
	out := &pb.BroadcastTxResponse{Hash: strings.ToUpper(hex.EncodeToString(tx.Hash())), RecordId: ledger.RecordID(req.Tx)}
	switch req.Mode {
	case pb.BroadcastMode_BROADCAST_MODE_UNSPECIFIED, pb.BroadcastMode_BROADCAST_MODE_SYNC:
		res, err := s.chain.BroadcastTxSync(ctx, tx)
		if err != nil {
			return nil, broadcastFailure(err)
		}
		out.Code, out.Codespace, out.Log = res.Code, res.Codespace, res.Log
	case pb.BroadcastMode_BROADCAST_MODE_COMMIT:
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		res, err := s.chain.BroadcastTxCommit(ctx, tx)
		if err != nil {
			return nil, broadcastFailure(err)
		}
		out.Code, out.Codespace, out.Log = res.CheckTx.Code, res.CheckTx.Codespace, res.CheckTx.Log
		if out.Code == 0 {
			out.Code, out.Codespace, out.Log, out.Height = res.TxResult.Code, res.TxResult.Codespace, res.TxResult.Log, res.Height
		}
	default:
		return nil, badRequest(ledger.CodeBadEnum, fmt.Sprintf("unknown broadcast mode %d", req.Mode))
	}
	if out.Code != 0 {
		lc := ledger.Code(out.Code)
		st := status.New(grpcCode(lc), out.Log)
		if d, err := st.WithDetails(errorInfo(lc), out); err == nil {
			st = d
		}
		return nil, st.Err()
	}
	return out, nil
}

// broadcastFailure answers a broadcast CometBFT refused before CheckTx
// ran: the mempool's own checks (size, cache, capacity). The in-process
// client hands BroadcastTxSync's mempool error back as it is, so it is
// matched by type; BroadcastTxCommit flattens it into a message of its own
// ("error on broadcastTxCommit: %v"), so there only its text is left, and
// that is matched with the text the mempool's error types write.
func broadcastFailure(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return apiError(codes.DeadlineExceeded, ledger.CodeInternal, "timed out waiting for the transaction to commit; it may still be included")
	}
	msg := err.Error()
	var tooLarge mempool.ErrTxTooLarge
	var preCheck mempool.ErrPreCheck
	switch {
	case errors.Is(err, mempool.ErrTxInCache) || flattened(msg, mempool.ErrTxInCache):
		return apiError(codes.AlreadyExists, ledger.CodeReplay, "this transaction was already submitted")
	// A CometBFT node's only pre-check is the block's size limit
	// (state.TxPreCheck): a tx that fails it is too large too.
	case errors.As(err, &tooLarge) || errors.As(err, &preCheck) ||
		flattened(msg, mempool.ErrTxTooLarge{}) || flattened(msg, mempool.ErrPreCheck{Err: errors.New("")}):
		return apiError(codes.InvalidArgument, ledger.CodeTxTooLarge, msg)
	}
	// Anything else (a full mempool above all) is the node's state, not
	// the request's fault.
	return apiError(codes.Unavailable, ledger.CodeUnavailable, msg)
}

// flattened says msg holds the fixed text of mempool error e: its message
// up to the first '.' or ':', where the figures it reports begin.
func flattened(msg string, e error) bool {
	text := e.Error()
	if i := strings.IndexAny(text, ".:"); i > 0 {
		text = text[:i]
	}
	return strings.Contains(msg, text)
}
