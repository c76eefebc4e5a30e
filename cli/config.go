package cli

import (
	"errors"

	"fmt"
	cmtcfg "github.com/cometbft/cometbft/config"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is the merged CLI configuration.
type Config struct {
	Home           string `mapstructure:"home"`
	ChainID        string `mapstructure:"chain_id"`
	Node           string `mapstructure:"node"`
	KeyringBackend string `mapstructure:"keyring_backend"`
	PassphraseFile string `mapstructure:"passphrase_file"`
	Output         string `mapstructure:"output"`
	Log            struct {
		Level      string `mapstructure:"level"`
		CometLevel string `mapstructure:"comet_level"`
		Format     string `mapstructure:"format"`
	} `mapstructure:"log"`
	RPC struct {
		Laddr string `mapstructure:"laddr"`
	} `mapstructure:"rpc"`
	P2P struct {
		Laddr           string `mapstructure:"laddr"`
		PersistentPeers string `mapstructure:"persistent_peers"`
		Seeds           string `mapstructure:"seeds"`
		ExternalAddress string `mapstructure:"external_address"`
	} `mapstructure:"p2p"`
	PrivValidator struct {
		Laddr string `mapstructure:"laddr"`
	} `mapstructure:"priv_validator"`
	App struct {
		CacheSize     int    `mapstructure:"cache_size"`
		VerifyOnStart string `mapstructure:"verify_on_start"`
		KeepRecent    int64  `mapstructure:"keep_recent"`
	} `mapstructure:"app"`
	StateSync struct {
		SnapshotInterval   int64 `mapstructure:"snapshot_interval"`
		SnapshotKeepRecent int   `mapstructure:"snapshot_keep_recent"`
		// SnapshotChunkHeight bounds a chunk's subtree height (0: default);
		// not in the template, for tests that want many small chunks.
		SnapshotChunkHeight int `mapstructure:"snapshot_chunk_height"`
	} `mapstructure:"state_sync"`
	Checkpoints struct {
		IntervalBlocks  int64    `mapstructure:"interval_blocks"`
		IntervalSeconds int64    `mapstructure:"interval_seconds"`
		Witnesses       []string `mapstructure:"witnesses"`
	} `mapstructure:"checkpoints"`
	API struct {
		RESTLaddr     string   `mapstructure:"rest_laddr"`
		GRPCLaddr     string   `mapstructure:"grpc_laddr"`
		CORSOrigins   []string `mapstructure:"cors_origins"`
		MaxBodyBytes  int64    `mapstructure:"max_body_bytes"`
		ReadRateLimit float64  `mapstructure:"read_rate_limit"`
		ReadRateBurst int      `mapstructure:"read_rate_burst"`
	} `mapstructure:"api"`
}

// defaults lists every configuration key; AutomaticEnv and Unmarshal only
// see keys that have a default.
var defaults = map[string]any{
	"home":                             defaultHome(),
	"chain_id":                         "",
	"node":                             "http://127.0.0.1:1317",
	"keyring_backend":                  "file",
	"passphrase_file":                  "",
	"output":                           "text",
	"log.level":                        "info",
	"log.comet_level":                  "error",
	"log.format":                       "text",
	"rpc.laddr":                        "",
	"p2p.laddr":                        "",
	"p2p.persistent_peers":             "",
	"p2p.seeds":                        "",
	"p2p.external_address":             "",
	"priv_validator.laddr":             "",
	"app.cache_size":                   0,
	"app.verify_on_start":              "auto",
	"app.keep_recent":                  int64(0),
	"state_sync.snapshot_interval":     int64(0),
	"state_sync.snapshot_keep_recent":  2,
	"state_sync.snapshot_chunk_height": 0,
	"checkpoints.interval_blocks":      int64(10),
	"checkpoints.interval_seconds":     int64(0),
	"checkpoints.witnesses":            []string{},
	"api.rest_laddr":                   "tcp://127.0.0.1:1317",
	"api.grpc_laddr":                   "tcp://127.0.0.1:9090",
	"api.cors_origins":                 []string{},
	"api.max_body_bytes":               int64(256 << 10),
	"api.read_rate_limit":              200.0,
	"api.read_rate_burst":              400,
}

// flagKeys maps flag names to configuration keys.
var flagKeys = map[string]string{
	"home": "home", "chain-id": "chain_id", "node": "node", "keyring-backend": "keyring_backend",
	"passphrase-file": "passphrase_file", "output": "output", "log-level": "log.level",
	"log-format": "log.format", "rpc.laddr": "rpc.laddr", "p2p.laddr": "p2p.laddr",
	"rest.laddr": "api.rest_laddr", "grpc.laddr": "api.grpc_laddr",
	"p2p.persistent-peers": "p2p.persistent_peers", "p2p.seeds": "p2p.seeds", "p2p.external-address": "p2p.external_address",
	"priv-validator-laddr": "priv_validator.laddr",
}

func defaultHome() string {
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".normledger")
	}
	return ".normledger"
}

// loadConfig merges flag > env > file > default for the running command.
func loadConfig(cmd *cobra.Command) (*Config, error) {
	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix("NORMLEDGER")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	var bindErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if key, ok := flagKeys[f.Name]; ok {
			bindErr = errors.Join(bindErr, v.BindPFlag(key, f))
		}
	})
	if bindErr != nil {
		return nil, bindErr
	}
	home := v.GetString("home")
	v.SetConfigFile(filepath.Join(home, "config", "app.toml"))
	v.SetConfigType("toml")
	if err := v.ReadInConfig(); err != nil && !errors.Is(err, os.ErrNotExist) {
		var nf viper.ConfigFileNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("read %s: %w", v.ConfigFileUsed(), err)
		}
	}
	cfg := new(Config)
	if err := v.Unmarshal(cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if cfg.Output != "text" && cfg.Output != "json" {
		return nil, fmt.Errorf("--output %q: want text or json", cfg.Output)
	}
	return cfg, nil
}

const appTomlTemplate = `# normledger settings. Precedence: command-line flags, then NORMLEDGER_*
# environment variables (NORMLEDGER_LOG_LEVEL for log.level), then this file.
# CometBFT's own settings live in config.toml next to this file.

# Chain this home belongs to.
chain_id = %q

# REST API that client commands (tx, query, verify) talk to.
node = %q

# Where member keys are kept: "file" (passphrase-encrypted) or "test"
# (unencrypted, development only).
keyring_backend = %q

# Default output of queries: "text" or "json".
output = "text"

[log]
# normledger log level: debug, info, warn, error.
level = "info"
# CometBFT's own log level.
comet_level = "error"
# text or json.
format = "text"

[rpc]
# Overrides config.toml rpc.laddr when set, e.g. "tcp://127.0.0.1:26657".
laddr = ""

[p2p]
# Override config.toml's p2p settings when set: listen address, peers to
# keep connected to (id@host:port,...), seed nodes, and the address peers
# should dial (host:port, e.g. behind NAT or a sentry).
laddr = ""
persistent_peers = ""
seeds = ""
external_address = ""

[priv_validator]
# Remote signer: listen here for a signer process holding the validator key
# (tmkms, Horcrux, normledger signer), e.g. "tcp://127.0.0.1:26659". The
# node then keeps no validator key. Overrides config.toml's
# priv_validator_laddr.
laddr = ""

[app]
# IAVL node cache size (nodes); 0 = default.
cache_size = 0
# Walk the whole application state at start to find damage: "auto" (after an
# unclean shutdown), "always" or "never".
verify_on_start = "auto"
# State versions (heights) to keep: 0 keeps every version (an archive node,
# proofs at any height); N >= 100 deletes versions older than the newest N after
# each block, which bounds the state's growth. The newest version always
# holds every record and member, so proofs at recent heights are unaffected;
# reads at a deleted height answer 404.
keep_recent = 0

[state_sync]
# Take a state-sync snapshot every N heights for joining nodes (0: none);
# keep the newest K. A joining node restores one by enabling [statesync] in
# config.toml (docs/operations.md).
snapshot_interval = 0
snapshot_keep_recent = 2

[checkpoints]
# Publish a checkpoint of the record log (docs/witnesses.md) at every state
# height that is a multiple of interval_blocks, and (if interval_seconds > 0)
# at the first height of every window of that many seconds of block time.
# Both follow the chain's own data, so every node publishes the same
# checkpoints. 0 and 0: none.
interval_blocks = 10
interval_seconds = 0
# Witnesses (C2SP tlog-witness submission URLs) to send each checkpoint to
# for cosigning; cosignatures that verify against a witness key in the
# member registry are kept and served with the checkpoint.
witnesses = []

[api]
# REST (grpc-gateway) and gRPC listeners; "" disables a server.
rest_laddr = "tcp://127.0.0.1:1317"
grpc_laddr = "tcp://127.0.0.1:9090"
# Browser origins allowed to call the REST API ("*" for any).
cors_origins = []
# Largest accepted request body, bytes (413 beyond).
max_body_bytes = 262144
# GET requests per second per client address, and burst (429 beyond); 0 disables.
read_rate_limit = 200
read_rate_burst = 400
`

func writeAppToml(home, chainID, node, backend string) error {
	path := filepath.Join(home, "config", "app.toml")
	return os.WriteFile(path, []byte(fmt.Sprintf(appTomlTemplate, chainID, node, backend)), 0o644)
}

// LoadCometConfig reads config/config.toml of home into a CometBFT config.
func LoadCometConfig(home string) (*cmtcfg.Config, error) {
	cfg := cmtcfg.DefaultConfig()
	path := filepath.Join(home, "config", "config.toml")
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s not found: run `normledger init --home %s` first", path, home)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := v.Unmarshal(cfg); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	cfg.SetRoot(home)
	if err := cfg.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
