package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/ledger/store"
	"github.com/normledger/normledger/node"
)

// snapshotCmd is `normledger snapshot export|restore|verify`: an offline
// export of the application state of a stopped node into one
// self-verifying file, and its restore (node/backup.go).
func snapshotCmd(e *env) *cobra.Command {
	sc := &cobra.Command{Use: "snapshot", Short: "Export the application state of a stopped node to a file, verify one, restore one",
		Long: `An export holds the application state at one height as a state-sync snapshot
(the manifest and chunks peers serve each other), with the chain id, the height,
the app hash, and a SHA-256 over the whole file. The node must be stopped: both
commands refuse a home whose databases a running node holds, and hold the home's
lock (data/normledger.lock) while they run, so that the node cannot start
meanwhile. Run them as the user who owns the home's data directory (the node's
user, e.g. sudo -u normledger normledger snapshot ...): both refuse to run as
another user, whose files the node could not open.

A restore puts the application state back under the node's own CometBFT data
(blocks, consensus state and the validator's signing state are not in the
export and are not touched). It verifies the file's SHA-256, the manifest's
tree against the app hash, the app hash against the header of block HEIGHT+1
in the home's block store (or CometBFT's state when the store ends at HEIGHT;
if neither has it, the restore is refused, see --unverified), every chunk, and
the restored tree's root; only then does the restored state replace the home's,
which must be empty (see --force). On its next start the node replays its
stored blocks after HEIGHT into the restored state.

The replacement runs under data/restore-in-progress: a failure puts the previous
state back; after a crash midway the node refuses to start, and running the same
restore again first undoes the interrupted one, then restores.

A backup of a whole node is a copy of its stopped home (config/ with the node
and validator keys, data/ with CometBFT's data and the application's): see
docs/operations.md.`}
	var out string
	var height int64
	var chunkHeight int
	export := &cobra.Command{
		Use:   "export --out FILE [--height H]",
		Short: "Write the application state of the stopped node at --home to FILE",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out FILE is required")
			}
			if err := node.CheckChunkHeight(chunkHeight); err != nil {
				return fmt.Errorf("--chunk-height: %w", err)
			}
			ccfg, err := operator.LoadCometConfig(e.cfg.Home)
			if err != nil {
				return err
			}
			res, err := node.ExportStateFile(e.cfg.Home, out, node.ExportOptions{Height: height, ChunkHeight: chunkHeight, Comet: ccfg})
			if err != nil {
				return err
			}
			if e.cfg.Output == "json" {
				return printJSON(e.out, map[string]any{"file": out, "chain_id": res.ChainID, "height": res.Height, "app_hash": res.AppHash,
					"snapshot_format": res.SnapshotFormat, "chunks": res.Chunks, "bytes": res.Bytes, "sha256": res.SHA256})
			}
			fmt.Fprintf(e.out, "exported the state of chain %s at height %d (app hash %s) to %s\n%d chunks, %d bytes, sha256 %s\n",
				res.ChainID, res.Height, res.AppHash, out, res.Chunks, res.Bytes, res.SHA256)
			return nil
		},
	}
	export.Flags().StringVarP(&out, "out", "f", "", "file to write (replaced atomically); -o is the output format, as everywhere")
	export.Flags().Int64Var(&height, "height", 0, "height to export (default: the latest; an older one must still be kept, see [app] keep_recent)")
	export.Flags().IntVar(&chunkHeight, "chunk-height", 0, fmt.Sprintf("bound on a chunk's subtree height, %d to %d (default %d, the state-sync chunk size); a chunk over %d MiB fails the export",
		node.MinChunkHeight, node.MaxChunkHeight, store.DefaultChunkHeight, node.MaxExportFrame>>20))

	var force, unverified bool
	restore := &cobra.Command{
		Use:   "restore FILE [--force] [--unverified]",
		Short: "Restore an export into the stopped node at --home, whose application state is empty",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ccfg, err := operator.LoadCometConfig(e.cfg.Home)
			if err != nil {
				return err
			}
			rep, err := node.RestoreState(e.cfg.Home, args[0], node.RestoreOptions{Comet: ccfg, Force: force, Unverified: unverified})
			if err != nil {
				return err
			}
			if e.cfg.Output == "json" {
				return printJSON(e.out, rep)
			}
			if rep.Undone != "" {
				fmt.Fprintf(e.out, "first, %s\n", rep.Undone)
			}
			fmt.Fprintf(e.out, "restored the state of chain %s at height %d (app hash %s) into %s\n", rep.ChainID, rep.Height, rep.AppHash, e.cfg.Home)
			for _, c := range rep.Checks {
				fmt.Fprintf(e.out, "  verified: %s\n", c)
			}
			switch rep.AppHashSource {
			case "block_store", "comet_state":
			default:
				fmt.Fprintf(e.out, "  NOT checked against the home's chain (--unverified): %s; the node must be re-synced\n", rep.Unchecked)
			}
			if rep.MovedAside != "" {
				fmt.Fprintf(e.out, "the previous application state is in %s (remove it once the node runs)\n", rep.MovedAside)
			}
			if rep.CometHeight > rep.Height {
				fmt.Fprintf(e.out, "start the node: it replays blocks %d to %d into the restored state, then follows the chain\n", rep.Height+1, rep.CometHeight)
			} else {
				fmt.Fprintln(e.out, "start the node: it follows the chain from here")
			}
			return nil
		},
	}
	restore.Flags().BoolVar(&force, "force", false, "restore over existing application state, moving it aside into data/app-state-<time>/ (moved back if the restore fails)")
	restore.Flags().BoolVar(&unverified, "unverified", false, "restore even though the export's app hash cannot be checked against the home's chain (no block HEIGHT+1 in its block store, CometBFT's state not at HEIGHT or gone): only for a home whose CometBFT data is gone and that will be re-synced; the chain id is checked either way")

	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check an export on its own (SHA-256, manifest against its app hash, every chunk), touching no home",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := node.VerifyExport(args[0])
			if err != nil {
				return err
			}
			if e.cfg.Output == "json" {
				return printJSON(e.out, map[string]any{"file": args[0], "chain_id": res.ChainID, "height": res.Height, "app_hash": res.AppHash,
					"snapshot_format": res.SnapshotFormat, "chunks": res.Chunks, "bytes": res.Bytes, "sha256": res.SHA256})
			}
			fmt.Fprintf(e.out, "%s: a whole export of chain %s at height %d (app hash %s): %d chunks rebuild a tree whose root is the app hash\nsha256 %s\n",
				args[0], res.ChainID, res.Height, res.AppHash, res.Chunks, res.SHA256)
			return nil
		},
	}
	sc.AddCommand(export, restore, verify)
	return sc
}
