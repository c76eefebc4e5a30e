package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ObligationDomain prefixes the preimage of an obligation id.
const ObligationDomain = "normledger/v1/obligation"

// ObligationID derives the id of the obligation of kind that source places
// on debtor: lowercase hex of the first 16 bytes of
// SHA-256(domain 0x00 kind 0x00 source 0x00 debtor). Because it is derived,
// finding the obligation a record fulfils is a lookup, not a search.
func ObligationID(kind pb.ObligationKind, source, debtor string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s", ObligationDomain, int32(kind), source, debtor)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Open reports whether an obligation can still be met or waived.
func Open(o *pb.Obligation) bool {
	return o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OPEN || o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE
}

// obligations collects the obligation changes of one accepted record.
type obligations struct {
	st      State
	b       Block
	params  *pb.Params
	record  string // id of the record being applied
	author  string
	changed map[string]*pb.Obligation
	order   []string
	pledges map[string][]idPledge // pledgesOf's memo
	// exercise: the record being applied is exercise traffic (app
	// version 12): the duties it places are exercise duties, and it meets
	// only exercise duties.
	exercise bool
}

func (o *obligations) get(id string) (*pb.Obligation, error) {
	if ob, ok := o.changed[id]; ok {
		return ob, nil
	}
	return o.st.Obligation(id)
}

func (o *obligations) put(ob *pb.Obligation) {
	if _, ok := o.changed[ob.Id]; !ok {
		o.order = append(o.order, ob.Id)
	}
	o.changed[ob.Id] = ob
}

// create adds an obligation unless it exists already; it is an exercise
// duty when the record being applied is exercise traffic.
func (o *obligations) create(kind pb.ObligationKind, source, debtor string, creditors []string, due time.Time, basis []string) error {
	return o.createFor(o.exercise, kind, source, debtor, creditors, due, basis)
}

// createFor is create with the exercise flag given: a follow-on duty
// (a final or progress report) takes the flag of the duty it follows.
func (o *obligations) createFor(exercise bool, kind pb.ObligationKind, source, debtor string, creditors []string, due time.Time, basis []string) error {
	id := ObligationID(kind, source, debtor)
	old, err := o.get(id)
	if err != nil || old != nil {
		return err
	}
	var cs []string
	for _, c := range sortedUnique(creditors) {
		if c != debtor {
			cs = append(cs, c)
		}
	}
	o.put(&pb.Obligation{
		Id: id, Kind: kind, Debtor: debtor, Creditors: cs, SourceRecord: source, Basis: sortedUnique(basis),
		CreatedAt: timestamppb.New(o.b.Time), CreatedHeight: o.b.Height, Due: timestamppb.New(due),
		Status: pb.ObligationStatus_OBLIGATION_STATUS_OPEN, StatusAt: timestamppb.New(o.b.Time), StatusHeight: o.b.Height,
		Exercise: exercise,
	})
	return nil
}

// fulfil marks the obligation of kind from source on debtor met (or met
// late), if it exists and is still open.
func (o *obligations) fulfil(kind pb.ObligationKind, source, debtor string) error {
	_, err := o.fulfilled(kind, source, debtor)
	return err
}

// fulfilled is fulfil, reporting whether it met an open obligation.
func (o *obligations) fulfilled(kind pb.ObligationKind, source, debtor string) (bool, error) {
	ob, err := o.get(ObligationID(kind, source, debtor))
	if err != nil || ob == nil || !Open(ob) || (o.exercise && !ob.Exercise) {
		return false, err
	}
	ob = proto.Clone(ob).(*pb.Obligation)
	ob.Status = pb.ObligationStatus_OBLIGATION_STATUS_MET
	if o.b.Time.After(ob.Due.AsTime()) {
		ob.Status = pb.ObligationStatus_OBLIGATION_STATUS_MET_LATE
	}
	ob.StatusAt, ob.StatusHeight, ob.StatusRecord = timestamppb.New(o.b.Time), o.b.Height, o.record
	o.put(ob)
	return true, nil
}

func (o *obligations) list() []*pb.Obligation {
	out := make([]*pb.Obligation, 0, len(o.order))
	for _, id := range o.order {
		out = append(out, o.changed[id])
	}
	return out
}

// apply derives the obligations a record creates and fulfils.
func (o *obligations) apply(r *pb.Record) error {
	if r.GetExercise() && !o.exercise {
		o.exercise = true
		defer func() { o.exercise = false }()
	}
	var refs []string
	refs = append(refs, r.Refs...)
	switch body := r.Body.(type) {
	case *pb.Record_Notification:
		return o.notification(body.Notification)
	case *pb.Record_Attribution:
		return o.attribution(body.Attribution)
	case *pb.Record_Declaration:
		return o.declaration()
	case *pb.Record_ContactUpdate, *pb.Record_Ping, *pb.Record_PingAnswer, *pb.Record_DeliveryFailure:
		return o.directory(r)
	case *pb.Record_Acknowledgement:
		return o.fulfil(pb.ObligationKind_OBLIGATION_KIND_ACKNOWLEDGE, body.Acknowledgement.NotificationId, o.author)
	case *pb.Record_Pledge:
		return o.reviews(o.record, body.Pledge)
	case *pb.Record_Response:
		id := body.Response.RequestId
		for _, k := range []pb.ObligationKind{pb.ObligationKind_OBLIGATION_KIND_RESPOND, pb.ObligationKind_OBLIGATION_KIND_ACKNOWLEDGE,
			pb.ObligationKind_OBLIGATION_KIND_REPLY_CHALLENGE, pb.ObligationKind_OBLIGATION_KIND_REPLY_FINDING,
			pb.ObligationKind_OBLIGATION_KIND_REVIEW, pb.ObligationKind_OBLIGATION_KIND_REPLY_ATTRIBUTION} {
			// (REPLY_ATTRIBUTION: of an attribution, its reveal or an amendment naming the replier.)
			if err := o.fulfil(k, id, o.author); err != nil {
				return err
			}
		}
	case *pb.Record_IncidentDisclosure:
		return o.disclosure(body.IncidentDisclosure, refs, true)
	case *pb.Record_HarmAssessment:
		h := body.HarmAssessment
		if h.RemediationDue != nil && h.ResponsibleParty != "" {
			return o.create(pb.ObligationKind_OBLIGATION_KIND_REMEDIATE, o.record, h.ResponsibleParty,
				append([]string{o.author}, h.AffectedStates...), h.RemediationDue.AsTime(), nil)
		}
	case *pb.Record_Challenge:
		target, err := o.st.Record(body.Challenge.TargetId)
		if err != nil || target == nil {
			return err
		}
		return o.create(pb.ObligationKind_OBLIGATION_KIND_REPLY_CHALLENGE, o.record, target.Author,
			[]string{o.author}, body.Challenge.ReplyBy.AsTime(), nil)
	case *pb.Record_ProtectiveOrder, *pb.Record_DisclosureStep:
		return o.disclosureDuties(r)
	case *pb.Record_Finding:
		f := body.Finding
		if err := o.disclosureDuties(r); err != nil {
			return err
		}
		if f.ReplyDue == nil {
			return nil
		}
		for _, s := range sortedUnique(f.SubjectStates) {
			if err := o.create(pb.ObligationKind_OBLIGATION_KIND_REPLY_FINDING, o.record, s, []string{o.author}, f.ReplyDue.AsTime(), nil); err != nil {
				return err
			}
		}
	case *pb.Record_Sealed:
		s := body.Sealed
		creditors := append([]string(nil), s.SubjectStates...)
		for _, c := range s.EncryptedCopies {
			creditors = append(creditors, c.Recipient)
		}
		// Each recipient owes a receipt within the acknowledgement window.
		due := o.b.Time.Add(time.Duration(o.params.AckWindowHours) * time.Hour)
		for _, r := range s.Recipients {
			creditors = append(creditors, r.Member)
			if err := o.create(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, o.record, r.Member, []string{o.author}, due, nil); err != nil {
				return err
			}
		}
		return o.create(pb.ObligationKind_OBLIGATION_KIND_REVEAL, o.record, o.author, creditors, s.RevealBy.AsTime(), nil)
	case *pb.Record_Receipt:
		return o.fulfil(pb.ObligationKind_OBLIGATION_KIND_RECEIPT, body.Receipt.SealedId, o.author)
	case *pb.Record_Reveal:
		if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_REVEAL, body.Reveal.SealedId, o.author); err != nil {
			return err
		}
		// The revealed record now speaks: it creates and meets obligations as if filed now.
		return o.apply(body.Reveal.Body)
	case *pb.Record_Amendment:
		am := body.Amendment
		// An amended disclosure can meet duties; the duties it places on
		// others were placed by the original and are not placed again.
		if d := am.Replacement.GetIncidentDisclosure(); d != nil {
			return o.disclosure(d, append(append(refs, am.TargetId), am.Replacement.Refs...), false)
		}
		// An amended attribution obliges the states it newly names to
		// reply (to the amendment); the others owe the original's reply.
		if at := am.Replacement.GetAttribution(); at != nil {
			orig, err := o.st.Record(am.TargetId)
			if err != nil || orig == nil {
				return err
			}
			otx := new(pb.Tx)
			if err := proto.Unmarshal(orig.Tx, otx); err != nil {
				return fmt.Errorf("stored record %s: %w", orig.Id, err)
			}
			before, err := attributedMembers(o.st, otx.GetBody().GetRecord().GetAttribution())
			if err != nil {
				return err
			}
			return o.attribution(at, before...)
		}
		// Amending a pledge reviews it; the new version's review date, if
		// any, places the next review.
		if p := am.Replacement.GetPledge(); p != nil {
			if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_REVIEW, am.TargetId, o.author); err != nil {
				return err
			}
			return o.reviews(o.record, p)
		}
	case *pb.Record_Waiver:
		ob, err := o.get(body.Waiver.ObligationId)
		if err != nil || ob == nil {
			return err
		}
		ob = proto.Clone(ob).(*pb.Obligation)
		ob.Status = pb.ObligationStatus_OBLIGATION_STATUS_WAIVED
		ob.StatusAt, ob.StatusHeight, ob.StatusRecord = timestamppb.New(o.b.Time), o.b.Height, o.record
		o.put(ob)
	}
	return nil
}

// notification places a notification's duties on each recipient: to
// acknowledge it within the ack window and respond by respond_by when it
// asks for a response; and, from app version 9, to respond to a
// consultation or assistance request within the shortest
// respond_within_hours of the recipient's pledges in force that promise
// one (the pledges are the duty's basis), whether or not it asked.
func (o *obligations) notification(n *pb.Notification) error {
	if n.Type == pb.NotificationType_NOTIFICATION_TYPE_REPORT_REQUEST {
		for _, rc := range sortedUnique(n.Recipients) {
			if err := o.create(pb.ObligationKind_OBLIGATION_KIND_INTERMEDIATE_REPORT, o.record, rc, []string{o.author}, n.RespondBy.AsTime(), nil); err != nil {
				return err
			}
		}
		return nil
	}
	request := n.Type == pb.NotificationType_NOTIFICATION_TYPE_CONSULTATION_REQUEST ||
		n.Type == pb.NotificationType_NOTIFICATION_TYPE_ASSISTANCE_REQUEST
	if request {
		v9, err := atLeast(o.st, AppVersionContactDirectory)
		if err != nil {
			return err
		}
		request = v9
	}
	if !n.ResponseRequested && !request {
		return nil
	}
	ackDue := o.b.Time.Add(time.Duration(o.params.AckWindowHours) * time.Hour)
	for _, rc := range sortedUnique(n.Recipients) {
		due, respond := n.RespondBy.AsTime(), n.ResponseRequested
		var basis []string
		if request {
			window, pledges, err := o.responsePromised(rc)
			if err != nil {
				return err
			}
			if window > 0 {
				if d := o.b.Time.Add(time.Duration(window) * time.Hour); !respond || d.Before(due) {
					due = d
				}
				respond, basis = true, pledges
			}
		}
		if n.ResponseRequested {
			if err := o.create(pb.ObligationKind_OBLIGATION_KIND_ACKNOWLEDGE, o.record, rc, []string{o.author}, ackDue, nil); err != nil {
				return err
			}
		}
		if respond {
			if err := o.create(pb.ObligationKind_OBLIGATION_KIND_RESPOND, o.record, rc, []string{o.author}, due, basis); err != nil {
				return err
			}
		}
	}
	return nil
}

// responsePromised is the shortest respond_within_hours of member's
// pledges in force at block time, and those pledges (0, nil: none).
func (o *obligations) responsePromised(member string) (uint32, []string, error) {
	pledges, err := o.pledgesOf(member)
	if err != nil {
		return 0, nil, err
	}
	var window uint32
	var basis []string
	for _, pr := range pledges {
		h := pr.pledge.GetVerification().GetRespondWithinHours()
		if h == 0 || !activeAt(pr.pledge, o.b.Time) {
			continue
		}
		basis = append(basis, pr.id)
		if window == 0 || h < window {
			window = h
		}
	}
	return window, basis, nil
}

// disclosure handles an incident disclosure (filed or amended) by the author:
// it meets the author's disclosure and remediation duties it refers to, and
// places disclosure duties on affected pledgors other than the author.
func (o *obligations) disclosure(d *pb.IncidentDisclosure, refs []string, place bool) error {
	// A near-miss (app version 12) is reported by choice: it places no
	// disclosure or staged duties on others, and meets the author's own;
	// an intermediate or progress report follows an incident and places
	// none either.
	place = place && !IsNearMiss(d) && d.Stage != pb.DisclosureStage_DISCLOSURE_STAGE_INTERMEDIATE &&
		d.Stage != pb.DisclosureStage_DISCLOSURE_STAGE_PROGRESS
	for _, ref := range sortedUnique(refs) {
		if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_DISCLOSE, ref, o.author); err != nil {
			return err
		}
		if d.Stage == pb.DisclosureStage_DISCLOSURE_STAGE_FINAL && d.RemediatedAt != nil {
			if err := o.fulfil(pb.ObligationKind_OBLIGATION_KIND_REMEDIATE, ref, o.author); err != nil {
				return err
			}
		}
	}
	if err := o.staged(d, refs, place); err != nil {
		return err
	}
	for _, p := range sortedUnique(d.AffectedStates) {
		if p == o.author || !place {
			continue
		}
		pledges, err := o.pledgesOf(p)
		if err != nil {
			return err
		}
		var basis, creditors []string
		var window uint32
		for _, pr := range pledges {
			pl := pr.pledge
			if pl.Verification.GetDiscloseWithinHours() == 0 || !activeAt(pl, o.b.Time) || !overlaps(pl.ProtectedSectors, d.Sectors) {
				continue
			}
			basis = append(basis, pr.id)
			creditors = append(creditors, pl.Pledgors...)
			if h := pl.Verification.DiscloseWithinHours; window == 0 || h < window {
				window = h
			}
		}
		if len(basis) == 0 {
			continue
		}
		due := o.b.Time.Add(time.Duration(window) * time.Hour)
		if err := o.create(pb.ObligationKind_OBLIGATION_KIND_DISCLOSE, o.record, p, creditors, due, basis); err != nil {
			return err
		}
	}
	return nil
}

// reviews places the review duties of a pledge (filed, or a new version by
// amendment) on every pledgor: due at review_due, unless the pledge expires
// by then.
func (o *obligations) reviews(source string, p *pb.Pledge) error {
	if p.ReviewDue == nil || (p.EffectiveUntil != nil && !p.ReviewDue.AsTime().Before(p.EffectiveUntil.AsTime())) {
		return nil
	}
	for _, debtor := range sortedUnique(p.Pledgors) {
		if err := o.create(pb.ObligationKind_OBLIGATION_KIND_REVIEW, source, debtor, p.Pledgors, p.ReviewDue.AsTime(), nil); err != nil {
			return err
		}
	}
	return nil
}

var stagedKinds = []pb.ObligationKind{pb.ObligationKind_OBLIGATION_KIND_EARLY_WARNING,
	pb.ObligationKind_OBLIGATION_KIND_INCIDENT_NOTIFICATION, pb.ObligationKind_OBLIGATION_KIND_FINAL_REPORT}

// StageKind is the staged reporting duty a disclosure stage meets.
func StageKind(s pb.DisclosureStage) pb.ObligationKind {
	switch s {
	case pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING:
		return pb.ObligationKind_OBLIGATION_KIND_EARLY_WARNING
	case pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION:
		return pb.ObligationKind_OBLIGATION_KIND_INCIDENT_NOTIFICATION
	case pb.DisclosureStage_DISCLOSURE_STAGE_FINAL:
		return pb.ObligationKind_OBLIGATION_KIND_FINAL_REPORT
	}
	return pb.ObligationKind_OBLIGATION_KIND_UNSPECIFIED
}

// staged places and meets the staged reporting duties of disclosure d
// (docs/interop.md).
//
// A staged incident is identified by the record that placed its duties
// (their source). A disclosure continues it when it refers to that record,
// or to a disclosure that does. Meeting: a disclosure of stage S by a
// debtor, continuing the incident, meets the debtor's duties of stage S and
// of the earlier stages (late if past their due time); meeting the
// notification places the final report, due final_report_hours later.
//
// Placing: every affected state with a pledge in force that declares staged
// reporting and protects one of the incident's sectors, unless d continues
// a staged incident of that state, owes an early warning and a notification,
// due early_warning_hours and notification_hours after it became aware: the
// disclosure's aware_at when it filed d itself, otherwise the block time
// (the ledger tells it at the latest then).
func (o *obligations) staged(d *pb.IncidentDisclosure, refs []string, place bool) error {
	v12, err := atLeast(o.st, AppVersionEvidence)
	if err != nil {
		return err
	}
	sources, err := o.incidentSources(refs, v12)
	if err != nil {
		return err
	}
	if place {
		for _, p := range sortedUnique(d.AffectedStates) {
			cont, err := o.continues(sources, p, v12)
			if err != nil {
				return err
			}
			if cont {
				continue
			}
			if err := o.placeStaged(d, p); err != nil {
				return err
			}
		}
		// The author's own first report meets its own first duty.
		sources = sortedUnique(append(sources, o.record))
	}
	stage := StageKind(d.Stage)
	for _, src := range sources {
		for _, k := range stagedKinds {
			if k > stage {
				break
			}
			met, err := o.fulfilled(k, src, o.author)
			if err != nil {
				return err
			}
			if met && k == pb.ObligationKind_OBLIGATION_KIND_INCIDENT_NOTIFICATION {
				if err := o.placeFinal(src); err != nil {
					return err
				}
				// Progress reports follow a notification (a final report
				// that also meets the notification needs none).
				if v12 && d.Stage == pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION {
					if err := o.placeProgress(src, 1); err != nil {
						return err
					}
				}
			}
		}
	}
	if !v12 {
		return nil
	}
	return o.stagedV12(d, refs, sources)
}

// incidentSources lists the records a disclosure referring to refs may
// continue: each ref, and the refs of each referred disclosure. From app
// version 12 (deep) it follows refs through disclosures (and report
// requests) up to maxSourceDepth levels, so a progress report that refers
// to the previous one still continues the incident.
func (o *obligations) incidentSources(refs []string, deep bool) ([]string, error) {
	depth := 1
	if deep {
		depth = maxSourceDepth
	}
	out := append([]string(nil), refs...)
	seen := map[string]bool{}
	level := sortedUnique(refs)
	for ; depth > 0 && len(level) > 0; depth-- {
		var next []string
		for _, ref := range level {
			if seen[ref] {
				continue
			}
			seen[ref] = true
			rec, err := o.st.Record(ref)
			if err != nil {
				return nil, err
			}
			if rec == nil {
				continue
			}
			follow := rec.Kind == pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE
			if !follow && (!deep || rec.Kind != pb.RecordKind_RECORD_KIND_NOTIFICATION) {
				continue
			}
			tx := new(pb.Tx)
			if err := proto.Unmarshal(rec.Tx, tx); err != nil {
				return nil, fmt.Errorf("stored record %s: %w", rec.Id, err)
			}
			r := tx.GetBody().GetRecord()
			if !follow && r.GetNotification().GetType() != pb.NotificationType_NOTIFICATION_TYPE_REPORT_REQUEST {
				continue
			}
			out = append(out, r.GetRefs()...)
			next = append(next, r.GetRefs()...)
		}
		level = sortedUnique(next)
	}
	return sortedUnique(out), nil
}

// maxSourceDepth bounds how far (app version 12) a disclosure's refs are
// followed to find the staged incident it continues.
const maxSourceDepth = 8

// continues reports whether any source placed staged duties on debtor
// (from app version 12: vulnerability duties too, and only duties that are
// drills exactly when the record being applied is one).
func (o *obligations) continues(sources []string, debtor string, v12 bool) (bool, error) {
	kinds := stagedKinds
	if v12 {
		kinds = allStagedKinds
	}
	for _, src := range sources {
		for _, k := range kinds {
			ob, err := o.get(ObligationID(k, src, debtor))
			if err != nil {
				return false, err
			}
			if ob != nil && ob.Exercise == o.exercise {
				return true, nil
			}
		}
	}
	return false, nil
}

// idPledge is a stored pledge, decoded.
type idPledge struct {
	id     string
	pledge *pb.Pledge
}

// pledgesOf is the member's pledges, decoded once per record applied (the
// disclosure and staged duties both read them).
func (o *obligations) pledgesOf(member string) ([]idPledge, error) {
	if ps, ok := o.pledges[member]; ok {
		return ps, nil
	}
	recs, err := o.st.PledgesOf(member)
	if err != nil {
		return nil, err
	}
	out := make([]idPledge, 0, len(recs))
	for _, pr := range recs {
		tx := new(pb.Tx)
		if err := proto.Unmarshal(pr.Tx, tx); err != nil {
			return nil, fmt.Errorf("stored pledge %s: %w", pr.Id, err)
		}
		if pl := tx.Body.Record.GetPledge(); pl != nil {
			out = append(out, idPledge{pr.Id, pl})
		}
	}
	if o.pledges == nil {
		o.pledges = map[string][]idPledge{}
	}
	o.pledges[member] = out
	return out, nil
}

// stagedPledges lists the pledges of member in force at t that declare
// staged reporting and protect one of sectors, and the shortest window of
// each stage among them (0: no pledge requires it).
func (o *obligations) stagedPledges(member string, t time.Time, sectors []pb.Sector, pick func(*pb.StagedReporting) [3]uint32) (basis, creditors []string, windows [3]uint32, err error) {
	pledges, err := o.pledgesOf(member)
	if err != nil {
		return nil, nil, windows, err
	}
	for _, pr := range pledges {
		pl := pr.pledge
		sr := pl.GetStagedReporting()
		if sr == nil || !activeAt(pl, t) || !overlaps(pl.ProtectedSectors, sectors) || pick(sr) == [3]uint32{} {
			continue
		}
		basis = append(basis, pr.id)
		creditors = append(creditors, pl.Pledgors...)
		for i, h := range pick(sr) {
			if h > 0 && (windows[i] == 0 || h < windows[i]) {
				windows[i] = h
			}
		}
	}
	return basis, creditors, windows, nil
}

func (o *obligations) placeStaged(d *pb.IncidentDisclosure, p string) error {
	pick, kinds := incidentWindows, stagedKinds
	vuln := d.GetVulnerability().GetActivelyExploited()
	if vuln {
		pick, kinds = vulnerabilityWindows, vulnerabilityKinds
	}
	basis, creditors, windows, err := o.stagedPledges(p, o.b.Time, d.Sectors, pick)
	if err == nil && len(basis) == 0 && vuln {
		// No pledge has vulnerability windows: the incident's apply.
		kinds = stagedKinds
		basis, creditors, windows, err = o.stagedPledges(p, o.b.Time, d.Sectors, incidentWindows)
	}
	if err != nil || len(basis) == 0 {
		return err
	}
	aware := o.b.Time
	if p == o.author && d.AwareAt != nil {
		aware = d.AwareAt.AsTime()
	}
	for i, k := range kinds[:2] {
		if windows[i] == 0 {
			continue
		}
		due := aware.Add(time.Duration(windows[i]) * time.Hour)
		if err := o.create(k, o.record, p, creditors, due, basis); err != nil {
			return err
		}
	}
	return nil
}

// incidentWindows are a pledge's incident windows, in the order of stagedKinds.
func incidentWindows(sr *pb.StagedReporting) [3]uint32 {
	return [3]uint32{sr.EarlyWarningHours, sr.NotificationHours, sr.FinalReportHours}
}

// placeFinal places the final report of the incident from source on the
// author, whose notification duty this record met: due the shortest
// final_report_hours of the pledges the notification duty rested on.
func (o *obligations) placeFinal(source string) error {
	notif, err := o.get(ObligationID(pb.ObligationKind_OBLIGATION_KIND_INCIDENT_NOTIFICATION, source, o.author))
	if err != nil || notif == nil {
		return err
	}
	var window uint32
	for _, id := range notif.Basis {
		rec, err := o.st.Record(id)
		if err != nil {
			return err
		}
		if rec == nil {
			continue
		}
		tx := new(pb.Tx)
		if err := proto.Unmarshal(rec.Tx, tx); err != nil {
			return fmt.Errorf("stored pledge %s: %w", id, err)
		}
		if h := tx.GetBody().GetRecord().GetPledge().GetStagedReporting().GetFinalReportHours(); h > 0 && (window == 0 || h < window) {
			window = h
		}
	}
	if window == 0 {
		return nil
	}
	return o.createFor(notif.Exercise, pb.ObligationKind_OBLIGATION_KIND_FINAL_REPORT, source, o.author, notif.Creditors,
		o.b.Time.Add(time.Duration(window)*time.Hour), notif.Basis)
}

// PledgeStateAt is where pledge p stands at block time t.
func PledgeStateAt(p *pb.Pledge, t time.Time) pb.PledgeState {
	switch {
	case p.EffectiveFrom != nil && t.Before(p.EffectiveFrom.AsTime()):
		return pb.PledgeState_PLEDGE_STATE_PENDING
	case p.EffectiveUntil != nil && !t.Before(p.EffectiveUntil.AsTime()):
		return pb.PledgeState_PLEDGE_STATE_EXPIRED
	}
	return pb.PledgeState_PLEDGE_STATE_IN_FORCE
}

func activeAt(p *pb.Pledge, t time.Time) bool {
	if p.EffectiveFrom != nil && t.Before(p.EffectiveFrom.AsTime()) {
		return false
	}
	return p.EffectiveUntil == nil || t.Before(p.EffectiveUntil.AsTime())
}

// overlaps reports whether a and b share a sector.
func overlaps(a, b []pb.Sector) bool {
	return slices.ContainsFunc(a, func(x pb.Sector) bool { return slices.Contains(b, x) })
}

// Sweep marks every open obligation whose due time block b's time has
// passed as overdue. FinalizeBlock runs it before the block's transactions,
// so an obligation becomes overdue in the first block whose time passes its
// due time whether or not any transaction mentions it.
func Sweep(st State, b Block) ([]*pb.Obligation, error) {
	due, err := st.OpenDueBefore(b.Time)
	if err != nil {
		return nil, fmt.Errorf("read due obligations: %w", err)
	}
	out := make([]*pb.Obligation, 0, len(due))
	for _, ob := range due {
		ob = proto.Clone(ob).(*pb.Obligation)
		ob.Status = pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE
		ob.StatusAt, ob.StatusHeight, ob.StatusRecord = timestamppb.New(b.Time), b.Height, ""
		ob.OverdueAt = timestamppb.New(b.Time)
		out = append(out, ob)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out, nil
}
