package testnet

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/audit"
	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/remote"
)

// Selective disclosure and evidence standards on a 4-validator network of
// OS processes, as the
// seed files it: an incident withholding the operator's name; order A
// grants it to two states, is delivered, confirmed by both and published
// on expiry; under order B the second state never confirms and its duty
// falls overdue. The CLI proves the name from the author's disclosures,
// proves order B with the missed confirmation (and catches a node that
// hides it); the evidence part of the seed is checked by evidenceOnNet;
// and an audit re-executes the whole chain.
func TestDisclosureOnProcessNet(t *testing.T) {
	binaries(t) // an OS-process network: NORMLEDGER_NETWORKS=1
	f, _ := newProcessNet(t, Options{ChainID: "disclosure", Validators: 4}, 0)
	f.startAll()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	steps, err := Seed(ctx, f.nw, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf := newCaseFiler(t, f)
	ids, by := map[string]string{}, map[string]string{}
	for _, s := range steps {
		ids[s.Name], by[s.Name] = s.ID, s.Author
	}
	victim, red, orderA, orderB := by[RedactedStep], ids[RedactedStep], ids[OrderStep], ids[OrderLateStep]
	var approved []string
	for _, s := range steps {
		if strings.HasPrefix(s.Name, "undertaking_") {
			approved = append(approved, s.Author)
		}
	}
	if red == "" || orderA == "" || orderB == "" || ids[PublishStep] == "" || len(approved) != 2 {
		t.Fatalf("the seed's disclosure steps: %v", steps)
	}
	first, second := approved[0], approved[1]
	ob := func(k pb.ObligationKind, order, debtor string) string { return ledger.ObligationID(k, order, debtor) }
	met := pb.ObligationStatus_OBLIGATION_STATUS_MET
	cf.await(ob(pb.ObligationKind_OBLIGATION_KIND_PUBLISH_DISCLOSURE, orderA, victim), met, 30*time.Second)
	cf.await(ob(pb.ObligationKind_OBLIGATION_KIND_DELIVER_DISCLOSURE, orderA, victim), met, 10*time.Second)
	for _, m := range approved {
		cf.await(ob(pb.ObligationKind_OBLIGATION_KIND_CONFIRM_DISCLOSURE, orderA, m), met, 10*time.Second)
	}
	cf.await(ob(pb.ObligationKind_OBLIGATION_KIND_CONFIRM_DISCLOSURE, orderB, first), met, 10*time.Second)
	late := cf.await(ob(pb.ObligationKind_OBLIGATION_KIND_CONFIRM_DISCLOSURE, orderB, second), pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE, OrderConfirmWithin+30*time.Second)
	t.Logf("order B: %s's confirmation %s overdue since %s", second, late.Id, late.Due.AsTime().Format(time.RFC3339))

	c0 := cf.clients[0]
	// What the node serves of the record never holds the name: only the
	// digests, the basis and the public summary.
	rr, err := c0.GetRecord(ctx, red, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := protojson.Marshal(rr)
	if strings.Contains(string(js), OperatorName) || !strings.Contains(string(js), "DESIGNATION_BASIS_COMMERCIAL") {
		t.Fatalf("the redacted record as served: %s", js)
	}
	mc, err := c0.MemberCompliance(ctx, second, 0)
	if err != nil || mc.Compliance.OrderDutiesMissed.GetCount() < 1 {
		t.Fatalf("%s's order duties missed: %v %v", second, mc.GetCompliance().GetOrderDutiesMissed(), err)
	}
	if vc, err := c0.MemberCompliance(ctx, victim, 0); err != nil || vc.Compliance.RedactedFields.GetNumerator() != 2 {
		t.Fatalf("%s's redacted fields: %v %v", victim, vc.GetCompliance().GetRedactedFields(), err)
	}

	gen := filepath.Join(f.nw.Nodes[0].Home, "config", "genesis.json")
	flags := []string{"--node", c0.Base(), "--genesis", gen, "--witness", f.nw.Nodes[1].RESTURL(), "--home", t.TempDir()}
	disclosures := filepath.Join(f.nw.MemberHomes[victim], "disclosures", red+".json")
	code, out := runCLI(t, append([]string{"verify", "record", red, "--disclosures", disclosures}, flags...)...)
	if code != 0 || !lineHas(out, "PROVEN", "affected_entities", OperatorName) || !lineHas(out, "PROVEN", "impacts") {
		t.Fatalf("verify record --disclosures: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"verify", "order", orderB}, flags...)...)
	if code != 0 || !strings.Contains(out, "VERIFIED: order "+orderB) || !lineHas(out, "confirm_disclosure", second, "overdue") ||
		!lineHas(out, "confirm_disclosure", first, "met") || !lineHas(out, "return_disclosure", first, "open") {
		t.Fatalf("verify order B: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"verify", "order", orderA}, flags...)...)
	if code != 0 || !lineHas(out, "publish_disclosure", victim, "met") || strings.Contains(out, "return_disclosure") {
		t.Fatalf("verify order A: exit %d\n%s", code, out)
	}
	// A node that shows the missed confirmation met is caught.
	liarNode := liar(t, c0.Base(), func(path string, body []byte) []byte {
		if path != "/v1/obligations/"+late.Id {
			return body
		}
		return []byte(strings.Replace(string(body), `"OBLIGATION_STATUS_OVERDUE"`, `"OBLIGATION_STATUS_MET"`, 1))
	})
	defer liarNode.Close()
	code, out = runCLI(t, append(append([]string{"verify", "order", orderB}, flags...), "--node", liarNode.URL)...)
	if code != cli.ExitUnverified {
		t.Fatalf("verify order through a node that shows the confirmation met: exit %d\n%s", code, out)
	}

	evidenceOnNet(t, ctx, cf, steps, flags)

	// The audit re-executes the chain, deliveries and publication included.
	st, err := c0.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2 := cf.clients[2]
	arep, err := audit.Run(ctx, audit.Options{API: c0, NodeName: c0.Base(),
		Witnesses: []*remote.Provider{remote.NewProvider(f.nw.ChainID, c2.Base(), c2)}, ToHeight: st.LatestAttestedHeight})
	if err != nil {
		t.Fatal(err)
	}
	if !arep.OK() || arep.AppHashesMatched != arep.Blocks || arep.RecordsCompared < len(steps) {
		t.Fatalf("audit: %d/%d app hashes, %d records, discrepancies %v", arep.AppHashesMatched, arep.Blocks, arep.RecordsCompared, arep.Discrepancies)
	}
	t.Logf("audit: %d blocks, %d txs re-executed, %d records compared, %d app hashes matched", arep.Blocks, arep.Txs, arep.RecordsCompared, arep.AppHashesMatched)
}

// evidenceOnNet checks the seed's evidence standards (docs/evidence.md):
// the co-signed attribution and the origin's reply, the declaration's next
// duty, the statement proven adopted by every state (and a node that
// changes its text caught), the exercise duty overdue but apart from the
// real figures, and the near-miss that placed no duty.
func evidenceOnNet(t *testing.T, ctx context.Context, cf *caseFiler, steps []SeedStep, flags []string) {
	t.Helper()
	ids, by := map[string]string{}, map[string]string{}
	var states []string
	for _, s := range steps {
		ids[s.Name], by[s.Name] = s.ID, s.Author
		if strings.HasPrefix(s.Name, "vote_statement_") {
			states = append(states, s.Author)
		}
	}
	for _, n := range []string{MethodologyStep, JointAssessmentStep, AttributionStep, AttributionReplyStep, DeclarationStep, StatementStep, ExerciseStep, NearMissStep} {
		if ids[n] == "" {
			t.Fatalf("the seed filed no %s: %v", n, steps)
		}
	}
	c0 := cf.clients[0]
	origin := by[AttributionReplyStep]
	met := pb.ObligationStatus_OBLIGATION_STATUS_MET
	reply := cf.await(ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_REPLY_ATTRIBUTION, ids[AttributionStep], origin), met, 10*time.Second)
	if reply.StatusRecord != ids[AttributionReplyStep] || len(reply.Creditors) != 2 {
		t.Fatalf("the attribution's reply duty: %v", reply)
	}
	cf.await(ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_DECLARE, ids[DeclarationStep], by[DeclarationStep]), pb.ObligationStatus_OBLIGATION_STATUS_OPEN, 10*time.Second)
	drill := cf.await(ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_RESPOND, ids[ExerciseStep], origin),
		pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE, ExerciseWithin+30*time.Second)
	if !drill.Exercise {
		t.Fatalf("the drill's duty is not an exercise duty: %v", drill)
	}
	mc, err := c0.MemberCompliance(ctx, origin, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range mc.Compliance.GetOverdue().GetIds() {
		if id == drill.Id {
			t.Fatalf("the drill's overdue duty counts in %s's real figures", origin)
		}
	}
	if sc := mc.Compliance.GetExerciseObligations(); len(sc) != 5 || sc[3].Count < 1 {
		t.Fatalf("%s's exercise figures: %v", origin, sc)
	}

	// The attribution, verified, co-signed by the co-attributor.
	code, out := runCLI(t, append([]string{"verify", "record", ids[AttributionStep]}, flags...)...)
	if code != 0 || !strings.Contains(out, "VERIFIED") {
		t.Fatalf("verify record (attribution): exit %d\n%s", code, out)
	}
	rr, err := c0.GetRecord(ctx, ids[AttributionStep], 0, false)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ledger.DecodeTx(rr.Record.Tx, 0)
	if err != nil || len(tx.CoSignatures) != 1 || tx.CoSignatures[0].Signer != tx.Body.Record.GetAttribution().GetCoAttributors()[0] {
		t.Fatalf("the attribution's co-signatures: %v %v", tx.GetCoSignatures(), err)
	}

	// The statement: adopted by every state, its digest the text's.
	code, out = runCLI(t, append([]string{"verify", "statement", ids[StatementStep]}, flags...)...)
	if code != 0 || !strings.Contains(out, "ADOPTED") || !strings.Contains(out, StatementText) || !strings.Contains(out, "matches") {
		t.Fatalf("verify statement: exit %d\n%s", code, out)
	}
	for _, s := range states {
		if !lineHas(out, s, "yes", "true") {
			t.Fatalf("verify statement does not show %s's counted yes vote:\n%s", s, out)
		}
	}
	// A node that shows the proposal still voting is caught.
	liarNode := liar(t, c0.Base(), func(path string, body []byte) []byte {
		if path != "/v1/proposals/"+ids[StatementStep] {
			return body
		}
		return []byte(strings.Replace(string(body), `"PROPOSAL_STATUS_PASSED"`, `"PROPOSAL_STATUS_VOTING"`, 1))
	})
	defer liarNode.Close()
	code, out = runCLI(t, append(append([]string{"verify", "statement", ids[StatementStep]}, flags...), "--node", liarNode.URL)...)
	if code != cli.ExitUnverified {
		t.Fatalf("verify statement through a node that shows it still voting: exit %d\n%s", code, out)
	}

	// The near-miss placed no duty on anyone.
	obs, err := c0.Obligations(ctx, &pb.ListObligationsRequest{Debtor: by[NearMissStep]})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range obs.Obligations {
		if o.SourceRecord == ids[NearMissStep] {
			t.Fatalf("the near-miss placed %v", o)
		}
	}
}
