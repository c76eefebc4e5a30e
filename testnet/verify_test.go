package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/client"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/remote"
)

func (ip *inproc) verifier(t *testing.T, primary *client.Client, witnesses ...*client.Client) *remote.Verifier {
	t.Helper()
	// The trust root comes from genesis, fetched through an honest node.
	chainID, root := genesisTrust(t, ip.net.Nodes[0].Home+"/config/genesis.json", ip.clients[1])
	return lightVerifier(t, chainID, root, "", primary, witnesses...)
}

func TestVerification(t *testing.T) {
	t.Parallel() // an in-process network, mostly waiting on block time
	ip := startInProcess(t, 4)
	ids := ip.seed(t)
	ctx := context.Background()
	// Let every node catch up past the last record so all can attest it.
	st, _ := ip.clients[0].Status(ctx)
	for _, c := range ip.clients {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if _, err := c.WaitHeight(wctx, st.LatestHeight+1); err != nil {
			t.Fatal(err)
		}
		cancel()
	}

	t.Run("honest answers from every node verify", func(t *testing.T) {
		for i, c := range ip.clients {
			var ws []*client.Client
			for j, w := range ip.clients {
				if j != i {
					ws = append(ws, w)
				}
			}
			v := ip.verifier(t, c, ws...)
			ip.caughtUp(t, ctx)
			for k, id := range ids {
				res, b, err := v.Record(ctx, id)
				if err != nil {
					t.Fatalf("node%d record %d: %v", i, k, err)
				}
				if res.RecordID != id || b == nil {
					t.Fatalf("node%d record %d: %+v", i, k, res)
				}
			}
		}
	})

	v := ip.verifier(t, ip.clients[0], ip.clients[1], ip.clients[2])
	resp, err := ip.clients[0].GetRecord(ctx, ids[4], 0, true)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := v.Light.Header(ctx, resp.Height+1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifiers.Record(lb.AppHash, ids[4], resp); err != nil {
		t.Fatalf("untampered answer: %v", err)
	}
	mustFail := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, verifiers.ErrVerification) {
			t.Fatalf("%s: got %v, want a verification failure", name, err)
		}
		t.Logf("%s: rejected: %v", name, err)
	}

	t.Run("tampered record value", func(t *testing.T) {
		r := proto.Clone(resp).(*pb.GetRecordResponse)
		r.Record.Author = "xcc"
		_, err := verifiers.Record(lb.AppHash, ids[4], r)
		mustFail("record field changed", err)
		r = proto.Clone(resp).(*pb.GetRecordResponse)
		r.Proofs[1].Value[len(r.Proofs[1].Value)-3] ^= 1
		_, err = verifiers.Record(lb.AppHash, ids[4], r)
		mustFail("proven value changed", err)
	})
	t.Run("tampered proof", func(t *testing.T) {
		r := proto.Clone(resp).(*pb.GetRecordResponse)
		p := r.Proofs[1].Proof
		p[len(p)/2] ^= 0x20
		_, err := verifiers.Record(lb.AppHash, ids[4], r)
		mustFail("proof bytes changed", err)
	})
	t.Run("proof for another height", func(t *testing.T) {
		// Make the state move on, then check the old answer against a newer header.
		s, _ := ip.net.Signer("xcc")
		res, err := ip.clients[0].Submit(ctx, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xaa"}, Summary: "moves the state on"}}}, s, nil, true)
		if err != nil || !res.Committed {
			t.Fatalf("%+v %v", res, err)
		}
		ip.clients[0].WaitHeight(ctx, res.Height+2)
		later, err := v.Light.Header(ctx, res.Height+1)
		if err != nil {
			t.Fatal(err)
		}
		_, err = verifiers.Record(later.AppHash, ids[4], resp)
		mustFail("answer at an older height against a newer header", err)
	})
	t.Run("absent record is proven absent", func(t *testing.T) {
		missing := strings.Repeat("ab", 32)
		ip.caughtUp(t, ctx)
		res, b, err := v.Record(ctx, missing)
		if !errors.Is(err, remote.ErrAbsent) || res == nil || b == nil {
			t.Fatalf("absent: %v", err)
		}
		if _, err := remote.VerifyBundle(b, remote.TrustRoot{}); !errors.Is(err, remote.ErrAbsent) {
			t.Fatalf("absence bundle: %v", err)
		}
	})
	t.Run("bundle checks offline, only from its trust root", func(t *testing.T) {
		_, b, err := v.Record(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		first := decodeLB(t, b.LightBlocks[0])
		root := remote.TrustRoot{Height: first.Height, Hash: first.Hash()}
		if _, err := remote.VerifyBundle(b, root); err != nil {
			t.Fatalf("honest bundle: %v", err)
		}
		wrong := remote.TrustRoot{Height: first.Height, Hash: bytes.Repeat([]byte{1}, 32)}
		_, err = remote.VerifyBundle(b, wrong)
		mustFail("bundle against another trust root", err)
	})
	t.Run("header not signed by 2/3+ of the validators", func(t *testing.T) {
		_, b, err := v.Record(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		var rr pb.GetRecordResponse
		if err := protojson.Unmarshal(b.Record, &rr); err != nil {
			t.Fatal(err)
		}
		// Forge the header that commits to the answer: a different app hash,
		// signed by only one of the four validators (its key is in its home).
		for i, bz := range b.LightBlocks {
			lb := decodeLB(t, bz)
			if lb.Height != rr.Height+1 {
				continue
			}
			forged := forgeHeader(t, lb, ip.net.Nodes[0].Home)
			fp, _ := forged.ToProto()
			b.LightBlocks[i], _ = fp.Marshal()
		}
		_, err = remote.VerifyBundle(b, remote.TrustRoot{})
		mustFail("forged header with 1/4 of the signatures", err)
	})
	t.Run("verify CLI exit statuses", func(t *testing.T) {
		home := t.TempDir()
		gen := ip.net.Nodes[0].Home + "/config/genesis.json"
		n := ip.net.Nodes
		common := []string{"--home", home, "--witness", n[1].RESTURL(), "--witness", n[2].RESTURL(), "-o", "json"}
		code, out := runCLI(t, append([]string{"verify", "record", ids[2], "--node", n[0].RESTURL(), "--genesis", gen}, common...)...)
		if code != 0 || !strings.Contains(out, `"verified": true`) {
			t.Fatalf("honest: exit %d\n%s", code, out)
		}
		// The trust store persists: no trust flags needed the second time.
		code, out = runCLI(t, append([]string{"verify", "record", ids[3], "--node", n[3].RESTURL()}, common...)...)
		if code != 0 {
			t.Fatalf("from the trust store: exit %d\n%s", code, out)
		}
		code, out = runCLI(t, append([]string{"verify", "record", strings.Repeat("cd", 32), "--node", n[0].RESTURL()}, common...)...)
		if code != cli.ExitNotFound || !strings.Contains(out, `"absent": true`) {
			t.Fatalf("absent: exit %d\n%s", code, out)
		}
		liar := httptest.NewServer(rewriter(t, n[0].RESTURL()))
		defer liar.Close()
		code, out = runCLI(t, append([]string{"verify", "record", ids[2], "--node", liar.URL}, common...)...)
		if code != cli.ExitUnverified || !strings.Contains(out, `"verified": false`) {
			t.Fatalf("liar: exit %d\n%s", code, out)
		}
		// query record --bundle, then verify the bundle offline from a trust root.
		bundle := filepath.Join(home, "evidence.json")
		code, out = runCLI(t, append([]string{"query", "record", ids[0], "--node", n[1].RESTURL(), "--bundle", bundle}, common...)...)
		if code != 0 {
			t.Fatalf("query --bundle: exit %d\n%s", code, out)
		}
		code, out = runCLI(t, "verify", "bundle", bundle, "--genesis", gen, "-o", "json")
		if code != 0 {
			t.Fatalf("verify bundle: exit %d\n%s", code, out)
		}
		code, out = runCLI(t, "verify", "bundle", bundle, "--trust-height", "1", "--trust-hash", strings.Repeat("11", 32))
		if code != cli.ExitUnverified {
			t.Fatalf("verify bundle, wrong root: exit %d\n%s", code, out)
		}
	})
	t.Run("node serving altered data", func(t *testing.T) {
		liar := httptest.NewServer(rewriter(t, ip.net.Nodes[0].RESTURL()))
		defer liar.Close()
		lc, _ := client.New(liar.URL)
		lv := ip.verifier(t, lc, ip.clients[1], ip.clients[2])
		_, _, err := lv.Record(ctx, ids[1])
		mustFail("lying node", err)
		// The same lying node cannot pass off a forged header either: the
		// light client rejects it (and falls back to an honest witness).
		h := resp.Height + 3
		got, err := lv.Light.Header(ctx, h)
		if err != nil {
			mustFail("lying node's forged header", err)
			return
		}
		honest, herr := ip.clients[1].LightBlock(ctx, h)
		if herr != nil {
			t.Fatal(herr)
		}
		if bytes.Equal(got.AppHash, bytes.Repeat([]byte{0xee}, 32)) || !bytes.Equal(got.Hash(), honest.Hash()) {
			t.Fatalf("light client accepted the forged header %d", h)
		}
		t.Logf("lying node's forged header %d: dropped; the light client used an honest witness's header", h)
	})
	t.Run("bulk export with the CLI", func(t *testing.T) {
		testBulkCLI(t, ip)
	})
	// Last: it retracts a record (the challenge, whose opinion gets a
	// revoked version) while a TAXII client pages.
	t.Run("TAXII collection paged across nodes", func(t *testing.T) {
		testTAXIIAcrossNodes(t, ip, func() {
			signer, err := ip.net.Signer("xaa")
			if err != nil {
				t.Fatal(err)
			}
			rec := &pb.Record{SchemaVersion: 1, Body: &pb.Record_Retraction{Retraction: &pb.Retraction{
				TargetId: ids[7], Reason: "Withdrawn while a TAXII client pages."}}}
			res, err := ip.clients[0].Submit(ctx, rec, signer, nil, true)
			if err != nil || !res.Committed {
				t.Fatalf("retraction: %+v %v", res, err)
			}
			// Every node serves it before the paging goes on: a node
			// behind would end the paging early (more: false), as it
			// should, and the client would poll again later.
			for _, c := range ip.clients {
				if err := c.WaitAttested(ctx, res.Height); err != nil {
					t.Fatal(err)
				}
			}
		})
	})
}

// runCLI runs the normledger command in-process and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := cli.NewRootCmd(&out, &errOut, strings.NewReader(""))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return cli.ExitCode(err), out.String() + errOut.String() + fmt.Sprint(err)
}

func decodeLB(t *testing.T, bz []byte) *types.LightBlock {
	t.Helper()
	p := new(cmtproto.LightBlock)
	if err := p.Unmarshal(bz); err != nil {
		t.Fatal(err)
	}
	lb, err := types.LightBlockFromProto(p)
	if err != nil {
		t.Fatal(err)
	}
	return lb
}

// forgeHeader changes lb's app hash and re-signs its commit with the one
// validator key found in home, dropping every other signature.
func forgeHeader(t *testing.T, lb *types.LightBlock, home string) *types.LightBlock {
	t.Helper()
	keyJSON, err := readPrivValidator(home)
	if err != nil {
		t.Fatal(err)
	}
	h := *lb.Header
	h.AppHash = bytes.Repeat([]byte{0xee}, 32)
	blockID := types.BlockID{Hash: h.Hash(), PartSetHeader: lb.Commit.BlockID.PartSetHeader}
	commit := &types.Commit{Height: h.Height, Round: lb.Commit.Round, BlockID: blockID}
	for i, v := range lb.ValidatorSet.Validators {
		sig := types.NewCommitSigAbsent()
		if bytes.Equal(v.Address, keyJSON.PubKey().Address()) {
			vote := &types.Vote{Type: cmtproto.PrecommitType, Height: h.Height, Round: lb.Commit.Round, BlockID: blockID,
				Timestamp: lb.Commit.Signatures[i].Timestamp, ValidatorAddress: v.Address, ValidatorIndex: int32(i)}
			s, err := keyJSON.Sign(types.VoteSignBytes(h.ChainID, vote.ToProto()))
			if err != nil {
				t.Fatal(err)
			}
			sig = types.CommitSig{BlockIDFlag: types.BlockIDFlagCommit, ValidatorAddress: v.Address, Timestamp: vote.Timestamp, Signature: s}
		}
		commit.Signatures = append(commit.Signatures, sig)
	}
	return &types.LightBlock{SignedHeader: &types.SignedHeader{Header: &h, Commit: commit}, ValidatorSet: lb.ValidatorSet}
}

// rewriter proxies a node's REST API and alters answers: record summaries
// (and the proven bytes, consistently) and headers' app hashes.
func rewriter(t *testing.T, upstream string) http.Handler {
	return rewritingProxy(upstream, func(path string, body []byte) []byte {
		switch {
		case strings.HasPrefix(path, "/v1/records/"):
			var rr pb.GetRecordResponse
			if protojson.Unmarshal(body, &rr) == nil && rr.Record != nil {
				// Rewrite the tx inside the record and re-encode the proven value to match.
				rr.Record.Author = "xcc"
				bz, _ := proto.MarshalOptions{Deterministic: true}.Marshal(rr.Record)
				if len(rr.Proofs) == 2 {
					rr.Proofs[1].Value = bz
				}
				body, _ = protojson.Marshal(&rr)
			}
		case strings.HasPrefix(path, "/v1/light_blocks/"):
			var lr pb.GetLightBlockResponse
			if protojson.Unmarshal(body, &lr) == nil {
				p := new(cmtproto.LightBlock)
				if p.Unmarshal(lr.LightBlock) == nil && p.SignedHeader != nil && p.SignedHeader.Header.Height > 3 {
					p.SignedHeader.Header.AppHash = bytes.Repeat([]byte{0xee}, 32)
					lr.LightBlock, _ = p.Marshal()
					body, _ = protojson.Marshal(&lr)
				}
			}
		}
		return body
	})
}
