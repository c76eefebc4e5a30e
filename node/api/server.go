package api

import (
	"context"

	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
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
