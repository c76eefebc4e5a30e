package store

import (
	"time"

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
	cases, err := v.AllCases(CaseFilter{Party: member})
	if err != nil {
		return nil, err
	}
	ledger.CaseFigures(c, cases)
	var disclosable []*pb.StoredRecord
	for _, k := range []string{"incident_disclosure", "harm_assessment", "finding", "notification"} {
		recs, err := v.AllRecords(Filter{Kind: k, Author: member})
		if err != nil {
			return nil, err
		}
		disclosable = append(disclosable, recs...)
	}
	if err := ledger.RedactionFigures(c, disclosable); err != nil {
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

// SealedNotice computes who sealed record id was sent to and who confirmed
// receipt in this view; nil if id is not a sealed record.
func (v *View) SealedNotice(id string) (*pb.SealedNotice, error) {
	rec, err := v.Record(id)
	if err != nil || rec == nil || rec.Kind != pb.RecordKind_RECORD_KIND_SEALED {
		return nil, err
	}
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		return nil, err
	}
	obs, receipts := map[string]*pb.Obligation{}, map[string]*pb.StoredRecord{}
	for _, r := range tx.Body.Record.GetSealed().GetRecipients() {
		ob, err := v.Obligation(ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, id, r.Member))
		if err != nil {
			return nil, err
		}
		if ob == nil {
			continue
		}
		obs[r.Member] = ob
		if rc, err := v.recordOfKind(ob.StatusRecord, pb.RecordKind_RECORD_KIND_RECEIPT); err != nil {
			return nil, err
		} else if rc != nil {
			receipts[r.Member] = rc
		}
	}
	var reveal *pb.StoredRecord
	if ob, err := v.Obligation(ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_REVEAL, id, rec.Author)); err != nil {
		return nil, err
	} else if ob != nil {
		if reveal, err = v.recordOfKind(ob.StatusRecord, pb.RecordKind_RECORD_KIND_REVEAL); err != nil {
			return nil, err
		}
	}
	return ledger.SealedNoticeOf(rec, obs, receipts, reveal)
}

// recordOfKind is record id if it is of kind; nil for "" or another kind.
func (v *View) recordOfKind(id string, kind pb.RecordKind) (*pb.StoredRecord, error) {
	if id == "" {
		return nil, nil
	}
	r, err := v.Record(id)
	if err != nil || r == nil || r.Kind != kind {
		return nil, err
	}
	return r, nil
}

// PingStatus computes who ping id tested and who answered; nil if id is
// not a ping.
func (v *View) PingStatus(id string) (*pb.PingStatus, error) {
	rec, err := v.Record(id)
	if err != nil || rec == nil || rec.Kind != pb.RecordKind_RECORD_KIND_PING {
		return nil, err
	}
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		return nil, err
	}
	answers, updates, answerRecs := map[string]*pb.Obligation{}, map[string]*pb.Obligation{}, map[string]*pb.StoredRecord{}
	for _, t := range tx.Body.Record.GetPing().GetTargets() {
		ob, err := v.Obligation(ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING, id, t.Member))
		if err != nil {
			return nil, err
		}
		if ob != nil {
			answers[t.Member] = ob
			if an, err := v.recordOfKind(ob.StatusRecord, pb.RecordKind_RECORD_KIND_PING_ANSWER); err != nil {
				return nil, err
			} else if an != nil {
				answerRecs[t.Member] = an
			}
		}
		up, err := v.Obligation(ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_UPDATE_CONTACT, id, t.Member))
		if err != nil {
			return nil, err
		}
		if up != nil {
			updates[t.Member] = up
		}
	}
	return ledger.PingStatusOf(rec, answers, answerRecs, updates)
}

// Directory is every member's directory entry (removed members left out)
// and whether it is stale at block time t, by member id.
func (v *View) Directory(t time.Time) ([]*pb.ContactStatus, []*pb.Member, error) {
	ms, err := v.Members()
	if err != nil {
		return nil, nil, err
	}
	var out []*pb.ContactStatus
	var listed []*pb.Member
	for _, m := range ms {
		if m.Status == pb.MemberStatus_MEMBER_STATUS_REMOVED {
			continue
		}
		out = append(out, ledger.ContactStatusAt(m, t))
		listed = append(listed, m)
	}
	return out, listed, nil
}
