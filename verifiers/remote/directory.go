package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// ObligationSource serves obligations with proofs (client.Client
// satisfies it).
type ObligationSource interface {
	Obligation(ctx context.Context, id string, height int64, prove bool) (*pb.GetObligationResponse, error)
}

// Obligation fetches obligation id with its proof (at v.At, or the newest
// attested height) and verifies it against the light-client-verified
// header: where a duty stands, and so whether the record that would have
// met it exists (an open or overdue answer duty proves no answer was
// accepted by that height). A proven absence fails verification.
func (v *Verifier) Obligation(ctx context.Context, id string) (*pb.Obligation, int64, error) {
	ob, h, err := v.ObligationOrAbsent(ctx, id)
	if err == nil && ob == nil {
		return nil, 0, verifiers.Failf("obligation %s is proven absent at height %d", id, h)
	}
	return ob, h, err
}

// ObligationOrAbsent is Obligation that also accepts a proven absence: a
// nil obligation when the node proves no obligation id exists at the
// height (a duty that was never placed, such as a confirmation before any
// delivery).
func (v *Verifier) ObligationOrAbsent(ctx context.Context, id string) (*pb.Obligation, int64, error) {
	src, ok := v.API.(ObligationSource)
	if !ok {
		return nil, 0, errors.New("this API serves no obligations")
	}
	resp, err := src.Obligation(ctx, id, v.At, true)
	resp, absent, err := absentAnswer(resp, err, ledger.CodeUnknownObligation, "obligation "+id)
	if err != nil {
		return nil, 0, err
	}
	if v.At > 0 && resp.Height != v.At {
		return nil, 0, verifiers.Failf("asked for obligation %s at height %d, got height %d", id, v.At, resp.Height)
	}
	lb, err := v.Light.Header(ctx, resp.Height+1)
	if err != nil {
		return nil, 0, err
	}
	if !absent {
		ob, err := verifiers.Obligation(lb.AppHash, id, resp)
		if err != nil {
			return nil, 0, fmt.Errorf("obligation %s at height %d: %w", id, resp.Height, err)
		}
		return ob, resp.Height, nil
	}
	p := resp.GetProof()
	if resp.Obligation != nil || p == nil || p.Exists || !bytes.Equal(p.Key, layout.Obligation(id)) {
		return nil, 0, verifiers.Failf("the absence answer for obligation %s carries no non-existence proof of its key", id)
	}
	if err := verifiers.Proof(lb.AppHash, p); err != nil {
		return nil, 0, fmt.Errorf("obligation %s absent at height %d: %w", id, resp.Height, err)
	}
	return nil, resp.Height, nil
}

// absentAnswer reads a node's "not found" answer (err carrying ledger code
// absent) as the answer its error details hold, which carries the
// non-membership proof (absent true); any other error is returned as it is.
func absentAnswer[R proto.Message](resp R, err error, absent ledger.Code, what string) (R, bool, error) {
	var ce codedError
	if !errors.As(err, &ce) || ce.LedgerCode() != absent {
		return resp, false, err
	}
	for _, d := range ce.ErrorDetails() {
		if r, ok := d.(R); ok {
			return r, true, nil
		}
	}
	var none R
	return none, true, verifiers.Failf("node says %s is absent but sent no proof", what)
}

// Contact proves member id's directory entry (at v.At, or the newest
// attested height) and judges it at the time of the block at that height,
// read from the light-client-verified header: the verifier computes
// staleness itself (ledger.ContactStatusAt), trusting no node.
func (v *Verifier) Contact(ctx context.Context, id string) (*pb.ContactStatus, int64, time.Time, error) {
	m, h, err := v.Member(ctx, id)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	lb, err := v.Light.Header(ctx, h)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	return ledger.ContactStatusAt(m, lb.Time), h, lb.Time, nil
}

// CaseSource serves cases with proofs (client.Client satisfies it).
type CaseSource interface {
	Case(ctx context.Context, id string, height int64, prove bool) (*pb.GetCaseResponse, error)
}

// Case proves case id and its duties at v.At (or the newest attested
// height) against the light-client-verified header, and returns them with
// the height and that block's time (from the verified header): nil when
// the case's absence is proven.
func (v *Verifier) Case(ctx context.Context, id string) (*pb.CaseState, []*pb.Obligation, int64, time.Time, error) {
	src, ok := v.API.(CaseSource)
	if !ok {
		return nil, nil, 0, time.Time{}, errors.New("this API serves no cases")
	}
	resp, err := src.Case(ctx, id, v.At, true)
	// No such case: the error's details carry the absence proof.
	resp, _, err = absentAnswer(resp, err, ledger.CodeUnknownCase, "case "+id)
	if err != nil {
		return nil, nil, 0, time.Time{}, err
	}
	if v.At > 0 && resp.Height != v.At {
		return nil, nil, 0, time.Time{}, verifiers.Failf("asked for case %s at height %d, got height %d", id, v.At, resp.Height)
	}
	lb, err := v.Light.Header(ctx, resp.Height+1)
	if err != nil {
		return nil, nil, 0, time.Time{}, err
	}
	at, err := v.Light.Header(ctx, resp.Height)
	if err != nil {
		return nil, nil, 0, time.Time{}, err
	}
	c, obs, err := verifiers.Case(lb.AppHash, id, resp)
	if err != nil {
		return nil, nil, 0, time.Time{}, fmt.Errorf("case %s at height %d: %w", id, resp.Height, err)
	}
	return c, obs, resp.Height, at.Time, nil
}

// ProposalSource serves proposals with their vote proofs.
type ProposalSource interface {
	Proposal(ctx context.Context, id string, height int64, prove bool) (*pb.GetProposalResponse, error)
}

// Proposal proves proposal id and every elector's vote (or its absence)
// at v.At (or the newest attested height) against the light-client-
// verified header, and returns them with the height.
func (v *Verifier) Proposal(ctx context.Context, id string) (*pb.ProposalState, []*pb.VoteState, int64, error) {
	src, ok := v.API.(ProposalSource)
	if !ok {
		return nil, nil, 0, errors.New("this API serves no proposals")
	}
	resp, err := src.Proposal(ctx, id, v.At, true)
	if err != nil {
		return nil, nil, 0, err
	}
	if v.At > 0 && resp.Height != v.At {
		return nil, nil, 0, verifiers.Failf("asked for proposal %s at height %d, got height %d", id, v.At, resp.Height)
	}
	lb, err := v.Light.Header(ctx, resp.Height+1)
	if err != nil {
		return nil, nil, 0, err
	}
	p, votes, err := verifiers.Proposal(lb.AppHash, id, resp)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("proposal %s at height %d: %w", id, resp.Height, err)
	}
	return p, votes, resp.Height, nil
}
