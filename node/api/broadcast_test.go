package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/mempool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// commitFlattened is how CometBFT v0.38's BroadcastTxCommit hands back a
// mempool error (rpc/core/mempool.go): as text only.
func commitFlattened(err error) error { return fmt.Errorf("error on broadcastTxCommit: %v", err) }

// The mempool's refusals get their ledger code and HTTP status in both
// broadcast modes: BroadcastTxSync returns CometBFT's error values as they
// are, BroadcastTxCommit only their text. A tx over the mempool's size
// limit (or the block's, the node's pre-check) is 413 tx_too_large.
func TestMempoolRefusals(t *testing.T) {
	l := newTestLedger(t)
	chain := &fakeChain{}
	svc := l.server(chain)
	h, err := Handler(Config{MaxBodyBytes: 1 << 20}, svc)
	if err != nil {
		t.Fatal(err)
	}
	tooLarge := mempool.ErrTxTooLarge{Max: 1024, Actual: 4096}
	for _, tc := range []struct {
		name   string
		err    error
		gc     codes.Code
		code   ledger.Code
		status int
		says   string
	}{
		{"tx too large", tooLarge, codes.InvalidArgument, ledger.CodeTxTooLarge, 413, "Tx too large. Max size is 1024, but got 4096"},
		{"tx too large for a block", mempool.ErrPreCheck{Err: errors.New("tx size is too big: 4096, max: 1024")}, codes.InvalidArgument, ledger.CodeTxTooLarge, 413, "tx size is too big"},
		{"tx in cache", mempool.ErrTxInCache, codes.AlreadyExists, ledger.CodeReplay, 409, "already submitted"},
		{"mempool full", mempool.ErrMempoolIsFull{NumTxs: 5000, MaxTxs: 5000}, codes.Unavailable, ledger.CodeUnavailable, 503, "mempool is full"},
		{"mempool rechecking", mempool.ErrRecheckFull, codes.Unavailable, ledger.CodeUnavailable, 503, "rechecking"},
		{"something else", errors.New("the app connection broke"), codes.Unavailable, ledger.CodeUnavailable, 503, "broke"},
	} {
		for _, mode := range []pb.BroadcastMode{pb.BroadcastMode_BROADCAST_MODE_SYNC, pb.BroadcastMode_BROADCAST_MODE_COMMIT} {
			what := tc.name + " " + mode.String()
			chain.syncErr, chain.commitErr = tc.err, commitFlattened(tc.err)
			tx := []byte("any bytes: the mempool refuses them before CheckTx")
			_, err := svc.BroadcastTx(context.Background(), &pb.BroadcastTxRequest{Tx: tx, Mode: mode})
			st := status.Convert(err)
			if st.Code() != tc.gc || len(st.Details()) != 1 || st.Details()[0].(*pb.ErrorInfo).Code != uint32(tc.code) {
				t.Errorf("%s: gRPC %v %v, want %v with %s", what, st.Code(), st.Details(), tc.gc, tc.code)
			}
			body := fmt.Sprintf(`{"tx":%q,"mode":%q}`, base64.StdEncoding.EncodeToString(tx), mode)
			w := serve(h, http.MethodPost, "/v1/txs", "", strings.NewReader(body))
			if msg := wantRecorded(t, what, w, tc.status, tc.code); !strings.Contains(msg, tc.says) {
				t.Errorf("%s: message %q does not say %q", what, msg, tc.says)
			}
		}
	}
	// A wait for the commit that ran out is 504, not the client's fault.
	chain.commitErr = fmt.Errorf("broadcast confirmation not received: %w", context.DeadlineExceeded)
	w := serve(h, http.MethodPost, "/v1/txs", "", strings.NewReader(`{"tx":"AAAA","mode":"BROADCAST_MODE_COMMIT"}`))
	wantRecorded(t, "commit timed out", w, 504, ledger.CodeInternal)
}

// A tx the ledger itself finds too large (params.max_tx_bytes, in CheckTx)
// is 413 tx_too_large as well, with the broadcast response in the details.
func TestCheckTxTooLarge(t *testing.T) {
	l := newTestLedger(t)
	chain := &fakeChain{checkTx: abci.ResponseCheckTx{Code: uint32(ledger.CodeTxTooLarge), Codespace: ledger.Codespace, Log: "tx is 70000 bytes, limit 65535"}}
	h, err := Handler(Config{MaxBodyBytes: 1 << 20}, l.server(chain))
	if err != nil {
		t.Fatal(err)
	}
	w := serve(h, http.MethodPost, "/v1/txs", "", strings.NewReader(`{"tx":"AAAA"}`))
	if msg := wantRecorded(t, "CheckTx tx_too_large", w, 413, ledger.CodeTxTooLarge); msg != "tx is 70000 bytes, limit 65535" {
		t.Errorf("message %q", msg)
	}
	if !strings.Contains(w.Body.String(), "normledger.v1.BroadcastTxResponse") {
		t.Errorf("no broadcast response in the details: %s", w.Body.String())
	}
}
