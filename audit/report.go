package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/normledger/normledger/internal/atomicfile"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Discrepancy is one way the chain or the node's answers disagree with the
// re-execution.
type Discrepancy struct {
	Height int64  `json:"height,omitempty"`
	What   string `json:"what"`
	Want   string `json:"want,omitempty"`
	Got    string `json:"got,omitempty"`
}

// Point is one sample of the obligation series: per state, obligations by status.
type Point struct {
	Height int64                     `json:"height"`
	Time   time.Time                 `json:"time"`
	States map[string]map[string]int `json:"states"` // state -> status -> count
}

// Report is the audit's result.
type Report struct {
	ChainID          string `json:"chain_id"`
	Node             string `json:"node"`
	FromHeight       int64  `json:"from_height"`
	ToHeight         int64  `json:"to_height"`
	Blocks           int64  `json:"blocks"`
	Txs              int    `json:"txs"`
	Accepted         int    `json:"accepted"`
	Rejected         int    `json:"rejected"`
	Signatures       int    `json:"signatures_verified"`
	HeadersVerified  int64  `json:"headers_verified"`
	AppHashesMatched int64  `json:"app_hashes_matched"`
	// ValidatorSetsMatched counts heights whose member registry gave the
	// validator set the headers name (governance changes included).
	ValidatorSetsMatched int64 `json:"validator_sets_matched"`
	// LogRootsMatched counts heights whose record log (size and root), as
	// the node proves it, is the log rebuilt from the blocks;
	// LogConsistencyVerified the consecutive pairs of log sizes whose
	// consistency proof from the node verified.
	LogRootsMatched        int64 `json:"log_roots_matched"`
	LogConsistencyVerified int64 `json:"log_consistency_verified"`
	// Checkpoints are the node\'s published checkpoints in the audited
	// range, each checked against the re-execution, with the witnesses
	// whose cosignatures verified (coverage over time).
	Checkpoints     []CheckpointCoverage `json:"checkpoints"`
	RecordsCompared int                  `json:"records_compared"`
	MembersCompared int                  `json:"members_compared"`
	PledgesCompared int                  `json:"pledges_compared"`
	// Evidence is the validator misbehaviour the re-execution committed
	// (compared with what the node serves).
	Evidence       []EvidenceEntry        `json:"evidence"`
	Seconds        float64                `json:"seconds"`
	TxsPerSecond   float64                `json:"txs_per_second"`
	Discrepancies  []Discrepancy          `json:"discrepancies"`
	Compliance     []*pb.MemberCompliance `json:"-"`
	ComplianceJSON []json.RawMessage      `json:"compliance"`
	Series         []Point                `json:"obligation_series"`
	States         []string               `json:"states"`
	Started        time.Time              `json:"started"`
}

// EvidenceEntry is one piece of evidence as the re-execution stored it.
type EvidenceEntry struct {
	ID              string `json:"id"`
	Type            string `json:"type"`
	Validator       string `json:"validator_address"`
	Member          string `json:"member,omitempty"`
	Height          int64  `json:"height"`
	CommittedHeight int64  `json:"committed_height"`
}

// OK reports whether the audit found nothing wrong.
func (r *Report) OK() bool { return len(r.Discrepancies) == 0 }

func (r *Report) add(h int64, what, want, got string) {
	r.Discrepancies = append(r.Discrepancies, Discrepancy{Height: h, What: what, Want: want, Got: got})
}

// CheckpointCoverage is one published checkpoint as the audit found it.
type CheckpointCoverage struct {
	Height    int64    `json:"height"`
	Size      uint64   `json:"size"`
	Cosigners []string `json:"cosigners"`
}

// Write saves report.json and report.html in dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bz, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "report.json"), append(bz, '\n'), 0o644); err != nil {
		return err
	}
	var html bytes.Buffer
	if err := page.Execute(&html, r.view()); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "report.html"), html.Bytes(), 0o644)
}

type memberRow struct {
	Member, OnTime, Ack, Disclose, Remediate string
	Open, Met, Late, Overdue, Waived         uint32
	Challenges, Findings, Misbehaviour       uint32
}

type view struct {
	*Report
	Rows  []memberRow
	Chart template.HTML
	When  string
}

func dur(secs int64, n uint32) string {
	if n == 0 {
		return "–"
	}
	return (time.Duration(secs) * time.Second).String()
}

func (r *Report) view() view {
	v := view{Report: r, When: r.Started.Format(time.RFC3339)}
	for _, c := range r.Compliance {
		row := memberRow{Member: c.Member, Ack: dur(c.TimeToAcknowledge.MedianSeconds, c.TimeToAcknowledge.Samples),
			Disclose: dur(c.TimeToDisclose.MedianSeconds, c.TimeToDisclose.Samples), Remediate: dur(c.TimeToRemediate.MedianSeconds, c.TimeToRemediate.Samples),
			Challenges: c.OpenChallenges.Count, OnTime: "–"}
		if c.OnTime.Denominator > 0 {
			row.OnTime = fmt.Sprintf("%d.%02d%% (%d/%d)", c.OnTime.BasisPoints/100, c.OnTime.BasisPoints%100, c.OnTime.Numerator, c.OnTime.Denominator)
		}
		for _, s := range c.Obligations {
			switch s.Status.String() {
			case "OBLIGATION_STATUS_OPEN":
				row.Open = s.Count
			case "OBLIGATION_STATUS_MET":
				row.Met = s.Count
			case "OBLIGATION_STATUS_MET_LATE":
				row.Late = s.Count
			case "OBLIGATION_STATUS_OVERDUE":
				row.Overdue = s.Count
			case "OBLIGATION_STATUS_WAIVED":
				row.Waived = s.Count
			}
		}
		for _, f := range c.Findings {
			row.Findings += f.Count
		}
		row.Misbehaviour = c.Misbehaviour.GetCount()
		v.Rows = append(v.Rows, row)
	}
	v.Chart = template.HTML(r.chart())
	return v
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"}

// chart draws, per state, the obligations it owes that are open or overdue
// (solid) and overdue alone (dashed) over block time, as inline SVG.
func (r *Report) chart() string {
	pts := r.Series
	if len(pts) == 0 || len(r.States) == 0 {
		return "<p>No obligations in the audited range.</p>"
	}
	const maxPoints = 400
	if len(pts) > maxPoints {
		step := float64(len(pts)) / maxPoints
		var s []Point
		for i := 0.0; int(i) < len(pts); i += step {
			s = append(s, pts[int(i)])
		}
		pts = append(s, r.Series[len(r.Series)-1])
	}
	const W, H, L, B, T = 760.0, 300.0, 50.0, 30.0, 10.0
	t0, t1 := pts[0].Time, pts[len(pts)-1].Time
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		span = 1
	}
	maxY := 1
	for _, p := range pts {
		for _, st := range r.States {
			if n := p.States[st]["OBLIGATION_STATUS_OPEN"] + p.States[st]["OBLIGATION_STATUS_OVERDUE"]; n > maxY {
				maxY = n
			}
		}
	}
	x := func(t time.Time) float64 { return L + (W-L-10)*t.Sub(t0).Seconds()/span }
	y := func(n int) float64 { return T + (H-T-B)*(1-float64(n)/float64(maxY)) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`, W, H+20*float64(len(r.States)/4+1))
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333"/>`, L, H-B, W-10, H-B)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333"/>`, L, T, L, H-B)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%d</text><text x="%.0f" y="%.0f" text-anchor="end">0</text>`, L-4, T+4, maxY, L-4, H-B)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text><text x="%.0f" y="%.0f" text-anchor="end">%s</text>`,
		L, H-B+14, t0.Format("2006-01-02 15:04"), W-10, H-B+14, t1.Format("2006-01-02 15:04"))
	for i, st := range r.States {
		col := palette[i%len(palette)]
		var open, over []string
		for _, p := range pts {
			open = append(open, fmt.Sprintf("%.1f,%.1f", x(p.Time), y(p.States[st]["OBLIGATION_STATUS_OPEN"]+p.States[st]["OBLIGATION_STATUS_OVERDUE"])))
			over = append(over, fmt.Sprintf("%.1f,%.1f", x(p.Time), y(p.States[st]["OBLIGATION_STATUS_OVERDUE"])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, col, strings.Join(open, " "))
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3" points="%s"/>`, col, strings.Join(over, " "))
		lx, ly := L+float64(i%4)*170, H+8+float64(i/4)*18
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="4" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`, lx, ly, col, lx+16, ly+5, template.HTMLEscapeString(st))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

var page = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>normledger audit: {{.ChainID}}</title>
<style>body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.bad{color:#b00}.ok{color:#070}</style>
</head><body>
<h1>Audit of {{.ChainID}}</h1>
<p>Node {{.Node}}, audited {{.When}}: heights {{.FromHeight}}–{{.ToHeight}}.</p>
{{if .OK}}<p class="ok"><b>No discrepancies.</b></p>{{else}}<p class="bad"><b>{{len .Discrepancies}} discrepancies.</b></p>{{end}}
<table>
<tr><th>Blocks re-executed</th><td>{{.Blocks}}</td></tr>
<tr><th>Headers verified (light client)</th><td>{{.HeadersVerified}}</td></tr>
<tr><th>App hashes matching the headers</th><td>{{.AppHashesMatched}}</td></tr>
<tr><th>Transactions (accepted / rejected)</th><td>{{.Txs}} ({{.Accepted}} / {{.Rejected}})</td></tr>
<tr><th>Signatures re-verified</th><td>{{.Signatures}}</td></tr>
<tr><th>Records compared with the node</th><td>{{.RecordsCompared}}</td></tr>
<tr><th>Members / pledges whose compliance was compared</th><td>{{.MembersCompared}} / {{.PledgesCompared}}</td></tr>
<tr><th>Time</th><td>{{printf "%.1f" .Seconds}} s ({{printf "%.0f" .TxsPerSecond}} tx/s)</td></tr>
</table>
{{if not .OK}}<h2>Discrepancies</h2><table><tr><th>Height</th><th>What</th><th>Re-execution says</th><th>Node says</th></tr>
{{range .Discrepancies}}<tr><td>{{.Height}}</td><td style="text-align:left">{{.What}}</td><td style="text-align:left"><code>{{.Want}}</code></td><td style="text-align:left"><code>{{.Got}}</code></td></tr>{{end}}</table>{{end}}
<h2>Compliance at height {{.ToHeight}} (recomputed)</h2>
<table><tr><th>Member</th><th>Open</th><th>Met</th><th>Met late</th><th>Overdue</th><th>Waived</th><th>On time</th><th>Median ack</th><th>Median disclose</th><th>Median remediate</th><th>Open challenges</th><th>Findings</th><th>Validator misbehaviour</th></tr>
{{range .Rows}}<tr><td>{{.Member}}</td><td>{{.Open}}</td><td>{{.Met}}</td><td>{{.Late}}</td><td>{{.Overdue}}</td><td>{{.Waived}}</td><td>{{.OnTime}}</td><td>{{.Ack}}</td><td>{{.Disclose}}</td><td>{{.Remediate}}</td><td>{{.Challenges}}</td><td>{{.Findings}}</td><td>{{.Misbehaviour}}</td></tr>{{end}}
</table>
<h2>Validator misbehaviour committed by consensus (recomputed)</h2>
{{if .Evidence}}<table><tr><th>Evidence</th><th>Type</th><th>Validator</th><th>Member</th><th>At height</th><th>Committed at</th></tr>
{{range .Evidence}}<tr><td>{{.ID}}</td><td>{{.Type}}</td><td><code>{{.Validator}}</code></td><td>{{.Member}}</td><td>{{.Height}}</td><td>{{.CommittedHeight}}</td></tr>{{end}}</table>{{else}}<p>None in the audited range.</p>{{end}}
<h2>Obligations owed by each state over time</h2>
<p>Solid: open or overdue; dashed: overdue.</p>
{{.Chart}}
</body></html>
`))
