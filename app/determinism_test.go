package app

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/disclose"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// genBlocks makes n transactions, valid and invalid, grouped into blocks.
// Validity is intended, not assumed: the test checks how many were accepted.
func genBlocks(t *testing.T, rng *rand.Rand, n int) [][][]byte {
	g := newHarness(t) // used only to sign; its app is never fed
	states := []string{"xaa", "xbb", "xcc"}
	type notif struct {
		id         string
		recipients []string
	}
	var notifs []notif
	var props []string
	voted := map[string]bool{}
	var all [][]byte
	var blocks [][][]byte
	// A pledge of all three states with staged reporting and a review date,
	// so disclosures place, meet and miss staged duties (and reviews fall due).
	var sectors []pb.Sector
	for s := 1; s <= 13; s++ {
		sectors = append(sectors, pb.Sector(s))
	}
	pl := g.sign("xaa", &pb.Record{SchemaVersion: 1, Body: &pb.Record_Pledge{Pledge: &pb.Pledge{
		Title: "Staged reporting pledge", Pledgors: states, NormRefs: []string{"NIS2-23"}, ProtectedSectors: sectors,
		GeoScope: []string{"GLOBAL"}, EffectiveFrom: timestamppb.New(t0.Add(-time.Hour)), ReviewDue: timestamppb.New(t0.Add(time.Hour)),
		StagedReporting: &pb.StagedReporting{EarlyWarningHours: 1, NotificationHours: 2, FinalReportHours: 3},
	}}}, "xbb", "xcc")
	pledgeID := ledger.RecordID(pl)
	all = append(all, pl)
	blocks = append(blocks, [][]byte{pl})
	disclosures := map[string][]string{} // by author
	type dispute struct {
		id, complainant, respondent string
		replied                     bool
	}
	var cases []*dispute
	// Redacted incidents and the protective orders on them: an undertaking,
	// then an order, a delivery and a confirmation (a second one refused).
	type redactedRec struct {
		id, author string
		bundle     *pb.DisclosureBundle
	}
	type order struct {
		id                   string
		delivered, confirmed bool
	}
	var redacted []redactedRec
	type pending struct {
		rd    redactedRec
		other string
	}
	var going []pending
	undertook, orders := map[string]string{}, map[string]*order{}
	for len(all) < n {
		size := 1 + rng.IntN(25)
		var blk [][]byte
		for i := 0; i < size && len(all) < n; i++ {
			k := len(all)
			author := states[rng.IntN(len(states))]
			var tx []byte
			switch r := rng.IntN(100); {
			case r < 6 && len(cases) > 0: // a case step: a reply, a protest, or an escalation refused while cooling off
				c := cases[rng.IntN(len(cases))]
				switch {
				case !c.replied:
					c.replied = true
					tx = g.sign(c.respondent, caseStep(&pb.CaseStep{Step: stepReply, CaseId: c.id, Statement: fmt.Sprintf("reply %d", k)}))
				case rng.IntN(2) == 0:
					tx = g.sign(c.complainant, measureOf(&pb.Measure{Action: pb.MeasureAction_MEASURE_ACTION_TAKE, CaseId: c.id, Type: mProtest,
						Target: c.respondent, Conduct: "unnotified_operation", Proportionality: fmt.Sprintf("note %d", k), ExpectedEnd: timestamppb.New(t0.Add(100 * time.Hour))}))
				default: // refused (cooling_off): the sequence is not consumed
					tx = g.signSeq(c.complainant, g.nextSeq(c.complainant), caseStep(&pb.CaseStep{Step: stepFacts, CaseId: c.id, Verifiers: []string{"lumen"}}))
				}
			case r < 9: // a request for consultation to another state
				other := states[(slices.Index(states, author)+1+rng.IntN(len(states)-1))%len(states)]
				tx = g.sign(author, caseStep(&pb.CaseStep{Step: stepRequest, Respondent: other, Subjects: []string{pledgeID}, PledgeId: pledgeID,
					Conduct: "unnotified_operation", Statement: fmt.Sprintf("request %d", k)}))
				cases = append(cases, &dispute{id: ledger.RecordID(tx), complainant: author, respondent: other})
			case r < 30: // valid notification
				var rcpt []string
				for _, s := range append(states, "observatory", "lumen") {
					if s != author && rng.IntN(2) == 0 {
						rcpt = append(rcpt, s)
					}
				}
				if len(rcpt) == 0 {
					rcpt = []string{"lumen"}
				}
				tx = g.sign(author, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
					Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: rcpt, Summary: fmt.Sprintf("note %d", k),
					ExcludedSectors: []pb.Sector{pb.Sector(1 + rng.IntN(13))},
				}}})
				notifs = append(notifs, notif{ledger.RecordID(tx), rcpt})
			case r < 42 && len(notifs) > 0: // valid acknowledgement by a recipient
				nt := notifs[rng.IntN(len(notifs))]
				who := nt.recipients[rng.IntN(len(nt.recipients))]
				tx = g.sign(who, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Acknowledgement{Acknowledgement: &pb.Acknowledgement{
					NotificationId: nt.id, Note: fmt.Sprintf("ack %d", k)}}})
			case r < 55: // valid disclosure: a new incident, or a later stage of one of the author's
				at := t0.Add(-time.Duration(1+rng.IntN(1000)) * time.Minute)
				var refs []string
				if prev := disclosures[author]; len(prev) > 0 && rng.IntN(2) == 0 {
					refs = []string{prev[rng.IntN(len(prev))]}
				}
				affected := []string{author}
				if other := states[rng.IntN(len(states))]; other != author && rng.IntN(3) == 0 {
					affected = append(affected, other)
				}
				rec := &pb.Record{SchemaVersion: 1, Refs: refs, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
					IncidentRef: fmt.Sprintf("INC-%d", k), Stage: pb.DisclosureStage(1 + rng.IntN(3)),
					Role: pb.IncidentRole_INCIDENT_ROLE_AFFECTED, Sectors: []pb.Sector{pb.Sector(1 + rng.IntN(13))},
					AffectedStates: affected, DetectedAt: timestamppb.New(at), AwareAt: timestamppb.New(at.Add(time.Minute)),
					Severity: pb.Severity(1 + rng.IntN(4)), Summary: "generated",
				}}}
				var bundle *pb.DisclosureBundle
				if rng.IntN(3) == 0 { // withholding the summary
					var err error
					if rec, bundle, err = disclose.Redact(rec, []string{"summary"}, 0, pb.DesignationBasis_DESIGNATION_BASIS_PERSONAL_DATA,
						"names withheld", rngReader{rng}); err != nil {
						t.Fatal(err)
					}
				}
				tx = g.sign(author, rec)
				disclosures[author] = append(disclosures[author], ledger.RecordID(tx))
				if bundle != nil {
					redacted = append(redacted, redactedRec{ledger.RecordID(tx), author, bundle})
				}
			case r < 57 && len(redacted) > 0 && len(cases) > 0: // a step of a protective order (the newest one under way first)
				rd := redacted[rng.IntN(len(redacted))]
				other := states[(slices.Index(states, rd.author)+1+rng.IntN(len(states)-1))%len(states)]
				if n := len(going); n > 0 && rng.IntN(4) > 0 {
					rd, other = going[n-1].rd, going[n-1].other
				} else {
					going = append(going, pending{rd, other})
				}
				key, purpose := rd.id+other, cases[0].id
				switch u, o := undertook[key], orders[key]; {
				case u == "":
					tx = g.sign(other, undertaking(rd.id, purpose))
					undertook[key] = ledger.RecordID(tx)
				case o == nil:
					tx = g.sign(rd.author, orderRec(&pb.ProtectiveOrder{SubjectId: rd.id, Paths: []string{"summary"},
						Approved: []*pb.Approval{{Member: other, UndertakingId: u}}, PurposeRef: purpose,
						ExpiresAt: timestamppb.New(t0.Add(200 * time.Hour)), OnExpiry: pb.OrderExpiry_ORDER_EXPIRY_PUBLISH}))
					orders[key] = &order{id: ledger.RecordID(tx)}
				case !o.delivered:
					o.delivered = true
					tx = g.sign(rd.author, dstep(deliver(t, o.id, rd.id, rd.bundle, []string{"summary"}, other)))
				default: // a confirmation; a second one is refused (obligation_closed), its sequence not consumed
					rec := dstep(&pb.DisclosureStep{Step: sConfirm, SourceId: o.id, Matches: true})
					if o.confirmed {
						tx = g.signSeq(other, g.nextSeq(other), rec)
					} else {
						o.confirmed = true
						tx = g.sign(other, rec)
					}
				}
			case r < 58: // a review of the pledge
				tx = g.sign(author, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Response{Response: &pb.Response{
					RequestId: pledgeID, Disposition: pb.ResponseDisposition_RESPONSE_DISPOSITION_INFORMATION_PROVIDED, Summary: fmt.Sprintf("Reviewed %d.", k)}}})
			case r < 60: // a governance proposal (accepted: a fresh key, params or observer each time)
				var act *pb.GovernanceAction
				switch rng.IntN(3) {
				case 0:
					act = &pb.GovernanceAction{Action: &pb.GovernanceAction_AddKey{AddKey: &pb.AddKey{
						Member: states[rng.IntN(len(states))], PubKey: ed25519.GenPrivKeyFromSecret([]byte(fmt.Sprintf("k%d", k))).PubKey().Bytes()}}}
				case 1:
					act = &pb.GovernanceAction{Action: &pb.GovernanceAction_SetParams{SetParams: &pb.Params{
						MaxTxBytes: ledger.DefaultMaxTxBytes, MaxClockSkewSeconds: 600, AckWindowHours: uint32(1 + k%48)}}}
				default:
					act = &pb.GovernanceAction{Action: &pb.GovernanceAction_AddMember{AddMember: &pb.AddMember{
						Id: fmt.Sprintf("obs-%d", k), Class: pb.MemberClass_MEMBER_CLASS_OBSERVER, Name: "Observer",
						PubKeys: [][]byte{ed25519.GenPrivKeyFromSecret([]byte(fmt.Sprintf("o%d", k))).PubKey().Bytes()}}}}
				}
				tx = g.sign(author, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Proposal{Proposal: &pb.Proposal{
					Title: fmt.Sprintf("proposal %d", k), Rationale: "generated", Deadline: timestamppb.New(t0.Add(2 * time.Hour)), Action: act}}})
				props = append(props, ledger.RecordID(tx))
			case r < 71 && len(props) > 0: // a vote (a second vote by the same elector is refused)
				pid := props[max(0, len(props)-1-rng.IntN(4))]
				opt := pb.VoteOption(1 + max(0, rng.IntN(5)-2)) // mostly yes
				rec := &pb.Record{SchemaVersion: 1, Body: &pb.Record_Vote{Vote: &pb.Vote{ProposalId: pid, Option: opt}}}
				if voted[pid+author] {
					tx = g.signSeq(author, g.nextSeq(author), rec)
				} else {
					voted[pid+author] = true
					tx = g.sign(author, rec)
				}
			case r < 76 && len(all) > 0: // replay of an earlier tx
				tx = all[rng.IntN(len(all))]
			case r < 85: // a would-be valid tx with one random byte flipped (sequence not consumed)
				v := g.signSeq(author, g.nextSeq(author), note(fmt.Sprintf("flip %d", k)))
				v = append([]byte(nil), v...)
				v[rng.IntN(len(v))] ^= byte(1 + rng.IntN(255))
				tx = v
			case r < 92: // sequence gap
				tx = g.signSeq(author, g.nextSeq(author)+uint64(1+rng.IntN(3)), note(fmt.Sprintf("gap %d", k)))
			default: // garbage
				tx = make([]byte, 1+rng.IntN(200))
				for j := range tx {
					tx[j] = byte(rng.Uint32())
				}
			}
			blk = append(blk, tx)
			all = append(all, tx)
		}
		blocks = append(blocks, blk)
	}
	return blocks
}

// The same blocks fed to two fresh apps give identical results and app
// hashes at every height.
func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261122, 1))
	blocks := genBlocks(t, rng, 1000)
	a, b := newHarness(t), newHarness(t)
	accepted, rejected := 0, 0
	codes := map[uint32]int{}
	var log [][]byte // the accepted transactions, in order: the record log's entries
	for hgt, blk := range blocks {
		ra, rb := a.block(blk...), b.block(blk...)
		if !bytes.Equal(ra.AppHash, rb.AppHash) {
			t.Fatalf("height %d: app hashes differ: %X vs %X", hgt+1, ra.AppHash, rb.AppHash)
		}
		for i, tx := range blk {
			if ra.TxResults[i].Code == 0 {
				log = append(log, tx)
			}
		}
		// Both record logs: the same size and root, those of the accepted
		// transactions (RFC 6962, computed here independently).
		va, _ := a.st.At(0)
		vb, _ := b.st.At(0)
		sa, roota, erra := va.LogState()
		sb, rootb, errb := vb.LogState()
		if erra != nil || errb != nil || sa != sb || !bytes.Equal(roota, rootb) {
			t.Fatalf("height %d: log states differ: %d %X %v vs %d %X %v", hgt+1, sa, roota, erra, sb, rootb, errb)
		}
		if sa != uint64(len(log)) || (hgt%10 == 0 || hgt == len(blocks)-1) && !bytes.Equal(roota, rfc6962Root(log)) {
			t.Fatalf("height %d: the log holds %d entries with root %X, not the %d accepted transactions", hgt+1, sa, roota, len(log))
		}
		for i := range blk {
			if ra.TxResults[i].Code != rb.TxResults[i].Code || ra.TxResults[i].Log != rb.TxResults[i].Log {
				t.Fatalf("height %d tx %d: results differ: %d %q vs %d %q", hgt+1, i,
					ra.TxResults[i].Code, ra.TxResults[i].Log, rb.TxResults[i].Code, rb.TxResults[i].Log)
			}
			codes[ra.TxResults[i].Code]++
			if ra.TxResults[i].Code == 0 {
				accepted++
			} else {
				rejected++
			}
		}
	}
	t.Logf("%d blocks, %d accepted, %d rejected, codes %v", len(blocks), accepted, rejected, codes)
	// The generator must really exercise both paths.
	if accepted < 400 || rejected < 200 {
		t.Fatalf("generator degenerate: %d accepted, %d rejected", accepted, rejected)
	}
	if len(codes) < 5 {
		t.Fatalf("only %d distinct result codes", len(codes))
	}
	// Governance really ran: proposals passed and their actions executed.
	v, err := a.st.At(0)
	if err != nil {
		t.Fatal(err)
	}
	passed, _, err := v.Proposals(store.ProposalFilter{Status: pb.ProposalStatus_PROPOSAL_STATUS_PASSED})
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := v.Members()
	t.Logf("%d proposals passed and executed; %d members", len(passed), len(ms))
	// Staged reporting really ran: every stage has duties, met and missed.
	staged := map[pb.ObligationKind]map[pb.ObligationStatus]int{}
	obs, err := v.AllObligations(store.ObligationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range obs {
		if staged[o.Kind] == nil {
			staged[o.Kind] = map[pb.ObligationStatus]int{}
		}
		staged[o.Kind][o.Status]++
	}
	t.Logf("obligations by kind and status: %v", staged)
	for _, k := range []pb.ObligationKind{pb.ObligationKind_OBLIGATION_KIND_EARLY_WARNING, pb.ObligationKind_OBLIGATION_KIND_INCIDENT_NOTIFICATION,
		pb.ObligationKind_OBLIGATION_KIND_FINAL_REPORT} {
		if staged[k][pb.ObligationStatus_OBLIGATION_STATUS_MET]+staged[k][pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE] == 0 {
			t.Fatalf("staged reporting degenerate: no %v duty met: %v", k, staged[k])
		}
	}
	if len(staged[pb.ObligationKind_OBLIGATION_KIND_REVIEW]) == 0 {
		t.Fatal("no review duties")
	}
	if len(passed) < 3 || codes[uint32(ledger.CodeAlreadyVoted)] == 0 {
		t.Fatalf("governance degenerate: %d passed, %d second votes refused", len(passed), codes[uint32(ledger.CodeAlreadyVoted)])
	}
	// Cases really ran: opened, replied, protests taken, escalation refused.
	all, err := v.AllCases(store.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	replied, measures := 0, 0
	for _, c := range all {
		if len(c.History) > 1 {
			replied++
		}
		measures += len(c.Measures)
	}
	if len(all) < 3 || replied == 0 || measures == 0 || codes[uint32(ledger.CodeCoolingOff)] == 0 {
		t.Fatalf("cases degenerate: %d cases, %d moved, %d measures, %d refused while cooling off", len(all), replied, measures, codes[uint32(ledger.CodeCoolingOff)])
	}
	t.Logf("%d cases, %d moved past the request, %d measures", len(all), replied, measures)
	// Protective orders really ran: delivered and confirmed, a second
	// confirmation refused.
	if staged[kDeliver][pb.ObligationStatus_OBLIGATION_STATUS_MET] == 0 || staged[kConfirm][pb.ObligationStatus_OBLIGATION_STATUS_MET] == 0 ||
		codes[uint32(ledger.CodeObligationClosed)] == 0 {
		t.Fatalf("orders degenerate: deliveries %v, confirmations %v, %d second confirmations refused", staged[kDeliver], staged[kConfirm], codes[uint32(ledger.CodeObligationClosed)])
	}
}

// rngReader reads from a seeded generator: the generated salts are the
// same every run.
type rngReader struct{ r *rand.Rand }

func (x rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(x.r.Uint32())
	}
	return len(p), nil
}

// rfc6962Root is RFC 6962's Merkle tree hash (section 2.1), the slow
// obvious way.
func rfc6962Root(entries [][]byte) []byte {
	switch len(entries) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		h := sha256.Sum256(append([]byte{0}, entries[0]...))
		return h[:]
	}
	k := 1
	for k*2 < len(entries) {
		k *= 2
	}
	h := sha256.Sum256(append(append([]byte{1}, rfc6962Root(entries[:k])...), rfc6962Root(entries[k:])...))
	return h[:]
}
