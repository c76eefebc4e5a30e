package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/internal/human"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Cases (docs/cases.md): case open|reply|consulted|mediate|accept-mediation|
// mediation-report|fact-finding|plan|milestone|refer|close|measure|
// stand-down; query cases, case; verify case.

// caseFlags are the flags every case command shares.
type caseFlags struct {
	sendFlags
	co        []string
	statement string
}

func (f *caseFlags) add(cmd *cobra.Command) {
	f.sendFlags.add(cmd)
	cmd.Flags().StringArrayVar(&f.co, "co-signer", nil, "keyring key that co-signs (repeatable): co-complainants, the other party")
	cmd.Flags().StringVar(&f.statement, "statement", "", "free text for the record")
}

// sendCase signs rec with --from and the co-signers and broadcasts it.
func (e *env) sendCase(cmd *cobra.Command, f *caseFlags, rec *pb.Record) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
	defer cancel()
	return e.coSignAndSend(ctx, f.from, f.co, rec, f.generateOnly, f.mode)
}

func caseRecord(s *pb.CaseStep) *pb.Record {
	return &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_CaseStep{CaseStep: s}}
}

func parseOutcome(s string) (pb.CaseOutcome, error) {
	v, ok := enum.Value(pb.CaseOutcome(0).Descriptor(), enum.Short(pb.CaseOutcome(0).Descriptor(), s))
	if !ok || v == 0 {
		return 0, fmt.Errorf("unknown outcome %q (settled, unresolved, withdrawn, decided)", s)
	}
	return pb.CaseOutcome(v), nil
}

func caseCmd(e *env) *cobra.Command {
	root := &cobra.Command{Use: "case", Short: "Cases: consultation, mediation, fact-finding, remediation plans and measures (docs/cases.md)",
		Long: `case files the steps of a case. A request for consultation (case open) opens
one; its id is the case id every later step names. The ledger enforces who
may file each step, the cooling-off before escalation (fact-finding,
referral, countermeasures), the preconditions of countermeasures and the
escalation ladder in force, and places the duties each step implies.

Exit status as for tx submit: 0 committed, 2 rejected (the result code is
printed), 1 other failures.`}
	// step builds a command for a step that takes CASE_ID and the given
	// step-specific flags (bind adds them; fill sets the step from them).
	step := func(use, short string, t pb.CaseStepType, bind func(*cobra.Command), fill func(*pb.CaseStep) error) *cobra.Command {
		f := &caseFlags{}
		cmd := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				s := &pb.CaseStep{Step: t, CaseId: strings.ToLower(args[0]), Statement: f.statement}
				if fill != nil {
					if err := fill(s); err != nil {
						return err
					}
				}
				return e.sendCase(cmd, f, caseRecord(s))
			}}
		f.add(cmd)
		if bind != nil {
			bind(cmd)
		}
		return cmd
	}

	of := &caseFlags{}
	var respondent, pledge, norm, conduct string
	var co, subjects []string
	var urgent bool
	open := &cobra.Command{
		Use:   "open --from KEY --respondent STATE --subject RECORD_ID --conduct CODE (--pledge ID | --norm REF) --statement TEXT",
		Short: "Request consultation: call upon a state (opens a case)",
		Long: `open files a request for consultation: you call upon --respondent about the
records given with --subject (incidents, findings, notifications, pledges),
naming the conduct (a conduct code of the escalation ladder, e.g.
attack_on_health) and the pledge (--pledge; the respondent must be one of
its pledgors) or norm (--norm) it breaks. Co-complainants (--co-complainant)
co-sign: give their keys with --co-signer. --urgent shortens the reply and
consultation windows and lifts the cooling-off.

The respondent owes a reply and consultations within the case's windows
(the chain's, overridden by the pledge's). The record's id is the case id.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.sendCase(cmd, of, caseRecord(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION,
				Respondent: respondent, CoComplainants: co, Subjects: subjects, PledgeId: strings.ToLower(pledge), Norm: norm,
				Conduct: conduct, Urgent: urgent, Statement: of.statement}))
		},
	}
	of.add(open)
	open.Flags().StringVar(&respondent, "respondent", "", "the state called upon (required)")
	open.Flags().StringArrayVar(&co, "co-complainant", nil, "a state joining the request (repeatable; co-signs)")
	open.Flags().StringArrayVar(&subjects, "subject", nil, "record the case is about (repeatable, at least one)")
	open.Flags().StringVar(&pledge, "pledge", "", "the pledge invoked")
	open.Flags().StringVar(&norm, "norm", "", "the norm invoked, e.g. UN-GGE-2015-13f")
	open.Flags().StringVar(&conduct, "conduct", "", "the conduct complained of, as a ladder conduct code (required)")
	open.Flags().BoolVar(&urgent, "urgent", false, "an urgent case: short windows, no cooling-off")
	_ = open.MarkFlagRequired("respondent")
	_ = open.MarkFlagRequired("conduct")

	var outcome, mediator, proposal, decision string
	var verifiersList []string
	var milestone uint32
	var milestones []string
	reply := step("reply CASE_ID --from KEY --statement TEXT", "Reply to a request for consultation (the respondent)",
		pb.CaseStepType_CASE_STEP_TYPE_REPLY, nil, nil)
	consulted := step("consulted CASE_ID --from KEY --co-signer OTHER --outcome settled|unresolved",
		"Record that consultations were held (complainant and respondent co-sign; settled closes the case)",
		pb.CaseStepType_CASE_STEP_TYPE_CONSULTATION_HELD,
		func(c *cobra.Command) {
			c.Flags().StringVar(&outcome, "outcome", "", "settled or unresolved (required)")
		},
		func(s *pb.CaseStep) (err error) { s.Outcome, err = parseOutcome(outcome); return })
	mediate := step("mediate CASE_ID --from KEY --mediator NEUTRAL_BODY", "Ask a neutral body to mediate (any party, at any stage)",
		pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REQUEST,
		func(c *cobra.Command) {
			c.Flags().StringVar(&mediator, "mediator", "", "the neutral body asked (required)")
		},
		func(s *pb.CaseStep) error { s.Mediator = mediator; return nil })
	accept := step("accept-mediation CASE_ID --from KEY", "Accept the mediation you were asked for (the named mediator)",
		pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_ACCEPT, nil, nil)
	report := step("mediation-report CASE_ID --from KEY --statement TEXT", "File the mediation report (the mediator)",
		pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REPORT, nil, nil)
	facts := step("fact-finding CASE_ID --from KEY --verifier V [--verifier W]",
		"Ask verifiers to find the facts (an escalation step: after the cooling-off, unless urgent or the reply was missed)",
		pb.CaseStepType_CASE_STEP_TYPE_FACT_FINDING_REQUEST,
		func(c *cobra.Command) {
			c.Flags().StringArrayVar(&verifiersList, "verifier", nil, "a verifier asked (repeatable; the pledge's accepted verifiers)")
		},
		func(s *pb.CaseStep) error { s.Verifiers = verifiersList; return nil })
	plan := step("plan CASE_ID --from KEY --co-signer COMPLAINANT --milestone 'DESCRIPTION@DUE' [...]",
		"File the remediation plan (the respondent; the complainant co-signs)",
		pb.CaseStepType_CASE_STEP_TYPE_REMEDIATION_PLAN,
		func(c *cobra.Command) {
			c.Flags().StringArrayVar(&milestones, "milestone", nil, "a milestone, DESCRIPTION@DUE (RFC 3339 or a duration from now, e.g. 240h); repeatable, in due order")
		},
		func(s *pb.CaseStep) error {
			for _, m := range milestones {
				desc, due, ok := strings.Cut(m, "@")
				if !ok {
					return fmt.Errorf("--milestone %q: want DESCRIPTION@DUE", m)
				}
				t, err := dueTime(due)
				if err != nil {
					return fmt.Errorf("--milestone %q: %w", m, err)
				}
				s.Milestones = append(s.Milestones, &pb.Milestone{Description: desc, Due: timestamppb.New(t)})
			}
			return nil
		})
	ms := step("milestone CASE_ID --from KEY --number N", "Report a milestone of the remediation plan met (the respondent)",
		pb.CaseStepType_CASE_STEP_TYPE_MILESTONE_REPORT,
		func(c *cobra.Command) {
			c.Flags().Uint32Var(&milestone, "number", 0, "the milestone met, 1 for the first (required)")
		},
		func(s *pb.CaseStep) error { s.Milestone = milestone; return nil })
	refer := step("refer CASE_ID --from KEY [--proposal ID]", "Refer the case to the consortium (an escalation step)",
		pb.CaseStepType_CASE_STEP_TYPE_REFERRAL,
		func(c *cobra.Command) {
			c.Flags().StringVar(&proposal, "proposal", "", "the governance proposal that takes the case up")
		},
		func(s *pb.CaseStep) error { s.ProposalId = strings.ToLower(proposal); return nil })
	closeCmd := step("close CASE_ID --from KEY --outcome settled|withdrawn|decided [--decision ID]",
		"Close the case: settled (the other party co-signs), withdrawn (the complainant), decided (naming the deciding record)",
		pb.CaseStepType_CASE_STEP_TYPE_CLOSE,
		func(c *cobra.Command) {
			c.Flags().StringVar(&outcome, "outcome", "", "settled, withdrawn or decided (required)")
			c.Flags().StringVar(&decision, "decision", "", "with decided: the finding, mediation report or referred proposal")
		},
		func(s *pb.CaseStep) (err error) {
			s.DecisionId = strings.ToLower(decision)
			s.Outcome, err = parseOutcome(outcome)
			return
		})

	mf := &caseFlags{}
	var mtype, target, mconduct, prop, end string
	var level uint32
	var reversible, offer bool
	measure := &cobra.Command{
		Use:   "measure CASE_ID --from KEY --type protest|retorsion|countermeasure|self_defence --target STATE --conduct CODE --level N --proportionality TEXT --expected-end TIME",
		Short: "Announce a measure taken in a case",
		Long: `measure files a measure notice against the other side of the case. --level is
the rung of the escalation ladder in force (0 when none is): a measure above
what the ladder allows for the conduct, or taken while mediation or
fact-finding is open, is recorded with a flag, not refused. A countermeasure
needs your earlier call upon the state (you are the complainant) and, unless
the case is urgent, --offer-to-negotiate; it waits out the cooling-off unless
the case is urgent or the respondent missed its reply.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, ok := enum.Value(pb.MeasureType(0).Descriptor(), enum.Short(pb.MeasureType(0).Descriptor(), mtype))
			if !ok || v == 0 {
				return fmt.Errorf("unknown --type %q (protest, retorsion, countermeasure, self_defence)", mtype)
			}
			t, err := dueTime(end)
			if err != nil {
				return fmt.Errorf("--expected-end: %w", err)
			}
			return e.sendCase(cmd, mf, &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_Measure{Measure: &pb.Measure{
				Action: pb.MeasureAction_MEASURE_ACTION_TAKE, CaseId: strings.ToLower(args[0]), Type: pb.MeasureType(v), Target: target,
				Conduct: mconduct, Level: level, Proportionality: prop, Reversible: reversible, ExpectedEnd: timestamppb.New(t),
				OfferToNegotiate: offer, Statement: mf.statement}}})
		},
	}
	mf.add(measure)
	measure.Flags().StringVar(&mtype, "type", "", "protest, retorsion, countermeasure or self_defence (required)")
	measure.Flags().StringVar(&target, "target", "", "the state the measure is against (required)")
	measure.Flags().StringVar(&mconduct, "conduct", "", "the conduct it answers, a ladder conduct code (required)")
	measure.Flags().Uint32Var(&level, "level", 0, "the ladder level it stands at (0: no ladder in force)")
	measure.Flags().StringVar(&prop, "proportionality", "", "why it is proportionate (required)")
	measure.Flags().StringVar(&end, "expected-end", "", "when it is expected to end: RFC 3339 or a duration from now (required)")
	measure.Flags().BoolVar(&reversible, "reversible", false, "the measure can be undone")
	measure.Flags().BoolVar(&offer, "offer-to-negotiate", false, "offer to negotiate (countermeasures)")
	for _, n := range []string{"type", "target", "conduct", "proportionality", "expected-end"} {
		_ = measure.MarkFlagRequired(n)
	}

	sf := &caseFlags{}
	var measureID string
	var returnLevel uint32
	standDown := &cobra.Command{
		Use:   "stand-down CASE_ID --from KEY --measure ID [--return-level N]",
		Short: "End a measure you took, naming the ladder level you return to",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.sendCase(cmd, sf, &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_Measure{Measure: &pb.Measure{
				Action: pb.MeasureAction_MEASURE_ACTION_STAND_DOWN, CaseId: strings.ToLower(args[0]), MeasureId: strings.ToLower(measureID),
				ReturnLevel: returnLevel, Statement: sf.statement}}})
		},
	}
	sf.add(standDown)
	standDown.Flags().StringVar(&measureID, "measure", "", "the measure notice's record id (required)")
	standDown.Flags().Uint32Var(&returnLevel, "return-level", 0, "the ladder level you return to (0: off the ladder)")
	_ = standDown.MarkFlagRequired("measure")

	root.AddCommand(open, reply, consulted, mediate, accept, report, facts, plan, ms, refer, closeCmd, measure, standDown)
	return root
}

// dueTime reads RFC 3339 or a duration from now.
func dueTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor a duration", s)
	}
	return time.Now().UTC().Add(d).Truncate(time.Second), nil
}

// caseQueries are query cases and query case.
func caseQueries(e *env, withClient func(*cobra.Command, func(context.Context, *client.Client) error) error) []*cobra.Command {
	var party, stage, page string
	var height int64
	cases := &cobra.Command{
		Use: "cases [--party MEMBER] [--stage STAGE]", Short: "Cases of a party, at a stage, or all", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Cases(ctx, party, stage, page, height, false)
				if err != nil {
					return err
				}
				return e.answer(res, func() error { return textCases(e.out, res) })
			})
		},
	}
	cases.Flags().StringVar(&party, "party", "", "a member: the cases it is a party to")
	cases.Flags().StringVar(&stage, "stage", "", "requested, replied, consulted, mediation_requested, mediation, mediated, fact_finding, remediation, referred, closed")
	cases.Flags().StringVar(&page, "page-token", "", "continue a listing")
	cases.Flags().Int64Var(&height, "height", 0, "state height (default: the newest attested)")
	var cheight int64
	one := &cobra.Command{
		Use: "case ID", Short: "A case: parties, stage, history, measures and the duties it placed", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Case(ctx, strings.ToLower(args[0]), cheight, false)
				if err != nil {
					return notFound(err)
				}
				return e.answer(res, func() error {
					if err := textCase(e.out, res.Case, res.Obligations, time.Time{}); err != nil {
						return err
					}
					footer(e.out, res.Height, time.Time{}, "")
					return nil
				})
			})
		},
	}
	one.Flags().Int64Var(&cheight, "height", 0, "state height (default: the newest attested)")
	return []*cobra.Command{cases, one}
}

func textCases(w io.Writer, res *pb.ListCasesResponse) error {
	rows := [][]string{{"CASE", "COMPLAINANT", "RESPONDENT", "CONDUCT", "STAGE", "OPENED", "NOT BEFORE"}}
	for _, c := range res.Cases {
		rows = append(rows, []string{shortID(c.Id), c.Complainant, c.Respondent, c.Conduct, layout.CaseStageName(c.Stage),
			human.Time(c.OpenedAt), human.Time(c.NotBefore)})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	footer(w, res.Height, time.Time{}, res.NextPageToken)
	return nil
}

// textCase writes a case with its history, measures and duties; at, when
// set, is the verified block time the duties are judged at.
func textCase(w io.Writer, c *pb.CaseState, obs []*pb.Obligation, at time.Time) error {
	parties := c.Complainant
	if len(c.CoComplainants) > 0 {
		parties += " with " + strings.Join(c.CoComplainants, ", ")
	}
	basis := c.Norm
	if c.PledgeId != "" {
		basis = strings.TrimSpace("pledge " + shortID(c.PledgeId) + " " + c.Norm)
	}
	fields := []field{
		{key: "case", value: c.Id},
		{key: "parties", value: parties + " v " + c.Respondent},
		{key: "conduct", value: c.Conduct + " (" + basis + ")"},
		{key: "stage", value: layout.CaseStageName(c.Stage) + " since " + human.Time(c.StageAt)},
		{key: "opened", value: fmt.Sprintf("height %d, %s", c.OpenedHeight, human.Time(c.OpenedAt))},
		{key: "escalation", value: "not before " + human.Time(c.NotBefore)},
	}
	if c.Urgent {
		fields = append(fields, field{key: "urgent", value: "yes (no cooling-off)"})
	}
	if c.Mediator != "" {
		fields = append(fields, field{key: "mediator", value: c.Mediator})
	}
	if c.Outcome != 0 {
		fields = append(fields, field{key: "closed", value: enum.Name(c.Outcome) + " " + human.Time(c.ClosedAt)})
	}
	writeFields(w, "", fields, kvMinWidth)
	fmt.Fprintln(w)
	rows := [][]string{{"STEP", "BY", "HEIGHT", "TIME", "FLAGS", "RECORD"}}
	for _, e := range c.History {
		rows = append(rows, []string{e.Step, e.By, fmt.Sprint(e.Height), human.Time(e.Time), orDash(strings.Join(e.Flags, " ")), shortID(e.RecordId)})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	if len(c.Measures) > 0 {
		fmt.Fprintln(w)
		rows = [][]string{{"MEASURE", "BY", "AGAINST", "LEVEL", "ALLOWED", "FLAGS", "ENDED"}}
		for _, m := range c.Measures {
			ended := "in force"
			if m.StandDownId != "" {
				ended = fmt.Sprintf("%s (to level %d)", human.Time(m.EndedAt), m.ReturnLevel)
			}
			rows = append(rows, []string{enum.Name(m.Type) + " " + shortID(m.RecordId), m.Author, m.Target, fmt.Sprint(m.Level),
				fmt.Sprint(m.AllowedLevel), orDash(strings.Join(m.Flags, " ")), ended})
		}
		if err := table(w, rows); err != nil {
			return err
		}
	}
	if len(obs) > 0 {
		fmt.Fprintln(w)
		rows = [][]string{{"DUTY", "DEBTOR", "DUE", "STATUS", "OBLIGATION"}}
		for _, o := range obs {
			status := layout.StatusName(o.Status)
			if !at.IsZero() && ledger.UnmetAt(o, at) {
				status = strings.ToUpper(status) + " (past due at the verified block time)"
			}
			rows = append(rows, []string{enum.Name(o.Kind), o.Debtor, human.Time(o.Due), status, o.Id})
		}
		return table(w, rows)
	}
	return nil
}

// verifyCaseCmd proves a case and every duty it placed at one height.
func verifyCaseCmd(e *env) *cobra.Command {
	var witnesses []string
	var at int64
	tf := &trustFlags{}
	cmd := &cobra.Command{
		Use:   "case ID [--height H]",
		Short: "Prove a case, its history and its duties at a height (and that a reply never came)",
		Long: `verify case proves the case entry and every duty it placed (reply,
consultation, mediation, fact-finding, plan, milestones, ending measures) at
--height (default: the newest attested) against a header the light client
verified, and reads that block's time from the verified header. A duty
still open or overdue there proves that the record meeting it was not
accepted by that height: verify case says NO REPLY only when the respondent's
reply duty is unmet and the verified block time is at or after its due time,
so a node cannot pass off an early state. A case that does not exist is
proven absent (exit 4).

Exit status: 0 verified; 4 not verified or proven absent; 1 other errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			v, done, err := e.verifier(ctx, witnesses, tf, nil)
			if err != nil {
				return err
			}
			defer done()
			v.At = at
			id := strings.ToLower(args[0])
			c, obs, h, t, err := v.Case(ctx, id)
			if err != nil {
				return verifyExit(err)
			}
			if c == nil {
				fmt.Fprintf(e.out, "PROVEN ABSENT: there is no case %s at height %d (block time %s)\n", id, h, t.UTC().Format(time.RFC3339))
				return &exitError{code: ExitUnverified, err: fmt.Errorf("case %s does not exist", id)}
			}
			var reply *pb.Obligation
			for _, o := range obs {
				if o.Kind == pb.ObligationKind_OBLIGATION_KIND_REPLY_CONSULTATION {
					reply = o
				}
			}
			noReply := ledger.UnmetAt(reply, t)
			if e.cfg.Output == "json" {
				var ob []json.RawMessage
				for _, o := range obs {
					ob = append(ob, mustJSON(o))
				}
				return printJSON(e.out, map[string]any{"verified": true, "height": h, "time": t.UTC(), "case": json.RawMessage(mustJSON(c)),
					"obligations": ob, "no_reply": noReply})
			}
			fmt.Fprintf(e.out, "VERIFIED: case %s and its %d duties at height %d (block time %s), proven against a light-client-verified header\n",
				id, len(obs), h, t.UTC().Format(time.RFC3339))
			if noReply {
				fmt.Fprintf(e.out, "NO REPLY: %s did not reply by %s (none accepted up to height %d): its reply duty %s is %s (proven)\n",
					c.Respondent, reply.Due.AsTime().UTC().Format(time.RFC3339), h, reply.Id, layout.StatusName(reply.Status))
			}
			fmt.Fprintln(e.out)
			return textCase(e.out, c, obs, t)
		},
	}
	cmd.Flags().StringArrayVar(&witnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable, at least one)")
	cmd.Flags().Int64Var(&at, "height", 0, "state height to prove the case at (default: the newest attested)")
	tf.add(cmd, true)
	return cmd
}
