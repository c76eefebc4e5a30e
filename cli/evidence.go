package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// verifyStatementCmd proves a collective statement (app version 12,
// docs/evidence.md): the proposal record that carries its text, that the
// text digest is the text's, and the proposal's state and every elector's
// vote at one verified height.
func verifyStatementCmd(e *env) *cobra.Command {
	var witnesses []string
	var at int64
	tf := &trustFlags{}
	cmd := &cobra.Command{
		Use:   "statement PROPOSAL_ID [--height H]",
		Short: "Prove a collective statement: its text, its digest, its adoption and every elector's vote",
		Long: `verify statement verifies the adopt_statement proposal record (its
signature and inclusion, as verify record does), checks that the statement's
text_digest is SHA-256 of its text, and proves the proposal's state and
every elector's vote (or that the elector did not vote) at --height
(default: the newest attested) against a light-client-verified header.
It says ADOPTED only when the proven proposal passed.

The text is printed after the vote table, each line behind "| " and with
control characters escaped, so that no text can pass for a verdict line.

Exit status: 0 verified and adopted; 3 the proposal record is proven absent;
4 not verified, not a statement, or not (yet) adopted; 1 other errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := strings.ToLower(args[0])
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			v, done, err := e.verifier(ctx, witnesses, tf, nil)
			if err != nil {
				return err
			}
			defer done()
			res, b, err := v.Record(ctx, id)
			if err != nil {
				return verifyExit(err)
			}
			tx, err := bundleTx(b)
			if err != nil {
				return err
			}
			st := tx.Body.Record.GetProposal().GetAction().GetAdoptStatement()
			if st == nil {
				return &exitError{code: ExitUnverified, err: fmt.Errorf("record %s is not an adopt_statement proposal", id)}
			}
			sum := sha256.Sum256([]byte(st.Text))
			digestOK := bytes.Equal(sum[:], st.TextDigest)
			// The proposal at the record's answer height, unless asked for another.
			v.At = at
			if at == 0 {
				v.At = res.Height
			}
			p, votes, h, err := v.Proposal(ctx, id)
			if err != nil {
				return verifyExit(err)
			}
			adopted := p.Status == pb.ProposalStatus_PROPOSAL_STATUS_PASSED
			if e.cfg.Output == "json" {
				var vs []json.RawMessage
				for _, vt := range votes {
					vs = append(vs, mustJSON(vt))
				}
				if err := printJSON(e.out, map[string]any{"verified": true, "height": h, "proposal": json.RawMessage(mustJSON(p)),
					"votes": vs, "title": st.Title, "text": st.Text, "text_digest": hex.EncodeToString(st.TextDigest),
					"digest_matches": digestOK, "adopted": adopted}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(e.out, "VERIFIED: statement proposal %s (record at height %d) and its %d electors' positions at height %d\n",
					id, res.RecordHeight, len(p.Electorate), h)
				switch {
				case !digestOK:
					fmt.Fprintf(e.out, "DIGEST MISMATCH: text_digest %x is not SHA-256 of the text (%x)\n", st.TextDigest, sum)
				case adopted:
					fmt.Fprintf(e.out, "ADOPTED: %q at height %d (%s); text digest %x matches\n", st.Title, p.DecidedHeight,
						p.DecidedAt.AsTime().UTC().Format(time.RFC3339), st.TextDigest)
				default:
					fmt.Fprintf(e.out, "NOT ADOPTED: the proposal is %s\n", enum.Name(p.Status))
				}
				voted := map[string]*pb.VoteState{}
				for _, vt := range votes {
					voted[vt.Elector] = vt
				}
				rows := [][]string{{"ELECTOR", "VOTE", "COUNTED", "RECORD"}}
				for _, el := range p.Electorate {
					if vt := voted[el]; vt != nil {
						rows = append(rows, []string{el, enum.Name(vt.Option), fmt.Sprint(vt.Counted), vt.RecordId})
					} else {
						rows = append(rows, []string{el, "did not vote (proven)", "-", "-"})
					}
				}
				if err := table(e.out, rows); err != nil {
					return err
				}
				fmt.Fprintf(e.out, "\ntext (%d bytes):\n", len(st.Text))
				for _, line := range strings.Split(st.Text, "\n") {
					fmt.Fprintf(e.out, "| %s\n", quoteControls(line))
				}
			}
			if !digestOK || !adopted {
				return &exitError{code: ExitUnverified, err: fmt.Errorf("statement %s is not adopted with a matching digest", id)}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&witnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable, at least one)")
	cmd.Flags().Int64Var(&at, "height", 0, "prove the proposal at this height (default: the newest attested)")
	tf.add(cmd, true)
	return cmd
}

// quoteControls escapes the control characters of s (a carriage return
// could otherwise overwrite a verdict on a terminal).
func quoteControls(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
