package api

import (
	"context"
	"fmt"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

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
	page, err := listHexPage(s, req, &f.After, func(v *store.View) ([]*pb.ProposalState, []byte, error) { return v.Proposals(f) },
		func(p *pb.ProposalState) []byte { return layout.Proposal(p.Id) })
	if err != nil {
		return nil, err
	}
	return &pb.ListProposalsResponse{Proposals: page.items, Height: page.height, NextPageToken: page.next, Proofs: page.proofs}, nil
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
		pr, err := v.ProofOf(layout.Proposal(id))
		if err != nil {
			return nil, internal(err)
		}
		out.Proofs = append(out.Proofs, pr)
		// One proof per elector, of its vote or of its absence, so that a
		// verifier can tell no vote was left out.
		for _, e := range p.GetElectorate() {
			pr, err := v.ProofOf(layout.Vote(id, e))
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
			pr, err := v.ProofOf([]byte(k))
			if err != nil {
				return nil, internal(err)
			}
			out.Proofs = append(out.Proofs, pr)
		}
	}
	return out, nil
}
