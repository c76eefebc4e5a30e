package api

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// view opens the state at height (0 = newest attested).
func (s *Server) view(height int64) (*store.View, error) {
	if height < 0 {
		return nil, badRequest(ledger.CodeBadFormat, "height must not be negative")
	}
	if height == 0 {
		height = s.AttestedHeight()
		if height < 1 {
			return nil, apiError(codes.Unavailable, ledger.CodeUnavailable, "no attested state yet: wait for the second block")
		}
	}
	if latest := s.st.Version(); height > latest {
		return nil, apiError(codes.NotFound, ledger.CodeHeightTooHigh, fmt.Sprintf("height %d is beyond the latest state %d", height, latest))
	}
	v, err := s.st.At(height)
	if errors.Is(err, store.ErrNoVersion) {
		// Pruned (app.toml keep_recent) or never committed.
		return nil, apiError(codes.NotFound, ledger.CodeUnavailable, fmt.Sprintf("state at height %d is not kept by this node: %v", height, err))
	}
	if err != nil {
		return nil, internal(err)
	}
	return v, nil
}

// proofsOf proves the entries of a listing, in its order.
func proofsOf[T any](v *store.View, items []T, key func(T) []byte) ([]*pb.Proof, error) {
	out := make([]*pb.Proof, 0, len(items))
	for _, it := range items {
		p, err := v.ProofOf(key(it))
		if err != nil {
			return nil, internal(err)
		}
		out = append(out, p)
	}
	return out, nil
}

// hexPage is one page of a listing whose continuation token is the hex of
// the last key it read (proposals, obligations).
type hexPage[T any] struct {
	items  []T
	height int64
	next   string // "" on the last page
	proofs []*pb.Proof
}

// pageRequest is what a listing request says of its page.
type pageRequest interface {
	GetHeight() int64
	GetPageToken() string
	GetProve() bool
}

// listHexPage reads one page of such a listing at the request's height:
// list reads it from the view, after the key the page token names, which
// it sets in *after (the filter's); with prove, key gives each entry's
// state key to prove.
func listHexPage[T any](s *Server, req pageRequest, after *[]byte, list func(v *store.View) ([]T, []byte, error), key func(T) []byte) (*hexPage[T], error) {
	if req.GetPageToken() != "" {
		tok, err := hexPageToken(req.GetPageToken())
		if err != nil {
			return nil, err
		}
		*after = tok
	}
	v, err := s.view(req.GetHeight())
	if err != nil {
		return nil, err
	}
	items, next, err := list(v)
	if err != nil {
		return nil, internal(err)
	}
	p := &hexPage[T]{items: items, height: v.Version()}
	if next != nil {
		p.next = hex.EncodeToString(next)
	}
	if req.GetProve() {
		if p.proofs, err = proofsOf(v, items, key); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// hexPageToken reads a listing's continuation token (hex of the last key).
func hexPageToken(tok string) ([]byte, error) {
	bz, err := hex.DecodeString(tok)
	if err != nil || len(bz) == 0 || len(bz) > 256 {
		return nil, badRequest(ledger.CodeBadFormat, "page_token is not one this server issued")
	}
	return bz, nil
}

// normaliseID lowercases a record id and checks its shape.
func normaliseID(field, id string) (string, error) {
	id = strings.ToLower(id)
	if !ledger.IsRecordID(id) {
		return "", badRequest(ledger.CodeBadFormat, fmt.Sprintf("%s %q is not 64 hex characters", field, id))
	}
	return id, nil
}
