package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/witness"
	"github.com/normledger/normledger/verifiers/checkpoint"
	"github.com/normledger/normledger/verifiers/remote"
)

func witnessCmd(e *env) *cobra.Command {
	w := &cobra.Command{Use: "witness", Short: "Run a neutral witness that cosigns the record log's checkpoints, or write a witness policy"}
	var member, listen, genesis, metricsAddr string
	var nodes []string
	var follow bool
	var interval time.Duration
	start := &cobra.Command{
		Use:   "start --member ID --genesis FILE --node-url URL...",
		Short: "Serve the C2SP tlog-witness API, cosigning checkpoints consistent with the last one cosigned",
		Long: `witness start runs a witness for the chain of --genesis with the key of
--member from the keyring in --home (a member with the "witness" role: its
active key is the witness key, so governance can add, rotate and revoke it).

It serves POST /add-checkpoint (c2sp.org/tlog-witness) on --listen and
cosigns (tlog-cosignature/v1, Ed25519) a checkpoint only if its commit
certificate's header verifies with the witness's light client (trust root:
the genesis validators, cross-checked against every --node-url) and it is
consistent with the last checkpoint it cosigned, which it keeps crash-safely
in <home>/witness. With --follow it also fetches checkpoints and proofs from
the nodes itself and hands them its cosignatures. --metrics-laddr serves
Prometheus metrics at /metrics (cosigned and refused checkpoints, the size
it trusts) on a listener of its own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if member == "" || genesis == "" || len(nodes) == 0 {
				return errors.New("--member, --genesis and at least one --node-url are required")
			}
			var ml net.Listener
			if metricsAddr != "" {
				var err error
				if ml, err = net.Listen("tcp", metricsAddr); err != nil {
					return fmt.Errorf("--metrics-laddr: %w", err)
				}
				defer ml.Close()
			}
			kr, err := e.keyring()
			if err != nil {
				return err
			}
			s, err := kr.Signer(member)
			if err != nil {
				return fmt.Errorf("witness key: %w", err)
			}
			gen, err := types.GenesisDocFromFile(genesis)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var providers []*remote.Provider
			var first *client.Client
			for _, n := range nodes {
				c, err := client.New(n)
				if err != nil {
					return err
				}
				if first == nil {
					first = c
				}
				providers = append(providers, remote.NewProvider(gen.ChainID, c.Base(), c))
			}
			dir := filepath.Join(e.cfg.Home, "witness")
			if err := os.MkdirAll(filepath.Join(dir, "light"), 0o700); err != nil {
				return err
			}
			root, err := remote.TrustFromGenesis(ctx, gen, first)
			if err != nil {
				return err
			}
			ws := providers
			if len(ws) > 1 {
				ws = providers[1:]
			}
			lc, err := remote.NewLightClient(ctx, gen.ChainID, providers[0], ws, root, filepath.Join(dir, "light"))
			if err != nil {
				return err
			}
			defer lc.Close()
			log, err := node.NewLogger(e.err, e.cfg.Log.Format, e.cfg.Log.Level)
			if err != nil {
				return err
			}
			origin := checkpoint.Origin(gen.ChainID)
			wt, err := witness.New(witness.Config{Dir: dir, Name: checkpoint.WitnessName(member), Key: ed25519.PrivateKey(s.Key),
				Logger: log.With("module", "witness"), Version: Version,
				Logs: []witness.Log{{Origin: origin, ChainID: gen.ChainID, CheckHeader: func(lb *types.LightBlock) error {
					hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					defer cancel()
					return lc.CheckHeader(hctx, lb)
				}}},
				Persisted: crashAfterPersist(log),
			})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: wt.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
			go srv.Serve(ln)
			if ml != nil {
				msrv := &http.Server{Handler: wt.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
				go msrv.Serve(ml)
				defer msrv.Close()
				log.Info("witness metrics", "listen", ml.Addr().String())
			}
			log.Info("witness started", "name", checkpoint.WitnessName(member), "origin", origin, "listen", ln.Addr().String(),
				"vkey", wt.VerifierKey(), "follow", follow)
			if follow {
				go wt.Follow(ctx, origin, nodes, interval)
			}
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		},
	}
	f := start.Flags()
	f.StringVar(&member, "member", "", "witness member id (its key in the keyring signs)")
	f.StringVar(&listen, "listen", "127.0.0.1:7380", "address of the witness HTTP API")
	f.StringVar(&genesis, "genesis", "", "genesis file of the chain to witness")
	f.StringVar(&metricsAddr, "metrics-laddr", "", "serve Prometheus metrics at http://ADDR/metrics (host:port; empty: off)")
	f.StringArrayVar(&nodes, "node-url", nil, "REST URL of a node (repeatable): light client sources and, with --follow, checkpoint sources")
	f.BoolVar(&follow, "follow", false, "also fetch checkpoints from the nodes and deliver the cosignatures to them")
	f.DurationVar(&interval, "follow-interval", 2*time.Second, "how often to fetch checkpoints with --follow")

	var quorum int
	policy := &cobra.Command{
		Use:   "policy",
		Short: "Print a witness policy from the member registry: every witness key, and a quorum",
		Long: `witness policy reads the member registry from --node (members with the
"witness" role, their active keys) and prints a policy file for
verify --witness-policy: the witnesses, a group of them and the quorum
(--quorum K of them; default a majority). Check the keys against what the
witnesses publish before you rely on it: the node could lie about them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			chainID, err := c.ChainID(cmd.Context())
			if err != nil {
				return err
			}
			ms, err := c.Members(cmd.Context())
			if err != nil {
				return err
			}
			p, err := checkpoint.NewPolicy(chainID, checkpoint.RegistryWitnesses(ms), quorum)
			if err != nil {
				return err
			}
			fmt.Fprint(e.out, p.String())
			return nil
		},
	}
	policy.Flags().IntVar(&quorum, "quorum", 0, "cosignatures needed (default: a majority of the witnesses)")
	w.AddCommand(start, policy)
	return w
}

// crashAfterPersist is the witness's fault-test kill switch
// (NORMLEDGER_TEST_WITNESS_CRASH=1: exit after persisting a new state,
// before answering).
func crashAfterPersist(log interface{ Error(string, ...any) }) func() {
	if os.Getenv("NORMLEDGER_TEST_WITNESS_CRASH") != "1" {
		return nil
	}
	return func() {
		log.Error("crash point reached: exiting after persisting, before answering")
		os.Exit(3)
	}
}
