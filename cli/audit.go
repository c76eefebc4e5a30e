package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/normledger/normledger/audit"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/verifiers/remote"
)

// ExitDiscrepancy: the audit found the chain or the node's answers wrong.
const ExitDiscrepancy = 5

func auditCmd(e *env) *cobra.Command {
	var witnesses []string
	var out, genesis string
	var to int64
	tf := &trustFlags{}
	cmd := &cobra.Command{
		Use:   "audit --node URL [--witness URL...] --out DIR",
		Short: "Re-verify and re-execute the whole chain, and check the node's answers",
		Long: `audit fetches every block from --node, verifies every header with the light
client (cross-checked against --witness nodes), checks each block's
transactions against its header, re-executes the chain from genesis in a
fresh in-memory app (re-verifying every signature), requires every app hash
and results hash to match the headers, then recomputes every record and every
member's and pledge's compliance and compares them with what the node's API
says. It writes DIR/report.json and DIR/report.html (with a chart of the
obligations each state owes over time).

Trust root: the genesis validators' signatures on the first block (from
--genesis FILE, or the node's genesis checked against those signatures), or
--trust-height/--trust-hash.

Exit status: 0 no discrepancy; 5 discrepancies (listed); 4 verification
failed (headers); 1 other errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 6*time.Hour)
			defer cancel()
			o := audit.Options{API: c, NodeName: c.Base(), ToHeight: to, Progress: e.err}
			if genesis != "" {
				if o.Genesis, err = os.ReadFile(genesis); err != nil {
					return err
				}
			}
			if tf.height != 0 || tf.hash != "" {
				if o.Trust, err = tf.root(ctx, c); err != nil {
					return err
				}
			}
			chainID, err := c.ChainID(ctx)
			if err != nil {
				return err
			}
			for _, w := range witnesses {
				wc, err := client.New(w)
				if err != nil {
					return err
				}
				o.Witnesses = append(o.Witnesses, remote.NewProvider(chainID, wc.Base(), wc))
			}
			rep, err := audit.Run(ctx, o)
			if err != nil {
				return verifyExit(err)
			}
			if err := rep.Write(out); err != nil {
				return err
			}
			if e.cfg.Output == "json" {
				if err := printJSON(e.out, rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(e.out, "audited heights %d-%d of %s: %d blocks, %d txs (%d accepted), %d signatures, %d app hashes matched, %d records and %d members compared in %.1f s (%.0f tx/s)\n",
					rep.FromHeight, rep.ToHeight, rep.ChainID, rep.Blocks, rep.Txs, rep.Accepted, rep.Signatures, rep.AppHashesMatched,
					rep.RecordsCompared, rep.MembersCompared, rep.Seconds, rep.TxsPerSecond)
				for _, d := range rep.Discrepancies {
					fmt.Fprintf(e.out, "DISCREPANCY at height %d: %s\n  re-execution: %s\n  node:         %s\n", d.Height, d.What, d.Want, d.Got)
				}
				if n := len(rep.Checkpoints); n > 0 {
					last := rep.Checkpoints[n-1]
					fmt.Fprintf(e.out, "%d published checkpoints verified against the re-execution; the newest (height %d, %d entries) cosigned by %v\n",
						n, last.Height, last.Size, last.Cosigners)
				}
				if n := len(rep.Checkpoints); n > 0 {
					last := rep.Checkpoints[n-1]
					fmt.Fprintf(e.out, "%d published checkpoints verified against the re-execution; the newest (height %d, %d entries) cosigned by %v\n",
						n, last.Height, last.Size, last.Cosigners)
				}
				fmt.Fprintf(e.out, "report: %s/report.html, %s/report.json\n", out, out)
			}
			if !rep.OK() {
				return &exitError{code: ExitDiscrepancy, err: fmt.Errorf("%d discrepancies", len(rep.Discrepancies))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&witnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable)")
	f.StringVar(&out, "out", "audit", "directory for report.json and report.html")
	f.StringVar(&genesis, "genesis", "", "genesis file to use instead of the node's")
	f.Int64Var(&to, "to-height", 0, "last state height to audit (default: newest attested)")
	f.Int64Var(&tf.height, "trust-height", 0, "height of a header you trust (default: trust the genesis validators)")
	f.StringVar(&tf.hash, "trust-hash", "", "hash (hex) of the header at --trust-height")
	tf.period = remote.DefaultTrustPeriod
	return cmd
}
