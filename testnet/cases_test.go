package testnet

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/audit"
	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/remote"
)

// caseFiler files records through the nodes' REST APIs, round robin, in
// commit mode, and notes what it filed in the fault net's extra records
// (the set checker's "written outside the history").
type caseFiler struct {
	t       *testing.T
	f       *faultNet
	clients []*client.Client
	seqs    map[string]uint64
	n       int
}

func newCaseFiler(t *testing.T, f *faultNet) *caseFiler {
	cf := &caseFiler{t: t, f: f, seqs: map[string]uint64{}}
	for _, n := range f.nw.Nodes {
		c, err := client.New(n.RESTURL())
		if err != nil {
			t.Fatal(err)
		}
		cf.clients = append(cf.clients, c)
	}
	// Every node serves attested state before the first read (startAll
	// waits only for the tip: a node a block behind answers 503).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range cf.clients {
		if err := c.WaitAttested(ctx, 2); err != nil {
			t.Fatalf("%s: %v", c.Base(), err)
		}
	}
	return cf
}

// send signs rec by author (co-signed by co) and broadcasts it; it
// returns the result.
func (cf *caseFiler) send(author string, co []string, rec *pb.Record) client.Result {
	cf.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	signer, err := cf.f.nw.Signer(author)
	if err != nil {
		cf.t.Fatal(err)
	}
	var cs []ledger.Signer
	for _, m := range co {
		s, err := cf.f.nw.Signer(m)
		if err != nil {
			cf.t.Fatal(err)
		}
		cs = append(cs, s)
	}
	if cf.seqs[author] == 0 {
		if cf.seqs[author], err = cf.clients[0].NextSequence(ctx, author); err != nil {
			cf.t.Fatal(err)
		}
	}
	rec.SchemaVersion = ledger.CurrentSchemaVersion
	tx, err := ledger.BuildTx(&pb.TxBody{ChainId: cf.f.nw.ChainID, Sequence: cf.seqs[author], Record: rec}, signer, cs...)
	if err != nil {
		cf.t.Fatal(err)
	}
	cf.n++
	res, err := cf.clients[cf.n%len(cf.clients)].Broadcast(ctx, tx, true)
	if err != nil {
		cf.t.Fatalf("%s: %v", author, err)
	}
	if !res.Rejected() {
		cf.seqs[author]++
		cf.f.extra = append(cf.f.extra, res.ID)
	}
	return res
}

func (cf *caseFiler) file(author string, co []string, rec *pb.Record) string {
	cf.t.Helper()
	res := cf.send(author, co, rec)
	if res.Rejected() {
		cf.t.Fatalf("%s's %s: rejected: %s: %s", author, ledger.KindNameOf(ledger.KindOf(rec)), res.Code, res.Log)
	}
	return res.ID
}

func (cf *caseFiler) reject(author string, rec *pb.Record, want ledger.Code) string {
	cf.t.Helper()
	res := cf.send(author, nil, rec)
	if res.Code != want {
		cf.t.Fatalf("%s's %s: %v (%s), want %v", author, ledger.KindNameOf(ledger.KindOf(rec)), res.Code, res.Log, want)
	}
	return res.Log
}

// obligation polls obligation id on node 0 until it has status want.
func (cf *caseFiler) await(id string, want pb.ObligationStatus, within time.Duration) *pb.Obligation {
	cf.t.Helper()
	deadline := time.Now().Add(within)
	for {
		res, err := cf.clients[0].Obligation(context.Background(), id, 0, false)
		if err == nil && res.Obligation.GetStatus() == want {
			return res.Obligation
		}
		if time.Now().After(deadline) {
			cf.t.Fatalf("obligation %s: %v (%v), want %v", id, res.GetObligation().GetStatus(), err, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func caseRec(s *pb.CaseStep) *pb.Record { return &pb.Record{Body: &pb.Record_CaseStep{CaseStep: s}} }

// A case from request to close on a 4-validator network of processes under
// load: the cooling-off refuses an early escalation; a mediator accepts and
// reports; the remediation plan's first milestone falls overdue at block
// time and is met late; the measure taken during mediation is flagged, and
// once the plan is met it must end. A second case is never answered. The
// set checker then passes; verify proves a step, the case and the absence
// of the second case's reply (and only once its window has closed); the
// audit replays the chain with no discrepancy.
func TestCaseUnderLoad(t *testing.T) {
	binaries(t) // an OS-process network: NORMLEDGER_NETWORKS=1
	f, _ := newProcessNet(t, Options{ChainID: "cases", Validators: 4, LoadMembers: 3}, 0)
	f.startAll()
	stop := f.startWriters("load-001", "load-002", "load-003")
	defer stop()
	cf := newCaseFiler(t, f)
	now := func() time.Time { return time.Now().UTC().Truncate(time.Second) }

	// The consortium adopts the escalation ladder (three of four states).
	gr, err := cf.clients[0].GovernanceRules(context.Background(), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	ladder := cf.file("xaa", nil, CaseParamsProposal(gr.Params, now().Add(72*time.Hour)))
	for _, s := range []string{"xaa", "xbb", "xcc"} {
		cf.file(s, nil, &pb.Record{Body: &pb.Record_Vote{Vote: &pb.Vote{ProposalId: ladder, Option: pb.VoteOption_VOTE_OPTION_YES}}})
	}

	inc := cf.file("xbb", nil, &pb.Record{Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: "GRID-2026-3", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION, Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
		Sectors: []pb.Sector{pb.Sector_SECTOR_HEALTH}, AffectedStates: []string{"xbb"}, DetectedAt: timestamppb.New(now().Add(-2 * time.Hour)),
		AwareAt: timestamppb.New(now().Add(-time.Hour)), Severity: pb.Severity_SEVERITY_HIGH, Summary: "Wiper at a hospital network."}}})
	caseID := cf.file("xbb", nil, caseRec(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION, Respondent: "xcc",
		Subjects: []string{inc}, Norm: "UN-GGE-2015-13f", Conduct: "attack_on_health", Statement: "We call upon XCC to consult."}))
	why := cf.reject("xbb", caseRec(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_FACT_FINDING_REQUEST, CaseId: caseID, Verifiers: []string{"lumen"}}),
		ledger.CodeCoolingOff)
	t.Logf("an early fact-finding request is refused: %s", why)
	cf.file("xcc", nil, caseRec(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_REPLY, CaseId: caseID, Statement: "We will consult."}))
	medReq := cf.file("xcc", nil, caseRec(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REQUEST, CaseId: caseID, Mediator: "observatory"}))
	cf.file("observatory", nil, caseRec(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_ACCEPT, CaseId: caseID}))
	protest := cf.file("xbb", nil, &pb.Record{Body: &pb.Record_Measure{Measure: &pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_TAKE,
		CaseId: caseID, Type: pb.MeasureType_MEASURE_TYPE_PROTEST, Target: "xcc", Conduct: "attack_on_health", Level: 1,
		Proportionality: "A diplomatic note.", Reversible: true, ExpectedEnd: timestamppb.New(now().Add(time.Hour))}}})
	cf.file("observatory", nil, caseRec(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REPORT, CaseId: caseID,
		Statement: "The parties agree on a plan."}))
	cf.file("xbb", []string{"xcc"}, caseRec(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_CONSULTATION_HELD, CaseId: caseID,
		Outcome: pb.CaseOutcome_CASE_OUTCOME_UNRESOLVED}))
	plan := cf.file("xcc", []string{"xbb"}, caseRec(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_REMEDIATION_PLAN, CaseId: caseID,
		Milestones: []*pb.Milestone{{Description: "Isolate the staging servers", Due: timestamppb.New(now().Add(8 * time.Second))},
			{Description: "Independent audit", Due: timestamppb.New(now().Add(time.Hour))}}}))
	m1 := ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_MILESTONE, ledger.MilestoneSource(plan, 1), "xcc")
	cf.await(m1, pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE, time.Minute)
	for _, n := range []uint32{1, 2} {
		cf.file("xcc", nil, caseRec(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_MILESTONE_REPORT, CaseId: caseID, Milestone: n}))
	}
	cf.await(m1, pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE, 10*time.Second)
	terminate := ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_TERMINATE_MEASURE, protest, "xbb")
	cf.await(terminate, pb.ObligationStatus_OBLIGATION_STATUS_OPEN, 10*time.Second)
	cf.file("xbb", nil, &pb.Record{Body: &pb.Record_Measure{Measure: &pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_STAND_DOWN,
		CaseId: caseID, MeasureId: protest}}})
	closeID := cf.file("xcc", []string{"xbb"}, caseRec(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_CLOSE, CaseId: caseID,
		Outcome: pb.CaseOutcome_CASE_OUTCOME_SETTLED}))

	// A second case, never answered: under a pledge whose reply window is
	// a few seconds.
	pledge := cf.file("xdd", []string{"xcc"}, &pb.Record{Body: &pb.Record_Pledge{Pledge: &pb.Pledge{Title: "Restraint", Pledgors: []string{"xcc", "xdd"},
		NormRefs: []string{"UN-GGE-2015-13f"}, ProtectedSectors: []pb.Sector{pb.Sector_SECTOR_ENERGY}, GeoScope: []string{"GLOBAL"},
		EffectiveFrom: timestamppb.New(now().Add(-time.Hour)), CaseWindows: &pb.CaseWindows{ReplySeconds: 5}}}})
	silent := cf.file("xdd", nil, caseRec(&pb.CaseStep{Step: pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION, Respondent: "xcc",
		Subjects: []string{pledge}, PledgeId: pledge, Conduct: "unnotified_operation", Statement: "An unnotified operation on our grid."}))
	cf.await(ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_REPLY_CONSULTATION, silent, "xcc"), pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE, time.Minute)
	stop()
	rep := f.check("cases under load")

	ctx := context.Background()
	c0 := cf.clients[0]
	if gr, err := c0.GovernanceRules(ctx, rep.Height, false); err != nil || gr.Params.GetLadder().GetVersion() != 1 {
		t.Fatalf("the ladder in force: %v %v", gr.GetParams().GetLadder(), err)
	}
	got, err := c0.Case(ctx, caseID, rep.Height, false)
	if err != nil {
		t.Fatal(err)
	}
	cs := got.Case
	var steps []string
	for _, e := range cs.History {
		steps = append(steps, e.Step)
	}
	if cs.Stage != pb.CaseStage_CASE_STAGE_CLOSED || cs.Outcome != pb.CaseOutcome_CASE_OUTCOME_SETTLED || !cs.Remediated ||
		!slices.Equal(cs.Measures[0].Flags, []string{"during_mediation"}) || cs.Measures[0].StandDownId == "" || cs.Mediator != "observatory" {
		t.Fatalf("the case at height %d: %v", rep.Height, cs)
	}
	t.Logf("case %s: %s; mediation %s", caseID[:12], strings.Join(steps, " > "), medReq[:12])

	gen := filepath.Join(f.nw.Nodes[0].Home, "config", "genesis.json")
	flags := []string{"--node", c0.Base(), "--genesis", gen, "--witness", f.nw.Nodes[1].RESTURL(), "--home", t.TempDir()}
	code, out := runCLI(t, append([]string{"verify", "record", closeID}, flags...)...)
	if code != 0 || !strings.Contains(out, "VERIFIED") {
		t.Fatalf("verify record (the close): exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"verify", "case", caseID}, flags...)...)
	if code != 0 || !strings.Contains(out, "VERIFIED: case "+caseID) || !lineHas(out, "close", "xcc") || !lineHas(out, "milestone", "xcc", "met_late") ||
		strings.Contains(out, "NO REPLY") {
		t.Fatalf("verify case: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"verify", "case", silent}, flags...)...)
	if code != 0 || !lineHas(out, "NO REPLY", "xcc did not reply", "overdue (proven)") {
		t.Fatalf("verify case (never answered): exit %d\n%s", code, out)
	}
	// At the request's own height the duty is open, but the verified block
	// time is before it is due: no silence is proven there.
	sr, err := c0.GetRecord(ctx, silent, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	code, out = runCLI(t, append([]string{"verify", "case", silent, "--height", fmt.Sprint(sr.Record.Height)}, flags...)...)
	if code != 0 || strings.Contains(out, "NO REPLY") || !lineHas(out, "reply_consultation", "xcc", "open") {
		t.Fatalf("verify case at the request's height: exit %d\n%s", code, out)
	}
	// A node that shows the reply met is caught; so is a case that is not there.
	liarNode := liar(t, c0.Base(), func(path string, body []byte) []byte {
		if !strings.HasPrefix(path, "/v1/cases/") {
			return body
		}
		return []byte(strings.Replace(string(body), `"OBLIGATION_STATUS_OVERDUE"`, `"OBLIGATION_STATUS_MET_LATE"`, 1))
	})
	defer liarNode.Close()
	code, out = runCLI(t, append(append([]string{"verify", "case", silent}, flags...), "--node", liarNode.URL)...)
	if code != cli.ExitUnverified {
		t.Fatalf("verify case through a node that shows the reply met: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, append([]string{"verify", "case", strings.Repeat("ab", 32)}, flags...)...)
	if code != cli.ExitUnverified || !strings.Contains(out, "PROVEN ABSENT") {
		t.Fatalf("verify case (no such case): exit %d\n%s", code, out)
	}

	// The audit re-executes the chain, cases included.
	c2 := cf.clients[2]
	arep, err := audit.Run(ctx, audit.Options{API: c0, NodeName: c0.Base(),
		Witnesses: []*remote.Provider{remote.NewProvider(f.nw.ChainID, c2.Base(), c2)}, ToHeight: rep.Height})
	if err != nil {
		t.Fatal(err)
	}
	if !arep.OK() || arep.AppHashesMatched != arep.Blocks {
		t.Fatalf("audit: %d/%d app hashes, discrepancies %v", arep.AppHashesMatched, arep.Blocks, arep.Discrepancies)
	}
	t.Logf("audit: %d blocks, %d txs re-executed, %d app hashes matched", arep.Blocks, arep.Txs, arep.AppHashesMatched)
}
