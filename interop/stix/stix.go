// Package stix converts ledger records to and from STIX 2.1 (OASIS CTI),
// the exchange format of national CSIRTs, MISP and OpenCTI.
//
// Export maps incident disclosures to incident objects with the Incident
// Core extension (and impact objects; a near-miss's outcome as the
// determination blocked or failed-attempt), harm assessments and findings
// to notes, challenges to opinions, pledges to reports, attributions to
// threat actors and attributed-to relationships from the attributed
// incidents (attribution.go), members to identities, record references to
// relationships, exercise traffic to the label "exercise" and TLP markings
// to the official TLP 2.0 marking definitions (copied verbatim, tlp/). Everything a
// record says that STIX has no property for travels in the normledger
// record extension (extension.json, its JSON schema in schema.json): the
// record exactly as signed, decoded, so an export can be imported again
// without loss. Object ids are UUIDv5 of the record id (or member id), so
// exports are stable and objects can be referred to across exports. An
// amendment of a record exported as one object is a new STIX version of
// that object (same id, later modified: versions.go); an import reads
// each version's record.
//
// The package is pure: no I/O, no clock. The caller passes the records and
// members (read from a node, with proofs where it wants them).
package stix

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// SpecVersion is the STIX version written and accepted.
const SpecVersion = "2.1"

// Extension ids of the extensions used.
const (
	IncidentCoreExtension = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
	ImpactExtension       = "extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9"
	TLPExtension          = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
)

// The category of the impacts exported and the Impact extension's
// sub-extension that carries it: Incident Core 2.1 (revision 07 of the
// Incident Extension Suite) names an impact's category without the
// "-ext" suffix and its details in the extension of the same name with
// the suffix. The drafts before 2.0 named the extension without the
// suffix ("external"); ImpactCategory reads every form.
const (
	ExternalImpactCategory  = "external"
	ExternalImpactExtension = "external-ext"
)

// Namespace is the UUIDv5 namespace of every id normledger derives (not the
// STIX namespace reserved for cyber observables).
var Namespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/normledger/normledger/stix"))

// ID is the deterministic STIX id of an object of type typ named name.
func ID(typ, name string) string {
	return typ + "--" + uuid.NewSHA1(Namespace, []byte(typ+"\x00"+name)).String()
}

// RecordExtension is the id of the normledger record extension definition.
var RecordExtension = ID("extension-definition", "normledger-record/v1")

// LedgerIdentity is the id of the identity that defines the extension.
var LedgerIdentity = ID("identity", "normledger")

// MemberIdentity is the identity id of a ledger member.
func MemberIdentity(member string) string { return ID("identity", "member/"+member) }

//go:embed extension.json
var extensionDefinition []byte

//go:embed schema.json
var extensionSchema []byte

// ExtensionSchema is the JSON schema of the normledger record extension.
func ExtensionSchema() []byte { return append([]byte(nil), extensionSchema...) }

//go:embed tlp/clear.json
var tlpClear []byte

//go:embed tlp/green.json
var tlpGreen []byte

//go:embed tlp/amber.json
var tlpAmber []byte

//go:embed tlp/amber-strict.json
var tlpAmberStrict []byte

//go:embed tlp/red.json
var tlpRed []byte

// tlpMarking is one official TLP 2.0 marking definition.
type tlpMarking struct {
	tlp  pb.Tlp
	file []byte // the official file (a bundle holding the definition)
	id   string
	misp string // the MISP taxonomy tag
}

var tlpMarkings = []tlpMarking{
	{pb.Tlp_TLP_CLEAR, tlpClear, "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "tlp:clear"},
	{pb.Tlp_TLP_GREEN, tlpGreen, "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "tlp:green"},
	{pb.Tlp_TLP_AMBER, tlpAmber, "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "tlp:amber"},
	{pb.Tlp_TLP_AMBER_STRICT, tlpAmberStrict, "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "tlp:amber+strict"},
	{pb.Tlp_TLP_RED, tlpRed, "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "tlp:red"},
}

func markingOf(t pb.Tlp) *tlpMarking {
	for i := range tlpMarkings {
		if tlpMarkings[i].tlp == t {
			return &tlpMarkings[i]
		}
	}
	return nil
}

// OfficialMarking returns the marking-definition object of a TLP level as
// it appears in the official file (the bytes inside its bundle).
func OfficialMarking(t pb.Tlp) (json.RawMessage, error) {
	m := markingOf(t)
	if m == nil {
		return nil, fmt.Errorf("no TLP 2.0 marking for %v", t)
	}
	var b struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(m.file, &b); err != nil || len(b.Objects) != 1 {
		return nil, fmt.Errorf("official TLP file for %v: %v", t, err)
	}
	return b.Objects[0], nil
}

// Timestamp formats t as STIX wants: UTC, millisecond precision, Z.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// CaseGroupingID is the STIX id of the grouping a case is exported as
// (beside the note of its request record).
func CaseGroupingID(caseID string) string { return ID("grouping", caseID) }

// RecordObjectID is the STIX id of the object a record is exported as; ""
// for kinds not exported, and for attributions, which are exported as
// several objects (AttributionThreatActorID, AttributionRelationshipID).
// The amendments of a record are versions of its object: recordID is the
// original's.
func RecordObjectID(kind pb.RecordKind, recordID string) string {
	switch kind {
	case pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE:
		return ID("incident", recordID)
	case pb.RecordKind_RECORD_KIND_HARM_ASSESSMENT, pb.RecordKind_RECORD_KIND_FINDING,
		pb.RecordKind_RECORD_KIND_CASE_STEP, pb.RecordKind_RECORD_KIND_MEASURE:
		return ID("note", recordID)
	case pb.RecordKind_RECORD_KIND_CHALLENGE:
		return ID("opinion", recordID)
	case pb.RecordKind_RECORD_KIND_PLEDGE:
		return ID("report", recordID)
	}
	return ""
}
