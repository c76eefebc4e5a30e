package ledger

import (
	"github.com/cometbft/cometbft/crypto/ed25519"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ValidateGenesis checks the initial member registry and parameters.
func ValidateGenesis(gs *pb.GenesisState) error {
	if gs == nil {
		return errf(CodeGenesis, "genesis app_state is empty")
	}
	if p := gs.Params; p != nil {
		if err := ValidateParams(p); err != nil {
			return wrapf(CodeGenesis, err, "genesis params")
		}
	}
	if gs.Governance != nil {
		if err := ValidateGovernanceRules(gs.Governance); err != nil {
			return wrapf(CodeGenesis, err, "genesis governance rules")
		}
	}
	validators := map[string]string{}
	if len(gs.Members) == 0 {
		return errf(CodeGenesis, "genesis has no members")
	}
	seen := map[string]bool{}
	keys := map[string]string{}
	for _, m := range gs.Members {
		if !isMemberID(m.Id) {
			return errf(CodeGenesis, "member id %q is not [a-z0-9-]{2,32}", m.Id)
		}
		if seen[m.Id] {
			return errf(CodeGenesis, "member %q listed twice", m.Id)
		}
		seen[m.Id] = true
		if err := enumReq("member.class", m.Class); err != nil {
			return wrapf(CodeGenesis, err, "member %q", m.Id)
		}
		if err := enumReq("member.status", m.Status); err != nil {
			return wrapf(CodeGenesis, err, "member %q", m.Id)
		}
		if err := reqText("member.name", m.Name, MaxTitleLen); err != nil {
			return wrapf(CodeGenesis, err, "member %q", m.Id)
		}
		if m.Class == pb.MemberClass_MEMBER_CLASS_STATE && !isCountryCode(m.CountryCode) {
			return errf(CodeGenesis, "state member %q needs an ISO 3166-1 alpha-3 country code", m.Id)
		}
		if len(m.Keys) == 0 {
			return errf(CodeGenesis, "member %q has no keys", m.Id)
		}
		for _, k := range m.Keys {
			if len(k.PubKey) != ed25519.PubKeySize {
				return errf(CodeGenesis, "member %q key %q is not a 32-byte ed25519 key", m.Id, k.KeyId)
			}
			if k.KeyId != KeyID(k.PubKey) {
				return errf(CodeGenesis, "member %q key id %q does not match its key (want %q)", m.Id, k.KeyId, KeyID(k.PubKey))
			}
			if other, dup := keys[k.KeyId]; dup {
				return errf(CodeGenesis, "key %q is listed for %q and %q", k.KeyId, other, m.Id)
			}
			keys[k.KeyId] = m.Id
			if err := enumReq("key.status", k.Status); err != nil {
				return wrapf(CodeGenesis, err, "member %q key %q", m.Id, k.KeyId)
			}
		}
		for _, k := range m.EncryptionKeys {
			id, err := AgeRecipient("encryption key", k.AgeRecipient)
			if err != nil {
				return wrapf(CodeGenesis, err, "member %q", m.Id)
			}
			if k.KeyId != id || len(k.PubKey) != 0 {
				return errf(CodeGenesis, "member %q encryption key id %q does not match its recipient (want %q, no pub_key)", m.Id, k.KeyId, id)
			}
			if other, dup := keys[k.KeyId]; dup {
				return errf(CodeGenesis, "key %q is listed for %q and %q", k.KeyId, other, m.Id)
			}
			keys[k.KeyId] = m.Id
			if err := enumReq("key.status", k.Status); err != nil {
				return wrapf(CodeGenesis, err, "member %q key %q", m.Id, k.KeyId)
			}
		}
		if len(m.ValidatorPubKey) != 0 && len(m.ValidatorPubKey) != ed25519.PubKeySize {
			return errf(CodeGenesis, "member %q validator key is not a 32-byte ed25519 key", m.Id)
		}
		if len(m.ValidatorPubKey) != 0 {
			if other, dup := validators[string(m.ValidatorPubKey)]; dup {
				return errf(CodeGenesis, "validator key of %q is also listed for %q", m.Id, other)
			}
			validators[string(m.ValidatorPubKey)] = m.Id
		}
		if m.ValidatorPower < 0 || m.ValidatorPower > MaxValidatorPower || (m.ValidatorPower > 0 && len(m.ValidatorPubKey) == 0) {
			return errf(CodeGenesis, "member %q validator power %d needs a validator key and must be 0..%d", m.Id, m.ValidatorPower, int64(MaxValidatorPower))
		}
		if err := roles("member.roles", m.Roles); err != nil {
			return wrapf(CodeGenesis, err, "member %q", m.Id)
		}
		if len(m.History) > 0 {
			return errf(CodeGenesis, "member %q: history starts empty", m.Id)
		}
		if m.Directory != nil {
			return errf(CodeGenesis, "member %q: a directory entry is filed by the member (contact_update), not set in genesis", m.Id)
		}
		if m.LastDeclaration != "" {
			return errf(CodeGenesis, "member %q: last_declaration is set by the member's declarations, not in genesis", m.Id)
		}
	}
	return nil
}
