package testnet

import (
	"bytes"
	"context"
	"sort"
	"testing"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/audit"
	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/node"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/remote"
)

// govClient files governance records through one node and waits until they
// are readable at the attested height.
type govClient struct {
	t  *testing.T
	c  *client.Client
	nw *Network
	// filed are the ids of the governance records (for the set checker).
	filed []string
}

func (g *govClient) file(author string, rec *pb.Record) client.Result {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := g.nw.Signer(author)
	if err != nil {
		g.t.Fatal(err)
	}
	rec.SchemaVersion = ledger.CurrentSchemaVersion
	res, err := g.c.Submit(ctx, rec, s, nil, true)
	if err != nil || res.Rejected() || !res.Committed {
		g.t.Fatalf("%s files %v: %+v %v", author, ledger.KindOf(rec), res, err)
	}
	if err := g.c.WaitAttested(ctx, res.Height); err != nil {
		g.t.Fatal(err)
	}
	g.filed = append(g.filed, res.ID)
	return res
}

// pass proposes act and has voters vote yes; it returns the height the
// deciding vote was committed at (where the action was executed).
func (g *govClient) pass(act *pb.GovernanceAction, voters ...string) int64 {
	g.t.Helper()
	p := g.file(voters[0], &pb.Record{Body: &pb.Record_Proposal{Proposal: &pb.Proposal{
		Title: ledger.GovActionName(ledger.ActionOf(act)), Rationale: "consortium change under load",
		Deadline: timestamppb.New(time.Now().Add(72 * time.Hour)), Action: act}}})
	for _, v := range voters {
		res := g.file(v, &pb.Record{Body: &pb.Record_Vote{Vote: &pb.Vote{ProposalId: p.ID, Option: pb.VoteOption_VOTE_OPTION_YES}}})
		pr, err := g.c.Proposal(context.Background(), p.ID, 0, false)
		if err != nil {
			g.t.Fatal(err)
		}
		if pr.Proposal.Status == pb.ProposalStatus_PROPOSAL_STATUS_PASSED {
			if pr.Proposal.DecidedHeight != res.Height {
				g.t.Fatalf("decided at %d, deciding vote at %d", pr.Proposal.DecidedHeight, res.Height)
			}
			g.t.Logf("proposal %s passed at height %d: %s", ledger.GovActionName(ledger.ActionOf(act)), res.Height, pr.Proposal.Outcome)
			return res.Height
		}
		if pr.Proposal.Status != pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
			g.t.Fatalf("proposal %v: %s", pr.Proposal.Status, pr.Proposal.Outcome)
		}
	}
	g.t.Fatal("proposal did not pass")
	return 0
}

// validatorsAt is CometBFT's validator set at height h, from its light block.
func validatorsAt(t *testing.T, c *client.Client, h int64) (*cmttypes.LightBlock, ledger.Powers) {
	t.Helper()
	lb, err := c.LightBlock(context.Background(), h)
	if err != nil {
		t.Fatalf("light block %d: %v", h, err)
	}
	p := ledger.Powers{}
	for _, v := range lb.ValidatorSet.Validators {
		p[string(v.PubKey.Bytes())] = v.VotingPower
	}
	return lb, p
}

// On a 4-validator network of real processes under continuous signed-write
// load, a vote admits a fifth state whose full node then validates, and a
// second vote removes node1's validator. The chain never stops; every
// acknowledged write is on every node; at every height the member registry
// and CometBFT's validator set agree; records from before, between and
// after the changes verify through the light client; the audit replays it all.
func TestGovernanceNetwork(t *testing.T) {
	binaries(t) // an OS-process network: NORMLEDGER_NETWORKS=1
	f, ports := newProcessNet(t, Options{ChainID: "gov-net", Validators: 4, LoadMembers: 4}, 1)
	nw := f.nw
	f.startAll()
	// The fifth state's operator: its own home (`init --member xee
	// --validator`: node, validator and member keys, nobody else's), joined
	// to the published genesis; its node syncs from genesis as a full node.
	info, err := nw.AddOperatorNode(ports[4], operator.Profile{Member: "xee", Class: "state", Name: fixture.StateNames[4].Name,
		CountryCode: "XEE", Roles: []string{ledger.RoleGovernance}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ccfg, err := operator.LoadCometConfig(info.Home)
	if err != nil {
		t.Fatal(err)
	}
	val, err := node.ValidatorPubKey(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	f.start(info.Name)
	xee, err := nw.Signer("xee")
	if err != nil {
		t.Fatal(err)
	}
	c0, _ := client.New(nw.Nodes[0].RESTURL())
	g := &govClient{t: t, c: c0, nw: nw}

	stopLoad := f.startWriters("load-001", "load-002", "load-003", "load-004")
	defer stopLoad()
	time.Sleep(2 * time.Second)

	// Vote 1: admit xee with node4's validator (10 of 40: a quarter of the power).
	admitted := g.pass(&pb.GovernanceAction{Action: &pb.GovernanceAction_AddMember{AddMember: &pb.AddMember{
		Id: "xee", Class: pb.MemberClass_MEMBER_CLASS_STATE, Name: fixture.StateNames[4].Name, CountryCode: "XEE",
		PubKeys: [][]byte{xee.Key.PubKey().Bytes()}, Roles: []string{ledger.RoleGovernance},
		PointOfContact:  &pb.PointOfContact{Name: "Duty officer", Email: "poc@xee.example"},
		ValidatorPubKey: val.PubKey.Bytes(), ValidatorPower: 10}}}, "xaa", "xbb", "xcc")
	f.waitHeight(admitted+4, 60*time.Second)
	_, before := validatorsAt(t, c0, admitted+1)
	_, after := validatorsAt(t, c0, admitted+2)
	if before[string(val.PubKey.Bytes())] != 0 || after[string(val.PubKey.Bytes())] != 10 || len(after) != 5 {
		t.Fatalf("node4's validator: power %d at H+1, %d at H+2 (H=%d), set of %d", before[string(val.PubKey.Bytes())],
			after[string(val.PubKey.Bytes())], admitted, len(after))
	}
	// node4 signs blocks.
	signed := int64(0)
	deadline := time.Now().Add(30 * time.Second)
	for h := admitted + 3; signed == 0 && time.Now().Before(deadline); h++ {
		f.waitHeight(h+1, 30*time.Second)
		lb, _ := validatorsAt(t, c0, h)
		for _, s := range lb.Commit.Signatures {
			if s.BlockIDFlag == cmttypes.BlockIDFlagCommit && bytes.Equal(s.ValidatorAddress, val.Address) {
				signed = h
			}
		}
	}
	if signed == 0 {
		t.Fatalf("node4 never signed a block after joining the validator set at %d", admitted+2)
	}
	t.Logf("xee admitted at height %d; node4 in CometBFT's validator set from %d and signing (commit of block %d)", admitted, admitted+2, signed)

	// Vote 2: remove node1's validator (xbb's); 2/3 of five states is four.
	removed := g.pass(&pb.GovernanceAction{Action: &pb.GovernanceAction_SetValidator{SetValidator: &pb.SetValidator{Member: "xbb", Power: 0}}},
		"xaa", "xcc", "xdd", "xee")
	f.waitHeight(removed+4, 60*time.Second)
	xbbVal := func() []byte {
		ms, err := c0.Members(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Id == "xbb" {
				return m.ValidatorPubKey
			}
		}
		return nil
	}()
	if _, p := validatorsAt(t, c0, removed+2); len(p) != 4 || p[string(xbbVal)] != 0 {
		t.Fatalf("after removing node1's validator at %d: %d validators", removed, len(p))
	}
	time.Sleep(2 * time.Second)
	stopLoad()

	// The chain never stopped: the tip moved on, and the checker passes on
	// all five nodes (node1 keeps running as a full node).
	f.extra = g.filed
	rep := f.check("governance under load")
	tip := f.tip()
	t.Logf("xbb's validator removed at %d; chain at %d", removed, tip)

	// At every height, the member registry (state h) says what CometBFT's
	// validator set is at h+2.
	top := rep.Height - 2
	for h := int64(1); h <= top; h++ {
		resp, err := c0.ListMembers(context.Background(), h, false)
		if err != nil {
			t.Fatalf("members at %d: %v", h, err)
		}
		want := ledger.PowersOf(resp.Members)
		_, got := validatorsAt(t, c0, h+2)
		if d := want.Diff(got); len(d) > 0 {
			t.Fatalf("height %d: member registry and the validator set at %d differ: %v", h, h+2, d)
		}
	}
	t.Logf("member registry and validator set agree at all %d heights", top)

	// Records from before, between and after the changes verify through the
	// light client, primary node0, witnesses node2 and node3.
	_, acked := f.h.snapshot()
	pick := map[string]string{}
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ht := acked[id]
		switch {
		case ht < admitted && pick["before"] == "":
			pick["before"] = id
		case ht > admitted+2 && ht < removed && pick["between"] == "":
			pick["between"] = id
		case ht > removed+2 && pick["after"] == "":
			pick["after"] = id
		}
	}
	c2, _ := client.New(nw.Nodes[2].RESTURL())
	c3, _ := client.New(nw.Nodes[3].RESTURL())
	chainID, root := genesisTrust(t, nw.Nodes[0].Home+"/config/genesis.json", c2)
	v := lightVerifier(t, chainID, root, "", c0, c2, c3)
	for _, when := range []string{"before", "between", "after"} {
		id := pick[when]
		if id == "" {
			t.Fatalf("no acknowledged record %s the changes", when)
		}
		res, _, err := v.Record(context.Background(), id)
		if err != nil {
			t.Fatalf("record %s the changes (height %d): %v", when, acked[id], err)
		}
		t.Logf("record %s the changes (height %d) verified at state %d", when, res.RecordHeight, res.Height)
	}

	// The proposals and their votes are proven state too.
	props, err := c0.Proposals(context.Background(), &pb.ListProposalsRequest{Status: "passed"})
	if err != nil || len(props.Proposals) != 2 {
		t.Fatalf("passed proposals: %v %v", props, err)
	}
	for _, p := range props.Proposals {
		resp, err := c0.Proposal(context.Background(), p.Id, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		lb, err := v.Light.Header(context.Background(), resp.Height+1)
		if err != nil {
			t.Fatal(err)
		}
		ps, votes, err := verifiers.Proposal(lb.AppHash, p.Id, resp)
		if err != nil {
			t.Fatalf("proposal %s: %v", p.Id, err)
		}
		resp.Votes[0].Option = pb.VoteOption_VOTE_OPTION_NO
		if _, _, err := verifiers.Proposal(lb.AppHash, p.Id, resp); err == nil {
			t.Fatal("a changed vote verified")
		}
		t.Logf("proposal %s (%s) verified with %d proven votes", ps.Id[:12], ledger.GovActionName(ps.Action), len(votes))
	}

	// The audit replays the whole chain, governance included.
	arep, err := audit.Run(context.Background(), audit.Options{API: c0, NodeName: c0.Base(),
		Witnesses: []*remote.Provider{remote.NewProvider(chainID, c2.Base(), c2)}, ToHeight: rep.Height})
	if err != nil {
		t.Fatal(err)
	}
	if !arep.OK() || arep.AppHashesMatched != arep.Blocks || arep.ValidatorSetsMatched != arep.Blocks {
		t.Fatalf("audit: %d/%d app hashes, %d validator sets, discrepancies %v", arep.AppHashesMatched, arep.Blocks, arep.ValidatorSetsMatched, arep.Discrepancies)
	}
	t.Logf("audit: %d blocks, %d txs re-executed, %d app hashes and %d validator sets matched, %d members compared",
		arep.Blocks, arep.Txs, arep.AppHashesMatched, arep.ValidatorSetsMatched, arep.MembersCompared)
}
