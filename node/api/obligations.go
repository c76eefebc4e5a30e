package api

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

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
	page, err := listHexPage(s, req, &f.After, func(v *store.View) ([]*pb.Obligation, []byte, error) { return v.Obligations(f) },
		func(o *pb.Obligation) []byte { return layout.Obligation(o.Id) })
	if err != nil {
		return nil, err
	}
	return &pb.ListObligationsResponse{Obligations: page.items, Height: page.height, NextPageToken: page.next, Proofs: page.proofs}, nil
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
		if out.Proof, err = v.ProofOf(layout.Obligation(id)); err != nil {
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
	t, err := s.blockTime(ctx, h)
	if err != nil {
		return nil, err
	}
	rec, err := v.Record(id)
	if err != nil {
		return nil, internal(err)
	}
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		return nil, internal(err)
	}
	c.State = ledger.PledgeStateAt(tx.Body.Record.GetPledge(), t)
	c.StateTime = timestamppb.New(t)
	return &pb.GetPledgeComplianceResponse{Compliance: c, Height: h}, nil
}

// GetSealedNotice implements LedgerService.
func (s *Server) GetSealedNotice(_ context.Context, req *pb.GetSealedNoticeRequest) (*pb.GetSealedNoticeResponse, error) {
	id, err := normaliseID("id", req.Id)
	if err != nil {
		return nil, err
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	n, err := v.SealedNotice(id)
	if err != nil {
		return nil, internal(err)
	}
	if n == nil {
		return nil, notFound(ledger.CodeUnknownRecord, fmt.Sprintf("no sealed record %s at height %d", id, v.Version()), nil)
	}
	return &pb.GetSealedNoticeResponse{Notice: n, Height: v.Version()}, nil
}

// GetPingStatus implements LedgerService.
func (s *Server) GetPingStatus(_ context.Context, req *pb.GetPingStatusRequest) (*pb.GetPingStatusResponse, error) {
	id, err := normaliseID("id", req.Id)
	if err != nil {
		return nil, err
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	st, err := v.PingStatus(id)
	if err != nil {
		return nil, internal(err)
	}
	if st == nil {
		return nil, notFound(ledger.CodeUnknownRecord, fmt.Sprintf("no ping %s at height %d", id, v.Version()), nil)
	}
	return &pb.GetPingStatusResponse{Status: st, Height: v.Version()}, nil
}

// GetDirectory implements LedgerService: every member's directory entry,
// stale or not at the time of the block at the answer's height.
func (s *Server) GetDirectory(ctx context.Context, req *pb.GetDirectoryRequest) (*pb.GetDirectoryResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	h := v.Version()
	t, err := s.blockTime(ctx, h)
	if err != nil {
		return nil, err
	}
	cs, ms, err := v.Directory(t)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.GetDirectoryResponse{Contacts: cs, Height: h, Time: timestamppb.New(t)}
	if req.Prove {
		if out.Proofs, err = proofsOf(v, ms, func(m *pb.Member) []byte { return layout.Member(m.Id) }); err != nil {
			return nil, err
		}
		out.Members = ms
	}
	return out, nil
}

// blockTime is the time of the block at height h, which judgements "at
// block time" of the state at h use (a pledge's state, a contact's
// staleness); a verifier reads it from the light-client-verified header h.
func (s *Server) blockTime(ctx context.Context, h int64) (time.Time, error) {
	cm, err := s.chain.Commit(ctx, &h)
	if err != nil || cm.SignedHeader.Header == nil {
		return time.Time{}, apiError(codes.Unavailable, ledger.CodeUnavailable, fmt.Sprintf("no header at height %d: %v", h, err))
	}
	return cm.SignedHeader.Header.Time, nil
}
