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

// ListCases implements LedgerService: cases of a party, at a stage, or all.
func (s *Server) ListCases(_ context.Context, req *pb.ListCasesRequest) (*pb.ListCasesResponse, error) {
	f := store.CaseFilter{Limit: int(req.Limit), Party: req.Party}
	if f.Limit == 0 {
		f.Limit = 50
	}
	if req.Party != "" && !ledger.IsMemberID(req.Party) {
		return nil, badRequest(ledger.CodeBadFormat, fmt.Sprintf("party %q is not a member id", req.Party))
	}
	if req.Stage != "" {
		st, ok := layout.CaseStageByName(enum.Short(pb.CaseStage(0).Descriptor(), req.Stage))
		if !ok {
			return nil, badRequest(ledger.CodeBadEnum, fmt.Sprintf("unknown stage %q (requested, replied, consulted, mediation_requested, mediation, mediated, fact_finding, remediation, referred, closed)", req.Stage))
		}
		f.Stage = st
	}
	page, err := listHexPage(s, req, &f.After, func(v *store.View) ([]*pb.CaseState, []byte, error) { return v.Cases(f) },
		func(c *pb.CaseState) []byte { return layout.Case(c.Id) })
	if err != nil {
		return nil, err
	}
	return &pb.ListCasesResponse{Cases: page.items, Height: page.height, NextPageToken: page.next, Proofs: page.proofs}, nil
}

// GetCase implements LedgerService: a case, the duties it placed and,
// with prove, their proofs (a case's absence is proven too).
func (s *Server) GetCase(_ context.Context, req *pb.GetCaseRequest) (*pb.GetCaseResponse, error) {
	id, err := normaliseID("id", req.Id)
	if err != nil {
		return nil, err
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	c, err := v.Case(id)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.GetCaseResponse{Case: c, Height: v.Version()}
	for _, oid := range c.GetObligationIds() {
		ob, err := v.Obligation(oid)
		if err != nil {
			return nil, internal(err)
		}
		if ob == nil {
			return nil, internal(fmt.Errorf("case %s lists missing obligation %s", id, oid))
		}
		out.Obligations = append(out.Obligations, ob)
	}
	if req.Prove {
		pr, err := v.ProofOf(layout.Case(id))
		if err != nil {
			return nil, internal(err)
		}
		out.Proofs = append(out.Proofs, pr)
		for _, oid := range c.GetObligationIds() {
			pr, err := v.ProofOf(layout.Obligation(oid))
			if err != nil {
				return nil, internal(err)
			}
			out.Proofs = append(out.Proofs, pr)
		}
	}
	if c == nil {
		return nil, notFound(ledger.CodeUnknownCase, fmt.Sprintf("case %s not found at height %d", id, v.Version()), out)
	}
	return out, nil
}
