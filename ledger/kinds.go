package ledger

import (
	"fmt"
	"slices"
	"sort"

	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Kind describes one record kind: who may submit it, how its body is checked
// alone (Validate) and against state (Admit). Each kind lives in the explicit
// Registry built by NewRegistry; there is no init-time registration.
type Kind struct {
	Enum pb.RecordKind
	// Name is the stable lower_snake name used in index keys, APIs and the CLI.
	Name string
	// Classes may submit this kind.
	Classes []pb.MemberClass
	// ClassesV9 may also submit it from app version 9 (neutral bodies
	// notify requests; observers answer what is addressed to them).
	ClassesV9 []pb.MemberClass
	// Sealable says whether the body may be committed to in a Sealed record.
	Sealable bool
	// Amendable says whether an Amendment may supersede a record of this kind.
	Amendable bool
	// Validate checks the body without state.
	Validate func(v *validator, r *pb.Record) error
	// Admit checks the body against state and adds index terms.
	Admit func(a *admission, r *pb.Record) error
}

func (k *Kind) allows(c pb.MemberClass) bool { return slices.Contains(k.Classes, c) }

// Registry is the fixed set of record kinds a ledger accepts.
type Registry struct {
	byEnum map[pb.RecordKind]*Kind
	byName map[string]*Kind
	order  []*Kind
	sigs   *SigCache // optional
}

// WithSigCache makes Apply remember signatures it verified (see SigCache).
func (r *Registry) WithSigCache(c *SigCache) *Registry {
	cp := *r
	cp.sigs = c
	return &cp
}

// NewRegistry builds a registry, rejecting duplicate enums or names and
// kinds without validators.
func NewRegistry(kinds ...Kind) (*Registry, error) {
	r := &Registry{byEnum: map[pb.RecordKind]*Kind{}, byName: map[string]*Kind{}}
	for i := range kinds {
		k := &kinds[i]
		if k.Enum == pb.RecordKind_RECORD_KIND_UNSPECIFIED || k.Name == "" || k.Validate == nil || k.Admit == nil {
			return nil, fmt.Errorf("kind %d (%q) is incomplete", k.Enum, k.Name)
		}
		if _, dup := r.byEnum[k.Enum]; dup {
			return nil, fmt.Errorf("kind %v registered twice", k.Enum)
		}
		if _, dup := r.byName[k.Name]; dup {
			return nil, fmt.Errorf("kind name %q registered twice", k.Name)
		}
		r.byEnum[k.Enum] = k
		r.byName[k.Name] = k
		r.order = append(r.order, k)
	}
	sort.Slice(r.order, func(i, j int) bool { return r.order[i].Enum < r.order[j].Enum })
	return r, nil
}

// Kind returns the kind for e, or nil.
func (r *Registry) Kind(e pb.RecordKind) *Kind { return r.byEnum[e] }

// KindByName returns the kind named n ("pledge", "incident_disclosure"...), or nil.
func (r *Registry) KindByName(n string) *Kind { return r.byName[n] }

// Kinds lists the registered kinds in enum order.
func (r *Registry) Kinds() []*Kind { return slices.Clone(r.order) }

// KindOf returns the kind enum of a record's body (UNSPECIFIED if it has none).
func KindOf(r *pb.Record) pb.RecordKind {
	switch r.GetBody().(type) {
	case *pb.Record_Pledge:
		return pb.RecordKind_RECORD_KIND_PLEDGE
	case *pb.Record_Notification:
		return pb.RecordKind_RECORD_KIND_NOTIFICATION
	case *pb.Record_Acknowledgement:
		return pb.RecordKind_RECORD_KIND_ACKNOWLEDGEMENT
	case *pb.Record_Response:
		return pb.RecordKind_RECORD_KIND_RESPONSE
	case *pb.Record_IncidentDisclosure:
		return pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE
	case *pb.Record_HarmAssessment:
		return pb.RecordKind_RECORD_KIND_HARM_ASSESSMENT
	case *pb.Record_Finding:
		return pb.RecordKind_RECORD_KIND_FINDING
	case *pb.Record_Challenge:
		return pb.RecordKind_RECORD_KIND_CHALLENGE
	case *pb.Record_Amendment:
		return pb.RecordKind_RECORD_KIND_AMENDMENT
	case *pb.Record_Retraction:
		return pb.RecordKind_RECORD_KIND_RETRACTION
	case *pb.Record_Reveal:
		return pb.RecordKind_RECORD_KIND_REVEAL
	case *pb.Record_Sealed:
		return pb.RecordKind_RECORD_KIND_SEALED
	case *pb.Record_Waiver:
		return pb.RecordKind_RECORD_KIND_WAIVER
	case *pb.Record_Proposal:
		return pb.RecordKind_RECORD_KIND_PROPOSAL
	case *pb.Record_Vote:
		return pb.RecordKind_RECORD_KIND_VOTE
	case *pb.Record_KeyRevocation:
		return pb.RecordKind_RECORD_KIND_KEY_REVOCATION
	case *pb.Record_Receipt:
		return pb.RecordKind_RECORD_KIND_RECEIPT
	case *pb.Record_ContactUpdate:
		return pb.RecordKind_RECORD_KIND_CONTACT_UPDATE
	case *pb.Record_Ping:
		return pb.RecordKind_RECORD_KIND_PING
	case *pb.Record_PingAnswer:
		return pb.RecordKind_RECORD_KIND_PING_ANSWER
	case *pb.Record_DeliveryFailure:
		return pb.RecordKind_RECORD_KIND_DELIVERY_FAILURE
	case *pb.Record_CaseStep:
		return pb.RecordKind_RECORD_KIND_CASE_STEP
	case *pb.Record_Measure:
		return pb.RecordKind_RECORD_KIND_MEASURE
	case *pb.Record_Undertaking:
		return pb.RecordKind_RECORD_KIND_UNDERTAKING
	case *pb.Record_ProtectiveOrder:
		return pb.RecordKind_RECORD_KIND_PROTECTIVE_ORDER
	case *pb.Record_DisclosureStep:
		return pb.RecordKind_RECORD_KIND_DISCLOSURE_STEP
	case *pb.Record_Methodology:
		return pb.RecordKind_RECORD_KIND_METHODOLOGY
	case *pb.Record_Attribution:
		return pb.RecordKind_RECORD_KIND_ATTRIBUTION
	case *pb.Record_Declaration:
		return pb.RecordKind_RECORD_KIND_DECLARATION
	}
	return pb.RecordKind_RECORD_KIND_UNSPECIFIED
}

var (
	classState    = pb.MemberClass_MEMBER_CLASS_STATE
	classNeutral  = pb.MemberClass_MEMBER_CLASS_NEUTRAL_BODY
	classVerifier = pb.MemberClass_MEMBER_CLASS_VERIFIER
	classObserver = pb.MemberClass_MEMBER_CLASS_OBSERVER
	allWriters    = []pb.MemberClass{classState, classNeutral, classVerifier}
	// Governance records: role and electorate decide, not the class.
	allClasses = []pb.MemberClass{classState, classNeutral, classVerifier, classObserver}
)

// DefaultRegistry returns the record kinds of schema version 1.
func DefaultRegistry() *Registry {
	r, err := NewRegistry(
		Kind{Enum: pb.RecordKind_RECORD_KIND_PLEDGE, Name: "pledge", Classes: []pb.MemberClass{classState},
			Amendable: true, Validate: validatePledge, Admit: admitPledge},
		Kind{Enum: pb.RecordKind_RECORD_KIND_NOTIFICATION, Name: "notification", Classes: []pb.MemberClass{classState},
			ClassesV9: []pb.MemberClass{classNeutral}, Sealable: true, Amendable: true, Validate: validateNotification, Admit: admitNotification},
		Kind{Enum: pb.RecordKind_RECORD_KIND_ACKNOWLEDGEMENT, Name: "acknowledgement", Classes: allWriters,
			ClassesV9: []pb.MemberClass{classObserver}, Sealable: true, Validate: validateAcknowledgement, Admit: admitAcknowledgement},
		Kind{Enum: pb.RecordKind_RECORD_KIND_RESPONSE, Name: "response", Classes: allWriters,
			ClassesV9: []pb.MemberClass{classObserver}, Sealable: true, Amendable: true, Validate: validateResponse, Admit: admitResponse},
		Kind{Enum: pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE, Name: "incident_disclosure",
			Classes: []pb.MemberClass{classState, classNeutral}, Sealable: true, Amendable: true,
			Validate: validateDisclosure, Admit: admitDisclosure},
		Kind{Enum: pb.RecordKind_RECORD_KIND_HARM_ASSESSMENT, Name: "harm_assessment", Classes: allWriters,
			Sealable: true, Amendable: true, Validate: validateAssessment, Admit: admitAssessment},
		Kind{Enum: pb.RecordKind_RECORD_KIND_FINDING, Name: "finding", Classes: []pb.MemberClass{classVerifier},
			Sealable: true, Amendable: true, Validate: validateFinding, Admit: admitFinding},
		Kind{Enum: pb.RecordKind_RECORD_KIND_CHALLENGE, Name: "challenge", Classes: allWriters,
			Sealable: true, Validate: validateChallenge, Admit: admitChallenge},
		Kind{Enum: pb.RecordKind_RECORD_KIND_AMENDMENT, Name: "amendment", Classes: allWriters,
			Validate: validateAmendment, Admit: admitAmendment},
		Kind{Enum: pb.RecordKind_RECORD_KIND_RETRACTION, Name: "retraction", Classes: allWriters,
			Validate: validateRetraction, Admit: admitRetraction},
		Kind{Enum: pb.RecordKind_RECORD_KIND_REVEAL, Name: "reveal", Classes: allWriters,
			Validate: validateReveal, Admit: admitReveal},
		Kind{Enum: pb.RecordKind_RECORD_KIND_SEALED, Name: "sealed", Classes: allWriters,
			Validate: validateSealed, Admit: admitSealed},
		Kind{Enum: pb.RecordKind_RECORD_KIND_WAIVER, Name: "waiver", Classes: allWriters,
			Validate: validateWaiver, Admit: admitWaiver},
		Kind{Enum: pb.RecordKind_RECORD_KIND_PROPOSAL, Name: "proposal", Classes: allClasses,
			Validate: validateProposal, Admit: admitProposal},
		Kind{Enum: pb.RecordKind_RECORD_KIND_VOTE, Name: "vote", Classes: allClasses,
			Validate: validateVote, Admit: admitVote},
		Kind{Enum: pb.RecordKind_RECORD_KIND_KEY_REVOCATION, Name: "key_revocation", Classes: allClasses,
			Validate: validateKeyRevocation, Admit: admitKeyRevocation},
		// Whoever a sealed record names as a recipient answers it.
		Kind{Enum: pb.RecordKind_RECORD_KIND_RECEIPT, Name: "receipt", Classes: allClasses,
			Validate: validateReceipt, Admit: admitReceipt},
		// The contact directory (app version 9): every member keeps its own
		// entry and answers pings; any writer pings.
		Kind{Enum: pb.RecordKind_RECORD_KIND_CONTACT_UPDATE, Name: "contact_update", Classes: allClasses,
			Validate: validateContactUpdate, Admit: admitContactUpdate},
		Kind{Enum: pb.RecordKind_RECORD_KIND_PING, Name: "ping", Classes: allWriters,
			Validate: validatePing, Admit: admitPing},
		Kind{Enum: pb.RecordKind_RECORD_KIND_PING_ANSWER, Name: "ping_answer", Classes: allClasses,
			Validate: validatePingAnswer, Admit: admitPingAnswer},
		Kind{Enum: pb.RecordKind_RECORD_KIND_DELIVERY_FAILURE, Name: "delivery_failure", Classes: allWriters,
			Validate: validateDeliveryFailure, Admit: admitDeliveryFailure},
		// Cases (app version 10): states open cases and take measures;
		// neutral bodies mediate; verifiers find facts. Admission decides
		// who may file which step of which case.
		Kind{Enum: pb.RecordKind_RECORD_KIND_CASE_STEP, Name: "case_step", Classes: allWriters,
			Validate: validateCaseStep, Admit: admitCaseStep},
		Kind{Enum: pb.RecordKind_RECORD_KIND_MEASURE, Name: "measure", Classes: []pb.MemberClass{classState},
			Validate: validateMeasure, Admit: admitMeasure},
		// Selective disclosure (app version 11): any member may be an
		// approved person (undertake, confirm, return); writers issue
		// orders; admission decides who may file which step.
		Kind{Enum: pb.RecordKind_RECORD_KIND_UNDERTAKING, Name: "undertaking", Classes: allClasses,
			Validate: validateUndertaking, Admit: admitUndertaking},
		Kind{Enum: pb.RecordKind_RECORD_KIND_PROTECTIVE_ORDER, Name: "protective_order", Classes: allWriters,
			Validate: validateOrder, Admit: admitOrder},
		Kind{Enum: pb.RecordKind_RECORD_KIND_DISCLOSURE_STEP, Name: "disclosure_step", Classes: allClasses,
			Validate: validateDisclosureStep, Admit: admitDisclosureStep},
		// Evidence that carries its standard (app version 12): any writer
		// publishes a method; states and neutral bodies attribute (only
		// states legally or politically), verifiers attribute technically;
		// states declare.
		Kind{Enum: pb.RecordKind_RECORD_KIND_METHODOLOGY, Name: "methodology", Classes: allWriters,
			Amendable: true, Validate: validateMethodologyRecord, Admit: admitMethodologyRecord},
		Kind{Enum: pb.RecordKind_RECORD_KIND_ATTRIBUTION, Name: "attribution", Classes: allWriters,
			Sealable: true, Amendable: true, Validate: validateAttribution, Admit: admitAttribution},
		Kind{Enum: pb.RecordKind_RECORD_KIND_DECLARATION, Name: "declaration", Classes: []pb.MemberClass{classState},
			Amendable: true, Validate: validateDeclaration, Admit: admitDeclaration},
	)
	if err != nil {
		panic(err) // a broken built-in table is a programming error
	}
	return r
}

// KindNameOf returns the stable name of a record kind ("pledge", ...), or
// "unspecified". It does not depend on a registry.
func KindNameOf(k pb.RecordKind) string {
	return enum.Name(k)
}
