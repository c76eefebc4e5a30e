package store

import (
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// MemberCompliance computes member's compliance figures in this view.
func (v *View) MemberCompliance(member string) (*pb.MemberCompliance, error) {
	owed, err := v.AllObligations(ObligationFilter{Debtor: member})
	if err != nil {
		return nil, err
	}
	findings, err := v.AllRecords(Filter{Kind: "finding", Subject: member})
	if err != nil {
		return nil, err
	}
	c, err := ledger.MemberCompliance(member, owed, findings)
	if err != nil {
		return nil, err
	}
	evs, err := v.EvidenceList(member)
	if err != nil {
		return nil, err
	}
	c.Misbehaviour = &pb.CountFigure{Count: uint32(len(evs))}
	for _, ev := range evs {
		c.Misbehaviour.Ids = append(c.Misbehaviour.Ids, ev.Id)
	}
	return c, nil
}

// PledgeCompliance computes a pledge's compliance figures in this view; nil
// if pledge is not a pledge record.
func (v *View) PledgeCompliance(pledge string) (*pb.PledgeCompliance, error) {
	rec, err := v.Record(pledge)
	if err != nil || rec == nil || rec.Kind != pb.RecordKind_RECORD_KIND_PLEDGE {
		return nil, err
	}
	duties, err := v.AllObligations(ObligationFilter{Pledge: pledge})
	if err != nil {
		return nil, err
	}
	refs, err := v.ReferringTo(pledge)
	if err != nil {
		return nil, err
	}
	var findings []*pb.StoredRecord
	for _, r := range refs {
		if r.Kind != pb.RecordKind_RECORD_KIND_FINDING {
			continue
		}
		tx := new(pb.Tx)
		if err := proto.Unmarshal(r.Tx, tx); err != nil {
			return nil, err
		}
		if f := tx.Body.Record.GetFinding(); f.GetSubjectType() == pb.FindingSubjectType_FINDING_SUBJECT_TYPE_PLEDGE && f.GetSubjectId() == pledge {
			findings = append(findings, r)
		}
	}
	return ledger.PledgeCompliance(rec, duties, findings)
}
