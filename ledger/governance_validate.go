package ledger

import (
	"bytes"
	"slices"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Validation of the governance records (proposal, vote, key_revocation):
// the body alone, against block time.

func validateProposal(v *validator, r *pb.Record) error {
	p := r.GetProposal()
	if err := reqText("proposal.title", p.Title, MaxTitleLen); err != nil {
		return err
	}
	if err := reqText("proposal.rationale", p.Rationale, MaxTextLen); err != nil {
		return err
	}
	if err := v.future("proposal.deadline", p.Deadline, true); err != nil {
		return err
	}
	if p.Action == nil || ActionOf(p.Action) == pb.GovAction_GOV_ACTION_UNSPECIFIED {
		return errf(CodeMissingField, "proposal.action is required")
	}
	return validateAction(v, p.Action)
}

func validateAction(v *validator, act *pb.GovernanceAction) error {
	switch a := act.Action.(type) {
	case *pb.GovernanceAction_AddMember:
		m := a.AddMember
		if !isMemberID(m.Id) {
			return errf(CodeBadFormat, "proposal.action.add_member.id %q is not a member id", m.Id)
		}
		if err := enumReq("proposal.action.add_member.class", m.Class); err != nil {
			return err
		}
		if err := reqText("proposal.action.add_member.name", m.Name, MaxTitleLen); err != nil {
			return err
		}
		if m.Class == pb.MemberClass_MEMBER_CLASS_STATE && !isCountryCode(m.CountryCode) {
			return errf(CodeBadFormat, "proposal.action.add_member.country_code: a state needs an ISO 3166-1 alpha-3 code")
		}
		if m.CountryCode != "" && !isCountryCode(m.CountryCode) {
			return errf(CodeBadFormat, "proposal.action.add_member.country_code %q is not an ISO 3166-1 alpha-3 code", m.CountryCode)
		}
		if len(m.PubKeys) == 0 {
			return errf(CodeMissingField, "proposal.action.add_member.pub_keys is required")
		}
		if err := checkListLen("proposal.action.add_member.pub_keys", len(m.PubKeys), 8); err != nil {
			return err
		}
		for i, k := range m.PubKeys {
			if err := validatorKey("proposal.action.add_member.pub_keys", k); err != nil {
				return err
			}
			if slices.ContainsFunc(m.PubKeys[:i], func(prev []byte) bool { return bytes.Equal(prev, k) }) {
				return errf(CodeBadFormat, "proposal.action.add_member.pub_keys lists a key twice")
			}
		}
		if err := pointOfContact("proposal.action.add_member.point_of_contact", m.PointOfContact); err != nil {
			return err
		}
		if err := roles("proposal.action.add_member.roles", m.Roles); err != nil {
			return err
		}
		return validatorFields("proposal.action.add_member", m.ValidatorPubKey, m.ValidatorPower, true)
	case *pb.GovernanceAction_SuspendMember:
		return memberRef("proposal.action.suspend_member.member", a.SuspendMember.GetMember())
	case *pb.GovernanceAction_ReinstateMember:
		return memberRef("proposal.action.reinstate_member.member", a.ReinstateMember.GetMember())
	case *pb.GovernanceAction_RemoveMember:
		return memberRef("proposal.action.remove_member.member", a.RemoveMember.GetMember())
	case *pb.GovernanceAction_AddKey:
		if err := memberRef("proposal.action.add_key.member", a.AddKey.Member); err != nil {
			return err
		}
		return newKeyFields("proposal.action.add_key.pub_key", a.AddKey.PubKey, "proposal.action.add_key.age_recipient", a.AddKey.AgeRecipient)
	case *pb.GovernanceAction_RotateKey:
		if err := memberRef("proposal.action.rotate_key.member", a.RotateKey.Member); err != nil {
			return err
		}
		if err := keyIDField("proposal.action.rotate_key.old_key_id", a.RotateKey.OldKeyId); err != nil {
			return err
		}
		return newKeyFields("proposal.action.rotate_key.new_pub_key", a.RotateKey.NewPubKey, "proposal.action.rotate_key.new_age_recipient", a.RotateKey.NewAgeRecipient)
	case *pb.GovernanceAction_RevokeKey:
		rk := a.RevokeKey
		if err := memberRef("proposal.action.revoke_key.member", rk.Member); err != nil {
			return err
		}
		if err := keyIDField("proposal.action.revoke_key.key_id", rk.KeyId); err != nil {
			return err
		}
		return v.compromise("proposal.action.revoke_key", rk.CompromisedSinceHeight, rk.CompromisedSinceTime)
	case *pb.GovernanceAction_SetValidator:
		sv := a.SetValidator
		if err := memberRef("proposal.action.set_validator.member", sv.Member); err != nil {
			return err
		}
		return validatorFields("proposal.action.set_validator", sv.ValidatorPubKey, sv.Power, true)
	case *pb.GovernanceAction_SetParams:
		return ValidateParams(a.SetParams)
	case *pb.GovernanceAction_SetGovernanceRules:
		return ValidateGovernanceRules(a.SetGovernanceRules)
	case *pb.GovernanceAction_SoftwareUpgrade:
		return validateUpgrade(a.SoftwareUpgrade)
	case *pb.GovernanceAction_AuthorizeOrder:
		if err := recordID("proposal.action.authorize_order.subject_id", a.AuthorizeOrder.SubjectId); err != nil {
			return err
		}
		return memberRef("proposal.action.authorize_order.issuer", a.AuthorizeOrder.Issuer)
	case *pb.GovernanceAction_AdoptStatement:
		return validateStatement(a.AdoptStatement)
	}
	return errf(CodeMissingField, "proposal.action is required")
}

// ValidateParams checks chain parameters (genesis and SET_PARAMS).
func ValidateParams(p *pb.Params) error {
	if p == nil {
		return errf(CodeMissingField, "params are required")
	}
	if p.MaxTxBytes < 1024 || p.MaxTxBytes > MaxTxBytesLimit {
		return errf(CodeBadFormat, "params.max_tx_bytes %d is outside 1024..%d (a record log entry's limit)", p.MaxTxBytes, MaxTxBytesLimit)
	}
	if p.MaxClockSkewSeconds > 3600 {
		return errf(CodeBadFormat, "params.max_clock_skew_seconds %d exceeds 3600", p.MaxClockSkewSeconds)
	}
	if p.AckWindowHours < 1 || p.AckWindowHours > 8760 {
		return errf(CodeBadFormat, "params.ack_window_hours %d is outside 1..8760", p.AckWindowHours)
	}
	if p.CaseWindows != nil {
		if err := validateWindows("params.case_windows", p.CaseWindows); err != nil {
			return err
		}
	}
	if p.DisclosureWindows != nil {
		if err := validateWindows("params.disclosure_windows", p.DisclosureWindows); err != nil {
			return err
		}
	}
	if p.DeclarationIntervalDays > MaxDeclarationIntervalDays {
		return errf(CodeBadFormat, "params.declaration_interval_days %d exceeds %d (ten years)", p.DeclarationIntervalDays, MaxDeclarationIntervalDays)
	}
	if p.Ladder != nil {
		return ValidateLadder(p.Ladder)
	}
	return nil
}

func memberRef(field, id string) error {
	if id == "" {
		return errf(CodeMissingField, "%s is required", field)
	}
	if !isMemberID(id) {
		return errf(CodeBadFormat, "%s %q is not a member id", field, id)
	}
	return nil
}

// newKeyFields checks a new key: a signing key (pub) or an encryption key
// (an age recipient), exactly one.
func newKeyFields(pubField string, pub []byte, ageField, ageRecipient string) error {
	switch {
	case len(pub) > 0 && ageRecipient != "":
		return errf(CodeBadFormat, "%s and %s: a key has one purpose, give one of them", pubField, ageField)
	case ageRecipient != "":
		_, err := AgeRecipient(ageField, ageRecipient)
		return err
	}
	return validatorKey(pubField, pub)
}

func keyIDField(field, id string) error {
	if id == "" {
		return errf(CodeMissingField, "%s is required", field)
	}
	if !isLowerHex(id, 16) {
		return errf(CodeBadFormat, "%s %q is not a key id (16 lowercase hex)", field, id)
	}
	return nil
}

func validatorFields(field string, key []byte, power int64, allowEmptyKey bool) error {
	if len(key) > 0 {
		if err := validatorKey(field+".validator_pub_key", key); err != nil {
			return err
		}
	}
	if power < 0 || power > MaxValidatorPower {
		return errf(CodeBadFormat, "%s power %d is outside 0..%d", field, power, int64(MaxValidatorPower))
	}
	if power > 0 && len(key) == 0 && !allowEmptyKey {
		return errf(CodeMissingField, "%s.validator_pub_key is required with power", field)
	}
	return nil
}

func pointOfContact(field string, poc *pb.PointOfContact) error {
	if poc == nil {
		return nil
	}
	for _, f := range []struct{ n, s string }{{"name", poc.Name}, {"organisation", poc.Organisation}, {"email", poc.Email}, {"phone", poc.Phone}} {
		if err := checkText(field+"."+f.n, f.s, MaxTitleLen); err != nil {
			return err
		}
	}
	return nil
}

func roles(field string, rs []string) error {
	if err := checkListLen(field, len(rs), 8); err != nil {
		return err
	}
	for i, r := range rs {
		if !isToken(r) {
			return errf(CodeBadFormat, "%s[%d] %q is not a valid role", field, i, r)
		}
		if slices.Contains(rs[:i], r) {
			return errf(CodeBadFormat, "%s lists %q twice", field, r)
		}
	}
	return nil
}

// compromise checks an optional compromise point: a height (not negative)
// and a time (not beyond block time plus skew).
func (v *validator) compromise(field string, height int64, t *pbTime) error {
	if height < 0 {
		return errf(CodeBadFormat, "%s.compromised_since_height must not be negative", field)
	}
	return v.past(field+".compromised_since_time", t, false)
}

func validateVote(v *validator, r *pb.Record) error {
	vt := r.GetVote()
	if err := recordID("vote.proposal_id", vt.ProposalId); err != nil {
		return err
	}
	if err := enumReq("vote.option", vt.Option); err != nil {
		return err
	}
	return checkText("vote.statement", vt.Statement, MaxSummaryLen)
}

func validateKeyRevocation(v *validator, r *pb.Record) error {
	kr := r.GetKeyRevocation()
	if err := memberRef("key_revocation.member", kr.Member); err != nil {
		return err
	}
	if err := keyIDField("key_revocation.key_id", kr.KeyId); err != nil {
		return err
	}
	if err := v.compromise("key_revocation", kr.CompromisedSinceHeight, kr.CompromisedSinceTime); err != nil {
		return err
	}
	return checkText("key_revocation.reason", kr.Reason, MaxSummaryLen)
}
