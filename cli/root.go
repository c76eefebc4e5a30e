package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/normledger/normledger/app"
	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/ledger"
)

// lastConfig is the configuration the last command ran with (for tests).
var lastConfig *Config

// Version is set at build time with -ldflags "-X github.com/normledger/normledger/cli.Version=...".
var Version = "dev"

// Exit statuses of the normledger command.
const (
	ExitOK       = 0
	ExitError    = 1 // usage, configuration, I/O or network failure
	ExitRejected = 2 // the ledger rejected the transaction (its result code is printed)
	ExitNotFound = 3 // the queried record or member does not exist
	// ExitUpgradeNeeded: start stopped (or refused to start) because the
	// next block needs a software upgrade this binary lacks; the message
	// names it. A supervisor switches binaries on it.
	ExitUpgradeNeeded = 6
)

// ExitError carries an exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode maps an error returned by Execute to a process exit status.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var un *ledger.UpgradeNeededError
	if errors.As(err, &un) {
		return ExitUpgradeNeeded
	}
	return ExitError
}

// env is what every command shares: merged config and output streams.
type env struct {
	cfg *Config
	out io.Writer
	err io.Writer
	in  io.Reader
}

// NewRootCmd builds the normledger command tree.
func NewRootCmd(out, errOut io.Writer, in io.Reader) *cobra.Command {
	e := &env{out: out, err: errOut, in: in}
	root := &cobra.Command{
		Use:           "normledger",
		Short:         "normledger: a verifiable ledger of cyber-norms compliance records",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			e.cfg = cfg
			lastConfig = cfg
			return nil
		},
	}
	root.SetOut(out)
	root.SetErr(errOut)
	pf := root.PersistentFlags()
	pf.String("home", defaultHome(), "node and keyring directory (env NORMLEDGER_HOME)")
	pf.String("log-level", "info", "log level: debug, info, warn, error")
	pf.String("log-format", "text", "log format: text or json")
	pf.StringP("output", "o", "text", "output format: text or json")
	pf.String("node", "http://127.0.0.1:1317", "REST API of the node client commands talk to")
	pf.String("keyring-backend", keyring.BackendFile, "keyring backend: file (encrypted) or test (unencrypted, dev only)")
	pf.String("passphrase-file", "", "read key passphrases from this file instead of prompting (env NORMLEDGER_KEYRING_PASSPHRASE also works)")
	root.AddCommand(
		initCmd(e), startCmd(e), devCmd(e), keysCmd(e), txCmd(e), govCmd(e), queryCmd(e), verifyCmd(e), openCmd(e), monitorCmd(e), auditCmd(e), versionCmd(e),
		genesisCmd(e), signerCmd(e), witnessCmd(e), exportCmd(e), importCmd(e), caseCmd(e), discloseCmd(e), snapshotCmd(e), rollbackCmd(e),
	)
	return root
}

// Execute runs the CLI with os.Args and returns the process exit status.
// extra adds command trees from packages above cli (testnet).
func Execute(ctx context.Context, extra ...*cobra.Command) int {
	root := NewRootCmd(os.Stdout, os.Stderr, os.Stdin)
	root.AddCommand(extra...)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
	}
	return ExitCode(err)
}

func versionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if e.cfg.Output == "json" {
				return printJSON(e.out, map[string]any{"version": Version, "app_version": app.AppVersion, "schema_version": ledger.CurrentSchemaVersion})
			}
			fmt.Fprintf(e.out, "normledger %s (app protocol %d, record schema %d)\n", Version, app.AppVersion, ledger.CurrentSchemaVersion)
			return nil
		},
	}
}
