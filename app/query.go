package app

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ProofOpType names the ICS23 IAVL proofs returned in query ProofOps.
const ProofOpType = "ics23:iavl"

// InclusionOpType names the record log inclusion proof (a LogInclusion) in
// /record query ProofOps, after the proofs of i/<id> and meta/log.
const InclusionOpType = "rfc6962:inclusion"

// Query answers ABCI queries against a committed version (req.Height, 0 =
// latest). Paths:
//
//	/record/<id>           StoredRecord; with prove, proofs of i/<id> and meta/log and the log inclusion proof
//	/records               ListRecordsRequest in data -> ListRecordsResponse
//	/member/<id>           Member
//	/members               MemberList
//	/sequence/<member>     next sequence, decimal
//	/store                 raw value of key in data; with prove, its ICS23 proof
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	v, err := a.st.At(req.Height)
	if err != nil {
		return qerr(ledger.CodeBadFormat, fmt.Sprintf("height %d: %v", req.Height, err)), nil
	}
	resp, err := a.query(v, req)
	if err != nil {
		return qerr(ledger.CodeOf(err), err.Error()), nil
	}
	resp.Height = v.Version()
	return resp, nil
}

func qerr(c ledger.Code, log string) *abci.ResponseQuery {
	return &abci.ResponseQuery{Code: uint32(c), Codespace: ledger.Codespace, Log: log}
}

func (a *App) query(v *store.View, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	path := req.Path
	arg := ""
	if i := strings.Index(strings.TrimPrefix(path, "/"), "/"); i >= 0 {
		path, arg = path[:i+1], path[i+2:]
	}
	switch path {
	case "/record":
		return a.queryRecord(v, arg, req.Prove)
	case "/records":
		lr := new(pb.ListRecordsRequest)
		if err := proto.Unmarshal(req.Data, lr); err != nil {
			return nil, &ledger.Error{Code: ledger.CodeBadFormat, Msg: "data is not a ListRecordsRequest", Err: err}
		}
		return a.queryRecords(v, lr)
	case "/member":
		m, err := v.Member(arg)
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, &ledger.Error{Code: ledger.CodeUnknownMember, Msg: fmt.Sprintf("member %q not found", arg)}
		}
		return marshalResp(m, layout.Member(arg))
	case "/members":
		ms, err := v.Members()
		if err != nil {
			return nil, err
		}
		return marshalResp(&pb.MemberList{Members: ms}, nil)
	case "/sequence":
		n, err := v.NextSequence(arg)
		if err != nil {
			return nil, err
		}
		return &abci.ResponseQuery{Key: layout.Sequence(arg), Value: []byte(strconv.FormatUint(n, 10))}, nil
	case "/store":
		if !req.Prove {
			val, err := v.Get(req.Data)
			if err != nil {
				return nil, err
			}
			return &abci.ResponseQuery{Key: req.Data, Value: val}, nil
		}
		p, err := v.ProofOf(req.Data)
		if err != nil {
			return nil, err
		}
		return &abci.ResponseQuery{Key: req.Data, Value: p.Value,
			ProofOps: &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{proofOp(p)}}}, nil
	}
	return nil, &ledger.Error{Code: ledger.CodeBadFormat, Msg: fmt.Sprintf("unknown query path %q", req.Path)}
}

// queryRecord answers /record/<id> from the store's record-proof builder
// (as the API's GetRecord does), its proofs as ProofOps: i/<id>, then
// meta/log and the log inclusion for a record present.
func (a *App) queryRecord(v *store.View, id string, prove bool) (*abci.ResponseQuery, error) {
	idKey, err := layout.ID(id)
	if err != nil {
		return nil, &ledger.Error{Code: ledger.CodeBadFormat, Msg: err.Error()}
	}
	rec, proofs, inc, err := v.RecordWithProofs(id, prove)
	if err != nil {
		return nil, err
	}
	resp := &abci.ResponseQuery{Key: idKey}
	if rec != nil {
		if resp.Value, err = ledger.Canonical(rec); err != nil {
			return nil, err
		}
	} else {
		resp.Code = uint32(ledger.CodeUnknownRecord)
		resp.Codespace = ledger.Codespace
		resp.Log = fmt.Sprintf("record %s not found", id)
	}
	if prove {
		ops := make([]cmtcrypto.ProofOp, 0, len(proofs)+1)
		for _, p := range proofs {
			ops = append(ops, proofOp(p))
		}
		if inc != nil {
			bz, err := ledger.Canonical(inc)
			if err != nil {
				return nil, err
			}
			ops = append(ops, cmtcrypto.ProofOp{Type: InclusionOpType, Key: layout.U64(inc.LogIndex), Data: bz})
		}
		resp.ProofOps = &cmtcrypto.ProofOps{Ops: ops}
	}
	return resp, nil
}

func (a *App) queryRecords(v *store.View, lr *pb.ListRecordsRequest) (*abci.ResponseQuery, error) {
	f := store.Filter{Kind: lr.Kind, Author: lr.Author, Subject: lr.Subject, Sector: lr.Sector, Limit: int(lr.Limit)}
	if f.Kind != "" && a.reg.KindByName(f.Kind) == nil {
		return nil, &ledger.Error{Code: ledger.CodeBadEnum, Msg: fmt.Sprintf("unknown kind %q", f.Kind)}
	}
	if f.Sector != "" {
		if _, ok := layout.SectorByName(f.Sector); !ok {
			return nil, &ledger.Error{Code: ledger.CodeBadEnum, Msg: fmt.Sprintf("unknown sector %q", f.Sector)}
		}
	}
	if lr.PageToken != "" {
		n, err := strconv.ParseUint(lr.PageToken, 10, 64)
		if err != nil {
			return nil, &ledger.Error{Code: ledger.CodeBadFormat, Msg: "bad page token"}
		}
		f.After = n
	}
	recs, next, err := v.List(f)
	if err != nil {
		return nil, err
	}
	out := &pb.ListRecordsResponse{Records: recs}
	if next != 0 {
		out.NextPageToken = strconv.FormatUint(next, 10)
	}
	return marshalResp(out, nil)
}

func marshalResp(m proto.Message, key []byte) (*abci.ResponseQuery, error) {
	bz, err := ledger.Canonical(m)
	if err != nil {
		return nil, err
	}
	return &abci.ResponseQuery{Key: key, Value: bz}, nil
}

// proofOp is p as a CometBFT proof operation (an ICS23 commitment proof).
func proofOp(p *pb.Proof) cmtcrypto.ProofOp {
	return cmtcrypto.ProofOp{Type: ProofOpType, Key: p.Key, Data: p.Proof}
}
