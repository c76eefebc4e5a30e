package testnet

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/normledger/normledger/cli/operator"
	"github.com/spf13/cobra"
)

// Apps a network's nodes can run.
const (
	AppNormledger = "normledger"
	// AppKVStore is CometBFT's own abci/example/kvstore application: the
	// baseline the benchmarks compare normledger with, on the same
	// consensus configuration.
	AppKVStore = "kvstore"
)

// kvstoreNodeCmd runs one CometBFT node with the kvstore example app in
// process, reading the same home layout as a normledger node.
func kvstoreNodeCmd() *cobra.Command {
	var home string
	cmd := &cobra.Command{
		Use:    "kvstore-node --home DIR",
		Short:  "Run a CometBFT node with the kvstore example application (benchmark baseline)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := operator.LoadCometConfig(home)
			if err != nil {
				return err
			}
			return runKVStore(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&home, "home", "", "node home")
	return cmd
}

func runKVStore(ctx context.Context, cfg *cmtcfg.Config) error {
	app := kvstore.NewPersistentApplication(filepath.Join(cfg.RootDir, "data", "kvstore"))
	nodeKey, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return err
	}
	pv := privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	logger := cmtlog.NewFilter(cmtlog.NewTMLogger(cmtlog.NewSyncWriter(os.Stderr)), cmtlog.AllowError())
	n, err := cmtnode.NewNode(cfg, pv, nodeKey, proxy.NewLocalClientCreator(app),
		cmtnode.DefaultGenesisDocProviderFunc(cfg), cmtcfg.DefaultDBProvider,
		cmtnode.DefaultMetricsProvider(cfg.Instrumentation), logger)
	if err != nil {
		return fmt.Errorf("kvstore node: %w", err)
	}
	if err := n.Start(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	if err := n.Stop(); err != nil {
		return err
	}
	n.Wait()
	fmt.Fprintln(os.Stderr, "node stopped")
	return nil
}
