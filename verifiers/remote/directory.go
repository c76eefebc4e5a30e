package remote

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/normledger/normledger/ledger"
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
// accepted by that height).
func (v *Verifier) Obligation(ctx context.Context, id string) (*pb.Obligation, int64, error) {
	src, ok := v.API.(ObligationSource)
	if !ok {
		return nil, 0, errors.New("this API serves no obligations")
	}
	resp, err := src.Obligation(ctx, id, v.At, true)
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
	ob, err := verifiers.Obligation(lb.AppHash, id, resp)
	if err != nil {
		return nil, 0, fmt.Errorf("obligation %s at height %d: %w", id, resp.Height, err)
	}
	return ob, resp.Height, nil
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
