package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/cometbft/cometbft/privval"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/genesis"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func genesisCmd(e *env) *cobra.Command {
	g := &cobra.Command{Use: "genesis", Short: "The genesis ceremony: applications, the coordinator's draft, the final genesis and its hash",
		Long: `The genesis ceremony of a consortium (docs/operations.md):

  every operator:   normledger init --member ID --class CLASS [--validator] --chain-id C
                    normledger genesis application --out ID.json [--p2p-address HOST:PORT]
  the coordinator:  normledger genesis new --chain-id C --out draft.json
                    normledger genesis add draft.json ID.json...
                    normledger genesis finalize draft.json --out genesis.json [--genesis-time T]
                    normledger genesis peers draft.json
  every operator:   normledger genesis verify genesis.json --hash H   (H compared out of band)
                    normledger init --genesis genesis.json --p2p.persistent-peers ...

Applications carry public parts only, signed by the member key and the
validator key (proof of possession); no one ever holds another party's keys.`}
	var out, p2pAddr string
	app := &cobra.Command{
		Use: "application --out FILE", Short: "Write this home's signed genesis application (public parts only)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kr, err := e.keyring()
			if err != nil {
				return err
			}
			s, err := operator.BuildApplication(e.cfg.Home, kr, p2pAddr, time.Now())
			if err != nil {
				return err
			}
			if err := genesis.Verify(s, s.Application.ChainId); err != nil {
				return fmt.Errorf("the application would be refused: %w", err)
			}
			if err := genesis.WriteFile(out, s); err != nil {
				return err
			}
			m := s.Application.Member
			fmt.Fprintf(e.out, "wrote %s: member %s (%s), key %s", out, m.Id, m.Class, m.Keys[0].KeyId)
			if len(m.ValidatorPubKey) > 0 {
				fmt.Fprintf(e.out, ", validator power %d", m.ValidatorPower)
			}
			if s.Application.NodeId != "" {
				fmt.Fprintf(e.out, ", node %s at %s", s.Application.NodeId, s.Application.P2PAddress)
			}
			fmt.Fprintf(e.out, "\nsend it to the ceremony's coordinator; it holds no private key\n")
			return nil
		},
	}
	app.Flags().StringVar(&out, "out", "", "file to write (required)")
	app.Flags().StringVar(&p2pAddr, "p2p-address", "", "host:port where other nodes reach this one (default: config.toml's external or listen address); \"none\" for a member that runs no node")
	_ = app.MarkFlagRequired("out")

	var paramsFile, rulesFile, draftOut string
	newCmd := &cobra.Command{
		Use: "new --chain-id C --out DRAFT", Short: "Start a ceremony: an empty draft with the default (or given) params and governance rules", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("chain-id") {
				return fmt.Errorf("--chain-id is required")
			}
			d, err := genesis.NewDraft(e.cfg.ChainID)
			if err != nil {
				return err
			}
			if paramsFile != "" {
				if d.Params, err = readProto(paramsFile, new(pb.Params)); err != nil {
					return err
				}
			}
			if rulesFile != "" {
				if d.Governance, err = readProto(rulesFile, new(pb.GovernanceRules)); err != nil {
					return err
				}
			}
			if _, err := os.Stat(draftOut); err == nil {
				return fmt.Errorf("%s exists: refusing to overwrite a ceremony draft", draftOut)
			}
			if err := genesis.WriteFile(draftOut, d); err != nil {
				return err
			}
			fmt.Fprintf(e.out, "wrote draft %s for chain %s\n", draftOut, d.ChainId)
			return nil
		},
	}
	newCmd.Flags().StringVar(&draftOut, "out", "", "draft file to write (required)")
	newCmd.Flags().String("chain-id", "", "the consortium's chain id (required)")
	newCmd.Flags().StringVar(&paramsFile, "params", "", "chain parameters (protojson of normledger.v1.Params)")
	newCmd.Flags().StringVar(&rulesFile, "governance", "", "governance rules (protojson of normledger.v1.GovernanceRules)")
	_ = newCmd.MarkFlagRequired("out")

	add := &cobra.Command{
		Use: "add DRAFT APPLICATION...", Short: "Verify applications and add them to the draft (all or none)", Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := genesis.ReadDraft(args[0])
			if err != nil {
				return err
			}
			var apps []*pb.SignedGenesisApplication
			for _, f := range args[1:] {
				a, err := genesis.ReadApplication(f)
				if err != nil {
					return err
				}
				apps = append(apps, a)
			}
			if err := genesis.Add(d, apps...); err != nil {
				return fmt.Errorf("nothing added: %w", err)
			}
			if err := genesis.WriteFile(args[0], d); err != nil {
				return err
			}
			for _, a := range apps {
				m := a.Application.Member
				fmt.Fprintf(e.out, "added %s (%s)%s\n", m.Id, m.Class, map[bool]string{true: fmt.Sprintf(", validator power %d", m.ValidatorPower), false: ""}[m.ValidatorPower > 0])
			}
			fmt.Fprintf(e.out, "%s holds %d applications\n", args[0], len(d.Applications))
			return nil
		},
	}
	var genesisTime string
	finalize := &cobra.Command{
		Use: "finalize DRAFT --out GENESIS", Short: "Write the genesis from the draft's applications and print its hash", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := genesis.ReadDraft(args[0])
			if err != nil {
				return err
			}
			t := time.Now().UTC().Truncate(time.Second)
			if genesisTime != "" {
				if t, err = time.Parse(time.RFC3339, genesisTime); err != nil {
					return fmt.Errorf("--genesis-time: %w", err)
				}
			}
			doc, err := genesis.Finalize(d, t)
			if err != nil {
				return err
			}
			if err := genesis.WriteGenesis(out, doc); err != nil {
				return err
			}
			h, err := genesis.Hash(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.out, "wrote %s: chain %s, %d members, %d validators, genesis time %s\ngenesis hash %s\npublish the file; every operator runs `normledger genesis verify %s --hash %s`\n",
				out, doc.ChainID, len(d.Applications), len(doc.Validators), doc.GenesisTime.Format(time.RFC3339), h, out, h)
			fmt.Fprintf(e.out, "peers: %s\n", genesis.Peers(d, ""))
			return nil
		},
	}
	finalize.Flags().StringVar(&out, "out", "genesis.json", "genesis file to write")
	finalize.Flags().StringVar(&genesisTime, "genesis-time", "", "genesis time, RFC 3339 (default: now)")
	hash := &cobra.Command{
		Use: "hash GENESIS", Short: "Print the genesis file's hash (SHA-256 of its bytes), to compare out of band", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := genesis.Hash(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, h)
			return nil
		},
	}
	var want string
	verify := &cobra.Command{
		Use: "verify GENESIS [--hash H]", Short: "Check a genesis file: its hash, its validators against its members, its registry", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := genesis.VerifyFile(args[0], want)
			if err != nil {
				return err
			}
			h, _ := genesis.Hash(args[0])
			gs := new(pb.GenesisState)
			if err := protojson.Unmarshal(doc.AppState, gs); err != nil {
				return err
			}
			fmt.Fprintf(e.out, "genesis %s is valid: chain %s, %d members, %d validators, hash %s", args[0], doc.ChainID, len(gs.Members), len(doc.Validators), h)
			if want != "" {
				fmt.Fprint(e.out, " (matches the hash given)")
			}
			fmt.Fprintln(e.out)
			for _, m := range gs.Members {
				fmt.Fprintf(e.out, "  %-12s %-13s %-4s keys %d, validator power %d\n", m.Id, enum.Name(m.Class), m.CountryCode, len(m.Keys), m.ValidatorPower)
			}
			return nil
		},
	}
	verify.Flags().StringVar(&want, "hash", "", "the hash you were given out of band")
	var except string
	peers := &cobra.Command{
		Use: "peers DRAFT", Short: "Print the draft's nodes as persistent peers (id@host:port,...)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := genesis.ReadDraft(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, genesis.Peers(d, except))
			return nil
		},
	}
	peers.Flags().StringVar(&except, "except", "", "leave out this node id (your own)")
	g.AddCommand(app, newCmd, add, finalize, hash, verify, peers)
	return g
}

func readProto[M interface {
	*pb.Params | *pb.GovernanceRules
	proto.Message
}](path string, m M) (M, error) {
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := protojson.Unmarshal(bz, m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// signerCmd runs CometBFT's privval signer server over a file key: the
// process that holds a validator key off the node (what tmkms or Horcrux do
// with an HSM), dialling the node's priv_validator_laddr.
func signerCmd(e *env) *cobra.Command {
	var addr, keyFile, stateFile, chainID string
	cmd := &cobra.Command{
		Use:   "signer --addr tcp://NODE:PORT --key FILE --state FILE --chain-id C",
		Short: "Hold a validator key in its own process and sign for a node over the privval socket",
		Long: `signer dials a node started with priv_validator_laddr (or --priv-validator-laddr)
and signs its votes and proposals with a file key, keeping the double-sign
protection state (the last height, round and step signed) in --state. If the
node or the connection goes away it keeps redialling; if the signer stops,
the validator stops signing and resumes when the signer returns. Run one
signer per validator key: two would double-sign.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if chainID == "" {
				return fmt.Errorf("--chain-id is required")
			}
			if _, err := os.Stat(keyFile); err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			pv := privval.LoadFilePV(keyFile, stateFile)
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			logger, err := node.NewLogger(e.err, e.cfg.Log.Format, e.cfg.Log.Level)
			if err != nil {
				return err
			}
			return node.RunSigner(ctx, addr, chainID, pv, node.CometLogger(logger.With("module", "signer")))
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "tcp://127.0.0.1:26659", "the node's priv_validator_laddr")
	cmd.Flags().StringVar(&keyFile, "key", "", "priv_validator_key.json")
	cmd.Flags().StringVar(&stateFile, "state", "", "priv_validator_state.json (created if missing)")
	cmd.Flags().StringVar(&chainID, "chain-id", "", "the chain's id (signatures are bound to it)")
	_ = cmd.MarkFlagRequired("key")
	_ = cmd.MarkFlagRequired("state")
	return cmd
}
