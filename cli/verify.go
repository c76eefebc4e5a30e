package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/normledger/normledger/internal/atomicfile"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/checkpoint"
	"github.com/normledger/normledger/verifiers/remote"
)

// ExitUnverified: the answer could not be verified (tampering, bad proof,
// header not signed by enough validators, witnesses disagree).
const ExitUnverified = 4

type trustFlags struct {
	height  int64
	hash    string
	genesis string
	period  time.Duration
	store   string
}

func (t *trustFlags) add(cmd *cobra.Command, withStore bool) {
	f := cmd.Flags()
	f.Int64Var(&t.height, "trust-height", 0, "height of a header you trust")
	f.StringVar(&t.hash, "trust-hash", "", "hash (hex) of the header at --trust-height")
	f.StringVar(&t.genesis, "genesis", "", "trust the chain's first block as signed by this genesis file's validators")
	f.DurationVar(&t.period, "trust-period", remote.DefaultTrustPeriod, "trusting period of the light client")
	if withStore {
		f.StringVar(&t.store, "trust-store", "", "light client trust store directory (default <home>/light); later runs may omit the trust flags")
	}
}

func (t *trustFlags) root(ctx context.Context, src remote.LightBlockSource) (remote.TrustRoot, error) {
	return remote.RootSpec{GenesisFile: t.genesis, Height: t.height, Hash: t.hash, Period: t.period}.Root(ctx, src)
}

func verifyExit(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, remote.ErrAbsent):
		return &exitError{code: ExitNotFound, err: err}
	case errors.Is(err, verifiers.ErrVerification):
		return &exitError{code: ExitUnverified, err: err}
	}
	return err
}

func (e *env) printVerified(v *remote.Verified, err error) {
	if e.cfg.Output == "json" {
		out := map[string]any{"verified": err == nil || errors.Is(err, remote.ErrAbsent)}
		if v != nil {
			out["result"] = v
		}
		if errors.Is(err, remote.ErrAbsent) {
			out["absent"] = true
		} else if err != nil {
			out["error"] = err.Error()
		}
		_ = printJSON(e.out, out)
		return
	}
	switch {
	case errors.Is(err, remote.ErrAbsent):
		fmt.Fprintf(e.out, "VERIFIED ABSENT: record %s does not exist at height %d (app hash %s in header %s)\n", v.RecordID, v.Height, v.AppHash, v.HeaderHash)
	case err != nil:
		fmt.Fprintf(e.out, "NOT VERIFIED: %v\n", err)
	default:
		fmt.Fprintf(e.out, "VERIFIED: %s record %s by %s (signers %s), committed at height %d (%s)\n",
			v.Kind, v.RecordID, v.Author, strings.Join(v.Signers, ", "), v.RecordHeight, v.BlockTime.UTC().Format(time.RFC3339))
		fmt.Fprintf(e.out, "  proven at state height %d: app hash %s in header %s, header verified by the light client\n", v.Height, v.AppHash, v.HeaderHash)
		if v.LogSize > 0 {
			fmt.Fprintf(e.out, "  record log entry %d of %d (log root %s)\n", v.LogIndex, v.LogSize, v.LogRoot)
		}
		if len(v.Cosigners) > 0 {
			fmt.Fprintf(e.out, "  covered by a checkpoint cosigned by %s (witness quorum met)\n", strings.Join(v.Cosigners, ", "))
		}
		if v.LogConsistent {
			fmt.Fprintln(e.out, "  the log is consistent with the newest one this trust store accepted before (no history rewritten)")
		}
		for _, f := range v.Flags {
			fmt.Fprintf(e.out, "  WARNING (proven): %s\n", flagText(f))
		}
		if !v.FlagsChecked {
			fmt.Fprintln(e.out, "  note: this bundle carries no member entries at the answer's height, so key-compromise warnings were not checked")
		}
	}
}

// verifyOnline verifies record id (in either case) with the light-client
// verifier against --node and the --witness nodes, under the witness policy
// in policyFile, within two minutes. verdict is the outcome for
// printVerified and verifyExit (nil, remote.ErrAbsent or a
// verifiers.ErrVerification); err is any other failure, which ends the
// command.
func (e *env) verifyOnline(ctx context.Context, id string, witnesses []string, tf *trustFlags, policyFile string) (res *remote.Verified, b *remote.Bundle, verdict, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	policy, err := loadPolicy(policyFile)
	if err != nil {
		return nil, nil, nil, err
	}
	res, b, verdict = e.recordVerified(ctx, strings.ToLower(id), witnesses, tf, policy)
	if verdict != nil && !errors.Is(verdict, remote.ErrAbsent) && !errors.Is(verdict, verifiers.ErrVerification) {
		return nil, nil, nil, verdict
	}
	return res, b, verdict, nil
}

// recordVerified verifies record id as verifyOnline does, given the policy.
func (e *env) recordVerified(ctx context.Context, id string, witnesses []string, tf *trustFlags, policy *checkpoint.Policy) (*remote.Verified, *remote.Bundle, error) {
	v, done, err := e.verifier(ctx, witnesses, tf, policy)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	return v.Record(ctx, id)
}

// verifier is a Verifier of --node's answers whose light client starts
// from the trust root of tf and cross-checks headers with witnesses; done
// closes its trust store.
func (e *env) verifier(ctx context.Context, witnesses []string, tf *trustFlags, policy *checkpoint.Policy) (*remote.Verifier, func(), error) {
	c, err := e.client()
	if err != nil {
		return nil, nil, err
	}
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, nil, err
	}
	root, err := tf.root(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	primary := remote.NewProvider(chainID, c.Base(), c)
	var ws []*remote.Provider
	for _, w := range witnesses {
		wc, err := client.New(w)
		if err != nil {
			return nil, nil, err
		}
		ws = append(ws, remote.NewProvider(chainID, wc.Base(), wc))
	}
	dir := tf.store
	if dir == "" {
		dir = filepath.Join(e.cfg.Home, "light")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	lc, err := remote.NewLightClient(ctx, chainID, primary, ws, root, dir)
	if err != nil {
		return nil, nil, err
	}
	return &remote.Verifier{API: c, Light: lc, ChainID: chainID, Policy: policy}, func() { lc.Close() }, nil
}

func (e *env) printVerifiedEvidence(v *remote.VerifiedEvidence, err error) {
	if e.cfg.Output == "json" {
		out := map[string]any{"verified": err == nil}
		if v != nil {
			out["result"] = v
		}
		if err != nil {
			out["error"] = err.Error()
		}
		_ = printJSON(e.out, out)
		return
	}
	if err != nil {
		fmt.Fprintf(e.out, "NOT VERIFIED: %v\n", err)
		return
	}
	member := "no member holds that validator key"
	if v.Member != "" {
		member = "run by member " + v.Member
	}
	fmt.Fprintf(e.out, "VERIFIED: evidence %s: %s by validator %s (%s, power %d of %d) at height %d (%s), committed at height %d\n",
		v.ID, enum.Short(pb.MisbehaviorType(0).Descriptor(), v.Type), v.ValidatorAddress, member, v.ValidatorPower, v.TotalPower,
		v.MisbehaviorAt, v.MisbehaviorTime.UTC().Format(time.RFC3339), v.CommittedHeight)
	fmt.Fprintf(e.out, "  proven at state height %d: app hash %s in header %s, header verified by the light client\n", v.Height, v.AppHash, v.HeaderHash)
	if v.Member != "" {
		fmt.Fprintf(e.out, "  member %s's entry holding that validator key proven at height %d (the state the committing block built on)\n", v.Member, v.MemberHeight)
	}
}

func writeBundle(path string, b *remote.Bundle) error {
	bz, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(bz, '\n'), 0o644)
}

func verifyCmd(e *env) *cobra.Command {
	v := &cobra.Command{Use: "verify", Short: "Verify answers without trusting the node that gave them"}
	var witnesses []string
	var bundleOut, policyFile, bundlePolicy, disclosuresFile string
	tf := &trustFlags{}
	record := &cobra.Command{
		Use:   "record ID",
		Short: "Fetch a record with proofs and verify it against light-client-verified headers",
		Long: `verify record asks --node for the record with ICS23 proofs, verifies the
header that commits to the answer with CometBFT's light client (from a trust
root, cross-checked against every --witness), checks the proofs, and checks
every signature against member keys proven at the record's height.

With --disclosures FILE (the values an order delivered to you, or that you
filed), it then checks each value against its salted digest in the verified
record and prints which withheld fields are proven and which stay closed;
one value that does not open its digest fails the verification.

Trust root: --trust-height and --trust-hash, or --genesis FILE, or a trust
store from an earlier run (--trust-store, default <home>/light).

Exit status: 0 verified; 3 verified absent (a non-membership proof); 4 not
verified (the reason is printed); 1 other errors (network, usage).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, b, verdict, err := e.verifyOnline(cmd.Context(), args[0], witnesses, tf, policyFile)
			if err != nil {
				return err
			}
			if disclosuresFile != "" && verdict == nil {
				return e.verifyDisclosed(res, b, disclosuresFile)
			}
			e.printVerified(res, verdict)
			if bundleOut != "" && b != nil {
				if werr := writeBundle(bundleOut, b); werr != nil {
					return werr
				}
			}
			return verifyExit(verdict)
		},
	}
	record.Flags().StringArrayVar(&witnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable, at least one)")
	record.Flags().StringVar(&bundleOut, "bundle-out", "", "also write an offline evidence bundle here")
	record.Flags().StringVar(&policyFile, "witness-policy", "", "accept the answer only if a checkpoint cosigned by a quorum of these witnesses covers it (docs/witnesses.md)")
	record.Flags().StringVar(&disclosuresFile, "disclosures", "", "also check these disclosures (a DisclosureBundle JSON file) against the verified record's digests; they are read locally and sent nowhere")
	tf.add(record, true)

	btf := &trustFlags{}
	bundle := &cobra.Command{
		Use:   "bundle FILE",
		Short: "Check an offline evidence bundle (no network)",
		Long: `verify bundle re-checks an evidence bundle written by query record --bundle
or verify record --bundle-out: the chain of signed headers from the trust root
(--trust-height/--trust-hash, or --genesis), the proofs and the signatures.
Without a trust root it only checks that the bundle is internally consistent,
and says so. Exit status as for verify record.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bz, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			b := new(remote.Bundle)
			if err := json.Unmarshal(bz, b); err != nil {
				return &exitError{code: ExitUnverified, err: fmt.Errorf("%w: not a bundle: %v", verifiers.ErrVerification, err)}
			}
			root, err := btf.root(cmd.Context(), bundleSource{b})
			if err != nil {
				if errors.Is(err, verifiers.ErrVerification) {
					e.printVerified(nil, err)
				}
				return verifyExit(err)
			}
			if root.Height == 0 && len(root.Hash) == 0 {
				fmt.Fprintln(e.err, "warning: no trust root given; checking internal consistency only")
			}
			policy, err := loadPolicy(bundlePolicy)
			if err != nil {
				return err
			}
			res, err := remote.VerifyBundlePolicy(b, root, policy)
			e.printVerified(res, err)
			return verifyExit(err)
		},
	}
	btf.add(bundle, false)
	bundle.Flags().StringVar(&bundlePolicy, "witness-policy", "", "require the bundle's checkpoint to carry a quorum of these witnesses' cosignatures")
	var evWitnesses []string
	etf := &trustFlags{}
	evidence := &cobra.Command{
		Use:   "evidence ID",
		Short: "Fetch evidence of validator misbehaviour with proofs and verify it",
		Long: `verify evidence asks --node for evidence ID ("<committed height>-<index>",
as listed by query evidence) with its ICS23 proof, verifies the header that
commits to the answer with the light client (trust root and witnesses as for
verify record), checks the proof, and, when the evidence names a member,
proves that member's entry and checks it held the validator key in the state
the committing block built on.

Exit status: 0 verified; 4 not verified (the reason is printed); 1 other
errors (network, usage, unknown id).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			v, done, err := e.verifier(ctx, evWitnesses, etf, nil)
			if err != nil {
				return err
			}
			defer done()
			res, err := v.Evidence(ctx, args[0])
			if err != nil && !errors.Is(err, verifiers.ErrVerification) {
				return err
			}
			e.printVerifiedEvidence(res, err)
			return verifyExit(err)
		},
	}
	evidence.Flags().StringArrayVar(&evWitnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable, at least one)")
	etf.add(evidence, true)
	rtf := &trustFlags{}
	receipt := verifyReceiptCmd(e, rtf)
	rtf.add(receipt, true)
	v.AddCommand(record, bundle, evidence, receipt)
	v.AddCommand(verifyDirectoryCmds(e)...)
	v.AddCommand(verifyCaseCmd(e), verifyOrderCmd(e), verifyStatementCmd(e))
	return v
}

// bundleSource serves a bundle's own light blocks, so --genesis works offline.
type bundleSource struct{ b *remote.Bundle }

func (s bundleSource) LightBlock(_ context.Context, height int64) (*types.LightBlock, error) {
	for _, bz := range s.b.LightBlocks {
		p := new(cmtproto.LightBlock)
		if err := p.Unmarshal(bz); err != nil {
			return nil, err
		}
		if p.SignedHeader != nil && p.SignedHeader.Header != nil && p.SignedHeader.Header.Height == height {
			return types.LightBlockFromProto(p)
		}
	}
	return nil, fmt.Errorf("bundle has no header at height %d", height)
}

// loadPolicy reads a witness policy file ("" : none).
func loadPolicy(path string) (*checkpoint.Policy, error) {
	if path == "" {
		return nil, nil
	}
	bz, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := checkpoint.ParsePolicy(string(bz))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
