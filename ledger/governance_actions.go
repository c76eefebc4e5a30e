package ledger

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Governance actions: each one a change to members, keys, validators,
// params, rules or the software plan, made on a fork of the governance
// state so that an action that does not apply changes nothing. A proposal
// tries its action when it is made and executes it when it passes; the
// same checks run both times.

// applyAction makes the change act describes, or says why it does not
// apply. by is the proposal's id ("" when only checking).
func (g *govState) applyAction(act *pb.GovernanceAction, by string) error {
	switch a := act.Action.(type) {
	case *pb.GovernanceAction_AddMember:
		am := a.AddMember
		old, err := g.Member(am.Id)
		if err != nil {
			return err
		}
		if old != nil {
			return errf(CodeMemberExists, "add_member: member %q exists already (%v)", am.Id, old.Status)
		}
		m := &pb.Member{Id: am.Id, Class: am.Class, Name: am.Name, CountryCode: am.CountryCode,
			Roles:  append([]string(nil), am.Roles...),
			Status: pb.MemberStatus_MEMBER_STATUS_ACTIVE}
		if am.PointOfContact != nil {
			m.PointOfContact = proto.Clone(am.PointOfContact).(*pb.PointOfContact)
		}
		for _, pub := range am.PubKeys {
			k, err := g.newKey("add_member.pub_keys", pub)
			if err != nil {
				return err
			}
			m.Keys = append(m.Keys, k)
		}
		if len(am.ValidatorPubKey) > 0 {
			if err := g.checkValidatorKey("add_member.validator_pub_key", am.Id, am.ValidatorPubKey); err != nil {
				return err
			}
			m.ValidatorPubKey, m.ValidatorPower = append([]byte(nil), am.ValidatorPubKey...), am.ValidatorPower
		} else if am.ValidatorPower > 0 {
			return errf(CodeMissingField, "add_member.validator_pub_key is required with validator_power")
		}
		g.note(m, by, "admitted as "+enum.Name(am.Class))
		g.putMember(m)
	case *pb.GovernanceAction_SuspendMember:
		return g.setStatus("suspend_member", a.SuspendMember.Member, pb.MemberStatus_MEMBER_STATUS_ACTIVE,
			pb.MemberStatus_MEMBER_STATUS_SUSPENDED, by, "suspended")
	case *pb.GovernanceAction_ReinstateMember:
		return g.setStatus("reinstate_member", a.ReinstateMember.Member, pb.MemberStatus_MEMBER_STATUS_SUSPENDED,
			pb.MemberStatus_MEMBER_STATUS_ACTIVE, by, "reinstated")
	case *pb.GovernanceAction_RemoveMember:
		return g.setStatus("remove_member", a.RemoveMember.Member, pb.MemberStatus_MEMBER_STATUS_UNSPECIFIED,
			pb.MemberStatus_MEMBER_STATUS_REMOVED, by, "removed")
	case *pb.GovernanceAction_AddKey:
		m, err := g.notRemoved("add_key", a.AddKey.Member)
		if err != nil {
			return err
		}
		if r := a.AddKey.AgeRecipient; r != "" {
			k, err := g.newEncryptionKey("add_key.age_recipient", r)
			if err != nil {
				return err
			}
			m.EncryptionKeys = append(m.EncryptionKeys, k)
			g.note(m, by, "encryption key "+k.KeyId+" added, valid from height "+itoa(k.ValidFromHeight))
			g.putMember(m)
			return nil
		}
		k, err := g.newKey("add_key.pub_key", a.AddKey.PubKey)
		if err != nil {
			return err
		}
		m.Keys = append(m.Keys, k)
		g.note(m, by, "key "+k.KeyId+" added, valid from height "+itoa(k.ValidFromHeight))
		g.putMember(m)
	case *pb.GovernanceAction_RotateKey:
		rk := a.RotateKey
		m, err := g.notRemoved("rotate_key", rk.Member)
		if err != nil {
			return err
		}
		old := findAnyKey(m, rk.OldKeyId)
		if old == nil {
			return errf(CodeUnknownKey, "rotate_key.old_key_id: %q has no key %q", m.Id, rk.OldKeyId)
		}
		if old.Status != pb.KeyStatus_KEY_STATUS_ACTIVE {
			return errf(CodeKeyInactive, "rotate_key.old_key_id: key %q of %q is %v", rk.OldKeyId, m.Id, old.Status)
		}
		encryption := old.AgeRecipient != ""
		if encryption != (rk.NewAgeRecipient != "") {
			return errf(CodeBadFormat, "rotate_key: key %q of %q and its replacement must have the same purpose (signing: new_pub_key; encryption: new_age_recipient)", rk.OldKeyId, m.Id)
		}
		var k *pb.MemberKey
		if encryption {
			k, err = g.newEncryptionKey("rotate_key.new_age_recipient", rk.NewAgeRecipient)
		} else {
			k, err = g.newKey("rotate_key.new_pub_key", rk.NewPubKey)
		}
		if err != nil {
			return err
		}
		g.endKey(old, pb.KeyStatus_KEY_STATUS_ROTATED, by)
		if encryption {
			m.EncryptionKeys = append(m.EncryptionKeys, k)
		} else {
			m.Keys = append(m.Keys, k)
		}
		g.note(m, by, "key "+old.KeyId+" rotated to "+k.KeyId+" (old key valid to height "+itoa(old.ValidUntilHeight)+
			", new from "+itoa(k.ValidFromHeight)+")")
		g.putMember(m)
	case *pb.GovernanceAction_RevokeKey:
		rk := a.RevokeKey
		m, err := g.existing("revoke_key.member", rk.Member)
		if err != nil {
			return err
		}
		return g.revoke(m, rk.KeyId, rk.CompromisedSinceHeight, rk.CompromisedSinceTime, by, "by vote")
	case *pb.GovernanceAction_SetValidator:
		sv := a.SetValidator
		m, err := g.notRemoved("set_validator", sv.Member)
		if err != nil {
			return err
		}
		if len(sv.ValidatorPubKey) > 0 {
			if err := g.checkValidatorKey("set_validator.validator_pub_key", m.Id, sv.ValidatorPubKey); err != nil {
				return err
			}
			m.ValidatorPubKey = append([]byte(nil), sv.ValidatorPubKey...)
		}
		if len(m.ValidatorPubKey) == 0 {
			return errf(CodeMissingField, "set_validator: %q has no validator key; give validator_pub_key", m.Id)
		}
		m.ValidatorPower = sv.Power
		g.note(m, by, "validator "+hex.EncodeToString(m.ValidatorPubKey)+" power set to "+itoa(sv.Power))
		g.putMember(m)
	case *pb.GovernanceAction_SetParams:
		if err := ladderSucceeds(paramsOf(g.b).Ladder, a.SetParams.Ladder); err != nil {
			return err
		}
		g.params = proto.Clone(a.SetParams).(*pb.Params)
	case *pb.GovernanceAction_SetGovernanceRules:
		g.rules = proto.Clone(a.SetGovernanceRules).(*pb.GovernanceRules)
		g.rulesChanged = true
	case *pb.GovernanceAction_SoftwareUpgrade:
		return g.scheduleUpgrade(a.SoftwareUpgrade, by)
	case *pb.GovernanceAction_AuthorizeOrder:
		// Passing is the authorisation (docs/disclosure.md): the issuer
		// cites the proposal in its order. Nothing else changes.
		return authorizeOrder(g, a.AuthorizeOrder)
	case *pb.GovernanceAction_AdoptStatement:
		// Passing is the adoption (docs/evidence.md): the proposal state
		// and the electors' votes are the statement's record.
		return nil
	default:
		return errf(CodeMissingField, "proposal.action is required")
	}
	return nil
}

// tryAction applies act to a fork of g and checks the validator set it
// leaves against start (the set at the start of the block). It returns the
// fork, or a rejection saying why the action does not apply.
func (g *govState) tryAction(act *pb.GovernanceAction, by string, start Powers) error {
	_, err := g.forkAction(act, by, start)
	return err
}

func (g *govState) forkAction(act *pb.GovernanceAction, by string, start Powers) (*govState, error) {
	f := newGovState(g.Overlay, g.b)
	if err := f.applyAction(act, by); err != nil {
		return nil, err
	}
	if f.touchesValidators(act) {
		members, err := f.Members()
		if err != nil {
			return nil, err
		}
		if err := checkPowers(start, PowersOf(members)); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (g *govState) touchesValidators(act *pb.GovernanceAction) bool {
	switch act.Action.(type) {
	case *pb.GovernanceAction_AddMember, *pb.GovernanceAction_SuspendMember, *pb.GovernanceAction_ReinstateMember,
		*pb.GovernanceAction_RemoveMember, *pb.GovernanceAction_SetValidator:
		return true
	}
	return false
}

// startPowers is the validator set at the start of the block.
func (g *govState) startPowers() (Powers, error) {
	if g.b.StartPowers != nil {
		return g.b.StartPowers, nil
	}
	members, err := g.base.Members()
	if err != nil {
		return nil, err
	}
	return PowersOf(members), nil
}

// notRemoved loads the member an action names (field <action>.member): it
// must exist and not be removed.
func (g *govState) notRemoved(action, id string) (*pb.Member, error) {
	m, err := g.existing(action+".member", id)
	if err != nil {
		return nil, err
	}
	if m.Status == pb.MemberStatus_MEMBER_STATUS_REMOVED {
		return nil, errf(CodeWrongMemberStatus, "%s: member %q was removed", action, m.Id)
	}
	return m, nil
}

// existing loads a member an action names; it must exist.
func (g *govState) existing(field, id string) (*pb.Member, error) {
	m, err := g.Member(id)
	if err != nil {
		return nil, fmt.Errorf("read member %q: %w", id, err)
	}
	if m == nil {
		return nil, errf(CodeUnknownMember, "%s: %q is not a member", field, id)
	}
	return cloneMember(m), nil
}

func (g *govState) setStatus(field, id string, want, to pb.MemberStatus, by, change string) error {
	m, err := g.existing(field, id)
	if err != nil {
		return err
	}
	if want != pb.MemberStatus_MEMBER_STATUS_UNSPECIFIED && m.Status != want {
		return errf(CodeWrongMemberStatus, "%s: member %q is %v, the action needs %v", field, id, m.Status, want)
	}
	if m.Status == pb.MemberStatus_MEMBER_STATUS_REMOVED {
		return errf(CodeWrongMemberStatus, "%s: member %q was removed", field, id)
	}
	m.Status = to
	if to == pb.MemberStatus_MEMBER_STATUS_REMOVED {
		m.ValidatorPower = 0
	}
	g.note(m, by, change)
	g.putMember(m)
	g.statusChanged = append(g.statusChanged, id)
	return nil
}

func (g *govState) note(m *pb.Member, by, change string) {
	m.History = append(m.History, &pb.MemberChange{Height: g.b.Height, Time: timestamppb.New(g.b.Time), RecordId: by, Change: change})
}

// keyTaken reports which member holds a signing key id or validator key.
func (g *govState) keyTaken(keyID string, validator []byte) (string, error) {
	members, err := g.Members()
	if err != nil {
		return "", err
	}
	for _, m := range members {
		if keyID != "" && findAnyKey(m, keyID) != nil {
			return m.Id, nil
		}
		if len(validator) > 0 && bytes.Equal(m.ValidatorPubKey, validator) {
			return m.Id, nil
		}
	}
	return "", nil
}

func (g *govState) newKey(field string, pub []byte) (*pb.MemberKey, error) {
	id := KeyID(pub)
	owner, err := g.keyTaken(id, nil)
	if err != nil {
		return nil, err
	}
	if owner != "" {
		return nil, errf(CodeKeyExists, "%s: key %s is registered to %q already", field, id, owner)
	}
	return &pb.MemberKey{KeyId: id, PubKey: append([]byte(nil), pub...), Status: pb.KeyStatus_KEY_STATUS_ACTIVE,
		ValidFromHeight: g.b.Height + 1}, nil
}

func (g *govState) newEncryptionKey(field, ageRecipient string) (*pb.MemberKey, error) {
	id, err := AgeRecipient(field, ageRecipient)
	if err != nil {
		return nil, err
	}
	owner, err := g.keyTaken(id, nil)
	if err != nil {
		return nil, err
	}
	if owner != "" {
		return nil, errf(CodeKeyExists, "%s: key %s is registered to %q already", field, id, owner)
	}
	return &pb.MemberKey{KeyId: id, AgeRecipient: ageRecipient, Status: pb.KeyStatus_KEY_STATUS_ACTIVE,
		ValidFromHeight: g.b.Height + 1}, nil
}

func (g *govState) checkValidatorKey(field, member string, pub []byte) error {
	if len(pub) == 0 {
		return nil
	}
	owner, err := g.keyTaken("", pub)
	if err != nil {
		return err
	}
	if owner != "" && owner != member {
		return errf(CodeDuplicateValidatorKey, "%s: validator key %X is registered to %q already", field, pub, owner)
	}
	return nil
}

func findKey(m *pb.Member, keyID string) *pb.MemberKey { return keyIn(m.GetKeys(), keyID) }

// keyIn returns the key keyID of keys, or nil.
func keyIn(keys []*pb.MemberKey, keyID string) *pb.MemberKey {
	for _, k := range keys {
		if k.KeyId == keyID {
			return k
		}
	}
	return nil
}

// endKey ends a key at this height.
func (g *govState) endKey(k *pb.MemberKey, status pb.KeyStatus, by string) {
	k.Status = status
	if k.ValidUntilHeight == 0 || k.ValidUntilHeight > g.b.Height {
		k.ValidUntilHeight = g.b.Height
	}
	k.EndedBy = by
}

// revoke ends a key and records its compromise point.
func (g *govState) revoke(m *pb.Member, keyID string, sinceHeight int64, sinceTime *pbTime, by, how string) error {
	k := findAnyKey(m, keyID)
	if k == nil {
		return errf(CodeUnknownKey, "member %q has no key %q", m.Id, keyID)
	}
	if k.Status == pb.KeyStatus_KEY_STATUS_REVOKED {
		return errf(CodeKeyInactive, "key %q of %q is already revoked", keyID, m.Id)
	}
	if sinceHeight > g.b.Height {
		return errf(CodeBadFormat, "compromised_since_height %d is beyond the current height %d", sinceHeight, g.b.Height)
	}
	g.endKey(k, pb.KeyStatus_KEY_STATUS_REVOKED, by)
	k.CompromisedSinceHeight = sinceHeight
	if sinceTime != nil {
		k.CompromisedSinceTime = timestamppb.New(sinceTime.AsTime())
	}
	change := "key " + keyID + " revoked " + how
	if sinceHeight > 0 || sinceTime != nil {
		change += " as compromised since"
		if sinceHeight > 0 {
			change += " height " + itoa(sinceHeight)
		}
		if sinceTime != nil {
			change += " " + sinceTime.AsTime().UTC().Format(time.RFC3339)
		}
	}
	g.note(m, by, change)
	g.putMember(m)
	return nil
}
