package app

import (
	"testing"
	"time"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

const (
	kEarly  = pb.ObligationKind_OBLIGATION_KIND_EARLY_WARNING
	kNotif  = pb.ObligationKind_OBLIGATION_KIND_INCIDENT_NOTIFICATION
	kFinal  = pb.ObligationKind_OBLIGATION_KIND_FINAL_REPORT
	kReview = pb.ObligationKind_OBLIGATION_KIND_REVIEW
)

func stagedPledge(pledgors []string, sr *pb.StagedReporting, sectors ...pb.Sector) *pb.Record {
	r := pledge(pledgors, 0, sectors...)
	r.GetPledge().Verification = nil
	r.GetPledge().StagedReporting = sr
	return r
}

func stage(r *pb.Record, s pb.DisclosureStage, aware time.Time) *pb.Record {
	d := r.GetIncidentDisclosure()
	d.Stage, d.AwareAt, d.DetectedAt = s, ts(aware), ts(aware.Add(-time.Minute))
	return r
}

const (
	early = pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING
	notic = pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION
	final = pb.DisclosureStage_DISCLOSURE_STAGE_FINAL
)

// NIS2-style staged reporting: each stage met, met late, and overdue
// with no transaction at all.
func TestStagedReporting(t *testing.T) {
	h := newHarness(t)
	hr := time.Hour
	p := h.file(time.Second, "xaa", stagedPledge([]string{"xaa", "xbb"},
		&pb.StagedReporting{EarlyWarningHours: 24, NotificationHours: 72, FinalReportHours: 720}, pb.Sector_SECTOR_WATER), "xbb")

	// Met: xbb reports its own incident in three stages, each in time.
	ew := h.file(hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER), early, t0.Add(-hr)))
	o := h.expect(kEarly, ew, "xbb", sMet) // its own first report meets it at once
	if !o.Due.AsTime().Equal(t0.Add(23*hr)) || len(o.Basis) != 1 || o.Basis[0] != p || len(o.Creditors) != 1 || o.Creditors[0] != "xaa" {
		t.Fatalf("early warning duty: %+v", o)
	}
	o = h.expect(kNotif, ew, "xbb", sOpen)
	if !o.Due.AsTime().Equal(t0.Add(71 * hr)) {
		t.Fatalf("notification due %v", o.Due.AsTime())
	}
	if h.ob(kFinal, ew, "xbb") != nil {
		t.Fatal("a final report is owed before the notification")
	}
	nt := h.file(30*hr, "xbb", stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, ew), notic, t0.Add(-hr)))
	h.expect(kNotif, ew, "xbb", sMet)
	o = h.expect(kFinal, ew, "xbb", sOpen)
	if !o.Due.AsTime().Equal(t0.Add(750 * hr)) {
		t.Fatalf("final report due %v, want 720 h after the notification", o.Due.AsTime())
	}
	if h.ob(kEarly, nt, "xbb") != nil || h.ob(kNotif, nt, "xbb") != nil {
		t.Fatal("a later stage opened a second staged incident")
	}
	// The final report refers to the notification (which refers to the first report).
	fr := stage(incident("XBB-1", []string{"xbb"}, pb.Sector_SECTOR_WATER, nt), final, t0.Add(-hr))
	fr.GetIncidentDisclosure().RemediatedAt = ts(t0.Add(90 * hr))
	h.file(100*hr, "xbb", fr)
	h.expect(kFinal, ew, "xbb", sMet)

	// Met late: a neutral body records an incident on xaa's water sector;
	// xaa learns of it then and owes an early warning within 24 h.
	d2 := h.file(101*hr, "observatory", incident("OBS-7", []string{"xaa"}, pb.Sector_SECTOR_WATER))
	o = h.expect(kEarly, d2, "xaa", sOpen)
	if !o.Due.AsTime().Equal(t0.Add(125*hr)) || len(o.Creditors) != 1 || o.Creditors[0] != "xbb" {
		t.Fatalf("early warning on xaa: due %v creditors %v", o.Due.AsTime(), o.Creditors)
	}
	h.at(130 * hr)
	h.expect(kEarly, d2, "xaa", sOverdue)
	// Its notification (no early warning ever filed) meets both: the
	// early warning late, the notification on time.
	h.file(150*hr, "xaa", stage(incident("XAA-3", []string{"xaa"}, pb.Sector_SECTOR_WATER, d2), notic, t0.Add(101*hr)))
	h.expect(kEarly, d2, "xaa", sLate)
	h.expect(kNotif, d2, "xaa", sMet)
	h.expect(kFinal, d2, "xaa", sOpen)

	// Overdue with no transaction: nobody files anything after the record.
	d3 := h.file(160*hr, "observatory", incident("OBS-8", []string{"xbb"}, pb.Sector_SECTOR_WATER))
	h.expect(kEarly, d3, "xbb", sOpen)
	h.at(300 * hr)
	h.expect(kEarly, d3, "xbb", sOverdue)
	h.expect(kNotif, d3, "xbb", sOverdue)
	if h.ob(kFinal, d3, "xbb") != nil {
		t.Fatal("a final report owed without a notification")
	}
	// An unprotected sector places nothing.
	d4 := h.file(301*hr, "observatory", incident("OBS-9", []string{"xbb"}, pb.Sector_SECTOR_FINANCE))
	if h.ob(kEarly, d4, "xbb") != nil {
		t.Fatal("staged duty for an unprotected sector")
	}

	// Per-stage figures.
	v, err := h.st.At(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		member string
		want   [3][2]uint32 // per stage: on time / counted
	}{
		{"xbb", [3][2]uint32{{1, 2}, {1, 2}, {1, 1}}},
		{"xaa", [3][2]uint32{{0, 1}, {1, 1}, {0, 0}}},
	} {
		mc, err := v.MemberCompliance(c.member)
		if err != nil {
			t.Fatal(err)
		}
		if len(mc.StagedReporting) != 3 {
			t.Fatalf("%s: %d stage figures", c.member, len(mc.StagedReporting))
		}
		for i, f := range mc.StagedReporting {
			if got := [2]uint32{f.OnTime.Numerator, f.OnTime.Denominator}; got != c.want[i] {
				t.Errorf("%s stage %v on time %v, want %v", c.member, f.Stage, got, c.want[i])
			}
		}
	}
	pc, err := v.PledgeCompliance(p)
	if err != nil {
		t.Fatal(err)
	}
	if f := pc.StagedReporting[0]; f.OnTime.Denominator != 3 {
		t.Fatalf("pledge early-warning figure %+v", f.OnTime)
	}
}

// Bad staged windows are refused with stable codes.
func TestStagedReportingBadWindows(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		sr   *pb.StagedReporting
		want ledger.Code
	}{
		{&pb.StagedReporting{}, ledger.CodeMissingField},
		{&pb.StagedReporting{EarlyWarningHours: 80, NotificationHours: 72}, ledger.CodeBadFormat},
		{&pb.StagedReporting{EarlyWarningHours: 24, FinalReportHours: 720}, ledger.CodeMissingField},
		{&pb.StagedReporting{NotificationHours: 9000}, ledger.CodeBadFormat},
	} {
		h.reject(time.Second, "xaa", stagedPledge([]string{"xaa"}, c.sr, pb.Sector_SECTOR_WATER), c.want)
	}
}

// A pledge's review falls due on its pledgors; after its sunset it places
// no new duties and reads as expired.
func TestPledgeReviewAndSunset(t *testing.T) {
	h := newHarness(t)
	hr := time.Hour
	rec := stagedPledge([]string{"xaa", "xbb"}, &pb.StagedReporting{EarlyWarningHours: 24, NotificationHours: 72}, pb.Sector_SECTOR_ENERGY)
	pl := rec.GetPledge()
	pl.Verification = &pb.VerificationPromises{DiscloseWithinHours: 72}
	pl.ReviewDue, pl.EffectiveUntil = ts(t0.Add(100*hr)), ts(t0.Add(500*hr))
	p := h.file(time.Second, "xaa", rec, "xbb")
	o := h.expect(kReview, p, "xaa", sOpen)
	if !o.Due.AsTime().Equal(t0.Add(100*hr)) || len(o.Creditors) != 1 || o.Creditors[0] != "xbb" {
		t.Fatalf("review duty %+v", o)
	}
	h.expect(kReview, p, "xbb", sOpen)
	// xbb reviews it by a response; a state that is no pledgor may not.
	h.file(50*hr, "xbb", reply(p))
	h.expect(kReview, p, "xbb", sMet)
	h.reject(51*hr, "xcc", reply(p), ledger.CodeNotRecipient)
	// xaa misses the date, then reviews it by amending its pledge: met late,
	// and the new version's review date places the next review.
	h.at(150 * hr)
	h.expect(kReview, p, "xaa", sOverdue)
	repl := stagedPledge([]string{"xaa", "xbb"}, &pb.StagedReporting{EarlyWarningHours: 24, NotificationHours: 72}, pb.Sector_SECTOR_ENERGY)
	repl.SchemaVersion = 1
	repl.GetPledge().ReviewDue, repl.GetPledge().EffectiveUntil = ts(t0.Add(400*hr)), ts(t0.Add(500*hr))
	am := h.file(160*hr, "xaa", &pb.Record{Body: &pb.Record_Amendment{Amendment: &pb.Amendment{
		TargetId: p, Reason: "Annual review: unchanged commitments, new review date.", Replacement: repl}}}, "xbb")
	h.expect(kReview, p, "xaa", sLate)
	h.expect(kReview, am, "xaa", sOpen)
	h.expect(kReview, am, "xbb", sOpen)

	// In force: an incident on xaa's energy sector places duties.
	d1 := h.file(200*hr, "observatory", incident("OBS-1", []string{"xaa"}, pb.Sector_SECTOR_ENERGY))
	h.expect(kEarly, d1, "xaa", sOpen)
	h.expect(kDisclose, d1, "xaa", sOpen)
	// After effective_until: none.
	d2 := h.file(600*hr, "observatory", incident("OBS-2", []string{"xaa"}, pb.Sector_SECTOR_ENERGY))
	if h.ob(kEarly, d2, "xaa") != nil || h.ob(kDisclose, d2, "xaa") != nil {
		t.Fatal("an expired pledge placed duties")
	}
	for _, c := range []struct {
		at   time.Duration
		want pb.PledgeState
	}{
		{-2 * hr, pb.PledgeState_PLEDGE_STATE_PENDING},
		{200 * hr, pb.PledgeState_PLEDGE_STATE_IN_FORCE},
		{500 * hr, pb.PledgeState_PLEDGE_STATE_EXPIRED},
	} {
		if got := ledger.PledgeStateAt(pl, t0.Add(c.at)); got != c.want {
			t.Errorf("at +%s: %v, want %v", c.at, got, c.want)
		}
	}
	// A review date at or after the sunset places no review.
	late := stagedPledge([]string{"xbb"}, &pb.StagedReporting{NotificationHours: 72}, pb.Sector_SECTOR_HEALTH)
	late.GetPledge().ReviewDue, late.GetPledge().EffectiveUntil = ts(t0.Add(900*hr)), ts(t0.Add(800*hr))
	late.GetPledge().Title = "Short pledge"
	lp := h.file(601*hr, "xbb", late)
	if h.ob(kReview, lp, "xbb") != nil {
		t.Fatal("a review due after the sunset")
	}
	v, _ := h.st.At(0)
	mc, err := v.MemberCompliance("xaa")
	if err != nil {
		t.Fatal(err)
	}
	if r := mc.ReviewsOnTime; r.Numerator != 0 || r.Denominator != 2 { // late, then overdue at +400 h
		t.Fatalf("xaa reviews on time %+v", r)
	}
}
