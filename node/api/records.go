package api

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// GetRecord implements LedgerService.
func (s *Server) GetRecord(_ context.Context, req *pb.GetRecordRequest) (*pb.GetRecordResponse, error) {
	id, err := normaliseID("id", req.Id)
	if err != nil {
		return nil, err
	}
	return s.record(id, req.Height, req.Prove)
}

// GetTx implements LedgerService: a committed tx's hash is its record id.
func (s *Server) GetTx(_ context.Context, req *pb.GetTxRequest) (*pb.GetRecordResponse, error) {
	id, err := normaliseID("hash", req.Hash)
	if err != nil {
		return nil, err
	}
	return s.record(id, req.Height, req.Prove)
}

// record answers GetRecord and GetTx. The record and its proofs come from
// the store's one builder, which the ABCI /record query uses too.
func (s *Server) record(id string, height int64, prove bool) (*pb.GetRecordResponse, error) {
	v, err := s.view(height)
	if err != nil {
		return nil, err
	}
	rec, proofs, inc, err := v.RecordWithProofs(id, prove)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.GetRecordResponse{Record: ledger.Readable(rec), Height: v.Version(), Proofs: proofs, Inclusion: inc}
	if rec != nil {
		if out.Flags, err = flags(v, rec); err != nil {
			return nil, internal(err)
		}
	}
	if rec == nil {
		return nil, notFound(ledger.CodeUnknownRecord, fmt.Sprintf("record %s not found at height %d", id, v.Version()), out)
	}
	return out, nil
}

// ListRecords implements LedgerService.
func (s *Server) ListRecords(_ context.Context, req *pb.ListRecordsRequest) (*pb.ListRecordsResponse, error) {
	f := store.Filter{Kind: enum.Short(pb.RecordKind(0).Descriptor(), req.Kind), Author: req.Author, Subject: req.Subject,
		Sector: enum.Short(pb.Sector(0).Descriptor(), req.Sector), Limit: int(req.Limit)}
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Kind != "" && s.reg.KindByName(f.Kind) == nil {
		return nil, badRequest(ledger.CodeBadEnum, fmt.Sprintf("unknown kind %q (%s)", req.Kind, strings.Join(KindNames(), ", ")))
	}
	if f.Sector != "" {
		if _, ok := layout.SectorByName(f.Sector); !ok {
			return nil, badRequest(ledger.CodeBadEnum, fmt.Sprintf("unknown sector %q (%s)", req.Sector, strings.Join(enum.Names(pb.Sector(0).Descriptor()), ", ")))
		}
	}
	for name, id := range map[string]string{"author": f.Author, "subject": f.Subject} {
		if id != "" && !ledger.IsMemberID(id) {
			return nil, badRequest(ledger.CodeBadFormat, fmt.Sprintf("%s %q is not a member id", name, id))
		}
	}
	if req.PageToken != "" {
		n, err := strconv.ParseUint(req.PageToken, 10, 64)
		if err != nil {
			return nil, badRequest(ledger.CodeBadFormat, "page_token is not one this server issued")
		}
		f.After = n
	}
	if req.FromTime != nil {
		if err := req.FromTime.CheckValid(); err != nil {
			return nil, badRequest(ledger.CodeBadTime, "from_time: "+err.Error())
		}
		f.From, f.HasFrom = req.FromTime.AsTime(), true
	}
	if req.ToTime != nil {
		if err := req.ToTime.CheckValid(); err != nil {
			return nil, badRequest(ledger.CodeBadTime, "to_time: "+err.Error())
		}
		f.To, f.HasTo = req.ToTime.AsTime(), true
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	page, err := v.ListPage(f)
	if err != nil {
		return nil, internal(err)
	}
	out := &pb.ListRecordsResponse{Height: v.Version()}
	for _, r := range page.Records {
		out.Records = append(out.Records, ledger.Readable(r))
	}
	if out.Flags, err = flags(v, page.Records...); err != nil {
		return nil, internal(err)
	}
	if page.Next != 0 {
		out.NextPageToken = strconv.FormatUint(page.Next, 10)
	}
	if req.Prove {
		if err := v.ProveList(page, out); err != nil {
			return nil, internal(err)
		}
	}
	return out, nil
}

// GetProof implements LedgerService.
func (s *Server) GetProof(_ context.Context, req *pb.GetProofRequest) (*pb.GetProofResponse, error) {
	key, err := hex.DecodeString(req.Key)
	if err != nil || len(key) == 0 || len(key) > 1024 {
		return nil, badRequest(ledger.CodeBadFormat, "key must be 1 to 1024 bytes, hex-encoded")
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	p, err := v.ProofOf(key)
	if err != nil {
		return nil, internal(err)
	}
	return &pb.GetProofResponse{Height: v.Version(), Proof: p}, nil
}

// flags lists the warnings about recs (keys revoked as compromised) from
// the member entries of view v. Records whose signers have no compromised
// key are not decoded.
func flags(v *store.View, recs ...*pb.StoredRecord) ([]*pb.RecordFlag, error) {
	var out []*pb.RecordFlag
	for _, r := range recs {
		m, err := v.Member(r.Author)
		if err != nil {
			return nil, err
		}
		pledge := r.Kind == pb.RecordKind_RECORD_KIND_PLEDGE || r.Kind == pb.RecordKind_RECORD_KIND_AMENDMENT
		if (m == nil || !ledger.HasCompromisedKey(m)) && !pledge {
			continue
		}
		tx, err := ledger.DecodeTx(r.Tx, 0)
		if err != nil {
			return nil, fmt.Errorf("stored record %s: %w", r.Id, err)
		}
		fs, err := ledger.Flags(r, tx, v.Member)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// KindNames lists the record kinds' short names, in enum order.
func KindNames() []string {
	var out []string
	for _, k := range ledger.DefaultRegistry().Kinds() {
		out = append(out, k.Name)
	}
	return out
}
