package app

import (
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func newGovHarness(t *testing.T, validators int) *harness {
	t.Helper()
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessWith(t, st, true, 4, validators)
}

func govProposal(act *pb.GovernanceAction, deadline time.Time) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Proposal{Proposal: &pb.Proposal{
		Title: "t", Rationale: "r", Deadline: timestamppb.New(deadline), Action: act}}}
}

func govVote(id string, opt pb.VoteOption) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Vote{Vote: &pb.Vote{ProposalId: id, Option: opt}}}
}

func setValidator(member string, key []byte, power int64) *pb.GovernanceAction {
	return &pb.GovernanceAction{Action: &pb.GovernanceAction_SetValidator{SetValidator: &pb.SetValidator{
		Member: member, ValidatorPubKey: key, Power: power}}}
}

func suspendAct(id string) *pb.GovernanceAction {
	return &pb.GovernanceAction{Action: &pb.GovernanceAction_SuspendMember{SuspendMember: &pb.MemberRef{Member: id}}}
}

// file submits one tx in its own block and fails the test if it is rejected.
func (h *harness) fileNow(author string, rec *pb.Record) string {
	h.t.Helper()
	tx := h.sign(author, rec)
	if r := h.checkTx(tx); r.Code != 0 {
		h.t.Fatalf("%s CheckTx: %s", author, r.Log)
	}
	if res := h.block(tx); res.TxResults[0].Code != 0 {
		h.t.Fatalf("%s FinalizeBlock: %s", author, res.TxResults[0].Log)
	}
	return ledger.RecordID(tx)
}

func (h *harness) proposalState(id string) *pb.ProposalState {
	h.t.Helper()
	v, err := h.st.At(0)
	if err != nil {
		h.t.Fatal(err)
	}
	p, err := v.Proposal(id)
	if err != nil || p == nil {
		h.t.Fatalf("proposal %s: %v", id, err)
	}
	return p
}

// Every bad governance input gets its own stable code in CheckTx and in
// FinalizeBlock, and leaves the app hash unchanged.
func TestGovernanceBadInputs(t *testing.T) {
	h := newGovHarness(t, 4)
	later := func() time.Time { return h.now.Add(48 * time.Hour) }
	open := h.fileNow("xaa", govProposal(setValidator("xcc", nil, 11), later()))
	h.fileNow("xaa", govVote(open, pb.VoteOption_VOTE_OPTION_YES))
	short := h.fileNow("xaa", govProposal(setValidator("xcc", nil, 12), h.now.Add(90*time.Minute)))
	doomed := h.fileNow("xbb", govProposal(suspendAct("xdd"), later()))
	rules := ledger.DefaultGovernanceRules()
	ledger.RuleFor(rules, pb.GovAction_GOV_ACTION_SUSPEND_MEMBER).Unanimous = true
	rc := h.fileNow("xaa", govProposal(&pb.GovernanceAction{Action: &pb.GovernanceAction_SetGovernanceRules{SetGovernanceRules: rules}}, later()))
	for _, s := range []string{"xaa", "xbb", "xcc", "xdd"} {
		h.fileNow(s, govVote(rc, pb.VoteOption_VOTE_OPTION_YES))
	}
	if p := h.proposalState(doomed); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_ABORTED {
		t.Fatalf("proposal under changed rules: %v", p.Status)
	}
	h.now = h.now.Add(2 * time.Hour)
	h.block() // closes `short`
	if p := h.proposalState(short); !p.VotingClosed || p.Status != pb.ProposalStatus_PROPOSAL_STATUS_EXPIRED {
		t.Fatalf("proposal past its deadline: %v closed=%v", p.Status, p.VotingClosed)
	}

	next := func(author string, rec *pb.Record) []byte { return h.signSeq(author, h.nextSeq(author), rec) }
	xaaVal := fixture.SeededValidatorKey("xaa").PubKey().Bytes()
	newKey := ed25519.GenPrivKeyFromSecret([]byte("fresh")).PubKey().Bytes()
	addMember := func(id string, key []byte) *pb.GovernanceAction {
		return &pb.GovernanceAction{Action: &pb.GovernanceAction_AddMember{AddMember: &pb.AddMember{
			Id: id, Class: pb.MemberClass_MEMBER_CLASS_STATE, Name: "N", CountryCode: "XNN", PubKeys: [][]byte{key}}}}
	}
	cases := []struct {
		name string
		tx   []byte
		want ledger.Code
	}{
		{"vote by a non-elector", next("observatory", govVote(open, pb.VoteOption_VOTE_OPTION_YES)), ledger.CodeNotElector},
		{"second vote (votes are final)", next("xaa", govVote(open, pb.VoteOption_VOTE_OPTION_NO)), ledger.CodeAlreadyVoted},
		{"vote after the deadline", next("xbb", govVote(short, pb.VoteOption_VOTE_OPTION_YES)), ledger.CodeVotingEnded},
		{"vote on a closed (aborted) proposal", next("xcc", govVote(doomed, pb.VoteOption_VOTE_OPTION_YES)), ledger.CodeProposalClosed},
		{"vote on an unknown proposal", next("xcc", govVote(strings.Repeat("ab", 32), pb.VoteOption_VOTE_OPTION_YES)), ledger.CodeUnknownProposal},
		{"proposal without the governance role", next("lumen", govProposal(suspendAct("xdd"), later())), ledger.CodeNoGovernanceRole},
		{"adding an existing member id", next("xaa", govProposal(addMember("xbb", newKey), later())), ledger.CodeMemberExists},
		{"adding an existing key", next("xaa", govProposal(addMember("xnn", h.members["xcc"].Key.PubKey().Bytes()), later())), ledger.CodeKeyExists},
		{"a duplicate validator key", next("xaa", govProposal(setValidator("xbb", xaaVal, 10), later())), ledger.CodeDuplicateValidatorKey},
		{"a power change over the per-block cap", next("xaa", govProposal(setValidator("xbb", nil, 40), later())), ledger.CodePowerCap},
		{"revoking a key of another member without a vote", next("xaa", &pb.Record{SchemaVersion: 1, Body: &pb.Record_KeyRevocation{
			KeyRevocation: &pb.KeyRevocation{Member: "xbb", KeyId: h.members["xbb"].Signer().KeyID()}}}), ledger.CodeNotOwnKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { h.mustReject(t, c.tx, c.want) })
	}

	one := newGovHarness(t, 1)
	one.block()
	t.Run("removing the last validator", func(t *testing.T) {
		one.mustReject(t, one.signSeq("xaa", one.nextSeq("xaa"), govProposal(setValidator("xaa", nil, 0), one.now.Add(48*time.Hour))), ledger.CodeLastValidator)
	})
	two := newGovHarness(t, 2)
	two.block()
	t.Run("a proposal that would leave fewer than 2 validators", func(t *testing.T) {
		two.mustReject(t, two.signSeq("xaa", two.nextSeq("xaa"), govProposal(setValidator("xbb", nil, 0), two.now.Add(48*time.Hour))), ledger.CodeTooFewValidators)
	})
}

// A passed proposal changes CometBFT's validator set through
// FinalizeBlock's ValidatorUpdates, and the member registry says the same.
func TestValidatorUpdates(t *testing.T) {
	h := newGovHarness(t, 4)
	val := fixture.SeededValidatorKey("xee").PubKey().Bytes()
	add := h.fileNow("xaa", govProposal(&pb.GovernanceAction{Action: &pb.GovernanceAction_AddMember{AddMember: &pb.AddMember{
		Id: "xee", Class: pb.MemberClass_MEMBER_CLASS_STATE, Name: "Eskerholt", CountryCode: "XEE",
		PubKeys: [][]byte{ed25519.GenPrivKeyFromSecret([]byte("xee")).PubKey().Bytes()}, Roles: []string{ledger.RoleGovernance},
		ValidatorPubKey: val, ValidatorPower: 10}}}, h.now.Add(48*time.Hour)))
	h.fileNow("xaa", govVote(add, pb.VoteOption_VOTE_OPTION_YES))
	h.fileNow("xbb", govVote(add, pb.VoteOption_VOTE_OPTION_YES))
	tx := h.sign("xcc", govVote(add, pb.VoteOption_VOTE_OPTION_YES))
	res := h.block(tx)
	if len(res.ValidatorUpdates) != 1 || string(res.ValidatorUpdates[0].PubKey.GetEd25519()) != string(val) || res.ValidatorUpdates[0].Power != 10 {
		t.Fatalf("validator updates %v", res.ValidatorUpdates)
	}
	if p := h.proposalState(add); p.Status != pb.ProposalStatus_PROPOSAL_STATUS_PASSED {
		t.Fatalf("proposal %v", p.Status)
	}
	// A block without governance changes emits no updates.
	if res := h.block(); len(res.ValidatorUpdates) != 0 {
		t.Fatalf("unexpected updates %v", res.ValidatorUpdates)
	}
	// Removing xbb's validator: four of five states now decide (2/3 of 5 -> 4).
	rm := h.fileNow("xaa", govProposal(setValidator("xbb", nil, 0), h.now.Add(48*time.Hour)))
	var last []byte
	for _, s := range []string{"xaa", "xbb", "xcc", "xdd"} {
		last = h.sign(s, govVote(rm, pb.VoteOption_VOTE_OPTION_YES))
		res = h.block(last)
		if res.TxResults[0].Code != 0 {
			t.Fatal(res.TxResults[0].Log)
		}
	}
	xbb := fixture.SeededValidatorKey("xbb").PubKey().Bytes()
	if len(res.ValidatorUpdates) != 1 || string(res.ValidatorUpdates[0].PubKey.GetEd25519()) != string(xbb) || res.ValidatorUpdates[0].Power != 0 {
		t.Fatalf("validator updates %v", res.ValidatorUpdates)
	}
	v, _ := h.st.At(0)
	ms, _ := v.Members()
	if p := ledger.PowersOf(ms); len(p) != 4 || p.Total() != 40 {
		t.Fatalf("registry powers %v", p)
	}
}
