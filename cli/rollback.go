package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/node"
)

// rollbackCmd is `normledger rollback [--hard]`: CometBFT's and the
// application's state of a stopped node back by one height
// (node/rollback.go), as `cometbft rollback` and the Cosmos SDK's
// `rollback` do.
func rollbackCmd(e *env) *cobra.Command {
	var hard bool
	cmd := &cobra.Command{
		Use:   "rollback [--hard]",
		Short: "Roll the stopped node at --home back by one height (CometBFT's state and the application's)",
		Long: `A rollback recovers a node whose application computed a wrong state for the
newest block N (an app-hash mismatch after a non-deterministic binary, or a bad
binary at an upgrade), so that it halts or cannot follow the chain. It takes
CometBFT's state from height N back to N-1, as 'cometbft rollback' does, and the
application's state (the state, its record log, its content index, its commit
marker) back to the same height; the state-sync snapshots and log checkpoints
above it are removed. Block N stays in the block store: start the node again,
with the fixed binary, and CometBFT replays block N into the application, which
then computes the state after N again.

With --hard, block N is removed as well and the node gets it again from its
peers. A validator never signs twice at a height it signed (its
priv_validator_state.json): on a chain where its vote is needed for block N (a
single validator), no one makes block N again.

If CometBFT stopped after storing block N but before saving its state, that
pending block is what is dropped (the state and the application go to N-1).
The node must be stopped: a home whose databases a running node holds is
refused, and the command holds the home's lock (data/normledger.lock) while it
runs, so that the node cannot start meanwhile. Run it as the user who owns the
home's data directory (the node's user, e.g. sudo -u normledger normledger
rollback ...): it refuses to run as another user, whose files the node could not
open. The application's state at N-1 must still be kept ([app] keep_recent
keeps the newest versions; a state-synced node cannot go below the height it
was restored at) and must be the chain's (the header of block N says so).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ccfg, err := operator.LoadCometConfig(e.cfg.Home)
			if err != nil {
				return err
			}
			res, err := node.Rollback(e.cfg.Home, node.RollbackOptions{Comet: ccfg, Hard: hard,
				AppKeepRecent: e.cfg.App.KeepRecent, AppVerify: e.cfg.App.VerifyOnStart})
			if err != nil {
				return err
			}
			if e.cfg.Output == "json" {
				return printJSON(e.out, res)
			}
			// The first line is CometBFT's own.
			if res.RemovedBlock > 0 {
				fmt.Fprintf(e.out, "Rolled back both state and block to height %d and hash %s\n", res.Height, res.AppHash)
			} else {
				fmt.Fprintf(e.out, "Rolled back state to height %d and hash %s\n", res.Height, res.AppHash)
			}
			fmt.Fprintf(e.out, "  CometBFT state: height %d -> %d\n", res.CometFrom, res.Height)
			if res.RemovedBlock > 0 {
				fmt.Fprintf(e.out, "  block store: height %d -> %d (block %d removed)\n", res.BlocksFrom, res.BlocksTo, res.RemovedBlock)
			} else {
				fmt.Fprintf(e.out, "  block store: height %d (kept)\n", res.BlocksTo)
			}
			if res.AppFrom > res.Height {
				fmt.Fprintf(e.out, "  application state: height %d -> %d (app hash %s -> %s), record log %d -> %d entries\n",
					res.AppFrom, res.Height, res.AppFromHash, res.AppHash, res.LogFrom, res.LogTo)
			} else {
				fmt.Fprintf(e.out, "  application state: already at height %d (app hash %s)\n", res.Height, res.AppHash)
			}
			if len(res.RemovedSnapshots) > 0 {
				fmt.Fprintf(e.out, "  removed state-sync snapshots of heights %v\n", res.RemovedSnapshots)
			}
			if len(res.RemovedCheckpoints) > 0 {
				fmt.Fprintf(e.out, "  removed log checkpoints of heights %v\n", res.RemovedCheckpoints)
			}
			switch {
			case res.BlocksTo > res.Height:
				fmt.Fprintf(e.out, "start the node (with the fixed binary): CometBFT replays block %d into the application, then follows the chain\n", res.BlocksTo)
			default:
				fmt.Fprintf(e.out, "start the node: it gets block %d from its peers\n", res.Height+1)
				if res.SignedHeight > res.Height {
					fmt.Fprintf(e.out, "note: this validator's signing state (priv_validator_state.json) is at height %d: it will not sign block %d again (double-sign protection); only the other validators can make it\n",
						res.SignedHeight, res.Height+1)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&hard, "hard", false, "remove the last block from the block store as well as the state")
	return cmd
}
