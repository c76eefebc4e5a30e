package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/spf13/cobra"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/client/keyring"
	nlexamples "github.com/normledger/normledger/examples"
	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/node"
)

// Manifest orders example record files: who signs each and under which name
// its id is kept for the placeholders of later files.
type Manifest struct {
	Steps []struct {
		File      string   `json:"file"`
		From      string   `json:"from"`
		CoSigners []string `json:"co_signers"`
		SaveAs    string   `json:"save_as"`
	} `json:"steps"`
}

// seedExamples submits the example records of dir (in manifest.json order)
// through c, signing with keys from kr, and returns the ids by save_as name.
func seedExamples(ctx context.Context, c *client.Client, kr *keyring.Keyring, dir fs.FS, log io.Writer) (map[string]string, error) {
	bz, err := fs.ReadFile(dir, "manifest.json")
	if err != nil {
		return nil, fmt.Errorf("examples: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(bz, &m); err != nil {
		return nil, fmt.Errorf("examples manifest: %w", err)
	}
	ids := map[string]string{}
	for _, s := range m.Steps {
		raw, err := fs.ReadFile(dir, s.File)
		if err != nil {
			return ids, fmt.Errorf("examples: %w", err)
		}
		rec, err := parseRecord(s.File, raw, ids, time.Now())
		if err != nil {
			return ids, err
		}
		signer, co, err := signers(kr, s.From, s.CoSigners)
		if err != nil {
			return ids, err
		}
		res, err := c.Submit(ctx, rec, signer, co, true)
		if err != nil {
			return ids, fmt.Errorf("%s: %w", s.File, err)
		}
		if res.Rejected() {
			return ids, fmt.Errorf("%s: rejected: %s (code %d): %s", s.File, res.Code, res.Code, res.Log)
		}
		fmt.Fprintf(log, "  %-26s by %-12s -> %s (height %d)\n", s.File, s.From, res.ID, res.Height)
		ids[s.SaveAs] = res.ID
	}
	return ids, nil
}

const devMarker = ".normledger-dev"

func devCmd(e *env) *cobra.Command {
	var examples string
	var keep bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a single-validator development ledger with the example records committed",
		Long: `dev initialises a development chain in ./.normledger-dev (or --home), starts
the node, submits every example record (examples/records, built into the
binary; --examples DIR reads another directory) as signed transactions,
copies the example files to <home>/examples for your own submissions, prints
how to query them, and runs until Ctrl-C. Each run starts
from a fresh chain unless --keep is given; it only ever wipes a directory it
created itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("home") && os.Getenv("NORMLEDGER_HOME") == "" {
				e.cfg.Home = ".normledger-dev"
			}
			home, err := filepath.Abs(e.cfg.Home)
			if err != nil {
				return err
			}
			e.cfg.Home = home
			e.cfg.KeyringBackend = keyring.BackendTest
			initialised := exists(filepath.Join(home, "config", "config.toml"))
			if initialised && !keep {
				if !exists(filepath.Join(home, devMarker)) {
					return fmt.Errorf("refusing to wipe %s: it was not created by `normledger dev` (use --keep or another --home)", home)
				}
				// Not under a node (or a tool) that works on it: the
				// home's lock says whether one does.
				lock, err := node.LockHome(home, "dev")
				if err != nil {
					return err
				}
				err = os.RemoveAll(home)
				lock.Release()
				if err != nil {
					return err
				}
				initialised = false
			}
			rpcAddr := "tcp://127.0.0.1:26657"
			if e.cfg.RPC.Laddr != "" {
				rpcAddr = e.cfg.RPC.Laddr
			}
			p2pAddr := "tcp://127.0.0.1:26656"
			if e.cfg.P2P.Laddr != "" {
				p2pAddr = e.cfg.P2P.Laddr
			}
			if !initialised {
				_, err := e.initHome("normledger-dev", "dev", 3, func(c *cmtcfg.Config) {
					c.RPC.ListenAddress = rpcAddr
					c.P2P.ListenAddress = p2pAddr
					c.P2P.PexReactor = false
					c.Consensus.TimeoutCommit = 500 * time.Millisecond
				})
				if err != nil {
					return err
				}
				if err := atomicfile.WriteFile(filepath.Join(home, devMarker), []byte("created by normledger dev\n"), 0o644); err != nil {
					return err
				}
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			ncfg, err := e.nodeConfig()
			if err != nil {
				return err
			}
			n, err := node.New(ncfg)
			if err != nil {
				return err
			}
			if err := n.Start(); err != nil {
				return errors.Join(err, n.Stop())
			}
			defer n.Stop()
			e.cfg.Node = "http://" + n.RESTAddress()
			c, err := e.client()
			if err != nil {
				return err
			}
			if _, err := c.WaitHeight(ctx, 2); err != nil {
				return err
			}
			kr, err := e.keyring()
			if err != nil {
				return err
			}
			existing, err := c.Records(ctx, nil)
			if err != nil {
				return err
			}
			var ids map[string]string
			src, from := nlexamples.Records(), "the examples built into this binary"
			if examples != "" {
				src, from = os.DirFS(examples), examples
			}
			// The files the printed hints submit, wherever dev runs.
			copied := filepath.Join(home, "examples")
			if err := copyExamples(src, copied); err != nil {
				return err
			}
			if len(existing.Records) == 0 {
				fmt.Fprintf(e.out, "submitting example records from %s:\n", from)
				if ids, err = seedExamples(ctx, c, kr, src, e.out); err != nil {
					return err
				}
			}
			printDevHelp(e.out, home, copied, n.CometConfig().RPC.ListenAddress, n.RESTAddress(), ids)
			<-ctx.Done()
			fmt.Fprintln(e.out, "stopping")
			return nil
		},
	}
	cmd.Flags().StringVar(&examples, "examples", "", "directory of example records with manifest.json (default: the examples built into the binary)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the existing dev chain instead of starting fresh")
	cmd.Flags().String("rpc.laddr", "", "CometBFT RPC listen address (default tcp://127.0.0.1:26657)")
	cmd.Flags().String("p2p.laddr", "", "CometBFT P2P listen address (default tcp://127.0.0.1:26656)")
	cmd.Flags().String("rest.laddr", "tcp://127.0.0.1:1317", "REST API listen address")
	cmd.Flags().String("grpc.laddr", "tcp://127.0.0.1:9090", "gRPC API listen address")
	return cmd
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// progName is how the user invoked us, for the printed commands.
func progName() string {
	if exe, err := os.Executable(); err == nil && strings.Contains(exe, "go-build") {
		return "go run ./cmd/normledger"
	}
	return "normledger"
}

// copyExamples writes the example files of src into dir (created); a file
// already there is kept (with --keep it may hold the user's edits).
func copyExamples(src fs.FS, dir string) error {
	return fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if exists(dst) {
			return nil
		}
		bz, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return atomicfile.WriteFile(dst, bz, 0o644)
	})
}

func printDevHelp(w io.Writer, home, examples, rpc, rest string, ids map[string]string) {
	p := progName()
	rel := home
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, home); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
	}
	fmt.Fprintf(w, "\nnormledger dev chain is running (home %s, CometBFT RPC %s).\n", rel, rpc)
	if len(ids) > 0 {
		fmt.Fprintf(w, "%d example records committed. Query them from another terminal:\n\n", len(ids))
	}
	fmt.Fprintf(w, "  %s query records --home %s\n", p, rel)
	fmt.Fprintf(w, "  %s query records --kind incident_disclosure --sector health --home %s\n", p, rel)
	if id, ok := ids["pledge"]; ok {
		fmt.Fprintf(w, "  %s query record %s --home %s -o json\n", p, id, rel)
	}
	fmt.Fprintf(w, "  %s query members --home %s\n", p, rel)
	ack := filepath.Join(examples, "acknowledgement.json")
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, ack); err == nil && !strings.HasPrefix(r, "..") {
			ack = r
		}
	}
	fmt.Fprintf(w, "  %s tx submit --from xcc --file %s --var notification=%s --home %s\n",
		p, ack, ids["notification"], rel)
	if rest != "" {
		u := "http://" + rest
		fmt.Fprintf(w, "\nREST API %s (OpenAPI at %s/openapi.json):\n\n", u, u)
		fmt.Fprintf(w, "  curl -s %s/v1/status\n", u)
		fmt.Fprintf(w, "  curl -s '%s/v1/records?kind=incident_disclosure&sector=health'\n", u)
		if id, ok := ids["pledge"]; ok {
			fmt.Fprintf(w, "  curl -s '%s/v1/records/%s?prove=true'\n", u, id)
		}
	}
	fmt.Fprintf(w, "\nPress Ctrl-C to stop.\n")
}
