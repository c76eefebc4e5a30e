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

	"filippo.io/age"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/remote"
)

// Sealed records to named recipients (docs/sealed.md): encryption keys,
// sealing, receipts, opening, and re-checking a proven mismatch.

func keysEncryptionCmds(e *env) []*cobra.Command {
	var member string
	add := &cobra.Command{
		Use:   "add-encryption NAME [--member ID]",
		Short: "Generate an age X25519 encryption identity for a member",
		Long: `add-encryption generates an age X25519 identity and stores it under NAME
(encrypted with the keyring's passphrase). Others seal notices to it once
the registry holds its recipient: propose it with
  normledger gov propose add-key MEMBER AGE_RECIPIENT
(the same vote that adds a signing key). It decrypts; it never signs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if member == "" {
				member = args[0]
			}
			kr, err := e.keyring()
			if err != nil {
				return err
			}
			info, err := kr.AddEncryption(args[0], member)
			if err != nil {
				return err
			}
			return e.printKey(info)
		},
	}
	add.Flags().StringVar(&member, "member", "", "member id the identity decrypts for (default: NAME)")
	var out string
	export := &cobra.Command{
		Use:   "export-age NAME --out FILE",
		Short: "Write an encryption identity in age's own format, for the stock age tool",
		Long: `export-age writes the identity ("AGE-SECRET-KEY-1...") to FILE with mode
0600, so that the stock tool decrypts a sealed body:
  normledger open sealed ID --ciphertext-out body.age
  age -d -i FILE body.age
The file is the private key in the clear: keep it as you keep the keyring.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := e.keyring()
			if err != nil {
				return err
			}
			id, err := kr.AgeIdentity(args[0])
			if err != nil {
				return err
			}
			return atomicfile.WriteFile(out, []byte(id+"\n"), 0o600)
		},
	}
	export.Flags().StringVar(&out, "out", "", "identity file to write (required)")
	_ = export.MarkFlagRequired("out")
	return []*cobra.Command{add, export}
}

func sealTxCmds(e *env) []*cobra.Command {
	var sf sendFlags
	var file, revealOut string
	var to, vars, witnesses []string
	var revealIn time.Duration
	var trustNode bool
	tf := &trustFlags{}
	seal := &cobra.Command{
		Use:   "seal --from KEY --to xbb,xcc --file BODY.json",
		Short: "Seal a record to named recipients: one age ciphertext for all, a commitment, receipts owed",
		Long: `seal reads a record body (as tx submit does), encrypts it once to the
registered encryption key of every --to member (age, X25519; every recipient
decrypts the same payload), and files a sealed record carrying the
commitment, the ciphertext and the recipient list. Each recipient then owes
a receipt within the chain's acknowledgement window; the author owes the
reveal by --reveal-in.

The recipients' keys are read from their member entries proven against a
header the light client verified (trust root: --genesis, --trust-height and
--trust-hash, the trust store, or this home's config/genesis.json; headers
cross-checked with every --witness), so a node cannot slip in a key of its
own and read the notice. --trust-node takes the node's word instead.

The salt and body needed to reveal it later are written to --reveal-out
(default <home>/sealed/<record id>.reveal.json, mode 0600), a reveal record
that 'tx submit' files as it is; also with --generate-only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := loadRecordWithVars(file, vars)
			if err != nil {
				return err
			}
			c, _, s, err := e.signerFor(sf.from)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			ms, err := e.recipientEntries(ctx, c, splitList(to), trustNode, witnesses, tf)
			if err != nil {
				return err
			}
			keys, err := client.RecipientKeys(ms, splitList(to))
			if err != nil {
				return err
			}
			sealed, salt, err := client.SealTo(body, keys)
			if err != nil {
				return err
			}
			sealed.RevealBy = timestamppb.New(time.Now().Add(revealIn))
			sealed.SubjectStates = splitList(to)
			raw, err := c.Sign(ctx, &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_Sealed{Sealed: sealed}}, s, nil)
			if err != nil {
				return err
			}
			id := ledger.RecordID(raw)
			path := revealOut
			if path == "" {
				path = filepath.Join(e.cfg.Home, "sealed", id+".reveal.json")
			}
			if err := writeReveal(path, id, salt, body); err != nil {
				return fmt.Errorf("keep the reveal before filing: %w", err)
			}
			fmt.Fprintf(e.err, "reveal record (salt and body) kept in %s\n", path)
			return e.sendSigned(ctx, c, raw, sf.generateOnly, sf.mode)
		},
	}
	sf.add(seal)
	seal.Flags().StringVar(&file, "file", "", "record body JSON file (required)")
	seal.Flags().StringSliceVar(&to, "to", nil, "recipient member ids (required)")
	seal.Flags().StringArrayVar(&vars, "var", nil, "placeholder value NAME=VALUE (repeatable)")
	seal.Flags().DurationVar(&revealIn, "reveal-in", 72*time.Hour, "the reveal is owed this long after now")
	seal.Flags().StringVar(&revealOut, "reveal-out", "", "where to keep the reveal record")
	seal.Flags().StringArrayVar(&witnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable)")
	seal.Flags().BoolVar(&trustNode, "trust-node", false, "take the recipients' keys from --node without proofs")
	tf.add(seal, true)
	_ = seal.MarkFlagRequired("file")
	_ = seal.MarkFlagRequired("to")

	var rf sendFlags
	var identity, statement string
	var withhold bool
	receipt := &cobra.Command{
		Use:   "receipt SEALED_ID --from KEY [--identity NAME]",
		Short: "Decrypt a sealed record addressed to you and file your receipt",
		Long: `receipt opens the sealed record with your encryption identity (--identity,
default: the keyring's identity whose key the record names), checks the body
against the commitment, and files a signed receipt saying whether it matches.

If it does not match, the receipt publishes the age file key your stanza
unwrapped to: the ledger opens the ciphertext with it and records a proven
mismatch that anyone can re-check ('verify receipt'). The file key discloses
the body to everyone; --withhold-file-key files an unproven "does not match"
instead.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			id := strings.ToLower(args[0])
			c, kr, sealed, err := e.sealedFor(ctx, id)
			if err != nil {
				return err
			}
			s, err := kr.Signer(rf.from)
			if err != nil {
				return err
			}
			ident, err := recipientKey(kr, sealed, identity, s.Member)
			if err != nil {
				return err
			}
			rc, why, err := client.Answer(id, sealed, ident, withhold)
			if err != nil {
				return err
			}
			if why != "" {
				fmt.Fprintf(e.err, "%s's receipt: the sealed record does NOT match: %s\n", s.Member, why)
			}
			if statement != "" {
				rc.Statement = statement
			}
			raw, err := c.Sign(ctx, &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_Receipt{Receipt: rc}}, s, nil)
			if err != nil {
				return err
			}
			return e.sendSigned(ctx, c, raw, rf.generateOnly, rf.mode)
		},
	}
	rf.add(receipt)
	receipt.Flags().StringVar(&identity, "identity", "", "keyring encryption identity (default: the one the record is encrypted to)")
	receipt.Flags().StringVar(&statement, "statement", "", "free text for the record")
	receipt.Flags().BoolVar(&withhold, "withhold-file-key", false, "on a mismatch, do not publish the file key (the mismatch stays unproven)")
	return []*cobra.Command{seal, receipt}
}

func openCmd(e *env) *cobra.Command {
	open := &cobra.Command{Use: "open", Short: "Decrypt what was sealed to you"}
	var identity, out, ctOut string
	sealed := &cobra.Command{
		Use:   "sealed ID [--identity NAME] [--out FILE] [--ciphertext-out FILE]",
		Short: "Decrypt a sealed record with your keyring's encryption identity and check it against the commitment",
		Long: `open sealed fetches the sealed record, decrypts its ciphertext with the
keyring's encryption identity (--identity, default: the one whose key the
record names), and prints the body (protojson) and whether it matches the
commitment. With --out the body goes to FILE (mode 0600) instead.
--ciphertext-out writes the age file itself (what 'age -d' reads); without
an identity in the keyring it then stops there.

Exit status: 0 the body matches; 4 it does not; 1 other errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			_, kr, s, err := e.sealedFor(ctx, strings.ToLower(args[0]))
			if err != nil {
				return err
			}
			if ctOut != "" {
				if err := atomicfile.WriteFile(ctOut, s.Ciphertext, 0o644); err != nil {
					return err
				}
				if identity == "" && !hasRecipientIdentity(kr, s, "") {
					fmt.Fprintf(e.out, "wrote the age file (%d bytes) to %s\n", len(s.Ciphertext), ctOut)
					return nil
				}
			}
			op, err := openWith(kr, s, identity)
			if err != nil {
				return err
			}
			var body json.RawMessage
			if op.Payload != nil {
				bz, err := protojson.Marshal(op.Payload.Body)
				if err != nil {
					return err
				}
				body = bz
			}
			if out != "" {
				if body == nil {
					return &exitError{code: ExitUnverified, err: fmt.Errorf("nothing written to %s: %s", out, op.Mismatch)}
				}
				if err := atomicfile.WriteFile(out, append(body, '\n'), 0o600); err != nil {
					return err
				}
			}
			if e.cfg.Output == "json" {
				res := map[string]any{"sealed_id": args[0], "matches": op.Mismatch == ""}
				if op.Mismatch != "" {
					res["mismatch"] = op.Mismatch
				}
				if out == "" && body != nil {
					res["body"] = body
				}
				if err := printJSON(e.out, res); err != nil {
					return err
				}
			} else {
				if op.Mismatch == "" {
					fmt.Fprintln(e.out, "MATCHES: the body is the one the sealed record commits to")
				} else {
					fmt.Fprintf(e.out, "DOES NOT MATCH: %s\n", op.Mismatch)
				}
				if out == "" && body != nil {
					fmt.Fprintln(e.out, string(body))
				}
			}
			if op.Mismatch != "" {
				return &exitError{code: ExitUnverified, err: errors.New("the sealed body does not match its commitment")}
			}
			return nil
		},
	}
	sealed.Flags().StringVar(&identity, "identity", "", "keyring encryption identity (default: the one the record is encrypted to)")
	sealed.Flags().StringVar(&out, "out", "", "write the body here (mode 0600) instead of printing it")
	sealed.Flags().StringVar(&ctOut, "ciphertext-out", "", "also write the sealed age file here")
	open.AddCommand(sealed)
	return open
}

// verifyReceiptCmd re-checks a receipt with proofs: both records verified
// against light-client-verified headers, then the published file key
// opened against the sealed ciphertext by the verifier itself.
func verifyReceiptCmd(e *env, tf *trustFlags) *cobra.Command {
	var witnesses []string
	cmd := &cobra.Command{
		Use:   "receipt ID",
		Short: "Verify a receipt and re-check the mismatch it proves, trusting no node",
		Long: `verify receipt verifies the receipt record and the sealed record it answers
(as verify record does) and, when the receipt publishes a file key, opens the
sealed ciphertext with it and checks the body against the commitment itself.

Exit status: 0 verified (a confirmation, or a mismatch proven); 4 not
verified (a proof fails, or the file key does not prove what the receipt
claims); 1 other errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			v, done, err := e.verifier(ctx, witnesses, tf, nil)
			if err != nil {
				return err
			}
			defer done()
			rtx, err := verifiedTx(ctx, v, strings.ToLower(args[0]))
			if err != nil {
				return verifyExit(err)
			}
			rc := rtx.GetBody().GetRecord().GetReceipt()
			if rc == nil {
				return &exitError{code: ExitUnverified, err: fmt.Errorf("record %s is not a receipt", args[0])}
			}
			stx, err := verifiedTx(ctx, v, rc.SealedId)
			if err != nil {
				return verifyExit(err)
			}
			sealed := stx.GetBody().GetRecord().GetSealed()
			if sealed == nil {
				return &exitError{code: ExitUnverified, err: fmt.Errorf("record %s is not sealed", rc.SealedId)}
			}
			who := rtx.GetBody().GetSigner()
			switch {
			case rc.Matches:
				fmt.Fprintf(e.out, "VERIFIED: %s confirmed that sealed record %s (by %s) decrypts to the committed body\n", who, rc.SealedId, stx.GetBody().GetSigner())
			case len(rc.FileKey) == 0:
				fmt.Fprintf(e.out, "VERIFIED: %s says sealed record %s does not match, without proof (no file key published)\n", who, rc.SealedId)
			default:
				why, err := ledger.ReceiptProof(sealed, rc)
				if err != nil {
					return &exitError{code: ExitUnverified, err: fmt.Errorf("the receipt's file key does not prove a mismatch: %w", err)}
				}
				fmt.Fprintf(e.out, "VERIFIED MISMATCH: the file key %s published opens sealed record %s (by %s), and %s\n", who, rc.SealedId, stx.GetBody().GetSigner(), why)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&witnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable, at least one)")
	return cmd
}

// signerFor is --node's client, this home's keyring and its key from.
func (e *env) signerFor(from string) (*client.Client, *keyring.Keyring, ledger.Signer, error) {
	kr, err := e.keyring()
	if err != nil {
		return nil, nil, ledger.Signer{}, err
	}
	s, err := kr.Signer(from)
	if err != nil {
		return nil, nil, ledger.Signer{}, err
	}
	c, err := e.client()
	return c, kr, s, err
}

// recipientEntries are the member entries of ids, proven against
// light-client-verified headers unless trustNode.
func (e *env) recipientEntries(ctx context.Context, c *client.Client, ids []string, trustNode bool, witnesses []string, tf *trustFlags) ([]*pb.Member, error) {
	if trustNode {
		return c.Members(ctx)
	}
	if tf.genesis == "" && tf.height == 0 {
		if g := filepath.Join(e.cfg.Home, "config", "genesis.json"); fileExists(g) {
			tf.genesis = g
		}
	}
	v, done, err := e.verifier(ctx, witnesses, tf, nil)
	if err != nil {
		return nil, fmt.Errorf("verify the recipients' keys (or --trust-node): %w", err)
	}
	defer done()
	var out []*pb.Member
	for _, id := range ids {
		m, _, err := v.Member(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("the registry entry of %s does not verify: %w", id, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// verifiedTx verifies record id (proofs against a light-client-verified
// header) and returns its signed tx, taken from the verified answer.
func verifiedTx(ctx context.Context, v *remote.Verifier, id string) (*pb.Tx, error) {
	_, b, err := v.Record(ctx, id)
	if err != nil {
		return nil, err
	}
	return bundleTx(b)
}

// bundleTx is the signed tx of the record a verification bundle holds.
func bundleTx(b *remote.Bundle) (*pb.Tx, error) {
	_, tx, err := bundleRecord(b)
	return tx, err
}

// bundleRecord is the stored record a verification bundle holds, and its
// signed tx.
func bundleRecord(b *remote.Bundle) (*pb.StoredRecord, *pb.Tx, error) {
	resp := new(pb.GetRecordResponse)
	if err := protojson.Unmarshal(b.Record, resp); err != nil {
		return nil, nil, fmt.Errorf("verified answer for %s: %w", b.RecordID, err)
	}
	tx, err := ledger.DecodeTx(resp.GetRecord().GetTx(), 0)
	return resp.GetRecord(), tx, err
}

// sealedFor is what opening and answering a sealed record start from: the
// node's client, this home's keyring, and the sealed record id.
func (e *env) sealedFor(ctx context.Context, id string) (*client.Client, *keyring.Keyring, *pb.Sealed, error) {
	c, err := e.client()
	if err != nil {
		return nil, nil, nil, err
	}
	kr, err := e.keyring()
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := fetchSealed(ctx, c, id)
	return c, kr, s, err
}

func fetchSealed(ctx context.Context, c *client.Client, id string) (*pb.Sealed, error) {
	rec, err := c.Record(ctx, id)
	if err != nil {
		return nil, err
	}
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		return nil, err
	}
	s := tx.Body.Record.GetSealed()
	if s == nil || len(s.Ciphertext) == 0 {
		return nil, fmt.Errorf("record %s is not sealed to recipients", id)
	}
	return s, nil
}

// recipientIdentity is the keyring's encryption identity whose key s
// names for its member (for member only, unless member is ""), or "".
func recipientIdentity(kr *keyring.Keyring, s *pb.Sealed, member string) (string, error) {
	infos, err := kr.List()
	if err != nil {
		return "", err
	}
	for _, i := range infos {
		for _, r := range s.Recipients {
			if i.Type == keyring.TypeEncryption && i.KeyID == r.KeyId && i.Member == r.Member && (member == "" || member == r.Member) {
				return i.Name, nil
			}
		}
	}
	return "", nil
}

func hasRecipientIdentity(kr *keyring.Keyring, s *pb.Sealed, member string) bool {
	n, err := recipientIdentity(kr, s, member)
	return err == nil && n != ""
}

// openWith decrypts s with the named keyring identity, or with the
// keyring's identity whose key s names.
func openWith(kr *keyring.Keyring, s *pb.Sealed, name string) (*client.Opened, error) {
	id, err := recipientKey(kr, s, name, "")
	if err != nil {
		return nil, err
	}
	return client.OpenSealed(s, id)
}

// recipientKey is the named keyring identity, or the keyring's identity
// whose key s names (for member, unless "").
func recipientKey(kr *keyring.Keyring, s *pb.Sealed, name, member string) (*age.X25519Identity, error) {
	if name == "" {
		var err error
		if name, err = recipientIdentity(kr, s, member); err != nil {
			return nil, err
		}
		if name == "" {
			if member != "" {
				return nil, fmt.Errorf("no encryption identity of %s in this keyring is a recipient of the sealed record (give --identity)", member)
			}
			return nil, errors.New("no encryption identity in this keyring is a recipient of the sealed record (give --identity)")
		}
	}
	return kr.Identity(name)
}

func writeReveal(path, sealedID string, salt []byte, body *pb.Record) error {
	bz, err := protojson.MarshalOptions{Multiline: true}.Marshal(&pb.Record{SchemaVersion: ledger.CurrentSchemaVersion,
		Body: &pb.Record_Reveal{Reveal: &pb.Reveal{SealedId: sealedID, Salt: salt, Body: body}}})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(bz, '\n'), 0o600)
}

func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
