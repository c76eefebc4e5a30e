package verifiers

import (
	"bytes"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Case checks a case answer (GET /v1/cases/{id}?prove=true) against a
// verified app hash: the case entry (or the proof that there is no such
// case: nil, nil, nil), and every duty its proven state lists, each proven
// and equal to the answer's. A duty still open or overdue at that height
// proves that the record meeting it (a reply, a report, a milestone) was
// not accepted by then.
func Case(appHash []byte, id string, resp *pb.GetCaseResponse) (*pb.CaseState, []*pb.Obligation, error) {
	if !ledger.IsRecordID(id) {
		return nil, nil, Failf("%q is not a case id", id)
	}
	if resp == nil || len(resp.Proofs) == 0 {
		return nil, nil, Failf("case answer for %s carries no proofs", id)
	}
	cp := resp.Proofs[0]
	if !bytes.Equal(cp.GetKey(), layout.Case(id)) {
		return nil, nil, Failf("first proof is not of case %s", id)
	}
	if err := Proof(appHash, cp); err != nil {
		return nil, nil, err
	}
	if !cp.Exists {
		if resp.Case != nil || len(resp.Proofs) != 1 {
			return nil, nil, Failf("the answer shows case %s, whose absence is proven", id)
		}
		return nil, nil, nil
	}
	c := new(pb.CaseState)
	if err := proto.Unmarshal(cp.Value, c); err != nil {
		return nil, nil, Failf("proven case does not decode: %v", err)
	}
	if c.Id != id || !proto.Equal(c, resp.Case) {
		return nil, nil, Failf("the case in the answer differs from the proven case")
	}
	if len(resp.Proofs) != 1+len(c.ObligationIds) || len(resp.Obligations) != len(c.ObligationIds) {
		return nil, nil, Failf("case answer for %s carries %d duty proofs and %d duties for %d duties listed", id,
			len(resp.Proofs)-1, len(resp.Obligations), len(c.ObligationIds))
	}
	obs := make([]*pb.Obligation, len(c.ObligationIds))
	for i, oid := range c.ObligationIds {
		ob := new(pb.Obligation)
		if err := provenEntry(appHash, "obligation", oid, layout.Obligation(oid), resp.Proofs[1+i], resp.Obligations[i], ob); err != nil {
			return nil, nil, err
		}
		if ob.Id != oid {
			return nil, nil, Failf("proven duty %d of case %s is not %s", i, id, oid)
		}
		obs[i] = ob
	}
	return c, obs, nil
}
