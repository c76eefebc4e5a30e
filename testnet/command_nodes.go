package testnet

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status [DIR]",
		Short: "Heights, app hashes and peers of every node",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nw, err := load(args)
			if err != nil {
				return err
			}
			st := nw.Status(cmd.Context())
			w := cmd.OutOrStdout()
			if output(cmd) == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tSTATE\tPID\tHEIGHT\tAPP HASH\tPEERS\tREST")
			for _, s := range st {
				hash := s.AttestedHash
				if len(hash) > 16 {
					hash = hash[:16] + "…"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%s\n", s.Name, s.State, s.PID, s.Height, hash, s.Peers, s.REST)
			}
			return tw.Flush()
		},
	}
}

func stopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stop [DIR]",
		Short: "Stop every node (SIGTERM, then SIGKILL after 20 s)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nw, err := load(args)
			if err != nil {
				return err
			}
			return stopAll(nw)
		},
	}
}

func nodeArgs(args []string) (*Network, NodeInfo, error) {
	nw, err := load(args[:1])
	if err != nil {
		return nil, NodeInfo{}, err
	}
	n, err := nw.Node(args[1])
	return nw, n, err
}

func signalCmd(name, short string, fn func(NodeInfo) error) *cobra.Command {
	return &cobra.Command{
		Use:   name + " DIR NODE",
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, n, err := nodeArgs(args)
			if err != nil {
				return err
			}
			if err := fn(n); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", n.Name, name)
			return nil
		},
	}
}

func restartCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "restart DIR NODE",
		Short: "Stop a node (if running) and start it again",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			nw, n, err := nodeArgs(args)
			if err != nil {
				return err
			}
			if _, err := RestartNode(nw.Dir, n); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: restarted (log %s)\n", n.Name, LogFile(n))
			return nil
		},
	}
}

func resetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reset DIR NODE",
		Short: "Wipe a stopped node's chain and application data so it resyncs from its peers",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, n, err := nodeArgs(args)
			if err != nil {
				return err
			}
			if err := ResetNode(n); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: data wiped; start it to resync\n", n.Name)
			return nil
		},
	}
}
