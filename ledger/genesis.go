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
		if p.MaxTxBytes < 1024 || p.MaxTxBytes > 4<<20 {
			return errf(CodeGenesis, "params.max_tx_bytes %d is outside 1 KiB..4 MiB", p.MaxTxBytes)
		}
		if p.MaxClockSkewSeconds > 3600 {
			return errf(CodeGenesis, "params.max_clock_skew_seconds %d exceeds 3600", p.MaxClockSkewSeconds)
		}
	}
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
		if len(m.ValidatorPubKey) != 0 && len(m.ValidatorPubKey) != ed25519.PubKeySize {
			return errf(CodeGenesis, "member %q validator key is not a 32-byte ed25519 key", m.Id)
		}
	}
	return nil
}
