package ledger

import (
	"errors"
	"fmt"
)

// Codespace names the registry of result codes below in ABCI results.
const Codespace = "normledger"

// Code is a stable result code. Codes are only ever appended: never reorder,
// renumber or reuse one. Edges (ABCI, HTTP, CLI exit status) map from here.
type Code uint32

const (
	CodeOK                Code = 0
	CodeInternal          Code = 1  // a bug or storage failure, not the client's fault
	CodeTxDecode          Code = 2  // bytes are not a Tx
	CodeNonCanonical      Code = 3  // decodes, but is not the canonical encoding (trailing bytes, field order, unknown fields...)
	CodeTxTooLarge        Code = 4  // larger than params.max_tx_bytes
	CodeBadSignature      Code = 5  // signature or co-signature does not verify
	CodeWrongChainID      Code = 6  // body.chain_id is not this chain's
	CodeUnknownSigner     Code = 7  // signer is not a member
	CodeUnknownKey        Code = 8  // key_id is not one of the signer's keys
	CodeReplay            Code = 9  // sequence already used
	CodeSequenceGap       Code = 10 // sequence is ahead of the signer's next sequence
	CodeDuplicateRecord   Code = 11 // the author already filed a record with the same content
	CodeClassNotAllowed   Code = 12 // the signer's member class may not submit this kind
	CodeMissingField      Code = 13 // a required field is empty
	CodeBadEnum           Code = 14 // an enum is unspecified, undefined or repeated
	CodeBadTime           Code = 15 // a time is invalid, out of order, or too far beyond block time
	CodeFieldTooLong      Code = 16 // a string, bytes or list exceeds its limit
	CodeBadFormat         Code = 17 // a field has the wrong shape (id, country code, ...)
	CodeUnsupportedSchema Code = 18 // record schema_version is not supported
	CodeUnknownRecord     Code = 19 // a referenced record does not exist
	CodeWrongRecordKind   Code = 20 // a referenced record is of the wrong kind
	CodeNotAuthor         Code = 21 // only the original author may do this
	CodeNotRecipient      Code = 22 // only a recipient of the notification may do this
	CodeMemberInactive    Code = 23 // the member is suspended or removed
	CodeKeyInactive       Code = 24 // the key is revoked or outside its valid heights
	CodeCoSignature       Code = 25 // co-signatures missing, unexpected, duplicated or unsorted
	CodeRevealMismatch    Code = 26 // a reveal does not match the sealed commitment
	CodeUnknownMember     Code = 27 // a referenced member does not exist or has the wrong class
	CodeAssessorMismatch  Code = 28 // assessor_class does not match the author's member class
	CodeGenesis           Code = 29 // genesis app_state is invalid
	CodeEmptyBody         Code = 30 // the record has no body
	CodeSelfReference     Code = 31 // a record refers to its own author where it may not
	CodeRateLimited       Code = 32 // the API edge refused the request: too many from this client
	CodeNoRoute           Code = 33 // the API has no such endpoint or method
	CodeUnavailable       Code = 34 // the node cannot answer yet (no attested state, consensus unreachable)
	CodeHeightTooHigh     Code = 35 // the requested height is beyond the latest block
	CodeUnknownObligation Code = 36 // a waiver names an obligation that does not exist
	CodeNotCreditor       Code = 37 // only a creditor of the obligation may waive it
	CodeObligationClosed  Code = 38 // the obligation was already met or waived
	// Governance (docs/governance.md).
	CodeUnknownProposal       Code = 39 // a vote names a proposal that does not exist
	CodeNotElector            Code = 40 // the signer is not in the proposal's electorate
	CodeAlreadyVoted          Code = 41 // the elector already voted on the proposal (votes are final)
	CodeVotingEnded           Code = 42 // the proposal's deadline has passed
	CodeProposalClosed        Code = 43 // the proposal was aborted: voting on it is closed
	CodeNoGovernanceRole      Code = 44 // only members holding the governance role may propose
	CodeMemberExists          Code = 45 // a member with this id exists already
	CodeKeyExists             Code = 46 // the signing key is registered already (to any member)
	CodeDuplicateValidatorKey Code = 47 // the validator key is registered to another member already
	CodePowerCap              Code = 48 // the change would move more than 1/3 of the voting power in one block
	CodeLastValidator         Code = 49 // the change would remove the last validator
	CodeTooFewValidators      Code = 50 // the change would leave fewer than 2 validators
	CodeNotOwnKey             Code = 51 // a member may revoke only its own keys without a vote
	CodeNoElectorate          Code = 52 // nobody could vote on the proposal
	CodeWrongMemberStatus     Code = 53 // the member's status does not allow the action (reinstating an active member...)
	CodeBadGovernanceRules    Code = 54 // governance rules are incomplete or inconsistent
	CodeUnknownParameter      Code = 55 // a query parameter the route does not take (often a misspelling)
	CodeRequestTimeout        Code = 56 // the request (its headers or body) did not arrive in time
	CodeMethodNotAllowed      Code = 57 // the route exists but not for this HTTP method (see the Allow header)
	CodeBadUpgrade            Code = 58 // a software upgrade plan that cannot apply (height passed, version not newer, nothing to cancel)
	// App version 8: sealed records to recipients, receipts (docs/sealed.md).
	CodeSealHeader            Code = 59 // a sealed ciphertext is not an age v1 file (its header does not parse)
	CodeSealStanzaCount       Code = 60 // the age header does not hold exactly one recipient stanza per named recipient
	CodeSealStanzaType        Code = 61 // a recipient stanza is not an X25519 stanza
	CodeSealTooLarge          Code = 62 // the sealed ciphertext exceeds the size cap
	CodeNoEncryptionKey       Code = 63 // the recipient has no encryption key with the named key id
	CodeEncryptionKeyInactive Code = 64 // the named encryption key is revoked or rotated
	CodeBadFileKey            Code = 65 // a receipt's published file key does not open the sealed ciphertext
	CodeSealedBodyMatches     Code = 66 // a receipt claims a mismatch the published file key disproves
	CodeDeprecatedField       Code = 67 // the field is no longer accepted at the chain's app version (sealed.encrypted_copies from 8)
	CodeNotWaivable           Code = 68 // the obligation cannot be waived (a receipt: its creditor is the sealer a receipt may prove false)
	// App version 9: the contact directory and pledge terms enforced (docs/directory.md).
	CodeVerifierNotAccepted Code = 69 // the pledge names accepted verifiers and the signer is not one of them
	CodeNoDirectoryRole     Code = 70 // only members holding the directory role may ping more than one member at once
	CodeUnknownChannel      Code = 71 // the target's directory entry has no such contact point and channel (or no entry)
	CodeNonceMismatch       Code = 72 // a ping answer's nonce does not match the ping's commitment for the signer
	CodeContactSuperseded   Code = 73 // a contact update does not name the entry in force (another update came first)
	// App version 10: cases and measures (docs/cases.md).
	CodeUnknownCase                Code = 74 // a case step or measure names a case that does not exist
	CodeCaseClosed                 Code = 75 // the case was closed: no further steps or new measures
	CodeNotCaseParty               Code = 76 // the signer may not file this step (not a party, not the named mediator or respondent...)
	CodeWrongStage                 Code = 77 // the step does not fit the case's stage (a second reply, a report before acceptance...)
	CodeCoolingOff                 Code = 78 // an escalation step before the case's not_before, not urgent and the reply not missed
	CodeCountermeasurePrecondition Code = 79 // a countermeasure without an earlier call upon the state or an offer to negotiate
	CodeUnknownLadderLevel         Code = 80 // a measure's level is not on the escalation ladder in force
	// App version 11: selective disclosure and protective orders (docs/disclosure.md).
	CodeNotRedactable      Code = 81 // the field may not be withheld: it drives obligations, indexes or figures, is not a field of the body, or the kind withholds nothing
	CodeDigestMismatch     Code = 82 // a withheld field's digests do not fit it (a singular field with other than one digest, a value both withheld and present, a bad digest), or a published value does not open one
	CodeOrderNotEntitled   Code = 83 // the signer may not issue this protective order (not the designating author, no ruling of its own on the record, no passed authorize_order naming it)
	CodeUndertakingMissing Code = 84 // an approved person has no non-disclosure undertaking for the record and purpose
	CodeUnknownOrder       Code = 85 // a disclosure step names no protective order (or, to publish, no ruling on the author's record)
	CodeNotApproved        Code = 86 // the signer is not an approved person of the order, or a delivery's recipients are not exactly the approved persons
	// App version 12: evidence that carries its standard (docs/evidence.md).
	CodeExerciseNotAllowed    Code = 87 // the record's kind cannot be exercise traffic (only notices, answers, disclosures, assessments, findings, challenges, attributions, sealed records and receipts can)
	CodeAttributionNotAllowed Code = 88 // a legal or political attribution by a member that is not a state
	CodeNotAssessor           Code = 89 // a dissent by a member that is neither the author nor a co-assessor of the assessment (or twice by one)
	CodeDimensionNotInMethod  Code = 90 // a harm's dimension is not one the cited methodology assesses
	CodeNotIncidentParty      Code = 91 // a report request's recipient neither reported nor is affected by the incident it names
	CodeStandingChanged       Code = 92 // an amendment or reveal changes what decided the record's duties: its exercise flag, or a near-miss's outcome
	CodeTLPLoosened           Code = 93 // an amendment's new version names a looser TLP than the original (an unset TLP keeps the original's)
)

var codeNames = map[Code]string{
	CodeOK: "ok", CodeInternal: "internal", CodeTxDecode: "tx_decode", CodeNonCanonical: "non_canonical",
	CodeTxTooLarge: "tx_too_large", CodeBadSignature: "bad_signature", CodeWrongChainID: "wrong_chain_id",
	CodeUnknownSigner: "unknown_signer", CodeUnknownKey: "unknown_key", CodeReplay: "replay",
	CodeSequenceGap: "sequence_gap", CodeDuplicateRecord: "duplicate_record",
	CodeClassNotAllowed: "class_not_allowed", CodeMissingField: "missing_field", CodeBadEnum: "bad_enum",
	CodeBadTime: "bad_time", CodeFieldTooLong: "field_too_long", CodeBadFormat: "bad_format",
	CodeUnsupportedSchema: "unsupported_schema", CodeUnknownRecord: "unknown_record",
	CodeWrongRecordKind: "wrong_record_kind", CodeNotAuthor: "not_author", CodeNotRecipient: "not_recipient",
	CodeMemberInactive: "member_inactive", CodeKeyInactive: "key_inactive", CodeCoSignature: "co_signature",
	CodeRevealMismatch: "reveal_mismatch", CodeUnknownMember: "unknown_member",
	CodeAssessorMismatch: "assessor_mismatch", CodeGenesis: "genesis", CodeEmptyBody: "empty_body",
	CodeSelfReference: "self_reference", CodeRateLimited: "rate_limited", CodeNoRoute: "no_route",
	CodeUnavailable: "unavailable", CodeHeightTooHigh: "height_too_high",
	CodeUnknownObligation: "unknown_obligation", CodeNotCreditor: "not_creditor", CodeObligationClosed: "obligation_closed",
	CodeUnknownProposal: "unknown_proposal", CodeNotElector: "not_elector", CodeAlreadyVoted: "already_voted",
	CodeVotingEnded: "voting_ended", CodeProposalClosed: "proposal_closed", CodeNoGovernanceRole: "no_governance_role",
	CodeMemberExists: "member_exists", CodeKeyExists: "key_exists", CodeDuplicateValidatorKey: "duplicate_validator_key",
	CodePowerCap: "power_cap", CodeLastValidator: "last_validator", CodeTooFewValidators: "too_few_validators",
	CodeNotOwnKey: "not_own_key", CodeNoElectorate: "no_electorate", CodeWrongMemberStatus: "wrong_member_status",
	CodeBadGovernanceRules: "bad_governance_rules", CodeUnknownParameter: "unknown_parameter",
	CodeRequestTimeout: "request_timeout", CodeMethodNotAllowed: "method_not_allowed", CodeBadUpgrade: "bad_upgrade",
	CodeSealHeader: "seal_header", CodeSealStanzaCount: "seal_stanza_count", CodeSealStanzaType: "seal_stanza_type",
	CodeSealTooLarge: "seal_too_large", CodeNoEncryptionKey: "no_encryption_key",
	CodeEncryptionKeyInactive: "encryption_key_inactive", CodeBadFileKey: "bad_file_key",
	CodeSealedBodyMatches: "sealed_body_matches", CodeDeprecatedField: "deprecated_field", CodeNotWaivable: "not_waivable",
	CodeVerifierNotAccepted: "verifier_not_accepted", CodeNoDirectoryRole: "no_directory_role",
	CodeUnknownChannel: "unknown_channel", CodeNonceMismatch: "nonce_mismatch", CodeContactSuperseded: "contact_superseded",
	CodeUnknownCase: "unknown_case", CodeCaseClosed: "case_closed", CodeNotCaseParty: "not_case_party",
	CodeWrongStage: "wrong_stage", CodeCoolingOff: "cooling_off", CodeCountermeasurePrecondition: "countermeasure_precondition",
	CodeUnknownLadderLevel: "unknown_ladder_level",
	CodeNotRedactable:      "not_redactable", CodeDigestMismatch: "digest_mismatch", CodeOrderNotEntitled: "order_not_entitled",
	CodeUndertakingMissing: "undertaking_missing", CodeUnknownOrder: "unknown_order", CodeNotApproved: "not_approved",
	CodeExerciseNotAllowed: "exercise_not_allowed", CodeAttributionNotAllowed: "attribution_not_allowed",
	CodeNotAssessor: "not_assessor", CodeDimensionNotInMethod: "dimension_not_in_method", CodeNotIncidentParty: "not_incident_party",
	CodeStandingChanged: "standing_changed", CodeTLPLoosened: "tlp_loosened",
}

// String returns the code's stable name, e.g. "bad_signature".
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code_%d", uint32(c))
}

// Codes lists every defined code in numeric order.
func Codes() []Code {
	out := make([]Code, 0, len(codeNames))
	for c := Code(0); int(c) < len(codeNames); c++ {
		out = append(out, c)
	}
	return out
}

// Error is a rejection with a stable code and a message for humans.
type Error struct {
	Code Code
	Msg  string
	Err  error // optional cause
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &ledger.Error{Code: ledger.CodeReplay}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func errf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

func wrapf(c Code, err error, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the code carried by err: CodeOK for nil, CodeInternal for an
// error that is not a rejection.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var le *Error
	if errors.As(err, &le) {
		return le.Code
	}
	return CodeInternal
}

// IsRejection reports whether err is a rejection of the input (as opposed to
// an internal failure, which must never be turned into a result).
func IsRejection(err error) bool {
	var le *Error
	return errors.As(err, &le) && le.Code != CodeInternal
}
