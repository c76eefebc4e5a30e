package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/interop/stix"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// exportInput reads from the node everything an export is made of: the
// records (paged, from since on), the member registry, the genesis.
func exportInput(ctx context.Context, c *client.Client, f stix.Filter) (stix.Input, error) {
	// One state throughout: the newest attested height, as the REST export.
	st, err := c.Status(ctx)
	if err != nil {
		return stix.Input{}, err
	}
	h := st.LatestAttestedHeight
	req := &pb.ListRecordsRequest{Limit: 200, Height: h}
	if !f.Since.IsZero() {
		req.FromTime = timestamppb.New(f.Since)
	}
	var in stix.Input
	for {
		res, err := c.Records(ctx, req)
		if err != nil {
			return in, err
		}
		in.Records = append(in.Records, res.Records...)
		if res.NextPageToken == "" {
			break
		}
		req.PageToken = res.NextPageToken
	}
	// The originals of amendments from since on: their TLP bounds the new
	// versions' markings.
	missing, err := stix.MissingOriginals(in.Records)
	if err != nil {
		return in, err
	}
	for _, id := range missing {
		res, err := c.GetRecord(ctx, id, h, false)
		if err != nil {
			return in, fmt.Errorf("original %s of an amendment: %w", id, err)
		}
		in.Amended = append(in.Amended, res.Record)
	}
	ms, err := c.ListMembers(ctx, h, false)
	if err != nil {
		return in, err
	}
	in.Members = ms.Members
	gbz, err := c.Genesis(ctx)
	if err != nil {
		return in, err
	}
	gen, err := cmttypes.GenesisDocFromJSON(gbz)
	if err != nil {
		return in, fmt.Errorf("genesis: %w", err)
	}
	in.ChainID, in.GenesisTime, in.BaseURL = gen.ChainID, gen.GenesisTime, c.Base()
	blk, err := c.Block(ctx, h)
	if err != nil {
		return in, err
	}
	in.At = blk.Time.AsTime()
	return in, nil
}

func writeOut(path string, bz []byte, stdout io.Writer) error {
	if path == "" || path == "-" {
		_, err := stdout.Write(bz)
		return err
	}
	return atomicfile.WriteFile(path, bz, 0o644)
}

func printReport(w io.Writer, rep *stix.Report, verb, skipped string) {
	fmt.Fprintf(w, "%s %d records\n", verb, rep.Exported)
	if len(rep.Skipped) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(rep.Skipped)) {
			parts = append(parts, fmt.Sprintf("%d %s", rep.Skipped[k], k))
		}
		fmt.Fprintf(w, "%s: %s\n", skipped, strings.Join(parts, ", "))
	}
	for _, n := range rep.NotCarried {
		fmt.Fprintf(w, "not carried: %s\n", n)
	}
	for _, u := range rep.Unmapped {
		fmt.Fprintf(w, "not mapped: %s\n", u)
	}
}

func exportCmd(e *env) *cobra.Command {
	ex := &cobra.Command{Use: "export", Short: "Export records for CSIRT tools (STIX 2.1, MISP) and listings for analysis (JSON lines, CSV)"}
	ex.AddCommand(bulkCmd(e, "jsonl"), bulkCmd(e, "csv"))
	var since, member, kinds, out string
	run := func(format string) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			f, err := stix.ParseFilter(since, member, kinds)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			in, err := exportInput(ctx, c, f)
			if err != nil {
				return err
			}
			var bz []byte
			var rep *stix.Report
			if format == "misp" {
				bz, rep, err = stix.MISP(in, f)
			} else {
				var b *stix.Bundle
				if b, rep, err = stix.Export(in, f); err == nil {
					bz, err = b.Marshal()
				}
			}
			if err != nil {
				return err
			}
			if err := writeOut(out, bz, e.out); err != nil {
				return err
			}
			printReport(e.err, rep, "exported", "left out (no STIX mapping)")
			return nil
		}
	}
	long := `Reads the records from the node (--node) and writes them as %s.
Every object links to its record and merkle proof on the ledger; check any of
them with normledger verify record ID. See docs/interop.md for the mapping.`
	st := &cobra.Command{Use: "stix", Short: "Write a STIX 2.1 bundle", Args: cobra.NoArgs, RunE: run("stix"),
		Long: fmt.Sprintf(long, "a STIX 2.1 bundle: incident disclosures as incidents (Incident Core\nextension), assessments and findings as notes, challenges as opinions,\npledges as reports, members as identities, TLP as the official markings")}
	mp := &cobra.Command{Use: "misp", Short: "Write MISP events (core format) of the incident disclosures", Args: cobra.NoArgs, RunE: run("misp"),
		Long: fmt.Sprintf(long, "MISP core-format events, one per incident disclosure")}
	for _, c := range []*cobra.Command{st, mp} {
		f := c.Flags()
		f.StringVar(&since, "since", "", "only records in blocks at or after this RFC 3339 time")
		f.StringVar(&member, "member", "", "only records by this member or naming it")
		f.StringVar(&kinds, "kind", "", "comma-separated kinds (pledge, incident_disclosure, harm_assessment, finding, challenge, amendment, attribution)")
		f.StringVarP(&out, "out", "f", "", "output file (default: standard output)")
		ex.AddCommand(c)
	}
	return ex
}

func importCmd(e *env) *cobra.Command {
	im := &cobra.Command{Use: "import", Short: "Import incidents and attributions from CSIRT tools (STIX 2.1)"}
	var from string
	var coSigners []string
	var noAttributions bool
	var dryRun, yes bool
	var sectors []string
	st := &cobra.Command{
		Use:   "stix FILE --from KEY [--dry-run]",
		Short: "Turn the incidents of a STIX 2.1 bundle into signed incident disclosures",
		Long: `Reads a STIX 2.1 bundle (from MISP, OpenCTI or a normledger export), maps
each incident to an incident disclosure of the signer's member, reports every
field it could not map, and after confirmation signs each with --from and
submits it. A bad bundle is refused with the JSON pointer of the offending
value, and nothing is submitted.

Incidents exported by normledger carry their record and come back unchanged;
others are mapped from STIX and the Incident Core extension (stage from
investigation_status, severity from criticality, impacts from impact
objects, sectors from the victims' identities or --sector; determination
blocked or failed-attempt makes a near-miss).

Attributions a normledger export carried (attributed-to relationships with
the normledger extension) are submitted after the incidents they name, with
the new incidents' record ids; co-attributing states co-sign (--co-signer
KEY for each; an attribution whose co-signers are missing is skipped and
said so). An incident the signer already filed (duplicate_record) is
skipped, and so are the attributions that name it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readLimited(args[0], stix.MaxBundleBytes)
			if err != nil {
				return err
			}
			s, err := e.signer(from)
			if err != nil {
				return err
			}
			opt := stix.ImportOptions{Author: s.Member}
			for _, name := range sectors {
				v, ok := enum.Parse(pb.Sector(0).Descriptor(), name)
				if !ok {
					return fmt.Errorf("--sector %q is not a sector", name)
				}
				opt.Sectors = append(opt.Sectors, pb.Sector(v))
			}
			imp, err := stix.Import(data, opt)
			if err != nil {
				return err
			}
			if noAttributions {
				imp.Attributions = nil
			}
			if e.cfg.Output == "json" && dryRun {
				var recs, attrs []any
				for _, r := range imp.Records {
					recs = append(recs, protoJSON(r))
				}
				for _, a := range imp.Attributions {
					attrs = append(attrs, map[string]any{"record": protoJSON(a.Record), "incidents": a.Incidents, "source": a.Source})
				}
				return printJSON(e.out, map[string]any{"records": recs, "sources": imp.Sources, "attributions": attrs, "report": imp.Report})
			}
			for i, r := range imp.Records {
				d := r.GetIncidentDisclosure()
				fmt.Fprintf(e.out, "%d. %s -> incident disclosure %s (%s, %s): %s\n", i+1, imp.Sources[i], d.IncidentRef,
					enum.Name(d.Stage),
					enum.Name(d.Severity), d.Summary)
			}
			// What each attribution will say, and who will co-sign it.
			for i, a := range imp.Attributions {
				at := a.Record.GetAttribution()
				var parties, of []string
				for _, p := range at.Attributed {
					parties = append(parties, p.Party+" ("+enum.Name(p.Conduct)+")")
				}
				for _, k := range a.Incidents {
					of = append(of, fmt.Sprint(k+1))
				}
				fmt.Fprintf(e.out, "A%d. %s -> %s attribution (%s, confidence %s, %s) of incident %s to %s; co-signed by %v; reply within %d h: %s\n",
					i+1, a.Source, enum.Name(at.Kind), enum.Name(at.StandardOfProof), enum.Name(at.Confidence), enum.Name(a.Record.GetTlp()),
					strings.Join(of, ", "), strings.Join(parties, ", "), at.CoAttributors, at.ReplyWithinHours, at.Summary)
			}
			printReport(e.out, imp.Report, "would submit", "other objects, read only for the incidents")
			if len(imp.Attributions) > 0 {
				fmt.Fprintf(e.out, "and %d attributions after them (--no-attributions leaves them out)\n", len(imp.Attributions))
			}
			// Everything an attribution needs is checked before anything is
			// signed: its co-signers' keys, and that the signer may file it.
			co := map[string]ledger.Signer{}
			for _, name := range coSigners {
				cs, err := e.signer(name)
				if err != nil {
					return err
				}
				co[cs.Member] = cs
			}
			var missing []string
			political := false
			for _, a := range imp.Attributions {
				at := a.Record.GetAttribution()
				political = political || at.Kind != pb.AttributionKind_ATTRIBUTION_KIND_TECHNICAL
				for _, m := range at.CoAttributors {
					if _, ok := co[m]; !ok && !slices.Contains(missing, m) {
						missing = append(missing, m)
					}
				}
			}
			if len(missing) > 0 {
				msg := fmt.Sprintf("the attributions need the co-signatures of %v: pass --co-signer KEY for each, or --no-attributions", missing)
				if !dryRun {
					return errors.New(msg)
				}
				fmt.Fprintln(e.out, "to submit: "+msg)
			}
			if dryRun || len(imp.Records)+len(imp.Attributions) == 0 {
				return nil
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			if political {
				m, err := c.Member(ctx, s.Member)
				if err != nil {
					return err
				}
				if m.GetClass() != pb.MemberClass_MEMBER_CLASS_STATE {
					return fmt.Errorf("%s is a %s: only a state files legal or political attributions (pass --no-attributions)", s.Member, enum.Name(m.GetClass()))
				}
			}
			if !yes {
				fmt.Fprintf(e.out, "Sign %d records as %s (the attributions co-signed as listed) and submit them? [y/N] ", len(imp.Records)+len(imp.Attributions), s.Member)
				line, _ := bufio.NewReader(e.in).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return fmt.Errorf("nothing submitted")
				}
			}
			var last client.Result
			ids := make([]string, len(imp.Records))
			for i, r := range imp.Records {
				res, err := c.Submit(ctx, r, s, nil, true)
				if err != nil {
					return fmt.Errorf("record %d of %d (%s): %w", i+1, len(imp.Records), imp.Sources[i], err)
				}
				if res.Rejected() && ledger.Code(res.Code) == ledger.CodeDuplicateRecord {
					// Filed before (an earlier run): its id, for the attributions.
					id, err := filedBefore(ctx, c, s.Member, r)
					if err != nil {
						return fmt.Errorf("%s was filed before, and its record could not be found: %w", imp.Sources[i], err)
					}
					fmt.Fprintf(e.out, "already filed: %s is record %s\n", imp.Sources[i], id)
					ids[i] = id
					continue
				}
				if res.Rejected() {
					return e.printResult(res)
				}
				fmt.Fprintf(e.out, "committed %s as record %s at height %d\n", imp.Sources[i], res.ID, res.Height)
				ids[i], last = res.ID, res
			}
			skipped := 0
			for _, a := range imp.Attributions {
				one := &stix.Imported{Records: imp.Records, Attributions: []*stix.ImportedAttribution{a}}
				recs, err := one.Link(ids)
				if err != nil {
					return fmt.Errorf("attribution %s: %w", a.Source, err)
				}
				var cs []ledger.Signer
				for _, m := range recs[0].GetAttribution().GetCoAttributors() {
					cs = append(cs, co[m])
				}
				res, err := c.Submit(ctx, recs[0], s, cs, true)
				if err != nil {
					return fmt.Errorf("attribution %s: %w", a.Source, err)
				}
				if res.Rejected() && ledger.Code(res.Code) == ledger.CodeDuplicateRecord {
					fmt.Fprintf(e.out, "already filed: attribution %s\n", a.Source)
					continue
				}
				if res.Rejected() {
					fmt.Fprintf(e.out, "NOT IMPORTED: attribution %s: %s (%s)\n", a.Source, ledger.Code(res.Code), res.Log)
					skipped++
					continue
				}
				fmt.Fprintf(e.out, "committed %s as attribution %s at height %d\n", a.Source, res.ID, res.Height)
				last = res
			}
			if last.Height > 0 {
				if err := c.WaitAttested(ctx, last.Height); err != nil {
					return err
				}
			}
			if skipped > 0 {
				return fmt.Errorf("%d of %d attributions were not imported (see above)", skipped, len(imp.Attributions))
			}
			return nil
		},
	}
	f := st.Flags()
	f.StringVar(&from, "from", "", "keyring key that signs (required): its member is the affected state of mapped incidents")
	f.BoolVar(&dryRun, "dry-run", false, "show what would be submitted, submit nothing")
	f.BoolVarP(&yes, "yes", "y", false, "submit without asking")
	f.StringSliceVar(&sectors, "sector", nil, "sectors to assume for incidents whose victims name none (health, energy, ...)")
	f.StringArrayVar(&coSigners, "co-signer", nil, "keyring key of a co-attributing state, for imported attributions (repeatable)")
	f.BoolVar(&noAttributions, "no-attributions", false, "import the incidents only")
	_ = st.MarkFlagRequired("from")
	im.AddCommand(st)
	return im
}

// filedBefore finds the record member filed with r's content (what
// duplicate_record refused): its id.
func filedBefore(ctx context.Context, c *client.Client, member string, r *pb.Record) (string, error) {
	want, err := ledger.ContentHash(r)
	if err != nil {
		return "", err
	}
	req := &pb.ListRecordsRequest{Author: member, Kind: ledger.KindNameOf(ledger.KindOf(r)), Limit: 200}
	for {
		page, err := c.Records(ctx, req)
		if err != nil {
			return "", err
		}
		for _, sr := range page.Records {
			tx, err := ledger.DecodeTx(sr.Tx, 0)
			if err != nil {
				return "", err
			}
			if got, err := ledger.ContentHash(tx.Body.Record); err == nil && got == want {
				return sr.Id, nil
			}
		}
		if page.NextPageToken == "" {
			return "", fmt.Errorf("no record of %s has this content", member)
		}
		req.PageToken = page.NextPageToken
	}
}

func readLimited(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bz, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(bz) > max {
		return nil, fmt.Errorf("%s: more than %d bytes: %w", path, max, &stix.Error{Msg: fmt.Sprintf("more than %d bytes", max)})
	}
	return bz, nil
}
