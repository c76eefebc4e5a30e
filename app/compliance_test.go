package app

import (
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// The fixed compliance scenario, hour by hour after t0:
//
//	+0:00:01 xaa+xbb pledge: water, disclose within 72 h
//	+0:00:02 xaa asks xbb and xcc to respond by +48 h (ack window 24 h)
//	+1       observatory records an incident on xbb's water sector -> xbb owes a disclosure by +73 h
//	+2       xbb acknowledges (7198 s after the notification)            -> met
//	+11      xbb discloses, referring to the incident (10 h after it)  -> met
//	+12      lumen: finding on the pledge, INCONSISTENT, concerning xbb; no reply due
//	+13      lumen challenges xbb's disclosure, reply by +7 d           -> open
//	+25      (empty block) xcc's acknowledgement is overdue
//	+26      xcc acknowledges (93598 s after the notification)          -> met late
//	+30      xbb responds                                               -> met
//	+49      (empty block) xcc's response is overdue
func TestComplianceGolden(t *testing.T) {
	h := newHarness(t)
	p := h.file(time.Second, "xaa", pledge([]string{"xaa", "xbb"}, 72, pb.Sector_SECTOR_WATER), "xbb")
	n := h.file(2*time.Second, "xaa", notif([]string{"xbb", "xcc"}, t0.Add(48*time.Hour)))
	d := h.file(1*time.Hour, "observatory", incident("OBS-7", []string{"xbb"}, pb.Sector_SECTOR_WATER))
	h.file(2*time.Hour, "xbb", ack(n))
	own := h.file(11*time.Hour, "xbb", incident("XBB-7", []string{"xbb"}, pb.Sector_SECTOR_WATER, d))
	h.file(12*time.Hour, "lumen", &pb.Record{Body: &pb.Record_Finding{Finding: &pb.Finding{
		SubjectType: pb.FindingSubjectType_FINDING_SUBJECT_TYPE_PLEDGE, SubjectId: p, SubjectStates: []string{"xbb"},
		Determination: pb.Determination_DETERMINATION_INCONSISTENT, EvidenceRefs: []string{d},
		Methodology: &pb.Methodology{Name: "m", Version: "1"}, ConflictOfInterest: &pb.ConflictOfInterest{NoneDeclared: true},
		Summary: "Disclosure lacked impact data."}}})
	h.file(13*time.Hour, "lumen", &pb.Record{Body: &pb.Record_Challenge{Challenge: &pb.Challenge{
		TargetId: own, Grounds: "Times do not match the operator's logs.", ReplyBy: ts(t0.Add(13*time.Hour + 7*24*time.Hour))}}})
	h.at(25 * time.Hour)
	h.file(26*time.Hour, "xcc", ack(n))
	h.file(30*time.Hour, "xbb", reply(n))
	h.at(49 * time.Hour)

	v, err := h.st.At(0)
	if err != nil {
		t.Fatal(err)
	}
	xbb, err := v.MemberCompliance("xbb")
	if err != nil {
		t.Fatal(err)
	}
	xcc, _ := v.MemberCompliance("xcc")
	xaa, _ := v.MemberCompliance("xaa")
	pc, err := v.PledgeCompliance(p)
	if err != nil || pc == nil {
		t.Fatalf("pledge compliance: %v", err)
	}

	// Hand-computed expectations.
	count := func(c *pb.MemberCompliance, s pb.ObligationStatus) uint32 {
		for _, x := range c.Obligations {
			if x.Status == s {
				return x.Count
			}
		}
		return 0
	}
	type want struct {
		open, met, late, overdue, waived uint32
		num, den, bp                     uint32
		ackMedian, discloseMedian        int64
		openChallenges, overdueCount     uint32
		inconsistent                     uint32
	}
	check := func(name string, c *pb.MemberCompliance, w want) {
		t.Helper()
		got := want{count(c, sOpen), count(c, sMet), count(c, sLate), count(c, sOverdue), count(c, sWaived),
			c.OnTime.Numerator, c.OnTime.Denominator, c.OnTime.BasisPoints,
			c.TimeToAcknowledge.MedianSeconds, c.TimeToDisclose.MedianSeconds,
			c.OpenChallenges.Count, c.Overdue.Count, c.Findings[1].Count}
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, w)
		}
	}
	// xbb owes: ack (met), respond (met), disclose (met), reply to the challenge (open).
	check("xbb", xbb, want{open: 1, met: 3, num: 3, den: 3, bp: 10000, ackMedian: 2*3600 - 2,
		discloseMedian: 10 * 3600, openChallenges: 1, inconsistent: 1})
	// xcc owes: ack (met late), respond (overdue).
	check("xcc", xcc, want{late: 1, overdue: 1, num: 0, den: 2, bp: 0, ackMedian: 26*3600 - 2, overdueCount: 1})
	// xaa owes nothing.
	check("xaa", xaa, want{})
	if pc.OnTime.BasisPoints != 10000 || pc.DisclosureObligations[1].Count != 1 || pc.TimeToDisclose.MedianSeconds != 36000 ||
		pc.Findings[1].Count != 1 || len(pc.Pledgors) != 2 {
		t.Errorf("pledge: %v", pc)
	}
	// Every figure lists what it rests on.
	if len(xbb.OnTime.ObligationIds) != 3 || len(xcc.Overdue.Ids) != 1 || len(xbb.Findings[1].RecordIds) != 1 {
		t.Error("figures do not list the obligations and records they rest on")
	}

	// The full figures against the golden file. protojson varies its
	// whitespace between builds on purpose, so compare normalised JSON.
	opts := protojson.MarshalOptions{EmitUnpopulated: true}
	var doc []json.RawMessage
	for _, c := range []*pb.MemberCompliance{xaa, xbb, xcc} {
		bz, _ := opts.Marshal(c)
		doc = append(doc, bz)
	}
	bz, _ := opts.Marshal(pc)
	doc = append(doc, bz)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/compliance.golden.json"
	if *updateGolden {
		if err := os.WriteFile(golden, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expected, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	var a, b any
	if err := json.Unmarshal(expected, &a); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(out, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("compliance figures differ from %s (run with -update after checking the change):\n%s", golden, out)
	}
}
