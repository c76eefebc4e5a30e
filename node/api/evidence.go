package api

import (
	"context"
	"fmt"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

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
		if out.Proof, err = v.ProofOf(layout.Evidence(h, i)); err != nil {
			return nil, internal(err)
		}
	}
	if ev == nil {
		return nil, notFound(ledger.CodeUnknownRecord, fmt.Sprintf("no evidence %s at height %d", req.Id, v.Version()), out)
	}
	return out, nil
}
