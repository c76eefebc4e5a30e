// Package client talks to a normledger node's REST API: status, members,
// records (with proofs), broadcasting signed transactions, raw proofs and
// light blocks. It builds and signs transactions for the CLI, tests and the
// testnet tools. It verifies nothing by itself: package verifiers does.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ErrNotFound matches (errors.Is) an APIError for a missing record or member.
var ErrNotFound = errors.New("not found")

// APIError is a non-2xx answer: the HTTP status, the ledger result code and
// the error details (for a missing record with prove=true, the
// GetRecordResponse carrying the non-membership proof).
type APIError struct {
	HTTPStatus int
	Code       ledger.Code
	Message    string
	Details    []proto.Message
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d, code %d): %s", e.Code, e.HTTPStatus, e.Code, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) true for missing records and members.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.HTTPStatus == http.StatusNotFound &&
		(e.Code == ledger.CodeUnknownRecord || e.Code == ledger.CodeUnknownMember)
}

// Client is a REST client; safe for concurrent use.
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client for a node's REST API, e.g. http://127.0.0.1:1317
// ("tcp://" and bare host:port are accepted).
func New(addr string) (*Client, error) {
	base := strings.TrimRight(addr, "/")
	switch {
	case strings.HasPrefix(base, "tcp://"):
		base = "http://" + strings.TrimPrefix(base, "tcp://")
	case !strings.Contains(base, "://"):
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("node address %q: want http(s)://host:port", addr)
	}
	return &Client{base: base, hc: &http.Client{Timeout: 60 * time.Second}}, nil
}

// Base is the API's base URL.
func (c *Client) Base() string { return c.base }

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body proto.Message, out proto.Message) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		bz, err := protojson.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(bz)
	}
	var resp *http.Response
	var bz []byte
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err = c.hc.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		bz, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s %s: read body: %w", method, path, err)
		}
		// A read over the node's rate limit waits as told and tries again
		// (reads are idempotent); writes are never resent.
		if resp.StatusCode != http.StatusTooManyRequests || method != http.MethodGet || attempt >= 60 {
			break
		}
		wait := time.Second
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 && n <= 30 {
			wait = time.Duration(n) * time.Second
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: rate limited: %w", method, path, ctx.Err())
		case <-time.After(wait):
		}
	}
	if resp.StatusCode/100 != 2 {
		return decodeError(resp.StatusCode, bz)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(bz, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func decodeError(httpStatus int, bz []byte) error {
	e := &APIError{HTTPStatus: httpStatus, Code: ledger.CodeInternal, Message: strings.TrimSpace(string(bz))}
	st := new(spb.Status)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(bz, st); err != nil {
		return e
	}
	e.Message = st.Message
	for _, a := range st.Details {
		m, err := a.UnmarshalNew()
		if err != nil {
			continue
		}
		if info, ok := m.(*pb.ErrorInfo); ok {
			e.Code = ledger.Code(info.Code)
			continue
		}
		e.Details = append(e.Details, m)
	}
	return e
}

// Status returns the node's status.
func (c *Client) Status(ctx context.Context) (*pb.StatusResponse, error) {
	out := new(pb.StatusResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/status", nil, nil, out)
}

// ChainID asks the node which chain it serves.
func (c *Client) ChainID(ctx context.Context) (string, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return "", err
	}
	return st.ChainId, nil
}

func heightQuery(height int64, prove bool) url.Values {
	q := url.Values{}
	if height > 0 {
		q.Set("height", strconv.FormatInt(height, 10))
	}
	if prove {
		q.Set("prove", "true")
	}
	return q
}

// listQuery is a listing's query: height and prove, the filters given (not
// empty), a positive limit and the times given (RFC 3339, UTC).
func listQuery(height int64, prove bool, limit uint32, filters map[string]string, times map[string]*timestamppb.Timestamp) url.Values {
	q := heightQuery(height, prove)
	for k, v := range filters {
		if v != "" {
			q.Set(k, v)
		}
	}
	if limit > 0 {
		q.Set("limit", strconv.FormatUint(uint64(limit), 10))
	}
	for k, t := range times {
		if t != nil {
			q.Set(k, t.AsTime().UTC().Format(time.RFC3339Nano))
		}
	}
	return q
}

// GetMember fetches a member at height (0 = newest attested), optionally with its proof.
func (c *Client) GetMember(ctx context.Context, id string, height int64, prove bool) (*pb.GetMemberResponse, error) {
	out := new(pb.GetMemberResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/members/"+url.PathEscape(id), heightQuery(height, prove), nil, out)
}

// Member fetches one member.
func (c *Client) Member(ctx context.Context, id string) (*pb.Member, error) {
	r, err := c.GetMember(ctx, id, 0, false)
	if err != nil {
		return nil, err
	}
	return r.Member, nil
}

// Members lists the member registry.
func (c *Client) Members(ctx context.Context) ([]*pb.Member, error) {
	out := new(pb.ListMembersResponse)
	if err := c.do(ctx, http.MethodGet, "/v1/members", nil, nil, out); err != nil {
		return nil, err
	}
	return out.Members, nil
}

// NextSequence returns the sequence member's next transaction must carry.
func (c *Client) NextSequence(ctx context.Context, member string) (uint64, error) {
	r, err := c.GetMember(ctx, member, 0, false)
	if err != nil {
		return 0, err
	}
	return r.NextSequence, nil
}

// GetRecord fetches a record at height (0 = newest attested), optionally with proofs.
func (c *Client) GetRecord(ctx context.Context, id string, height int64, prove bool) (*pb.GetRecordResponse, error) {
	out := new(pb.GetRecordResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/records/"+url.PathEscape(id), heightQuery(height, prove), nil, out)
}

// GetLog fetches the record log's size and root at height (0: newest
// attested), with prove its meta/log proof.
func (c *Client) GetLog(ctx context.Context, height int64, prove bool) (*pb.GetLogResponse, error) {
	out := new(pb.GetLogResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/log", heightQuery(height, prove), nil, out)
}

// GetLogConsistency fetches a consistency proof between two log sizes.
func (c *Client) GetLogConsistency(ctx context.Context, first, second uint64) (*pb.GetLogConsistencyResponse, error) {
	q := url.Values{}
	q.Set("first", strconv.FormatUint(first, 10))
	q.Set("second", strconv.FormatUint(second, 10))
	out := new(pb.GetLogConsistencyResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/log/consistency", q, nil, out)
}

// ListCheckpoints lists published checkpoints (newest first) at or below
// height before (0: any).
func (c *Client) ListCheckpoints(ctx context.Context, before int64, limit int) (*pb.ListCheckpointsResponse, error) {
	q := url.Values{}
	if before > 0 {
		q.Set("before_height", strconv.FormatInt(before, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	out := new(pb.ListCheckpointsResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/checkpoints", q, nil, out)
}

// Record fetches a record by id.
func (c *Client) Record(ctx context.Context, id string) (*pb.StoredRecord, error) {
	r, err := c.GetRecord(ctx, id, 0, false)
	if err != nil {
		return nil, err
	}
	return r.Record, nil
}

// Records lists records matching req.
func (c *Client) Records(ctx context.Context, req *pb.ListRecordsRequest) (*pb.ListRecordsResponse, error) {
	if req == nil {
		req = &pb.ListRecordsRequest{}
	}
	q := listQuery(req.Height, req.Prove, req.Limit, map[string]string{"kind": req.Kind, "author": req.Author, "subject": req.Subject,
		"sector": req.Sector, "page_token": req.PageToken}, map[string]*timestamppb.Timestamp{"from_time": req.FromTime, "to_time": req.ToTime})
	out := new(pb.ListRecordsResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/records", q, nil, out)
}

// Proof fetches the raw proof of a state key.
func (c *Client) Proof(ctx context.Context, key []byte, height int64) (*pb.GetProofResponse, error) {
	q := heightQuery(height, false)
	q.Set("key", fmt.Sprintf("%x", key))
	out := new(pb.GetProofResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/proofs", q, nil, out)
}

// LightBlock fetches a signed header and validator set (0 = latest).
func (c *Client) LightBlock(ctx context.Context, height int64) (*cmttypes.LightBlock, error) {
	out := new(pb.GetLightBlockResponse)
	if err := c.do(ctx, http.MethodGet, "/v1/light_blocks/"+strconv.FormatInt(height, 10), nil, nil, out); err != nil {
		return nil, err
	}
	lbp := new(cmtproto.LightBlock)
	if err := lbp.Unmarshal(out.LightBlock); err != nil {
		return nil, fmt.Errorf("light block %d: %w", height, err)
	}
	lb, err := cmttypes.LightBlockFromProto(lbp)
	if err != nil {
		return nil, fmt.Errorf("light block %d: %w", height, err)
	}
	return lb, nil
}

// Result is the outcome of a broadcast.
type Result struct {
	ID        string      `json:"id"`
	Code      ledger.Code `json:"code"`
	Log       string      `json:"log,omitempty"`
	Height    int64       `json:"height,omitempty"`
	Committed bool        `json:"committed"`
}

// Rejected reports whether the ledger refused the transaction.
func (r Result) Rejected() bool { return r.Code != ledger.CodeOK }

// Broadcast submits raw tx bytes. With commit it waits for the block;
// otherwise it returns after CheckTx. A rejection is a Result with its code,
// not an error; errors are transport or server failures.
func (c *Client) Broadcast(ctx context.Context, tx []byte, commit bool) (Result, error) {
	mode := pb.BroadcastMode_BROADCAST_MODE_SYNC
	if commit {
		mode = pb.BroadcastMode_BROADCAST_MODE_COMMIT
	}
	res := Result{ID: ledger.RecordID(tx)}
	out := new(pb.BroadcastTxResponse)
	err := c.do(ctx, http.MethodPost, "/v1/txs", nil, &pb.BroadcastTxRequest{Tx: tx, Mode: mode}, out)
	var ae *APIError
	if errors.As(err, &ae) && ae.HTTPStatus/100 == 4 && ae.Code != ledger.CodeInternal {
		res.Code, res.Log = ae.Code, ae.Message
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.Code, res.Log, res.Height = ledger.Code(out.Code), out.Log, out.Height
	res.Committed = commit && out.Code == 0
	return res, nil
}

// Submit signs rec as signer (with co-signers), using the node's chain id and
// the signer's next sequence, and broadcasts it.
func (c *Client) Submit(ctx context.Context, rec *pb.Record, signer ledger.Signer, coSigners []ledger.Signer, commit bool) (Result, error) {
	tx, err := c.Sign(ctx, rec, signer, coSigners)
	if err != nil {
		return Result{}, err
	}
	return c.Broadcast(ctx, tx, commit)
}

// Sign builds the signed tx bytes for rec without broadcasting. A record
// without client_time gets the current time.
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

// WaitHeight polls until the node's latest block reaches h.
func (c *Client) WaitHeight(ctx context.Context, h int64) (int64, error) {
	for {
		st, err := c.Status(ctx)
		if err == nil && st.LatestHeight >= h {
			return st.LatestHeight, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return 0, fmt.Errorf("waiting for height %d: %w (last error: %v)", h, ctx.Err(), err)
			}
			return 0, fmt.Errorf("waiting for height %d: %w", h, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LedgerCode returns the ledger result code (for verifiers' error checks).
func (e *APIError) LedgerCode() ledger.Code { return e.Code }

// ErrorDetails returns the error's details other than the ErrorInfo.
func (e *APIError) ErrorDetails() []proto.Message { return e.Details }

// WaitAttested polls until the node attests state height h (its header h+1
// exists), so that reads at the default height include what h committed.
func (c *Client) WaitAttested(ctx context.Context, h int64) error {
	for {
		st, err := c.Status(ctx)
		if err == nil && st.LatestAttestedHeight >= h {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for height %d to be attested: %w", h, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Obligations lists obligations matching req.
func (c *Client) Obligations(ctx context.Context, req *pb.ListObligationsRequest) (*pb.ListObligationsResponse, error) {
	q := listQuery(req.Height, req.Prove, req.Limit, map[string]string{"debtor": req.Debtor, "creditor": req.Creditor, "pledge": req.Pledge,
		"status": req.Status, "page_token": req.PageToken}, map[string]*timestamppb.Timestamp{"due_before": req.DueBefore})
	out := new(pb.ListObligationsResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/obligations", q, nil, out)
}

// Obligation fetches one obligation.
func (c *Client) Obligation(ctx context.Context, id string, height int64, prove bool) (*pb.GetObligationResponse, error) {
	out := new(pb.GetObligationResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/obligations/"+url.PathEscape(id), heightQuery(height, prove), nil, out)
}

// Evidence fetches one piece of evidence of validator misbehaviour.
func (c *Client) Evidence(ctx context.Context, id string, height int64, prove bool) (*pb.GetEvidenceResponse, error) {
	out := new(pb.GetEvidenceResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/evidence/"+url.PathEscape(id), heightQuery(height, prove), nil, out)
}

// EvidenceList lists the evidence committed so far (of member, if set).
func (c *Client) EvidenceList(ctx context.Context, member string, height int64, prove bool) (*pb.ListEvidenceResponse, error) {
	q := heightQuery(height, prove)
	if member != "" {
		q.Set("member", member)
	}
	out := new(pb.ListEvidenceResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/evidence", q, nil, out)
}

// MemberCompliance fetches a member's compliance figures at height (0 = newest attested).
func (c *Client) MemberCompliance(ctx context.Context, member string, height int64) (*pb.GetMemberComplianceResponse, error) {
	out := new(pb.GetMemberComplianceResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/compliance/"+url.PathEscape(member), heightQuery(height, false), nil, out)
}

// PledgeCompliance fetches a pledge's compliance figures.
func (c *Client) PledgeCompliance(ctx context.Context, id string, height int64) (*pb.GetPledgeComplianceResponse, error) {
	out := new(pb.GetPledgeComplianceResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/pledges/"+url.PathEscape(id)+"/compliance", heightQuery(height, false), nil, out)
}

// SealedNotice fetches who a sealed record was sent to and who confirmed receipt.
func (c *Client) SealedNotice(ctx context.Context, id string, height int64) (*pb.GetSealedNoticeResponse, error) {
	out := new(pb.GetSealedNoticeResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/sealed/"+url.PathEscape(id), heightQuery(height, false), nil, out)
}

// Block fetches a block's transactions.
func (c *Client) Block(ctx context.Context, height int64) (*pb.GetBlockResponse, error) {
	out := new(pb.GetBlockResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/blocks/"+strconv.FormatInt(height, 10), nil, nil, out)
}

// Genesis fetches the genesis document (JSON).
func (c *Client) Genesis(ctx context.Context) ([]byte, error) {
	out := new(pb.GetGenesisResponse)
	if err := c.do(ctx, http.MethodGet, "/v1/genesis", nil, nil, out); err != nil {
		return nil, err
	}
	return out.GenesisJson, nil
}

// Proposals lists governance proposals (status: voting, passed, ...; "" = all).
func (c *Client) Proposals(ctx context.Context, req *pb.ListProposalsRequest) (*pb.ListProposalsResponse, error) {
	q := listQuery(req.Height, req.Prove, req.Limit, map[string]string{"status": req.Status, "page_token": req.PageToken}, nil)
	out := new(pb.ListProposalsResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/proposals", q, nil, out)
}

// Proposal fetches one proposal with its votes.
func (c *Client) Proposal(ctx context.Context, id string, height int64, prove bool) (*pb.GetProposalResponse, error) {
	out := new(pb.GetProposalResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/proposals/"+url.PathEscape(id), heightQuery(height, prove), nil, out)
}

// GovernanceRules fetches the rules and params in force.
func (c *Client) GovernanceRules(ctx context.Context, height int64, prove bool) (*pb.GetGovernanceRulesResponse, error) {
	out := new(pb.GetGovernanceRulesResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/governance/rules", heightQuery(height, prove), nil, out)
}

// ListMembers lists the member registry at height (0 = newest attested).
func (c *Client) ListMembers(ctx context.Context, height int64, prove bool) (*pb.ListMembersResponse, error) {
	out := new(pb.ListMembersResponse)
	return out, c.do(ctx, http.MethodGet, "/v1/members", heightQuery(height, prove), nil, out)
}

// Stream GETs path with query q and returns the answer's body to read
// (a bulk export: ?format=jsonl or csv); an error answer is decoded.
func (c *Client) Stream(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	// No overall timeout: a bulk export streams for as long as it has
	// pages (ctx bounds it).
	hc := *c.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		bz, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		return nil, decodeError(resp.StatusCode, bz)
	}
	return resp.Body, nil
}
