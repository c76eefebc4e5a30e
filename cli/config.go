package cli

import (
	"errors"

	"fmt"
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
