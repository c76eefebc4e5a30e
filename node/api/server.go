package api

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/proto/gen/normledger/v1/ledgersvc"
)

// Chain is what the service needs from the consensus engine; an in-process
// CometBFT RPC client (rpc/client/local) provides it.
type Chain interface {
	Status(ctx context.Context) (*coretypes.ResultStatus, error)
	Validators(ctx context.Context, height *int64, page, perPage *int) (*coretypes.ResultValidators, error)
	BroadcastTxSync(ctx context.Context, tx cmttypes.Tx) (*coretypes.ResultBroadcastTx, error)
	BroadcastTxCommit(ctx context.Context, tx cmttypes.Tx) (*coretypes.ResultBroadcastTxCommit, error)
	Commit(ctx context.Context, height *int64) (*coretypes.ResultCommit, error)
	Block(ctx context.Context, height *int64) (*coretypes.ResultBlock, error)
	Genesis(ctx context.Context) (*coretypes.ResultGenesis, error)
}

// Server implements LedgerService. It is safe for concurrent use.
type Server struct {
	ledgersvc.UnimplementedLedgerServiceServer
	checkpoints CheckpointSource
	st          *store.Store
	chain       Chain
	blockHeight func() int64 // latest block in the block store
	reg         *ledger.Registry
	version     string
	genesisFile []byte // the genesis file's exact bytes, when known
}

// SetGenesisFile gives the server the genesis file's exact bytes, so that
// /v1/genesis serves what operators hash and compare.
func (s *Server) SetGenesisFile(bz []byte) { s.genesisFile = bz }

// NewServer builds the service over a store and a chain.
func NewServer(st *store.Store, chain Chain, blockHeight func() int64, version string) *Server {
	return &Server{st: st, chain: chain, blockHeight: blockHeight, reg: ledger.DefaultRegistry(), version: version}
}

// AttestedHeight is the newest state height whose app hash is in a header:
// header H+1 carries the app hash of state H.
func (s *Server) AttestedHeight() int64 {
	h := s.blockHeight() - 1
	if v := s.st.Version(); v < h {
		h = v
	}
	return h
}

// view opens the state at height (0 = newest attested).
func (s *Server) view(height int64) (*store.View, error) {
	if height < 0 {
		return nil, badRequest(ledger.CodeBadFormat, "height must not be negative")
	}
	if height == 0 {
		height = s.AttestedHeight()
		if height < 1 {
			return nil, apiError(codes.Unavailable, ledger.CodeUnavailable, "no attested state yet: wait for the second block")
		}
	}
	if latest := s.st.Version(); height > latest {
		return nil, apiError(codes.NotFound, ledger.CodeHeightTooHigh, fmt.Sprintf("height %d is beyond the latest state %d", height, latest))
	}
	v, err := s.st.At(height)
	if errors.Is(err, store.ErrNoVersion) {
		// Pruned (app.toml keep_recent) or never committed.
		return nil, apiError(codes.NotFound, ledger.CodeUnavailable, fmt.Sprintf("state at height %d is not kept by this node: %v", height, err))
	}
	if err != nil {
		return nil, internal(err)
	}
	return v, nil
}

func internal(err error) error {
	return apiError(codes.Internal, ledger.CodeInternal, err.Error())
}

// proofOf proves key (present or absent) in view v.
func proofOf(v *store.View, key []byte) (*pb.Proof, error) { return v.ProofOf(key) }

// proofsOf proves the entries of a listing, in its order.
func proofsOf[T any](v *store.View, items []T, key func(T) []byte) ([]*pb.Proof, error) {
	out := make([]*pb.Proof, 0, len(items))
	for _, it := range items {
		p, err := proofOf(v, key(it))
		if err != nil {
			return nil, internal(err)
		}
		out = append(out, p)
	}
	return out, nil
}

// hexPageToken reads a listing's continuation token (hex of the last key).
func hexPageToken(tok string) ([]byte, error) {
	bz, err := hex.DecodeString(tok)
	if err != nil || len(bz) == 0 || len(bz) > 256 {
		return nil, badRequest(ledger.CodeBadFormat, "page_token is not one this server issued")
	}
	return bz, nil
}

// Status implements LedgerService.
func (s *Server) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	st, err := s.chain.Status(ctx)
	if err != nil {
		return nil, apiError(codes.Unavailable, ledger.CodeUnavailable, err.Error())
	}
	out := &pb.StatusResponse{
		ChainId:              st.NodeInfo.Network,
		NodeId:               string(st.NodeInfo.DefaultNodeID),
		Version:              s.version,
		AppVersion:           st.NodeInfo.ProtocolVersion.App,
		LatestHeight:         st.SyncInfo.LatestBlockHeight,
		LatestBlockTime:      timestamppb.New(st.SyncInfo.LatestBlockTime),
		LatestAttestedHeight: st.SyncInfo.LatestBlockHeight - 1,
		AppHash:              st.SyncInfo.LatestAppHash,
		CatchingUp:           st.SyncInfo.CatchingUp,
		EarliestStateHeight:  s.st.EarliestVersion(),
		StateSyncedFrom:      s.st.RestoredFrom(),
	}
	// The state's version (a software upgrade moves it while the node
	// runs); CometBFT's node info keeps the version it started with.
	if s.st.Version() > 0 {
		if v, err := s.st.At(0); err == nil {
			if us, err := v.Upgrade(); err == nil {
				out.AppVersion = ledger.AppVersionOf(us)
			}
		}
	}
	page, perPage := 1, 100
	vals, err := s.chain.Validators(ctx, nil, &page, &perPage)
	if err != nil {
		return nil, apiError(codes.Unavailable, ledger.CodeUnavailable, err.Error())
	}
	for _, v := range vals.Validators {
		out.Validators = append(out.Validators, &pb.Validator{Address: v.Address, PubKey: v.PubKey.Bytes(), VotingPower: v.VotingPower})
	}
	return out, nil
}

// ListMembers implements LedgerService.
func (s *Server) ListMembers(_ context.Context, req *pb.ListMembersRequest) (*pb.ListMembersResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	ms, err := v.Members()
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.ListMembersResponse{Members: ms, Height: v.Version()}
	if req.Prove {
		if out.Proofs, err = proofsOf(v, ms, func(m *pb.Member) []byte { return layout.Member(m.Id) }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetMember implements LedgerService.
func (s *Server) GetMember(_ context.Context, req *pb.GetMemberRequest) (*pb.GetMemberResponse, error) {
	if !ledger.IsMemberID(req.Id) {
		return nil, badRequest(ledger.CodeBadFormat, fmt.Sprintf("%q is not a member id", req.Id))
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	m, err := v.Member(req.Id)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.GetMemberResponse{Member: m, Height: v.Version()}
	if m != nil {
		latest, err := s.st.At(0)
		if err != nil {
			return nil, internal(err)
		}
		if out.NextSequence, err = latest.NextSequence(req.Id); err != nil {
			return nil, internal(err)
		}
	}
	if req.Prove {
		if out.Proof, err = proofOf(v, layout.Member(req.Id)); err != nil {
			return nil, internal(err)
		}
	}
	if m == nil {
		return nil, notFound(ledger.CodeUnknownMember, fmt.Sprintf("member %q not found at height %d", req.Id, v.Version()), out)
	}
	return out, nil
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

func normaliseID(field, id string) (string, error) {
	id = strings.ToLower(id)
	if !ledger.IsRecordID(id) {
		return "", badRequest(ledger.CodeBadFormat, fmt.Sprintf("%s %q is not 64 hex characters", field, id))
	}
	return id, nil
}

// GetRecord implements LedgerService.
func (s *Server) GetRecord(_ context.Context, req *pb.GetRecordRequest) (*pb.GetRecordResponse, error) {
	id, err := normaliseID("id", req.Id)
	if err != nil {
		return nil, err
	}
	return s.record(id, req.Height, req.Prove)
}

// GetTx implements LedgerService: a committed tx's hash is its record id.
func (s *Server) GetTx(_ context.Context, req *pb.GetTxRequest) (*pb.GetRecordResponse, error) {
	id, err := normaliseID("hash", req.Hash)
	if err != nil {
		return nil, err
	}
	return s.record(id, req.Height, req.Prove)
}

func (s *Server) record(id string, height int64, prove bool) (*pb.GetRecordResponse, error) {
	v, err := s.view(height)
	if err != nil {
		return nil, err
	}
	rec, err := v.Record(id)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.GetRecordResponse{Record: ledger.Readable(rec), Height: v.Version()}
	if rec != nil {
		if out.Flags, err = flags(v, rec); err != nil {
			return nil, internal(err)
		}
	}
	if prove {
		idKey, _ := layout.ID(id)
		p, err := proofOf(v, idKey)
		if err != nil {
			return nil, internal(err)
		}
		out.Proofs = append(out.Proofs, p)
		if rec != nil {
			lp, err := proofOf(v, []byte(layout.KeyLog))
			if err != nil {
				return nil, internal(err)
			}
			out.Proofs = append(out.Proofs, lp)
			index, hashes, err := v.Inclusion(rec.Seq)
			if err != nil {
				return nil, internal(err)
			}
			out.Inclusion = &pb.LogInclusion{LogIndex: index, Hashes: hashes}
		}
	}
	if rec == nil {
		return nil, notFound(ledger.CodeUnknownRecord, fmt.Sprintf("record %s not found at height %d", id, v.Version()), out)
	}
	return out, nil
}

// ListRecords implements LedgerService.
func (s *Server) ListRecords(_ context.Context, req *pb.ListRecordsRequest) (*pb.ListRecordsResponse, error) {
	f := store.Filter{Kind: enum.Short(pb.RecordKind(0).Descriptor(), req.Kind), Author: req.Author, Subject: req.Subject,
		Sector: enum.Short(pb.Sector(0).Descriptor(), req.Sector), Limit: int(req.Limit)}
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Kind != "" && s.reg.KindByName(f.Kind) == nil {
		return nil, badRequest(ledger.CodeBadEnum, fmt.Sprintf("unknown kind %q (%s)", req.Kind, strings.Join(KindNames(), ", ")))
	}
	if f.Sector != "" {
		if _, ok := layout.SectorByName(f.Sector); !ok {
			return nil, badRequest(ledger.CodeBadEnum, fmt.Sprintf("unknown sector %q (%s)", req.Sector, strings.Join(SectorNames(), ", ")))
		}
	}
	for name, id := range map[string]string{"author": f.Author, "subject": f.Subject} {
		if id != "" && !ledger.IsMemberID(id) {
			return nil, badRequest(ledger.CodeBadFormat, fmt.Sprintf("%s %q is not a member id", name, id))
		}
	}
	if req.PageToken != "" {
		n, err := strconv.ParseUint(req.PageToken, 10, 64)
		if err != nil {
			return nil, badRequest(ledger.CodeBadFormat, "page_token is not one this server issued")
		}
		f.After = n
	}
	if req.FromTime != nil {
		if err := req.FromTime.CheckValid(); err != nil {
			return nil, badRequest(ledger.CodeBadTime, "from_time: "+err.Error())
		}
		f.From, f.HasFrom = req.FromTime.AsTime(), true
	}
	if req.ToTime != nil {
		if err := req.ToTime.CheckValid(); err != nil {
			return nil, badRequest(ledger.CodeBadTime, "to_time: "+err.Error())
		}
		f.To, f.HasTo = req.ToTime.AsTime(), true
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	page, err := v.ListPage(f)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.ListRecordsResponse{Height: v.Version()}
	for _, r := range page.Records {
		out.Records = append(out.Records, ledger.Readable(r))
	}
	if out.Flags, err = flags(v, page.Records...); err != nil {
		return nil, internal(err)
	}
	if page.Next != 0 {
		out.NextPageToken = strconv.FormatUint(page.Next, 10)
	}
	if req.Prove {
		if err := v.ProveList(page, out); err != nil {
			return nil, internal(err)
		}
	}
	return out, nil
}

// GetLightBlock implements LedgerService.
func (s *Server) GetLightBlock(ctx context.Context, req *pb.GetLightBlockRequest) (*pb.GetLightBlockResponse, error) {
	if req.Height < 0 {
		return nil, badRequest(ledger.CodeBadFormat, "height must not be negative")
	}
	latest := s.blockHeight()
	h := req.Height
	if h == 0 {
		h = latest
	}
	if h > latest {
		return nil, apiError(codes.NotFound, ledger.CodeHeightTooHigh, fmt.Sprintf("height %d is beyond the latest block %d", h, latest))
	}
	lb, err := LightBlockAt(ctx, s.chain, h)
	if err != nil {
		return nil, apiError(codes.NotFound, ledger.CodeUnavailable, err.Error())
	}
	lbp, err := lb.ToProto()
	if err != nil {
		return nil, internal(err)
	}
	bz, err := lbp.Marshal()
	if err != nil {
		return nil, internal(err)
	}
	return &pb.GetLightBlockResponse{Height: h, LightBlock: bz}, nil
}

// GetProof implements LedgerService.
func (s *Server) GetProof(_ context.Context, req *pb.GetProofRequest) (*pb.GetProofResponse, error) {
	key, err := hex.DecodeString(req.Key)
	if err != nil || len(key) == 0 || len(key) > 1024 {
		return nil, badRequest(ledger.CodeBadFormat, "key must be 1 to 1024 bytes, hex-encoded")
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	p, err := proofOf(v, key)
	if err != nil {
		return nil, internal(err)
	}
	return &pb.GetProofResponse{Height: v.Version(), Proof: p}, nil
}

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

func broadcastFailure(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return apiError(codes.DeadlineExceeded, ledger.CodeInternal, "timed out waiting for the transaction to commit; it may still be included")
	}
	msg := err.Error()
	if strings.Contains(msg, "tx already exists in cache") {
		return apiError(codes.AlreadyExists, ledger.CodeReplay, "this transaction was already submitted")
	}
	if strings.Contains(msg, "mempool is full") {
		return apiError(codes.Unavailable, ledger.CodeUnavailable, msg)
	}
	if strings.Contains(msg, "tx too large") {
		return apiError(codes.InvalidArgument, ledger.CodeTxTooLarge, msg)
	}
	return apiError(codes.Unavailable, ledger.CodeUnavailable, msg)
}

// ListObligations implements LedgerService.
func (s *Server) ListObligations(_ context.Context, req *pb.ListObligationsRequest) (*pb.ListObligationsResponse, error) {
	f := store.ObligationFilter{Debtor: req.Debtor, Creditor: req.Creditor, Pledge: strings.ToLower(req.Pledge), Limit: int(req.Limit)}
	if f.Limit == 0 {
		f.Limit = 50
	}
	for name, id := range map[string]string{"debtor": f.Debtor, "creditor": f.Creditor} {
		if id != "" && !ledger.IsMemberID(id) {
			return nil, badRequest(ledger.CodeBadFormat, fmt.Sprintf("%s %q is not a member id", name, id))
		}
	}
	if f.Pledge != "" && !ledger.IsRecordID(f.Pledge) {
		return nil, badRequest(ledger.CodeBadFormat, "pledge is not a record id")
	}
	if req.Status != "" {
		st, ok := layout.StatusByName(enum.Short(pb.ObligationStatus(0).Descriptor(), req.Status))
		if !ok {
			return nil, badRequest(ledger.CodeBadEnum, fmt.Sprintf("unknown status %q (open, met, met_late, overdue, waived)", req.Status))
		}
		f.Status = st
	}
	if req.DueBefore != nil {
		if err := req.DueBefore.CheckValid(); err != nil || req.DueBefore.Seconds < 0 || req.DueBefore.Seconds >= ledger.MaxTimeSeconds {
			return nil, badRequest(ledger.CodeBadTime, "due_before must be a time between 1970 and 2199")
		}
		f.DueBefore = req.DueBefore.AsTime()
	}
	if req.PageToken != "" {
		tok, err := hexPageToken(req.PageToken)
		if err != nil {
			return nil, err
		}
		f.After = tok
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	obs, next, err := v.Obligations(f)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.ListObligationsResponse{Obligations: obs, Height: v.Version()}
	if next != nil {
		out.NextPageToken = hex.EncodeToString(next)
	}
	if req.Prove {
		if out.Proofs, err = proofsOf(v, obs, func(o *pb.Obligation) []byte { return layout.Obligation(o.Id) }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetObligation implements LedgerService.
func (s *Server) GetObligation(_ context.Context, req *pb.GetObligationRequest) (*pb.GetObligationResponse, error) {
	id := strings.ToLower(req.Id)
	if !ledger.IsObligationID(id) {
		return nil, badRequest(ledger.CodeBadFormat, fmt.Sprintf("%q is not an obligation id (32 hex characters)", req.Id))
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	o, err := v.Obligation(id)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.GetObligationResponse{Obligation: o, Height: v.Version()}
	if req.Prove {
		if out.Proof, err = proofOf(v, layout.Obligation(id)); err != nil {
			return nil, internal(err)
		}
	}
	if o == nil {
		return nil, notFound(ledger.CodeUnknownObligation, fmt.Sprintf("obligation %s not found at height %d", id, v.Version()), out)
	}
	return out, nil
}

// GetMemberCompliance implements LedgerService.
func (s *Server) GetMemberCompliance(_ context.Context, req *pb.GetMemberComplianceRequest) (*pb.GetMemberComplianceResponse, error) {
	if !ledger.IsMemberID(req.Member) {
		return nil, badRequest(ledger.CodeBadFormat, fmt.Sprintf("%q is not a member id", req.Member))
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	m, err := v.Member(req.Member)
	if err != nil {
		return nil, internal(err)
	}
	if m == nil {
		return nil, notFound(ledger.CodeUnknownMember, fmt.Sprintf("member %q not found", req.Member), nil)
	}
	c, err := v.MemberCompliance(req.Member)
	if err != nil {
		return nil, internal(err)
	}
	return &pb.GetMemberComplianceResponse{Compliance: c, Height: v.Version()}, nil
}

// GetPledgeCompliance implements LedgerService.
func (s *Server) GetPledgeCompliance(ctx context.Context, req *pb.GetPledgeComplianceRequest) (*pb.GetPledgeComplianceResponse, error) {
	id, err := normaliseID("id", req.Id)
	if err != nil {
		return nil, err
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	c, err := v.PledgeCompliance(id)
	if err != nil {
		return nil, internal(err)
	}
	if c == nil {
		return nil, notFound(ledger.CodeUnknownRecord, fmt.Sprintf("no pledge %s at height %d", id, v.Version()), nil)
	}
	// The pledge's state at the time of the block at this height.
	h := v.Version()
	cm, err := s.chain.Commit(ctx, &h)
	if err != nil || cm.SignedHeader.Header == nil {
		return nil, apiError(codes.Unavailable, ledger.CodeUnavailable, fmt.Sprintf("no header at height %d: %v", h, err))
	}
	rec, err := v.Record(id)
	if err != nil {
		return nil, internal(err)
	}
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		return nil, internal(err)
	}
	c.State = ledger.PledgeStateAt(tx.Body.Record.GetPledge(), cm.SignedHeader.Header.Time)
	c.StateTime = timestamppb.New(cm.SignedHeader.Header.Time)
	return &pb.GetPledgeComplianceResponse{Compliance: c, Height: h}, nil
}

// GetBlock implements LedgerService.
func (s *Server) GetBlock(ctx context.Context, req *pb.GetBlockRequest) (*pb.GetBlockResponse, error) {
	if req.Height <= 0 {
		return nil, badRequest(ledger.CodeBadFormat, "height must be positive")
	}
	if latest := s.blockHeight(); req.Height > latest {
		return nil, apiError(codes.NotFound, ledger.CodeHeightTooHigh, fmt.Sprintf("height %d is beyond the latest block %d", req.Height, latest))
	}
	h := req.Height
	b, err := s.chain.Block(ctx, &h)
	if err != nil || b.Block == nil {
		return nil, apiError(codes.NotFound, ledger.CodeUnavailable, fmt.Sprintf("no block at height %d: %v", h, err))
	}
	out := &pb.GetBlockResponse{Height: b.Block.Height, Time: timestamppb.New(b.Block.Time), ProposerAddress: b.Block.ProposerAddress}
	for _, tx := range b.Block.Txs {
		out.Txs = append(out.Txs, tx)
	}
	for _, ev := range b.Block.Evidence.Evidence {
		p, err := cmttypes.EvidenceToProto(ev)
		if err != nil {
			return nil, internal(err)
		}
		bz, err := p.Marshal()
		if err != nil {
			return nil, internal(err)
		}
		out.Evidence = append(out.Evidence, bz)
	}
	return out, nil
}

// ListEvidence implements LedgerService.
func (s *Server) ListEvidence(_ context.Context, req *pb.ListEvidenceRequest) (*pb.ListEvidenceResponse, error) {
	if req.Member != "" && !ledger.IsMemberID(req.Member) {
		return nil, badRequest(ledger.CodeBadFormat, fmt.Sprintf("%q is not a member id", req.Member))
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	evs, err := v.EvidenceList(req.Member)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.ListEvidenceResponse{Evidence: evs, Height: v.Version()}
	if req.Prove {
		if out.Proofs, err = proofsOf(v, evs, func(ev *pb.Evidence) []byte {
			h, i, _ := layout.ParseEvidenceID(ev.Id)
			return layout.Evidence(h, i)
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetEvidence implements LedgerService.
func (s *Server) GetEvidence(_ context.Context, req *pb.GetEvidenceRequest) (*pb.GetEvidenceResponse, error) {
	h, i, ok := layout.ParseEvidenceID(req.Id)
	if !ok {
		return nil, badRequest(ledger.CodeBadFormat, fmt.Sprintf("%q is not an evidence id (<committed height>-<index>)", req.Id))
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	ev, err := v.Evidence(req.Id)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.GetEvidenceResponse{Evidence: ev, Height: v.Version()}
	if req.Prove {
		if out.Proof, err = proofOf(v, layout.Evidence(h, i)); err != nil {
			return nil, internal(err)
		}
	}
	if ev == nil {
		return nil, notFound(ledger.CodeUnknownRecord, fmt.Sprintf("no evidence %s at height %d", req.Id, v.Version()), out)
	}
	return out, nil
}

// GetGenesis implements LedgerService.
func (s *Server) GetGenesis(ctx context.Context, _ *pb.GetGenesisRequest) (*pb.GetGenesisResponse, error) {
	g, err := s.chain.Genesis(ctx)
	if err != nil {
		return nil, apiError(codes.Unavailable, ledger.CodeUnavailable, err.Error())
	}
	bz := s.genesisFile
	if bz == nil {
		if bz, err = cmtjson.Marshal(g.Genesis); err != nil {
			return nil, internal(err)
		}
	}
	doc := new(structpb.Struct)
	if err := protojson.Unmarshal(bz, doc); err != nil {
		return nil, internal(fmt.Errorf("genesis as JSON: %w", err))
	}
	return &pb.GetGenesisResponse{GenesisJson: bz, Genesis: doc}, nil
}

// ListProposals implements LedgerService.
func (s *Server) ListProposals(_ context.Context, req *pb.ListProposalsRequest) (*pb.ListProposalsResponse, error) {
	f := store.ProposalFilter{Limit: int(req.Limit)}
	if f.Limit == 0 {
		f.Limit = 50
	}
	if req.Status != "" {
		st, ok := layout.ProposalStatusByName(enum.Short(pb.ProposalStatus(0).Descriptor(), req.Status))
		if !ok {
			return nil, badRequest(ledger.CodeBadEnum, fmt.Sprintf("unknown status %q (voting, passed, rejected, vetoed, expired, aborted, failed)", req.Status))
		}
		f.Status = st
	}
	if req.PageToken != "" {
		tok, err := hexPageToken(req.PageToken)
		if err != nil {
			return nil, err
		}
		f.After = tok
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	ps, next, err := v.Proposals(f)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.ListProposalsResponse{Proposals: ps, Height: v.Version()}
	if next != nil {
		out.NextPageToken = hex.EncodeToString(next)
	}
	if req.Prove {
		if out.Proofs, err = proofsOf(v, ps, func(p *pb.ProposalState) []byte { return layout.Proposal(p.Id) }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetProposal implements LedgerService.
func (s *Server) GetProposal(_ context.Context, req *pb.GetProposalRequest) (*pb.GetProposalResponse, error) {
	id, err := normaliseID("id", req.Id)
	if err != nil {
		return nil, err
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	p, err := v.Proposal(id)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.GetProposalResponse{Proposal: p, Height: v.Version()}
	if p != nil {
		if out.Votes, err = v.Votes(id); err != nil {
			return nil, internal(err)
		}
	}
	if req.Prove {
		pr, err := proofOf(v, layout.Proposal(id))
		if err != nil {
			return nil, internal(err)
		}
		out.Proofs = append(out.Proofs, pr)
		// One proof per elector, of its vote or of its absence, so that a
		// verifier can tell no vote was left out.
		for _, e := range p.GetElectorate() {
			pr, err := proofOf(v, layout.Vote(id, e))
			if err != nil {
				return nil, internal(err)
			}
			out.Proofs = append(out.Proofs, pr)
		}
	}
	if p == nil {
		return nil, notFound(ledger.CodeUnknownProposal, fmt.Sprintf("proposal %s not found at height %d", id, v.Version()), out)
	}
	return out, nil
}

// GetGovernanceRules implements LedgerService.
func (s *Server) GetGovernanceRules(_ context.Context, req *pb.GetGovernanceRulesRequest) (*pb.GetGovernanceRulesResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	rules, err := v.GovernanceRules()
	if err != nil {
		return nil, internal(err)
	}
	params, err := v.Params()
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.GetGovernanceRulesResponse{Rules: rules, Params: params, Height: v.Version()}
	if req.Prove {
		for _, k := range []string{layout.KeyGovernance, layout.KeyParams} {
			pr, err := proofOf(v, []byte(k))
			if err != nil {
				return nil, internal(err)
			}
			out.Proofs = append(out.Proofs, pr)
		}
	}
	return out, nil
}

// flags lists the warnings about recs (keys revoked as compromised) from
// the member entries of view v. Records whose signers have no compromised
// key are not decoded.
func flags(v *store.View, recs ...*pb.StoredRecord) ([]*pb.RecordFlag, error) {
	var out []*pb.RecordFlag
	for _, r := range recs {
		m, err := v.Member(r.Author)
		if err != nil {
			return nil, err
		}
		pledge := r.Kind == pb.RecordKind_RECORD_KIND_PLEDGE || r.Kind == pb.RecordKind_RECORD_KIND_AMENDMENT
		if (m == nil || !ledger.HasCompromisedKey(m)) && !pledge {
			continue
		}
		tx, err := ledger.DecodeTx(r.Tx, 0)
		if err != nil {
			return nil, fmt.Errorf("stored record %s: %w", r.Id, err)
		}
		fs, err := ledger.Flags(r, tx, v.Member)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// GetLog implements LedgerService.
func (s *Server) GetLog(_ context.Context, req *pb.GetLogRequest) (*pb.GetLogResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	size, root, err := v.LogState()
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.GetLogResponse{Height: v.Version(), Size: size, Root: root}
	if req.Prove {
		if out.Proof, err = proofOf(v, []byte(layout.KeyLog)); err != nil {
			return nil, internal(err)
		}
	}
	return out, nil
}

// GetLogConsistency implements LedgerService.
func (s *Server) GetLogConsistency(_ context.Context, req *pb.GetLogConsistencyRequest) (*pb.GetLogConsistencyResponse, error) {
	committed := s.st.LogCommitted()
	if req.First > req.Second {
		return nil, badRequest(ledger.CodeBadFormat, fmt.Sprintf("first (%d) must not exceed second (%d)", req.First, req.Second))
	}
	if req.Second > committed {
		return nil, badRequest(ledger.CodeBadFormat, fmt.Sprintf("second (%d) exceeds the committed log size %d", req.Second, committed))
	}
	hashes, err := s.st.LogConsistency(req.First, req.Second)
	if err != nil {
		return nil, internal(err)
	}
	return &pb.GetLogConsistencyResponse{First: req.First, Second: req.Second, Hashes: hashes}, nil
}

// CheckpointSource is what serves the record log's checkpoints
// (node.Checkpoints).
type CheckpointSource interface {
	// Latest is the newest checkpoint note with its cosignatures (nil: none yet).
	Latest() []byte
	List(before int64, limit int) []*pb.CheckpointInfo
	// Receive merges cosignatures a witness delivers.
	Receive(msg []byte) error
}

// ErrUnknownCheckpoint is returned by Receive for a checkpoint never published.
var ErrUnknownCheckpoint = errors.New("no such checkpoint")

// SetCheckpoints makes the server serve checkpoints.
func (s *Server) SetCheckpoints(c CheckpointSource) { s.checkpoints = c }

// Checkpoint is the newest checkpoint note (c2sp.org/tlog-checkpoint in a
// signed note) with every cosignature collected.
func (s *Server) Checkpoint() ([]byte, error) {
	if s.checkpoints == nil {
		return nil, errors.New("this node publishes no checkpoints ([checkpoints] in app.toml)")
	}
	msg := s.checkpoints.Latest()
	if msg == nil {
		return nil, errors.New("no checkpoint yet")
	}
	return msg, nil
}

// ListCheckpoints implements LedgerService.
func (s *Server) ListCheckpoints(_ context.Context, req *pb.ListCheckpointsRequest) (*pb.ListCheckpointsResponse, error) {
	if req.BeforeHeight < 0 {
		return nil, badRequest(ledger.CodeBadFormat, "before_height must not be negative")
	}
	limit := int(req.Limit)
	if limit <= 0 {
		limit = 20
	}
	if limit > 200 {
		return nil, badRequest(ledger.CodeBadFormat, "limit must be at most 200")
	}
	if s.checkpoints == nil {
		return &pb.ListCheckpointsResponse{}, nil
	}
	return &pb.ListCheckpointsResponse{Checkpoints: s.checkpoints.List(req.BeforeHeight, limit)}, nil
}

// LightBlockAt assembles the light block of height h (signed header and
// validator set) from the node's chain.
func LightBlockAt(ctx context.Context, chain Chain, h int64) (*cmttypes.LightBlock, error) {
	c, err := chain.Commit(ctx, &h)
	if err != nil {
		return nil, fmt.Errorf("no signed header at height %d: %v", h, err)
	}
	var vals []*cmttypes.Validator
	for page := 1; ; page++ {
		perPage := 100
		res, err := chain.Validators(ctx, &h, &page, &perPage)
		if err != nil {
			return nil, fmt.Errorf("no validator set at height %d: %v", h, err)
		}
		vals = append(vals, res.Validators...)
		if len(vals) >= res.Total || len(res.Validators) == 0 {
			break
		}
	}
	vs, err := cmttypes.ValidatorSetFromExistingValidators(vals)
	if err != nil {
		return nil, err
	}
	return &cmttypes.LightBlock{SignedHeader: &c.SignedHeader, ValidatorSet: vs}, nil
}

// KindNames lists the record kinds' short names, in enum order.
func KindNames() []string {
	var out []string
	for _, k := range ledger.DefaultRegistry().Kinds() {
		out = append(out, k.Name)
	}
	return out
}

// SectorNames lists the sectors' short names, in enum order.
func SectorNames() []string {
	var vs []int
	for v := range pb.Sector_name {
		if v != 0 {
			vs = append(vs, int(v))
		}
	}
	sort.Ints(vs)
	var out []string
	for _, v := range vs {
		out = append(out, layout.SectorName(pb.Sector(v)))
	}
	return out
}
