package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/normledger/normledger/node"
)

// DefaultDir is where `testnet up` keeps its network.
const DefaultDir = ".normledger-testnet"

// Command returns the `normledger testnet` command tree. It reads no
// configuration files: everything is in the network directory.
func Command() *cobra.Command {
	root := &cobra.Command{
		Use:   "testnet",
		Short: "Run local multi-validator networks as separate processes, seed them, break them",
		// The network directory holds all settings; skip the node config loading of the parent.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
	}
	root.AddCommand(initCmd(), startCmd(), upCmd(), statusCmd(), stopCmd(), seedCmd(), resetCmd(),
		signalCmd("kill", "SIGKILL a node", KillNode),
		signalCmd("pause", "SIGSTOP a node", PauseNode),
		signalCmd("resume", "SIGCONT a paused node", ResumeNode),
		restartCmd(), loadCmd(), kvstoreNodeCmd(), growthCmd(), benchCmd(), joinBenchCmd())
	return root
}

func output(cmd *cobra.Command) string {
	o, _ := cmd.Flags().GetString("output")
	return o
}

func initCmd() *cobra.Command {
	var o Options
	var out string
	cmd := &cobra.Command{
		Use:   "init --validators N [--full-nodes M] --output DIR",
		Short: "Run the genesis ceremony of a local network: one home per member, genesis from their applications",
		Long: `init runs the genesis ceremony as separate operators would (docs/operations.md):
every member gets its own home with only its own keys (init --member):
validators DIR/node0 ... DIR/nodeN-1, run by one fictional state each (xaa,
xbb, ...); the neutral body "observatory", the verifier "lumen" and any load
members in DIR/members/<id>, running no node. Each writes a signed
application (DIR/applications/<id>.json, public parts only); a coordinator
builds DIR/genesis.json from them alone (genesis new/add/finalize); every
node installs it after checking its hash (init --genesis). Full nodes join
the same way. Each node is on its own ports on 127.0.0.1 (node i: RPC
26657+10i, P2P 26656+10i, REST 1317+10i, gRPC 9090+10i, CometBFT's
Prometheus metrics 26660+10i; the ledger's are on REST /metrics). Keyrings
use the unencrypted test backend. Settings are tuned for loopback: short
timeout_commit, no tx indexer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// --output DIR works too: the global --output only takes text or json.
			if f := output(cmd); f != "" && f != "text" && f != "json" && !cmd.Flags().Changed("output-dir") {
				out = f
				cmd.Flags().Set("output", "text")
			}
			o.Dir = out
			o.LimitReads = true
			if _, err := os.Stat(filepath.Join(out, "testnet.json")); err == nil {
				return fmt.Errorf("%s already holds a network (remove it or choose another --output-dir)", out)
			}
			nw, err := Generate(o)
			if err != nil {
				return err
			}
			return printNetwork(cmd.OutOrStdout(), output(cmd), nw)
		},
	}
	cmd.Flags().IntVar(&o.Validators, "validators", 4, "number of validators (1-8)")
	cmd.Flags().IntVar(&o.FullNodes, "full-nodes", 0, "number of non-validating full nodes")
	cmd.Flags().IntVar(&o.LoadMembers, "load-members", 0, "extra state members load-001... whose keys testnet load signs with")
	cmd.Flags().StringVar(&o.App, "app", AppNormledger, "what the nodes run: normledger, or kvstore (CometBFT's example app, the benchmark baseline)")
	cmd.Flags().StringVar(&o.ChainID, "chain-id", "normledger-testnet", "chain id")
	cmd.Flags().DurationVar(&o.TimeoutCommit, "timeout-commit", 300*time.Millisecond, "CometBFT timeout_commit")
	cmd.Flags().StringVar(&out, "output-dir", DefaultDir, "network directory")
	cmd.Flags().IntVar(&o.Witnesses, "witnesses", 2, "record log witnesses run by observatory and lumen (0-2); started by testnet start")
	return cmd
}

func printNetwork(w io.Writer, format string, nw *Network) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(nw)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tRPC\tREST\tGRPC\tP2P\tMETRICS")
	for _, n := range nw.Nodes {
		role := "full"
		if n.Validator {
			role = "validator"
		}
		fmt.Fprintf(tw, "%s\t%s\thttp://%s\thttp://%s\t%s\t%s\t%s\n", n.Name, role, n.RPC, n.REST, n.GRPC, n.P2P, cometMetricsURL(n))
	}
	for _, wt := range nw.Witnesses {
		fmt.Fprintf(tw, "%s\twitness\t-\thttp://%s\t-\t-\t-\n", wt.Name, wt.REST)
	}
	return tw.Flush()
}

// cometMetricsURL is where node n serves CometBFT's own Prometheus metrics
// ("-" when off; the ledger's are on REST /metrics).
func cometMetricsURL(n NodeInfo) string {
	if n.Prometheus == "" {
		return "-"
	}
	return "http://" + n.Prometheus + "/metrics"
}

func load(args []string) (*Network, error) {
	dir := DefaultDir
	if len(args) > 0 {
		dir = args[0]
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	nw, err := Load(abs)
	if err != nil {
		return nil, err
	}
	nw.Dir = abs
	return nw, nil
}

// startAll starts every node that is not running and waits until the
// network commits.
func startAll(ctx context.Context, w io.Writer, nw *Network) ([]*Process, error) {
	if err := InstallBinary(nw.Dir); err != nil {
		return nil, fmt.Errorf("install binary: %w", err)
	}
	var procs []*Process
	for _, n := range nw.Nodes {
		if _, ok := PID(n); ok {
			fmt.Fprintf(w, "%s is already running\n", n.Name)
			continue
		}
		p, err := StartNode(nw.Dir, n)
		if err != nil {
			return procs, err
		}
		procs = append(procs, p)
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	// Every node answers (and the chain commits) before start returns, so
	// whatever runs next can talk to any of them.
	for _, n := range nw.Nodes {
		for {
			if h, _ := rpcHeight(wctx, n.RPC); h >= 2 {
				break
			}
			select {
			case <-wctx.Done():
				return procs, fmt.Errorf("%s did not start committing (log: %s)", n.Name, LogFile(n))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	// Witnesses need nodes to answer (their light client's trust root).
	for _, w := range nw.Witnesses {
		if _, ok := PID(w); ok {
			continue
		}
		p, err := StartWitness(nw, w)
		if err != nil {
			return procs, err
		}
		procs = append(procs, p)
	}
	return procs, nil
}

// supervise waits for Ctrl-C (or SIGTERM), reporting nodes that exit on
// their own, then stops every node.
func supervise(ctx context.Context, w io.Writer, nw *Network, procs []*Process) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for _, p := range procs {
		go func(p *Process) {
			select {
			case <-p.Done():
				if ctx.Err() == nil {
					fmt.Fprintf(w, "%s exited (%v); log: %s\n", p.Node.Name, p.Cmd.ProcessState, LogFile(p.Node))
				}
			case <-ctx.Done():
			}
		}(p)
	}
	<-ctx.Done()
	fmt.Fprintln(w, "\nstopping all nodes")
	return stopAll(nw)
}

func stopAll(nw *Network) error {
	var errs []error
	for _, w := range nw.Witnesses {
		errs = append(errs, StopNode(w, 10*time.Second))
	}
	for _, n := range nw.Nodes {
		errs = append(errs, StopNode(n, 20*time.Second))
	}
	return errors.Join(errs...)
}

func startCmd() *cobra.Command {
	var detach bool
	cmd := &cobra.Command{
		Use:   "start [DIR]",
		Short: "Start every node as a separate process; Ctrl-C stops them all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nw, err := load(args)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			procs, err := startAll(cmd.Context(), w, nw)
			if err != nil {
				stopAll(nw)
				return err
			}
			printNetwork(w, "text", nw)
			if detach {
				fmt.Fprintf(w, "\nrunning in the background; stop with: normledger testnet stop %s\n", nw.Dir)
				return nil
			}
			fmt.Fprintln(w, "\nPress Ctrl-C to stop all nodes.")
			return supervise(cmd.Context(), w, nw, procs)
		},
	}
	cmd.Flags().BoolVar(&detach, "detach", false, "return once the network runs, leaving the nodes in the background")
	return cmd
}

func upCmd() *cobra.Command {
	var validators int
	var dir string
	var keep bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Initialise a 4-validator network, start it, seed the scenario and print where to look",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(abs, "testnet.json")); err == nil && !keep {
				if old, err := Load(abs); err == nil {
					old.Dir = abs
					stopAll(old)
				}
				if err := os.RemoveAll(abs); err != nil {
					return err
				}
			}
			var nw *Network
			if _, err := os.Stat(filepath.Join(abs, "testnet.json")); err == nil {
				if nw, err = Load(abs); err != nil {
					return err
				}
				nw.Dir = abs
			} else {
				fmt.Fprintf(w, "initialising a %d-validator network in %s\n", validators, abs)
				if nw, err = Generate(Options{Dir: abs, Validators: validators, Witnesses: 2, LimitReads: true}); err != nil {
					return err
				}
			}
			procs, err := startAll(cmd.Context(), w, nw)
			if err != nil {
				stopAll(nw)
				return err
			}
			fmt.Fprintf(w, "network running:\n")
			printNetwork(w, "text", nw)
			fmt.Fprintf(w, "\nseeding the scenario through %s:\n", nw.Nodes[0].RESTURL())
			steps, err := Seed(cmd.Context(), nw, 2*time.Minute, w)
			if err != nil {
				stopAll(nw)
				return err
			}
			printWhereToLook(w, nw, steps)
			return supervise(cmd.Context(), w, nw, procs)
		},
	}
	cmd.Flags().IntVar(&validators, "validators", 4, "number of validators")
	cmd.Flags().StringVar(&dir, "dir", DefaultDir, "network directory (wiped unless --keep)")
	cmd.Flags().BoolVar(&keep, "keep", false, "reuse an existing network instead of starting fresh")
	return cmd
}

func printWhereToLook(w io.Writer, nw *Network, steps []SeedStep) {
	b := nw.Nodes[0].RESTURL()
	ids := map[string]string{}
	for _, s := range steps {
		ids[s.Name] = s.ID
	}
	rel := nw.Dir
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, nw.Dir); err == nil {
			rel = r
		}
	}
	bin := filepath.Join(rel, "bin", "normledger")
	fmt.Fprintf(w, "\n%d records seeded. Where to look (any node answers; REST of node0 shown):\n\n", len(steps))
	fmt.Fprintf(w, "  Dashboard (verifies everything it shows in your browser against the pinned genesis hash):\n"+
		"  %s/ui/?trust=%s\n\n", b, nw.GenesisHash)
	fmt.Fprintf(w, "  curl -s %s/v1/status\n", b)
	fmt.Fprintf(w, "  curl -s '%s/v1/records?sector=health&prove=true'\n", b)
	fmt.Fprintf(w, "  curl -s '%s/v1/records/%s?prove=true'\n", b, ids["harm_assessment"])
	if id := ids[ConsultationStep]; id != "" {
		fmt.Fprintf(w, "\n  Overdue obligations: the consultation request %s asks for a response within %s; nobody answers,\n"+
			"  so it falls overdue in the first block after that (the exercise notification's responses follow):\n", id, ConsultationWithin)
		fmt.Fprintf(w, "  curl -s '%s/v1/obligations?status=overdue'\n", b)
		fmt.Fprintf(w, "  curl -s %s/metrics | grep normledger_ledger_    # %s, records by kind, obligations by status\n", b, node.MetricOverdueObligations)
	}
	if id := ids[CaseStep]; id != "" {
		fmt.Fprintf(w, "\n  A case (docs/cases.md): the hospital's state called upon the state its disclosure points at (case %s).\n"+
			"  Its fact-finding request right after was refused (cooling_off); the reply, due within %s, never came,\n"+
			"  so the same request was accepted once that window had passed (flag reply_missed). The consortium\n"+
			"  adopted an escalation ladder by vote (%s). Prove the case and the missing reply:\n", id, CaseReplyWithin, ids[ParamsStep])
		fmt.Fprintf(w, "  curl -s '%s/v1/cases/%s?prove=true'\n", b, id)
		fmt.Fprintf(w, "  %s verify case %s --node %s --witness %s --genesis %s/genesis.json --home %s/members/lumen\n",
			bin, id, b, nw.Nodes[1].RESTURL(), rel, rel)
	}
	if id := ids[RedactedStep]; id != "" {
		victim := ""
		for _, s := range steps {
			if s.Name == RedactedStep {
				victim = s.Author
			}
		}
		file := filepath.Join(nw.MemberHomes[victim], "disclosures", id+".json")
		if wd, err := os.Getwd(); err == nil {
			if r, err := filepath.Rel(wd, file); err == nil {
				file = r
			}
		}
		fmt.Fprintf(w, "\n  Selective disclosure (docs/disclosure.md): %s withheld a water operator's name (record %s).\n"+
			"  Order %s showed it to two states, who both confirmed, and published it on expiry; under order %s\n"+
			"  the second state never confirmed. Prove the name from the author's disclosures, and the missed confirmation:\n", victim, id, ids[OrderStep], ids[OrderLateStep])
		fmt.Fprintf(w, "  %s verify record %s --disclosures %s --node %s --witness %s --genesis %s/genesis.json --home %s/members/lumen\n",
			bin, id, file, b, nw.Nodes[1].RESTURL(), rel, rel)
		fmt.Fprintf(w, "  %s verify order %s --node %s --witness %s --genesis %s/genesis.json --home %s/members/lumen\n",
			bin, ids[OrderLateStep], b, nw.Nodes[1].RESTURL(), rel, rel)
	}
	if id := ids[StatementStep]; id != "" {
		fmt.Fprintf(w, "\n  Evidence standards (docs/evidence.md): a co-signed attribution (%s) and the accused's reply,\n"+
			"  a national declaration (%s), an exercise drill whose overdue duty counts apart (%s), a near-miss (%s),\n"+
			"  and a collective statement adopted by every state. Prove the attribution and the statement:\n", ids[AttributionStep], ids[DeclarationStep], ids[ExerciseStep], ids[NearMissStep])
		fmt.Fprintf(w, "  %s verify record %s --node %s --witness %s --genesis %s/genesis.json --home %s/members/lumen\n",
			bin, ids[AttributionStep], b, nw.Nodes[1].RESTURL(), rel, rel)
		fmt.Fprintf(w, "  %s verify statement %s --node %s --witness %s --genesis %s/genesis.json --home %s/members/lumen\n",
			bin, id, b, nw.Nodes[1].RESTURL(), rel, rel)
	}
	fmt.Fprintf(w, "\n  OpenAPI: %s/openapi.json   metrics: %s/metrics", b, b)
	if nw.Nodes[0].Prometheus != "" {
		fmt.Fprintf(w, "   CometBFT metrics: %s", cometMetricsURL(nw.Nodes[0]))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "\n  From another terminal (the network's own binary is %s):\n", bin)
	fmt.Fprintf(w, "  %s verify record %s --node %s --witness %s --genesis %s/genesis.json --home %s/members/lumen\n",
		bin, ids["pledge"], b, nw.Nodes[1].RESTURL(), rel, rel)
	if nw.Policy != "" {
		pol, _ := filepath.Rel(nw.Dir, nw.Policy)
		fmt.Fprintf(w, "\n  Witnesses %s cosign the record log's checkpoints (every 10 blocks); the verifiers' policy is %s:\n",
			witnessNames(nw), filepath.Join(rel, pol))
		if bz, err := os.ReadFile(nw.Policy); err == nil {
			for _, l := range strings.Split(strings.TrimSpace(string(bz)), "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
		fmt.Fprintf(w, "  %s verify record %s --node %s --witness %s --genesis %s/genesis.json --home %s/members/lumen --witness-policy %s\n",
			bin, ids["pledge"], b, nw.Nodes[1].RESTURL(), rel, rel, filepath.Join(rel, pol))
		fmt.Fprintf(w, "  curl -s %s/tlog/checkpoint      # the newest checkpoint with its cosignatures\n", b)
	}
	fmt.Fprintf(w, "  %s query proposals --node %s\n", bin, b)
	fmt.Fprintf(w, "  %s query obligations --status overdue --node %s\n", bin, b)
	fmt.Fprintf(w, "  %s tx submit --from xdd --file examples/records/acknowledgement.json --var notification=%s \\\n      --home %s/node3 --keyring-backend test --node %s\n",
		bin, ids["exercise_notification"], rel, b)
	if id := ids[SealedStep]; id != "" {
		fmt.Fprintf(w, "\n  Sealed notice: xaa sealed the exercise plan to the other states (one age file, docs/sealed.md); all but the last\n"+
			"  decrypted it and filed receipts. Who was told and who confirmed, and a recipient reading it:\n")
		fmt.Fprintf(w, "  %s query sealed %s --node %s\n", bin, id, b)
		fmt.Fprintf(w, "  %s open sealed %s --home %s/node1 --keyring-backend test --node %s\n", bin, id, rel, b)
	}
	fmt.Fprintf(w, "  (each member's key is in its own home: node0..node%d for xaa.., members/<id> for the others; genesis hash %s)\n",
		len(nw.Nodes)-1, nw.GenesisHash)
	fmt.Fprintf(w, "  %s testnet status %s\n", bin, rel)
	fmt.Fprintf(w, "  %s testnet kill %s node3     (also pause, resume, restart)\n", bin, rel)
	fmt.Fprintf(w, "\nPress Ctrl-C to stop all nodes.\n")
}

func seedCmd() *cobra.Command {
	var respond time.Duration
	cmd := &cobra.Command{
		Use:   "seed [DIR]",
		Short: "File the realistic scenario through the public API",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nw, err := load(args)
			if err != nil {
				return err
			}
			steps, err := Seed(cmd.Context(), nw, respond, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if output(cmd) == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(steps)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&respond, "respond-within", 2*time.Minute, "deadline of the exercise notification's requested response")
	return cmd
}

func witnessNames(nw *Network) string {
	var names []string
	for _, w := range nw.Witnesses {
		names = append(names, w.Member)
	}
	return strings.Join(names, " and ")
}
