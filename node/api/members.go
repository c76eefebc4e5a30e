package api

import (
	"context"
	"fmt"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

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
		// The next sequence to sign with is the newest state's, unless the
		// read is pinned to a height: then it is that height's, so that the
		// answer is a function of the height (HTTP caches keep it).
		seqView := v
		if req.Height == 0 {
			if seqView, err = s.st.At(0); err != nil {
				return nil, internal(err)
			}
		}
		if out.NextSequence, err = seqView.NextSequence(req.Id); err != nil {
			return nil, internal(err)
		}
	}
	if req.Prove {
		if out.Proof, err = v.ProofOf(layout.Member(req.Id)); err != nil {
			return nil, internal(err)
		}
	}
	if m == nil {
		return nil, notFound(ledger.CodeUnknownMember, fmt.Sprintf("member %q not found at height %d", req.Id, v.Version()), out)
	}
	return out, nil
}
