package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Exercise traffic and near-misses are marked in listings and records.
func TestExerciseAndNearMissMarks(t *testing.T) {
	rec := func(r *pb.Record) *pb.StoredRecord {
		r.SchemaVersion = 1
		raw, err := ledger.Canonical(&pb.Tx{Body: &pb.TxBody{ChainId: "c", Signer: "xbb", KeyId: "k", Sequence: 1, Record: r}, Signature: []byte{1}})
		if err != nil {
			t.Fatal(err)
		}
		return &pb.StoredRecord{Id: ledger.RecordID(raw), Seq: 1, Height: 2, BlockTime: ts(textT0), Kind: ledger.KindOf(r), Author: "xbb", Tx: raw}
	}
	drill := rec(&pb.Record{Exercise: true, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"xaa"}, Summary: "drill"}}})
	nm := rec(&pb.Record{Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: "X", Outcome: pb.IncidentOutcome_INCIDENT_OUTCOME_BLOCKED}}})
	out := render(t, func(w *bytes.Buffer) error {
		return textRecords(w, &pb.ListRecordsResponse{Height: 3, Records: []*pb.StoredRecord{drill, nm}})
	})
	if !strings.Contains(out, "notification EXERCISE") || !strings.Contains(out, "incident_disclosure NEAR-MISS") {
		t.Fatalf("listing:\n%s", out)
	}
	out = render(t, func(w *bytes.Buffer) error { return textRecord(w, &pb.GetRecordResponse{Height: 3, Record: nm}) })
	if !strings.Contains(out, "NEAR-MISS:") || !strings.Contains(out, "blocked") {
		t.Fatalf("record:\n%s", out)
	}
}

func TestQuoteControls(t *testing.T) {
	if got := quoteControls("ADOPTED\r\x1b[2Kfake\tline"); got != `ADOPTED\r\x1b[2Kfake\tline` {
		t.Fatalf("quoteControls: %q", got)
	}
}
