package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

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
		if out.Proof, err = v.ProofOf([]byte(layout.KeyLog)); err != nil {
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
