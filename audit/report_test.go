package audit

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func TestReportFiles(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r := &Report{ChainID: "c", Node: "http://n", FromHeight: 1, ToHeight: 3, Blocks: 3, States: []string{"xaa", "xbb"}, Started: t0}
	for h := 1; h <= 600; h++ { // more points than the chart draws
		r.Series = append(r.Series, Point{Height: int64(h), Time: t0.Add(time.Duration(h) * time.Minute), States: map[string]map[string]int{
			"xaa": {"OBLIGATION_STATUS_OPEN": h % 7, "OBLIGATION_STATUS_OVERDUE": h % 3},
			"xbb": {"OBLIGATION_STATUS_OPEN": 2},
		}})
	}
	r.Compliance = []*pb.MemberCompliance{{Member: "xaa", OnTime: &pb.RateFigure{Numerator: 1, Denominator: 3, BasisPoints: 3333},
		TimeToAcknowledge: &pb.DurationFigure{MedianSeconds: 3600, Samples: 1}, TimeToDisclose: &pb.DurationFigure{},
		TimeToRemediate: &pb.DurationFigure{}, OpenChallenges: &pb.CountFigure{}, Overdue: &pb.CountFigure{Count: 1}}}
	r.add(3, "compliance of xaa: on-time rate", `{"a":1}`, `{"a":2}`)
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	var back Report
	bz, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(bz, &back); err != nil || len(back.Discrepancies) != 1 {
		t.Fatalf("report.json: %v", err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	s := string(html)
	for _, want := range []string{"33.33% (1/3)", "1h0m0s", "compliance of xaa: on-time rate", "1 discrepancies"} {
		if !strings.Contains(s, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	svg := s[strings.Index(s, "<svg"):]
	svg = svg[:strings.Index(svg, "</svg>")+len("</svg>")]
	var doc struct {
		Lines []struct {
			Points string `xml:"points,attr"`
			Dash   string `xml:"stroke-dasharray,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("chart is not well-formed SVG: %v", err)
	}
	if len(doc.Lines) != 4 {
		t.Fatalf("%d lines, want a solid and a dashed line per state", len(doc.Lines))
	}
	if n := len(strings.Fields(doc.Lines[0].Points)); n > 402 || n < 100 {
		t.Fatalf("%d points drawn", n)
	}
}
