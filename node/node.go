package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cs "github.com/cometbft/cometbft/consensus"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/rpc/client/local"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/normledger/normledger/app"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	"github.com/normledger/normledger/node/api"
)

// Config is everything a node process needs; cli builds it from flags,
// environment and config/app.toml.
type Config struct {
	Home string
	// Comet is CometBFT's configuration (operator.LoadCometConfig reads it from
	// <home>/config/config.toml).
	Comet *cmtcfg.Config
	// RPCListen and P2PListen override config.toml's rpc.laddr and p2p.laddr when set.
	RPCListen string
	P2PListen string
	// PersistentPeers, Seeds and ExternalAddress override config.toml's
	// p2p settings when set (id@host:port lists, host:port).
	PersistentPeers string
	Seeds           string
	ExternalAddress string
	// PrivValidatorListen, when set, overrides config.toml's
	// priv_validator_laddr: the node listens there for a remote signer
	// (CometBFT's privval socket protocol: tmkms, Horcrux, `normledger
	// signer`) and keeps no validator key of its own.
	PrivValidatorListen string
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
	// Snapshots configures state-sync snapshots.
	Snapshots SnapshotConfig
	// Checkpoints configures the record log's checkpoints and the
	// witnesses they go to.
	Checkpoints CheckpointConfig
	// API configures the REST and gRPC servers (empty listen addresses disable them).
	API api.Config
}

// Node is a running (or ready to run) normledger process.
type Node struct {
	cfg         Config
	log         *slog.Logger
	comet       *cmtnode.Node
	st          *store.Store
	app         *app.App
	ccfg        *cmtcfg.Config
	api         *api.Servers
	snaps       *Snapshots
	checkpoints *Checkpoints
	metrics     *LedgerMetrics
	// upgrade receives the software upgrade the next block needs, when
	// this binary lacks it (see app.Options.UpgradeNeeded).
	upgrade chan *ledger.UpgradeNeededError
	// lock is the home's lock (LockHome), held until Stop.
	lock *HomeLock
}

// UpgradeNeeded receives, once, the software upgrade this binary lacks
// when the next block needs it; Run stops the node on it.
func (n *Node) UpgradeNeeded() <-chan *ledger.UpgradeNeededError { return n.upgrade }

// New assembles a node from an initialised home. It opens the state
// database; if the database is damaged it fails here, before consensus.
// It takes the home's lock (LockHome) for the node's whole run, so it
// fails at once on a home another normledger process uses, and refuses a
// home where a restore or a rollback was interrupted (CheckInterrupted).
func New(cfg Config) (_ *Node, err error) {
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
	lock, err := LockHome(cfg.Home, "node")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Release()
		}
	}()
	if err := CheckInterrupted(cfg.Home); err != nil {
		return nil, err
	}
	ccfg := cfg.Comet
	if cfg.RPCListen != "" {
		ccfg.RPC.ListenAddress = cfg.RPCListen
	}
	if cfg.P2PListen != "" {
		ccfg.P2P.ListenAddress = cfg.P2PListen
	}
	if cfg.PersistentPeers != "" {
		ccfg.P2P.PersistentPeers = cfg.PersistentPeers
	}
	if cfg.Seeds != "" {
		ccfg.P2P.Seeds = cfg.Seeds
	}
	if cfg.ExternalAddress != "" {
		ccfg.P2P.ExternalAddress = cfg.ExternalAddress
	}
	if cfg.PrivValidatorListen != "" {
		ccfg.PrivValidatorListenAddr = cfg.PrivValidatorListen
	}
	st, err := store.Open(filepath.Join(cfg.Home, "data"), store.Options{CacheSize: cfg.AppCacheSize, Verify: cfg.AppVerify, KeepRecent: cfg.AppKeepRecent,
		Logger: log.With("module", "store"), CrashPoint: crashPoint(os.Getenv("NORMLEDGER_TEST_CRASH"), log),
		UncheckedLog: os.Getenv("NORMLEDGER_TEST_UNCHECKED_LOG") == "1"}) // fault tests only
	if err != nil {
		return nil, fmt.Errorf("application state: %w", err)
	}
	scfg := cfg.Snapshots
	if scfg.Fault == "" {
		scfg.Fault = os.Getenv("NORMLEDGER_TEST_SNAPSHOT_FAULT") // fault tests only
	}
	snaps, err := NewSnapshots(scfg, st, filepath.Join(cfg.Home, "data"), log.With("module", "snapshots"))
	if err != nil {
		st.Close()
		return nil, err
	}
	cps, err := NewCheckpoints(cfg.Checkpoints, st, filepath.Join(cfg.Home, "data"), log.With("module", "checkpoints"))
	if err != nil {
		st.Close()
		return nil, err
	}
	upgrade := make(chan *ledger.UpgradeNeededError, 1)
	a, err := app.New(st, app.Options{Logger: log.With("module", "app"), Clock: time.Now, Version: cfg.Version, Snapshots: snaps,
		UpgradeNeeded: func(e *ledger.UpgradeNeededError) {
			select {
			case upgrade <- e:
			default:
			}
		}})
	if err != nil {
		st.Close()
		return nil, err
	}
	nodeKey, err := p2p.LoadNodeKey(ccfg.NodeKeyFile())
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("node key: %w", err)
	}
	// With a remote signer CometBFT replaces the key with a socket client;
	// a node that is no validator still needs a key file (it signs nothing).
	var pv cmttypes.PrivValidator
	if ccfg.PrivValidatorListenAddr == "" {
		pv = privval.LoadOrGenFilePV(ccfg.PrivValidatorKeyFile(), ccfg.PrivValidatorStateFile())
	} else {
		log.Info("waiting for the remote signer", "priv_validator_laddr", ccfg.PrivValidatorListenAddr)
	}
	metrics := NewLedgerMetrics(st)
	cn, err := cmtnode.NewNode(ccfg, pv, nodeKey, proxy.NewConnSyncLocalClientCreator(metrics.Wrap(a)),
		cmtnode.DefaultGenesisDocProviderFunc(ccfg), shutdownSafeDBProvider,
		cmtnode.DefaultMetricsProvider(ccfg.Instrumentation), cometLogger{clog.With("module", "cometbft")})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	metrics.setBlockHeight(cn.BlockStore().Height)
	return &Node{cfg: cfg, log: log, comet: cn, st: st, app: a, ccfg: ccfg, snaps: snaps, checkpoints: cps, metrics: metrics, upgrade: upgrade, lock: lock}, nil
}

// Start starts consensus and the RPC server.
func (n *Node) Start() error {
	if err := n.comet.Start(); err != nil {
		return fmt.Errorf("start cometbft: %w", err)
	}
	if n.cfg.API.RESTListen != "" || n.cfg.API.GRPCListen != "" || n.cfg.API.MetricsListen != "" {
		acfg := n.cfg.API
		acfg.Logger = n.log.With("module", "api")
		// Not ready while a state-sync snapshot is restored, nor when far
		// behind its peers (CometBFT's catching_up covers only the initial
		// block sync or state sync).
		acfg.Restoring = n.snaps.Restoring
		acfg.Lag = n.peerLag
		// The ledger metrics join the API's own on /metrics.
		acfg.Collectors = append(append([]prometheus.Collector(nil), acfg.Collectors...), n.metrics)
		svc := api.NewServer(n.st, local.New(n.comet), n.comet.BlockStore().Height, n.cfg.Version)
		svc.SetCheckpoints(n.checkpoints)
		if bz, err := os.ReadFile(n.cfg.Comet.GenesisFile()); err == nil {
			svc.SetGenesisFile(bz) // served as it is, so its hash is the genesis hash
		}
		s, err := api.Start(acfg, svc)
		if err != nil {
			n.comet.Stop()
			n.comet.Wait()
			return err
		}
		n.api = s
	}
	n.checkpoints.Start(local.New(n.comet), n.comet.GenesisDoc().ChainID)
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
	// The API stops taking requests at once, but CometBFT stops while it
	// drains the ones in flight: a BroadcastTx in commit mode waits for a
	// block that a stopping node will never make, and returns only when
	// CometBFT stops (or after its own commit timeout).
	apiStopped := make(chan error, 1)
	if n.api != nil {
		api := n.api
		n.api = nil
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			apiStopped <- api.Stop(ctx)
		}()
	} else {
		apiStopped <- nil
	}
	if n.comet.IsRunning() {
		if err := n.comet.Stop(); err != nil {
			errs = append(errs, err)
		}
		n.comet.Wait()
	}
	errs = append(errs, <-apiStopped)
	n.snaps.Close()
	n.checkpoints.Close()
	if err := n.st.Close(); err != nil {
		errs = append(errs, err)
	}
	n.lock.Release()
	n.log.Info("node stopped", "height", n.st.Version())
	return errors.Join(errs...)
}

// Comet exposes the CometBFT node (for in-process clients in tests and tools).
func (n *Node) Comet() *cmtnode.Node { return n.comet }

// Metrics is the node's ledger metrics collector (served on REST /metrics).
func (n *Node) Metrics() *LedgerMetrics { return n.metrics }

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
	// The blocks CometBFT replayed at start may have reached an upgrade
	// height: then do not join consensus at all.
	select {
	case un := <-n.upgrade:
		n.log.Error("not starting: " + un.Error())
		n.snaps.Close()
		n.checkpoints.Close()
		err := n.st.Close()
		n.lock.Release()
		// For a supervisor (cosmovisor): which upgrade, at which height.
		return errors.Join(un, err, WriteUpgradeInfo(n.cfg.Home, un))
	default:
	}
	if err := n.Start(); err != nil {
		n.snaps.Close()
		n.checkpoints.Close()
		n.st.Close()
		n.lock.Release()
		return err
	}
	select {
	case <-ctx.Done():
		n.log.Info("shutting down", "reason", context.Cause(ctx))
		return n.Stop()
	case un := <-n.upgrade:
		// Everything up to the block before the upgrade is committed; stop
		// before the block that needs the new binary. Not at once: peers
		// that have not yet seen enough precommits for that block learn
		// them from this node's consensus reactor (it sends a lagging peer
		// its last commit), and a validator that stopped right after
		// committing could strand them one block short of the upgrade, the
		// chain halted with no node able to finish the height.
		n.log.Error("stopping for a software upgrade: "+un.Error(), "height", n.st.Version())
		n.awaitPeersAt(ctx, un.Plan.GetHeight(), upgradeGrace)
		// upgrade-info.json only once stopped: cosmovisor kills the process
		// as soon as it sees the file (unless DAEMON_SHUTDOWN_GRACE is set),
		// which would cut the wait above and the clean stop short.
		err := n.Stop()
		return errors.Join(un, err, WriteUpgradeInfo(n.cfg.Home, un))
	}
}

// peerLag is how many heights the connected peers have committed beyond
// this node. A peer's consensus state is at the height it works on, so it
// has committed the one before. The height a peer announces is its own
// word: with three peers or more the second highest counts, so that one
// peer claiming a height far ahead cannot keep this node out of rotation.
func (n *Node) peerLag() int64 {
	ours := n.comet.BlockStore().Height()
	var first, second int64
	peers := 0
	for _, p := range n.comet.Switch().Peers().List() {
		ps, ok := p.Get(cmttypes.PeerStateKey).(*cs.PeerState)
		if !ok {
			continue
		}
		if ps.GetHeight() <= 0 {
			continue // no height announced yet (just connected, or syncing)
		}
		peers++
		switch h := ps.GetHeight() - 1; {
		case h > first:
			first, second = h, first
		case h > second:
			second = h
		}
	}
	best := first
	if peers >= 3 {
		best = second
	}
	return max(best-ours, 0)
}

// upgradeGrace bounds how long a node that must stop for an upgrade waits
// for its peers to commit the block before it.
const upgradeGrace = 10 * time.Second

// awaitPeersAt waits until every connected peer works on height h or later
// (so has committed h-1), for at most grace or until ctx ends.
func (n *Node) awaitPeersAt(ctx context.Context, h int64, grace time.Duration) {
	deadline := time.Now().Add(grace)
	var behind []string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		behind = behind[:0]
		for _, p := range n.comet.Switch().Peers().List() {
			if ps, ok := p.Get(cmttypes.PeerStateKey).(*cs.PeerState); ok && ps.GetHeight() < h {
				behind = append(behind, fmt.Sprintf("%s at %d", p.ID(), ps.GetHeight()))
			}
		}
		if len(behind) == 0 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	n.log.Warn("stopping for the upgrade with peers still short of its height", "height", h, "peers", strings.Join(behind, ", "))
}

// crashPoint is the fault tests' kill switch inside the commit path
// (NORMLEDGER_TEST_CRASH=log-partial|log-flushed|state-saved, like
// CometBFT's FAIL_TEST_INDEX): the process exits at the first commit that
// reaches the named point with records to write. Empty: nil.
func crashPoint(name string, log *slog.Logger) func(string) {
	if name == "" {
		return nil
	}
	return func(point string) {
		if point == name {
			log.Error("crash point reached: exiting", "point", point)
			os.Exit(3)
		}
	}
}
