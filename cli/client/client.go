// Package client talks to a normledger node over CometBFT RPC: it reads the
// chain id and sequences, builds and signs transactions, broadcasts them and
// runs ABCI queries. It is used by the CLI, tests and the testnet tools.
package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ErrNotFound is returned when the queried record or member does not exist.
var ErrNotFound = errors.New("not found")

// Client is a normledger RPC client; safe for concurrent use.
type Client struct {
	rpc *rpchttp.HTTP
}

// New connects to a CometBFT RPC endpoint such as tcp://127.0.0.1:26657.
func New(addr string) (*Client, error) {
	c, err := rpchttp.NewWithTimeout(addr, "/websocket", 30)
	if err != nil {
		return nil, fmt.Errorf("rpc client for %s: %w", addr, err)
	}
	return &Client{rpc: c}, nil
}

// RPC exposes the underlying CometBFT client.
func (c *Client) RPC() *rpchttp.HTTP { return c.rpc }

// ChainID asks the node which chain it serves.
func (c *Client) ChainID(ctx context.Context) (string, error) {
	st, err := c.rpc.Status(ctx)
	if err != nil {
		return "", fmt.Errorf("node status: %w", err)
	}
	return st.NodeInfo.Network, nil
}

// QueryError is a non-zero ABCI query result.
type QueryError struct {
	Code ledger.Code
	Log  string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("query failed: %s (code %d): %s", e.Code, e.Code, e.Log)
}

func (c *Client) query(ctx context.Context, path string, data []byte) ([]byte, int64, error) {
	res, err := c.rpc.ABCIQuery(ctx, path, data)
	if err != nil {
		return nil, 0, fmt.Errorf("abci query %s: %w", path, err)
	}
	r := res.Response
	if r.Code != 0 {
		qe := &QueryError{Code: ledger.Code(r.Code), Log: r.Log}
		if qe.Code == ledger.CodeUnknownRecord || qe.Code == ledger.CodeUnknownMember {
			return nil, r.Height, fmt.Errorf("%w: %s", ErrNotFound, r.Log)
		}
		return nil, r.Height, qe
	}
	return r.Value, r.Height, nil
}

// NextSequence returns the sequence member's next transaction must carry.
func (c *Client) NextSequence(ctx context.Context, member string) (uint64, error) {
	bz, _, err := c.query(ctx, "/sequence/"+member, nil)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(bz), 10, 64)
}

// Record fetches a record by id.
func (c *Client) Record(ctx context.Context, id string) (*pb.StoredRecord, error) {
	bz, _, err := c.query(ctx, "/record/"+id, nil)
	if err != nil {
		return nil, err
	}
	r := new(pb.StoredRecord)
	if err := proto.Unmarshal(bz, r); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	return r, nil
}

// Records lists records matching req.
func (c *Client) Records(ctx context.Context, req *pb.ListRecordsRequest) (*pb.ListRecordsResponse, error) {
	data, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	bz, _, err := c.query(ctx, "/records", data)
	if err != nil {
		return nil, err
	}
	out := new(pb.ListRecordsResponse)
	return out, proto.Unmarshal(bz, out)
}

// Members lists the member registry.
func (c *Client) Members(ctx context.Context) ([]*pb.Member, error) {
	bz, _, err := c.query(ctx, "/members", nil)
	if err != nil {
		return nil, err
	}
	out := new(pb.MemberList)
	if err := proto.Unmarshal(bz, out); err != nil {
		return nil, err
	}
	return out.Members, nil
}

// Member fetches one member.
func (c *Client) Member(ctx context.Context, id string) (*pb.Member, error) {
	bz, _, err := c.query(ctx, "/member/"+id, nil)
	if err != nil {
		return nil, err
	}
	out := new(pb.Member)
	return out, proto.Unmarshal(bz, out)
}

// Result is the outcome of a broadcast.
type Result struct {
	ID     string      `json:"id"`
	Code   ledger.Code `json:"code"`
	Log    string      `json:"log,omitempty"`
	Height int64       `json:"height,omitempty"`
	// Committed is true when the tx was included in a block (commit mode).
	Committed bool `json:"committed"`
}

// Rejected reports whether the ledger refused the transaction.
func (r Result) Rejected() bool { return r.Code != ledger.CodeOK }

// Broadcast submits raw tx bytes. With commit it waits for the block;
// otherwise it returns after CheckTx.
func (c *Client) Broadcast(ctx context.Context, tx []byte, commit bool) (Result, error) {
	id := ledger.RecordID(tx)
	if !commit {
		res, err := c.rpc.BroadcastTxSync(ctx, tx)
		if err != nil {
			return Result{ID: id}, fmt.Errorf("broadcast: %w", err)
		}
		return Result{ID: id, Code: ledger.Code(res.Code), Log: res.Log}, nil
	}
	res, err := c.rpc.BroadcastTxCommit(ctx, tx)
	if err != nil {
		return Result{ID: id}, fmt.Errorf("broadcast: %w", err)
	}
	if res.CheckTx.Code != 0 {
		return Result{ID: id, Code: ledger.Code(res.CheckTx.Code), Log: res.CheckTx.Log}, nil
	}
	return Result{ID: id, Code: ledger.Code(res.TxResult.Code), Log: res.TxResult.Log, Height: res.Height, Committed: res.TxResult.Code == 0}, nil
}

// Submit signs rec as signer (with co-signers), using the node's chain id and
// the signer's next sequence, and broadcasts it. A record without
// client_time gets the current time.
func (c *Client) Submit(ctx context.Context, rec *pb.Record, signer ledger.Signer, coSigners []ledger.Signer, commit bool) (Result, error) {
	tx, err := c.Sign(ctx, rec, signer, coSigners)
	if err != nil {
		return Result{}, err
	}
	return c.Broadcast(ctx, tx, commit)
}

// Sign builds the signed tx bytes for rec without broadcasting.
func (c *Client) Sign(ctx context.Context, rec *pb.Record, signer ledger.Signer, coSigners []ledger.Signer) ([]byte, error) {
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	seq, err := c.NextSequence(ctx, signer.Member)
	if err != nil {
		return nil, err
	}
	if rec.ClientTime == nil {
		rec.ClientTime = timestamppb.New(time.Now().UTC().Truncate(time.Second))
	}
	return ledger.BuildTx(&pb.TxBody{ChainId: chainID, Sequence: seq, Record: rec}, signer, coSigners...)
}
