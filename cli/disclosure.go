package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/disclose"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/remote"
)

// Selective disclosure (docs/disclosure.md): disclose file|undertake|order|
// deliver|confirm|publish|return|status; verify record --disclosures;
// verify order.

func disclosureRecord(s *pb.DisclosureStep) *pb.Record {
	return &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_DisclosureStep{DisclosureStep: s}}
}

// disclosuresPath is where this home keeps the disclosures of record id.
func (e *env) disclosuresPath(id string) string {
	return filepath.Join(e.cfg.Home, "disclosures", id+".json")
}

func parseBasis(s string) (pb.DesignationBasis, error) {
	d := pb.DesignationBasis(0).Descriptor()
	v, ok := enum.Value(d, enum.Short(d, s))
	if !ok || v == 0 {
		return 0, fmt.Errorf("unknown designation basis %q (national_security, sources_and_methods, personal_data, commercial)", s)
	}
	return pb.DesignationBasis(v), nil
}

// fetchTx reads record id from the node and decodes its tx.
func fetchTx(ctx context.Context, c *client.Client, id string) (*pb.StoredRecord, *pb.Tx, error) {
	rec, err := c.Record(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	return rec, tx, err
}

// order reads protective order id (in either case) from --node, with the
// redacted record it covers.
func (e *env) order(ctx context.Context, id string) (string, *client.Client, *pb.ProtectiveOrder, *pb.StoredRecord, *pb.Record, error) {
	id = strings.ToLower(id)
	c, err := e.client()
	if err != nil {
		return "", nil, nil, nil, nil, err
	}
	o, srec, red, err := fetchOrder(ctx, c, id)
	return id, c, o, srec, red, err
}

// fetchOrder reads a protective order and the redacted record it covers.
func fetchOrder(ctx context.Context, c *client.Client, id string) (*pb.ProtectiveOrder, *pb.StoredRecord, *pb.Record, error) {
	_, otx, err := fetchTx(ctx, c, id)
	if err != nil {
		return nil, nil, nil, err
	}
	o := otx.GetBody().GetRecord().GetProtectiveOrder()
	if o == nil {
		return nil, nil, nil, fmt.Errorf("record %s is not a protective order", id)
	}
	srec, stx, err := fetchTx(ctx, c, o.SubjectId)
	if err != nil {
		return nil, nil, nil, err
	}
	red := ledger.RedactedRecord(stx)
	if red == nil {
		return nil, nil, nil, fmt.Errorf("record %s withholds nothing", o.SubjectId)
	}
	return o, srec, red, nil
}

// OrderDuties are the ids of the duties an order can place, in the order
// status and verify order show them.
func orderDuties(id string, o *pb.ProtectiveOrder, author string) []string {
	out := []string{ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_DELIVER_DISCLOSURE, id, author),
		ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_PUBLISH_DISCLOSURE, id, author)}
	for _, m := range ledger.ApprovedMembers(o) {
		out = append(out, ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_CONFIRM_DISCLOSURE, id, m),
			ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_RETURN_DISCLOSURE, id, m))
	}
	return out
}

func discloseCmd(e *env) *cobra.Command {
	root := &cobra.Command{Use: "disclose", Short: "Withhold fields, issue protective orders, deliver and confirm withheld values (docs/disclosure.md)",
		Long: `disclose files what selective disclosure needs. 'disclose file' withholds
named fields of a record (each value replaced by a salted digest) and keeps
the disclosures that open them in <home>/disclosures/<record id>.json (mode
0600): keep that file, nobody else can make it again. A protective order
names who may see withheld values (members who filed an undertaking), for
what, and until when; the author delivers the values encrypted to their
keys, each confirms they match the digests, and at the end they return them
or the author publishes them, which the ledger checks.

Exit status as for tx submit: 0 committed, 2 rejected (the result code is
printed), 1 other failures.`}

	var ff sendFlags
	var file, basis, summary, out string
	var withhold, vars []string
	var decoys int
	fileCmd := &cobra.Command{
		Use:   "file --from KEY --file RECORD.json --withhold PATH[,PATH] --basis BASIS --public-summary TEXT",
		Short: "File a record withholding named fields (salted digests in the record, the values kept here)",
		Long: `file reads a record (as tx submit does), replaces each --withhold field of its
body by salted digests (one per value; a repeated field gets --decoys random
digests too, hiding how many values it has), signs and files it. Only
fields that drive no obligation, index or figure may be withheld: for an
incident disclosure summary, impacts, attribution, affected_entities; a harm
assessment methodology, persons_affected, physical_harm, economic_harm_usd;
a finding summary, evidence_refs, methodology; a notification summary,
geo_scope. --basis: national_security, sources_and_methods, personal_data or
commercial. --public-summary is the mandatory non-confidential summary.

The disclosures are written before filing to --disclosures-out (default
<home>/disclosures/<record id>.json, mode 0600).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rec, err := loadRecordWithVars(file, vars)
			if err != nil {
				return err
			}
			b, err := parseBasis(basis)
			if err != nil {
				return err
			}
			red, bundle, err := disclose.Redact(rec, splitList(withhold), decoys, b, summary, rand.Reader)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			c, _, s, err := e.signerFor(ff.from)
			if err != nil {
				return err
			}
			raw, err := c.Sign(ctx, red, s, nil)
			if err != nil {
				return err
			}
			bundle.RecordId = ledger.RecordID(raw)
			path := out
			if path == "" {
				path = e.disclosuresPath(bundle.RecordId)
			}
			if err := client.WriteDisclosures(path, bundle); err != nil {
				return fmt.Errorf("keep the disclosures before filing: %w", err)
			}
			fmt.Fprintf(e.err, "disclosures (%d values) kept in %s\n", len(bundle.Disclosures), path)
			return e.sendSigned(ctx, c, raw, ff.generateOnly, ff.mode)
		},
	}
	ff.add(fileCmd)
	fileCmd.Flags().StringVar(&file, "file", "", "record JSON file (required)")
	fileCmd.Flags().StringSliceVar(&withhold, "withhold", nil, "body fields to withhold (required)")
	fileCmd.Flags().StringVar(&basis, "basis", "", "designation basis (required)")
	fileCmd.Flags().StringVar(&summary, "public-summary", "", "non-confidential summary of what is withheld (required)")
	fileCmd.Flags().IntVar(&decoys, "decoys", 2, "decoy digests per repeated field")
	fileCmd.Flags().StringVar(&out, "disclosures-out", "", "where to keep the disclosures")
	fileCmd.Flags().StringArrayVar(&vars, "var", nil, "placeholder value NAME=VALUE (repeatable)")
	for _, f := range []string{"file", "withhold", "basis", "public-summary"} {
		_ = fileCmd.MarkFlagRequired(f)
	}

	var uf sendFlags
	var purpose, terms string
	undertake := &cobra.Command{
		Use:   "undertake RECORD_ID --from KEY --purpose CASE_OR_FINDING --terms TEXT",
		Short: "Sign a non-disclosure undertaking for a record's withheld values",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return e.coSignAndSend(ctx, uf.from, nil, &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_Undertaking{
				Undertaking: &pb.Undertaking{SubjectId: strings.ToLower(args[0]), PurposeRef: strings.ToLower(purpose), Terms: terms}}}, uf.generateOnly, uf.mode)
		},
	}
	uf.add(undertake)
	undertake.Flags().StringVar(&purpose, "purpose", "", "the case or finding the values are needed for (required)")
	undertake.Flags().StringVar(&terms, "terms", "Use only for the stated purpose; no onward disclosure; return or destroy at the end.", "the terms undertaken")
	_ = undertake.MarkFlagRequired("purpose")

	var of sendFlags
	var paths, approve []string
	var oPurpose, expires, onExpiry, authority, oStatement string
	var deliverIn, confirmIn, publishIn, returnIn time.Duration
	order := &cobra.Command{
		Use:   "order RECORD_ID --from KEY --path FIELD --approve MEMBER=UNDERTAKING_ID --purpose ID --expires TIME --on-expiry return|publish",
		Short: "Issue a protective order: who sees which withheld fields, for what, until when",
		Long: `order issues a protective order for withheld fields (--path, repeatable) of
RECORD_ID. Each approved person (--approve MEMBER=UNDERTAKING_ID) must have
filed an undertaking for the record and --purpose (a case or a finding) and
hold an encryption key. The record's author issues orders; in a dispute a
verifier may, citing its finding that rules on the designation
(--authority), or the member a passed authorize_order vote names
(--authority PROPOSAL_ID). --expires: RFC 3339 or a duration from now. The
windows default to the chain's (params.disclosure_windows).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			exp, err := dueTime(expires)
			if err != nil {
				return fmt.Errorf("--expires: %w", err)
			}
			d := pb.OrderExpiry(0).Descriptor()
			oe, ok := enum.Value(d, enum.Short(d, onExpiry))
			if !ok || oe == 0 {
				return fmt.Errorf("--on-expiry %q: return or publish", onExpiry)
			}
			o := &pb.ProtectiveOrder{SubjectId: strings.ToLower(args[0]), Paths: slices.Sorted(slices.Values(splitList(paths))), PurposeRef: strings.ToLower(oPurpose),
				ExpiresAt: timestamppb.New(exp), OnExpiry: pb.OrderExpiry(oe), AuthorityRef: strings.ToLower(authority), Statement: oStatement}
			for _, a := range approve {
				m, u, ok := strings.Cut(a, "=")
				if !ok {
					return fmt.Errorf("--approve %q: want MEMBER=UNDERTAKING_ID", a)
				}
				o.Approved = append(o.Approved, &pb.Approval{Member: m, UndertakingId: strings.ToLower(u)})
			}
			client.SortApprovals(o.Approved)
			for _, d := range []time.Duration{deliverIn, confirmIn, publishIn, returnIn} {
				if d < 0 || d > 365*24*time.Hour {
					return fmt.Errorf("a window of %s: give 0 (the chain's) up to 365 days", d)
				}
			}
			if deliverIn+confirmIn+publishIn+returnIn > 0 {
				o.Windows = &pb.DisclosureWindows{DeliverSeconds: uint32(deliverIn / time.Second), ConfirmSeconds: uint32(confirmIn / time.Second),
					PublishSeconds: uint32(publishIn / time.Second), ReturnSeconds: uint32(returnIn / time.Second)}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return e.coSignAndSend(ctx, of.from, nil, &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion,
				Body: &pb.Record_ProtectiveOrder{ProtectiveOrder: o}}, of.generateOnly, of.mode)
		},
	}
	of.add(order)
	fl := order.Flags()
	fl.StringSliceVar(&paths, "path", nil, "withheld field the order covers (repeatable, required)")
	fl.StringArrayVar(&approve, "approve", nil, "approved person and its undertaking, MEMBER=UNDERTAKING_ID (repeatable, required)")
	fl.StringVar(&oPurpose, "purpose", "", "the case or finding the order serves (required)")
	fl.StringVar(&expires, "expires", "", "when the order ends: RFC 3339 or a duration from now (required)")
	fl.StringVar(&onExpiry, "on-expiry", "", "return (approved persons return the values) or publish (the author publishes them) (required)")
	fl.StringVar(&authority, "authority", "", "your finding ruling on the designation, or a passed authorize_order proposal (when you did not designate the record)")
	fl.StringVar(&oStatement, "statement", "", "free text for the record")
	fl.DurationVar(&deliverIn, "deliver-within", 0, "the author delivers within (default: the chain's)")
	fl.DurationVar(&confirmIn, "confirm-within", 0, "each approved person confirms within, after delivery")
	fl.DurationVar(&publishIn, "publish-within", 0, "the author publishes within, after expiry")
	fl.DurationVar(&returnIn, "return-within", 0, "approved persons return within, after expiry")
	for _, f := range []string{"path", "approve", "purpose", "expires", "on-expiry"} {
		_ = order.MarkFlagRequired(f)
	}

	var df sendFlags
	var dFile string
	var dWitnesses []string
	var dTrustNode bool
	dtf := &trustFlags{}
	deliver := &cobra.Command{
		Use:   "deliver ORDER_ID --from KEY [--disclosures FILE]",
		Short: "Deliver what an order covers, encrypted once to every approved person's key",
		Long: `deliver reads the order, takes the disclosures of the fields it covers from
--disclosures (default <home>/disclosures/<record id>.json) and encrypts them
once to the registered encryption key of every approved person (age,
X25519). The keys are read from member entries proven against a header the
light client verified (as seal does); --trust-node takes the node's word.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			id, c, o, srec, _, err := e.order(ctx, args[0])
			if err != nil {
				return err
			}
			path := dFile
			if path == "" {
				path = e.disclosuresPath(srec.Id)
			}
			bundle, err := client.ReadDisclosures(path)
			if err != nil {
				return err
			}
			to := ledger.ApprovedMembers(o)
			ms, err := e.recipientEntries(ctx, c, to, dTrustNode, dWitnesses, dtf)
			if err != nil {
				return err
			}
			keys, err := client.RecipientKeys(ms, to)
			if err != nil {
				return err
			}
			step, err := client.Deliver(id, srec.Id, o, bundle, keys)
			if err != nil {
				return err
			}
			return e.coSignAndSend(ctx, df.from, nil, disclosureRecord(step), df.generateOnly, df.mode)
		},
	}
	df.add(deliver)
	deliver.Flags().StringVar(&dFile, "disclosures", "", "the record's disclosures (default: this home's)")
	deliver.Flags().StringArrayVar(&dWitnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable)")
	deliver.Flags().BoolVar(&dTrustNode, "trust-node", false, "take the approved persons' keys from --node without proofs")
	dtf.add(deliver, true)

	var cf sendFlags
	var identity, cOut, cStatement string
	var withholdKey bool
	confirm := &cobra.Command{
		Use:   "confirm ORDER_ID --from KEY [--identity NAME]",
		Short: "Open a delivery to you, check it against the record's digests and confirm (or prove a mismatch)",
		Long: `confirm finds the delivery made under the order, decrypts it with your
encryption identity, checks every value against its digest in the redacted
record, keeps the values in --out (default <home>/disclosures/<record id>.json,
mode 0600) and files your confirmation. If the values do not match, the
confirmation publishes the age file key your stanza unwrapped to, so the
ledger can prove the mismatch (and the values become public);
--withhold-file-key files an unproven mismatch instead.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			_, kr, s, err := e.signerFor(cf.from)
			if err != nil {
				return err
			}
			id, c, o, srec, red, err := e.order(ctx, args[0])
			if err != nil {
				return err
			}
			dr, err := c.Obligation(ctx, ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_DELIVER_DISCLOSURE, id, srec.Author), 0, false)
			if err != nil {
				return err
			}
			if dr.GetObligation().GetStatusRecord() == "" || ledger.Open(dr.GetObligation()) {
				return fmt.Errorf("nothing was delivered under order %s yet", id)
			}
			_, dtx, err := fetchTx(ctx, c, dr.Obligation.StatusRecord)
			if err != nil {
				return err
			}
			d := dtx.GetBody().GetRecord().GetDisclosureStep()
			ident, err := recipientKey(kr, &pb.Sealed{Recipients: d.GetRecipients()}, identity, s.Member)
			if err != nil {
				return err
			}
			step := &pb.DisclosureStep{Step: pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_CONFIRM, SourceId: id, Statement: cStatement}
			op, err := client.OpenDelivery(d, red, o, ident)
			switch {
			case errors.Is(err, client.ErrStanza):
				fmt.Fprintf(e.err, "the delivery's stanza for %s does not open with its key (unprovable without the private key)\n", s.Member)
			case err != nil:
				return err
			case op.Mismatch != "":
				fmt.Fprintf(e.err, "the delivered values do NOT match the digests: %s\n", op.Mismatch)
				if !withholdKey {
					step.FileKey = op.FileKey
				}
			default:
				step.Matches = true
				path := cOut
				if path == "" {
					path = e.disclosuresPath(srec.Id)
				}
				if err := client.WriteDisclosures(path, op.Bundle); err != nil {
					return err
				}
				fmt.Fprintf(e.err, "the %d delivered values match record %s's digests; kept in %s\n", len(op.Bundle.Disclosures), srec.Id, path)
			}
			raw, err := c.Sign(ctx, disclosureRecord(step), s, nil)
			if err != nil {
				return err
			}
			return e.sendSigned(ctx, c, raw, cf.generateOnly, cf.mode)
		},
	}
	cf.add(confirm)
	confirm.Flags().StringVar(&identity, "identity", "", "keyring encryption identity (default: the one the delivery is encrypted to)")
	confirm.Flags().StringVar(&cOut, "out", "", "where to keep the delivered values")
	confirm.Flags().StringVar(&cStatement, "statement", "", "free text for the record")
	confirm.Flags().BoolVar(&withholdKey, "withhold-file-key", false, "on a mismatch, do not publish the file key (the mismatch stays unproven)")

	var pf sendFlags
	var pFile, pStatement string
	publish := &cobra.Command{
		Use:   "publish SOURCE_ID --from KEY [--disclosures FILE]",
		Short: "Publish withheld values an order or a ruling asks for; the ledger checks each against its digest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := strings.ToLower(args[0])
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			_, tx, err := fetchTx(ctx, c, id)
			if err != nil {
				return err
			}
			var subject string
			var want []string
			switch body := tx.GetBody().GetRecord(); {
			case body.GetProtectiveOrder() != nil:
				subject, want = body.GetProtectiveOrder().SubjectId, body.GetProtectiveOrder().Paths
			case body.GetFinding().GetDesignation() != nil:
				subject, want = body.GetFinding().GetDesignation().RecordId, body.GetFinding().GetDesignation().ExcessivePaths
			default:
				return fmt.Errorf("record %s is neither a protective order nor a ruling on a designation", id)
			}
			path := pFile
			if path == "" {
				path = e.disclosuresPath(subject)
			}
			bundle, err := client.ReadDisclosures(path)
			if err != nil {
				return err
			}
			b, err := client.OrderBundle(subject, &pb.ProtectiveOrder{Paths: want}, bundle)
			if err != nil {
				return err
			}
			return e.coSignAndSend(ctx, pf.from, nil, disclosureRecord(&pb.DisclosureStep{Step: pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_PUBLISH,
				SourceId: id, Disclosures: b.Disclosures, Statement: pStatement}), pf.generateOnly, pf.mode)
		},
	}
	pf.add(publish)
	publish.Flags().StringVar(&pFile, "disclosures", "", "the record's disclosures (default: this home's)")
	publish.Flags().StringVar(&pStatement, "statement", "", "free text for the record")

	var rf sendFlags
	var rStatement string
	ret := &cobra.Command{
		Use:   "return ORDER_ID --from KEY [--statement TEXT]",
		Short: "State that you returned or destroyed the values an order gave you",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return e.coSignAndSend(ctx, rf.from, nil, disclosureRecord(&pb.DisclosureStep{Step: pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_RETURN,
				SourceId: strings.ToLower(args[0]), Statement: rStatement}), rf.generateOnly, rf.mode)
		},
	}
	rf.add(ret)
	ret.Flags().StringVar(&rStatement, "statement", "Returned; no copy kept.", "free text for the record")

	status := &cobra.Command{
		Use:   "status ORDER_ID",
		Short: "An order's approved persons and duties (deliver, confirm, publish, return), as the node reports them",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			id, c, o, srec, red, err := e.order(ctx, args[0])
			if err != nil {
				return err
			}
			var obs []*pb.Obligation
			for _, oid := range orderDuties(id, o, srec.Author) {
				r, err := c.Obligation(ctx, oid, 0, false)
				if err != nil {
					var ae *client.APIError
					if errors.As(err, &ae) && ae.HTTPStatus == 404 {
						continue
					}
					return err
				}
				obs = append(obs, r.Obligation)
			}
			return e.printOrder(id, o, srec, red, obs, time.Now())
		},
	}
	root.AddCommand(fileCmd, undertake, order, deliver, confirm, publish, ret, status)
	return root
}

// printOrder writes an order, the record it covers and its duties.
func (e *env) printOrder(id string, o *pb.ProtectiveOrder, subject *pb.StoredRecord, red *pb.Record, obs []*pb.Obligation, now time.Time) error {
	if e.cfg.Output == "json" {
		var ob []json.RawMessage
		for _, x := range obs {
			ob = append(ob, mustJSON(x))
		}
		return printJSON(e.out, map[string]any{"order_id": id, "order": json.RawMessage(mustJSON(o)), "record": subject.Id,
			"designated_by": subject.Author, "withheld": disclose.Paths(red), "obligations": ob})
	}
	fmt.Fprintf(e.out, "order %s on record %s (designated by %s, basis %s)\n", id, subject.Id, subject.Author,
		enum.Name(red.Redaction.Basis))
	fmt.Fprintf(e.out, "  fields      %s (of withheld %s)\n", strings.Join(o.Paths, ", "), strings.Join(disclose.Paths(red), ", "))
	fmt.Fprintf(e.out, "  approved    %s\n", strings.Join(ledger.ApprovedMembers(o), ", "))
	fmt.Fprintf(e.out, "  purpose     %s\n", o.PurposeRef)
	fmt.Fprintf(e.out, "  expires     %s, then %s\n", o.ExpiresAt.AsTime().UTC().Format(time.RFC3339),
		enum.Name(o.OnExpiry))
	fmt.Fprintf(e.out, "  public      %s\n", red.Redaction.PublicSummary)
	for _, x := range obs {
		mark := ""
		if ledger.UnmetAt(x, now) {
			mark = "  PAST DUE"
		}
		fmt.Fprintf(e.out, "  %-20s %-8s %-9s due %s%s\n", enum.Name(x.Kind), x.Debtor,
			layout.StatusName(x.Status), x.Due.AsTime().UTC().Format(time.RFC3339), mark)
	}
	return nil
}

// verifyOrderCmd proves an order and its duties at one height.
func verifyOrderCmd(e *env) *cobra.Command {
	var witnesses []string
	var at int64
	tf := &trustFlags{}
	cmd := &cobra.Command{
		Use:   "order ID [--height H]",
		Short: "Prove a protective order, the record it covers and every duty it placed (or their absence)",
		Long: `verify order proves the order record and the redacted record it covers
(signatures and proofs, as verify record does), then each duty the order can
place (deliver, publish, and per approved person confirm and return) at
--height (default: the newest attested) against a light-client-verified
header: present with its status, or proven absent. A confirmation duty that
is open or overdue there proves no confirmation was accepted by that height.

Exit status: 0 verified; 4 not verified; 1 other errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			v, done, err := e.verifier(ctx, witnesses, tf, nil)
			if err != nil {
				return err
			}
			defer done()
			v.At = at
			id := strings.ToLower(args[0])
			ores, ob, err := v.Record(ctx, id)
			if err != nil {
				return verifyExit(err)
			}
			// Every later answer at the order's answer height: one state,
			// which holds the order.
			v.At = ores.Height
			otx, err := bundleTx(ob)
			if err != nil {
				return err
			}
			o := otx.GetBody().GetRecord().GetProtectiveOrder()
			if o == nil {
				return verifyExit(verifiers.Failf("record %s is not a protective order", id))
			}
			sres, sb, err := v.Record(ctx, o.SubjectId)
			if err != nil {
				return verifyExit(err)
			}
			subject, stx, err := bundleRecord(sb)
			if err != nil {
				return err
			}
			red := ledger.RedactedRecord(stx)
			if red == nil {
				return verifyExit(verifiers.Failf("record %s withholds nothing", o.SubjectId))
			}
			var obs []*pb.Obligation
			h := v.At
			for _, oid := range orderDuties(id, o, sres.Author) {
				ob, _, err := v.ObligationOrAbsent(ctx, oid)
				if err != nil {
					return verifyExit(err)
				}
				if ob != nil {
					obs = append(obs, ob)
				}
			}
			t := time.Now()
			if lb, err := v.Light.Header(ctx, h+1); err == nil {
				t = lb.Time
			}
			if e.cfg.Output != "json" {
				fmt.Fprintf(e.out, "VERIFIED: order %s, record %s and the order's %d duties at height %d, proven against light-client-verified headers\n",
					id, o.SubjectId, len(obs), h)
			}
			return e.printOrder(id, o, subject, red, obs, t)
		},
	}
	cmd.Flags().StringArrayVar(&witnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable, at least one)")
	cmd.Flags().Int64Var(&at, "height", 0, "state height to prove the duties at (default: the newest attested)")
	tf.add(cmd, true)
	return cmd
}

// verifyDisclosed checks a disclosures file against a record verify record
// verified, and prints both.
func (e *env) verifyDisclosed(res *remote.Verified, b *remote.Bundle, path string) error {
	bundle, err := client.ReadDisclosures(path)
	if err != nil {
		return err
	}
	resp := new(pb.GetRecordResponse)
	if err := protojson.Unmarshal(b.Record, resp); err != nil {
		return err
	}
	opened, closed, verdict := verifiers.Disclosures(resp.Record, bundle)
	if e.cfg.Output == "json" {
		out := map[string]any{"verified": verdict == nil, "result": res}
		if verdict != nil {
			out["error"] = verdict.Error()
		} else {
			out["disclosed"], out["withheld"] = opened, closed
		}
		if err := printJSON(e.out, out); err != nil {
			return err
		}
		return verifyExit(verdict)
	}
	e.printVerified(res, verdict)
	if verdict != nil {
		return verifyExit(verdict)
	}
	for _, o := range opened {
		fmt.Fprintf(e.out, "  PROVEN: %s = %s (opens its salted digest in the verified record)\n", o.Path, o.Value)
	}
	for _, p := range closed {
		fmt.Fprintf(e.out, "  WITHHELD: %s (no disclosure for it in %s)\n", p, path)
	}
	return nil
}
