package node_test

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/cometbft/cometbft/rpc/client/local"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/node/api"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// Conflicting votes signed offline with the validator's key and sent to
// CometBFT's broadcast_evidence are committed once, stored as evidence
// linked to the member running the validator, provable over REST, in the
// block's evidence for re-execution, and counted in its compliance;
// forged evidence is refused.
func TestEvidenceOnTheRecord(t *testing.T) {
	n, c, _ := startNode(t, api.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.WaitHeight(ctx, 4); err != nil {
		t.Fatal(err)
	}
	pv, ok := n.Comet().PrivValidator().(*privval.FilePV)
	if !ok {
		t.Fatalf("validator key is a %T", n.Comet().PrivValidator())
	}
	chainID := n.Comet().GenesisDoc().ChainID
	const at = 2
	blk, err := c.Block(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	pub := pv.Key.PubKey
	rpc := local.New(n.Comet())
	h := int64(at)
	vres, err := rpc.Validators(ctx, &h, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals := cmttypes.NewValidatorSet(vres.Validators)
	vote := func(tag string) *cmttypes.Vote {
		h := sha256.Sum256([]byte(tag))
		v := &cmttypes.Vote{Type: cmtproto.PrevoteType, Height: at, Round: 0, Timestamp: blk.Time.AsTime(),
			BlockID:          cmttypes.BlockID{Hash: h[:], PartSetHeader: cmttypes.PartSetHeader{Total: 1, Hash: h[:]}},
			ValidatorAddress: pub.Address(), ValidatorIndex: 0}
		sig, err := pv.Key.PrivKey.Sign(cmttypes.VoteSignBytes(chainID, v.ToProto()))
		if err != nil {
			t.Fatal(err)
		}
		v.Signature = sig
		return v
	}
	ev, err := cmttypes.NewDuplicateVoteEvidence(vote("a"), vote("b"), blk.Time.AsTime(), vals)
	if err != nil {
		t.Fatal(err)
	}
	// Forged: a vote whose signature is not the validator's.
	forged, _ := cmttypes.NewDuplicateVoteEvidence(vote("c"), vote("d"), blk.Time.AsTime(), vals)
	forged.VoteB.Signature = append([]byte(nil), forged.VoteA.Signature...)
	if _, err := rpc.BroadcastEvidence(ctx, forged); err == nil {
		t.Fatal("forged evidence accepted")
	}
	if _, err := rpc.BroadcastEvidence(ctx, ev); err != nil {
		t.Fatal(err)
	}
	var list *pb.ListEvidenceResponse
	deadline := time.Now().Add(20 * time.Second)
	for {
		list, err = c.EvidenceList(ctx, "xaa", 0, true)
		if err == nil && len(list.Evidence) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no evidence committed within 20 s: %v %v", list, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	got := list.Evidence[0]
	if got.Member != "xaa" || got.Type != pb.MisbehaviorType_MISBEHAVIOR_TYPE_DUPLICATE_VOTE || got.Height != at || len(list.Proofs) != 1 {
		t.Fatalf("evidence %+v", got)
	}
	t.Logf("evidence %s: double sign at height %d committed at height %d", got.Id, got.Height, got.CommittedHeight)
	// Provable: the answer checks against the app hash in the next header.
	resp, err := c.Evidence(ctx, got.Id, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := c.LightBlock(ctx, resp.Height+1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifiers.Evidence(lb.AppHash, got.Id, resp); err != nil {
		t.Fatal(err)
	}
	resp.Evidence.Member = "xbb"
	if _, err := verifiers.Evidence(lb.AppHash, got.Id, resp); err == nil {
		t.Fatal("tampered evidence verified")
	}
	// In the committing block, for re-execution.
	cb, err := c.Block(ctx, got.CommittedHeight)
	if err != nil || len(cb.Evidence) != 1 {
		t.Fatalf("block %d evidence: %v %v", got.CommittedHeight, cb, err)
	}
	// Counted once, even if sent again.
	if _, err := rpc.BroadcastEvidence(ctx, ev); err == nil {
		t.Log("evidence sent again was accepted into the pool")
	}
	if _, err := c.WaitHeight(ctx, got.CommittedHeight+3); err != nil {
		t.Fatal(err)
	}
	mc, err := c.MemberCompliance(ctx, "xaa", 0)
	if err != nil || mc.Compliance.Misbehaviour.GetCount() != 1 {
		t.Fatalf("compliance: %+v %v", mc.GetCompliance().GetMisbehaviour(), err)
	}
	all, err := c.EvidenceList(ctx, "", 0, false)
	if err != nil || len(all.Evidence) != 1 {
		t.Fatalf("all evidence: %v %v", all, err)
	}
	if _, err := c.Evidence(ctx, "1-x", 0, false); err == nil || !strings.Contains(err.Error(), "evidence id") {
		t.Fatalf("bad id: %v", err)
	}
}
