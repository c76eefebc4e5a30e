package testnet

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/disclose"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The seed's selective disclosure (docs/disclosure.md): the victim
// discloses a water-utility incident withholding the operator's name and
// the impacts (RedactedStep); two states undertake non-disclosure for the
// case; order A grants them the name, is delivered and confirmed by both,
// and publishes on expiry (OrderStep, PublishStep); order B grants them the
// same and only the first confirms, so the second's confirmation falls
// overdue OrderConfirmWithin after the delivery (OrderLateStep).
const (
	RedactedStep  = "redacted_incident"
	OrderStep     = "protective_order"
	OrderLateStep = "protective_order_late"
	PublishStep   = "publish_on_expiry"
)

// OrderExpiresIn is how long after it is issued the seed's order A expires
// (then its author publishes); OrderConfirmWithin is the confirmation
// window of both orders (testnet figures: the chain's defaults are days).
const (
	OrderExpiresIn     = 12 * time.Second
	OrderConfirmWithin = 10 * time.Second
)

// OperatorName is the name the seed's incident withholds.
const OperatorName = "Northgrid Water Authority"

// redactedIncident is the victim's incident withholding the operator's name
// and the impacts, and the disclosures that open them.
func redactedIncident(victim string, ts func(time.Duration) *timestamppb.Timestamp) (*pb.Record, *pb.DisclosureBundle, error) {
	r := &pb.Record{SchemaVersion: ledger.CurrentSchemaVersion, Tlp: pb.Tlp_TLP_AMBER, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: "WATER-2026-031", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION,
		Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM, Sectors: []pb.Sector{pb.Sector_SECTOR_WATER},
		AffectedStates: []string{victim}, DetectedAt: ts(-6 * time.Hour), AwareAt: ts(-5 * time.Hour), Severity: pb.Severity_SEVERITY_MEDIUM,
		Impacts:          []string{"Chlorination dosing halted for six hours at the Eastbank treatment works", "Telemetry lost at three pumping stations"},
		Summary:          "Intrusion into a regional water utility's control network; no unsafe water reached consumers.",
		AffectedEntities: []string{OperatorName},
	}}}
	return disclose.Redact(r, []string{"affected_entities", "impacts"}, 2, pb.DesignationBasis_DESIGNATION_BASIS_COMMERCIAL,
		"The operator's name and the operational impacts are withheld at the operator's request; approved counsel may see them under a protective order.", rand.Reader)
}

// seedOrders files the disclosure part of the seed up to the deliveries
// and confirmations; the publication after expiry is seedPublish.
func seedOrders(ctx context.Context, c *client.Client, nw *Network, file func(name, author string, co []string, rec *pb.Record) error,
	ids map[string]string, victim string, approved []string, purpose string) (*pb.DisclosureBundle, error) {
	now := time.Now().UTC().Truncate(time.Second)
	ts := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(d)) }
	rec, bundle, err := redactedIncident(victim, ts)
	if err != nil {
		return nil, err
	}
	if err := file(RedactedStep, victim, nil, rec); err != nil {
		return nil, err
	}
	bundle.RecordId = ids[RedactedStep]
	// The author keeps its disclosures where 'disclose deliver' and
	// 'disclose publish' look for them: <home>/disclosures/<record id>.json.
	if home, ok := nw.MemberHomes[victim]; ok {
		if err := client.WriteDisclosures(filepath.Join(home, "disclosures", bundle.RecordId+".json"), bundle); err != nil {
			return nil, err
		}
	}
	var approvals []*pb.Approval
	for _, m := range approved {
		if err := file("undertaking_"+m, m, nil, &pb.Record{Body: &pb.Record_Undertaking{Undertaking: &pb.Undertaking{
			SubjectId: bundle.RecordId, PurposeRef: purpose,
			Terms: "Counsel will use the operator's name only for the case consultations, disclose it to no one, and return or destroy it when the order ends."}}}); err != nil {
			return nil, err
		}
		approvals = append(approvals, &pb.Approval{Member: m, UndertakingId: ids["undertaking_"+m]})
	}
	client.SortApprovals(approvals)
	order := func(name string, expires time.Duration, onExpiry pb.OrderExpiry) error {
		return file(name, victim, nil, &pb.Record{Body: &pb.Record_ProtectiveOrder{ProtectiveOrder: &pb.ProtectiveOrder{
			SubjectId: bundle.RecordId, Paths: []string{"affected_entities"}, Approved: approvals, PurposeRef: purpose,
			ExpiresAt: timestamppb.New(time.Now().UTC().Truncate(time.Second).Add(expires)), OnExpiry: onExpiry,
			Windows:   &pb.DisclosureWindows{DeliverSeconds: 60, ConfirmSeconds: uint32(OrderConfirmWithin / time.Second), PublishSeconds: 60},
			Statement: "Counsel of the states concerned see the operator's name for the consultations.",
		}}})
	}
	deliver := func(orderName string) error {
		ms, err := c.Members(ctx)
		if err != nil {
			return err
		}
		keys, err := client.RecipientKeys(ms, ledger.ApprovedMembers(&pb.ProtectiveOrder{Approved: approvals}))
		if err != nil {
			return err
		}
		step, err := client.Deliver(ids[orderName], bundle.RecordId, &pb.ProtectiveOrder{Paths: []string{"affected_entities"}}, bundle, keys)
		if err != nil {
			return err
		}
		return file("deliver_"+orderName, victim, nil, &pb.Record{Body: &pb.Record_DisclosureStep{DisclosureStep: step}})
	}
	confirm := func(orderName, m string) error {
		rec, err := confirmation(ctx, c, nw, m, ids[orderName], ids["deliver_"+orderName])
		if err != nil {
			return err
		}
		return file("confirm_"+orderName+"_"+m, m, nil, rec)
	}
	// Order A: delivered, both confirm; it publishes on expiry.
	if err := order(OrderStep, OrderExpiresIn, pb.OrderExpiry_ORDER_EXPIRY_PUBLISH); err != nil {
		return nil, err
	}
	if err := deliver(OrderStep); err != nil {
		return nil, err
	}
	for _, m := range approved {
		if err := confirm(OrderStep, m); err != nil {
			return nil, err
		}
	}
	// Order B: the same persons, returned on expiry; only the first
	// confirms.
	if err := order(OrderLateStep, 24*time.Hour, pb.OrderExpiry_ORDER_EXPIRY_RETURN); err != nil {
		return nil, err
	}
	if err := deliver(OrderLateStep); err != nil {
		return nil, err
	}
	return bundle, confirm(OrderLateStep, approved[0])
}

// confirmation is member's confirmation of a delivery made under order: it
// decrypts the delivery with its own identity and checks each value
// against the redacted record's digests, as 'disclose confirm' does.
func confirmation(ctx context.Context, c *client.Client, nw *Network, member, order, delivery string) (*pb.Record, error) {
	otx, err := attestedTx(ctx, c, order)
	if err != nil {
		return nil, err
	}
	o := otx.GetBody().GetRecord().GetProtectiveOrder()
	stx, err := attestedTx(ctx, c, o.GetSubjectId())
	if err != nil {
		return nil, err
	}
	dtx, err := attestedTx(ctx, c, delivery)
	if err != nil {
		return nil, err
	}
	ident, err := nw.Identity(member)
	if err != nil {
		return nil, err
	}
	op, err := client.OpenDelivery(dtx.GetBody().GetRecord().GetDisclosureStep(), ledger.RedactedRecord(stx), o, ident)
	if err != nil {
		return nil, err
	}
	if op.Mismatch != "" {
		return nil, fmt.Errorf("the seed's own delivery %s does not match: %s", delivery, op.Mismatch)
	}
	return &pb.Record{Body: &pb.Record_DisclosureStep{DisclosureStep: &pb.DisclosureStep{
		Step: pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_CONFIRM, SourceId: order, Matches: true,
		Statement: "Decrypted; every value opens its digest in the record."}}}, nil
}

// attestedTx reads record id once attested state holds it (a block after
// its own).
func attestedTx(ctx context.Context, c *client.Client, id string) (*pb.Tx, error) {
	for wait := 0; ; wait++ {
		r, err := c.Record(ctx, id)
		if err == nil {
			return ledger.DecodeTx(r.Tx, 0)
		}
		if wait == 100 {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// seedPublish waits for order A to expire and publishes the operator's name.
func seedPublish(ctx context.Context, c *client.Client, file func(name, author string, co []string, rec *pb.Record) error,
	ids map[string]string, victim string, bundle *pb.DisclosureBundle) error {
	otx, err := attestedTx(ctx, c, ids[OrderStep])
	if err != nil {
		return err
	}
	expires := otx.GetBody().GetRecord().GetProtectiveOrder().GetExpiresAt().AsTime()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(expires)):
	}
	b, err := client.OrderBundle(bundle.RecordId, &pb.ProtectiveOrder{Paths: []string{"affected_entities"}}, bundle)
	if err != nil {
		return err
	}
	return file(PublishStep, victim, nil, &pb.Record{Body: &pb.Record_DisclosureStep{DisclosureStep: &pb.DisclosureStep{
		Step: pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_PUBLISH, SourceId: ids[OrderStep], Disclosures: b.Disclosures,
		Statement: "The order expired: the operator's name is published as the order requires."}}})
}
