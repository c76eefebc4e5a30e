package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Hand-built answers, as a node would give them.

var textT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func hexID(c byte, n int) string { return strings.Repeat(string(c), n) }

func sampleObligations() *pb.ListObligationsResponse {
	return &pb.ListObligationsResponse{Height: 41, NextPageToken: "tok2", Obligations: []*pb.Obligation{
		{Id: hexID('a', 32), Kind: pb.ObligationKind_OBLIGATION_KIND_ACKNOWLEDGE, Debtor: "xbb", Creditors: []string{"xaa"},
			SourceRecord: hexID('1', 64), Due: ts(textT0.Add(-5 * time.Hour)), CreatedAt: ts(textT0.Add(-29 * time.Hour)),
			Status: pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE, OverdueAt: ts(textT0.Add(-5 * time.Hour))},
		{Id: hexID('b', 32), Kind: pb.ObligationKind_OBLIGATION_KIND_REPLY_CHALLENGE, Debtor: "xbb", Creditors: []string{"lumen", "xcc"},
			SourceRecord: hexID('2', 64), Due: ts(textT0.Add(52*time.Hour + 30*time.Minute)), Status: pb.ObligationStatus_OBLIGATION_STATUS_OPEN},
	}}
}

func sampleCompliance() *pb.GetMemberComplianceResponse {
	a, b, c, d := hexID('a', 32), hexID('b', 32), hexID('c', 32), hexID('d', 32)
	return &pb.GetMemberComplianceResponse{Height: 41, Compliance: &pb.MemberCompliance{
		Member: "xbb",
		Obligations: []*pb.StatusCount{
			{Status: pb.ObligationStatus_OBLIGATION_STATUS_OPEN, Count: 1, ObligationIds: []string{b}},
			{Status: pb.ObligationStatus_OBLIGATION_STATUS_MET, Count: 2, ObligationIds: []string{c, d}},
			{Status: pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE},
			{Status: pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE, Count: 1, ObligationIds: []string{a}},
			{Status: pb.ObligationStatus_OBLIGATION_STATUS_WAIVED},
		},
		OnTime:            &pb.RateFigure{Numerator: 2, Denominator: 3, BasisPoints: 6666, ObligationIds: []string{a, c, d}},
		TimeToAcknowledge: &pb.DurationFigure{MedianSeconds: 2*3600 + 15*60, Samples: 2, ObligationIds: []string{c, d}},
		TimeToDisclose:    &pb.DurationFigure{},
		TimeToRemediate:   &pb.DurationFigure{},
		Findings: []*pb.DeterminationCount{
			{Determination: pb.Determination_DETERMINATION_CONSISTENT, Count: 1, RecordIds: []string{hexID('f', 64)}},
			{Determination: pb.Determination_DETERMINATION_INCONSISTENT},
			{Determination: pb.Determination_DETERMINATION_INSUFFICIENT_EVIDENCE},
		},
		OpenChallenges: &pb.CountFigure{Count: 1, Ids: []string{b}},
		Overdue:        &pb.CountFigure{Count: 1, Ids: []string{a}},
	}}
}

func sampleTx(t *testing.T) []byte {
	t.Helper()
	tx := &pb.Tx{
		Body: &pb.TxBody{ChainId: "normledger-dev", Signer: "xaa", KeyId: "k1", Sequence: 3, Record: &pb.Record{
			SchemaVersion: 1, Tlp: pb.Tlp_TLP_GREEN, ClientTime: ts(textT0.Add(-time.Minute)),
			Body: &pb.Record_Pledge{Pledge: &pb.Pledge{
				Title: "No attacks on hospitals", Pledgors: []string{"xaa", "xbb"},
				ProtectedSectors: []pb.Sector{pb.Sector_SECTOR_HEALTH, pb.Sector_SECTOR_WATER},
				EffectiveFrom:    ts(textT0),
				Verification:     &pb.VerificationPromises{DiscloseWithinHours: 72, AcceptedVerifiers: []string{"lumen"}},
				Text:             "line one\nline two",
			}},
		}},
		Signature:    []byte{1, 2, 3},
		CoSignatures: []*pb.CoSignature{{Signer: "xbb", KeyId: "k2", Signature: []byte{4}}},
	}
	raw, err := ledger.Canonical(tx)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func sampleRecord(t *testing.T, flagged bool) *pb.GetRecordResponse {
	raw := sampleTx(t)
	id := ledger.RecordID(raw)
	res := &pb.GetRecordResponse{Height: 41, Record: &pb.StoredRecord{Id: id, Seq: 7, Height: 12, BlockTime: ts(textT0),
		Kind: pb.RecordKind_RECORD_KIND_PLEDGE, Author: "xaa", Tx: raw}}
	if flagged {
		res.Flags = []*pb.RecordFlag{{RecordId: id, Member: "xaa", KeyId: "k1", Reason: "key_compromised", CompromisedSinceHeight: 10, RevokedBy: hexID('9', 64)}}
	}
	return res
}

func sampleProposal() *pb.GetProposalResponse {
	return &pb.GetProposalResponse{Height: 41, Proposal: &pb.ProposalState{
		Id: hexID('e', 64), Proposer: "xaa", Action: pb.GovAction_GOV_ACTION_ROTATE_KEY, Title: "rotate key xbb",
		Deadline: ts(textT0.Add(72 * time.Hour)), Electorate: []string{"xaa", "xbb", "xcc"},
		Rule:  &pb.ThresholdRule{ThresholdNumerator: 2, ThresholdDenominator: 3, Electorate: []pb.MemberClass{pb.MemberClass_MEMBER_CLASS_STATE}},
		Tally: &pb.Tally{Electorate: 3, Yes: 2, NotVoted: 1}, Status: pb.ProposalStatus_PROPOSAL_STATUS_PASSED,
		CreatedHeight: 30, CreatedAt: ts(textT0), DecidedHeight: 33, DecidedAt: ts(textT0.Add(time.Minute)), DecidedBy: hexID('5', 64),
	}, Votes: []*pb.VoteState{
		{Elector: "xaa", Option: pb.VoteOption_VOTE_OPTION_YES, Counted: true, Height: 31, RecordId: hexID('6', 64)},
		{Elector: "xbb", Option: pb.VoteOption_VOTE_OPTION_YES, Counted: true, Height: 33, RecordId: hexID('7', 64)},
	}}
}

func render(t *testing.T, fn func(w *bytes.Buffer) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := fn(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// cols splits a table line on runs of two or more spaces.
func cols(line string) []string {
	return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
}

func TestTextOutputs(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  func(w *bytes.Buffer) error
		// lines, in order (each a substring of one line, successive lines
		// matching successive entries); with header the first line's columns.
		header []string
		lines  []string
		not    []string
	}{
		{
			name:   "obligations",
			out:    func(w *bytes.Buffer) error { return textObligations(w, sampleObligations(), textT0) },
			header: []string{"ID", "KIND", "DEBTOR", "CREDITOR", "STATUS", "DUE", "TIME LEFT"},
			lines: []string{
				"aaaaaaaaaaaa  acknowledge      xbb     xaa         overdue  2026-03-01T07:00:00Z  5h overdue",
				"bbbbbbbbbbbb  reply_challenge  xbb     lumen, xcc  open     2026-03-03T16:30:00Z  2d4h left",
				"2 obligations on this page, 1 overdue",
				"read at height 41 (block time 2026-03-01T12:00:00Z)",
				"more: --page-token tok2",
			},
			not: []string{"OBLIGATION_", hexID('a', 13)},
		},
		{
			name: "obligations without block time",
			out: func(w *bytes.Buffer) error {
				r := sampleObligations()
				r.NextPageToken = ""
				return textObligations(w, r, time.Time{})
			},
			header: []string{"ID", "KIND", "DEBTOR", "CREDITOR", "STATUS", "DUE"},
			lines:  []string{"overdue", "open", "2 obligations, 1 overdue", "read at height 41"},
			not:    []string{"TIME LEFT", "more:", "block time"},
		},
		{
			name:  "no obligations",
			out:   func(w *bytes.Buffer) error { return textObligations(w, &pb.ListObligationsResponse{Height: 9}, textT0) },
			lines: []string{"no obligations", "read at height 9"},
			not:   []string{"ID", "more:"},
		},
		{
			name: "one obligation",
			out: func(w *bytes.Buffer) error {
				return textObligation(w, &pb.GetObligationResponse{Height: 41, Obligation: sampleObligations().Obligations[0]}, textT0)
			},
			lines: []string{"id:         " + hexID('a', 32), "kind:       acknowledge", "debtor:     xbb", "creditors:  xaa",
				"status:     overdue", "due:        2026-03-01T07:00:00Z (5h overdue)", "source:     " + hexID('1', 64),
				"overdue at: 2026-03-01T07:00:00Z", "read at height 41"},
		},
		{
			name:   "member compliance",
			out:    func(w *bytes.Buffer) error { return textMemberCompliance(w, sampleCompliance()) },
			header: nil,
			lines: []string{
				"member:     xbb",
				"FIGURE",
				"on-time rate   ", "66.66% (2 of 3 on time)", "aaaaaaaaaaaa cccccccccccc dddddddddddd",
				"overdue", "open challenges",
				"time to acknowledge", "2h15m (median of 2)",
				"time to disclose", "- (no samples)",
				"time to remediate",
				"obligations open", "obligations met ", "obligations met_late", "obligations overdue", "obligations waived",
				"findings consistent", "ffffffffffff",
				"findings inconsistent", "findings insufficient_evidence",
				"read at height 41",
			},
			not: []string{"DETERMINATION_", "OBLIGATION_STATUS"},
		},
		{
			name: "pledge compliance",
			out: func(w *bytes.Buffer) error {
				c := sampleCompliance().Compliance
				return textPledgeCompliance(w, &pb.GetPledgeComplianceResponse{Height: 5, Compliance: &pb.PledgeCompliance{
					PledgeId: hexID('1', 64), Pledgors: []string{"xaa", "xbb"}, DisclosureObligations: c.Obligations,
					OnTime: &pb.RateFigure{}, TimeToDisclose: c.TimeToAcknowledge, Findings: c.Findings}})
			},
			lines: []string{"pledge:     " + hexID('1', 64), "pledgors:   xaa, xbb", "FIGURE", "on-time rate", "- (nothing due yet)",
				"time to disclose", "2h15m (median of 2)", "disclosures open", "read at height 5"},
		},
		{
			name: "many ids are cut short",
			out: func(w *bytes.Buffer) error {
				return table(w, [][]string{{"X", idList(strings.Split(strings.Repeat("abc ", 12), " ")[:12])}})
			},
			lines: []string{"abc abc abc abc abc abc abc abc abc abc ... +2 more (-o json lists all)"},
		},
		{
			name: "records",
			out: func(w *bytes.Buffer) error {
				r := sampleRecord(t, true)
				return textRecords(w, &pb.ListRecordsResponse{Height: 41, Records: []*pb.StoredRecord{r.Record,
					{Id: hexID('3', 64), Seq: 8, Height: 13, BlockTime: ts(textT0.Add(time.Second)), Kind: pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE, Author: "xbb"}},
					Flags: r.Flags, NextPageToken: "p3"})
			},
			header: []string{"SEQ", "HEIGHT", "TIME", "KIND", "AUTHOR", "ID"},
			lines: []string{"7    12      2026-03-01T12:00:00Z  pledge               xaa", "FLAGGED: signing key revoked as compromised",
				"8    13      2026-03-01T12:00:01Z  incident_disclosure  xbb     " + hexID('3', 64),
				"2 records on this page, 1 flagged", "read at height 41", "more: --page-token p3"},
			not: []string{"RECORD_KIND"},
		},
		{
			name:  "no records",
			out:   func(w *bytes.Buffer) error { return textRecords(w, &pb.ListRecordsResponse{Height: 3}) },
			lines: []string{"no records", "read at height 3"},
		},
		{
			name: "record",
			out:  func(w *bytes.Buffer) error { return textRecord(w, sampleRecord(t, true)) },
			lines: []string{
				"id:         " + sampleRecord(t, false).Record.Id,
				"kind:       pledge",
				"author:     xaa (key k1, sequence 3)",
				"co-signers: xbb (key k2)",
				"ledger seq: 7",
				"height:     12",
				"block time: 2026-03-01T12:00:00Z",
				"chain:      normledger-dev",
				"WARNING:    key_compromised: key k1 of xaa was revoked as compromised since height 10",
				"record:",
				"  schema_version: 1",
				"  tlp:            green",
				"  client_time:    2026-03-01T11:59:00Z",
				"  pledge:",
				"    title:             No attacks on hospitals",
				"    pledgors:          xaa, xbb",
				"    protected_sectors: health, water",
				"    effective_from:    2026-03-01T12:00:00Z",
				"    verification:",
				"      disclose_within_hours: 72",
				"      accepted_verifiers:    lumen",
				"    text:              line one",
				"                       line two",
				"read at height 41",
			},
			not: []string{"TLP_", "SECTOR_", "{"},
		},
		{
			name: "members",
			out: func(w *bytes.Buffer) error {
				return textMembers(w, &pb.ListMembersResponse{Height: 41, Members: []*pb.Member{
					{Id: "xaa", Class: pb.MemberClass_MEMBER_CLASS_STATE, Status: pb.MemberStatus_MEMBER_STATUS_ACTIVE, CountryCode: "XAA",
						Name: "Republic of Xaa", Roles: []string{"governance"}, ValidatorPower: 10,
						Keys: []*pb.MemberKey{{KeyId: "k1", Status: pb.KeyStatus_KEY_STATUS_ACTIVE}, {KeyId: "k0", Status: pb.KeyStatus_KEY_STATUS_ROTATED}}},
					{Id: "observatory", Class: pb.MemberClass_MEMBER_CLASS_NEUTRAL_BODY, Status: pb.MemberStatus_MEMBER_STATUS_SUSPENDED, Name: "Observatory"},
				}})
			},
			header: []string{"ID", "CLASS", "STATUS", "COUNTRY", "KEYS", "VALIDATOR", "ROLES", "NAME"},
			lines: []string{"xaa          state         active     XAA      1     power 10   governance  Republic of Xaa",
				"observatory  neutral_body  suspended  -        0     -          -           Observatory",
				"2 members", "read at height 41"},
			not: []string{"MEMBER_CLASS"},
		},
		{
			name: "member",
			out: func(w *bytes.Buffer) error {
				return textMember(w, &pb.GetMemberResponse{Height: 41, NextSequence: 4, Member: &pb.Member{
					Id: "xbb", Class: pb.MemberClass_MEMBER_CLASS_STATE, Status: pb.MemberStatus_MEMBER_STATUS_ACTIVE, Name: "Xbb",
					PointOfContact: &pb.PointOfContact{Name: "Duty officer", Email: "cert@xbb.example"},
					Keys: []*pb.MemberKey{{KeyId: "k2", PubKey: []byte{0xab, 0xcd}, Status: pb.KeyStatus_KEY_STATUS_REVOKED, ValidFromHeight: 5,
						ValidUntilHeight: 20, CompromisedSinceHeight: 12, EndedBy: hexID('8', 64)}},
					History: []*pb.MemberChange{{Height: 20, Time: ts(textT0), RecordId: hexID('8', 64), Change: "key k2 revoked"}},
				}})
			},
			lines: []string{"id:         xbb", "name:       Xbb", "class:      state", "status:     active", "country:    -",
				"contact:    Duty officer, cert@xbb.example", "next seq:   4",
				"KEY ID  STATUS   VALID FROM  VALID UNTIL  COMPROMISED SINCE  PUB KEY  ENDED BY",
				"k2      revoked  5           20           height 12          abcd     " + hexID('8', 64),
				"HEIGHT  TIME                  CHANGE          RECORD",
				"20      2026-03-01T12:00:00Z  key k2 revoked  " + hexID('8', 64),
				"read at height 41"},
		},
		{
			name: "checkpoints",
			out: func(w *bytes.Buffer) error {
				return textCheckpoints(w, &pb.ListCheckpointsResponse{Checkpoints: []*pb.CheckpointInfo{{Height: 40, Size: 99, Root: bytes.Repeat([]byte{0xee}, 32), Cosigners: []string{"w1", "w2"}}, {Height: 30, Size: 80}}})
			},
			header: []string{"HEIGHT", "LOG SIZE", "ROOT", "COSIGNED BY"},
			lines:  []string{"40      99        eeeeeeeeeeeeeeee  w1, w2", "30      80        -                 -", "2 checkpoints (cosignatures unverified here"},
		},
		{
			name:  "no checkpoints",
			out:   func(w *bytes.Buffer) error { return textCheckpoints(w, &pb.ListCheckpointsResponse{}) },
			lines: []string{"no checkpoints"},
		},
		{
			name: "proposals",
			out: func(w *bytes.Buffer) error {
				return textProposals(w, &pb.ListProposalsResponse{Height: 41, Proposals: []*pb.ProposalState{sampleProposal().Proposal}})
			},
			header: []string{"ID", "ACTION", "STATUS", "YES/NO/ABST", "DEADLINE", "TITLE"},
			lines:  []string{hexID('e', 64) + "  rotate_key  passed  2/0/0        2026-03-04T12:00:00Z  rotate key xbb", "1 proposal", "read at height 41"},
			not:    []string{"GOV_ACTION", "PROPOSAL_STATUS"},
		},
		{
			name:  "no proposals",
			out:   func(w *bytes.Buffer) error { return textProposals(w, &pb.ListProposalsResponse{Height: 2}) },
			lines: []string{"no proposals", "read at height 2"},
		},
		{
			name: "proposal",
			out:  func(w *bytes.Buffer) error { return textProposal(w, sampleProposal()) },
			lines: []string{"id:         " + hexID('e', 64), "title:      rotate key xbb", "action:     rotate_key", "proposer:   xaa",
				"status:     passed", "deadline:   2026-03-04T12:00:00Z (voting open)",
				"rule:       >= 2/3 yes of active state members with the governance role",
				"tally:      2 yes, 0 no, 0 abstain, 1 not voted, of 3 electors",
				"created:    2026-03-01T12:00:00Z (height 30)",
				"decided:    2026-03-01T12:01:00Z (height 33) by record " + hexID('5', 64),
				"ELECTOR       VOTE  COUNTED  HEIGHT  RECORD",
				"xaa           yes   yes      31      " + hexID('6', 64),
				// The e2e test (cmd/normledger) looks for exactly this.
				"xbb           yes",
				"xcc           -     -        -       -",
				"read at height 41"},
			not: []string{"VOTE_OPTION"},
		},
		{
			name: "governance rules",
			out: func(w *bytes.Buffer) error {
				return textGovernanceRules(w, &pb.GetGovernanceRulesResponse{Height: 41,
					Rules: &pb.GovernanceRules{MinVotingHours: 24, MaxVotingHours: 720, Rules: []*pb.ThresholdRule{
						{Action: pb.GovAction_GOV_ACTION_ADD_MEMBER, ThresholdNumerator: 2, ThresholdDenominator: 3, Electorate: []pb.MemberClass{pb.MemberClass_MEMBER_CLASS_STATE}},
						{Action: pb.GovAction_GOV_ACTION_SET_GOVERNANCE_RULES, Unanimous: true, Electorate: []pb.MemberClass{pb.MemberClass_MEMBER_CLASS_STATE}},
					}},
					Params: &pb.Params{MaxTxBytes: 65536, MaxClockSkewSeconds: 30, AckWindowHours: 24}})
			},
			lines: []string{"voting period: 24 to 720 hours", "ACTION                RULE",
				"add_member            >= 2/3 yes", "set_governance_rules  unanimous", "params:",
				"  max_tx_bytes:           65536", "  max_clock_skew_seconds: 30", "  ack_window_hours:       24", "read at height 41"},
		},
		{
			name: "keys",
			out: func(w *bytes.Buffer) error {
				return textKeys(w, []keyring.Info{{Name: "xaa", Member: "xaa", KeyID: "k1", PubKey: "abcd", Type: "ed25519"}, {Name: "xbb-2", Member: "xbb", KeyID: "k2", PubKey: "ef01", Type: "ed25519"}})
			},
			header: []string{"NAME", "MEMBER", "KEY ID", "TYPE", "PUB KEY"},
			lines:  []string{"xaa    xaa     k1      ed25519  abcd", "xbb-2  xbb     k2      ed25519  ef01", "2 keys"},
		},
		{
			name:  "no keys",
			out:   func(w *bytes.Buffer) error { return textKeys(w, nil) },
			lines: []string{"no keys"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, tc.out)
			t.Logf("\n%s", out)
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if tc.header != nil {
				if got := cols(lines[0]); strings.Join(got, "|") != strings.Join(tc.header, "|") {
					t.Errorf("header %q, want %q", got, tc.header)
				}
			}
			i := 0
			for _, want := range tc.lines {
				for i < len(lines) && !strings.Contains(lines[i], want) {
					i++
				}
				if i == len(lines) {
					t.Fatalf("no line (in order) containing %q in:\n%s", want, out)
				}
			}
			for _, bad := range tc.not {
				if strings.Contains(out, bad) {
					t.Errorf("output contains %q:\n%s", bad, out)
				}
			}
		})
	}
}

// One table line per item, and an overdue obligation is visible at a glance.
func TestTextObligationsRows(t *testing.T) {
	res := sampleObligations()
	out := render(t, func(w *bytes.Buffer) error { return textObligations(w, res, textT0) })
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	// header, one per obligation, count, height, more.
	if len(lines) != 1+len(res.Obligations)+3 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for i, o := range res.Obligations {
		c := cols(lines[1+i])
		if c[0] != shortID(o.Id) || c[1] != enum.Name(o.Kind) || c[4] != layout.StatusName(o.Status) {
			t.Errorf("row %d: %q", i, c)
		}
	}
	if !strings.HasSuffix(lines[1], "5h overdue") {
		t.Errorf("overdue row: %q", lines[1])
	}
}

// The commands print text through the functions above and, with -o json,
// exactly what they printed before.
func TestQueryCommandsOutput(t *testing.T) {
	rec := sampleRecord(t, false)
	answers := map[string]proto.Message{
		"/v1/obligations":              sampleObligations(),
		"/v1/compliance/xbb":           sampleCompliance(),
		"/v1/members":                  &pb.ListMembersResponse{Height: 41, Members: []*pb.Member{{Id: "xaa", Class: pb.MemberClass_MEMBER_CLASS_STATE, Name: "Xaa"}}},
		"/v1/members/xaa":              &pb.GetMemberResponse{Height: 41, Member: &pb.Member{Id: "xaa", Class: pb.MemberClass_MEMBER_CLASS_STATE, Name: "Xaa"}},
		"/v1/records/" + rec.Record.Id: rec,
		"/v1/proposals":                &pb.ListProposalsResponse{Height: 41, Proposals: []*pb.ProposalState{sampleProposal().Proposal}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, ok := answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		bz, _ := protojson.Marshal(m)
		w.Header().Set("Content-Type", "application/json")
		w.Write(bz)
	}))
	defer srv.Close()
	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		root := NewRootCmd(&out, &errOut, strings.NewReader(""))
		root.SetArgs(append(args, "--home", t.TempDir(), "--node", srv.URL))
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	mustJSON := func(m proto.Message) string {
		bz, err := pj.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(bz) + "\n"
	}
	var membersJSON bytes.Buffer
	printJSON(&membersJSON, []any{protoJSON(answers["/v1/members"].(*pb.ListMembersResponse).Members[0])})
	recView, err := viewOf(rec.Record, nil)
	if err != nil {
		t.Fatal(err)
	}
	var recJSON bytes.Buffer
	printJSON(&recJSON, recView)
	for _, tc := range []struct {
		args       []string
		json, text string
	}{
		{[]string{"query", "obligations"}, string(protoJSON(answers["/v1/obligations"])) + "\n", "2 obligations on this page, 1 overdue"},
		{[]string{"query", "compliance", "xbb"}, mustJSON(answers["/v1/compliance/xbb"]), "66.66% (2 of 3 on time)"},
		{[]string{"query", "members"}, membersJSON.String(), "1 member"},
		{[]string{"query", "member", "xaa"}, mustJSON(answers["/v1/members/xaa"].(*pb.GetMemberResponse).Member), "class:      state"},
		{[]string{"query", "record", rec.Record.Id}, recJSON.String(), "    title:             No attacks on hospitals"},
		{[]string{"query", "proposals"}, string(protoJSON(answers["/v1/proposals"])) + "\n", "1 proposal"},
	} {
		if got := run(append(tc.args, "-o", "json")...); got != tc.json {
			t.Errorf("%v -o json:\n%s\nwant:\n%s", tc.args, got, tc.json)
		}
		if got := run(tc.args...); !strings.Contains(got, tc.text) {
			t.Errorf("%v:\n%s\nwant a line with %q", tc.args, got, tc.text)
		}
	}
}
