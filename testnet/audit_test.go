package testnet

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/audit"
	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/client"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/remote"
)

// liar proxies a node's REST API and rewrites one kind of answer.
func liar(t *testing.T, upstream string, rewrite func(path string, body []byte) []byte) *httptest.Server {
	return httptest.NewServer(rewritingProxy(upstream, rewrite))
}

// rewritingProxy proxies a node's REST API (upstream), passing the body of
// each 200 answer through rewrite.
func rewritingProxy(upstream string, rewrite func(path string, body []byte) []byte) http.Handler {
	u, _ := url.Parse(upstream)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(u.String() + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == 200 {
			body = rewrite(r.URL.Path, body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	})
}

func TestAudit(t *testing.T) {
	t.Parallel() // an in-process network, mostly waiting on block time
	ip := startInProcess(t, 4)
	ids := ip.seed(t)
	ctx := context.Background()
	// Wait until the last seeded record is attested, so the audit covers it.
	for _, err := ip.clients[0].GetRecord(ctx, ids[len(ids)-1], 0, false); err != nil; _, err = ip.clients[0].GetRecord(ctx, ids[len(ids)-1], 0, false) {
		time.Sleep(100 * time.Millisecond)
	}
	// xdd's validator double-signs: the evidence is committed, and the
	// audit must re-execute it (it is part of the state).
	evID := commitDoubleSign(t, ip, 3, "xdd")
	st, _ := ip.clients[0].Status(ctx)
	ip.caughtUp(t, ctx) // the witnesses have header st.LatestAttestedHeight+1 (or later)
	gen := filepath.Join(ip.net.Nodes[0].Home, "config", "genesis.json")
	if mc, err := ip.clients[0].MemberCompliance(ctx, "xdd", 0); err != nil || mc.Compliance.Misbehaviour.GetCount() != 1 {
		t.Fatalf("xdd's compliance after evidence %s: %+v %v", evID, mc.GetCompliance().GetMisbehaviour(), err)
	}

	run := func(node *client.Client) *audit.Report {
		t.Helper()
		chainID, _ := node.ChainID(ctx)
		var ws []*remote.Provider
		for _, w := range ip.clients[1:3] {
			ws = append(ws, remote.NewProvider(chainID, w.Base(), w))
		}
		rep, err := audit.Run(ctx, audit.Options{API: node, NodeName: node.Base(), Witnesses: ws, ToHeight: st.LatestAttestedHeight})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	t.Run("honest network: no discrepancies", func(t *testing.T) {
		for i, c := range ip.clients[:2] {
			rep := run(c)
			if !rep.OK() {
				t.Fatalf("node%d: %+v", i, rep.Discrepancies)
			}
			// 4 states, the neutral body, the verifier and the observer admitted by vote.
			if rep.Accepted < len(ids) || rep.AppHashesMatched != rep.Blocks || rep.MembersCompared != 7 || rep.PledgesCompared != 1 || rep.RecordsCompared < len(ids) {
				t.Fatalf("node%d audited too little: %d accepted, %d/%d app hashes, %d members, %d pledges, %d records",
					i, rep.Accepted, rep.AppHashesMatched, rep.Blocks, rep.MembersCompared, rep.PledgesCompared, rep.RecordsCompared)
			}
			// The double sign is in the report, recomputed and matching the node's.
			if len(rep.Evidence) != 1 || rep.Evidence[0].ID != evID || rep.Evidence[0].Member != "xdd" || rep.Evidence[0].Type != "duplicate_vote" {
				t.Fatalf("node%d: evidence in the report: %+v", i, rep.Evidence)
			}
			t.Logf("node%d: %d blocks, %d txs, %d signatures, %d records, %d members, %d pledges, evidence %+v, %.2f s",
				i, rep.Blocks, rep.Txs, rep.Signatures, rep.RecordsCompared, rep.MembersCompared, rep.PledgesCompared, rep.Evidence, rep.Seconds)
		}
	})

	t.Run("lying evidence API", func(t *testing.T) {
		srv := liar(t, ip.net.Nodes[0].RESTURL(), func(path string, body []byte) []byte {
			if path != "/v1/evidence" {
				return body
			}
			// Hide the misbehaviour.
			return []byte(`{"evidence":[],"height":"` + itoa(st.LatestAttestedHeight) + `"}`)
		})
		defer srv.Close()
		c, _ := client.New(srv.URL)
		rep := run(c)
		if len(rep.Discrepancies) != 1 || !strings.Contains(rep.Discrepancies[0].What, "number of pieces of evidence") {
			t.Fatalf("discrepancies: %+v", rep.Discrepancies)
		}
		t.Logf("reported: %s: re-execution %s, node %s", rep.Discrepancies[0].What, rep.Discrepancies[0].Want, rep.Discrepancies[0].Got)
	})

	t.Run("verify evidence", func(t *testing.T) {
		n := ip.net.Nodes
		common := []string{"--home", t.TempDir(), "--genesis", gen, "--witness", n[1].RESTURL(), "--witness", n[2].RESTURL()}
		code, out := runCLI(t, append([]string{"verify", "evidence", evID, "--node", n[0].RESTURL()}, common...)...)
		if code != 0 || !strings.Contains(out, "VERIFIED: evidence "+evID+": duplicate_vote") || !strings.Contains(out, "run by member xdd") ||
			!strings.Contains(out, "member xdd's entry holding that validator key proven") {
			t.Fatalf("honest: exit %d\n%s", code, out)
		}
		t.Logf("%s", strings.SplitN(out, "\n", 2)[0])
		// A node that pins the misbehaviour on another member.
		srv := liar(t, n[0].RESTURL(), func(path string, body []byte) []byte {
			if path != "/v1/evidence/"+evID {
				return body
			}
			return []byte(strings.Replace(string(body), `"member":"xdd"`, `"member":"xcc"`, 1))
		})
		defer srv.Close()
		code, out = runCLI(t, append([]string{"verify", "evidence", evID, "--node", srv.URL, "-o", "json"}, common...)...)
		if code != cli.ExitUnverified || !strings.Contains(out, `"verified": false`) || !strings.Contains(out, "differs from the proven evidence") {
			t.Fatalf("liar: exit %d\n%s", code, out)
		}
	})

	t.Run("lying compliance API", func(t *testing.T) {
		srv := liar(t, ip.net.Nodes[0].RESTURL(), func(path string, body []byte) []byte {
			if path != "/v1/compliance/xcc" {
				return body
			}
			var r pb.GetMemberComplianceResponse
			if protojson.Unmarshal(body, &r) != nil {
				return body
			}
			// xcc has met nothing yet; claim a perfect record.
			r.Compliance.OnTime = &pb.RateFigure{Numerator: 5, Denominator: 5, BasisPoints: 10000}
			bz, _ := protojson.Marshal(&r)
			return bz
		})
		defer srv.Close()
		c, _ := client.New(srv.URL)
		rep := run(c)
		if len(rep.Discrepancies) != 1 || !strings.Contains(rep.Discrepancies[0].What, "compliance of xcc: on-time rate") ||
			!strings.Contains(rep.Discrepancies[0].Got, `"basisPoints":10000`) {
			t.Fatalf("discrepancies: %+v", rep.Discrepancies)
		}
		t.Logf("reported: %s: re-execution %s, node %s", rep.Discrepancies[0].What, rep.Discrepancies[0].Want, rep.Discrepancies[0].Got)
		// Through the CLI: non-zero exit and a written report.
		out := t.TempDir()
		code, msg := runCLI(t, "audit", "--node", srv.URL, "--witness", ip.net.Nodes[1].RESTURL(), "--genesis", gen,
			"--out", out, "--to-height", itoa(st.LatestAttestedHeight), "--home", t.TempDir())
		if code != cli.ExitDiscrepancy || !strings.Contains(msg, "DISCREPANCY") {
			t.Fatalf("CLI: exit %d\n%s", code, msg)
		}
		for _, f := range []string{"report.json", "report.html"} {
			if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
				t.Fatalf("%s not written: %v", f, err)
			}
		}
	})

	t.Run("lying record API", func(t *testing.T) {
		srv := liar(t, ip.net.Nodes[0].RESTURL(), func(path string, body []byte) []byte {
			if path != "/v1/records" {
				return body
			}
			var r pb.ListRecordsResponse
			if protojson.Unmarshal(body, &r) != nil || len(r.Records) < 3 {
				return body
			}
			r.Records[2].Author = "xdd" // misattribute one record
			bz, _ := protojson.Marshal(&r)
			return bz
		})
		defer srv.Close()
		c, _ := client.New(srv.URL)
		rep := run(c)
		if len(rep.Discrepancies) != 1 || !strings.Contains(rep.Discrepancies[0].What, "record 3 ") ||
			!strings.Contains(rep.Discrepancies[0].Got, "author xdd") {
			t.Fatalf("discrepancies: %+v", rep.Discrepancies)
		}
		t.Logf("reported: %s: re-execution %q, node %q", rep.Discrepancies[0].What, rep.Discrepancies[0].Want, rep.Discrepancies[0].Got)
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
