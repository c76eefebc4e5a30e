package monitor

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// step goes from the last processed height to t.
func (m *daemon) step(ctx context.Context, t int64) error {
	next, err := m.lc.Header(ctx, t+1)
	if err != nil {
		return err
	}
	self, err := m.lc.Header(ctx, t)
	if err != nil {
		return err
	}
	at := proven{height: t, appHash: next.AppHash, headerHash: next.Hash(), blockTime: self.Time.UTC()}
	first := m.st.Height == 0
	author, subject := m.st.Author, m.st.Subject
	if first {
		// Start at the end of the record log: records already on the
		// ledger are not news.
		end, err := m.logEnd(ctx, at)
		if err != nil {
			return err
		}
		author, subject = end, end
	}
	var events []*Event
	byAuthor, author, ls, err := m.listIndex(ctx, at, layout.IndexAuthor, author)
	if err != nil {
		return err
	}
	bySubject, subject, _, err := m.listIndex(ctx, at, layout.IndexSubject, subject)
	if err != nil {
		return err
	}
	// The log must extend the one this monitor saw before.
	if err := m.lc.CheckLog(ctx, m.c, ls); err != nil {
		return err
	}
	recs := map[uint64]*pb.StoredRecord{}
	viaSubject := map[uint64]bool{}
	for _, r := range byAuthor {
		recs[r.Seq] = r
	}
	for _, r := range bySubject {
		recs[r.Seq] = r
		viaSubject[r.Seq] = true
	}
	seqs := make([]uint64, 0, len(recs))
	for s := range recs {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	// Obligations: candidates by id (listings, watched ones, lookups).
	cands := map[string]*pb.Obligation{}
	var lookups []string
	for _, s := range seqs {
		r := recs[s]
		ev, err := m.recordEvent(at, r, viaSubject[s], ls)
		if err != nil {
			return err
		}
		events = append(events, ev)
		// A harm assessment's remediation may be due before the block
		// that created it (its due time is not checked to lie ahead), so
		// it may fall before the obligation scan's window: look it up.
		if h := r.Decoded.GetBody().GetRecord().GetHarmAssessment(); h.GetRemediationDue() != nil && h.GetResponsibleParty() != "" {
			lookups = append(lookups, ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_REMEDIATE, r.Id, h.ResponsibleParty))
		}
	}
	var from time.Time
	if !first {
		from = m.st.BlockTime
	}
	dueBefore := at.blockTime.Add(m.o.Within)
	if limit := time.Unix(ledger.MaxTimeSeconds-1, 0); dueBefore.After(limit) {
		dueBefore = limit
	}
	for _, debtor := range []bool{true, false} {
		obs, err := m.scanObligations(ctx, at, debtor, from, dueBefore)
		if err != nil {
			return err
		}
		for _, o := range obs {
			cands[o.Id] = o
		}
	}
	for _, id := range append(slices.Clone(m.st.Watch), lookups...) {
		if _, ok := cands[id]; ok {
			continue
		}
		o, err := m.obligation(ctx, at, id)
		if err != nil {
			return err
		}
		if o != nil {
			cands[o.Id] = o
		}
	}
	ids := make([]string, 0, len(cands))
	for id := range cands {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := cands[ids[i]], cands[ids[j]]
		if da, db := a.Due.AsTime(), b.Due.AsTime(); !da.Equal(db) {
			return da.Before(db)
		}
		return a.Id < b.Id
	})
	var watch []string
	for _, id := range ids {
		o := cands[id]
		events = append(events, m.obligationEvents(at, o, first)...)
		if o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OPEN && o.Due.AsTime().Before(at.blockTime) {
			watch = append(watch, o.Id)
		}
	}
	// Only what was not reported before.
	queued := map[string]bool{}
	for _, ev := range m.st.Pending {
		queued[ev.ID] = true
	}
	var fresh []*Event
	for _, ev := range events {
		if _, done := m.st.Delivered[ev.ID]; done || queued[ev.ID] {
			continue
		}
		queued[ev.ID] = true
		fresh = append(fresh, ev)
	}
	if err := m.hook(Computed, fresh); err != nil {
		return errCrash{err}
	}
	m.st.Height, m.st.BlockTime, m.st.Author, m.st.Subject, m.st.Watch = t, at.blockTime, author, subject, watch
	m.st.Pending = append(m.st.Pending, fresh...)
	m.prune()
	if err := m.save(); err != nil {
		return err
	}
	m.mx.queued(fresh, m.st)
	if err := m.hook(Queued, fresh); err != nil {
		return errCrash{err}
	}
	return nil
}

// logEnd returns the cursor at the last record of the log at p: the
// proven log size and the proven height of its last record.
func (m *daemon) logEnd(ctx context.Context, p proven) (recordCursor, error) {
	lr, err := m.c.GetLog(ctx, p.height, true)
	if err != nil {
		return recordCursor{}, err
	}
	if lr.Height != p.height {
		return recordCursor{}, verifiers.Failf("asked for the log at height %d, got height %d", p.height, lr.Height)
	}
	ls, err := verifiers.ProvenLog(p.appHash, lr.Proof, p.height)
	if err != nil {
		return recordCursor{}, err
	}
	if ls.Size == 0 {
		return recordCursor{}, nil
	}
	req := &pb.ListRecordsRequest{Limit: 1, Height: p.height, Prove: true}
	if ls.Size > 1 {
		req.PageToken = strconv.FormatUint(ls.Size-1, 10)
	}
	resp, err := m.c.Records(ctx, req)
	if err != nil {
		return recordCursor{}, err
	}
	if resp.Height != p.height {
		return recordCursor{}, verifiers.Failf("asked for records at height %d, got height %d", p.height, resp.Height)
	}
	res, err := verifiers.List(p.appHash, verifiers.ListQuery{After: ls.Size - 1, Limit: 1}, resp)
	if err != nil {
		return recordCursor{}, err
	}
	if !res.Complete || len(res.Records) != 1 || res.Records[0].Seq != ls.Size {
		return recordCursor{}, verifiers.Failf("the log's last record %d is not the one listed", ls.Size)
	}
	return recordCursor{Seq: ls.Size, Height: res.Records[0].Height}, nil
}

// listIndex lists the member's records in one index after cur, every page
// proven complete.
func (m *daemon) listIndex(ctx context.Context, p proven, index string, cur recordCursor) ([]*pb.StoredRecord, recordCursor, verifiers.LogState, error) {
	const limit = 200
	var out []*pb.StoredRecord
	var ls verifiers.LogState
	for {
		req := &pb.ListRecordsRequest{Limit: limit, Height: p.height, Prove: true}
		q := verifiers.ListQuery{After: cur.Seq, AfterHeight: cur.Height, Limit: limit}
		if index == layout.IndexAuthor {
			req.Author, q.Author = m.o.Member, m.o.Member
		} else {
			req.Subject, q.Subject = m.o.Member, m.o.Member
		}
		if cur.Seq > 0 {
			req.PageToken = strconv.FormatUint(cur.Seq, 10)
		}
		resp, err := m.c.Records(ctx, req)
		if err != nil {
			return nil, cur, ls, err
		}
		if resp.Height != p.height {
			return nil, cur, ls, verifiers.Failf("asked for records at height %d, got height %d", p.height, resp.Height)
		}
		res, err := verifiers.List(p.appHash, q, resp)
		if err != nil {
			return nil, cur, ls, fmt.Errorf("records of %s at height %d: %w", m.o.Member, p.height, err)
		}
		if !res.Complete {
			return nil, cur, ls, verifiers.Failf("the listing of %s's records is not proven complete", m.o.Member)
		}
		ls = res.Log
		out = append(out, res.Records...)
		if n := len(res.Records); n > 0 {
			cur = recordCursor{Seq: res.Records[n-1].Seq, Height: res.Records[n-1].Height}
		}
		if resp.NextPageToken == "" {
			return out, cur, ls, nil
		}
	}
}

// provenObligation checks an obligation answer (o with proof p) against
// appHash with the verifiers package's own obligation check.
func provenObligation(appHash []byte, o *pb.Obligation, p *pb.Proof) (*pb.Obligation, error) {
	if o == nil {
		return nil, verifiers.Failf("an empty obligation")
	}
	pv, err := verifiers.Obligation(appHash, o.Id, &pb.GetObligationResponse{Obligation: o, Proof: p})
	if err != nil {
		return nil, err
	}
	if pv.Due == nil {
		return nil, verifiers.Failf("proven obligation %s has no due time", o.Id)
	}
	return pv, nil
}

// scanObligations lists the member's obligations as debtor (or creditor)
// due in [from, dueBefore) at p, each proven. The page token is the
// documented index key suffix (docs/verifying.md 7.5): u64be of the due
// time starts the listing there.
func (m *daemon) scanObligations(ctx context.Context, p proven, debtor bool, from, dueBefore time.Time) ([]*pb.Obligation, error) {
	req := &pb.ListObligationsRequest{Limit: 200, Height: p.height, Prove: true, DueBefore: timestamppb.New(dueBefore)}
	if debtor {
		req.Debtor = m.o.Member
	} else {
		req.Creditor = m.o.Member
	}
	if !from.IsZero() {
		req.PageToken = hex.EncodeToString(layout.Due(from.UnixNano()))
	}
	var out []*pb.Obligation
	for {
		resp, err := m.c.Obligations(ctx, req)
		if err != nil {
			return nil, err
		}
		if resp.Height != p.height {
			return nil, verifiers.Failf("asked for obligations at height %d, got height %d", p.height, resp.Height)
		}
		if len(resp.Proofs) != len(resp.Obligations) {
			return nil, verifiers.Failf("%d obligations with %d proofs", len(resp.Obligations), len(resp.Proofs))
		}
		for i, o := range resp.Obligations {
			po, err := provenObligation(p.appHash, o, resp.Proofs[i])
			if err != nil {
				return nil, err
			}
			if debtor && po.Debtor != m.o.Member || !debtor && !slices.Contains(po.Creditors, m.o.Member) {
				return nil, verifiers.Failf("obligation %s does not match the query", po.Id)
			}
			if due := po.Due.AsTime(); due.Before(from) || !due.Before(dueBefore) {
				return nil, verifiers.Failf("obligation %s is due outside the window asked for", po.Id)
			}
			out = append(out, po)
		}
		if resp.NextPageToken == "" {
			return out, nil
		}
		req.PageToken = resp.NextPageToken
	}
}

// obligation fetches one obligation at p with its proof; nil when it is
// proven absent.
func (m *daemon) obligation(ctx context.Context, p proven, id string) (*pb.Obligation, error) {
	resp, err := m.c.Obligation(ctx, id, p.height, true)
	if err != nil {
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Code != ledger.CodeUnknownObligation {
			return nil, err
		}
		for _, d := range ae.Details {
			if r, ok := d.(*pb.GetObligationResponse); ok && r.Height == p.height && r.Proof != nil &&
				bytes.Equal(r.Proof.Key, layout.Obligation(id)) && !r.Proof.Exists && verifiers.Proof(p.appHash, r.Proof) == nil {
				return nil, nil
			}
		}
		return nil, verifiers.Failf("the node says obligation %s is absent without proving it", id)
	}
	if resp.Height != p.height {
		return nil, verifiers.Failf("asked for obligation %s at height %d, got height %d", id, p.height, resp.Height)
	}
	if resp.Obligation.GetId() != id {
		return nil, verifiers.Failf("asked for obligation %s, got %s", id, resp.Obligation.GetId())
	}
	return provenObligation(p.appHash, resp.Obligation, resp.Proof)
}
