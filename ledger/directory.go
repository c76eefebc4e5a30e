package ledger

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The contact directory (app version 9, docs/directory.md): members keep
// their own entry with contact updates; pings test that a registered
// channel carries a nonce to the member, which answers with it.

// RoleDirectory lets a member (a neutral body keeping the directory, as
// the UN secretariat or the OSCE do) ping many members in one record.
const RoleDirectory = "directory"

const (
	// ContactReconfirmWindow is how long a directory entry stays
	// confirmed: its member owes a new contact update within it.
	ContactReconfirmWindow = 365 * 24 * time.Hour
	// ContactFixWindow is how long after a recorded failed delivery the
	// target owes an update of its entry.
	ContactFixWindow = 30 * 24 * time.Hour
	// MaxPingWindow bounds a ping's answer_by after its block time.
	MaxPingWindow = 30 * 24 * time.Hour
	// MinNonceLen and MaxNonceLen bound a ping nonce.
	MinNonceLen = 16
	MaxNonceLen = 64
	// MaxContactPoints is one per role; MaxChannels per point.
	MaxContactPoints = 3
	MaxChannels      = 8
	maxLanguages     = 8
)

// PingDomain prefixes the preimage of a ping commitment.
const PingDomain = "normledger/v1/ping"

// PingCommitment is what a ping carries for target and nonce:
// SHA-256(domain 0x00 target 0x00 nonce). Binding the target keeps one
// target from answering with a nonce sent to another.
func PingCommitment(target string, nonce []byte) []byte {
	h := sha256.New()
	h.Write([]byte(PingDomain))
	h.Write([]byte{0})
	h.Write([]byte(target))
	h.Write([]byte{0})
	h.Write(nonce)
	return h.Sum(nil)
}

// newInV9 names the first part of r that app version 9 introduced, or "".
func newInV9(r *pb.Record) string {
	switch r.GetBody().(type) {
	case *pb.Record_ContactUpdate:
		return "record.contact_update"
	case *pb.Record_Ping:
		return "record.ping"
	case *pb.Record_PingAnswer:
		return "record.ping_answer"
	case *pb.Record_DeliveryFailure:
		return "record.delivery_failure"
	}
	return ""
}

// atLeast says whether the chain in st is at app version v or later.
func atLeast(st State, v uint64) (bool, error) {
	have, err := appVersion(st)
	return have >= v, err
}

// appVersion is the chain's app version in st.
func appVersion(st State) (uint64, error) {
	us, err := st.Upgrade()
	if err != nil {
		return 0, fmt.Errorf("read software state: %w", err)
	}
	return AppVersionOf(us), nil
}

// allowed says whether a member of class c may file records of kind k at
// the chain's app version: the kind's classes, and from app version 9 the
// classes it opened to (ClassesV9).
func allowed(st State, k *Kind, c pb.MemberClass) (bool, error) {
	if k.allows(c) {
		return true, nil
	}
	if !slices.Contains(k.ClassesV9, c) {
		return false, nil
	}
	return atLeast(st, AppVersionContactDirectory)
}

func validateContactPoint(v *validator, p *pb.ContactPoint) error {
	const f = "contact_update.points"
	if err := enumReq(f+".role", p.Role); err != nil {
		return err
	}
	if err := reqText(f+".name", p.Name, MaxTitleLen); err != nil {
		return err
	}
	if err := checkText(f+".organisation", p.Organisation, MaxTitleLen); err != nil {
		return err
	}
	if len(p.Channels) == 0 {
		return errf(CodeMissingField, "%s.channels: a contact point needs at least one channel", f)
	}
	if err := checkListLen(f+".channels", len(p.Channels), MaxChannels); err != nil {
		return err
	}
	for i, c := range p.Channels {
		if err := validateChannel(f+".channels", c); err != nil {
			return err
		}
		for _, d := range p.Channels[:i] {
			if d.Type == c.Type && d.Address == c.Address {
				return errf(CodeBadFormat, "%s.channels lists %s %q twice", f, enum.Name(c.Type), c.Address)
			}
		}
	}
	if err := checkListLen(f+".languages", len(p.Languages), maxLanguages); err != nil {
		return err
	}
	for i, l := range p.Languages {
		if len(l) != 2 || l[0] < 'a' || l[0] > 'z' || l[1] < 'a' || l[1] > 'z' {
			return errf(CodeBadFormat, "%s.languages: %q is not an ISO 639-1 code (two lowercase letters)", f, l)
		}
		if slices.Contains(p.Languages[:i], l) {
			return errf(CodeBadFormat, "%s.languages lists %q twice", f, l)
		}
	}
	if err := checkText(f+".hours", p.Hours, MaxTitleLen); err != nil {
		return err
	}
	return v.future(f+".valid_until", p.ValidUntil, false)
}

// validateChannel checks a channel's type and the shape of its address.
func validateChannel(field string, c *pb.ContactChannel) error {
	if c == nil {
		return errf(CodeMissingField, "%s is required", field)
	}
	if err := enumReq(field+".type", c.Type); err != nil {
		return err
	}
	if err := reqText(field+".address", c.Address, MaxTitleLen); err != nil {
		return err
	}
	a := c.Address
	switch c.Type {
	case pb.ChannelType_CHANNEL_TYPE_EMAIL:
		at := strings.IndexByte(a, '@')
		if at <= 0 || at == len(a)-1 || strings.Count(a, "@") != 1 || strings.ContainsAny(a, " \t\r\n") {
			return errf(CodeBadFormat, "%s.address %q is not an email address", field, a)
		}
	case pb.ChannelType_CHANNEL_TYPE_PHONE, pb.ChannelType_CHANNEL_TYPE_FAX:
		digits := 0
		for i := 0; i < len(a); i++ {
			switch ch := a[i]; {
			case ch >= '0' && ch <= '9':
				digits++
			case ch == '+' && i == 0, ch == ' ', ch == '-', ch == '(', ch == ')':
			default:
				return errf(CodeBadFormat, "%s.address %q is not a phone number (+, digits, spaces, - and parentheses)", field, a)
			}
		}
		if digits < 5 {
			return errf(CodeBadFormat, "%s.address %q has fewer than 5 digits", field, a)
		}
	case pb.ChannelType_CHANNEL_TYPE_WEB:
		if !strings.HasPrefix(a, "https://") || len(a) == len("https://") || strings.ContainsAny(a, " \t\r\n") {
			return errf(CodeBadFormat, "%s.address %q is not an https URL", field, a)
		}
	}
	return nil
}

func validateContactUpdate(v *validator, r *pb.Record) error {
	u := r.GetContactUpdate()
	if len(u.Points) == 0 {
		return errf(CodeMissingField, "contact_update.points is required (one point per role, at most %d)", MaxContactPoints)
	}
	if err := checkListLen("contact_update.points", len(u.Points), MaxContactPoints); err != nil {
		return err
	}
	for i, p := range u.Points {
		if err := validateContactPoint(v, p); err != nil {
			return err
		}
		for _, q := range u.Points[:i] {
			if q.Role == p.Role {
				return errf(CodeBadEnum, "contact_update.points lists role %s twice (one point per role)", enum.Name(p.Role))
			}
		}
	}
	if u.Replaces != "" {
		if err := recordID("contact_update.replaces", u.Replaces); err != nil {
			return err
		}
	}
	return checkText("contact_update.statement", u.Statement, MaxSummaryLen)
}

func admitContactUpdate(a *admission, r *pb.Record) error {
	u := r.GetContactUpdate()
	cur := a.signer.GetDirectory()
	switch {
	case cur == nil && u.Replaces != "":
		return errf(CodeContactSuperseded, "contact_update.replaces: %q has no directory entry yet; its first update replaces nothing", a.author)
	case cur != nil && u.Replaces != cur.UpdateId:
		return errf(CodeContactSuperseded, "contact_update.replaces must name the entry in force, %s (set at height %d)", cur.UpdateId, cur.ConfirmedHeight)
	}
	if u.Replaces != "" {
		a.refs = append(a.refs, u.Replaces)
	}
	a.subject(a.author)
	return nil
}

func validatePing(v *validator, r *pb.Record) error {
	p := r.GetPing()
	if len(p.Targets) == 0 {
		return errf(CodeMissingField, "ping.targets is required")
	}
	if err := checkListLen("ping.targets", len(p.Targets), MaxListLen); err != nil {
		return err
	}
	for i, t := range p.Targets {
		if err := memberRef("ping.targets.member", t.GetMember()); err != nil {
			return err
		}
		if err := enumReq("ping.targets.role", t.Role); err != nil {
			return err
		}
		if err := validateChannel("ping.targets.channel", t.Channel); err != nil {
			return err
		}
		if len(t.Commitment) != sha256.Size {
			return errf(CodeBadFormat, "ping.targets.commitment must be %d bytes (SHA-256), got %d", sha256.Size, len(t.Commitment))
		}
		if slices.ContainsFunc(p.Targets[:i], func(u *pb.PingTarget) bool { return u.Member == t.Member }) {
			return errf(CodeBadFormat, "ping.targets names %q twice", t.Member)
		}
	}
	if err := v.future("ping.answer_by", p.AnswerBy, true); err != nil {
		return err
	}
	if p.AnswerBy.AsTime().After(v.blockTime.Add(MaxPingWindow)) {
		return errf(CodeBadTime, "ping.answer_by is more than %d days after block time", int(MaxPingWindow/(24*time.Hour)))
	}
	return checkText("ping.statement", p.Statement, MaxSummaryLen)
}

func admitPing(a *admission, r *pb.Record) error {
	p := r.GetPing()
	if len(p.Targets) > 1 && !HasRole(a.signer, RoleDirectory) {
		return errf(CodeNoDirectoryRole, "ping.targets: %q does not hold the %q role, so it pings one member at a time (a bilateral check)", a.author, RoleDirectory)
	}
	for _, t := range p.Targets {
		if t.Member == a.author {
			return errf(CodeSelfReference, "ping.targets must not include the signer")
		}
		m, err := a.member("ping.targets.member", t.Member)
		if err != nil {
			return err
		}
		if err := registeredChannel(m, t.Role, t.Channel); err != nil {
			return err
		}
		a.subject(t.Member)
	}
	return nil
}

// registeredChannel checks that m's directory entry has a point of role
// with channel c.
func registeredChannel(m *pb.Member, role pb.ContactRole, c *pb.ContactChannel) error {
	d := m.GetDirectory()
	if d == nil {
		return errf(CodeUnknownChannel, "ping.targets: %q has no directory entry to ping through", m.Id)
	}
	for _, p := range d.Points {
		if p.Role != role {
			continue
		}
		if slices.ContainsFunc(p.Channels, func(x *pb.ContactChannel) bool { return x.Type == c.Type && x.Address == c.Address }) {
			return nil
		}
		return errf(CodeUnknownChannel, "ping.targets: the %s contact point of %q has no %s channel %q", enum.Name(role), m.Id, enum.Name(c.Type), c.Address)
	}
	return errf(CodeUnknownChannel, "ping.targets: %q has no %s contact point", m.Id, enum.Name(role))
}

// pingTarget returns the target entry of member in ping p, or nil.
func pingTarget(p *pb.Ping, member string) *pb.PingTarget {
	for _, t := range p.GetTargets() {
		if t.Member == member {
			return t
		}
	}
	return nil
}

func validatePingAnswer(v *validator, r *pb.Record) error {
	an := r.GetPingAnswer()
	if err := recordID("ping_answer.ping_id", an.PingId); err != nil {
		return err
	}
	if len(an.Nonce) == 0 {
		return errf(CodeMissingField, "ping_answer.nonce is required")
	}
	if len(an.Nonce) < MinNonceLen || len(an.Nonce) > MaxNonceLen {
		return errf(CodeBadFormat, "ping_answer.nonce must be %d to %d bytes, got %d", MinNonceLen, MaxNonceLen, len(an.Nonce))
	}
	return checkText("ping_answer.statement", an.Statement, MaxSummaryLen)
}

func admitPingAnswer(a *admission, r *pb.Record) error {
	an := r.GetPingAnswer()
	rec, tx, err := a.record("ping_answer.ping_id", an.PingId, pb.RecordKind_RECORD_KIND_PING)
	if err != nil {
		return err
	}
	t := pingTarget(tx.GetBody().GetRecord().GetPing(), a.author)
	if t == nil {
		return errf(CodeNotRecipient, "ping_answer.ping_id: %q is not a target of ping %s", a.author, an.PingId)
	}
	if err := openDuty(a, pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING, an.PingId, a.author, "ping_answer.ping_id"); err != nil {
		return err
	}
	if !bytes.Equal(PingCommitment(a.author, an.Nonce), t.Commitment) {
		return errf(CodeNonceMismatch, "ping_answer.nonce is not the nonce ping %s committed to for %q", an.PingId, a.author)
	}
	a.subject(rec.Author)
	return nil
}

// openDuty refuses when the obligation of kind from source on debtor is
// already met or waived.
func openDuty(a *admission, kind pb.ObligationKind, source, debtor, field string) error {
	id := ObligationID(kind, source, debtor)
	ob, err := a.st.Obligation(id)
	if err != nil {
		return fmt.Errorf("read obligation %s: %w", id, err)
	}
	if ob != nil && !Open(ob) {
		return errf(CodeObligationClosed, "%s: the %s %q owes for %s is already %v", field, enum.Name(kind), debtor, source, enum.Name(ob.Status))
	}
	return nil
}

func validateDeliveryFailure(v *validator, r *pb.Record) error {
	f := r.GetDeliveryFailure()
	if err := recordID("delivery_failure.ping_id", f.PingId); err != nil {
		return err
	}
	if err := memberRef("delivery_failure.target", f.Target); err != nil {
		return err
	}
	return reqText("delivery_failure.reason", f.Reason, MaxSummaryLen)
}

func admitDeliveryFailure(a *admission, r *pb.Record) error {
	f := r.GetDeliveryFailure()
	_, tx, err := a.ownTx("delivery_failure.ping_id", f.PingId, pb.RecordKind_RECORD_KIND_PING)
	if err != nil {
		return err
	}
	t := pingTarget(tx.GetBody().GetRecord().GetPing(), f.Target)
	if t == nil {
		return errf(CodeNotRecipient, "delivery_failure.target: %q is not a target of ping %s", f.Target, f.PingId)
	}
	if err := openDuty(a, pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING, f.PingId, f.Target, "delivery_failure.target"); err != nil {
		return err
	}
	m, err := a.member("delivery_failure.target", f.Target)
	if err != nil {
		return err
	}
	// The failure is of the channel pinged: recorded against the entry in
	// force as long as that still registers it (re-filing the same entry
	// does not escape it); an entry that dropped it was already fixed.
	if registeredChannel(m, t.Role, t.Channel) != nil {
		return errf(CodeContactSuperseded, "delivery_failure.target: %q no longer registers the %s channel %s %q pinged by %s (its entry was updated since)",
			f.Target, enum.Name(t.Role), enum.Name(t.Channel.GetType()), t.Channel.GetAddress(), f.PingId)
	}
	d := m.GetDirectory()
	if slices.ContainsFunc(d.FailedDeliveries, func(x *pb.FailedDelivery) bool { return x.PingId == f.PingId }) {
		return errf(CodeDuplicateRecord, "delivery_failure: a failed delivery of ping %s to %q is already recorded", f.PingId, f.Target)
	}
	a.subject(f.Target)
	return nil
}

// directoryChange makes the member registry changes of a contact update, a
// delivery failure, and an answer that clears one.
func (g *govState) directoryChange(id, author string, r *pb.Record) error {
	switch body := r.Body.(type) {
	case *pb.Record_ContactUpdate:
		m, err := g.existing("contact_update", author)
		if err != nil {
			return err
		}
		m.Directory = &pb.DirectoryEntry{UpdateId: id, ConfirmedHeight: g.b.Height, ConfirmedAt: timestamppb.New(g.b.Time)}
		for _, p := range body.ContactUpdate.Points {
			m.Directory.Points = append(m.Directory.Points, proto.Clone(p).(*pb.ContactPoint))
		}
		g.note(m, id, "contact updated")
		g.putMember(m)
	case *pb.Record_DeliveryFailure:
		f := body.DeliveryFailure
		m, err := g.existing("delivery_failure.target", f.Target)
		if err != nil {
			return err
		}
		ping, err := g.Record(f.PingId)
		if err != nil || ping == nil {
			return fmt.Errorf("read ping %s: %w", f.PingId, err)
		}
		ptx := new(pb.Tx)
		if err := proto.Unmarshal(ping.Tx, ptx); err != nil {
			return fmt.Errorf("stored ping %s: %w", f.PingId, err)
		}
		t := pingTarget(ptx.GetBody().GetRecord().GetPing(), f.Target)
		m.Directory.FailedDeliveries = append(m.Directory.FailedDeliveries, &pb.FailedDelivery{
			PingId: f.PingId, RecordId: id, Height: g.b.Height, Time: timestamppb.New(g.b.Time),
			Channel: proto.Clone(t.GetChannel()).(*pb.ContactChannel)})
		g.note(m, id, "delivery failed (ping "+f.PingId+")")
		g.putMember(m)
	case *pb.Record_PingAnswer:
		an := body.PingAnswer
		m, err := g.existing("ping_answer", author)
		if err != nil {
			return err
		}
		d := m.GetDirectory()
		if d == nil || !slices.ContainsFunc(d.FailedDeliveries, func(x *pb.FailedDelivery) bool { return x.PingId == an.PingId }) {
			return nil
		}
		d.FailedDeliveries = slices.DeleteFunc(d.FailedDeliveries, func(x *pb.FailedDelivery) bool { return x.PingId == an.PingId })
		g.note(m, id, "delivery confirmed (ping "+an.PingId+" answered)")
		g.putMember(m)
	}
	return nil
}

// directory places and meets the duties of the directory's records.
func (o *obligations) directory(r *pb.Record) error {
	switch body := r.Body.(type) {
	case *pb.Record_ContactUpdate:
		m, err := o.st.Member(o.author)
		if err != nil {
			return fmt.Errorf("read member %q: %w", o.author, err)
		}
		if d := m.GetDirectory(); d != nil {
			if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_RECONFIRM_CONTACT, d.UpdateId, o.author); err != nil {
				return err
			}
			for _, f := range d.FailedDeliveries {
				if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_UPDATE_CONTACT, f.PingId, o.author); err != nil {
					return err
				}
			}
		}
		return o.create(pb.ObligationKind_OBLIGATION_KIND_RECONFIRM_CONTACT, o.record, o.author, nil, o.b.Time.Add(ContactReconfirmWindow), nil)
	case *pb.Record_Ping:
		due := body.Ping.AnswerBy.AsTime()
		for _, t := range body.Ping.Targets {
			if err := o.create(pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING, o.record, t.Member, []string{o.author}, due, nil); err != nil {
				return err
			}
		}
	case *pb.Record_PingAnswer:
		// The nonce got through after all: a failure recorded for this
		// ping no longer holds, and the update it placed is met.
		if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_UPDATE_CONTACT, body.PingAnswer.PingId, o.author); err != nil {
			return err
		}
		return o.fulfil(pb.ObligationKind_OBLIGATION_KIND_ANSWER_PING, body.PingAnswer.PingId, o.author)
	case *pb.Record_DeliveryFailure:
		f := body.DeliveryFailure
		return o.create(pb.ObligationKind_OBLIGATION_KIND_UPDATE_CONTACT, f.PingId, f.Target, []string{o.author},
			o.b.Time.Add(ContactFixWindow), []string{o.record})
	}
	return nil
}

// ContactStatusAt is member m's directory entry and whether it is stale at
// block time t: never filed, not reconfirmed within ContactReconfirmWindow,
// a contact point past its valid_until, or a delivery recorded as failed
// since the entry was set. The API serves it; a verifier recomputes it from
// the proven member entry and the header's time.
func ContactStatusAt(m *pb.Member, t time.Time) *pb.ContactStatus {
	cs := &pb.ContactStatus{Member: m.Id, Name: m.Name, Class: m.Class}
	d := m.GetDirectory()
	if d == nil {
		cs.Stale = true
		cs.StaleReasons = []string{"no directory entry: the member never filed a contact update"}
		return cs
	}
	cs.Entry = d
	confirmed := d.ConfirmedAt.AsTime()
	if t.After(confirmed) {
		cs.DaysSinceConfirmation = int64(t.Sub(confirmed) / (24 * time.Hour))
	}
	by := confirmed.Add(ContactReconfirmWindow)
	cs.ReconfirmBy = timestamppb.New(by)
	day := func(x time.Time) string { return x.UTC().Format("2006-01-02") }
	if !t.Before(by) {
		cs.StaleReasons = append(cs.StaleReasons, fmt.Sprintf("not reconfirmed since %s (due %s)", day(confirmed), day(by)))
	}
	for _, p := range d.Points {
		if p.ValidUntil != nil && !t.Before(p.ValidUntil.AsTime()) {
			cs.StaleReasons = append(cs.StaleReasons, fmt.Sprintf("the %s contact point expired on %s", enum.Name(p.Role), day(p.ValidUntil.AsTime())))
		}
	}
	for _, f := range d.FailedDeliveries {
		cs.StaleReasons = append(cs.StaleReasons, fmt.Sprintf("delivery through %s %s failed on %s (ping %s); update due %s",
			enum.Name(f.Channel.GetType()), f.Channel.GetAddress(), day(f.Time.AsTime()), f.PingId, day(f.Time.AsTime().Add(ContactFixWindow))))
	}
	cs.Stale = len(cs.StaleReasons) > 0
	return cs
}

// PingStatusOf computes who a ping tested and who answered: from the ping
// record, its targets' answer obligations (by member), the answers that
// met them (by member), and the update obligations of recorded delivery
// failures (by member).
func PingStatusOf(ping *pb.StoredRecord, answers map[string]*pb.Obligation, answerRecs map[string]*pb.StoredRecord, updates map[string]*pb.Obligation) (*pb.PingStatus, error) {
	tx := new(pb.Tx)
	if err := proto.Unmarshal(ping.Tx, tx); err != nil {
		return nil, err
	}
	p := tx.GetBody().GetRecord().GetPing()
	if p == nil {
		return nil, fmt.Errorf("record %s is not a ping", ping.Id)
	}
	s := &pb.PingStatus{PingId: ping.Id, Pinger: ping.Author, Height: ping.Height, Time: ping.BlockTime, AnswerBy: p.AnswerBy}
	for _, t := range p.Targets {
		ts := &pb.PingTargetStatus{Member: t.Member, Role: t.Role, Channel: t.Channel}
		if ob := answers[t.Member]; ob != nil {
			ts.ObligationId, ts.Status, ts.Due = ob.Id, ob.Status, ob.Due
		}
		if rec := answerRecs[t.Member]; rec != nil {
			ts.AnswerId, ts.AnswerHeight, ts.AnswerTime = rec.Id, rec.Height, rec.BlockTime
			s.Answered++
			if ts.Status == pb.ObligationStatus_OBLIGATION_STATUS_MET {
				s.AnsweredOnTime++
			}
		}
		if ob := updates[t.Member]; ob != nil {
			ts.UpdateObligationId, ts.UpdateStatus = ob.Id, ob.Status
			if len(ob.Basis) > 0 {
				ts.FailureId = ob.Basis[0]
			}
			s.FailedDeliveries++
		}
		s.Targets = append(s.Targets, ts)
	}
	return s, nil
}
