package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/rpc/client/local"

	"github.com/normledger/normledger/app"
	"github.com/normledger/normledger/ledger/store"
	"github.com/normledger/normledger/node/api"
)

// Config is everything a node process needs; cli builds it from flags,
// environment and config/app.toml.
type Config struct {
	Home string
	// Comet is CometBFT's configuration (cli.LoadCometConfig reads it from
	// <home>/config/config.toml).
	Comet *cmtcfg.Config
	// RPCListen and P2PListen override config.toml's rpc.laddr and p2p.laddr when set.
	RPCListen string
	P2PListen string
	// LogLevel applies to normledger; CometLogLevel to CometBFT's own logs.
	LogLevel      string
	CometLogLevel string
	LogFormat     string
	LogOutput     io.Writer
	// AppCacheSize is the IAVL node cache size; 0 means the default.
	AppCacheSize int
	// AppVerify says when to walk the whole application state at start:
	// "auto" (after an unclean shutdown), "always" or "never".
	AppVerify string
	// AppKeepRecent > 0 keeps only the newest AppKeepRecent state versions;
	// 0 keeps every version (an archive node).
	AppKeepRecent int64
	Version       string
	// API configures the REST and gRPC servers (empty listen addresses disable them).
	API api.Config
}

// Node is a running (or ready to run) normledger process.
type Node struct {
	cfg   Config
	log   *slog.Logger
	comet *cmtnode.Node
	st    *store.Store
	app   *app.App
	ccfg  *cmtcfg.Config
	api   *api.Servers
}

// New assembles a node from an initialised home. It opens the state
// database; if the database is damaged it fails here, before consensus.
func New(cfg Config) (*Node, error) {
	if cfg.LogOutput == nil {
		cfg.LogOutput = os.Stderr
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	if cfg.CometLogLevel == "" {
		cfg.CometLogLevel = "error"
	}
	log, err := NewLogger(cfg.LogOutput, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	clog, err := NewLogger(cfg.LogOutput, cfg.LogFormat, cfg.CometLogLevel)
	if err != nil {
		return nil, err
	}
	if cfg.Comet == nil {
		return nil, fmt.Errorf("node config: no CometBFT configuration for %s", cfg.Home)
	}
	ccfg := cfg.Comet
	if cfg.RPCListen != "" {
		ccfg.RPC.ListenAddress = cfg.RPCListen
	}
	if cfg.P2PListen != "" {
		ccfg.P2P.ListenAddress = cfg.P2PListen
	}
	st, err := store.Open(filepath.Join(cfg.Home, "data"), store.Options{CacheSize: cfg.AppCacheSize, Verify: cfg.AppVerify, KeepRecent: cfg.AppKeepRecent,
		Logger: log.With("module", "store")})
	if err != nil {
		return nil, fmt.Errorf("application state: %w", err)
	}
	a, err := app.New(st, app.Options{Logger: log.With("module", "app"), Clock: time.Now, Version: cfg.Version})
	if err != nil {
		st.Close()
		return nil, err
	}
	nodeKey, err := p2p.LoadNodeKey(ccfg.NodeKeyFile())
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("node key: %w", err)
	}
	pv := privval.LoadFilePV(ccfg.PrivValidatorKeyFile(), ccfg.PrivValidatorStateFile())
	cn, err := cmtnode.NewNode(ccfg, pv, nodeKey, proxy.NewLocalClientCreator(a),
		cmtnode.DefaultGenesisDocProviderFunc(ccfg), cmtcfg.DefaultDBProvider,
		cmtnode.DefaultMetricsProvider(ccfg.Instrumentation), cometLogger{clog.With("module", "cometbft")})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	return &Node{cfg: cfg, log: log, comet: cn, st: st, app: a, ccfg: ccfg}, nil
}

// Start starts consensus and the RPC server.
func (n *Node) Start() error {
	if err := n.comet.Start(); err != nil {
		return fmt.Errorf("start cometbft: %w", err)
	}
	if n.cfg.API.RESTListen != "" || n.cfg.API.GRPCListen != "" {
		acfg := n.cfg.API
		acfg.Logger = n.log.With("module", "api")
		svc := api.NewServer(n.st, local.New(n.comet), n.comet.BlockStore().Height, n.cfg.Version)
		s, err := api.Start(acfg, svc)
		if err != nil {
			n.comet.Stop()
			n.comet.Wait()
			return err
		}
		n.api = s
	}
	n.log.Info("node started", "home", n.cfg.Home, "chain_id", n.comet.GenesisDoc().ChainID,
		"rpc", n.ccfg.RPC.ListenAddress, "p2p", n.ccfg.P2P.ListenAddress, "rest", n.RESTAddress(),
		"grpc", n.GRPCAddress(), "height", n.st.Version())
	return nil
}

// RESTAddress is the REST listener (host:port), or "" if disabled.
func (n *Node) RESTAddress() string {
	if n.api == nil {
		return ""
	}
	return n.api.RESTAddr()
}

// GRPCAddress is the gRPC listener (host:port), or "" if disabled.
func (n *Node) GRPCAddress() string {
	if n.api == nil {
		return ""
	}
	return n.api.GRPCAddr()
}

// Stop stops consensus, waits for it, and closes the state database.
func (n *Node) Stop() error {
	var errs []error
	if n.api != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, n.api.Stop(ctx))
		cancel()
		n.api = nil
	}
	if n.comet.IsRunning() {
		if err := n.comet.Stop(); err != nil {
			errs = append(errs, err)
		}
		n.comet.Wait()
	}
	if err := n.st.Close(); err != nil {
		errs = append(errs, err)
	}
	n.log.Info("node stopped", "height", n.st.Version())
	return errors.Join(errs...)
}

// Comet exposes the CometBFT node (for in-process clients in tests and tools).
func (n *Node) Comet() *cmtnode.Node { return n.comet }

// Store exposes the application state.
func (n *Node) Store() *store.Store { return n.st }

// CometConfig is the effective CometBFT configuration.
func (n *Node) CometConfig() *cmtcfg.Config { return n.ccfg }

// Run starts a node and stops it when ctx is done (SIGINT/SIGTERM in the CLI).
func Run(ctx context.Context, cfg Config) error {
	n, err := New(cfg)
	if err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		n.st.Close()
		return err
	}
	<-ctx.Done()
	n.log.Info("shutting down", "reason", context.Cause(ctx))
	return n.Stop()
}
