package api

import (
	"context"
	"fmt"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

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
