package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The contact directory (docs/directory.md): tx contact, ping,
// ping-answer, delivery-failure; query directory, ping; verify contact,
// ping.

func directoryTxCmds(e *env) []*cobra.Command {
	var cf sendFlags
	var file, replaces string
	var reconfirm, ctrustNode bool
	var cwitnesses []string
	ctf := &trustFlags{}
	contact := &cobra.Command{
		Use:   "contact --from KEY (--file CONTACT.json | --reconfirm)",
		Short: "Set or reconfirm your own directory entry (contact points)",
		Long: `contact files a contact update: your member's whole directory entry, one
point per role (diplomatic, technical, policy), read from --file as the
protojson of a ContactUpdate, e.g.

  {"points": [{"role": "CONTACT_ROLE_TECHNICAL", "name": "Duty officer",
    "organisation": "National CERT", "languages": ["en"], "hours": "24/7",
    "channels": [{"type": "CHANNEL_TYPE_PHONE", "address": "+99 555 0100"},
                 {"type": "CHANNEL_TYPE_EMAIL", "address": "cert@xaa.example"}]}]}

--reconfirm files the entry in force again (the yearly reconfirmation): it
is read from your member entry proven against a light-client-verified header
(trust root and --witness as for tx seal; --trust-node takes the node's
word), so a node cannot have you sign addresses of its own, and printed
before it is filed. The update names the entry it replaces (read from the
node unless --replaces is given); the ledger refuses it if another update
came first.

Exit status as for tx submit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (file == "") == !reconfirm {
				return errors.New("give --file or --reconfirm (one of them)")
			}
			s, c, err := e.signerClient(cf.from)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			var m *pb.Member
			u := new(pb.ContactUpdate)
			if reconfirm {
				ms, err := e.recipientEntries(ctx, c, []string{s.Member}, ctrustNode, cwitnesses, ctf)
				if err != nil {
					return err
				}
				m = ms[0]
				if m.GetDirectory() == nil {
					return fmt.Errorf("%s has no directory entry to reconfirm: file one with --file", s.Member)
				}
				u.Points, u.Statement = m.Directory.Points, "Reconfirmed."
				fmt.Fprintf(e.err, "reconfirming the entry of %s set by %s:\n", s.Member, m.Directory.UpdateId)
				for _, p := range m.Directory.Points {
					fmt.Fprintf(e.err, "  %s: %s (%s)\n", enum.Name(p.Role), p.Name, channels(p))
				}
			} else {
				if m, err = c.Member(ctx, s.Member); err != nil {
					return err
				}
				bz, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				if err := protojson.Unmarshal(bz, u); err != nil {
					return fmt.Errorf("%s: not a contact update: %w", file, err)
				}
			}
			u.Replaces = replaces
			if u.Replaces == "" {
				u.Replaces = m.GetDirectory().GetUpdateId()
			}
			raw, err := c.Sign(ctx, &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_ContactUpdate{ContactUpdate: u}}, s, nil)
			if err != nil {
				return err
			}
			return e.sendSigned(ctx, c, raw, cf.generateOnly, cf.mode)
		},
	}
	cf.add(contact)
	contact.Flags().StringVar(&file, "file", "", "contact update JSON file")
	contact.Flags().BoolVar(&reconfirm, "reconfirm", false, "file the entry in force again")
	contact.Flags().StringVar(&replaces, "replaces", "", "the update in force (default: as the node says)")
	contact.Flags().StringArrayVar(&cwitnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable; --reconfirm)")
	contact.Flags().BoolVar(&ctrustNode, "trust-node", false, "with --reconfirm, take the entry from --node without proofs")
	ctf.add(contact, false)

	var pf sendFlags
	var to, witnesses []string
	var role, channelType, noncesOut, statement string
	var answerIn time.Duration
	var trustNode bool
	tf := &trustFlags{}
	ping := &cobra.Command{
		Use:   "ping --from KEY --to xbb[,xcc...] [--role technical] [--answer-in 24h]",
		Short: "Test that members' registered channels work: a nonce each, sent out of band",
		Long: `ping draws a fresh random nonce for each --to member, commits to it in a
ping record naming the member's registered channel (the first of --role,
and of --channel-type if given), and files it. Each target owes an answer
with its nonce by --answer-in from now.

The nonces are NOT on the ledger: this command prints each one with the
channel it must travel through, and keeps them in --nonces-out (default
<home>/pings/<record id>.json, mode 0600). The operator sends each nonce
through that channel (the email, the phone call, the secure messenger) and
nothing else; the target's operator answers with 'tx ping-answer'. An
answer proves the channel carried the nonce, not only that a signing key is
online. If a delivery fails (bounce, no answer on the phone), record it
with 'tx delivery-failure'.

The targets' entries are read from member entries proven against a header
the light client verified (as for tx seal; --trust-node takes the node's
word). Pinging more than one member needs the "directory" role.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, ok := enum.Value(pb.ContactRole(0).Descriptor(), role)
			if !ok || r == 0 {
				return fmt.Errorf("--role %q: want one of diplomatic, technical, policy", role)
			}
			var ct pb.ChannelType
			if channelType != "" {
				n, ok := enum.Value(pb.ChannelType(0).Descriptor(), channelType)
				if !ok || n == 0 {
					return fmt.Errorf("--channel-type %q: want one of email, phone, secure_messaging, fax, web", channelType)
				}
				ct = pb.ChannelType(n)
			}
			s, c, err := e.signerClient(pf.from)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			ids := splitList(to)
			ms, err := e.recipientEntries(ctx, c, ids, trustNode, witnesses, tf)
			if err != nil {
				return err
			}
			sends, err := client.PingTo(ms, ids, pb.ContactRole(r), ct)
			if err != nil {
				return err
			}
			p := &pb.Ping{AnswerBy: timestamppb.New(time.Now().Add(answerIn).Truncate(time.Second)), Statement: statement}
			for _, sd := range sends {
				p.Targets = append(p.Targets, sd.Target())
			}
			raw, err := c.Sign(ctx, &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_Ping{Ping: p}}, s, nil)
			if err != nil {
				return err
			}
			id := ledger.RecordID(raw)
			path := noncesOut
			if path == "" {
				path = filepath.Join(e.cfg.Home, "pings", id+".json")
			}
			bz, err := json.MarshalIndent(map[string]any{"ping_id": id, "answer_by": p.AnswerBy.AsTime().UTC(), "targets": sends}, "", "  ")
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			if err := atomicfile.WriteFile(path, append(bz, '\n'), 0o600); err != nil {
				return fmt.Errorf("keep the nonces before filing: %w", err)
			}
			fmt.Fprintf(e.err, "ping %s: send each nonce through its channel only (kept in %s):\n", id, path)
			for _, sd := range sends {
				fmt.Fprintf(e.err, "  %-12s %s %s %s: %s\n", sd.Member, sd.Role, sd.Channel, sd.Address, sd.Nonce)
			}
			return e.sendSigned(ctx, c, raw, pf.generateOnly, pf.mode)
		},
	}
	pf.add(ping)
	ping.Flags().StringSliceVar(&to, "to", nil, "member ids to ping (required)")
	ping.Flags().StringVar(&role, "role", "technical", "contact point to ping: diplomatic, technical or policy")
	ping.Flags().StringVar(&channelType, "channel-type", "", "channel type to use (default: the point's first channel)")
	ping.Flags().DurationVar(&answerIn, "answer-in", 24*time.Hour, "the answers are owed this long after now (at most 30 days)")
	ping.Flags().StringVar(&noncesOut, "nonces-out", "", "where to keep the nonces")
	ping.Flags().StringVar(&statement, "statement", "", "free text for the record")
	ping.Flags().StringArrayVar(&witnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable)")
	ping.Flags().BoolVar(&trustNode, "trust-node", false, "take the targets' entries from --node without proofs")
	tf.add(ping, true)
	_ = ping.MarkFlagRequired("to")

	var af sendFlags
	var nonce, answerStatement string
	pingAnswer := &cobra.Command{
		Use:   "ping-answer PING_ID --from KEY --nonce NONCE",
		Short: "Answer a ping with the nonce your channel received",
		Long: `ping-answer files the nonce that reached your registered channel (as the
pinger's operator sent it: base32 in groups of five; case, spaces and dashes
do not matter). The ledger checks it against the ping's commitment for your
member; a wrong nonce is refused (nonce_mismatch) and leaves the duty open.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := client.ParseNonce(nonce)
			if err != nil {
				return fmt.Errorf("--nonce: %w", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return e.signAndSend(ctx, af.from, &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_PingAnswer{PingAnswer: &pb.PingAnswer{
				PingId: strings.ToLower(args[0]), Nonce: n, Statement: answerStatement}}}, af.generateOnly, af.mode)
		},
	}
	af.add(pingAnswer)
	pingAnswer.Flags().StringVar(&nonce, "nonce", "", "the nonce received (required)")
	pingAnswer.Flags().StringVar(&answerStatement, "statement", "", "free text for the record")
	_ = pingAnswer.MarkFlagRequired("nonce")

	var ff sendFlags
	var target, reason string
	failure := &cobra.Command{
		Use:   "delivery-failure PING_ID --from KEY --target MEMBER --reason TEXT",
		Short: "Record that a ping's nonce could not be delivered through the target's channel",
		Long: `delivery-failure records, as the pinger, that the nonce for --target did not
get through its registered channel (a bounce, an unanswered phone). The
target's entry is marked stale at once, and it owes an update of its entry
within 30 days.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return e.signAndSend(ctx, ff.from, &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Body: &pb.Record_DeliveryFailure{DeliveryFailure: &pb.DeliveryFailure{
				PingId: strings.ToLower(args[0]), Target: target, Reason: reason}}}, ff.generateOnly, ff.mode)
		},
	}
	ff.add(failure)
	failure.Flags().StringVar(&target, "target", "", "the member the nonce did not reach (required)")
	failure.Flags().StringVar(&reason, "reason", "", "what happened (required)")
	_ = failure.MarkFlagRequired("target")
	_ = failure.MarkFlagRequired("reason")
	return []*cobra.Command{contact, ping, pingAnswer, failure}
}

// signerClient is keyring key from's signer and the node's client.
func (e *env) signerClient(from string) (ledger.Signer, *client.Client, error) {
	s, err := e.signer(from)
	if err != nil {
		return ledger.Signer{}, nil, err
	}
	c, err := e.client()
	return s, c, err
}

// verifyDirectoryCmds are verify contact and verify ping.
func verifyDirectoryCmds(e *env) []*cobra.Command {
	var witnesses []string
	var at int64
	tf := &trustFlags{}
	contact := &cobra.Command{
		Use:   "contact MEMBER [--height H]",
		Short: "Prove a member's directory entry at a height and when it was last confirmed",
		Long: `verify contact proves MEMBER's entry in the member registry at --height
(default: the newest attested) against a header the light client verified,
and judges it stale or not at that block's time, read from the verified
header (the same rule the ledger's directory uses).

Exit status: 0 verified (stale or not: the output says); 4 not verified;
1 other errors.`,
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
			cs, h, t, err := v.Contact(ctx, args[0])
			if err != nil {
				return verifyExit(err)
			}
			if e.cfg.Output == "json" {
				return printJSON(e.out, map[string]any{"verified": true, "height": h, "time": t.UTC(), "contact": json.RawMessage(mustJSON(cs))})
			}
			fmt.Fprintf(e.out, "VERIFIED: the directory entry of %s at height %d (block time %s), proven against a light-client-verified header\n",
				cs.Member, h, t.UTC().Format(time.RFC3339))
			return textContact(e.out, cs)
		},
	}
	contact.Flags().StringArrayVar(&witnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable, at least one)")
	contact.Flags().Int64Var(&at, "height", 0, "state height to prove the entry at (default: the newest attested)")
	tf.add(contact, true)

	var pwitnesses []string
	var pingAt int64
	ptf := &trustFlags{}
	ping := &cobra.Command{
		Use:   "ping ID",
		Short: "Prove who answered a ping, and that the others did not",
		Long: `verify ping verifies the ping record, then proves every target's answer duty
at one height (--height, default: the newest the node attests), whose block
time it reads from the light-client-verified header: a met duty names the
answer record, which is verified too and whose nonce is checked against the
ping's commitment here; an open or overdue duty proves that no answer was
accepted by that height (an accepted answer meets it in its own block). It
says NO ANSWER only when that block's time is at or after the ping's
answer_by: a node cannot pass off an early state as the outcome.

Exit status: 0 verified; 4 not verified; 1 other errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			v, done, err := e.verifier(ctx, pwitnesses, ptf, nil)
			if err != nil {
				return err
			}
			defer done()
			id := strings.ToLower(args[0])
			ptx, err := verifiedTx(ctx, v, id)
			if err != nil {
				return verifyExit(err)
			}
			p := ptx.GetBody().GetRecord().GetPing()
			if p == nil {
				return &exitError{code: ExitUnverified, err: fmt.Errorf("record %s is not a ping", id)}
			}
			due := p.AnswerBy.AsTime()
			fmt.Fprintf(e.out, "VERIFIED: ping %s by %s, answers due %s\n", id, ptx.Body.Signer, due.UTC().Format(time.RFC3339))
			// Every duty at one height, whose verified block time says
			// whether the answer window had closed.
			v.At = pingAt
			var at time.Time
			for _, t := range p.Targets {
				ob, h, err := v.Obligation(ctx, ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING, id, t.Member))
				if err != nil {
					return verifyExit(err)
				}
				if at.IsZero() {
					lb, err := v.Light.Header(ctx, h)
					if err != nil {
						return verifyExit(err)
					}
					v.At, at = h, lb.Time
					fmt.Fprintf(e.out, "  answer duties proven at height %d (block time %s)\n", h, at.UTC().Format(time.RFC3339))
				}
				if ledger.Open(ob) {
					if at.Before(due) {
						fmt.Fprintf(e.out, "  %-12s no answer yet at height %d (the window is open until %s): its answer duty %s is %s (proven)\n",
							t.Member, h, due.UTC().Format(time.RFC3339), ob.Id, layout.StatusName(ob.Status))
						continue
					}
					fmt.Fprintf(e.out, "  %-12s NO ANSWER by %s (none accepted up to height %d): its answer duty %s is %s (proven)\n",
						t.Member, due.UTC().Format(time.RFC3339), h, ob.Id, layout.StatusName(ob.Status))
					continue
				}
				if ob.Status == pb.ObligationStatus_OBLIGATION_STATUS_WAIVED {
					fmt.Fprintf(e.out, "  %-12s waived by %s (proven at height %d)\n", t.Member, ob.StatusRecord, h)
					continue
				}
				atx, err := verifiedTx(ctx, v, ob.StatusRecord)
				if err != nil {
					return verifyExit(err)
				}
				an := atx.GetBody().GetRecord().GetPingAnswer()
				if an == nil || an.PingId != id || atx.Body.Signer != t.Member || !bytes.Equal(ledger.PingCommitment(t.Member, an.Nonce), t.Commitment) {
					return &exitError{code: ExitUnverified, err: fmt.Errorf("%s: record %s that met the duty is not its answer with the committed nonce", t.Member, ob.StatusRecord)}
				}
				fmt.Fprintf(e.out, "  %-12s answered %s with the nonce sent through %s %s (%s, proven)\n", t.Member,
					layout.StatusName(ob.Status), enum.Name(t.Channel.GetType()), t.Channel.GetAddress(), ob.StatusRecord)
			}
			return nil
		},
	}
	ping.Flags().StringArrayVar(&pwitnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable, at least one)")
	ping.Flags().Int64Var(&pingAt, "height", 0, "state height to prove the answer duties at (default: the newest attested)")
	ptf.add(ping, true)
	return []*cobra.Command{contact, ping}
}

func mustJSON(m proto.Message) []byte {
	bz, err := pj.Marshal(m)
	if err != nil {
		return []byte("null")
	}
	return bz
}

// directoryQueries are query directory and query ping.
func directoryQueries(e *env, withClient func(*cobra.Command, func(context.Context, *client.Client) error) error) []*cobra.Command {
	var height int64
	directory := &cobra.Command{
		Use: "directory", Short: "The contact directory: every member's contact points, stale or not at the block time", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Directory(ctx, height, false)
				if err != nil {
					return err
				}
				return e.answer(res, func() error { return textDirectory(e.out, res) })
			})
		},
	}
	directory.Flags().Int64Var(&height, "height", 0, "state height (default: the newest attested)")
	ping := &cobra.Command{
		Use: "ping ID", Short: "Who a ping tested, who answered and when, and failed deliveries", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.PingStatus(ctx, args[0], 0)
				if err != nil {
					return notFound(err)
				}
				return e.answer(res, func() error { return textPingStatus(e.out, res) })
			})
		},
	}
	return []*cobra.Command{directory, ping}
}
