package cli

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/internal/human"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

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
	if tx.Body.Record.GetExercise() {
		fs = append(fs, field{key: "EXERCISE", value: "exercise traffic: its duties count apart, never in real compliance"})
	}
	if d := tx.Body.Record.GetIncidentDisclosure(); ledger.IsNearMiss(d) {
		fs = append(fs, field{key: "NEAR-MISS", value: enum.Name(d.Outcome) + ": the attack did not take effect"})
	}
	if red := ledger.RedactedRecord(tx); red != nil {
		var paths []string
		for _, f := range red.Redaction.Fields {
			paths = append(paths, f.Path)
		}
		fs = append(fs, field{key: "WITHHELD", value: fmt.Sprintf("%s (%s): %s", strings.Join(paths, ", "),
			enum.Name(red.Redaction.Basis), red.Redaction.PublicSummary)})
	}
	fs = append(fs, field{key: "record", kids: messageFields(tx.Body.Record.ProtoReflect()), nested: true})
	writeFields(w, "", fs, kvMinWidth)
	footer(w, res.Height, time.Time{}, "")
	return nil
}

// marks are the words that set a record apart in a listing: exercise
// traffic and near-misses (app version 12).
func marks(r *pb.Record) string {
	var m string
	if r.GetExercise() {
		m += " EXERCISE"
	}
	if ledger.IsNearMiss(r.GetIncidentDisclosure()) {
		m += " NEAR-MISS"
	}
	return m
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
		kind := ledger.KindNameOf(r.Kind)
		if tx, err := ledger.DecodeTx(r.Tx, 0); err == nil {
			kind += marks(tx.Body.Record)
		}
		row := []string{fmt.Sprint(r.Seq), fmt.Sprint(r.Height), human.Time(r.BlockTime), kind, r.Author, r.Id}
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
	if len(m.EncryptionKeys) > 0 {
		fmt.Fprintln(w)
		rows := [][]string{{"ENCRYPTION KEY", "STATUS", "VALID FROM", "VALID UNTIL", "AGE RECIPIENT", "ENDED BY"}}
		for _, k := range m.EncryptionKeys {
			until := "-"
			if k.ValidUntilHeight > 0 {
				until = fmt.Sprint(k.ValidUntilHeight)
			}
			rows = append(rows, []string{k.KeyId, enum.Name(k.Status), fmt.Sprint(k.ValidFromHeight), until, k.AgeRecipient, orDash(k.EndedBy)})
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

// textKeys lists the keyring's keys.
func textKeys(w io.Writer, infos []keyring.Info) error {
	if len(infos) == 0 {
		fmt.Fprintln(w, "no keys")
		return nil
	}
	rows := [][]string{{"NAME", "MEMBER", "KEY ID", "TYPE", "PUB KEY"}}
	for _, i := range infos {
		pub := i.PubKey
		if i.AgeRecipient != "" {
			pub = i.AgeRecipient
		}
		rows = append(rows, []string{i.Name, i.Member, i.KeyID, orDash(i.Type), orDash(pub)})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, plural(len(infos), "key"))
	return nil
}
