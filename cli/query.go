package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func notFound(err error) error {
	if errors.Is(err, client.ErrNotFound) {
		return &exitError{code: ExitNotFound, err: err}
	}
	return err
}

// answer prints res as protojson (-o json), or as text.
func (e *env) answer(res proto.Message, text func() error) error {
	if e.cfg.Output != "json" {
		return text()
	}
	bz, err := pj.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.out, string(bz))
	return err
}

func queryCmd(e *env) *cobra.Command {
	q := &cobra.Command{Use: "query", Aliases: []string{"q"}, Short: "Read records and members from a node"}
	withClient := func(cmd *cobra.Command, fn func(ctx context.Context, c *client.Client) error) error {
		c, err := e.client()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
		defer cancel()
		return fn(ctx, c)
	}
	var bundleOut, policyFile string
	var witnesses []string
	tf := &trustFlags{}
	record := &cobra.Command{
		Use:   "record ID",
		Short: "Show one record (with --bundle: verify it and write an offline evidence bundle)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundleOut != "" {
				res, b, verdict, err := e.verifyOnline(cmd.Context(), args[0], witnesses, tf, policyFile)
				if err != nil {
					return err
				}
				if b != nil {
					if werr := writeBundle(bundleOut, b); werr != nil {
						return werr
					}
					fmt.Fprintf(e.err, "evidence bundle written to %s\n", bundleOut)
				}
				e.printVerified(res, verdict)
				return verifyExit(verdict)
			}
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.GetRecord(ctx, args[0], 0, false)
				if err != nil {
					return notFound(err)
				}
				if e.cfg.Output == "json" {
					v, err := viewOf(res.Record, res.Flags)
					if err != nil {
						return err
					}
					return printJSON(e.out, v)
				}
				return textRecord(e.out, res)
			})
		},
	}
	record.Flags().StringVar(&bundleOut, "bundle", "", "verify the record and write an evidence bundle to this file")
	record.Flags().StringVar(&policyFile, "witness-policy", "", "with --bundle: require a checkpoint cosigned by a quorum of these witnesses, and carry it in the bundle")
	record.Flags().StringArrayVar(&witnesses, "witness", nil, "with --bundle: REST URL of another node to cross-check headers with")
	tf.add(record, true)
	var lr pb.ListRecordsRequest
	var limit uint32
	records := &cobra.Command{
		Use: "records", Short: "List records, filtered and paginated", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				req := &pb.ListRecordsRequest{Kind: lr.Kind, Author: lr.Author, Subject: lr.Subject, Sector: lr.Sector, PageToken: lr.PageToken, Limit: limit}
				res, err := c.Records(ctx, req)
				if err != nil {
					return err
				}
				if e.cfg.Output == "json" {
					return printRecords(e.out, res.Records, res.Flags, res.NextPageToken)
				}
				return textRecords(e.out, res)
			})
		},
	}
	rf := records.Flags()
	rf.StringVar(&lr.Kind, "kind", "", "record kind, e.g. pledge, notification, incident_disclosure")
	rf.StringVar(&lr.Author, "author", "", "author member id")
	rf.StringVar(&lr.Subject, "subject", "", "member id the records concern")
	rf.StringVar(&lr.Sector, "sector", "", "sector, e.g. health, energy, water")
	rf.StringVar(&lr.PageToken, "page-token", "", "continue from a previous page")
	rf.Uint32Var(&limit, "limit", 50, "page size (at most 200)")
	members := &cobra.Command{
		Use: "members", Short: "List the member registry", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.ListMembers(ctx, 0, false)
				if err != nil {
					return err
				}
				if e.cfg.Output == "json" {
					out := make([]any, 0, len(res.Members))
					for _, m := range res.Members {
						out = append(out, protoJSON(m))
					}
					return printJSON(e.out, out)
				}
				return textMembers(e.out, res)
			})
		},
	}
	member := &cobra.Command{
		Use: "member ID", Short: "Show one member", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.GetMember(ctx, args[0], 0, false)
				if err != nil {
					return notFound(err)
				}
				if e.cfg.Output != "json" {
					return textMember(e.out, res)
				}
				bz, err := pj.Marshal(res.Member)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.out, string(bz))
				return err
			})
		},
	}
	var olr pb.ListObligationsRequest
	var dueBefore string
	var olimit uint32
	obligations := &cobra.Command{
		Use: "obligations", Short: "List obligations by debtor, creditor, pledge, status, due time", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &pb.ListObligationsRequest{Debtor: olr.Debtor, Creditor: olr.Creditor, Pledge: olr.Pledge, Status: olr.Status,
				PageToken: olr.PageToken, Limit: olimit}
			if dueBefore != "" {
				t, err := time.Parse(time.RFC3339, dueBefore)
				if err != nil {
					return fmt.Errorf("--due-before: %w", err)
				}
				req.DueBefore = timestamppb.New(t)
			}
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Obligations(ctx, req)
				if err != nil {
					return err
				}
				if e.cfg.Output == "json" {
					_, err := fmt.Fprintln(e.out, string(protoJSON(res)))
					return err
				}
				return textObligations(e.out, res, blockTimeAt(ctx, c, res.Height))
			})
		},
	}
	of := obligations.Flags()
	of.StringVar(&olr.Debtor, "debtor", "", "member who owes")
	of.StringVar(&olr.Creditor, "creditor", "", "member owed")
	of.StringVar(&olr.Pledge, "pledge", "", "pledge id the duties rest on")
	of.StringVar(&olr.Status, "status", "", "open, met, met_late, overdue or waived")
	of.StringVar(&dueBefore, "due-before", "", "RFC 3339 time")
	of.StringVar(&olr.PageToken, "page-token", "", "continue from a previous page")
	of.Uint32Var(&olimit, "limit", 50, "page size (at most 200)")
	obligation := &cobra.Command{
		Use: "obligation ID", Short: "Show one obligation in full", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Obligation(ctx, strings.ToLower(args[0]), 0, false)
				if err != nil {
					return notFound(err)
				}
				if e.cfg.Output == "json" {
					_, err := fmt.Fprintln(e.out, string(protoJSON(res)))
					return err
				}
				return textObligation(e.out, res, blockTimeAt(ctx, c, res.Height))
			})
		},
	}
	compliance := &cobra.Command{
		Use: "compliance MEMBER", Short: "A member's compliance figures", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.MemberCompliance(ctx, args[0], 0)
				if err != nil {
					return notFound(err)
				}
				return e.answer(res, func() error { return textMemberCompliance(e.out, res) })
			})
		},
	}
	pledgeCompliance := &cobra.Command{
		Use: "pledge-compliance PLEDGE_ID", Short: "How a pledge's disclosure promise has been kept", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.PledgeCompliance(ctx, args[0], 0)
				if err != nil {
					return notFound(err)
				}
				return e.answer(res, func() error { return textPledgeCompliance(e.out, res) })
			})
		},
	}
	sealed := &cobra.Command{
		Use: "sealed ID", Short: "Who a sealed record was sent to and who confirmed receipt, when (never its body)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.SealedNotice(ctx, args[0], 0)
				if err != nil {
					return notFound(err)
				}
				return e.answer(res, func() error { return textSealedNotice(e.out, res) })
			})
		},
	}
	var cpLimit int
	checkpoints := &cobra.Command{
		Use: "checkpoints", Short: "List the record log's published checkpoints and which witnesses cosigned them (newest first)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.ListCheckpoints(ctx, 0, cpLimit)
				if err != nil {
					return err
				}
				if e.cfg.Output == "json" {
					_, err := fmt.Fprintln(e.out, string(protoJSON(res)))
					return err
				}
				return textCheckpoints(e.out, res)
			})
		},
	}
	checkpoints.Flags().IntVar(&cpLimit, "limit", 20, "how many (at most 200)")
	var evMember string
	evidence := &cobra.Command{
		Use: "evidence [ID]", Short: "Validator misbehaviour committed by consensus (all, a member's, or one)", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				var evs []*pb.Evidence
				var height int64
				if len(args) == 1 {
					res, err := c.Evidence(ctx, args[0], 0, false)
					if err != nil {
						return notFound(err)
					}
					evs, height = []*pb.Evidence{res.Evidence}, res.Height
				} else {
					res, err := c.EvidenceList(ctx, evMember, 0, false)
					if err != nil {
						return err
					}
					evs, height = res.Evidence, res.Height
				}
				if e.cfg.Output == "json" {
					out := make([]any, 0, len(evs))
					for _, ev := range evs {
						out = append(out, protoJSON(ev))
					}
					return printJSON(e.out, out)
				}
				rows := [][]string{{"ID", "TYPE", "MEMBER", "VALIDATOR", "HEIGHT", "COMMITTED AT"}}
				for _, ev := range evs {
					rows = append(rows, []string{ev.Id, enum.Name(ev.Type),
						orDash(ev.Member), fmt.Sprintf("%X", ev.ValidatorAddress), fmt.Sprint(ev.Height), fmt.Sprint(ev.CommittedHeight)})
				}
				if len(evs) == 0 {
					fmt.Fprintln(e.out, "no evidence")
				} else if err := table(e.out, rows); err != nil {
					return err
				}
				footer(e.out, height, time.Time{}, "")
				return nil
			})
		},
	}
	evidence.Flags().StringVar(&evMember, "member", "", "only the evidence against this member's validator")
	q.AddCommand(record, records, members, member, obligations, obligation, compliance, pledgeCompliance, sealed, checkpoints, evidence)
	q.AddCommand(govQueries(e, withClient)...)
	q.AddCommand(directoryQueries(e, withClient)...)
	q.AddCommand(caseQueries(e, withClient)...)
	return q
}

// blockTimeAt is the time of the block whose state an answer was read at
// (state height h is the state after block h), from the node's light
// block. Text output uses it to say how long obligations have left; it is
// best effort, and zero when the node cannot tell.
func blockTimeAt(ctx context.Context, c *client.Client, h int64) time.Time {
	if h <= 0 {
		return time.Time{}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lb, err := c.LightBlock(ctx, h)
	if err != nil || lb == nil || lb.SignedHeader == nil || lb.Header == nil {
		return time.Time{}
	}
	return lb.Header.Time
}
