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

// channels lists a contact point's channels as "phone +99 555 0100".
func channels(p *pb.ContactPoint) string {
	var out []string
	for _, c := range p.Channels {
		out = append(out, enum.Name(c.Type)+" "+c.Address)
	}
	return strings.Join(out, "; ")
}

// textContact writes one member's directory entry and its staleness.
func textContact(w io.Writer, cs *pb.ContactStatus) error {
	fs := []field{{key: "member", value: cs.Member + " (" + cs.Name + ")"}}
	if d := cs.Entry; d != nil {
		fs = append(fs,
			field{key: "confirmed", value: fmt.Sprintf("%s (height %d, %d days ago, by %s)", human.Time(d.ConfirmedAt), d.ConfirmedHeight, cs.DaysSinceConfirmation, shortID(d.UpdateId))},
			field{key: "reconfirm by", value: human.Time(cs.ReconfirmBy)})
		for _, p := range d.Points {
			kids := []field{{key: "name", value: p.Name}, {key: "channels", value: channels(p)}}
			if p.Organisation != "" {
				kids = append(kids, field{key: "organisation", value: p.Organisation})
			}
			if len(p.Languages) > 0 {
				kids = append(kids, field{key: "languages", value: strings.Join(p.Languages, ", ")})
			}
			if p.Hours != "" {
				kids = append(kids, field{key: "hours", value: p.Hours})
			}
			if p.ValidUntil != nil {
				kids = append(kids, field{key: "valid until", value: human.Time(p.ValidUntil)})
			}
			fs = append(fs, field{key: enum.Name(p.Role), kids: kids, nested: true})
		}
	}
	state := "current"
	if cs.Stale {
		state = "STALE: " + strings.Join(cs.StaleReasons, "; ")
	}
	fs = append(fs, field{key: "status", value: state})
	writeFields(w, "", fs, kvMinWidth)
	return nil
}

func textDirectory(w io.Writer, res *pb.GetDirectoryResponse) error {
	rows := [][]string{{"MEMBER", "CLASS", "POINTS", "CONFIRMED", "DAYS", "STATUS"}}
	for _, cs := range res.Contacts {
		points, confirmed, days := "-", "-", "-"
		if d := cs.Entry; d != nil {
			var ps []string
			for _, p := range d.Points {
				ps = append(ps, enum.Name(p.Role)+": "+channels(p))
			}
			points, confirmed, days = strings.Join(ps, " | "), human.Time(d.ConfirmedAt), fmt.Sprint(cs.DaysSinceConfirmation)
		}
		status := "current"
		if cs.Stale {
			status = "STALE: " + strings.Join(cs.StaleReasons, "; ")
		}
		rows = append(rows, []string{cs.Member, enum.Name(cs.Class), points, confirmed, days, status})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	footer(w, res.Height, res.Time.AsTime(), "staleness judged at the block time")
	return nil
}

func textPingStatus(w io.Writer, res *pb.GetPingStatusResponse) error {
	s := res.GetStatus()
	writeFields(w, "", []field{
		{key: "ping", value: s.PingId},
		{key: "by", value: s.Pinger},
		{key: "filed", value: fmt.Sprintf("height %d, %s", s.Height, human.Time(s.Time))},
		{key: "answer by", value: human.Time(s.AnswerBy)},
		{key: "answered", value: fmt.Sprintf("%d of %d, %d on time; %d deliveries failed", s.Answered, len(s.Targets), s.AnsweredOnTime, s.FailedDeliveries)},
	}, kvMinWidth)
	fmt.Fprintln(w)
	rows := [][]string{{"TARGET", "CHANNEL", "ANSWER", "FILED", "DELIVERY", "OBLIGATION"}}
	for _, t := range s.Targets {
		filed, delivery := "-", "-"
		if t.AnswerId != "" {
			filed = fmt.Sprintf("%s (height %d, %s)", human.Time(t.AnswerTime), t.AnswerHeight, shortID(t.AnswerId))
		}
		if t.FailureId != "" {
			delivery = fmt.Sprintf("FAILED (%s); update %s", shortID(t.FailureId), layout.StatusName(t.UpdateStatus))
		}
		rows = append(rows, []string{t.Member, enum.Name(t.Role) + " " + enum.Name(t.Channel.GetType()) + " " + t.Channel.GetAddress(),
			layout.StatusName(t.Status), filed, delivery, orDash(t.ObligationId)})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	footer(w, res.Height, time.Time{}, "")
	return nil
}
