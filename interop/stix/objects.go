package stix

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Bundle is a STIX 2.1 bundle.
type Bundle struct {
	Type    string            `json:"type"`
	ID      string            `json:"id"`
	Objects []json.RawMessage `json:"objects"`
	// verbatim marks objects Marshal writes byte for byte (the official
	// TLP marking definitions, exactly as published).
	verbatim map[int]bool
	// makers names, for each object, the record that made it ("" for
	// the reference objects every export repeats).
	makers []string
}

// ExternalReference is a STIX external reference.
type ExternalReference struct {
	SourceName  string `json:"source_name"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
}

// Common holds the STIX common properties, in the order they are written.
type Common struct {
	Type               string              `json:"type"`
	SpecVersion        string              `json:"spec_version"`
	ID                 string              `json:"id"`
	CreatedByRef       string              `json:"created_by_ref,omitempty"`
	Created            string              `json:"created"`
	Modified           string              `json:"modified"`
	Revoked            bool                `json:"revoked,omitempty"`
	Labels             []string            `json:"labels,omitempty"`
	ExternalReferences []ExternalReference `json:"external_references,omitempty"`
	ObjectMarkingRefs  []string            `json:"object_marking_refs,omitempty"`
	Extensions         map[string]any      `json:"extensions,omitempty"`
}

// Identity is a STIX identity.
type Identity struct {
	Common
	Name               string   `json:"name"`
	Description        string   `json:"description,omitempty"`
	IdentityClass      string   `json:"identity_class,omitempty"`
	Sectors            []string `json:"sectors,omitempty"`
	ContactInformation string   `json:"contact_information,omitempty"`
}

// Incident is a STIX incident.
type Incident struct {
	Common
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// IncidentCore is the Incident Core extension of an incident, as Incident
// Core 2.1 defines it (the Incident Extension Suite, revision 07, in
// oasis-open/cti-stix-common-objects extension-definition-specifications/
// incident-ef7): determination from incident-determination-enum (blocked,
// confirmed, failed-attempt, false-positive, suspected), investigation
// status from incident-investigation-ov (new, open, closed). 2.1 dropped
// impacted_entity_counts from the incident (it stays on impacts, as a
// list of entity counts): it is not written.
type IncidentCore struct {
	ExtensionType       string   `json:"extension_type"`
	Determination       string   `json:"determination"`
	InvestigationStatus string   `json:"investigation_status"`
	Criticality         *int     `json:"criticality,omitempty"`
	ImpactRefs          []string `json:"impact_refs,omitempty"`
	Recoverability      string   `json:"recoverability,omitempty"`
}

// Impact is an impact object (the Impact extension's new SDO): its
// impact_category names the category without the "-ext" suffix, and the
// category's details ride in the extension of that name with the suffix
// (ExternalImpactCategory, ExternalImpactExtension).
type Impact struct {
	Common
	ImpactCategory string   `json:"impact_category"`
	Criticality    *int     `json:"criticality,omitempty"`
	Description    string   `json:"description,omitempty"`
	StartTime      string   `json:"start_time,omitempty"`
	EndTime        string   `json:"end_time,omitempty"`
	ImpactedRefs   []string `json:"impacted_refs,omitempty"`
}

// Note is a STIX note.
type Note struct {
	Common
	Abstract   string   `json:"abstract,omitempty"`
	Content    string   `json:"content"`
	ObjectRefs []string `json:"object_refs"`
}

// Opinion is a STIX opinion.
type Opinion struct {
	Common
	Explanation string   `json:"explanation,omitempty"`
	Opinion     string   `json:"opinion"`
	ObjectRefs  []string `json:"object_refs"`
}

// Report is a STIX report.
type ReportObject struct {
	Common
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	ReportTypes []string `json:"report_types,omitempty"`
	Published   string   `json:"published"`
	ObjectRefs  []string `json:"object_refs"`
}

// Grouping is a STIX grouping: a case and what it is about.
type Grouping struct {
	Common
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Context     string   `json:"context"`
	ObjectRefs  []string `json:"object_refs"`
}

// Relationship is a STIX relationship.
type Relationship struct {
	Common
	// Confidence is the STIX confidence (0-100) of the assertion.
	Confidence       *int   `json:"confidence,omitempty"`
	RelationshipType string `json:"relationship_type"`
	Description      string `json:"description,omitempty"`
	SourceRef        string `json:"source_ref"`
	TargetRef        string `json:"target_ref"`
}

// ThreatActor is a STIX threat actor: a party an attribution names.
type ThreatActor struct {
	Common
	Name             string   `json:"name"`
	Description      string   `json:"description,omitempty"`
	ThreatActorTypes []string `json:"threat_actor_types,omitempty"`
}

// RecordExt is the normledger record extension of an exported object.
type RecordExt struct {
	ExtensionType string `json:"extension_type"`
	ChainID       string `json:"chain_id,omitempty"`
	RecordID      string `json:"record_id"`
	Kind          string `json:"kind"`
	Author        string `json:"author"`
	Height        int64  `json:"height"`
	BlockTime     string `json:"block_time"`
	// Record is the record as signed, decoded (protobuf JSON, field names
	// as in the .proto files).
	Record json.RawMessage `json:"record"`
	// PledgeState is a pledge's state at the export's time.
	PledgeState string `json:"pledge_state,omitempty"`
	// RetractedBy is the retraction that withdrew the record, if any.
	RetractedBy string `json:"retracted_by,omitempty"`
	// Exercise says the record is exercise traffic (record.exercise, app
	// version 12), repeated here so a consumer need not decode the record.
	Exercise bool `json:"exercise,omitempty"`
}

// Marshal writes a bundle as indented JSON; the official TLP marking
// definitions appear exactly as in their published files.
func (b *Bundle) Marshal() ([]byte, error) {
	typ, err := json.Marshal(b.Type)
	if err != nil {
		return nil, err
	}
	id, err := json.Marshal(b.ID)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "{\n  \"type\": %s,\n  \"id\": %s,\n  \"objects\": [", typ, id)
	for i, o := range b.Objects {
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString("\n    ")
		if b.verbatim[i] {
			if !json.Valid(o) {
				return nil, fmt.Errorf("object %d is not JSON", i)
			}
			out.Write(o)
			continue
		}
		if err := json.Indent(&out, o, "    ", "  "); err != nil {
			return nil, fmt.Errorf("object %d: %w", i, err)
		}
	}
	out.WriteString("\n  ]\n}\n")
	return out.Bytes(), nil
}
