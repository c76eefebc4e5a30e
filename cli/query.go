package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/cli/client"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

func notFound(err error) error {
	if errors.Is(err, client.ErrNotFound) {
		return &exitError{code: ExitNotFound, err: err}
	}
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
	var bundleOut string
	var witnesses []string
	tf := &trustFlags{}
	record := &cobra.Command{
		Use:   "record ID",
		Short: "Show one record (with --bundle: verify it and write an offline evidence bundle)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundleOut != "" {
				ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
				defer cancel()
				res, b, err := e.verifyOnline(ctx, strings.ToLower(args[0]), witnesses, tf)
				if err != nil && !errors.Is(err, verifiers.ErrAbsent) && !errors.Is(err, verifiers.ErrVerification) {
					return err
				}
				if b != nil {
					if werr := writeBundle(bundleOut, b); werr != nil {
						return werr
					}
					fmt.Fprintf(e.err, "evidence bundle written to %s\n", bundleOut)
				}
				e.printVerified(res, err)
				return verifyExit(err)
			}
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				r, err := c.Record(ctx, args[0])
				if err != nil {
					return notFound(err)
				}
				v, err := viewOf(r)
				if err != nil {
					return err
				}
				if e.cfg.Output == "json" {
					return printJSON(e.out, v)
				}
				fmt.Fprintf(e.out, "id:         %s\nkind:       %s\nauthor:     %s (key %s, sequence %d)\n", v.ID, v.Kind, v.Author, v.KeyID, v.Sequence)
				if len(v.CoSigners) > 0 {
					fmt.Fprintf(e.out, "co-signers: %s\n", strings.Join(v.CoSigners, ", "))
				}
				fmt.Fprintf(e.out, "ledger seq: %d\nheight:     %d\nblock time: %s\nrecord:\n", v.Seq, v.Height, v.BlockTime)
				return printJSON(e.out, v.Record)
			})
		},
	}
	record.Flags().StringVar(&bundleOut, "bundle", "", "verify the record and write an evidence bundle to this file")
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
				return printRecords(e.out, e.cfg.Output, res.Records, res.NextPageToken)
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
				ms, err := c.Members(ctx)
				if err != nil {
					return err
				}
				if e.cfg.Output == "json" {
					out := make([]any, 0, len(ms))
					for _, m := range ms {
						out = append(out, protoJSON(m))
					}
					return printJSON(e.out, out)
				}
				for _, m := range ms {
					fmt.Fprintf(e.out, "%-12s %-13s %-4s %s\n", m.Id, strings.TrimPrefix(m.Class.String(), "MEMBER_CLASS_"), m.CountryCode, m.Name)
				}
				return nil
			})
		},
	}
	member := &cobra.Command{
		Use: "member ID", Short: "Show one member", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				m, err := c.Member(ctx, args[0])
				if err != nil {
					return notFound(err)
				}
				bz, err := pj.Marshal(m)
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
				fmt.Fprintf(e.out, "%-32s  %-16s  %-12s  %-10s  %-20s  %s\n", "ID", "KIND", "DEBTOR", "STATUS", "DUE", "SOURCE")
				for _, o := range res.Obligations {
					fmt.Fprintf(e.out, "%-32s  %-16s  %-12s  %-10s  %-20s  %s\n", o.Id,
						strings.ToLower(strings.TrimPrefix(o.Kind.String(), "OBLIGATION_KIND_")), o.Debtor,
						strings.ToLower(strings.TrimPrefix(o.Status.String(), "OBLIGATION_STATUS_")),
						o.Due.AsTime().UTC().Format(time.RFC3339), o.SourceRecord)
				}
				if res.NextPageToken != "" {
					fmt.Fprintf(e.out, "more: --page-token %s\n", res.NextPageToken)
				}
				return nil
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
	compliance := &cobra.Command{
		Use: "compliance MEMBER", Short: "A member's compliance figures", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.MemberCompliance(ctx, args[0], 0)
				if err != nil {
					return notFound(err)
				}
				bz, err := pj.Marshal(res)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.out, string(bz))
				return err
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
				bz, err := pj.Marshal(res)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.out, string(bz))
				return err
			})
		},
	}
	q.AddCommand(record, records, members, member, obligations, compliance, pledgeCompliance)
	return q
}
