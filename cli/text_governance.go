package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/normledger/normledger/internal/human"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func tallyText(t *pb.Tally) string {
	return fmt.Sprintf("%d/%d/%d", t.GetYes(), t.GetNo(), t.GetAbstain())
}

// textProposals lists proposals as a table.
func textProposals(w io.Writer, res *pb.ListProposalsResponse) error {
	if len(res.Proposals) == 0 {
		fmt.Fprintln(w, "no proposals")
		footer(w, res.Height, time.Time{}, res.NextPageToken)
		return nil
	}
	rows := [][]string{{"ID", "ACTION", "STATUS", "YES/NO/ABST", "DEADLINE", "TITLE"}}
	for _, p := range res.Proposals {
		rows = append(rows, []string{p.Id, ledger.GovActionName(p.Action), layout.ProposalStatusName(p.Status), tallyText(p.Tally),
			human.Time(p.Deadline), p.Title})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	count := plural(len(res.Proposals), "proposal")
	if res.NextPageToken != "" {
		count += " on this page"
	}
	fmt.Fprintln(w, count)
	footer(w, res.Height, time.Time{}, res.NextPageToken)
	return nil
}

// textProposal shows a proposal, its tally and every elector's vote.
func textProposal(w io.Writer, res *pb.GetProposalResponse) error {
	p, t := res.GetProposal(), res.GetProposal().GetTally()
	if p == nil {
		fmt.Fprintln(w, "no proposal")
		return nil
	}
	fs := []field{
		{key: "id", value: p.Id},
		{key: "title", value: p.Title},
		{key: "action", value: ledger.GovActionName(p.Action)},
		{key: "proposer", value: p.Proposer},
		{key: "status", value: layout.ProposalStatusName(p.Status)},
	}
	if p.Outcome != "" {
		fs = append(fs, field{key: "outcome", value: p.Outcome})
	}
	voting := "open"
	if p.VotingClosed {
		voting = "closed"
	}
	fs = append(fs,
		field{key: "deadline", value: fmt.Sprintf("%s (voting %s)", human.Time(p.Deadline), voting)},
		field{key: "rule", value: ruleText(p.Rule)},
		field{key: "tally", value: fmt.Sprintf("%d yes, %d no, %d abstain, %d not voted, of %d electors", t.GetYes(), t.GetNo(), t.GetAbstain(), t.GetNotVoted(), t.GetElectorate())},
		field{key: "created", value: fmt.Sprintf("%s (height %d)", human.Time(p.CreatedAt), p.CreatedHeight)},
	)
	if p.DecidedHeight > 0 {
		by := "its deadline"
		if p.DecidedBy != "" {
			by = "record " + p.DecidedBy
		}
		fs = append(fs, field{key: "decided", value: fmt.Sprintf("%s (height %d) by %s", human.Time(p.DecidedAt), p.DecidedHeight, by)})
	}
	writeFields(w, "", fs, kvMinWidth)

	fmt.Fprintln(w)
	voted := map[string]*pb.VoteState{}
	for _, v := range res.Votes {
		voted[v.Elector] = v
	}
	// The elector column is at least 12 wide, as it always was.
	rows := [][]string{{fmt.Sprintf("%-12s", "ELECTOR"), "VOTE", "COUNTED", "HEIGHT", "RECORD"}}
	for _, el := range p.Electorate {
		v := voted[el]
		if v == nil {
			rows = append(rows, []string{fmt.Sprintf("%-12s", el), "-", "-", "-", "-"})
			continue
		}
		counted := "no"
		if v.Counted {
			counted = "yes"
		}
		rows = append(rows, []string{fmt.Sprintf("%-12s", el), enum.Name(v.Option), counted, fmt.Sprint(v.Height), orDash(v.RecordId)})
	}
	if len(p.Electorate) == 0 {
		fmt.Fprintln(w, "no electors")
	} else if err := table(w, rows); err != nil {
		return err
	}
	footer(w, res.Height, time.Time{}, "")
	return nil
}

// textGovernanceRules shows the governance rules and chain parameters.
func textGovernanceRules(w io.Writer, res *pb.GetGovernanceRulesResponse) error {
	r, p := res.GetRules(), res.GetParams()
	writeFields(w, "", []field{{key: "voting period", value: fmt.Sprintf("%d to %d hours", r.GetMinVotingHours(), r.GetMaxVotingHours())}}, kvMinWidth)
	fmt.Fprintln(w)
	rows := [][]string{{"ACTION", "RULE"}}
	for _, rule := range r.GetRules() {
		rows = append(rows, []string{ledger.GovActionName(rule.Action), ruleText(rule)})
	}
	if len(rows) == 1 {
		fmt.Fprintln(w, "no rules")
	} else if err := table(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nparams:")
	writeFields(w, "  ", []field{
		{key: "max_tx_bytes", value: fmt.Sprint(p.GetMaxTxBytes())},
		{key: "max_clock_skew_seconds", value: fmt.Sprint(p.GetMaxClockSkewSeconds())},
		{key: "ack_window_hours", value: fmt.Sprint(p.GetAckWindowHours())},
	}, 0)
	footer(w, res.Height, time.Time{}, "")
	return nil
}
