package ledger

import (
	"fmt"
	"slices"
	"sort"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/normledger/normledger/ledger/disclose"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Compliance figures are pure functions of obligations and records, so the
// node's API and an auditor re-executing the chain compute them the same
// way; every figure lists the ids it rests on.

var statuses = []pb.ObligationStatus{
	pb.ObligationStatus_OBLIGATION_STATUS_OPEN, pb.ObligationStatus_OBLIGATION_STATUS_MET,
	pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE, pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE,
	pb.ObligationStatus_OBLIGATION_STATUS_WAIVED,
}

func sortedObligations(obs []*pb.Obligation) []*pb.Obligation {
	out := append([]*pb.Obligation(nil), obs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

func byStatus(obs []*pb.Obligation) []*pb.StatusCount {
	out := make([]*pb.StatusCount, 0, len(statuses))
	for _, s := range statuses {
		c := &pb.StatusCount{Status: s}
		for _, o := range obs {
			if o.Status == s {
				c.Count++
				c.ObligationIds = append(c.ObligationIds, o.Id)
			}
		}
		out = append(out, c)
	}
	return out
}

// onTime is met / (met + met_late + overdue), in basis points.
func onTime(obs []*pb.Obligation) *pb.RateFigure {
	r := &pb.RateFigure{}
	for _, o := range obs {
		switch o.Status {
		case pb.ObligationStatus_OBLIGATION_STATUS_MET:
			r.Numerator++
			r.Denominator++
		case pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE, pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE:
			r.Denominator++
		default:
			continue
		}
		r.ObligationIds = append(r.ObligationIds, o.Id)
	}
	if r.Denominator > 0 {
		r.BasisPoints = uint32(uint64(r.Numerator) * 10000 / uint64(r.Denominator))
	}
	return r
}

// medianTime is the median time from creation to being met, over the met
// (on time or late) obligations of kind.
func medianTime(obs []*pb.Obligation, kind pb.ObligationKind) *pb.DurationFigure {
	d := &pb.DurationFigure{}
	var secs []int64
	for _, o := range obs {
		if o.Kind != kind || (o.Status != pb.ObligationStatus_OBLIGATION_STATUS_MET && o.Status != pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE) {
			continue
		}
		secs = append(secs, o.StatusAt.Seconds-o.CreatedAt.Seconds)
		d.ObligationIds = append(d.ObligationIds, o.Id)
	}
	d.Samples = uint32(len(secs))
	if len(secs) > 0 {
		sort.Slice(secs, func(i, j int) bool { return secs[i] < secs[j] })
		d.MedianSeconds = secs[(len(secs)-1)/2]
	}
	return d
}

func byDetermination(findings []*pb.StoredRecord) ([]*pb.DeterminationCount, error) {
	out := []*pb.DeterminationCount{
		{Determination: pb.Determination_DETERMINATION_CONSISTENT},
		{Determination: pb.Determination_DETERMINATION_INCONSISTENT},
		{Determination: pb.Determination_DETERMINATION_INSUFFICIENT_EVIDENCE},
	}
	for _, r := range findings {
		tx := new(pb.Tx)
		if err := proto.Unmarshal(r.Tx, tx); err != nil {
			return nil, err
		}
		f := tx.Body.Record.GetFinding()
		if f == nil || tx.Body.Record.GetExercise() {
			continue
		}
		for _, c := range out {
			if c.Determination == f.Determination {
				c.Count++
				c.RecordIds = append(c.RecordIds, r.Id)
			}
		}
	}
	return out, nil
}

// MemberCompliance computes a member's figures from the obligations it owes
// and the findings that concern it.
//
// Exercise duties (app version 12) count in no figure but their own
// (exercise_obligations), and exercise findings in none.
func MemberCompliance(member string, owed []*pb.Obligation, findings []*pb.StoredRecord) (*pb.MemberCompliance, error) {
	real, drill := splitExercise(owed)
	obs := sortedObligations(real)
	c := &pb.MemberCompliance{
		Member:            member,
		Obligations:       byStatus(obs),
		OnTime:            onTime(obs),
		TimeToAcknowledge: medianTime(obs, pb.ObligationKind_OBLIGATION_KIND_ACKNOWLEDGE),
		TimeToDisclose:    medianTime(obs, pb.ObligationKind_OBLIGATION_KIND_DISCLOSE),
		TimeToRemediate:   medianTime(obs, pb.ObligationKind_OBLIGATION_KIND_REMEDIATE),
		OpenChallenges: countWhere(obs, func(o *pb.Obligation) bool {
			return o.Kind == pb.ObligationKind_OBLIGATION_KIND_REPLY_CHALLENGE && Open(o)
		}),
		Overdue: countWhere(obs, func(o *pb.Obligation) bool { return o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE }),
	}
	c.StagedReporting = stageFigures(obs)
	var reviews []*pb.Obligation
	for _, o := range obs {
		if o.Kind == pb.ObligationKind_OBLIGATION_KIND_REVIEW {
			reviews = append(reviews, o)
		}
	}
	c.ReviewsOnTime = onTime(reviews)
	c.ReceiptsOnTime, c.ReceiptsMissed, c.TimeToReceipt = answered(obs, pb.ObligationKind_OBLIGATION_KIND_RECEIPT)
	c.PingsOnTime, c.PingsMissed, c.TimeToAnswerPing = answered(obs, pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING)
	_, c.CaseRepliesMissed, _ = answered(obs, pb.ObligationKind_OBLIGATION_KIND_REPLY_CONSULTATION)
	_, c.MeasuresNotEnded, _ = answered(obs, pb.ObligationKind_OBLIGATION_KIND_TERMINATE_MEASURE)
	orderDuty := func(s pb.ObligationStatus) func(*pb.Obligation) bool {
		return func(o *pb.Obligation) bool { return o.Status == s && slices.Contains(orderDuties, o.Kind) }
	}
	c.OrderDutiesLate = countWhere(obs, orderDuty(pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE))
	c.OrderDutiesMissed = countWhere(obs, orderDuty(pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE))
	c.ByKind = kindFigures(obs)
	if len(drill) > 0 {
		c.ExerciseObligations = byStatus(sortedObligations(drill))
	}
	var err error
	c.Findings, err = byDetermination(findings)
	return c, err
}

// splitExercise separates real duties from exercise duties.
func splitExercise(obs []*pb.Obligation) (real, drill []*pb.Obligation) {
	for _, o := range obs {
		if o.Exercise {
			drill = append(drill, o)
		} else {
			real = append(real, o)
		}
	}
	return real, drill
}

// kindFigures are the figures of obs (sorted by id) per kind, for the
// kinds present, ascending.
func kindFigures(obs []*pb.Obligation) []*pb.KindFigure {
	by := map[pb.ObligationKind][]*pb.Obligation{}
	var kinds []pb.ObligationKind
	for _, o := range obs {
		if _, ok := by[o.Kind]; !ok {
			kinds = append(kinds, o.Kind)
		}
		by[o.Kind] = append(by[o.Kind], o)
	}
	slices.Sort(kinds)
	out := make([]*pb.KindFigure, 0, len(kinds))
	for _, k := range kinds {
		of := by[k]
		out = append(out, &pb.KindFigure{Kind: k, Obligations: byStatus(of), OnTime: onTime(of), TimeToMeet: medianTime(of, k)})
	}
	return out
}

// orderDuties are the duties of protective orders (app version 11).
var orderDuties = []pb.ObligationKind{pb.ObligationKind_OBLIGATION_KIND_DELIVER_DISCLOSURE, pb.ObligationKind_OBLIGATION_KIND_CONFIRM_DISCLOSURE,
	pb.ObligationKind_OBLIGATION_KIND_PUBLISH_DISCLOSURE, pb.ObligationKind_OBLIGATION_KIND_RETURN_DISCLOSURE}

// RedactionFigures adds the share of withheld fields to c: over the
// member's records of the disclosable kinds (any order), the fields it
// withheld over the withholdable fields it filed (set or withheld), in
// basis points; the ids are the records with a redaction.
func RedactionFigures(c *pb.MemberCompliance, records []*pb.StoredRecord) error {
	c.RedactedFields = &pb.RateFigure{}
	sorted := append([]*pb.StoredRecord(nil), records...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Id < sorted[j].Id })
	for _, rec := range sorted {
		tx := new(pb.Tx)
		if err := proto.Unmarshal(rec.Tx, tx); err != nil {
			return fmt.Errorf("record %s: %w", rec.Id, err)
		}
		r := tx.GetBody().GetRecord()
		kind, body := disclose.Body(r)
		if body == nil || r.GetExercise() {
			continue
		}
		for _, p := range disclose.Redactable(string(kind)) {
			fd := body.Descriptor().Fields().ByName(protoreflect.Name(p))
			if body.Has(fd) {
				c.RedactedFields.Denominator++
			}
		}
		if n := uint32(len(r.GetRedaction().GetFields())); n > 0 {
			c.RedactedFields.Numerator += n
			c.RedactedFields.Denominator += n
			c.RedactedFields.ObligationIds = append(c.RedactedFields.ObligationIds, rec.Id)
		}
	}
	if d := c.RedactedFields.Denominator; d > 0 {
		c.RedactedFields.BasisPoints = uint32(uint64(c.RedactedFields.Numerator) * 10000 / uint64(d))
	}
	return nil
}

// countWhere counts the obligations of obs that match, with their ids.
func countWhere(obs []*pb.Obligation, match func(*pb.Obligation) bool) *pb.CountFigure {
	c := &pb.CountFigure{}
	for _, o := range obs {
		if match(o) {
			c.Count++
			c.Ids = append(c.Ids, o.Id)
		}
	}
	return c
}

// answered are the figures of the duties of kind in obs that ask for an
// answer within a window (receipts, ping answers): on time / (on time +
// late + overdue), the ones not answered in time (late or overdue), and
// the median time to answer.
func answered(obs []*pb.Obligation, kind pb.ObligationKind) (*pb.RateFigure, *pb.CountFigure, *pb.DurationFigure) {
	var of []*pb.Obligation
	for _, o := range obs {
		if o.Kind == kind {
			of = append(of, o)
		}
	}
	missed := countWhere(of, func(o *pb.Obligation) bool {
		return o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE || o.Status == pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE
	})
	return onTime(of), missed, medianTime(of, kind)
}

// stageFigures are the staged reporting figures of obs, one per stage.
func stageFigures(obs []*pb.Obligation) []*pb.StageFigure {
	var out []*pb.StageFigure
	for _, st := range []pb.DisclosureStage{pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING,
		pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION, pb.DisclosureStage_DISCLOSURE_STAGE_FINAL} {
		kind := StageKind(st)
		var of []*pb.Obligation
		for _, o := range obs {
			if o.Kind == kind {
				of = append(of, o)
			}
		}
		out = append(out, &pb.StageFigure{Stage: st, Obligations: byStatus(of), OnTime: onTime(of), TimeToFile: medianTime(of, kind)})
	}
	return out
}

// PledgeCompliance computes a pledge's figures from the disclosure duties
// resting on it and the findings on it.
func PledgeCompliance(pledge *pb.StoredRecord, duties []*pb.Obligation, findings []*pb.StoredRecord) (*pb.PledgeCompliance, error) {
	tx := new(pb.Tx)
	if err := proto.Unmarshal(pledge.Tx, tx); err != nil {
		return nil, err
	}
	var obs, responses []*pb.Obligation
	real, _ := splitExercise(duties)
	for _, o := range sortedObligations(real) {
		if o.Kind == pb.ObligationKind_OBLIGATION_KIND_RESPOND {
			responses = append(responses, o)
		} else {
			obs = append(obs, o)
		}
	}
	c := &pb.PledgeCompliance{
		PledgeId:              pledge.Id,
		Pledgors:              tx.Body.Record.GetPledge().GetPledgors(),
		DisclosureObligations: byStatus(obs),
		OnTime:                onTime(obs),
		TimeToDisclose:        medianTime(obs, pb.ObligationKind_OBLIGATION_KIND_DISCLOSE),
		StagedReporting:       stageFigures(obs),
	}
	if len(responses) > 0 {
		c.ResponseObligations, c.ResponsesOnTime = byStatus(responses), onTime(responses)
	}
	var err error
	c.Findings, err = byDetermination(findings)
	return c, err
}

// SealedNoticeOf computes who a sealed record was sent to and who confirmed
// receipt, and when: from the record, its recipients' receipt obligations
// (by member), the receipt records that met them (by member) and its
// reveal record (nil before it is filed).
func SealedNoticeOf(sealed *pb.StoredRecord, obligations map[string]*pb.Obligation, receipts map[string]*pb.StoredRecord, reveal *pb.StoredRecord) (*pb.SealedNotice, error) {
	tx := new(pb.Tx)
	if err := proto.Unmarshal(sealed.Tx, tx); err != nil {
		return nil, err
	}
	s := tx.GetBody().GetRecord().GetSealed()
	if s == nil {
		return nil, fmt.Errorf("record %s is not sealed", sealed.Id)
	}
	n := &pb.SealedNotice{SealedId: sealed.Id, Sealer: sealed.Author, Height: sealed.Height, Time: sealed.BlockTime,
		SealedKind: s.SealedKind, RevealBy: s.RevealBy}
	if reveal != nil {
		rtx := new(pb.Tx)
		if err := proto.Unmarshal(reveal.Tx, rtx); err != nil {
			return nil, err
		}
		n.RevealId = reveal.Id
		n.OperationWindow = rtx.GetBody().GetRecord().GetReveal().GetBody().GetNotification().GetOperationWindow()
	}
	for _, r := range s.Recipients {
		st := &pb.SealedRecipientStatus{Member: r.Member, KeyId: r.KeyId}
		n.Told++
		if ob := obligations[r.Member]; ob != nil {
			st.ObligationId, st.Status, st.Due = ob.Id, ob.Status, ob.Due
		}
		if rec := receipts[r.Member]; rec != nil {
			rtx := new(pb.Tx)
			if err := proto.Unmarshal(rec.Tx, rtx); err != nil {
				return nil, err
			}
			rc := rtx.GetBody().GetRecord().GetReceipt()
			st.ReceiptId, st.ReceiptHeight, st.ReceiptTime = rec.Id, rec.Height, rec.BlockTime
			st.Matches = rc.GetMatches()
			st.MismatchProven = !rc.GetMatches() && len(rc.GetFileKey()) > 0
			if st.Matches {
				n.Confirmed++
			}
			if st.MismatchProven {
				n.MismatchesProven++
			}
			if w := n.OperationWindow; w.GetStart() != nil {
				st.LeadSeconds, st.HasLead = w.Start.Seconds-rec.BlockTime.GetSeconds(), true
			}
		}
		n.Recipients = append(n.Recipients, st)
	}
	return n, nil
}

// CaseFigures adds the figures of the cases a member is a party to
// (cases, any order): the cases opened against it, and the median time
// from request to a settled close of those (ids are case ids).
func CaseFigures(c *pb.MemberCompliance, cases []*pb.CaseState) {
	c.CasesAgainst, c.TimeToSettle = &pb.CountFigure{}, &pb.DurationFigure{}
	sorted := append([]*pb.CaseState(nil), cases...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Id < sorted[j].Id })
	var secs []int64
	for _, cs := range sorted {
		if cs.Respondent != c.Member {
			continue
		}
		c.CasesAgainst.Count++
		c.CasesAgainst.Ids = append(c.CasesAgainst.Ids, cs.Id)
		if cs.Outcome == pb.CaseOutcome_CASE_OUTCOME_SETTLED {
			secs = append(secs, cs.ClosedAt.Seconds-cs.OpenedAt.Seconds)
			c.TimeToSettle.ObligationIds = append(c.TimeToSettle.ObligationIds, cs.Id)
		}
	}
	c.TimeToSettle.Samples = uint32(len(secs))
	if len(secs) > 0 {
		sort.Slice(secs, func(i, j int) bool { return secs[i] < secs[j] })
		c.TimeToSettle.MedianSeconds = secs[(len(secs)-1)/2]
	}
}
