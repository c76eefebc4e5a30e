package testnet

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// SeedStep is one record the seed filed.
type SeedStep struct {
	Name   string `json:"name"`
	Author string `json:"author"`
	ID     string `json:"id"`
	Height int64  `json:"height"`
}

// Seed files a realistic scenario through the public REST API of the given
// nodes (round robin): a joint restraint pledge by every state covering
// health, energy and water; an exercise notification that some recipients
// acknowledge and one does not (its acknowledgement falls overdue after the
// chain's ack window, and every response after respondWithin); the
// exercise plan sealed to the states concerned (one age ciphertext, each
// state decrypts it with its own identity and files a receipt, except the
// last, whose receipt falls overdue; SealedStep); a ransomware incident at a
// hospital with early-warning and final disclosures; the victim's
// consultation request to the state the disclosure points at, which that
// state ignores (its response falls overdue ConsultationWithin after it is
// filed: the scenario's first overdue obligation); the neutral body's harm
// assessment; the verifier's finding; a challenge and the challenged
// author's reply; a vote that admits an observer; every state's directory
// entry and a ping of every state's technical contact by the observatory
// (the directory), which the last state never answers (PingStep); the
// victim's request for consultation (a case, CaseStep) to the state its
// disclosure points at, which never replies: a fact-finding request at once
// is refused as the case is cooling off, and filed again once the reply
// window has passed (CaseEscalationStep); the vote that adopts the
// escalation ladder and the testnet's case windows (ParamsStep); and a
// water-utility incident withholding the operator's name, seen by two
// states under protective orders: one order confirmed by both and
// published on expiry, one whose second confirmation falls overdue
// (RedactedStep, OrderStep, OrderLateStep, PublishStep). States,
// organisations and places are fictional.
func Seed(ctx context.Context, nw *Network, respondWithin time.Duration, log io.Writer) ([]SeedStep, error) {
	var clients []*client.Client
	for _, n := range nw.Nodes {
		c, err := client.New(n.RESTURL())
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	var states []string
	for _, m := range nw.Members {
		if len(m) == 3 && m[0] == 'x' {
			states = append(states, m)
		}
	}
	if len(states) < 3 {
		return nil, fmt.Errorf("the seed scenario needs at least 3 states, the network has %d", len(states))
	}
	now := time.Now().UTC().Truncate(time.Second)
	ts := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(d)) }
	var steps []SeedStep
	ids := map[string]string{}
	// Sequences are tracked here, not asked of whichever node is next: a
	// node one block behind would report a sequence already used.
	seqs := map[string]uint64{}
	// Reads default to attested state: wait until the first node has some.
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	_, err := clients[0].WaitHeight(wctx, 2)
	cancel()
	if err != nil {
		return nil, err
	}
	chainID, err := clients[0].ChainID(ctx)
	if err != nil {
		return nil, err
	}
	file := func(name, author string, co []string, rec *pb.Record) error {
		signer, err := nw.Signer(author)
		if err != nil {
			return err
		}
		var cs []ledger.Signer
		for _, c := range co {
			s, err := nw.Signer(c)
			if err != nil {
				return err
			}
			cs = append(cs, s)
		}
		rec.SchemaVersion = ledger.CurrentSchemaVersion
		rec.ClientTime = timestamppb.New(time.Now().UTC().Truncate(time.Second))
		if seqs[author] == 0 {
			s, err := clients[0].NextSequence(ctx, author)
			if err != nil {
				return err
			}
			seqs[author] = s
		}
		tx, err := ledger.BuildTx(&pb.TxBody{ChainId: chainID, Sequence: seqs[author], Record: rec}, signer, cs...)
		if err != nil {
			return err
		}
		var lastErr error
		for attempt := 0; attempt < len(clients); attempt++ {
			c := clients[(len(steps)+attempt)%len(clients)]
			res, err := c.Broadcast(ctx, tx, true)
			if err != nil {
				lastErr = err // that node may be down: try the next
				continue
			}
			if res.Rejected() {
				return &rejectedError{name: name, code: res.Code, log: res.Log}
			}
			seqs[author]++
			ids[name] = res.ID
			steps = append(steps, SeedStep{Name: name, Author: author, ID: res.ID, Height: res.Height})
			if log != nil {
				fmt.Fprintf(log, "  %-22s by %-12s %s (height %d)\n", name, author, res.ID, res.Height)
			}
			return nil
		}
		return fmt.Errorf("seed %s: no node accepted it: %w", name, lastErr)
	}
	victim, origin := states[1], states[2]
	var buildErr error // why a step's record could not be built
	others := states[1:]
	steps0 := []struct {
		name, author string
		co           []string
		rec          func() *pb.Record
	}{
		{"pledge", states[0], states[1:], func() *pb.Record {
			return &pb.Record{Tlp: pb.Tlp_TLP_CLEAR, Body: &pb.Record_Pledge{Pledge: &pb.Pledge{
				Title:            "Joint pledge of restraint towards hospitals, power grids and water systems",
				Pledgors:         states,
				NormRefs:         []string{"UN-GGE-2015-13f", "UN-GGE-2015-13h", "UN-GGE-2015-13j"},
				ProtectedSectors: []pb.Sector{pb.Sector_SECTOR_HEALTH, pb.Sector_SECTOR_ENERGY, pb.Sector_SECTOR_WATER},
				GeoScope:         []string{"GLOBAL"},
				EffectiveFrom:    ts(-time.Hour),
				EffectiveUntil:   ts(3 * 365 * 24 * time.Hour),
				ReviewDue:        ts(365 * 24 * time.Hour),
				Verification:     &pb.VerificationPromises{DiscloseWithinHours: 72, RespondWithinHours: 48, AcceptedVerifiers: []string{"lumen"}},
				Text:             "The pledgors will not conduct or knowingly support ICT activity that damages civilian hospitals, power grids or water systems, and will disclose incidents affecting them within 72 hours.",
				// A request for consultation under the pledge is answered
				// within CaseReplyWithin (a testnet figure).
				CaseWindows: &pb.CaseWindows{ReplySeconds: uint32(CaseReplyWithin / time.Second)},
			}}}
		}},
		{"exercise_notification", states[0], nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_Notification{Notification: &pb.Notification{
				Type:              pb.NotificationType_NOTIFICATION_TYPE_EXERCISE,
				Recipients:        others,
				Summary:           "Cyber defence exercise NORTHERN LANTERN on military networks; civilian infrastructure excluded.",
				OperationWindow:   &pb.TimeWindow{Start: ts(24 * time.Hour), End: ts(48 * time.Hour)},
				ExcludedSectors:   []pb.Sector{pb.Sector_SECTOR_HEALTH, pb.Sector_SECTOR_ENERGY, pb.Sector_SECTOR_WATER},
				ResponseRequested: true,
				RespondBy:         ts(respondWithin),
			}}}
		}},
		{"ack_" + others[0], others[0], nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_Acknowledgement{Acknowledgement: &pb.Acknowledgement{
				NotificationId: ids["exercise_notification"], Note: "Received by the national point of contact."}}}
		}},
		{"ack_" + others[1], others[1], nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_Acknowledgement{Acknowledgement: &pb.Acknowledgement{
				NotificationId: ids["exercise_notification"], Note: "Acknowledged."}}}
		}},
		{SealedStep, states[0], nil, func() *pb.Record {
			ms, err := clients[0].Members(ctx)
			if err != nil {
				buildErr = err
				return nil
			}
			keys, err := client.RecipientKeys(ms, others)
			if err != nil {
				buildErr = err
				return nil
			}
			plan := &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Refs: []string{ids["exercise_notification"]},
				Body: &pb.Record_Notification{Notification: &pb.Notification{
					Type:       pb.NotificationType_NOTIFICATION_TYPE_EXERCISE,
					Recipients: others,
					Summary: "NORTHERN LANTERN exercise plan: red team on XAA defence networks 10.20.0.0/16 only; " +
						"no traffic to civilian address space; liaison officer on the hotline throughout.",
					OperationWindow: &pb.TimeWindow{Start: ts(24 * time.Hour), End: ts(48 * time.Hour)},
					ExcludedSectors: []pb.Sector{pb.Sector_SECTOR_HEALTH, pb.Sector_SECTOR_ENERGY, pb.Sector_SECTOR_WATER},
				}}}
			s, _, err := client.SealTo(plan, keys)
			if err != nil {
				buildErr = err
				return nil
			}
			s.RevealBy = ts(7 * 24 * time.Hour)
			s.SubjectStates = others
			return &pb.Record{Body: &pb.Record_Sealed{Sealed: s}}
		}},
	}
	// Every recipient but the last opens the sealed plan with its own
	// identity and confirms it matches; the last never answers.
	for _, m := range others[:len(others)-1] {
		steps0 = append(steps0, struct {
			name, author string
			co           []string
			rec          func() *pb.Record
		}{"receipt_" + m, m, nil, func() *pb.Record {
			rec, err := sealedReceipt(ctx, clients[0], nw, m, ids[SealedStep])
			if err != nil {
				buildErr = err
			}
			return rec
		}})
	}
	steps0 = append(steps0, []struct {
		name, author string
		co           []string
		rec          func() *pb.Record
	}{
		{"early_warning", victim, nil, func() *pb.Record {
			return &pb.Record{Tlp: pb.Tlp_TLP_GREEN, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
				IncidentRef: "HOSP-2026-117", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING,
				Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM, Sectors: []pb.Sector{pb.Sector_SECTOR_HEALTH},
				AffectedStates: []string{victim}, FirstObservedAt: ts(-14 * time.Hour), DetectedAt: ts(-12 * time.Hour),
				AwareAt: ts(-11 * time.Hour), Severity: pb.Severity_SEVERITY_HIGH,
				Impacts: []string{"Ransomware encrypted clinical systems at Marrowgate General Hospital"},
				Summary: "Ransomware at a regional hospital; emergency admissions diverted.",
			}}}
		}},
		{"final_disclosure", victim, nil, func() *pb.Record {
			return &pb.Record{Refs: []string{ids["early_warning"]}, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
				IncidentRef: "HOSP-2026-117", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_FINAL,
				Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM, Sectors: []pb.Sector{pb.Sector_SECTOR_HEALTH},
				AffectedStates: []string{victim}, FirstObservedAt: ts(-14 * time.Hour), DetectedAt: ts(-12 * time.Hour),
				AwareAt: ts(-11 * time.Hour), ContainedAt: ts(-4 * time.Hour), Severity: pb.Severity_SEVERITY_HIGH,
				Impacts: []string{"Emergency admissions diverted for 16 hours", "Outpatient appointments cancelled for 3 days"},
				Attribution: &pb.Attribution{To: []string{origin}, Confidence: pb.Confidence_CONFIDENCE_LOW,
					Basis: "Infrastructure overlap with earlier activity; not conclusive."},
				NormsAllegedBreached: []string{"UN-GGE-2015-13f"},
				Summary:              "Contained; restoration from offline backups under way.",
			}}}
		}},
		{ConsultationStep, victim, nil, func() *pb.Record {
			// Due shortly after it is filed, not after the scenario's start.
			due := time.Now().UTC().Truncate(time.Second).Add(ConsultationWithin)
			return &pb.Record{Refs: []string{ids["final_disclosure"]}, Body: &pb.Record_Notification{Notification: &pb.Notification{
				Type:       pb.NotificationType_NOTIFICATION_TYPE_CONSULTATION_REQUEST,
				Recipients: []string{origin},
				Summary: "Request for consultation on infrastructure in your territory linked to the ransomware at Marrowgate General Hospital; " +
					"please respond urgently.",
				ResponseRequested: true,
				RespondBy:         timestamppb.New(due),
			}}}
		}},
		{CaseStep, victim, nil, func() *pb.Record { return caseRequest(ids, origin) }},
		{CaseRefusedStep, victim, nil, func() *pb.Record { return caseFactFinding(ids) }},
		{"harm_assessment", "observatory", nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_HarmAssessment{HarmAssessment: &pb.HarmAssessment{
				SubjectIncidents: []string{ids["early_warning"], ids["final_disclosure"]},
				AssessorClass:    pb.AssessorClass_ASSESSOR_CLASS_NEUTRAL,
				Methodology:      &pb.Methodology{Name: "CIO civilian harm assessment method", Version: "2.1"},
				ServicesLost: []*pb.ServiceLoss{
					{Service: "Emergency admissions", Sector: pb.Sector_SECTOR_HEALTH, DurationMinutes: 960, People: 140000},
					{Service: "Outpatient clinics", Sector: pb.Sector_SECTOR_HEALTH, DurationMinutes: 4320, People: 2600},
				},
				PersonsAffected:     &pb.Estimate{Min: 90000, Best: 140000, Max: 180000},
				PhysicalHarm:        "Delayed emergency care; two patients transferred in critical condition.",
				EconomicHarmUsd:     6100000,
				CausationConfidence: pb.Confidence_CONFIDENCE_HIGH,
				RemediationDue:      ts(30 * 24 * time.Hour),
				ResponsibleParty:    victim,
				Status:              pb.AssessmentStatus_ASSESSMENT_STATUS_PRELIMINARY,
				AffectedStates:      []string{victim},
			}}}
		}},
		{"finding", "lumen", nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_Finding{Finding: &pb.Finding{
				SubjectType: pb.FindingSubjectType_FINDING_SUBJECT_TYPE_INCIDENT, SubjectId: ids["final_disclosure"],
				SubjectStates: []string{victim, origin}, Determination: pb.Determination_DETERMINATION_INSUFFICIENT_EVIDENCE,
				EvidenceRefs:       []string{ids["early_warning"], ids["final_disclosure"], ids["harm_assessment"]},
				Methodology:        &pb.Methodology{Name: "Lumen attribution review", Version: "1.3"},
				ConflictOfInterest: &pb.ConflictOfInterest{NoneDeclared: true},
				ReplyDue:           ts(14 * 24 * time.Hour),
				Summary:            "Evidence does not support attribution to a state; disclosure was timely.",
			}}}
		}},
		{"challenge", victim, nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_Challenge{Challenge: &pb.Challenge{
				TargetId: ids["harm_assessment"], ReplyBy: ts(7 * 24 * time.Hour),
				Grounds: "The assessment omits the 48 hours of dialysis disruption reported by the hospital.",
			}}}
		}},
		{"challenge_reply", "observatory", nil, func() *pb.Record {
			return &pb.Record{Body: &pb.Record_Response{Response: &pb.Response{
				RequestId: ids["challenge"], Disposition: pb.ResponseDisposition_RESPONSE_DISPOSITION_PARTIAL,
				Summary: "Dialysis disruption confirmed; a revised final assessment will follow.",
			}}}
		}},
	}...)
	logf := func(format string, args ...any) {
		if log != nil {
			fmt.Fprintf(log, format, args...)
		}
	}
	for _, s := range steps0 {
		buildErr = nil
		rec := s.rec()
		if rec == nil {
			return steps, fmt.Errorf("seed %s: could not build the record: %v", s.name, buildErr)
		}
		if s.name == CaseRefusedStep {
			// Escalation while the case cools off: refused.
			if err := refusedAsCoolingOff(file, ids, victim, logf); err != nil {
				return steps, err
			}
			continue
		}
		if err := file(s.name, s.author, s.co, rec); err != nil {
			return steps, err
		}
	}
	// Governance: the states admit a civil-society observer by vote. Its key
	// goes into the testnet keyring, as its own operator would hold it.
	obs, err := nw.Signer(ObserverID)
	if err != nil {
		// The observer's operator makes its own home and key; only the
		// public key reaches the proposal.
		home := filepath.Join(nw.Dir, "members", ObserverID)
		if _, err := operator.Init(operator.Options{Home: home, KeyringBackend: keyring.BackendTest,
			Profile: operator.Profile{ChainID: nw.ChainID, Member: ObserverID, Class: "observer", Name: "Civil Society Cyber Watch"}}); err != nil {
			return steps, err
		}
		if err := nw.AddMemberHome(ObserverID, home); err != nil {
			return steps, err
		}
		if obs, err = nw.Signer(ObserverID); err != nil {
			return steps, err
		}
	}
	if err := file("proposal_admit_observer", states[0], nil, &pb.Record{Body: &pb.Record_Proposal{Proposal: &pb.Proposal{
		Title:     "Admit the Civil Society Cyber Watch as an observer",
		Rationale: "Independent civil-society monitoring strengthens the record; an observer reads, and may revoke its own keys.",
		Deadline:  ts(72 * time.Hour),
		Action: &pb.GovernanceAction{Action: &pb.GovernanceAction_AddMember{AddMember: &pb.AddMember{
			Id: ObserverID, Class: pb.MemberClass_MEMBER_CLASS_OBSERVER, Name: "Civil Society Cyber Watch",
			PubKeys:        [][]byte{obs.Key.PubKey().Bytes()},
			PointOfContact: &pb.PointOfContact{Name: "Coordinator", Organisation: "Civil Society Cyber Watch", Email: "poc@civwatch.example"},
		}}},
	}}}); err != nil {
		return steps, err
	}
	// Default rule: at least two thirds of the states vote yes; one more
	// state votes after the decision, so every position is on record.
	need := (2*len(states) + 2) / 3
	for i, s := range states {
		opt, statement := pb.VoteOption_VOTE_OPTION_YES, "Supports independent monitoring."
		if i >= need {
			opt, statement = pb.VoteOption_VOTE_OPTION_ABSTAIN, "Abstains pending a review of observer access rules."
		}
		if err := file("vote_"+s, s, nil, &pb.Record{Body: &pb.Record_Vote{Vote: &pb.Vote{
			ProposalId: ids["proposal_admit_observer"], Option: opt, Statement: statement}}}); err != nil {
			return steps, err
		}
		if i >= need {
			break
		}
	}
	// The consortium adopts the escalation ladder and the testnet's case
	// windows, by the same two-thirds vote.
	gr, err := clients[0].GovernanceRules(ctx, 0, false)
	if err != nil {
		return steps, err
	}
	if err := file(ParamsStep, states[0], nil, CaseParamsProposal(gr.Params, now.Add(72*time.Hour))); err != nil {
		return steps, err
	}
	for _, s := range states[:need] {
		if err := file("vote_params_"+s, s, nil, &pb.Record{Body: &pb.Record_Vote{Vote: &pb.Vote{
			ProposalId: ids[ParamsStep], Option: pb.VoteOption_VOTE_OPTION_YES, Statement: "Agreed responses, known in advance."}}}); err != nil {
			return steps, err
		}
	}
	if _, err := seedDirectory(ctx, states, file, &steps); err != nil {
		return steps, err
	}
	// Selective disclosure: the victim withholds the operator's name; the
	// first state and the origin state see it under protective orders
	// (the origin never confirms under the second order).
	bundle, err := seedOrders(ctx, clients[0], nw, file, ids, victim, []string{states[0], origin}, ids[CaseStep])
	if err != nil {
		return steps, err
	}
	if err := seedEvidence(file, ids, states, victim, origin, ids["final_disclosure"]); err != nil {
		return steps, err
	}
	// The respondent never replied: once the pledge's reply window has
	// passed, the victim escalates before the cooling-off ends (flagged
	// reply_missed).
	reply := ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_REPLY_CONSULTATION, ids[CaseStep], origin)
	for deadline := time.Now().Add(CaseReplyWithin + 30*time.Second); ; {
		res, err := clients[0].Obligation(ctx, reply, 0, false)
		if err == nil && res.Obligation.GetStatus() == pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE {
			break
		}
		if time.Now().After(deadline) {
			return steps, fmt.Errorf("seed: the reply duty %s of case %s is not overdue (%v, %v)", reply, ids[CaseStep], res.GetObligation().GetStatus(), err)
		}
		select {
		case <-ctx.Done():
			return steps, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	if err := file(CaseEscalationStep, victim, nil, caseFactFinding(ids)); err != nil {
		return steps, err
	}
	return steps, seedPublish(ctx, clients[0], file, ids, victim, bundle)
}

// PingStep names the seed's ping of every state's technical contact by the
// directory (the observatory); the last state never answers (its duty
// falls overdue PingWithin after the ping is filed).
const PingStep = "directory_ping"

// PingWithin is how long after it is filed the seed's ping must be answered.
const PingWithin = 45 * time.Second

// seedDirectory files the contact directory's part of the scenario: every
// state sets its entry (diplomatic and technical contact points); the
// observatory, holding the directory role, pings every state's technical
// channel (each its own nonce, delivered out of band: here the seed hands
// it over); every state but the last answers with its nonce.
func seedDirectory(ctx context.Context, states []string, file func(name, author string, co []string, rec *pb.Record) error, steps *[]SeedStep) ([]SeedStep, error) {
	for _, s := range states {
		if err := file("contact_"+s, s, nil, &pb.Record{Body: &pb.Record_ContactUpdate{ContactUpdate: &pb.ContactUpdate{
			Points: []*pb.ContactPoint{fixture.Contact(s, pb.ContactRole_CONTACT_ROLE_DIPLOMATIC), fixture.Contact(s, pb.ContactRole_CONTACT_ROLE_TECHNICAL)},
		}}}); err != nil {
			return *steps, err
		}
	}
	var ms []*pb.Member
	for _, s := range states {
		ms = append(ms, &pb.Member{Id: s, Directory: &pb.DirectoryEntry{Points: []*pb.ContactPoint{fixture.Contact(s, pb.ContactRole_CONTACT_ROLE_TECHNICAL)}}})
	}
	sends, err := client.PingTo(ms, states, pb.ContactRole_CONTACT_ROLE_TECHNICAL, pb.ChannelType_CHANNEL_TYPE_UNSPECIFIED)
	if err != nil {
		return *steps, err
	}
	p := &pb.Ping{AnswerBy: timestamppb.New(time.Now().UTC().Truncate(time.Second).Add(PingWithin)),
		Statement: "Quarterly test of the technical points of contact of the pledge's states."}
	for _, sd := range sends {
		p.Targets = append(p.Targets, sd.Target())
	}
	if err := file(PingStep, "observatory", nil, &pb.Record{Body: &pb.Record_Ping{Ping: p}}); err != nil {
		return *steps, err
	}
	pingID := (*steps)[len(*steps)-1].ID
	for _, sd := range sends[:len(sends)-1] {
		nonce, err := client.ParseNonce(sd.Nonce)
		if err != nil {
			return *steps, err
		}
		if err := file("ping_answer_"+sd.Member, sd.Member, nil, &pb.Record{Body: &pb.Record_PingAnswer{PingAnswer: &pb.PingAnswer{
			PingId: pingID, Nonce: nonce, Statement: "Nonce received by the CERT duty desk by phone."}}}); err != nil {
			return *steps, err
		}
	}
	return *steps, nil
}

// SealedStep names the seed's exercise plan sealed to the other states.
const SealedStep = "sealed_exercise_plan"

// sealedReceipt is member's receipt for sealed record id: it decrypts the
// record with its own identity and says whether the body matches.
func sealedReceipt(ctx context.Context, c *client.Client, nw *Network, member, id string) (*pb.Record, error) {
	tx, err := attestedTx(ctx, c, id)
	if err != nil {
		return nil, err
	}
	ident, err := nw.Identity(member)
	if err != nil {
		return nil, err
	}
	rc, _, err := client.Answer(id, tx.Body.Record.GetSealed(), ident, false)
	if err != nil {
		return nil, err
	}
	if rc.Matches {
		rc.Statement = "Received and read by the national point of contact."
	}
	return &pb.Record{Body: &pb.Record_Receipt{Receipt: rc}}, nil
}

// ConsultationStep names the seed's consultation request; its recipient
// (the third state) never answers it.
const ConsultationStep = "consultation_request"

// ConsultationWithin is how long after it is filed the consultation
// request's response falls due (and, unanswered, overdue).
const ConsultationWithin = 30 * time.Second

// ObserverID is the observer member the seed admits by vote.
const ObserverID = "civwatch"
