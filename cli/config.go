package cli

import (
	"errors"

	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
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
		// TLSCertFile and TLSKeyFile (PEM): REST serves HTTPS and gRPC
		// TLS when both are set.
		TLSCertFile string `mapstructure:"tls_cert_file"`
		TLSKeyFile  string `mapstructure:"tls_key_file"`
		// TrustedProxies (IPs or CIDRs) may set X-Forwarded-For and
		// X-Forwarded-Proto; nobody else's are believed.
		TrustedProxies []string `mapstructure:"trusted_proxies"`
		// MetricsLaddr serves /metrics on a listener of its own (and not
		// on the REST port) when set.
		MetricsLaddr string `mapstructure:"metrics_laddr"`
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
	"api.tls_cert_file":                "",
	"api.tls_key_file":                 "",
	"api.trusted_proxies":              []string{},
	"api.metrics_laddr":                "",
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
	if err := unknownKeys(v.ConfigFileUsed()); err != nil {
		return nil, err
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

// unknownKeys refuses an app.toml that sets a key normledger does not know
// (a typo would otherwise be ignored, and its default used in silence).
// A missing file is fine: every key has its default.
func unknownKeys(path string) error {
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil // reported (or a missing file accepted) by the caller's read
	}
	var settings map[string]any
	if err := toml.Unmarshal(bz, &settings); err != nil {
		return nil // the caller's read reports the syntax error
	}
	unknown := unknownIn("", settings)
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	msgs := make([]string, len(unknown))
	for i, k := range unknown {
		msgs[i] = fmt.Sprintf("%q", k)
		if near := nearestKey(k); near != "" {
			msgs[i] += fmt.Sprintf(" (did you mean %q?)", near)
		}
	}
	return fmt.Errorf("%s: unknown key %s: remove it or correct its name (docs/operations.md lists every key)", path, strings.Join(msgs, ", "))
}

// unknownIn lists the keys of settings (a decoded TOML table, paths
// joined with ".", lower case as viper reads them) that are no key, and
// the empty tables that are no section, normledger knows.
func unknownIn(prefix string, settings map[string]any) []string {
	var out []string
	for k, v := range settings {
		path := prefix + strings.ToLower(k)
		if m, ok := v.(map[string]any); ok {
			if len(m) > 0 {
				out = append(out, unknownIn(path+".", m)...)
				continue
			}
			known := false
			for d := range defaults {
				known = known || strings.HasPrefix(d, path+".")
			}
			if !known {
				out = append(out, path)
			}
			continue
		}
		if _, ok := defaults[path]; !ok {
			out = append(out, path)
		}
	}
	return out
}

// nearestKey is the known key closest to k by edit distance, if it is
// close enough to be a typo (at most a third of k's length).
func nearestKey(k string) string {
	best, bestD := "", len(k)/3+1
	for known := range defaults {
		if d := editDistance(k, known); d < bestD || (d == bestD && best != "" && known < best) {
			best, bestD = known, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
