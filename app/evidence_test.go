package app

import (
	"bytes"
	"context"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Misbehaviour CometBFT passes to FinalizeBlock is stored, linked to the
// member holding the validator key, counted in its compliance, and the same
// blocks give two apps the same app hash; an unknown validator is stored
// with no member.
func TestEvidenceStored(t *testing.T) {
	a, b := newHarness(t), newHarness(t)
	a.block()
	b.block()
	addr := fixture.SeededValidatorKey("xaa").PubKey().Address()
	other := bytes.Repeat([]byte{9}, 20)
	mis := []abci.Misbehavior{
		{Type: abci.MisbehaviorType_DUPLICATE_VOTE, Validator: abci.Validator{Address: addr, Power: 10}, Height: 1, Time: t0.Add(time.Second), TotalVotingPower: 10},
		{Type: abci.MisbehaviorType_LIGHT_CLIENT_ATTACK, Validator: abci.Validator{Address: other, Power: 5}, Height: 1, Time: t0.Add(time.Second), TotalVotingPower: 10},
	}
	var hashes [][]byte
	var events []abci.Event
	for _, h := range []*harness{a, b} {
		h.height++
		h.now = h.now.Add(time.Second)
		res, err := h.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: h.height, Time: h.now, Misbehavior: mis})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.app.Commit(context.Background(), &abci.RequestCommit{}); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, res.AppHash)
		events = res.Events
	}
	if !bytes.Equal(hashes[0], hashes[1]) {
		t.Fatalf("app hashes differ: %X %X", hashes[0], hashes[1])
	}
	n := 0
	for _, e := range events {
		if e.Type == "evidence" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d evidence events", n)
	}
	v, err := a.st.At(0)
	if err != nil {
		t.Fatal(err)
	}
	all, err := v.EvidenceList("")
	if err != nil || len(all) != 2 {
		t.Fatalf("evidence %v %v", all, err)
	}
	ev, err := v.Evidence("2-0")
	if err != nil || ev == nil || ev.Member != "xaa" || ev.Type != pb.MisbehaviorType_MISBEHAVIOR_TYPE_DUPLICATE_VOTE ||
		ev.Height != 1 || ev.CommittedHeight != 2 || ev.ValidatorPower != 10 || !bytes.Equal(ev.ValidatorAddress, addr) {
		t.Fatalf("evidence 2-0: %+v %v", ev, err)
	}
	if ev, _ := v.Evidence("2-1"); ev == nil || ev.Member != "" || ev.Type != pb.MisbehaviorType_MISBEHAVIOR_TYPE_LIGHT_CLIENT_ATTACK {
		t.Fatalf("evidence 2-1: %+v", ev)
	}
	mine, err := v.EvidenceList("xaa")
	if err != nil || len(mine) != 1 || mine[0].Id != "2-0" {
		t.Fatalf("xaa's evidence %v %v", mine, err)
	}
	c, err := v.MemberCompliance("xaa")
	if err != nil || c.Misbehaviour.GetCount() != 1 || c.Misbehaviour.Ids[0] != "2-0" {
		t.Fatalf("compliance %+v %v", c.GetMisbehaviour(), err)
	}
	if c, _ := v.MemberCompliance("xbb"); c.Misbehaviour.GetCount() != 0 {
		t.Fatal("xbb charged with xaa's evidence")
	}
	// Nothing is done to the member by the ledger itself.
	if m, _ := v.Member("xaa"); m.Status != pb.MemberStatus_MEMBER_STATUS_ACTIVE || m.ValidatorPower != 10 {
		t.Fatalf("member changed by evidence: %v", m)
	}
}
