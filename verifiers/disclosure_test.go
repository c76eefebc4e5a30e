package verifiers_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/disclose"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/jsonapi"
)

// A disclosed field verifies against the digest in a proven record; a
// changed value, a wrong salt or a value moved to another field path is
// rejected, and so is a true value against a record whose proof fails.
func TestDisclosureProofs(t *testing.T) {
	st, file := filer(t)
	r := &pb.Record{Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: "INC-W7", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION, Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
		Sectors: []pb.Sector{pb.Sector_SECTOR_WATER}, AffectedStates: []string{"xaa"},
		DetectedAt: timestamppb.New(t0.Add(-2 * 3600e9)), AwareAt: timestamppb.New(t0.Add(-3600e9)), Severity: pb.Severity_SEVERITY_HIGH,
		Impacts: []string{"chlorination halted"}, Summary: "Ransomware at a water utility.", AffectedEntities: []string{"Northgrid Water Authority"}}}}
	red, bundle, err := disclose.Redact(r, []string{"affected_entities", "impacts"}, 2, pb.DesignationBasis_DESIGNATION_BASIS_COMMERCIAL, "Operator withheld.", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := file("xaa", red)
	v, err := st.At(0)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := v.Record(id)
	if err != nil {
		t.Fatal(err)
	}
	idKey, _ := layout.ID(id)
	answer := &pb.GetRecordResponse{Record: ledger.Readable(stored), Height: v.Version(),
		Proofs: []*pb.Proof{proofOf(t, v, idKey), proofOf(t, v, []byte(layout.KeyLog))}}
	index, hashes, err := v.Inclusion(stored.Seq)
	if err != nil {
		t.Fatal(err)
	}
	answer.Inclusion = &pb.LogInclusion{LogIndex: index, Hashes: hashes}
	root := v.RootHash()
	rec, _, err := verifiers.RecordWithLog(root, id, answer)
	if err != nil {
		t.Fatal(err)
	}
	got, closed, err := verifiers.Disclosures(rec, &pb.DisclosureBundle{RecordId: id, Disclosures: bundle.Disclosures[:1]})
	if err != nil || len(got) != 1 || got[0].Path != "affected_entities" || string(got[0].Value) != `"Northgrid Water Authority"` || len(closed) != 1 || closed[0] != "impacts" {
		t.Fatalf("disclosed %+v, closed %v, %v", got, closed, err)
	}
	first := bundle.Disclosures[0]
	changed := proto.Clone(first).(*pb.Disclosure)
	changed.Value, _ = ledger.Canonical(&pb.IncidentDisclosure{AffectedEntities: []string{"Southgrid Water Authority"}})
	wrongSalt := proto.Clone(first).(*pb.Disclosure)
	wrongSalt.Salt[3] ^= 0x80
	moved := proto.Clone(first).(*pb.Disclosure)
	moved.Path = "impacts"
	retagged := proto.Clone(first).(*pb.Disclosure)
	retagged.Path, retagged.Value = "impacts", mustCanonical(t, &pb.IncidentDisclosure{Impacts: []string{"Northgrid Water Authority"}})
	for name, d := range map[string]*pb.Disclosure{"a changed value": changed, "a wrong salt": wrongSalt,
		"a value moved to another path": moved, "a value moved to another field (path and tag)": retagged} {
		if _, _, err := verifiers.Disclosures(rec, &pb.DisclosureBundle{Disclosures: []*pb.Disclosure{d}}); err == nil {
			t.Errorf("%s verified", name)
		}
	}
	if _, _, err := verifiers.Disclosures(rec, &pb.DisclosureBundle{RecordId: strings.Repeat("0", 64), Disclosures: bundle.Disclosures}); err == nil {
		t.Error("disclosures for another record verified")
	}

	// The browser's entry point: verifyRecord with the viewer's disclosures.
	call := func(a *pb.GetRecordResponse, ds *pb.DisclosureBundle) map[string]any {
		aj, _ := protojson.Marshal(a)
		dj, _ := protojson.Marshal(ds)
		req, _ := json.Marshal(map[string]any{"appHash": hex.EncodeToString(root), "id": id, "answer": json.RawMessage(aj), "disclosures": json.RawMessage(dj)})
		var out map[string]any
		if err := json.Unmarshal([]byte(jsonapi.Call("verifyRecord", string(req))), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := call(answer, bundle); out["ok"] != true || len(out["disclosed"].([]any)) != 2 || out["withheld"] != nil {
		t.Fatalf("verifyRecord with disclosures: %v", out)
	}
	if out := call(answer, &pb.DisclosureBundle{Disclosures: []*pb.Disclosure{changed}}); out["ok"] != false {
		t.Fatalf("a changed value verified in the browser: %v", out)
	}
	// A record whose digests were swapped for the values' own digests
	// (a node serving another redaction) fails its proof first.
	lying := proto.Clone(answer).(*pb.GetRecordResponse)
	tx := new(pb.Tx)
	_ = proto.Unmarshal(lying.Record.Tx, tx)
	tx.Body.Record.Redaction.PublicSummary = "nothing withheld of note"
	lying.Record.Tx, _ = proto.Marshal(tx)
	if out := call(lying, bundle); out["ok"] != false {
		t.Fatalf("a tampered record verified with its disclosures: %v", out)
	}
}

func mustCanonical(t *testing.T, m proto.Message) []byte {
	t.Helper()
	bz, err := ledger.Canonical(m)
	if err != nil {
		t.Fatal(err)
	}
	return bz
}
