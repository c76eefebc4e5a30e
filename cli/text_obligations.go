package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/normledger/normledger/internal/human"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// timeLeft says how long an open obligation has left, or how long an
// overdue one has been overdue, at block time now ("-" when now is
// unknown or the obligation is closed).
func timeLeft(o *pb.Obligation, now time.Time) string {
	if now.IsZero() || o.Due == nil {
		return "-"
	}
	due := o.Due.AsTime()
	switch o.Status {
	case pb.ObligationStatus_OBLIGATION_STATUS_OPEN:
		if !due.After(now) {
			return "due now"
		}
		return human.Duration(due.Sub(now)) + " left"
	case pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE:
		return human.Duration(now.Sub(due)) + " overdue"
	}
	return "-"
}

// textObligations shows a page of obligations as a table and counts the
// overdue ones. blockTime is the time of the block the answer was read at
// (zero when unknown: the TIME LEFT column is left out).
func textObligations(w io.Writer, res *pb.ListObligationsResponse, blockTime time.Time) error {
	if len(res.Obligations) == 0 {
		fmt.Fprintln(w, "no obligations")
		footer(w, res.Height, blockTime, res.NextPageToken)
		return nil
	}
	header := []string{"ID", "KIND", "DEBTOR", "CREDITOR", "STATUS", "DUE"}
	if !blockTime.IsZero() {
		header = append(header, "TIME LEFT")
	}
	rows := [][]string{header}
	overdue := 0
	for _, o := range res.Obligations {
		if o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE {
			overdue++
		}
		row := []string{shortID(o.Id), enum.Name(o.Kind), o.Debtor, joinOrDash(o.Creditors), layout.StatusName(o.Status), human.Time(o.Due)}
		if !blockTime.IsZero() {
			row = append(row, timeLeft(o, blockTime))
		}
		rows = append(rows, row)
	}
	if err := table(w, rows); err != nil {
		return err
	}
	count := plural(len(res.Obligations), "obligation")
	if res.NextPageToken != "" {
		count += " on this page"
	}
	fmt.Fprintf(w, "%s, %d overdue\n", count, overdue)
	footer(w, res.Height, blockTime, res.NextPageToken)
	return nil
}

// textObligation shows one obligation in full.
func textObligation(w io.Writer, res *pb.GetObligationResponse, blockTime time.Time) error {
	o := res.GetObligation()
	if o == nil {
		fmt.Fprintln(w, "no obligation")
		return nil
	}
	due := human.Time(o.Due)
	if left := timeLeft(o, blockTime); left != "-" {
		due += " (" + left + ")"
	}
	fs := []field{
		{key: "id", value: o.Id},
		{key: "kind", value: enum.Name(o.Kind)},
		{key: "debtor", value: o.Debtor},
		{key: "creditors", value: joinOrDash(o.Creditors)},
		{key: "status", value: layout.StatusName(o.Status)},
		{key: "due", value: due},
		{key: "created", value: fmt.Sprintf("%s (height %d)", human.Time(o.CreatedAt), o.CreatedHeight)},
		{key: "source", value: orDash(o.SourceRecord)},
	}
	if len(o.Basis) > 0 {
		fs = append(fs, field{key: "basis", value: strings.Join(o.Basis, ", ")})
	}
	if o.StatusAt != nil || o.StatusHeight != 0 {
		changed := fmt.Sprintf("%s (height %d)", human.Time(o.StatusAt), o.StatusHeight)
		if o.StatusRecord != "" {
			changed += " by record " + o.StatusRecord
		}
		fs = append(fs, field{key: "changed", value: changed})
	}
	if o.OverdueAt != nil {
		fs = append(fs, field{key: "overdue at", value: human.Time(o.OverdueAt)})
	}
	writeFields(w, "", fs, kvMinWidth)
	footer(w, res.Height, blockTime, "")
	return nil
}

func rateText(r *pb.RateFigure) string {
	if r.GetDenominator() == 0 {
		return "- (nothing due yet)"
	}
	bp := r.GetBasisPoints()
	return fmt.Sprintf("%d.%02d%% (%d of %d on time)", bp/100, bp%100, r.GetNumerator(), r.GetDenominator())
}

func medianText(d *pb.DurationFigure) string {
	if d.GetSamples() == 0 {
		return "- (no samples)"
	}
	return fmt.Sprintf("%s (median of %d)", human.Duration(time.Duration(d.GetMedianSeconds())*time.Second), d.GetSamples())
}

// statusRows are the obligation counts by status, with their ids.
func statusRows(label string, sc []*pb.StatusCount) [][]string {
	var rows [][]string
	for _, s := range sc {
		rows = append(rows, []string{label + " " + layout.StatusName(s.Status), fmt.Sprint(s.Count), idList(s.ObligationIds)})
	}
	return rows
}

func findingRows(fc []*pb.DeterminationCount) [][]string {
	var rows [][]string
	for _, f := range fc {
		rows = append(rows, []string{"findings " + enum.Name(f.Determination), fmt.Sprint(f.Count), idList(f.RecordIds)})
	}
	return rows
}

// textMemberCompliance shows a member's figures as a table, each with the
// obligations (or, for findings, records) it rests on.
func textMemberCompliance(w io.Writer, res *pb.GetMemberComplianceResponse) error {
	c := res.GetCompliance()
	if c == nil {
		fmt.Fprintln(w, "no compliance figures")
		return nil
	}
	writeFields(w, "", []field{{key: "member", value: c.Member}}, kvMinWidth)
	fmt.Fprintln(w)
	rows := [][]string{{"FIGURE", "VALUE", "RESTS ON"},
		{"on-time rate", rateText(c.OnTime), idList(c.GetOnTime().GetObligationIds())},
		{"overdue", fmt.Sprint(c.GetOverdue().GetCount()), idList(c.GetOverdue().GetIds())},
		{"open challenges", fmt.Sprint(c.GetOpenChallenges().GetCount()), idList(c.GetOpenChallenges().GetIds())},
		{"time to acknowledge", medianText(c.TimeToAcknowledge), idList(c.GetTimeToAcknowledge().GetObligationIds())},
		{"time to disclose", medianText(c.TimeToDisclose), idList(c.GetTimeToDisclose().GetObligationIds())},
		{"time to remediate", medianText(c.TimeToRemediate), idList(c.GetTimeToRemediate().GetObligationIds())},
		{"pledge reviews on time", rateText(c.ReviewsOnTime), idList(c.GetReviewsOnTime().GetObligationIds())},
		{"receipts on time", rateText(c.ReceiptsOnTime), idList(c.GetReceiptsOnTime().GetObligationIds())},
		{"receipts missed", fmt.Sprint(c.GetReceiptsMissed().GetCount()), idList(c.GetReceiptsMissed().GetIds())},
		{"time to receipt", medianText(c.TimeToReceipt), idList(c.GetTimeToReceipt().GetObligationIds())},
	}
	rows = append(rows, stageRows(c.StagedReporting)...)
	rows = append(rows, statusRows("obligations", c.Obligations)...)
	for _, k := range c.ByKind {
		name := enum.Name(k.Kind)
		rows = append(rows, []string{name + " on time", rateText(k.OnTime), idList(k.GetOnTime().GetObligationIds())})
	}
	rows = append(rows, findingRows(c.Findings)...)
	// Exercise duties count in none of the figures above.
	rows = append(rows, statusRows("EXERCISE obligations", c.ExerciseObligations)...)
	if err := table(w, rows); err != nil {
		return err
	}
	footer(w, res.Height, time.Time{}, "")
	return nil
}

// stageRows are the staged reporting figures: on-time rate and median
// time to file per stage.
func stageRows(stages []*pb.StageFigure) [][]string {
	var rows [][]string
	for _, f := range stages {
		name := map[pb.DisclosureStage]string{pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING: "early warning",
			pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION: "incident notification", pb.DisclosureStage_DISCLOSURE_STAGE_FINAL: "final report"}[f.Stage]
		rows = append(rows,
			[]string{name + " on time", rateText(f.OnTime), idList(f.GetOnTime().GetObligationIds())},
			[]string{"time to file " + name, medianText(f.TimeToFile), idList(f.GetTimeToFile().GetObligationIds())})
	}
	return rows
}

// textPledgeCompliance shows how a pledge's disclosure promise has been
// kept, as a table of figures with the obligations they rest on.
func textPledgeCompliance(w io.Writer, res *pb.GetPledgeComplianceResponse) error {
	c := res.GetCompliance()
	if c == nil {
		fmt.Fprintln(w, "no compliance figures")
		return nil
	}
	state := enum.Name(c.State)
	if c.StateTime != nil {
		state += " at " + c.StateTime.AsTime().UTC().Format(time.RFC3339)
	}
	writeFields(w, "", []field{{key: "pledge", value: c.PledgeId}, {key: "pledgors", value: joinOrDash(c.Pledgors)},
		{key: "state", value: strings.ReplaceAll(state, "_", " ")}}, kvMinWidth)
	fmt.Fprintln(w)
	rows := [][]string{{"FIGURE", "VALUE", "RESTS ON"},
		{"on-time rate", rateText(c.OnTime), idList(c.GetOnTime().GetObligationIds())},
		{"time to disclose", medianText(c.TimeToDisclose), idList(c.GetTimeToDisclose().GetObligationIds())},
	}
	rows = append(rows, stageRows(c.StagedReporting)...)
	rows = append(rows, statusRows("disclosures", c.DisclosureObligations)...)
	rows = append(rows, findingRows(c.Findings)...)
	if err := table(w, rows); err != nil {
		return err
	}
	footer(w, res.Height, time.Time{}, "")
	return nil
}

// textSealedNotice shows who a sealed record was sent to and who
// confirmed receipt, when.
func textSealedNotice(w io.Writer, res *pb.GetSealedNoticeResponse) error {
	n := res.GetNotice()
	fs := []field{
		{key: "sealed", value: n.SealedId},
		{key: "kind", value: enum.Name(n.SealedKind)},
		{key: "sealed by", value: n.Sealer},
		{key: "sealed at", value: fmt.Sprintf("height %d, %s", n.Height, human.Time(n.Time))},
		{key: "reveal by", value: human.Time(n.RevealBy)},
		{key: "told", value: fmt.Sprintf("%d, %d confirmed, %d mismatches proven", n.Told, n.Confirmed, n.MismatchesProven)},
	}
	if n.RevealId != "" {
		fs = append(fs, field{key: "revealed", value: n.RevealId})
	}
	if win := n.OperationWindow; win != nil {
		fs = append(fs, field{key: "operation", value: human.Time(win.Start) + " to " + human.Time(win.End)})
	}
	writeFields(w, "", fs, kvMinWidth)
	fmt.Fprintln(w)
	rows := [][]string{{"RECIPIENT", "KEY", "RECEIPT", "DUE", "FILED", "ANSWER", "LEAD", "OBLIGATION"}}
	for _, r := range n.Recipients {
		answer, filed := "-", "-"
		if r.ReceiptId != "" {
			filed = fmt.Sprintf("%s (height %d, %s)", human.Time(r.ReceiptTime), r.ReceiptHeight, shortID(r.ReceiptId))
			switch {
			case r.Matches:
				answer = "matches"
			case r.MismatchProven:
				answer = "MISMATCH PROVEN"
			default:
				answer = "does not match (unproven)"
			}
		}
		lead := "-"
		if r.HasLead {
			lead = human.Duration(time.Duration(r.LeadSeconds) * time.Second)
			if r.LeadSeconds < 0 {
				lead = "after the start by " + human.Duration(time.Duration(-r.LeadSeconds)*time.Second)
			}
		}
		rows = append(rows, []string{r.Member, r.KeyId, layout.StatusName(r.Status), human.Time(r.Due), filed, answer, lead, orDash(r.ObligationId)})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	footer(w, res.Height, time.Time{}, "")
	return nil
}
