package app

import (
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The contact directory (docs/directory.md): every refusal gets its stable
// code in CheckTx and FinalizeBlock and leaves the app hash unchanged
// (mustReject); what is accepted updates the registry and the obligations.

func contactUpdate(replaces string, points ...*pb.ContactPoint) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_ContactUpdate{ContactUpdate: &pb.ContactUpdate{Points: points, Replaces: replaces}}}
}

func pingOf(answerBy time.Time, targets ...*pb.PingTarget) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Ping{Ping: &pb.Ping{Targets: targets, AnswerBy: timestamppb.New(answerBy)}}}
}

// technical is a ping target through member's fixture technical channel.
func technical(member string) *pb.PingTarget {
	c := fixture.Contact(member, pb.ContactRole_CONTACT_ROLE_TECHNICAL)
	return &pb.PingTarget{Member: member, Role: c.Role, Channel: c.Channels[0], Commitment: ledger.PingCommitment(member, fixture.PingNonce(member))}
}

func answer(ping string, nonce []byte) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_PingAnswer{PingAnswer: &pb.PingAnswer{PingId: ping, Nonce: nonce}}}
}

func failure(ping, target string) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_DeliveryFailure{DeliveryFailure: &pb.DeliveryFailure{PingId: ping, Target: target, Reason: "bounced"}}}
}

func (h *harness) view() *store.View {
	h.t.Helper()
	v, err := h.st.At(0)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

func TestContactUpdates(t *testing.T) {
	h := newGovHarness(t, 1)
	tech := fixture.Contact("xbb", pb.ContactRole_CONTACT_ROLE_TECHNICAL)
	dip := fixture.Contact("xbb", pb.ContactRole_CONTACT_ROLE_DIPLOMATIC)
	first := h.fileNow("xbb", contactUpdate("", dip, tech))
	m := h.member("xbb")
	if d := m.GetDirectory(); d.GetUpdateId() != first || len(d.Points) != 2 || d.ConfirmedHeight != h.height {
		t.Fatalf("directory entry after the first update: %v", d)
	}
	if last := m.History[len(m.History)-1]; last.RecordId != first || last.Change != "contact updated" {
		t.Fatalf("history: %v", last)
	}
	reconfirm := h.expect(pb.ObligationKind_OBLIGATION_KIND_RECONFIRM_CONTACT, first, "xbb", sOpen)
	if got := reconfirm.Due.AsTime().Sub(reconfirm.CreatedAt.AsTime()); got != ledger.ContactReconfirmWindow {
		t.Fatalf("reconfirmation due after %s", got)
	}

	bad := func(mut func(p *pb.ContactPoint)) *pb.Record {
		p := fixture.Contact("xbb", pb.ContactRole_CONTACT_ROLE_TECHNICAL)
		mut(p)
		return contactUpdate(first, p)
	}
	for _, c := range []struct {
		name   string
		author string
		rec    *pb.Record
		want   ledger.Code
	}{
		{"an update that replaces nothing while an entry is in force", "xbb", contactUpdate("", tech), ledger.CodeContactSuperseded},
		{"an update that names another record", "xbb", contactUpdate(strings.Repeat("ab", 32), tech), ledger.CodeContactSuperseded},
		{"a first update that claims to replace", "xcc", contactUpdate(first, tech), ledger.CodeContactSuperseded},
		{"no points", "xbb", contactUpdate(first), ledger.CodeMissingField},
		{"a role twice", "xbb", contactUpdate(first, tech, tech), ledger.CodeBadEnum},
		{"no role", "xbb", bad(func(p *pb.ContactPoint) { p.Role = 0 }), ledger.CodeBadEnum},
		{"no channel", "xbb", bad(func(p *pb.ContactPoint) { p.Channels = nil }), ledger.CodeMissingField},
		{"not an email address", "xbb", bad(func(p *pb.ContactPoint) {
			p.Channels = []*pb.ContactChannel{{Type: pb.ChannelType_CHANNEL_TYPE_EMAIL, Address: "duty desk"}}
		}), ledger.CodeBadFormat},
		{"not a phone number", "xbb", bad(func(p *pb.ContactPoint) {
			p.Channels = []*pb.ContactChannel{{Type: pb.ChannelType_CHANNEL_TYPE_PHONE, Address: "call us"}}
		}), ledger.CodeBadFormat},
		{"not an https URL", "xbb", bad(func(p *pb.ContactPoint) {
			p.Channels = []*pb.ContactChannel{{Type: pb.ChannelType_CHANNEL_TYPE_WEB, Address: "http://xbb.example"}}
		}), ledger.CodeBadFormat},
		{"a language that is not ISO 639-1", "xbb", bad(func(p *pb.ContactPoint) { p.Languages = []string{"eng"} }), ledger.CodeBadFormat},
		{"valid until a past time", "xbb", bad(func(p *pb.ContactPoint) { p.ValidUntil = timestamppb.New(h.now.Add(-time.Hour)) }), ledger.CodeBadTime},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.mustReject(t, h.signSeq(c.author, h.nextSeq(c.author), c.rec), c.want)
		})
	}

	// Reconfirming with the same points meets the reconfirmation duty and
	// places the next one.
	second := h.fileNow("xbb", contactUpdate(first, dip, tech))
	h.expect(pb.ObligationKind_OBLIGATION_KIND_RECONFIRM_CONTACT, first, "xbb", sMet)
	h.expect(pb.ObligationKind_OBLIGATION_KIND_RECONFIRM_CONTACT, second, "xbb", sOpen)

	// A year without an update: the duty falls overdue at block time and
	// the directory marks the entry stale.
	at := h.member("xbb").Directory.ConfirmedAt.AsTime()
	if cs := ledger.ContactStatusAt(h.member("xbb"), at.Add(ledger.ContactReconfirmWindow-time.Hour)); cs.Stale {
		t.Fatalf("stale an hour before the year is out: %v", cs.StaleReasons)
	}
	h.now = at.Add(ledger.ContactReconfirmWindow)
	h.block()
	h.expect(pb.ObligationKind_OBLIGATION_KIND_RECONFIRM_CONTACT, second, "xbb", sOverdue)
	cs := ledger.ContactStatusAt(h.member("xbb"), h.now.Add(time.Second))
	if !cs.Stale || cs.DaysSinceConfirmation != 365 || !strings.Contains(cs.StaleReasons[0], "not reconfirmed") {
		t.Fatalf("after a year: %v", cs)
	}
	if cs := ledger.ContactStatusAt(h.member("xdd"), h.now); !cs.Stale || cs.Entry != nil {
		t.Fatalf("a member without an entry: %v", cs)
	}
}

func TestPings(t *testing.T) {
	h := newGovHarness(t, 1)
	xbb := h.fileNow("xbb", contactUpdate("", fixture.Contact("xbb", pb.ContactRole_CONTACT_ROLE_TECHNICAL)))
	xcc := h.fileNow("xcc", contactUpdate("", fixture.Contact("xcc", pb.ContactRole_CONTACT_ROLE_TECHNICAL)))
	by := h.now.Add(2 * time.Hour)

	unregistered := technical("xbb")
	unregistered.Channel = &pb.ContactChannel{Type: pb.ChannelType_CHANNEL_TYPE_EMAIL, Address: "other@xbb.example"}
	diplomatic := technical("xbb")
	diplomatic.Role = pb.ContactRole_CONTACT_ROLE_DIPLOMATIC
	shortCommit := technical("xbb")
	shortCommit.Commitment = []byte("short")
	for _, c := range []struct {
		name   string
		author string
		rec    *pb.Record
		want   ledger.Code
	}{
		{"many targets without the directory role", "xaa", pingOf(by, technical("xbb"), technical("xcc")), ledger.CodeNoDirectoryRole},
		{"a target without an entry", "xaa", pingOf(by, technical("xdd")), ledger.CodeUnknownChannel},
		{"a channel the target did not register", "xaa", pingOf(by, unregistered), ledger.CodeUnknownChannel},
		{"a role the target did not register", "xaa", pingOf(by, diplomatic), ledger.CodeUnknownChannel},
		{"the signer itself", "xbb", pingOf(by, technical("xbb")), ledger.CodeSelfReference},
		{"a commitment that is not a SHA-256", "xaa", pingOf(by, shortCommit), ledger.CodeBadFormat},
		{"an answer window more than 30 days long", "xaa", pingOf(h.now.Add(31*24*time.Hour), technical("xbb")), ledger.CodeBadTime},
		{"a target twice", "observatory", pingOf(by, technical("xbb"), technical("xbb")), ledger.CodeBadFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.mustReject(t, h.signSeq(c.author, h.nextSeq(c.author), c.rec), c.want)
		})
	}
	// A bilateral check: any state pings one member.
	h.fileNow("xaa", pingOf(by, technical("xbb")))

	// The directory (observatory holds the role) pings both.
	ping := h.fileNow("observatory", pingOf(by, technical("xbb"), technical("xcc")))
	for _, m := range []string{"xbb", "xcc"} {
		ob := h.expect(pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING, ping, m, sOpen)
		if !ob.Due.AsTime().Equal(by) || len(ob.Creditors) != 1 || ob.Creditors[0] != "observatory" {
			t.Fatalf("answer duty of %s: %v", m, ob)
		}
	}
	for _, c := range []struct {
		name   string
		author string
		rec    *pb.Record
		want   ledger.Code
	}{
		{"an answer by a member not pinged", "xdd", answer(ping, fixture.PingNonce("xdd")), ledger.CodeNotRecipient},
		{"the wrong nonce", "xbb", answer(ping, []byte("a-guessed-nonce-of-16")), ledger.CodeNonceMismatch},
		{"another target's nonce", "xbb", answer(ping, fixture.PingNonce("xcc")), ledger.CodeNonceMismatch},
		{"a nonce too short", "xbb", answer(ping, []byte("short")), ledger.CodeBadFormat},
		{"an answer to a record that is not a ping", "xbb", answer(xcc, fixture.PingNonce("xbb")), ledger.CodeWrongRecordKind},
		{"a failure recorded by someone else", "xaa", failure(ping, "xcc"), ledger.CodeNotAuthor},
		{"a failure for a member not pinged", "observatory", failure(ping, "xdd"), ledger.CodeNotRecipient},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.mustReject(t, h.signSeq(c.author, h.nextSeq(c.author), c.rec), c.want)
		})
	}
	// The right nonce, on time.
	an := h.fileNow("xbb", answer(ping, fixture.PingNonce("xbb")))
	if ob := h.expect(pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING, ping, "xbb", sMet); ob.StatusRecord != an {
		t.Fatalf("met by %s, want %s", ob.StatusRecord, an)
	}
	h.mustReject(t, h.signSeq("xbb", h.nextSeq("xbb"), answer(ping, fixture.PingNonce("xbb"))), ledger.CodeObligationClosed)
	// An answered target's channel worked: no failure can be recorded.
	h.mustReject(t, h.signSeq("observatory", h.nextSeq("observatory"), failure(ping, "xbb")), ledger.CodeObligationClosed)

	// xcc's phone did not connect: recorded, it owes an update in 30 days.
	fail := h.fileNow("observatory", failure(ping, "xcc"))
	up := h.expect(pb.ObligationKind_OBLIGATION_KIND_UPDATE_CONTACT, ping, "xcc", sOpen)
	if len(up.Basis) != 1 || up.Basis[0] != fail || up.Due.AsTime().Sub(up.CreatedAt.AsTime()) != ledger.ContactFixWindow {
		t.Fatalf("update duty: %v", up)
	}
	if d := h.member("xcc").Directory; len(d.FailedDeliveries) != 1 || d.FailedDeliveries[0].RecordId != fail {
		t.Fatalf("entry after the failure: %v", d)
	}
	if cs := ledger.ContactStatusAt(h.member("xcc"), h.now); !cs.Stale || !strings.Contains(cs.StaleReasons[0], "failed") {
		t.Fatalf("xcc after a failed delivery: %v", cs)
	}
	h.mustReject(t, h.signSeq("observatory", h.nextSeq("observatory"), failure(ping, "xcc")), ledger.CodeDuplicateRecord)

	// The window closes: xcc's answer falls overdue at block time; a late
	// answer is accepted and counted late.
	h.now = by
	h.block()
	h.expect(pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING, ping, "xcc", sOverdue)
	late := h.fileNow("xcc", answer(ping, fixture.PingNonce("xcc")))
	h.expect(pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING, ping, "xcc", sLate)
	// The nonce got through after all: the failure no longer holds.
	if up := h.expect(pb.ObligationKind_OBLIGATION_KIND_UPDATE_CONTACT, ping, "xcc", sMet); up.StatusRecord != late {
		t.Fatalf("update duty met by %s, want the answer %s", up.StatusRecord, late)
	}
	if cs := ledger.ContactStatusAt(h.member("xcc"), h.now); cs.Stale || len(cs.Entry.FailedDeliveries) != 0 {
		t.Fatalf("xcc after its late answer: %v", cs)
	}

	// Its update meets the reconfirmation duty.
	h.fileNow("xcc", contactUpdate(xcc, fixture.Contact("xcc", pb.ContactRole_CONTACT_ROLE_DIPLOMATIC)))
	h.expect(pb.ObligationKind_OBLIGATION_KIND_RECONFIRM_CONTACT, xcc, "xcc", sMet)

	// Re-filing the same entry after a ping does not escape a failure: the
	// channel pinged is still registered. An entry that dropped it was
	// fixed already: the failure is refused.
	p2 := h.fileNow("observatory", pingOf(h.now.Add(time.Hour), technical("xbb")))
	xbb2 := h.fileNow("xbb", contactUpdate(xbb, fixture.Contact("xbb", pb.ContactRole_CONTACT_ROLE_TECHNICAL)))
	h.fileNow("observatory", failure(p2, "xbb"))
	h.expect(pb.ObligationKind_OBLIGATION_KIND_UPDATE_CONTACT, p2, "xbb", sOpen)
	p3 := h.fileNow("observatory", pingOf(h.now.Add(time.Hour), technical("xbb")))
	email := fixture.Contact("xbb", pb.ContactRole_CONTACT_ROLE_TECHNICAL)
	email.Channels = []*pb.ContactChannel{{Type: pb.ChannelType_CHANNEL_TYPE_EMAIL, Address: "cert@xbb.example"}}
	h.fileNow("xbb", contactUpdate(xbb2, email))
	h.expect(pb.ObligationKind_OBLIGATION_KIND_UPDATE_CONTACT, p2, "xbb", sMet)
	h.mustReject(t, h.signSeq("observatory", h.nextSeq("observatory"), failure(p3, "xbb")), ledger.CodeContactSuperseded)

	// The figures and the ping's status.
	v := h.view()
	for m, want := range map[string][2]uint32{"xbb": {1, 2}, "xcc": {0, 1}} {
		c, err := v.MemberCompliance(m)
		if err != nil {
			t.Fatal(err)
		}
		// xbb did not answer the bilateral check in time.
		if c.PingsOnTime.Numerator != want[0] || c.PingsOnTime.Denominator != want[1] {
			t.Fatalf("%s pings on time: %v", m, c.PingsOnTime)
		}
	}
	st, err := v.PingStatus(ping)
	if err != nil {
		t.Fatal(err)
	}
	if st.Answered != 2 || st.AnsweredOnTime != 1 || st.FailedDeliveries != 1 || st.Targets[1].FailureId != fail || st.Targets[0].AnswerId != an ||
		st.Targets[1].UpdateStatus != sMet {
		t.Fatalf("ping status: %v", st)
	}
}

// TestDirectoryNeedsAppVersion9: below 9 the directory's records are
// refused as unknown fields, as a binary before them refuses them.
func TestDirectoryNeedsAppVersion9(t *testing.T) {
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessVersion(t, st, true, 4, 1, ledger.AppVersionSealedToRecipients)
	h.block()
	h.mustReject(t, h.signSeq("xbb", h.nextSeq("xbb"), contactUpdate("", fixture.Contact("xbb", pb.ContactRole_CONTACT_ROLE_TECHNICAL))), ledger.CodeNonCanonical)
	h.mustReject(t, h.signSeq("xaa", h.nextSeq("xaa"), pingOf(h.now.Add(time.Hour), technical("xbb"))), ledger.CodeNonCanonical)
	h.mustReject(t, h.signSeq("xbb", h.nextSeq("xbb"), answer(strings.Repeat("ab", 32), fixture.PingNonce("xbb"))), ledger.CodeNonCanonical)
	h.mustReject(t, h.signSeq("xaa", h.nextSeq("xaa"), failure(strings.Repeat("ab", 32), "xbb")), ledger.CodeNonCanonical)
	h.mustReject(t, h.signSeq("xaa", h.nextSeq("xaa"), &pb.Record{SchemaVersion: 1, Body: &pb.Record_Sealed{Sealed: &pb.Sealed{
		SealedKind: pb.RecordKind_RECORD_KIND_PING, Commitment: make([]byte, 32), RevealBy: timestamppb.New(h.now.Add(time.Hour))}}}), ledger.CodeBadEnum)
}

// pledgeTerms is a harness at app version v with four states, an observer
// ("watch") and a second verifier ("prism"), admitted by vote.
func pledgeTerms(t *testing.T, v uint64) *harness {
	t.Helper()
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessVersion(t, st, true, 4, 1, v)
	for id, class := range map[string]pb.MemberClass{"watch": pb.MemberClass_MEMBER_CLASS_OBSERVER, "prism": pb.MemberClass_MEMBER_CLASS_VERIFIER} {
		key := fixture.SeededKey(id)
		h.members[id] = fixture.Member{ID: id, Key: key}
		h.pass(&pb.GovernanceAction{Action: &pb.GovernanceAction_AddMember{AddMember: &pb.AddMember{
			Id: id, Class: class, Name: id, PubKeys: [][]byte{key.PubKey().(ed25519.PubKey).Bytes()}}}})
	}
	return h
}

func pledgeWith(vp *pb.VerificationPromises, from time.Time) *pb.Record {
	return &pb.Record{SchemaVersion: 1, Body: &pb.Record_Pledge{Pledge: &pb.Pledge{
		Title: "Restraint", Pledgors: []string{"xaa", "xbb"}, NormRefs: []string{"UN-GGE-2015-13f"},
		ProtectedSectors: []pb.Sector{pb.Sector_SECTOR_HEALTH}, GeoScope: []string{"GLOBAL"},
		EffectiveFrom: timestamppb.New(from), Verification: vp}}}
}

// TestPledgeTermsEnforced: four terms the ledger accepted and ignored
// below app version 9, each shown ignored at 8 and enforced at 9.
func TestPledgeTermsEnforced(t *testing.T) {
	for _, v := range []uint64{ledger.AppVersionSealedToRecipients, ledger.AppVersionContactDirectory} {
		v9 := v >= ledger.AppVersionContactDirectory
		h := pledgeTerms(t, v)
		pledge := h.sign("xaa", pledgeWith(&pb.VerificationPromises{RespondWithinHours: 6, AcceptedVerifiers: []string{"lumen"}}, h.now), "xbb")
		if res := h.block(pledge); res.TxResults[0].Code != 0 {
			t.Fatalf("pledge: %s", res.TxResults[0].Log)
		}
		pledgeID := ledger.RecordID(pledge)

		// 1. respond_within_hours sets when a request to a pledgor falls due.
		req := h.fileNow("xcc", &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: pb.NotificationType_NOTIFICATION_TYPE_CONSULTATION_REQUEST, Recipients: []string{"xbb", "xdd"},
			Summary: "Consultation on scanning of hospital networks"}}})
		ob := h.ob(pb.ObligationKind_OBLIGATION_KIND_RESPOND, req, "xbb")
		switch {
		case !v9 && ob != nil:
			t.Fatalf("v%d: a respond duty from the pledge: %v", v, ob)
		case v9 && (ob == nil || ob.Due.AsTime().Sub(ob.CreatedAt.AsTime()) != 6*time.Hour || len(ob.Basis) != 1 || ob.Basis[0] != pledgeID):
			t.Fatalf("v%d: respond duty of a pledgor: %v", v, ob)
		case h.ob(pb.ObligationKind_OBLIGATION_KIND_RESPOND, req, "xdd") != nil:
			t.Fatalf("v%d: a respond duty on a state that promised nothing", v)
		}

		// 2. accepted_verifiers: only they file findings on the pledge.
		finding := &pb.Record{SchemaVersion: 1, Body: &pb.Record_Finding{Finding: &pb.Finding{
			SubjectType: pb.FindingSubjectType_FINDING_SUBJECT_TYPE_PLEDGE, SubjectId: pledgeID, SubjectStates: []string{"xaa"},
			Determination: pb.Determination_DETERMINATION_CONSISTENT, EvidenceRefs: []string{"report-1"},
			Methodology:        &pb.Methodology{Name: "m", Version: "1"},
			ConflictOfInterest: &pb.ConflictOfInterest{NoneDeclared: true}, Summary: "s"}}}
		if v9 {
			h.mustReject(t, h.signSeq("prism", h.nextSeq("prism"), finding), ledger.CodeVerifierNotAccepted)
			h.fileNow("lumen", finding)
		} else {
			h.fileNow("prism", finding)
		}

		// 3. A neutral body requests consultation (not operations).
		consult := &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: pb.NotificationType_NOTIFICATION_TYPE_CONSULTATION_REQUEST, Recipients: []string{"xaa"},
			Summary: "The observatory asks XAA to consult on the hospital incident", ResponseRequested: true,
			RespondBy: timestamppb.New(h.now.Add(48 * time.Hour))}}}
		exercise := &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: pb.NotificationType_NOTIFICATION_TYPE_EXERCISE, Recipients: []string{"xaa"}, Summary: "An exercise",
			OperationWindow: &pb.TimeWindow{Start: timestamppb.New(h.now.Add(time.Hour)), End: timestamppb.New(h.now.Add(2 * time.Hour))}}}}
		poc := &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: pb.NotificationType_NOTIFICATION_TYPE_POC_UPDATE, Recipients: []string{"xbb"}, Summary: "New contact",
			PointOfContact: &pb.PointOfContactUpdate{Name: "Duty officer", Email: "poc@xaa.example"}}}}
		if v9 {
			h.fileNow("observatory", consult)
			h.mustReject(t, h.signSeq("observatory", h.nextSeq("observatory"), exercise), ledger.CodeClassNotAllowed)
			h.mustReject(t, h.signSeq("xaa", h.nextSeq("xaa"), poc), ledger.CodeDeprecatedField)
		} else {
			h.mustReject(t, h.signSeq("observatory", h.nextSeq("observatory"), consult), ledger.CodeClassNotAllowed)
			h.fileNow("xaa", poc)
		}

		// 4. An observer acknowledges and answers what is addressed to it.
		toWatch := h.fileNow("xaa", v1(notif([]string{"watch"}, h.now.Add(48*time.Hour))))
		if v9 {
			h.fileNow("watch", v1(ack(toWatch)))
			h.fileNow("watch", v1(reply(toWatch)))
			h.expect(pb.ObligationKind_OBLIGATION_KIND_ACKNOWLEDGE, toWatch, "watch", sMet)
			h.expect(pb.ObligationKind_OBLIGATION_KIND_RESPOND, toWatch, "watch", sMet)
		} else {
			h.mustReject(t, h.signSeq("watch", h.nextSeq("watch"), v1(ack(toWatch))), ledger.CodeClassNotAllowed)
		}
	}
}

func v1(r *pb.Record) *pb.Record {
	r.SchemaVersion = 1
	return r
}
