package cli

// Text output: how read commands show their answers to people when
// --output is text. Every function here is pure: it takes the node's
// protobuf answer (and, where it matters, the block time the answer was
// read at) and writes to w. Lists are tables (text/tabwriter), single
// objects are "key: value" blocks, enums are shown by their short names
// ("overdue", "pledge"), and every answer ends with the state height it was
// read at and, for a partial page, the token of the next one. JSON output
// (-o json) does not come through here.

import (
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/internal/human"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// shortIDLen is how many hex characters of an obligation or record id a
// table shows; -o json, or the single-object commands, show whole ids.
const shortIDLen = 12

// maxListedIDs caps how many ids one compliance figure lists in text.
const maxListedIDs = 10

// --- small formatting helpers -------------------------------------------

func shortID(id string) string {
	if len(id) > shortIDLen {
		return id[:shortIDLen]
	}
	return id
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinOrDash(ss []string) string { return orDash(strings.Join(ss, ", ")) }

// idList shows ids short, at most maxListedIDs of them.
func idList(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	out := make([]string, 0, maxListedIDs+1)
	for i, id := range ids {
		if i == maxListedIDs {
			out = append(out, fmt.Sprintf("... +%d more (-o json lists all)", len(ids)-maxListedIDs))
			break
		}
		out = append(out, shortID(id))
	}
	return strings.Join(out, " ")
}

// plural is "1 obligation", "2 obligations".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// bytesText is bytes in hex, cut short when long.
func bytesText(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	if len(b) <= 32 {
		return hex.EncodeToString(b)
	}
	return fmt.Sprintf("%s... (%d bytes)", hex.EncodeToString(b[:16]), len(b))
}

// table writes rows (the first is the header) aligned in columns.
func table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// footer ends an answer: the state height it was read at (with the block
// time when known) and the next page's token.
func footer(w io.Writer, height int64, blockTime time.Time, next string) {
	if height > 0 {
		if blockTime.IsZero() {
			fmt.Fprintf(w, "read at height %d\n", height)
		} else {
			fmt.Fprintf(w, "read at height %d (block time %s)\n", height, blockTime.UTC().Format(time.RFC3339))
		}
	}
	if next != "" {
		fmt.Fprintf(w, "more: --page-token %s\n", next)
	}
}

// --- key: value blocks ----------------------------------------------------

// field is one line of a key: value block, or with kids a nested block.
type field struct {
	key, value string
	kids       []field
	nested     bool // a block header, even when kids is empty
}

// kvMinWidth is the width of "key:" plus padding in top-level blocks, so
// values line up as they always have ("status:     passed").
const kvMinWidth = 12

// writeFields writes a block: the values of sibling lines line up after
// the longest key; nested blocks are indented two spaces.
func writeFields(w io.Writer, indent string, fs []field, minWidth int) {
	width := minWidth
	for _, f := range fs {
		if !f.nested && len(f.key)+2 > width {
			width = len(f.key) + 2
		}
	}
	for _, f := range fs {
		if f.nested {
			if len(f.kids) == 0 {
				fmt.Fprintf(w, "%s%s: -\n", indent, f.key)
				continue
			}
			fmt.Fprintf(w, "%s%s:\n", indent, f.key)
			writeFields(w, indent+"  ", f.kids, 0)
			continue
		}
		v := strings.ReplaceAll(strings.TrimRight(f.value, "\n"), "\n", "\n"+indent+strings.Repeat(" ", width))
		fmt.Fprintf(w, "%s%-*s%s\n", indent, width, f.key+":", v)
	}
}

// messageFields lists the set fields of m in declaration order: scalars by
// value, enums by short name, timestamps in RFC 3339 (UTC), bytes in hex,
// messages as nested blocks. It shows a decoded record body.
func messageFields(m protoreflect.Message) []field {
	var out []field
	fds := m.Descriptor().Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		if !m.Has(fd) {
			continue
		}
		name := string(fd.Name())
		v := m.Get(fd)
		switch {
		case fd.IsList():
			l := v.List()
			if fd.Kind() == protoreflect.MessageKind && !isTimestamp(fd.Message()) {
				for j := 0; j < l.Len(); j++ {
					out = append(out, field{key: fmt.Sprintf("%s[%d]", name, j), kids: messageFields(l.Get(j).Message()), nested: true})
				}
				continue
			}
			parts := make([]string, 0, l.Len())
			for j := 0; j < l.Len(); j++ {
				parts = append(parts, scalarText(fd, l.Get(j)))
			}
			out = append(out, field{key: name, value: strings.Join(parts, ", ")})
		case fd.IsMap():
			var kids []field
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				kids = append(kids, field{key: k.String(), value: scalarText(fd.MapValue(), mv)})
				return true
			})
			sort.Slice(kids, func(a, b int) bool { return kids[a].key < kids[b].key })
			out = append(out, field{key: name, kids: kids, nested: true})
		case fd.Kind() == protoreflect.MessageKind && !isTimestamp(fd.Message()):
			out = append(out, field{key: name, kids: messageFields(v.Message()), nested: true})
		default:
			out = append(out, field{key: name, value: scalarText(fd, v)})
		}
	}
	return out
}

func isTimestamp(md protoreflect.MessageDescriptor) bool {
	return md.FullName() == "google.protobuf.Timestamp"
}

// scalarText formats one value of a non-message field (or a timestamp).
func scalarText(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		return enum.Name(dynEnum{fd.Enum(), v.Enum()})
	case protoreflect.BytesKind:
		return bytesText(v.Bytes())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m := v.Message()
		if !isTimestamp(m.Descriptor()) {
			return fmt.Sprint(m.Interface())
		}
		secs := m.Get(m.Descriptor().Fields().ByName("seconds")).Int()
		nanos := m.Get(m.Descriptor().Fields().ByName("nanos")).Int()
		return time.Unix(secs, nanos).UTC().Format(time.RFC3339)
	case protoreflect.StringKind:
		return v.String()
	}
	return fmt.Sprint(v.Interface())
}

// dynEnum is an enum value known only by its descriptor.
type dynEnum struct {
	d protoreflect.EnumDescriptor
	n protoreflect.EnumNumber
}

func (e dynEnum) Descriptor() protoreflect.EnumDescriptor { return e.d }
func (e dynEnum) Type() protoreflect.EnumType             { return nil }
func (e dynEnum) Number() protoreflect.EnumNumber         { return e.n }

// --- records ----------------------------------------------------------------

// textRecord shows one stored record: what the ledger assigned, who signed,
// warnings about revoked keys, and the record body decoded from the signed
// transaction, field by field.
func textRecord(w io.Writer, res *pb.GetRecordResponse) error {
	sr := res.GetRecord()
	tx, err := ledger.DecodeTx(sr.GetTx(), 0)
	if err != nil {
		return fmt.Errorf("stored record %s: %w", sr.GetId(), err)
	}
	fs := []field{
		{key: "id", value: sr.Id},
		{key: "kind", value: ledger.KindNameOf(sr.Kind)},
		{key: "author", value: fmt.Sprintf("%s (key %s, sequence %d)", sr.Author, tx.Body.KeyId, tx.Body.Sequence)},
	}
	if len(tx.CoSignatures) > 0 {
		var cs []string
		for _, c := range tx.CoSignatures {
			cs = append(cs, fmt.Sprintf("%s (key %s)", c.Signer, c.KeyId))
		}
		fs = append(fs, field{key: "co-signers", value: strings.Join(cs, ", ")})
	}
	fs = append(fs,
		field{key: "ledger seq", value: fmt.Sprint(sr.Seq)},
		field{key: "height", value: fmt.Sprint(sr.Height)},
		field{key: "block time", value: human.Time(sr.BlockTime)},
		field{key: "chain", value: orDash(tx.Body.ChainId)},
	)
	for _, f := range res.Flags {
		if f.RecordId == "" || f.RecordId == sr.Id {
			fs = append(fs, field{key: "WARNING", value: flagText(f)})
		}
	}
	fs = append(fs, field{key: "record", kids: messageFields(tx.Body.Record.ProtoReflect()), nested: true})
	writeFields(w, "", fs, kvMinWidth)
	footer(w, res.Height, time.Time{}, "")
	return nil
}

// textRecords shows a page of records as a table.
func textRecords(w io.Writer, res *pb.ListRecordsResponse) error {
	if len(res.Records) == 0 {
		fmt.Fprintln(w, "no records")
		footer(w, res.Height, time.Time{}, res.NextPageToken)
		return nil
	}
	flagged := map[string]bool{}
	for _, f := range res.Flags {
		flagged[f.RecordId] = true
	}
	rows := [][]string{{"SEQ", "HEIGHT", "TIME", "KIND", "AUTHOR", "ID"}}
	nFlagged := 0
	for _, r := range res.Records {
		row := []string{fmt.Sprint(r.Seq), fmt.Sprint(r.Height), human.Time(r.BlockTime), ledger.KindNameOf(r.Kind), r.Author, r.Id}
		if flagged[r.Id] {
			row = append(row, "FLAGGED: signing key revoked as compromised")
			nFlagged++
		}
		rows = append(rows, row)
	}
	if err := table(w, rows); err != nil {
		return err
	}
	count := plural(len(res.Records), "record")
	if res.NextPageToken != "" {
		count += " on this page"
	}
	if nFlagged > 0 {
		count += fmt.Sprintf(", %d flagged", nFlagged)
	}
	fmt.Fprintln(w, count)
	footer(w, res.Height, time.Time{}, res.NextPageToken)
	return nil
}

// --- members ------------------------------------------------------------------

func activeKeys(m *pb.Member) int {
	n := 0
	for _, k := range m.Keys {
		if k.Status == pb.KeyStatus_KEY_STATUS_ACTIVE {
			n++
		}
	}
	return n
}

// textMembers shows the member registry as a table.
func textMembers(w io.Writer, res *pb.ListMembersResponse) error {
	if len(res.Members) == 0 {
		fmt.Fprintln(w, "no members")
		footer(w, res.Height, time.Time{}, "")
		return nil
	}
	rows := [][]string{{"ID", "CLASS", "STATUS", "COUNTRY", "KEYS", "VALIDATOR", "ROLES", "NAME"}}
	for _, m := range res.Members {
		val := "-"
		if m.ValidatorPower > 0 {
			val = fmt.Sprintf("power %d", m.ValidatorPower)
		}
		rows = append(rows, []string{m.Id, enum.Name(m.Class), enum.Name(m.Status), orDash(m.CountryCode),
			fmt.Sprint(activeKeys(m)), val, orDash(strings.Join(m.Roles, ",")), m.Name})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, plural(len(res.Members), "member"))
	footer(w, res.Height, time.Time{}, "")
	return nil
}

// textMember shows one member: its profile, its keys and its history.
func textMember(w io.Writer, res *pb.GetMemberResponse) error {
	m := res.GetMember()
	if m == nil {
		fmt.Fprintln(w, "no member")
		return nil
	}
	fs := []field{
		{key: "id", value: m.Id},
		{key: "name", value: orDash(m.Name)},
		{key: "class", value: enum.Name(m.Class)},
		{key: "status", value: enum.Name(m.Status)},
		{key: "country", value: orDash(m.CountryCode)},
		{key: "roles", value: joinOrDash(m.Roles)},
	}
	val := "-"
	if len(m.ValidatorPubKey) > 0 || m.ValidatorPower != 0 {
		val = fmt.Sprintf("power %d, key %s", m.ValidatorPower, bytesText(m.ValidatorPubKey))
	}
	fs = append(fs, field{key: "validator", value: val})
	if p := m.PointOfContact; p != nil {
		var parts []string
		for _, s := range []string{p.Name, p.Organisation, p.Email, p.Phone} {
			if s != "" {
				parts = append(parts, s)
			}
		}
		fs = append(fs, field{key: "contact", value: joinOrDash(parts)})
	}
	if res.NextSequence > 0 {
		fs = append(fs, field{key: "next seq", value: fmt.Sprint(res.NextSequence)})
	}
	writeFields(w, "", fs, kvMinWidth)

	fmt.Fprintln(w)
	if len(m.Keys) == 0 {
		fmt.Fprintln(w, "no keys")
	} else {
		rows := [][]string{{"KEY ID", "STATUS", "VALID FROM", "VALID UNTIL", "COMPROMISED SINCE", "PUB KEY", "ENDED BY"}}
		for _, k := range m.Keys {
			until := "-"
			if k.ValidUntilHeight > 0 {
				until = fmt.Sprint(k.ValidUntilHeight)
			}
			var comp []string
			if k.CompromisedSinceHeight > 0 {
				comp = append(comp, fmt.Sprintf("height %d", k.CompromisedSinceHeight))
			}
			if k.CompromisedSinceTime != nil {
				comp = append(comp, human.Time(k.CompromisedSinceTime))
			}
			rows = append(rows, []string{k.KeyId, enum.Name(k.Status), fmt.Sprint(k.ValidFromHeight), until,
				joinOrDash(comp), bytesText(k.PubKey), orDash(k.EndedBy)})
		}
		if err := table(w, rows); err != nil {
			return err
		}
	}
	if len(m.History) > 0 {
		fmt.Fprintln(w)
		rows := [][]string{{"HEIGHT", "TIME", "CHANGE", "RECORD"}}
		for _, h := range m.History {
			rows = append(rows, []string{fmt.Sprint(h.Height), human.Time(h.Time), orDash(h.Change), orDash(h.RecordId)})
		}
		if err := table(w, rows); err != nil {
			return err
		}
	}
	footer(w, res.Height, time.Time{}, "")
	return nil
}

// --- obligations ----------------------------------------------------------------

// timeLeft says how long an open obligation has left, or how long an
// overdue one has been overdue, at block time now ("-" when now is
// unknown or the obligation is closed).
func timeLeft(o *pb.Obligation, now time.Time) string {
	if now.IsZero() || o.Due == nil {
		return "-"
	}
	due := o.Due.AsTime()
	switch o.Status {
	case pb.ObligationStatus_OBLIGATION_STATUS_OPEN:
		if !due.After(now) {
			return "due now"
		}
		return human.Duration(due.Sub(now)) + " left"
	case pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE:
		return human.Duration(now.Sub(due)) + " overdue"
	}
	return "-"
}

// textObligations shows a page of obligations as a table and counts the
// overdue ones. blockTime is the time of the block the answer was read at
// (zero when unknown: the TIME LEFT column is left out).
func textObligations(w io.Writer, res *pb.ListObligationsResponse, blockTime time.Time) error {
	if len(res.Obligations) == 0 {
		fmt.Fprintln(w, "no obligations")
		footer(w, res.Height, blockTime, res.NextPageToken)
		return nil
	}
	header := []string{"ID", "KIND", "DEBTOR", "CREDITOR", "STATUS", "DUE"}
	if !blockTime.IsZero() {
		header = append(header, "TIME LEFT")
	}
	rows := [][]string{header}
	overdue := 0
	for _, o := range res.Obligations {
		if o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE {
			overdue++
		}
		row := []string{shortID(o.Id), enum.Name(o.Kind), o.Debtor, joinOrDash(o.Creditors), layout.StatusName(o.Status), human.Time(o.Due)}
		if !blockTime.IsZero() {
			row = append(row, timeLeft(o, blockTime))
		}
		rows = append(rows, row)
	}
	if err := table(w, rows); err != nil {
		return err
	}
	count := plural(len(res.Obligations), "obligation")
	if res.NextPageToken != "" {
		count += " on this page"
	}
	fmt.Fprintf(w, "%s, %d overdue\n", count, overdue)
	footer(w, res.Height, blockTime, res.NextPageToken)
	return nil
}

// textObligation shows one obligation in full.
func textObligation(w io.Writer, res *pb.GetObligationResponse, blockTime time.Time) error {
	o := res.GetObligation()
	if o == nil {
		fmt.Fprintln(w, "no obligation")
		return nil
	}
	due := human.Time(o.Due)
	if left := timeLeft(o, blockTime); left != "-" {
		due += " (" + left + ")"
	}
	fs := []field{
		{key: "id", value: o.Id},
		{key: "kind", value: enum.Name(o.Kind)},
		{key: "debtor", value: o.Debtor},
		{key: "creditors", value: joinOrDash(o.Creditors)},
		{key: "status", value: layout.StatusName(o.Status)},
		{key: "due", value: due},
		{key: "created", value: fmt.Sprintf("%s (height %d)", human.Time(o.CreatedAt), o.CreatedHeight)},
		{key: "source", value: orDash(o.SourceRecord)},
	}
	if len(o.Basis) > 0 {
		fs = append(fs, field{key: "basis", value: strings.Join(o.Basis, ", ")})
	}
	if o.StatusAt != nil || o.StatusHeight != 0 {
		changed := fmt.Sprintf("%s (height %d)", human.Time(o.StatusAt), o.StatusHeight)
		if o.StatusRecord != "" {
			changed += " by record " + o.StatusRecord
		}
		fs = append(fs, field{key: "changed", value: changed})
	}
	if o.OverdueAt != nil {
		fs = append(fs, field{key: "overdue at", value: human.Time(o.OverdueAt)})
	}
	writeFields(w, "", fs, kvMinWidth)
	footer(w, res.Height, blockTime, "")
	return nil
}

// --- compliance -------------------------------------------------------------------

func rateText(r *pb.RateFigure) string {
	if r.GetDenominator() == 0 {
		return "- (nothing due yet)"
	}
	bp := r.GetBasisPoints()
	return fmt.Sprintf("%d.%02d%% (%d of %d on time)", bp/100, bp%100, r.GetNumerator(), r.GetDenominator())
}

func medianText(d *pb.DurationFigure) string {
	if d.GetSamples() == 0 {
		return "- (no samples)"
	}
	return fmt.Sprintf("%s (median of %d)", human.Duration(time.Duration(d.GetMedianSeconds())*time.Second), d.GetSamples())
}

// statusRows are the obligation counts by status, with their ids.
func statusRows(label string, sc []*pb.StatusCount) [][]string {
	var rows [][]string
	for _, s := range sc {
		rows = append(rows, []string{label + " " + layout.StatusName(s.Status), fmt.Sprint(s.Count), idList(s.ObligationIds)})
	}
	return rows
}

func findingRows(fc []*pb.DeterminationCount) [][]string {
	var rows [][]string
	for _, f := range fc {
		rows = append(rows, []string{"findings " + enum.Name(f.Determination), fmt.Sprint(f.Count), idList(f.RecordIds)})
	}
	return rows
}

// textMemberCompliance shows a member's figures as a table, each with the
// obligations (or, for findings, records) it rests on.
func textMemberCompliance(w io.Writer, res *pb.GetMemberComplianceResponse) error {
	c := res.GetCompliance()
	if c == nil {
		fmt.Fprintln(w, "no compliance figures")
		return nil
	}
	writeFields(w, "", []field{{key: "member", value: c.Member}}, kvMinWidth)
	fmt.Fprintln(w)
	rows := [][]string{{"FIGURE", "VALUE", "RESTS ON"},
		{"on-time rate", rateText(c.OnTime), idList(c.GetOnTime().GetObligationIds())},
		{"overdue", fmt.Sprint(c.GetOverdue().GetCount()), idList(c.GetOverdue().GetIds())},
		{"open challenges", fmt.Sprint(c.GetOpenChallenges().GetCount()), idList(c.GetOpenChallenges().GetIds())},
		{"time to acknowledge", medianText(c.TimeToAcknowledge), idList(c.GetTimeToAcknowledge().GetObligationIds())},
		{"time to disclose", medianText(c.TimeToDisclose), idList(c.GetTimeToDisclose().GetObligationIds())},
		{"time to remediate", medianText(c.TimeToRemediate), idList(c.GetTimeToRemediate().GetObligationIds())},
		{"pledge reviews on time", rateText(c.ReviewsOnTime), idList(c.GetReviewsOnTime().GetObligationIds())},
	}
	rows = append(rows, stageRows(c.StagedReporting)...)
	rows = append(rows, statusRows("obligations", c.Obligations)...)
	rows = append(rows, findingRows(c.Findings)...)
	if err := table(w, rows); err != nil {
		return err
	}
	footer(w, res.Height, time.Time{}, "")
	return nil
}

// stageRows are the staged reporting figures: on-time rate and median
// time to file per stage.
func stageRows(stages []*pb.StageFigure) [][]string {
	var rows [][]string
	for _, f := range stages {
		name := map[pb.DisclosureStage]string{pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING: "early warning",
			pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION: "incident notification", pb.DisclosureStage_DISCLOSURE_STAGE_FINAL: "final report"}[f.Stage]
		rows = append(rows,
			[]string{name + " on time", rateText(f.OnTime), idList(f.GetOnTime().GetObligationIds())},
			[]string{"time to file " + name, medianText(f.TimeToFile), idList(f.GetTimeToFile().GetObligationIds())})
	}
	return rows
}

// textPledgeCompliance shows how a pledge's disclosure promise has been
// kept, as a table of figures with the obligations they rest on.
func textPledgeCompliance(w io.Writer, res *pb.GetPledgeComplianceResponse) error {
	c := res.GetCompliance()
	if c == nil {
		fmt.Fprintln(w, "no compliance figures")
		return nil
	}
	state := enum.Name(c.State)
	if c.StateTime != nil {
		state += " at " + c.StateTime.AsTime().UTC().Format(time.RFC3339)
	}
	writeFields(w, "", []field{{key: "pledge", value: c.PledgeId}, {key: "pledgors", value: joinOrDash(c.Pledgors)},
		{key: "state", value: strings.ReplaceAll(state, "_", " ")}}, kvMinWidth)
	fmt.Fprintln(w)
	rows := [][]string{{"FIGURE", "VALUE", "RESTS ON"},
		{"on-time rate", rateText(c.OnTime), idList(c.GetOnTime().GetObligationIds())},
		{"time to disclose", medianText(c.TimeToDisclose), idList(c.GetTimeToDisclose().GetObligationIds())},
	}
	rows = append(rows, stageRows(c.StagedReporting)...)
	rows = append(rows, statusRows("disclosures", c.DisclosureObligations)...)
	rows = append(rows, findingRows(c.Findings)...)
	if err := table(w, rows); err != nil {
		return err
	}
	footer(w, res.Height, time.Time{}, "")
	return nil
}

// --- checkpoints ------------------------------------------------------------------

// textCheckpoints lists published checkpoints and who cosigned them.
func textCheckpoints(w io.Writer, res *pb.ListCheckpointsResponse) error {
	if len(res.Checkpoints) == 0 {
		fmt.Fprintln(w, "no checkpoints")
		return nil
	}
	rows := [][]string{{"HEIGHT", "LOG SIZE", "ROOT", "COSIGNED BY"}}
	for _, cp := range res.Checkpoints {
		root := hex.EncodeToString(cp.Root)
		if len(root) > 16 {
			root = root[:16]
		}
		rows = append(rows, []string{fmt.Sprint(cp.Height), fmt.Sprint(cp.Size), orDash(root), joinOrDash(cp.Cosigners)})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s (cosignatures unverified here: verify --witness-policy checks them)\n", plural(len(res.Checkpoints), "checkpoint"))
	return nil
}

// --- governance ---------------------------------------------------------------------

func tallyText(t *pb.Tally) string {
	return fmt.Sprintf("%d/%d/%d", t.GetYes(), t.GetNo(), t.GetAbstain())
}

// textProposals lists proposals as a table.
func textProposals(w io.Writer, res *pb.ListProposalsResponse) error {
	if len(res.Proposals) == 0 {
		fmt.Fprintln(w, "no proposals")
		footer(w, res.Height, time.Time{}, res.NextPageToken)
		return nil
	}
	rows := [][]string{{"ID", "ACTION", "STATUS", "YES/NO/ABST", "DEADLINE", "TITLE"}}
	for _, p := range res.Proposals {
		rows = append(rows, []string{p.Id, ledger.GovActionName(p.Action), layout.ProposalStatusName(p.Status), tallyText(p.Tally),
			human.Time(p.Deadline), p.Title})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	count := plural(len(res.Proposals), "proposal")
	if res.NextPageToken != "" {
		count += " on this page"
	}
	fmt.Fprintln(w, count)
	footer(w, res.Height, time.Time{}, res.NextPageToken)
	return nil
}

// textProposal shows a proposal, its tally and every elector's vote.
func textProposal(w io.Writer, res *pb.GetProposalResponse) error {
	p, t := res.GetProposal(), res.GetProposal().GetTally()
	if p == nil {
		fmt.Fprintln(w, "no proposal")
		return nil
	}
	fs := []field{
		{key: "id", value: p.Id},
		{key: "title", value: p.Title},
		{key: "action", value: ledger.GovActionName(p.Action)},
		{key: "proposer", value: p.Proposer},
		{key: "status", value: layout.ProposalStatusName(p.Status)},
	}
	if p.Outcome != "" {
		fs = append(fs, field{key: "outcome", value: p.Outcome})
	}
	voting := "open"
	if p.VotingClosed {
		voting = "closed"
	}
	fs = append(fs,
		field{key: "deadline", value: fmt.Sprintf("%s (voting %s)", human.Time(p.Deadline), voting)},
		field{key: "rule", value: ruleText(p.Rule)},
		field{key: "tally", value: fmt.Sprintf("%d yes, %d no, %d abstain, %d not voted, of %d electors", t.GetYes(), t.GetNo(), t.GetAbstain(), t.GetNotVoted(), t.GetElectorate())},
		field{key: "created", value: fmt.Sprintf("%s (height %d)", human.Time(p.CreatedAt), p.CreatedHeight)},
	)
	if p.DecidedHeight > 0 {
		by := "its deadline"
		if p.DecidedBy != "" {
			by = "record " + p.DecidedBy
		}
		fs = append(fs, field{key: "decided", value: fmt.Sprintf("%s (height %d) by %s", human.Time(p.DecidedAt), p.DecidedHeight, by)})
	}
	writeFields(w, "", fs, kvMinWidth)

	fmt.Fprintln(w)
	voted := map[string]*pb.VoteState{}
	for _, v := range res.Votes {
		voted[v.Elector] = v
	}
	// The elector column is at least 12 wide, as it always was.
	rows := [][]string{{fmt.Sprintf("%-12s", "ELECTOR"), "VOTE", "COUNTED", "HEIGHT", "RECORD"}}
	for _, el := range p.Electorate {
		v := voted[el]
		if v == nil {
			rows = append(rows, []string{fmt.Sprintf("%-12s", el), "-", "-", "-", "-"})
			continue
		}
		counted := "no"
		if v.Counted {
			counted = "yes"
		}
		rows = append(rows, []string{fmt.Sprintf("%-12s", el), enum.Name(v.Option), counted, fmt.Sprint(v.Height), orDash(v.RecordId)})
	}
	if len(p.Electorate) == 0 {
		fmt.Fprintln(w, "no electors")
	} else if err := table(w, rows); err != nil {
		return err
	}
	footer(w, res.Height, time.Time{}, "")
	return nil
}

// textGovernanceRules shows the governance rules and chain parameters.
func textGovernanceRules(w io.Writer, res *pb.GetGovernanceRulesResponse) error {
	r, p := res.GetRules(), res.GetParams()
	writeFields(w, "", []field{{key: "voting period", value: fmt.Sprintf("%d to %d hours", r.GetMinVotingHours(), r.GetMaxVotingHours())}}, kvMinWidth)
	fmt.Fprintln(w)
	rows := [][]string{{"ACTION", "RULE"}}
	for _, rule := range r.GetRules() {
		rows = append(rows, []string{ledger.GovActionName(rule.Action), ruleText(rule)})
	}
	if len(rows) == 1 {
		fmt.Fprintln(w, "no rules")
	} else if err := table(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nparams:")
	writeFields(w, "  ", []field{
		{key: "max_tx_bytes", value: fmt.Sprint(p.GetMaxTxBytes())},
		{key: "max_clock_skew_seconds", value: fmt.Sprint(p.GetMaxClockSkewSeconds())},
		{key: "ack_window_hours", value: fmt.Sprint(p.GetAckWindowHours())},
	}, 0)
	footer(w, res.Height, time.Time{}, "")
	return nil
}

// --- keyring ----------------------------------------------------------------------

// textKeys lists the keyring's keys.
func textKeys(w io.Writer, infos []keyring.Info) error {
	if len(infos) == 0 {
		fmt.Fprintln(w, "no keys")
		return nil
	}
	rows := [][]string{{"NAME", "MEMBER", "KEY ID", "TYPE", "PUB KEY"}}
	for _, i := range infos {
		rows = append(rows, []string{i.Name, i.Member, i.KeyID, orDash(i.Type), orDash(i.PubKey)})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, plural(len(infos), "key"))
	return nil
}
