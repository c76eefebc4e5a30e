package testnet

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
)

func loadCmd() *cobra.Command {
	var o LoadOptions
	cmd := &cobra.Command{
		Use:   "load DIR --rate R --duration D",
		Short: "Offer signed records at a fixed rate (open loop) and report throughput and latency",
		Long: `load signs ~--size byte records with the network's member keys (every state
and load-NNN member; each signer's transactions go in order to one node) and
offers them at --rate per second for --duration, whatever happens to earlier
ones. It reports offered, accepted (CheckTx) and committed tx/s, rejects by
reason, and submit-to-commit latency percentiles measured from each
transaction's scheduled send time.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nw, err := load(args)
			if err != nil {
				return err
			}
			rep, err := RunLoad(cmd.Context(), nw, o)
			if err != nil {
				return err
			}
			if output(cmd) == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			fmt.Fprintln(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&o.Rate, "rate", 100, "offered transactions per second")
	f.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to offer")
	f.IntVar(&o.Size, "size", 1024, "approximate signed record size, bytes")
	f.StringSliceVar(&o.Kinds, "kinds", []string{"notification"}, "record kinds: notification, incident_disclosure")
	f.StringSliceVar(&o.Signers, "signers", nil, "member ids to sign with (default: all states and load members)")
	return cmd
}

func growthCmd() *cobra.Command {
	var n, size, block, every int
	var keepRecent int64
	var dir string
	cmd := &cobra.Command{
		Use:    "growth --records N --dir DIR",
		Short:  "Measure state growth and RSS applying N records through the app (benchmark)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pts, err := Growth(cmd.Context(), dir, n, size, block, every, keepRecent, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(pts)
		},
	}
	cmd.Flags().IntVar(&n, "records", 100000, "records to apply")
	cmd.Flags().IntVar(&size, "size", 1024, "approximate signed record size")
	cmd.Flags().IntVar(&block, "block", 1000, "records per block")
	cmd.Flags().IntVar(&every, "every", 100000, "measure every this many records")
	cmd.Flags().Int64Var(&keepRecent, "keep-recent", 0, "state versions to keep (0: every version, as an archive node)")
	cmd.Flags().StringVar(&dir, "dir", "", "state directory (fresh)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func benchCmd() *cobra.Command {
	var o BenchOptions
	var out, micro, growth, growthPruned, commands, resultJSON, fromJSON, joinJSON string
	cmd := &cobra.Command{
		Use:    "bench --dir WORKDIR --out BENCHMARKS.md",
		Short:  "Network benchmarks against the kvstore baseline; writes BENCHMARKS.md",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = cmd.ErrOrStderr()
			var res *BenchResult
			var err error
			if fromJSON != "" {
				res, err = ReadBenchJSON(fromJSON)
			} else {
				res, err = Bench(cmd.Context(), o)
			}
			if err != nil {
				return err
			}
			if joinJSON != "" {
				bz, err := os.ReadFile(joinJSON)
				if err != nil {
					return err
				}
				res.Join = new(JoinResult)
				if err := json.Unmarshal(bz, res.Join); err != nil {
					return fmt.Errorf("%s: %w", joinJSON, err)
				}
			}
			if resultJSON != "" && (fromJSON == "" || joinJSON != "") {
				if err := res.WriteJSON(resultJSON); err != nil {
					return err
				}
			}
			return RenderBenchmarks(out, res, micro, []string{growth, growthPruned}, commands)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", "/tmp/normledger-bench", "work directory for the networks")
	f.Float64SliceVar(&o.Rates, "rates", []float64{300, 600, 900, 1200, 1600, 2000, 2500}, "offered rates of the ramp")
	f.DurationVar(&o.Step, "step", 20*time.Second, "duration of each ramp step")
	f.IntVar(&o.Size, "size", 1024, "transaction size, bytes")
	f.IntSliceVar(&o.ReadConc, "read-concurrency", []int{1, 4, 16, 64}, "read benchmark concurrency levels")
	f.DurationVar(&o.ReadFor, "read-for", 5*time.Second, "duration of each read point")
	f.IntVar(&o.Validators, "validators", 4, "validators per network")
	f.StringVar(&out, "out", "BENCHMARKS.md", "report to write")
	f.StringVar(&micro, "micro", "", "go test -bench output to include")
	f.StringVar(&growth, "growth", "", "growth JSON (every version kept) to include")
	f.StringVar(&growthPruned, "growth-pruned", "", "growth JSON of a pruned store (testnet growth --keep-recent) to include")
	f.StringVar(&fromJSON, "from-json", "", "render the report from an earlier run's --json instead of running the networks")
	f.StringVar(&commands, "commands", "", "commands to list in the report")
	f.StringVar(&resultJSON, "json", "", "also write the raw result here")
	f.StringVar(&joinJSON, "join", "", "join benchmark JSON (testnet joinbench) to include")
	return cmd
}
