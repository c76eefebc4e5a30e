package testnet

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cometbft/cometbft/privval"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/client"
)

// A validator whose key lives in a separate signer process (CometBFT's
// privval socket protocol) signs through the socket; when the signer is
// killed under load the validator stops signing (the other three keep the
// chain going), never double-signs, and signs again once the signer is back.
func TestRemoteSigner(t *testing.T) {
	binaries(t) // an OS-process network: NORMLEDGER_NETWORKS=1
	f, _ := newProcessNet(t, Options{ChainID: "signer-net", Validators: 4}, 0)
	nw := f.nw
	n3 := nw.Nodes[3]
	s, err := nw.MoveKeyToSigner(n3, fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	val := privval.LoadFilePV(filepath.Join(s.Home, "priv_validator_key.json"), filepath.Join(s.Home, "priv_validator_state.json")).Key.Address
	t.Cleanup(func() { StopNode(s.NodeInfo, 5*time.Second) })
	startSigner := func() {
		if _, err := nw.StartSigner(s); err != nil {
			t.Fatal(err)
		}
	}
	startSigner()
	f.startAll()
	stopLoad := f.startWriters("xaa", "xbb", "xcc", "xdd")
	defer stopLoad()

	c0, _ := client.New(nw.Nodes[0].RESTURL())
	// signed counts the commits of heights from..to that carry node3's signature.
	signed := func(from, to int64) int {
		n := 0
		for h := from; h <= to; h++ {
			lb, err := c0.LightBlock(context.Background(), h)
			if err != nil {
				t.Fatalf("light block %d: %v", h, err)
			}
			for _, sig := range lb.Commit.Signatures {
				if sig.BlockIDFlag == cmttypes.BlockIDFlagCommit && bytes.Equal(sig.ValidatorAddress, val) {
					n++
				}
			}
		}
		return n
	}
	h0 := f.tip()
	h1 := f.advances(h0, 6, 30*time.Second, "with the remote signer")
	if n := signed(h0+1, h1-1); n == 0 {
		t.Fatalf("node3 signed none of blocks %d..%d through its remote signer\n%s", h0+1, h1-1, SignerLog(s))
	}
	t.Logf("node3 signs through the remote signer: %d of blocks %d..%d", signed(h0+1, h1-1), h0+1, h1-1)

	// Kill the signer: the validator stops signing, the chain goes on.
	if err := KillNode(s.NodeInfo); err != nil {
		t.Fatal(err)
	}
	k0 := f.tip()
	k1 := f.advances(k0, 8, 60*time.Second, "with node3's signer dead")
	if n := signed(k0+2, k1-1); n != 0 {
		t.Fatalf("node3 signed %d blocks while its signer was dead", n)
	}
	t.Logf("signer killed at height %d: the chain committed %d blocks without node3's signature", k0, k1-k0)

	// The signer returns: node3 signs again.
	startSigner()
	r0 := f.tip()
	resumed := int64(0)
	deadline := time.Now().Add(60 * time.Second)
	for resumed == 0 && time.Now().Before(deadline) {
		tip := f.advances(r0, 1, 30*time.Second, "after the signer restarted")
		for h := r0 + 1; h < tip; h++ {
			if signed(h, h) > 0 {
				resumed = h
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if resumed == 0 {
		t.Fatalf("node3 did not sign again within 60 s of its signer's restart\n%s\n%s", SignerLog(s), tail(LogFile(n3), 20))
	}
	t.Logf("signer restarted at height %d; node3 signed again from block %d", r0, resumed)
	time.Sleep(time.Second)
	stopLoad()

	// Never a double sign: no block carries evidence.
	rpc, err := rpchttp.New("http://"+nw.Nodes[0].RPC, "/websocket")
	if err != nil {
		t.Fatal(err)
	}
	rep := f.check("remote signer")
	for h := int64(1); h <= rep.Height; h++ {
		b, err := rpc.Block(context.Background(), &h)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Block.Evidence.Evidence) > 0 {
			t.Fatalf("block %d carries evidence of misbehaviour: %v", h, b.Block.Evidence.Evidence)
		}
	}
	t.Logf("no evidence in any of %d blocks", rep.Height)
}
