package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// loadRecord reads a record JSON file (protojson of Record; the body key
// names the kind, e.g. "pledge": {...}) after expanding placeholders.
func loadRecord(path string, vars map[string]string, now time.Time) (*pb.Record, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseRecord(path, raw, vars, now)
}

// parseRecord is loadRecord of a file's content (path names it in errors).
func parseRecord(path string, raw []byte, vars map[string]string, now time.Time) (*pb.Record, error) {
	bz, err := expand(raw, vars, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rec := new(pb.Record)
	if err := protojson.Unmarshal(bz, rec); err != nil {
		return nil, fmt.Errorf("%s: not a record: %w", path, err)
	}
	if ledger.KindOf(rec) == pb.RecordKind_RECORD_KIND_UNSPECIFIED {
		return nil, fmt.Errorf("%s: no record body: name the kind as a key, e.g. \"notification\": {...}", path)
	}
	if rec.SchemaVersion == 0 {
		rec.SchemaVersion = ledger.CurrentSchemaVersion
	}
	return rec, nil
}

// loadRecordWithVars is loadRecord with the --var NAME=VALUE flags, now.
func loadRecordWithVars(path string, vars []string) (*pb.Record, error) {
	vm, err := parseVars(vars)
	if err != nil {
		return nil, err
	}
	return loadRecord(path, vm, time.Now())
}

func signers(kr *keyring.Keyring, from string, co []string) (ledger.Signer, []ledger.Signer, error) {
	s, err := kr.Signer(from)
	if err != nil {
		return ledger.Signer{}, nil, err
	}
	var cs []ledger.Signer
	for _, n := range co {
		c, err := kr.Signer(n)
		if err != nil {
			return ledger.Signer{}, nil, err
		}
		cs = append(cs, c)
	}
	return s, cs, nil
}

func txCmd(e *env) *cobra.Command {
	tx := &cobra.Command{Use: "tx", Short: "Sign and submit records"}
	var from, file, mode string
	var co, vars []string
	var generateOnly bool
	submit := &cobra.Command{
		Use:   "submit --from KEY --file RECORD.json",
		Short: "Sign a record with a keyring key and submit it",
		Long: `submit reads a record (protojson of normledger.v1.Record; the body key names
the kind, e.g. {"schema_version": 1, "notification": {...}}), fills in the
chain id, the signer's next sequence and client_time if absent, signs it with
--from (and --co-signer keys, for joint pledges) and broadcasts it.

Placeholders ${name}, ${now}, ${now+72h}, ${now-3d} are expanded first;
give names with --var name=VALUE.

In commit mode it returns once the block after the record's exists, so the
record can be queried and verified at once.

Exit status: 0 committed (or accepted, with --broadcast-mode sync),
2 rejected by the ledger (its result code is printed), 1 other failures.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rec, err := loadRecordWithVars(file, vars)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return e.coSignAndSend(ctx, from, co, rec, generateOnly, mode)
		},
	}
	f := submit.Flags()
	f.StringVar(&from, "from", "", "keyring key that signs (required)")
	f.StringVar(&file, "file", "", "record JSON file (required)")
	f.StringArrayVar(&co, "co-signer", nil, "additional keyring key that co-signs (repeatable; joint pledges)")
	f.StringArrayVar(&vars, "var", nil, "placeholder value NAME=VALUE (repeatable)")
	f.StringVar(&mode, "broadcast-mode", "commit", "commit (wait for the block) or sync (return after CheckTx)")
	f.BoolVar(&generateOnly, "generate-only", false, "print the signed tx (base64) instead of broadcasting it")
	_ = submit.MarkFlagRequired("from")
	_ = submit.MarkFlagRequired("file")
	var salt string
	commitment := &cobra.Command{
		Use:   "commitment --file RECORD.json [--salt BASE64]",
		Short: "Compute the commitment a Sealed record carries",
		Long: `commitment prints SHA-256("normledger/v1/seal" 0x00 || salt || canonical(body))
in base64, the value of sealed.commitment. Given a reveal record it uses the
reveal's salt and body; given any other record it uses that record as the
body and --salt (base64, 16-64 bytes) as the salt.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rec, err := loadRecordWithVars(file, vars)
			if err != nil {
				return err
			}
			body, s := rec, []byte(nil)
			if rv := rec.GetReveal(); rv != nil {
				body, s = rv.Body, rv.Salt
			} else if s, err = base64.StdEncoding.DecodeString(salt); err != nil {
				return fmt.Errorf("--salt: %w", err)
			}
			if len(s) < ledger.MinSaltLen || len(s) > ledger.MaxSaltLen {
				return fmt.Errorf("salt must be %d to %d bytes", ledger.MinSaltLen, ledger.MaxSaltLen)
			}
			c, err := ledger.SealCommitment(s, body)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, base64.StdEncoding.EncodeToString(c))
			return nil
		},
	}
	commitment.Flags().StringVar(&file, "file", "", "record JSON file (required)")
	commitment.Flags().StringVar(&salt, "salt", "", "salt, base64 (not needed for a reveal file)")
	commitment.Flags().StringArrayVar(&vars, "var", nil, "placeholder value NAME=VALUE (repeatable)")
	_ = commitment.MarkFlagRequired("file")
	tx.AddCommand(submit, commitment)
	tx.AddCommand(sealTxCmds(e)...)
	tx.AddCommand(directoryTxCmds(e)...)
	return tx
}

func (e *env) printResult(res client.Result) error {
	if e.cfg.Output == "json" {
		if err := printJSON(e.out, map[string]any{"id": res.ID, "code": uint32(res.Code), "codespace": ledger.Codespace,
			"code_name": res.Code.String(), "log": res.Log, "height": res.Height, "committed": res.Committed}); err != nil {
			return err
		}
	} else if res.Rejected() {
		fmt.Fprintf(e.out, "rejected: %s (code %d): %s\n", res.Code, res.Code, res.Log)
	} else if res.Committed {
		fmt.Fprintf(e.out, "committed record %s at height %d\n", res.ID, res.Height)
	} else {
		fmt.Fprintf(e.out, "accepted into the mempool: record %s\n", res.ID)
	}
	if res.Rejected() {
		return &exitError{code: ExitRejected, err: fmt.Errorf("ledger rejected the transaction: %s (code %d)", res.Code, res.Code)}
	}
	return nil
}
