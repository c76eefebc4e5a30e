package node

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/node/genesis"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Home layout (CometBFT's, plus ours):
//
//	config/config.toml      CometBFT settings
//	config/app.toml         normledger settings (read by cli)
//	config/genesis.json     genesis; app_state is a GenesisState in protojson
//	config/node_key.json, config/priv_validator_key.json
//	data/                   CometBFT stores, data/appstate.db (IAVL state)
//	keyring/                member keys (client/keyring)

// InitOptions describe a new node home.
type InitOptions struct {
	Home    string
	Moniker string
	// Comet, when set, adjusts the default CometBFT config before it is written.
	Comet func(*cmtcfg.Config)
	// NoValidatorKey leaves out priv_validator_key.json: for a node that
	// does not validate, or whose key lives in a remote signer.
	NoValidatorKey bool
}

// InitHome creates config.toml, the node key and the validator key in a new
// home, and returns the validator's public key. It refuses to overwrite an
// existing config.
func InitHome(o InitOptions) (*cmtcfg.Config, error) {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(o.Home)
	if _, err := os.Stat(filepath.Join(o.Home, "config", "config.toml")); err == nil {
		return nil, fmt.Errorf("%s is already initialised (config/config.toml exists)", o.Home)
	}
	if err := os.MkdirAll(filepath.Join(o.Home, "config"), 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(o.Home, "data"), 0o700); err != nil {
		return nil, err
	}
	if o.Moniker != "" {
		cfg.Moniker = o.Moniker
	}
	// Our own REST and gRPC edges serve transactions by id; CometBFT's kv
	// indexer roughly halves throughput, so it is off by default.
	cfg.TxIndex.Indexer = "null"
	cfg.Instrumentation.Prometheus = false
	if o.Comet != nil {
		o.Comet(cfg)
	}
	if err := cfg.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := SaveCometConfig(o.Home, cfg); err != nil {
		return nil, err
	}
	if !o.NoValidatorKey {
		privval.LoadOrGenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	}
	if _, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile()); err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	return cfg, nil
}

// ValidatorPubKey reads the validator public key of a home.
func ValidatorPubKey(cfg *cmtcfg.Config) (cmttypes.GenesisValidator, error) {
	pv := privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	pk, err := pv.GetPubKey()
	if err != nil {
		return cmttypes.GenesisValidator{}, err
	}
	return cmttypes.GenesisValidator{Address: pk.Address(), PubKey: pk, Power: 10, Name: cfg.Moniker}, nil
}

// WriteGenesis writes genesis.json with the given validators and app state.
func WriteGenesis(path, chainID string, genesisTime time.Time, vals []cmttypes.GenesisValidator, gs *pb.GenesisState) error {
	doc, err := genesis.NewDoc(chainID, genesisTime, vals, gs)
	if err != nil {
		return err
	}
	return genesis.WriteGenesis(path, doc)
}

// SaveCometConfig writes cfg as home's config/config.toml, replacing the
// file atomically (CometBFT's WriteConfigFile renders it; it writes in
// place).
func SaveCometConfig(home string, cfg *cmtcfg.Config) error {
	path := filepath.Join(home, "config", "config.toml")
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".config-toml-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rendered := filepath.Join(tmp, "config.toml")
	cmtcfg.WriteConfigFile(rendered, cfg)
	bz, err := os.ReadFile(rendered)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, bz, 0o644)
}
