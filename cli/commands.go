package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"filippo.io/age"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/api"
	"github.com/normledger/normledger/node/genesis"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// passphrase returns the passphrase source: NORMLEDGER_KEYRING_PASSPHRASE,
// then --passphrase-file, then a terminal prompt. One answer serves the
// whole command.
func (e *env) passphrase() keyring.Passphrase {
	var once sync.Once
	var cached string
	var cerr error
	return func(prompt string, confirm bool) (string, error) {
		once.Do(func() {
			if p := os.Getenv("NORMLEDGER_KEYRING_PASSPHRASE"); p != "" {
				cached = p
				return
			}
			if e.cfg.PassphraseFile != "" {
				bz, err := os.ReadFile(e.cfg.PassphraseFile)
				if err != nil {
					cerr = fmt.Errorf("passphrase file: %w", err)
					return
				}
				cached = strings.TrimRight(string(bz), "\r\n")
				return
			}
			f, ok := e.in.(*os.File)
			if !ok || !term.IsTerminal(int(f.Fd())) {
				cerr = errors.New("no passphrase: set NORMLEDGER_KEYRING_PASSPHRASE or --passphrase-file, or run in a terminal")
				return
			}
			fmt.Fprint(e.err, prompt)
			bz, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(e.err)
			if err != nil {
				cerr = err
				return
			}
			if confirm {
				fmt.Fprint(e.err, "Repeat: ")
				again, err := term.ReadPassword(int(f.Fd()))
				fmt.Fprintln(e.err)
				if err != nil {
					cerr = err
					return
				}
				if string(again) != string(bz) {
					cerr = errors.New("passphrases do not match")
					return
				}
			}
			cached = string(bz)
		})
		return cached, cerr
	}
}

func (e *env) keyring() (*keyring.Keyring, error) {
	return keyring.Open(filepath.Join(e.cfg.Home, "keyring"), e.cfg.KeyringBackend, e.passphrase())
}

func (e *env) client() (*client.Client, error) { return client.New(e.cfg.Node) }

// initHome lays out a single-validator development chain with the dev member
// set, whose keys go into the home's keyring.
func (e *env) initHome(chainID, moniker string, states int, comet func(*cmtcfg.Config)) ([]fixture.Member, error) {
	ccfg, err := node.InitHome(node.InitOptions{Home: e.cfg.Home, Moniker: moniker, Comet: comet})
	if err != nil {
		return nil, err
	}
	val, err := node.ValidatorPubKey(ccfg)
	if err != nil {
		return nil, err
	}
	members := fixture.Dev(states, func(string) ed25519.PrivKey { return ed25519.GenPrivKey() })
	kr, err := e.keyring()
	if err != nil {
		return nil, err
	}
	for i, m := range members {
		if _, err := kr.Add(m.ID, m.ID, m.Key); err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		if m.Encryption != "" {
			// A fresh encryption identity, not the fixture's public one.
			id, err := age.GenerateX25519Identity()
			if err != nil {
				return nil, err
			}
			if _, err := kr.AddIdentity(m.ID+"-enc", m.ID, id); err != nil {
				return nil, fmt.Errorf("keyring: %w", err)
			}
			members[i].Encryption = id.String()
		}
	}
	gs := fixture.Genesis(members)
	// The first state runs the dev chain's one validator.
	fixture.SetValidator(gs, members[0].ID, val.PubKey.Bytes(), val.Power)
	if err := node.WriteGenesis(ccfg.GenesisFile(), chainID, time.Time{}, []cmttypes.GenesisValidator{val}, gs); err != nil {
		return nil, err
	}
	rest := "http://" + strings.TrimPrefix(e.cfg.API.RESTLaddr, "tcp://")
	if err := operator.WriteAppToml(e.cfg.Home, chainID, rest, e.cfg.KeyringBackend); err != nil {
		return nil, err
	}
	return members, nil
}

func initCmd(e *env) *cobra.Command {
	var chainID, moniker, genesisFile, genesisHash, peers, trustHash string
	var syncRPC []string
	var trustHeight int64
	var states int
	var dev bool
	var prof operator.Profile
	var poc pb.PointOfContact
	cmd := &cobra.Command{
		Use:   "init (--member ID --class CLASS [--validator] | --genesis FILE | --dev)",
		Short: "Initialise a home: an operator's node, a node of an existing chain, or a development chain",
		Long: `init creates a node home. What kind is said by a flag:

  --member ID --class state|neutral_body|verifier|observer [--validator]
      An operator's home on its own host, for the genesis ceremony: the node
      key, the validator key (with --validator), the member's signing key in
      the home's keyring and the public member profile. No other member and
      no genesis yet: next run 'genesis application' and send the file to the
      coordinator.

  --genesis FILE [--genesis-hash H] [--p2p.persistent-peers ID@HOST:PORT,...]
      Make the home (an operator's, after the ceremony, or a fresh one for a
      full node) a node of that chain: the genesis is verified (and its hash
      compared, if given) and installed, and the peers are written to
      config.toml.

  --dev [--states N]
      A single-validator development chain with fictional member states
      (xaa, xbb, ...), a neutral body (observatory) and a verifier (lumen),
      every key in the home's keyring. Not for real use.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case dev:
				if prof.Member != "" || genesisFile != "" {
					return fmt.Errorf("--dev makes a development chain; it does not combine with --member or --genesis")
				}
				members, err := e.initHome(chainID, moniker, states, nil)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.out, "initialised the development chain %s in %s\n", chainID, e.cfg.Home)
				for _, m := range members {
					fmt.Fprintf(e.out, "  member %-12s %-13s key %s\n", m.ID, enum.Name(m.Class), m.Signer().KeyID())
				}
				fmt.Fprintf(e.out, "start it with: normledger start --home %s\n", e.cfg.Home)
				return nil
			case prof.Member != "":
				if genesisFile != "" {
					return fmt.Errorf("first --member (then the ceremony), then --genesis: two steps")
				}
				if !cmd.Flags().Changed("chain-id") {
					return fmt.Errorf("--chain-id is required with --member (the consortium's chain id)")
				}
				prof.ChainID = chainID
				if poc.Name != "" || poc.Email != "" || poc.Phone != "" || poc.Organisation != "" {
					prof.PointOfContact = &poc
				}
				info, err := operator.Init(operator.Options{Home: e.cfg.Home, Moniker: moniker, Profile: prof,
					KeyringBackend: e.cfg.KeyringBackend, Passphrase: e.passphrase()})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.out, "initialised %s: member %s (%s) of chain %s, signing key %s in %s\n", e.cfg.Home, prof.Member,
					prof.Class, chainID, info.KeyID, filepath.Join(e.cfg.Home, "keyring"))
				if prof.Validator {
					fmt.Fprintf(e.out, "validator key: %s (keep it here, or move it to a remote signer)\n", filepath.Join(e.cfg.Home, "config", "priv_validator_key.json"))
				}
				fmt.Fprintf(e.out, "next: normledger genesis application --home %s --out %s.json\n", e.cfg.Home, prof.Member)
				return nil
			case genesisFile != "":
				p, note, err := operator.JoinGenesis(e.cfg.Home, genesisFile, genesisHash, peers, nil)
				if err != nil {
					return err
				}
				if note != "" {
					fmt.Fprintln(e.err, "note:", note)
				}
				if len(syncRPC) > 0 {
					if err := operator.EnableStateSync(e.cfg.Home, syncRPC, trustHeight, trustHash); err != nil {
						return err
					}
					fmt.Fprintf(e.out, "state sync enabled: trusting height %d (%s) via %s\n", trustHeight, trustHash, strings.Join(syncRPC, ", "))
				}
				h, _ := genesis.Hash(genesisFile)
				who := "a full node"
				if p != nil {
					who = "member " + p.Member
				}
				fmt.Fprintf(e.out, "%s is now %s of chain with genesis hash %s\n", e.cfg.Home, who, h)
				fmt.Fprintf(e.out, "start it with: normledger start --home %s\n", e.cfg.Home)
				return nil
			}
			return fmt.Errorf("say what this home is: --member ID --class CLASS (an operator), --genesis FILE (a node of an existing chain) or --dev (a development chain)")
		},
	}
	f := cmd.Flags()
	f.StringVar(&chainID, "chain-id", "normledger-dev", "chain id")
	f.StringVar(&moniker, "moniker", "", "node name (default: the member id)")
	f.BoolVar(&dev, "dev", false, "a single-validator development chain with fictional states")
	f.IntVar(&states, "states", 3, "with --dev: number of fictional member states (1-8)")
	f.StringVar(&prof.Member, "member", "", "the member this operator's home belongs to")
	f.StringVar(&prof.Class, "class", "", "member class: state, neutral_body, verifier or observer")
	f.StringVar(&prof.Name, "name", "", "member name")
	f.StringVar(&prof.CountryCode, "country", "", "ISO 3166-1 alpha-3 code (states)")
	f.StringArrayVar(&prof.Roles, "role", nil, "member role, e.g. governance (repeatable)")
	f.BoolVar(&prof.Validator, "validator", false, "the member runs a validator (creates its key here)")
	f.Int64Var(&prof.Power, "power", 10, "with --validator: voting power applied for")
	f.StringVar(&poc.Name, "poc-name", "", "point of contact: name")
	f.StringVar(&poc.Organisation, "poc-organisation", "", "point of contact: organisation")
	f.StringVar(&poc.Email, "poc-email", "", "point of contact: email")
	f.StringVar(&poc.Phone, "poc-phone", "", "point of contact: phone")
	f.StringVar(&genesisFile, "genesis", "", "genesis file of the chain to join")
	f.StringVar(&genesisHash, "genesis-hash", "", "with --genesis: the hash you were given out of band (genesis hash)")
	f.StringVar(&peers, "p2p.persistent-peers", "", "with --genesis: peers to keep connected to, id@host:port,...")
	f.StringSliceVar(&syncRPC, "state-sync-rpc", nil, "with --genesis: join by state sync through these CometBFT RPC servers (two or more)")
	f.Int64Var(&trustHeight, "trust-height", 0, "with --state-sync-rpc: a height you trust")
	f.StringVar(&trustHash, "trust-hash", "", "with --state-sync-rpc: its header hash (hex), from a source you trust")
	return cmd
}

func (e *env) nodeConfig() (node.Config, error) {
	ccfg, err := operator.LoadCometConfig(e.cfg.Home)
	if err != nil {
		return node.Config{}, err
	}
	return node.Config{Comet: ccfg,
		Home: e.cfg.Home, RPCListen: e.cfg.RPC.Laddr, P2PListen: e.cfg.P2P.Laddr,
		PersistentPeers: e.cfg.P2P.PersistentPeers, Seeds: e.cfg.P2P.Seeds, ExternalAddress: e.cfg.P2P.ExternalAddress,
		PrivValidatorListen: e.cfg.PrivValidator.Laddr,
		Snapshots: node.SnapshotConfig{Interval: e.cfg.StateSync.SnapshotInterval, KeepRecent: e.cfg.StateSync.SnapshotKeepRecent,
			ChunkHeight: e.cfg.StateSync.SnapshotChunkHeight},
		Checkpoints: node.CheckpointConfig{IntervalBlocks: e.cfg.Checkpoints.IntervalBlocks, IntervalSeconds: e.cfg.Checkpoints.IntervalSeconds,
			Witnesses: e.cfg.Checkpoints.Witnesses},
		LogLevel: e.cfg.Log.Level, CometLogLevel: e.cfg.Log.CometLevel, LogFormat: e.cfg.Log.Format,
		LogOutput: e.err, AppCacheSize: e.cfg.App.CacheSize, AppVerify: e.cfg.App.VerifyOnStart, AppKeepRecent: e.cfg.App.KeepRecent, Version: Version,
		API: api.Config{
			RESTListen: e.cfg.API.RESTLaddr, GRPCListen: e.cfg.API.GRPCLaddr, CORSOrigins: e.cfg.API.CORSOrigins,
			MaxBodyBytes: e.cfg.API.MaxBodyBytes, ReadRateLimit: e.cfg.API.ReadRateLimit, ReadRateBurst: e.cfg.API.ReadRateBurst,
			TLSCertFile: e.cfg.API.TLSCertFile, TLSKeyFile: e.cfg.API.TLSKeyFile, TrustedProxies: e.cfg.API.TrustedProxies,
			MetricsListen: e.cfg.API.MetricsLaddr,
		},
	}, nil
}

func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
}

func startCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the node until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			ncfg, err := e.nodeConfig()
			if err != nil {
				return err
			}
			return node.Run(ctx, ncfg)
		},
	}
	cmd.Flags().String("rpc.laddr", "", "CometBFT RPC listen address (overrides config.toml)")
	cmd.Flags().String("p2p.laddr", "", "CometBFT P2P listen address (overrides config.toml)")
	cmd.Flags().String("p2p.persistent-peers", "", "peers to keep connected to, id@host:port,... (overrides config.toml)")
	cmd.Flags().String("p2p.seeds", "", "seed nodes, id@host:port,... (overrides config.toml)")
	cmd.Flags().String("p2p.external-address", "", "address peers should dial, host:port (overrides config.toml)")
	cmd.Flags().String("priv-validator-laddr", "", "listen for a remote signer here, e.g. tcp://127.0.0.1:26659 (the node keeps no validator key)")
	cmd.Flags().String("rest.laddr", "tcp://127.0.0.1:1317", "REST API listen address (\"\" disables)")
	cmd.Flags().String("grpc.laddr", "tcp://127.0.0.1:9090", "gRPC API listen address (\"\" disables)")
	return cmd
}

func keysCmd(e *env) *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage member signing keys and encryption identities in the local keyring"}
	var member string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Generate a new ed25519 key for a member",
		Long: `add generates a key and stores it under NAME. A new key signs for the
member only once it is in the on-chain registry (genesis or governance); give
the printed public key and key id to the consortium.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if member == "" {
				member = args[0]
			}
			kr, err := e.keyring()
			if err != nil {
				return err
			}
			info, err := kr.Add(args[0], member, ed25519.GenPrivKey())
			if err != nil {
				return err
			}
			return e.printKey(info)
		},
	}
	add.Flags().StringVar(&member, "member", "", "member id the key signs for (default: NAME)")
	list := &cobra.Command{
		Use: "list", Short: "List keys", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kr, err := e.keyring()
			if err != nil {
				return err
			}
			infos, err := kr.List()
			if err != nil {
				return err
			}
			if e.cfg.Output == "json" {
				return printJSON(e.out, infos)
			}
			return textKeys(e.out, infos)
		},
	}
	show := &cobra.Command{
		Use: "show NAME", Short: "Show a key's public part", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := e.keyring()
			if err != nil {
				return err
			}
			info, err := kr.Show(args[0])
			if err != nil {
				return err
			}
			return e.printKey(info)
		},
	}
	var outFile string
	export := &cobra.Command{
		Use: "export NAME", Short: "Export a key, encrypted with a passphrase", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := e.keyring()
			if err != nil {
				return err
			}
			pass, err := e.passphrase()("Passphrase to protect the exported key: ", true)
			if err != nil {
				return err
			}
			blob, err := kr.Export(args[0], pass)
			if err != nil {
				return err
			}
			if outFile == "" {
				_, err = e.out.Write(append(blob, '\n'))
				return err
			}
			return atomicfile.WriteFile(outFile, append(blob, '\n'), 0o600)
		},
	}
	export.Flags().StringVar(&outFile, "out", "", "write to this file (mode 0600) instead of stdout")
	imp := &cobra.Command{
		Use: "import NAME FILE", Short: "Import an exported key", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := e.keyring()
			if err != nil {
				return err
			}
			blob, err := os.ReadFile(args[1])
			if err != nil {
				return err
			}
			pass, err := e.passphrase()("Passphrase of the exported key: ", false)
			if err != nil {
				return err
			}
			info, err := kr.Import(args[0], blob, pass)
			if err != nil {
				return err
			}
			return e.printKey(info)
		},
	}
	keys.AddCommand(add, list, show, export, imp)
	keys.AddCommand(keysEncryptionCmds(e)...)
	return keys
}

func (e *env) printKey(i keyring.Info) error {
	if e.cfg.Output == "json" {
		return printJSON(e.out, i)
	}
	if i.Type == keyring.TypeEncryption {
		fmt.Fprintf(e.out, "name:          %s\nmember:        %s\nkey_id:        %s\nage_recipient: %s (encryption)\n", i.Name, i.Member, i.KeyID, i.AgeRecipient)
		return nil
	}
	fmt.Fprintf(e.out, "name:    %s\nmember:  %s\nkey_id:  %s\npub_key: %s (%s)\n", i.Name, i.Member, i.KeyID, i.PubKey, i.Type)
	return nil
}
