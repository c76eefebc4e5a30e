package ledger_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// govNet drives the ledger's Apply and BeginBlock over a memState, one
// block at a time, the way the app does.
type govNet struct {
	t      *testing.T
	st     *memState
	reg    *ledger.Registry
	keys   map[string]ed25519.PrivKey
	seq    map[string]uint64
	height int64
	now    time.Time
	params *pb.Params
	// before, when set, sees each block start's and each accepted tx's
	// changes before they are written (the transcripts print them
	// against the state they change).
	before func(ch *ledger.Changes)
}

var gt0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// newGovNet has states xaa.. (each with the governance role), the neutral
// body and the verifier; the first `validators` states run a validator of
// power 10.
func newGovNet(t *testing.T, states, validators int, rules *pb.GovernanceRules) *govNet {
	t.Helper()
	ms := fixture.Dev(states, fixture.SeededKey)
	g := &govNet{t: t, st: newMemState(ms), reg: ledger.DefaultRegistry(), keys: map[string]ed25519.PrivKey{},
		seq: map[string]uint64{}, now: gt0, params: ledger.DefaultParams()}
	for i, m := range ms {
		g.keys[m.ID] = m.Key
		if i < validators {
			g.st.members[m.ID].ValidatorPubKey = fixture.SeededValidatorKey(m.ID).PubKey().Bytes()
			g.st.members[m.ID].ValidatorPower = 10
		}
	}
	if rules != nil {
		g.st.rules = rules
	}
	// The governance transcripts and upgrade tests run a chain started at
	// app version 6 (no software state, no encryption keys).
	g.st.upgrade = nil
	for _, m := range g.st.members {
		m.EncryptionKeys = nil
	}
	return g
}

// sign builds a tx from author with its next sequence, co-signed by
// coSigners.
func (g *govNet) sign(author string, rec *pb.Record, coSigners ...string) []byte {
	g.t.Helper()
	if rec.SchemaVersion == 0 {
		rec.SchemaVersion = 1
	}
	key := g.keys[author]
	var cs []ledger.Signer
	for _, c := range coSigners {
		cs = append(cs, ledger.Signer{Member: c, Key: g.keys[c]})
	}
	tx, err := ledger.BuildTx(&pb.TxBody{ChainId: "gov", Sequence: g.seq[author] + 1, Record: rec}, ledger.Signer{Member: author, Key: key}, cs...)
	if err != nil {
		g.t.Fatal(err)
	}
	return tx
}

// block runs one block after `advance`: its start, then each tx in order.
// It returns each tx's rejection (nil if accepted).
func (g *govNet) block(advance time.Duration, txs ...[]byte) []error {
	g.t.Helper()
	g.height++
	g.now = g.now.Add(advance)
	ms, _ := g.st.Members()
	b := ledger.Block{ChainID: "gov", Height: g.height, Time: g.now, Params: g.params, StartPowers: ledger.PowersOf(ms)}
	bb, err := g.reg.BeginBlock(g.st, b)
	if err != nil {
		g.t.Fatal(err)
	}
	if g.before != nil {
		g.before(bb)
	}
	g.st.write(bb)
	if bb.Params != nil {
		defer func(p *pb.Params) { g.params = p }(bb.Params) // from the next block
	}
	var errs []error
	for i, tx := range txs {
		b.TxIndex = uint32(i)
		ch, err := g.reg.Apply(g.st, tx, b)
		if err != nil {
			if !ledger.IsRejection(err) {
				g.t.Fatalf("internal error: %v", err)
			}
			errs = append(errs, err)
			continue
		}
		if g.before != nil {
			g.before(ch)
		}
		g.st.write(ch)
		g.seq[ch.Record.Author]++
		errs = append(errs, nil)
		if ch.Params != nil {
			defer func(p *pb.Params) { g.params = p }(ch.Params) // from the next block
		}
	}
	return errs
}

// file submits one record in its own block, a second after the last.
func (g *govNet) file(author string, rec *pb.Record) (string, error) {
	g.t.Helper()
	tx := g.sign(author, rec)
	return ledger.RecordID(tx), g.block(time.Second, tx)[0]
}

func (g *govNet) mustFile(author string, rec *pb.Record) string {
	g.t.Helper()
	id, err := g.file(author, rec)
	if err != nil {
		g.t.Fatalf("%s files %v: %v", author, ledger.KindOf(rec), err)
	}
	return id
}

func proposal(act *pb.GovernanceAction, deadline time.Time) *pb.Record {
	return &pb.Record{Body: &pb.Record_Proposal{Proposal: &pb.Proposal{Title: "t", Rationale: "r",
		Deadline: timestamppb.New(deadline), Action: act}}}
}

func (g *govNet) propose(author string, act *pb.GovernanceAction) string {
	g.t.Helper()
	return g.mustFile(author, proposal(act, g.now.Add(48*time.Hour)))
}

func voteRec(pid string, opt pb.VoteOption) *pb.Record {
	return &pb.Record{Body: &pb.Record_Vote{Vote: &pb.Vote{ProposalId: pid, Option: opt}}}
}

func (g *govNet) vote(author, pid string, opt pb.VoteOption) {
	g.t.Helper()
	g.mustFile(author, voteRec(pid, opt))
}

func (g *govNet) proposal(id string) *pb.ProposalState {
	g.t.Helper()
	p := g.st.proposals[id]
	if p == nil {
		g.t.Fatalf("no proposal %s", id)
	}
	return p
}

func (g *govNet) member(id string) *pb.Member {
	g.t.Helper()
	m := g.st.members[id]
	if m == nil {
		g.t.Fatalf("no member %s", id)
	}
	return m
}

func (g *govNet) note(author, summary string) error {
	_, err := g.file(author, &pb.Record{Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"lumen"}, Summary: summary}}})
	return err
}

func (g *govNet) powers() ledger.Powers {
	ms, _ := g.st.Members()
	return ledger.PowersOf(ms)
}

func act(a any) *pb.GovernanceAction {
	switch x := a.(type) {
	case *pb.AddMember:
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_AddMember{AddMember: x}}
	case *pb.AddKey:
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_AddKey{AddKey: x}}
	case *pb.RotateKey:
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_RotateKey{RotateKey: x}}
	case *pb.RevokeKey:
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_RevokeKey{RevokeKey: x}}
	case *pb.SetValidator:
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_SetValidator{SetValidator: x}}
	case *pb.Params:
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_SetParams{SetParams: x}}
	case *pb.GovernanceRules:
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_SetGovernanceRules{SetGovernanceRules: x}}
	}
	panic(fmt.Sprintf("act: %T", a))
}

func suspend(id string) *pb.GovernanceAction {
	return &pb.GovernanceAction{Action: &pb.GovernanceAction_SuspendMember{SuspendMember: &pb.MemberRef{Member: id}}}
}
func reinstate(id string) *pb.GovernanceAction {
	return &pb.GovernanceAction{Action: &pb.GovernanceAction_ReinstateMember{ReinstateMember: &pb.MemberRef{Member: id}}}
}
func remove(id string) *pb.GovernanceAction {
	return &pb.GovernanceAction{Action: &pb.GovernanceAction_RemoveMember{RemoveMember: &pb.MemberRef{Member: id}}}
}

const (
	yes     = pb.VoteOption_VOTE_OPTION_YES
	no      = pb.VoteOption_VOTE_OPTION_NO
	abstain = pb.VoteOption_VOTE_OPTION_ABSTAIN
)

// pass proposes act and has the first three states vote yes (2/3 of four).
func (g *govNet) pass(act *pb.GovernanceAction) string {
	g.t.Helper()
	id := g.propose("xaa", act)
	for _, s := range []string{"xaa", "xbb", "xcc"} {
		if g.proposal(id).Status != pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
			break
		}
		g.vote(s, id, yes)
	}
	if p := g.proposal(id); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED {
		g.t.Fatalf("proposal %v: %v (%s)", act, p.Status, p.Outcome)
	}
	return id
}

// Every action, passed by 2/3 of four states, does what it says, from the
// right height.
func TestGovernanceActions(t *testing.T) {
	newKey := func(s string) ed25519.PrivKey { return ed25519.GenPrivKeyFromSecret([]byte(s)) }
	cases := []struct {
		name  string
		act   func(g *govNet) *pb.GovernanceAction
		check func(t *testing.T, g *govNet, executed int64)
	}{
		{"add member with a validator", func(g *govNet) *pb.GovernanceAction {
			return act(&pb.AddMember{Id: "xee", Class: pb.MemberClass_MEMBER_CLASS_STATE, Name: "Eskerholt", CountryCode: "XEE",
				PubKeys: [][]byte{newKey("xee").PubKey().Bytes()}, Roles: []string{ledger.RoleGovernance},
				ValidatorPubKey: fixture.SeededValidatorKey("xee").PubKey().Bytes(), ValidatorPower: 10})
		}, func(t *testing.T, g *govNet, h int64) {
			m := g.member("xee")
			if m.Status != pb.MemberStatus_MEMBER_STATUS_ACTIVE || m.Keys[0].ValidFromHeight != h+1 || len(m.History) != 1 {
				t.Fatalf("member %v", m)
			}
			if p := g.powers(); len(p) != 5 || p.Total() != 50 {
				t.Fatalf("validators %v", p)
			}
			g.keys["xee"] = newKey("xee")
			if err := g.note("xee", "first record of the new member"); err != nil {
				t.Fatal(err)
			}
		}},
		{"suspend member", func(g *govNet) *pb.GovernanceAction { return suspend("xdd") }, func(t *testing.T, g *govNet, h int64) {
			if g.member("xdd").Status != pb.MemberStatus_MEMBER_STATUS_SUSPENDED {
				t.Fatal("not suspended")
			}
			if err := g.note("xdd", "while suspended"); ledger.CodeOf(err) != ledger.CodeMemberInactive {
				t.Fatalf("suspended member signed: %v", err)
			}
			if g.powers()[string(g.member("xdd").ValidatorPubKey)] != 0 {
				t.Fatal("a suspended member's validator keeps its power")
			}
		}},
		{"reinstate member", func(g *govNet) *pb.GovernanceAction {
			g.pass(suspend("xdd"))
			return reinstate("xdd")
		}, func(t *testing.T, g *govNet, h int64) {
			if g.member("xdd").Status != pb.MemberStatus_MEMBER_STATUS_ACTIVE {
				t.Fatal("not reinstated")
			}
			if err := g.note("xdd", "back"); err != nil {
				t.Fatal(err)
			}
			if g.powers().Total() != 40 {
				t.Fatal("validator power not restored")
			}
		}},
		{"remove member", func(g *govNet) *pb.GovernanceAction { return remove("xdd") }, func(t *testing.T, g *govNet, h int64) {
			m := g.member("xdd")
			if m.Status != pb.MemberStatus_MEMBER_STATUS_REMOVED || m.ValidatorPower != 0 {
				t.Fatalf("member %v", m)
			}
			if err := g.note("xdd", "gone"); ledger.CodeOf(err) != ledger.CodeMemberInactive {
				t.Fatalf("removed member signed: %v", err)
			}
		}},
		{"add key", func(g *govNet) *pb.GovernanceAction {
			return act(&pb.AddKey{Member: "xbb", PubKey: newKey("xbb2").PubKey().Bytes()})
		}, func(t *testing.T, g *govNet, h int64) {
			k := g.member("xbb").Keys[1]
			if k.ValidFromHeight != h+1 || k.Status != pb.KeyStatus_KEY_STATUS_ACTIVE {
				t.Fatalf("key %v", k)
			}
			g.keys["xbb"] = newKey("xbb2")
			if err := g.note("xbb", "signed with the new key"); err != nil {
				t.Fatal(err)
			}
		}},
		{"rotate key", func(g *govNet) *pb.GovernanceAction {
			return act(&pb.RotateKey{Member: "xbb", OldKeyId: ledger.KeyID(g.keys["xbb"].PubKey().Bytes()), NewPubKey: newKey("xbb3").PubKey().Bytes()})
		}, func(t *testing.T, g *govNet, h int64) {
			old, nk := g.member("xbb").Keys[0], g.member("xbb").Keys[1]
			if old.Status != pb.KeyStatus_KEY_STATUS_ROTATED || old.ValidUntilHeight != h || nk.ValidFromHeight != h+1 {
				t.Fatalf("keys %v %v", old, nk)
			}
			if err := g.note("xbb", "old key after rotation"); ledger.CodeOf(err) != ledger.CodeKeyInactive {
				t.Fatalf("rotated key still signs: %v", err)
			}
			g.keys["xbb"] = newKey("xbb3")
			if err := g.note("xbb", "new key after rotation"); err != nil {
				t.Fatal(err)
			}
		}},
		{"revoke key as compromised", func(g *govNet) *pb.GovernanceAction {
			return act(&pb.RevokeKey{Member: "xbb", KeyId: ledger.KeyID(g.keys["xbb"].PubKey().Bytes()), CompromisedSinceHeight: 1})
		}, func(t *testing.T, g *govNet, h int64) {
			k := g.member("xbb").Keys[0]
			if k.Status != pb.KeyStatus_KEY_STATUS_REVOKED || k.CompromisedSinceHeight != 1 || k.ValidUntilHeight != h {
				t.Fatalf("key %v", k)
			}
			if err := g.note("xbb", "after revocation"); ledger.CodeOf(err) != ledger.CodeKeyInactive {
				t.Fatalf("revoked key still signs: %v", err)
			}
		}},
		{"set validator power to 0", func(g *govNet) *pb.GovernanceAction {
			return act(&pb.SetValidator{Member: "xdd", Power: 0})
		}, func(t *testing.T, g *govNet, h int64) {
			if p := g.powers(); len(p) != 3 || p.Total() != 30 {
				t.Fatalf("validators %v", p)
			}
		}},
		{"set validator power", func(g *govNet) *pb.GovernanceAction {
			return act(&pb.SetValidator{Member: "xdd", Power: 13})
		}, func(t *testing.T, g *govNet, h int64) {
			if p := g.powers(); p.Total() != 43 {
				t.Fatalf("validators %v", p)
			}
		}},
		{"change chain parameters", func(g *govNet) *pb.GovernanceAction {
			return act(&pb.Params{MaxTxBytes: 32 * 1024, MaxClockSkewSeconds: 300, AckWindowHours: 12})
		}, func(t *testing.T, g *govNet, h int64) {
			if g.params.AckWindowHours != 12 {
				t.Fatalf("params %v", g.params)
			}
		}},
		{"change the governance rules", func(g *govNet) *pb.GovernanceAction {
			r := ledger.DefaultGovernanceRulesAt(ledger.GenesisAppVersion) // the test state is at the genesis version
			ledger.RuleFor(r, pb.GovAction_GOV_ACTION_SUSPEND_MEMBER).Unanimous = true
			return act(r)
		}, func(t *testing.T, g *govNet, h int64) {
			if !ledger.RuleFor(g.st.rules, pb.GovAction_GOV_ACTION_SUSPEND_MEMBER).Unanimous {
				t.Fatal("rules unchanged")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGovNet(t, 4, 4, nil)
			a := c.act(g)
			id := g.propose("xaa", a)
			votes := []string{"xaa", "xbb", "xcc"}
			if ledger.ActionOf(a) == pb.GovAction_GOV_ACTION_SET_GOVERNANCE_RULES {
				votes = append(votes, "xdd") // unanimity
			}
			for i, s := range votes {
				if st := g.proposal(id).Status; st != pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
					// Only with a smaller electorate (xdd suspended first).
					if i < 2 || g.proposal(id).Tally.Electorate != 3 {
						t.Fatalf("decided after %d votes: %v", i, st)
					}
					break
				}
				g.vote(s, id, yes)
			}
			p := g.proposal(id)
			if p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED || p.DecidedHeight != g.height {
				t.Fatalf("got %v at %d (%s), want passed at %d", p.Status, p.DecidedHeight, p.Outcome, g.height)
			}
			c.check(t, g, p.DecidedHeight)
		})
	}
}

// A member revokes its own key at once; records it signed before the
// compromise point keep verifying and carry no flag, later ones are flagged.
func TestKeyRevocationAndFlags(t *testing.T) {
	g := newGovNet(t, 4, 4, nil)
	before := g.sign("xbb", &pb.Record{Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"lumen"}, Summary: "before"}}})
	g.block(time.Second, before)
	since := g.now.Add(time.Second)
	after := g.sign("xbb", &pb.Record{Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"lumen"}, Summary: "after, by the thief"}}})
	g.block(time.Second, after)
	keyID := ledger.KeyID(g.keys["xbb"].PubKey().Bytes())
	memberAtRecords := proto.Clone(g.member("xbb")).(*pb.Member)
	// Another member cannot revoke xbb's key without a vote.
	if _, err := g.file("xaa", &pb.Record{Body: &pb.Record_KeyRevocation{KeyRevocation: &pb.KeyRevocation{Member: "xbb", KeyId: keyID}}}); ledger.CodeOf(err) != ledger.CodeNotOwnKey {
		t.Fatalf("revoking another member's key: %v", err)
	}
	rev := g.mustFile("xbb", &pb.Record{Body: &pb.Record_KeyRevocation{KeyRevocation: &pb.KeyRevocation{
		Member: "xbb", KeyId: keyID, CompromisedSinceTime: timestamppb.New(since), Reason: "stolen"}}})
	k := g.member("xbb").Keys[0]
	if k.Status != pb.KeyStatus_KEY_STATUS_REVOKED || k.EndedBy != rev {
		t.Fatalf("key %v", k)
	}
	if err := g.note("xbb", "after revocation"); ledger.CodeOf(err) != ledger.CodeKeyInactive {
		t.Fatalf("revoked key still signs: %v", err)
	}
	members := func(id string) (*pb.Member, error) { return g.st.members[id], nil }
	for _, c := range []struct {
		tx      []byte
		flagged bool
	}{{before, false}, {after, true}} {
		rec := g.st.records[ledger.RecordID(c.tx)]
		tx, _ := ledger.DecodeTx(rec.Tx, 0)
		flags, err := ledger.Flags(rec, tx, members)
		if err != nil || (len(flags) == 1) != c.flagged {
			t.Fatalf("record at %d: flags %v %v, want flagged %v", rec.Height, flags, err, c.flagged)
		}
		// The signature still verifies against the key as admitted.
		if err := ledger.VerifySignatures(func(string) (*pb.Member, error) { return memberAtRecords, nil }, tx, rec.Height); err != nil {
			t.Fatalf("record at %d no longer verifies: %v", rec.Height, err)
		}
		// And against today's entry too: the key was valid at that height.
		if err := ledger.VerifySignatures(members, tx, rec.Height); err != nil {
			t.Fatalf("record at %d does not verify against the revoked key's entry: %v", rec.Height, err)
		}
	}
}

// An elector suspended mid-vote leaves the count: the proposal it had not
// voted on passes with the smaller electorate (no stale tally: Zigbee DCL
// #358), and its duty to vote is waived.
func TestRetallyWhenElectorSuspended(t *testing.T) {
	g := newGovNet(t, 4, 4, nil)
	p1 := g.propose("xaa", act(&pb.SetValidator{Member: "xcc", Power: 12}))
	g.vote("xaa", p1, yes)
	g.vote("xbb", p1, yes)
	if g.proposal(p1).Status != pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
		t.Fatal("2 of 4 passed")
	}
	g.pass(suspend("xdd"))
	p := g.proposal(p1)
	if p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED || p.Tally.Electorate != 3 {
		t.Fatalf("after the suspension: %v, tally %v (%s)", p.Status, p.Tally, p.Outcome)
	}
	if g.powers()[string(g.member("xcc").ValidatorPubKey)] != 12 {
		t.Fatal("re-tallied proposal not executed")
	}
	o := g.st.obligations[ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_VOTE, p1, "xdd")]
	if o == nil || o.Status != pb.ObligationStatus_OBLIGATION_STATUS_WAIVED {
		t.Fatalf("suspended elector's vote duty: %v", o)
	}
}

// Votes are final, accepted until the deadline (also after the decision),
// and the deadline closes an undecided proposal with its outcome.
func TestVotingLifecycle(t *testing.T) {
	g := newGovNet(t, 4, 4, nil)
	id := g.propose("xaa", act(&pb.SetValidator{Member: "xcc", Power: 12}))
	g.vote("xaa", id, yes)
	if _, err := g.file("xaa", voteRec(id, no)); ledger.CodeOf(err) != ledger.CodeAlreadyVoted {
		t.Fatalf("second vote: %v", err)
	}
	if _, err := g.file("observatory", voteRec(id, yes)); ledger.CodeOf(err) != ledger.CodeNotElector {
		t.Fatalf("non-elector vote: %v", err)
	}
	g.vote("xbb", id, yes)
	g.vote("xcc", id, yes) // passes
	g.vote("xdd", id, no)  // recorded after the decision
	v := g.st.votes[id+"/xdd"]
	// The tally stays the one the decision was made on.
	if p := g.proposal(id); v == nil || v.Counted || p.Tally.No != 0 || p.Tally.Yes != 3 || p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED {
		t.Fatalf("late vote %v, proposal %v", v, p)
	}

	exp := g.propose("xaa", act(&pb.SetValidator{Member: "xcc", Power: 11}))
	g.vote("xbb", exp, yes)
	g.block(49 * time.Hour) // past the deadline: BeginBlock closes it
	p := g.proposal(exp)
	if p.Status != pb.ProposalStatus_PROPOSAL_STATUS_EXPIRED || !p.VotingClosed {
		t.Fatalf("after the deadline: %v closed=%v (%s)", p.Status, p.VotingClosed, p.Outcome)
	}
	if _, err := g.file("xcc", voteRec(exp, yes)); ledger.CodeOf(err) != ledger.CodeVotingEnded {
		t.Fatalf("vote after the deadline: %v", err)
	}
	o := g.st.obligations[ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_VOTE, exp, "xaa")]
	if o == nil || o.Status != pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE {
		t.Fatalf("elector who never voted: %v", o)
	}
	if !g.st.proposals[id].VotingClosed {
		t.Fatal("decided proposal still open after its deadline")
	}
	if _, err := g.file("xaa", voteRec(fmt.Sprintf("%064x", 7), yes)); ledger.CodeOf(err) != ledger.CodeUnknownProposal {
		t.Fatalf("vote on an unknown proposal: %v", err)
	}
}

// A change of the rules aborts every undecided proposal made under the old
// rule of its action; a closed proposal takes no votes.
func TestAbortOnRuleChange(t *testing.T) {
	g := newGovNet(t, 4, 4, nil)
	pending := g.propose("xbb", suspend("xdd"))
	other := g.propose("xbb", act(&pb.SetValidator{Member: "xcc", Power: 11}))
	r := ledger.DefaultGovernanceRulesAt(ledger.GenesisAppVersion)
	ledger.RuleFor(r, pb.GovAction_GOV_ACTION_SUSPEND_MEMBER).Unanimous = true
	rc := g.propose("xaa", act(r))
	for _, s := range []string{"xaa", "xbb", "xcc", "xdd"} {
		g.vote(s, rc, yes)
	}
	if p := g.proposal(pending); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_ABORTED || !p.VotingClosed {
		t.Fatalf("proposal under the changed rule: %v (%s)", p.Status, p.Outcome)
	}
	if p := g.proposal(other); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
		t.Fatalf("proposal under an unchanged rule: %v", p.Status)
	}
	if _, err := g.file("xaa", voteRec(pending, yes)); ledger.CodeOf(err) != ledger.CodeProposalClosed {
		t.Fatalf("vote on an aborted proposal: %v", err)
	}
	o := g.st.obligations[ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_VOTE, pending, "xaa")]
	if o == nil || o.Status != pb.ObligationStatus_OBLIGATION_STATUS_WAIVED {
		t.Fatalf("vote duty on an aborted proposal: %v", o)
	}
}

// Two proposals for the same new member: the second to pass fails and
// changes nothing.
func TestFailedExecution(t *testing.T) {
	g := newGovNet(t, 4, 4, nil)
	add := func(key string) *pb.GovernanceAction {
		return act(&pb.AddMember{Id: "xee", Class: pb.MemberClass_MEMBER_CLASS_STATE, Name: "E", CountryCode: "XEE",
			PubKeys: [][]byte{ed25519.GenPrivKeyFromSecret([]byte(key)).PubKey().Bytes()}})
	}
	a := g.propose("xaa", add("k1"))
	b := g.propose("xbb", add("k2"))
	for _, s := range []string{"xaa", "xbb", "xcc"} {
		g.vote(s, a, yes)
		g.vote(s, b, yes)
	}
	if p := g.proposal(a); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED {
		t.Fatalf("first: %v", p.Status)
	}
	if p := g.proposal(b); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_FAILED {
		t.Fatalf("second: %v (%s)", p.Status, p.Outcome)
	}
	if k := g.member("xee").Keys[0].PubKey; string(k) != string(ed25519.GenPrivKeyFromSecret([]byte("k1")).PubKey().Bytes()) {
		t.Fatal("the failed proposal changed the member")
	}
}

// Each bad proposal or vote gets its own code and changes nothing.
func TestGovernanceRejections(t *testing.T) {
	g := newGovNet(t, 4, 4, nil)
	xaaVal := g.member("xaa").ValidatorPubKey
	key := func(s string) []byte { return ed25519.GenPrivKeyFromSecret([]byte(s)).PubKey().Bytes() }
	cases := []struct {
		name   string
		author string
		rec    *pb.Record
		want   ledger.Code
	}{
		{"proposal without the governance role", "observatory", proposal(suspend("xdd"), gt0.Add(48*time.Hour)), ledger.CodeNoGovernanceRole},
		{"adding an existing member id", "xaa", proposal(act(&pb.AddMember{Id: "xbb", Class: pb.MemberClass_MEMBER_CLASS_STATE,
			Name: "B", CountryCode: "XBB", PubKeys: [][]byte{key("n")}}), gt0.Add(48*time.Hour)), ledger.CodeMemberExists},
		{"adding an existing key", "xaa", proposal(act(&pb.AddKey{Member: "xaa", PubKey: g.keys["xbb"].PubKey().Bytes()}), gt0.Add(48*time.Hour)), ledger.CodeKeyExists},
		{"a duplicate validator key", "xaa", proposal(act(&pb.SetValidator{Member: "xbb", ValidatorPubKey: xaaVal, Power: 10}), gt0.Add(48*time.Hour)), ledger.CodeDuplicateValidatorKey},
		{"a power change over the per-block cap", "xaa", proposal(act(&pb.SetValidator{Member: "xbb", Power: 30}), gt0.Add(48*time.Hour)), ledger.CodePowerCap},
		{"a deadline too soon", "xaa", proposal(suspend("xdd"), gt0.Add(30*time.Minute)), ledger.CodeBadTime},
		{"a deadline too far", "xaa", proposal(suspend("xdd"), gt0.Add(800*time.Hour)), ledger.CodeBadTime},
		{"reinstating an active member", "xaa", proposal(reinstate("xdd"), gt0.Add(48*time.Hour)), ledger.CodeWrongMemberStatus},
		{"rules that make rule changes easy", "xaa", proposal(act(func() *pb.GovernanceRules {
			r := ledger.DefaultGovernanceRulesAt(ledger.GenesisAppVersion)
			ledger.RuleFor(r, pb.GovAction_GOV_ACTION_SET_GOVERNANCE_RULES).Unanimous = false
			return r
		}()), gt0.Add(48*time.Hour)), ledger.CodeBadGovernanceRules},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(g.st.records)
			if _, err := g.file(c.author, c.rec); ledger.CodeOf(err) != c.want {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if len(g.st.records) != before || len(g.st.proposals) != 0 {
				t.Fatal("a rejected record changed state")
			}
		})
	}
	// Validator-set floors: on a two-validator chain, and a one-validator one.
	g2 := newGovNet(t, 4, 2, nil)
	if _, err := g2.file("xaa", proposal(act(&pb.SetValidator{Member: "xbb", Power: 0}), g2.now.Add(48*time.Hour))); ledger.CodeOf(err) != ledger.CodeTooFewValidators {
		t.Fatalf("leaving one validator: %v", err)
	}
	if _, err := g2.file("xaa", proposal(suspend("xbb"), g2.now.Add(48*time.Hour))); ledger.CodeOf(err) != ledger.CodeTooFewValidators {
		t.Fatalf("suspending one of two validators: %v", err)
	}
	g3 := newGovNet(t, 4, 1, nil)
	if _, err := g3.file("xaa", proposal(act(&pb.SetValidator{Member: "xaa", Power: 0}), g3.now.Add(48*time.Hour))); ledger.CodeOf(err) != ledger.CodeLastValidator {
		t.Fatalf("removing the last validator: %v", err)
	}
}

// Regressions from review: set_validator on a member without a validator
// key is refused (it used to panic); an elector suspended after a decision
// is released from voting on it; a rules change at block start aborts a
// proposal that closes in the same block.
func TestGovernanceReviewRegressions(t *testing.T) {
	g := newGovNet(t, 4, 4, nil)
	if _, err := g.file("xaa", proposal(act(&pb.SetValidator{Member: "lumen", Power: 0}), g.now.Add(48*time.Hour))); ledger.CodeOf(err) != ledger.CodeMissingField {
		t.Fatalf("set_validator without a validator key: %v", err)
	}

	decided := g.pass(act(&pb.SetValidator{Member: "xcc", Power: 11}))
	g.pass(suspend("xdd"))
	if o := g.st.obligations[ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_VOTE, decided, "xdd")]; o == nil || o.Status != pb.ObligationStatus_OBLIGATION_STATUS_WAIVED {
		t.Fatalf("suspended elector's duty on a decided proposal: %v", o)
	}

	// Both due at the same block start: a suspension that could still be
	// vetoed until its deadline passes there, and the proposal due after it
	// is judged with the suspended elector counted out (and released).
	g2 := newGovNet(t, 4, 4, nil)
	sr := ledger.RuleFor(g2.st.rules, pb.GovAction_GOV_ACTION_SUSPEND_MEMBER)
	sr.ThresholdNumerator, sr.ThresholdDenominator, sr.VetoNumerator, sr.VetoDenominator = 1, 2, 1, 3
	a := g2.mustFile("xaa", proposal(suspend("xdd"), g2.now.Add(2*time.Hour)))
	b := g2.mustFile("xbb", proposal(act(&pb.SetValidator{Member: "xcc", Power: 11}), g2.now.Add(3*time.Hour)))
	for _, s := range []string{"xaa", "xbb"} {
		g2.vote(s, a, yes)
		g2.vote(s, b, yes)
	}
	if g2.proposal(a).Status != pb.ProposalStatus_PROPOSAL_STATUS_VOTING || g2.proposal(b).Status != pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
		t.Fatal("decided before the deadlines")
	}
	g2.block(4 * time.Hour)
	if p := g2.proposal(a); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED {
		t.Fatalf("suspension at its deadline: %v (%s)", p.Status, p.Outcome)
	}
	if p := g2.proposal(b); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED || p.Tally.Electorate != 3 {
		t.Fatalf("proposal due after it: %v (%s)", p.Status, p.Outcome)
	}
	if o := g2.st.obligations[ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_VOTE, b, "xdd")]; o == nil || o.Status != pb.ObligationStatus_OBLIGATION_STATUS_WAIVED {
		t.Fatalf("suspended elector's duty: %v", o)
	}
}
