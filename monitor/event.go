package monitor

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/internal/human"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// Event is one thing the monitor reports; its JSON is the webhook
// payload and the -o json line (docs/monitor.md).
type Event struct {
	// ID is stable ("overdue:<obligation id>", "record:<record id>", ...):
	// the same event always has the same id, and it is delivered once (at
	// least once across a crash between delivery and the state write).
	ID      string `json:"id"`
	Type    string `json:"type"`
	Member  string `json:"member"`
	ChainID string `json:"chain_id"`
	// Height is the state height the event was read and proven at;
	// BlockTime is the time of that block.
	Height     int64       `json:"height"`
	BlockTime  time.Time   `json:"block_time"`
	Summary    string      `json:"summary"`
	Record     *Record     `json:"record,omitempty"`
	Obligation *Obligation `json:"obligation,omitempty"`
	Proof      Proof       `json:"proof"`
}

// Event types.
const (
	EventRecord      = "record"          // a new record names the member
	EventFinding     = "finding"         // a new finding concerns the member
	EventChallenge   = "challenge"       // a new challenge of one of the member's records
	EventDueSoon     = "due_soon"        // an open obligation of the member falls due within --within
	EventOverdue     = "overdue"         // an obligation of the member became overdue
	EventOwedOverdue = "owed_overdue"    // an obligation owed to the member became overdue
	EventSealed      = "sealed"          // a record sealed to the member (it owes a receipt); never its plaintext
	EventMismatch    = "mismatch"        // a recipient proved that the member's sealed record does not match its commitment
	EventPing        = "ping"            // a ping tests one of the member's registered channels (it owes an answer with the nonce)
	EventDelivery    = "delivery_failed" // a pinger recorded that a nonce did not reach the member's channel (it owes an update)
	EventCase        = "case"            // a case step or measure names the member (a party, the mediator or a verifier asked)
	EventDisclosure  = "disclosure"      // a protective order or its step asks something of the member (approved person, designating author)
)

// Record is the record an event is about.
type Record struct {
	ID        string    `json:"id"`
	Seq       uint64    `json:"seq"`
	Kind      string    `json:"kind"`
	Author    string    `json:"author"`
	Signers   []string  `json:"signers"`
	Height    int64     `json:"height"`
	BlockTime time.Time `json:"block_time"`
	// Roles are the member's parts in it: author, co_signer, recipient,
	// subject (named by it otherwise: a pledgor, an affected state, the
	// state a finding concerns, the author of the record it answers...).
	Roles []string `json:"roles"`
}

// Obligation is the obligation an event is about, as proven.
type Obligation struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	Debtor        string     `json:"debtor"`
	Creditors     []string   `json:"creditors"`
	SourceRecord  string     `json:"source_record"`
	CreatedAt     time.Time  `json:"created_at"`
	CreatedHeight int64      `json:"created_height"`
	Due           time.Time  `json:"due"`
	Status        string     `json:"status"`
	StatusAt      *time.Time `json:"status_at,omitempty"`
	StatusHeight  int64      `json:"status_height,omitempty"`
	StatusRecord  string     `json:"status_record,omitempty"`
	OverdueAt     *time.Time `json:"overdue_at,omitempty"`
}

// Proof says what the event was checked against: the state key
// proven (hex) under the app hash of header HeaderHeight (= StateHeight+1),
// a header the light client verified.
type Proof struct {
	StateHeight  int64  `json:"state_height"`
	HeaderHeight int64  `json:"header_height"`
	HeaderHash   string `json:"header_hash"`
	AppHash      string `json:"app_hash"`
	Key          string `json:"key"`
	// ListingComplete: the listing the item was found in is proven
	// complete (record index listings). Obligation listings prove each
	// obligation, not that none was left out.
	ListingComplete bool `json:"listing_complete"`
	// LogSize and LogRoot: the record log the record's inclusion was
	// proven in (records only).
	LogSize uint64 `json:"log_size,omitempty"`
	LogRoot string `json:"log_root,omitempty"`
}

// proven is what a step's answers are checked against.
type proven struct {
	height     int64
	appHash    []byte
	headerHash []byte
	blockTime  time.Time
}

func (p proven) proof(key []byte, complete bool) Proof {
	return Proof{StateHeight: p.height, HeaderHeight: p.height + 1, HeaderHash: fmt.Sprintf("%X", p.headerHash),
		AppHash: fmt.Sprintf("%X", p.appHash), Key: hex.EncodeToString(key), ListingComplete: complete}
}

// recordEvent describes a new record naming the member.
func (m *daemon) recordEvent(p proven, r *pb.StoredRecord, viaSubject bool, ls verifiers.LogState) (*Event, error) {
	tx := r.Decoded
	if tx == nil {
		var err error
		if tx, err = ledger.DecodeTx(r.Tx, 0); err != nil {
			return nil, fmt.Errorf("record %s: %w", r.Id, err)
		}
	}
	me := m.o.Member
	var roles []string
	if r.Author == me {
		roles = append(roles, "author")
	}
	for _, cs := range tx.CoSignatures {
		if cs.Signer == me {
			roles = append(roles, "co_signer")
		}
	}
	body := tx.Body.GetRecord()
	if n := body.GetNotification(); n != nil && slices.Contains(n.Recipients, me) {
		roles = append(roles, "recipient")
	}
	var pinged *pb.PingTarget
	for _, t := range body.GetPing().GetTargets() {
		if t.Member == me {
			pinged = t
			roles = append(roles, "target")
		}
	}
	var sealedTo *pb.SealRecipient
	for _, sr := range body.GetSealed().GetRecipients() {
		if sr.Member == me {
			sealedTo = sr
			roles = append(roles, "recipient")
		}
	}
	if viaSubject && len(roles) == 0 {
		roles = append(roles, "subject")
	}
	kind := ledger.KindNameOf(r.Kind)
	typ, what := EventRecord, fmt.Sprintf("%s record %s by %s names %s (%s)", kind, r.Id, r.Author, me, strings.Join(roles, ", "))
	switch {
	case r.Author == me:
	case body.GetFinding() != nil && slices.Contains(body.GetFinding().SubjectStates, me):
		f := body.GetFinding()
		typ = EventFinding
		what = fmt.Sprintf("finding %s by %s concerns %s: %s (reply due %s)", r.Id, r.Author, me, enum.Name(f.Determination), human.Time(f.ReplyDue))
	case body.GetChallenge() != nil && viaSubject:
		c := body.GetChallenge()
		typ = EventChallenge
		what = fmt.Sprintf("challenge %s by %s of %s's record %s (reply by %s)", r.Id, r.Author, me, c.TargetId, human.Time(c.ReplyBy))
	case sealedTo != nil:
		s := body.GetSealed()
		typ = EventSealed
		what = fmt.Sprintf("sealed %s %s by %s is encrypted to %s (encryption key %s, %d recipients): open it with `normledger open sealed %s`, then file a receipt (`normledger tx receipt %s`)",
			ledger.KindNameOf(s.SealedKind), r.Id, r.Author, me, sealedTo.KeyId, len(s.Recipients), r.Id, r.Id)
	case pinged != nil:
		typ = EventPing
		what = fmt.Sprintf("ping %s by %s tests %s's %s contact point through %s %s: answer by %s with the nonce that arrives there (`normledger tx ping-answer %s --nonce ...`)",
			r.Id, r.Author, me, enum.Name(pinged.Role), enum.Name(pinged.Channel.GetType()), pinged.Channel.GetAddress(), human.Time(body.GetPing().AnswerBy), r.Id)
	case body.GetDeliveryFailure() != nil && body.GetDeliveryFailure().Target == me:
		f := body.GetDeliveryFailure()
		typ = EventDelivery
		what = fmt.Sprintf("%s recorded that ping %s did not reach %s (%s): update the directory entry within 30 days (`normledger tx contact`)", r.Author, f.PingId, me, f.Reason)
	case body.GetCaseStep() != nil:
		cs := body.GetCaseStep()
		typ = EventCase
		caseID := cs.CaseId
		if caseID == "" {
			caseID = r.Id
		}
		what = fmt.Sprintf("case %s: %s by %s names %s (%s)%s (`normledger query case %s`)", caseID, ledger.StepName(cs.Step), r.Author, me,
			strings.Join(roles, ", "), caseHint(cs, me), caseID)
	case body.GetMeasure() != nil:
		ms := body.GetMeasure()
		typ = EventCase
		if ms.Action == pb.MeasureAction_MEASURE_ACTION_STAND_DOWN {
			what = fmt.Sprintf("case %s: %s stood down measure %s (return to level %d)", ms.CaseId, r.Author, ms.MeasureId, ms.ReturnLevel)
		} else {
			what = fmt.Sprintf("case %s: %s announced a %s against %s at ladder level %d, expected to end %s (`normledger query case %s`)",
				ms.CaseId, r.Author, enum.Name(ms.Type), ms.Target, ms.Level, human.Time(ms.ExpectedEnd), ms.CaseId)
		}
	case body.GetProtectiveOrder() != nil || body.GetDisclosureStep() != nil:
		typ = EventDisclosure
		what = disclosureHint(r, body, me)
	case body.GetReceipt() != nil && !body.GetReceipt().Matches && len(body.GetReceipt().FileKey) > 0:
		typ = EventMismatch
		what = fmt.Sprintf("receipt %s by %s proves that sealed record %s does not match its commitment (the published file key discloses the body)", r.Id, r.Author, body.GetReceipt().SealedId)
	}
	idKey, err := layout.ID(r.Id)
	if err != nil {
		return nil, err
	}
	pr := p.proof(idKey, true)
	pr.LogSize, pr.LogRoot = ls.Size, fmt.Sprintf("%X", ls.Root)
	return &Event{
		ID: typ + ":" + r.Id, Type: typ, Member: me, ChainID: m.chainID, Height: p.height, BlockTime: p.blockTime, Summary: what,
		Record: &Record{ID: r.Id, Seq: r.Seq, Kind: kind, Author: r.Author, Signers: ledger.TxSigners(tx), Height: r.Height,
			BlockTime: r.BlockTime.AsTime().UTC(), Roles: roles},
		Proof: pr,
	}, nil
}

// obligationEvents are the events an obligation gives at p. On the first
// step only obligations overdue now count as having become overdue (not
// those that were overdue once and were met late or waived since).
func (m *daemon) obligationEvents(p proven, o *pb.Obligation, first bool) []*Event {
	me := m.o.Member
	overdue := o.OverdueAt != nil && (!first || o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE)
	view := obligationView(o)
	desc := fmt.Sprintf("%s obligation %s owed by %s to %s", enum.Name(o.Kind), o.Id, o.Debtor, strings.Join(o.Creditors, ", "))
	due := human.Time(o.Due)
	mk := func(typ, summary string) *Event {
		return &Event{ID: typ + ":" + o.Id, Type: typ, Member: me, ChainID: m.chainID, Height: p.height, BlockTime: p.blockTime,
			Summary: summary, Obligation: view, Proof: p.proof(layout.Obligation(o.Id), false)}
	}
	var out []*Event
	if o.Debtor == me {
		switch {
		case overdue:
			out = append(out, mk(EventOverdue, fmt.Sprintf("%s is overdue: due %s, overdue since %s (status now %s)", desc, due, human.Time(o.OverdueAt), layout.StatusName(o.Status))))
		case o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OPEN && o.Due.AsTime().Before(p.blockTime.Add(m.o.Within)):
			left := "due already"
			if d := o.Due.AsTime().Sub(p.blockTime); d > 0 {
				left = human.Duration(d) + " after block time"
			}
			out = append(out, mk(EventDueSoon, fmt.Sprintf("%s falls due %s (%s)", desc, due, left)))
		}
	}
	if overdue && slices.Contains(o.Creditors, me) {
		out = append(out, mk(EventOwedOverdue, fmt.Sprintf("%s is overdue: due %s, overdue since %s (status now %s)", desc, due, human.Time(o.OverdueAt), layout.StatusName(o.Status))))
	}
	return out
}

func obligationView(o *pb.Obligation) *Obligation {
	tp := func(t *timestamppb.Timestamp) *time.Time {
		if t == nil {
			return nil
		}
		v := t.AsTime().UTC()
		return &v
	}
	return &Obligation{ID: o.Id, Kind: enum.Name(o.Kind), Debtor: o.Debtor, Creditors: append([]string{}, o.Creditors...),
		SourceRecord: o.SourceRecord, CreatedAt: o.CreatedAt.AsTime().UTC(), CreatedHeight: o.CreatedHeight, Due: o.Due.AsTime().UTC(),
		Status: layout.StatusName(o.Status), StatusAt: tp(o.StatusAt), StatusHeight: o.StatusHeight, StatusRecord: o.StatusRecord,
		OverdueAt: tp(o.OverdueAt)}
}

// eventText is an event's text line.
func eventText(ev *Event) string {
	return fmt.Sprintf("%s height %d %-13s %s\n", ev.BlockTime.UTC().Format(time.RFC3339), ev.Height, ev.Type, ev.Summary)
}

// caseHint says what a case step asks of member me, if anything.
func caseHint(s *pb.CaseStep, me string) string {
	switch {
	case s.Step == pb.CaseStepType_CASE_STEP_TYPE_REQUEST_CONSULTATION && s.Respondent == me:
		return ": you are called upon to reply and to consult (`normledger case reply`)"
	case s.Step == pb.CaseStepType_CASE_STEP_TYPE_MEDIATION_REQUEST && s.Mediator == me:
		return ": you are asked to mediate (`normledger case accept-mediation`)"
	case s.Step == pb.CaseStepType_CASE_STEP_TYPE_FACT_FINDING_REQUEST && slices.Contains(s.Verifiers, me):
		return ": you are asked to find the facts (file a finding that refers to this request)"
	}
	return ""
}

// disclosureHint says what a protective order or one of its steps asks of
// member me (docs/disclosure.md): an approved person confirms a delivery,
// the designating author delivers, publishes or answers a proven mismatch.
func disclosureHint(r *pb.StoredRecord, body *pb.Record, me string) string {
	if o := body.GetProtectiveOrder(); o != nil {
		if slices.Contains(ledger.ApprovedMembers(o), me) {
			return fmt.Sprintf("order %s by %s approves %s to see %s of record %s for %s until %s: the values will be delivered encrypted to its key (`normledger disclose status %s`)",
				r.Id, r.Author, me, strings.Join(o.Paths, ", "), o.SubjectId, o.PurposeRef, human.Time(o.ExpiresAt), r.Id)
		}
		return fmt.Sprintf("order %s by %s covers %s of %s's record %s: deliver them to %s (`normledger disclose deliver %s`)",
			r.Id, r.Author, strings.Join(o.Paths, ", "), me, o.SubjectId, strings.Join(ledger.ApprovedMembers(o), ", "), r.Id)
	}
	s := body.GetDisclosureStep()
	switch {
	case s.Step == pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_DELIVER:
		return fmt.Sprintf("delivery %s by %s under order %s is encrypted to %s: open and check it, then confirm (`normledger disclose confirm %s`)",
			r.Id, r.Author, s.SourceId, me, s.SourceId)
	case s.Step == pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_CONFIRM && len(s.FileKey) > 0:
		return fmt.Sprintf("%s proves that %s's delivery under order %s does not open the record's digests (the published file key discloses the values)",
			r.Author, me, s.SourceId)
	}
	return fmt.Sprintf("disclosure step %s (%s) by %s under %s names %s", r.Id, ledger.DisclosureStepName(s.Step), r.Author, s.SourceId, me)
}
