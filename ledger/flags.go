package ledger

import (
	"slices"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// FlagKeyCompromised is the reason of a flag on a record signed by a key
// that was later revoked as compromised at or before the record.
const FlagKeyCompromised = "key_compromised"

// HasCompromisedKey reports whether any of m's keys was revoked as
// compromised (so records it signed may carry flags).
func HasCompromisedKey(m *pb.Member) bool {
	return slices.ContainsFunc(m.GetKeys(), compromised)
}

func compromised(k *pb.MemberKey) bool {
	return k.CompromisedSinceHeight > 0 || k.CompromisedSinceTime != nil
}

// Flags lists the warnings about a record given the member entries of the
// state it is read at: one per signature (primary or co-signature) made
// with a key whose compromise point is at or before the record's height or
// block time. members returns nil for an unknown member.
func Flags(rec *pb.StoredRecord, tx *pb.Tx, members func(id string) (*pb.Member, error)) ([]*pb.RecordFlag, error) {
	type sig struct{ member, key string }
	sigs := []sig{{tx.GetBody().GetSigner(), tx.GetBody().GetKeyId()}}
	for _, cs := range tx.GetCoSignatures() {
		sigs = append(sigs, sig{cs.Signer, cs.KeyId})
	}
	var out []*pb.RecordFlag
	for _, s := range sigs {
		m, err := members(s.member)
		if err != nil {
			return nil, err
		}
		k := findKey(m, s.key)
		if k == nil || !compromised(k) {
			continue
		}
		byHeight := k.CompromisedSinceHeight > 0 && rec.Height >= k.CompromisedSinceHeight
		byTime := k.CompromisedSinceTime != nil && rec.BlockTime != nil && !rec.BlockTime.AsTime().Before(k.CompromisedSinceTime.AsTime())
		if !byHeight && !byTime {
			continue
		}
		out = append(out, &pb.RecordFlag{RecordId: rec.Id, Member: s.member, KeyId: s.key, Reason: FlagKeyCompromised,
			CompromisedSinceHeight: k.CompromisedSinceHeight, CompromisedSinceTime: k.CompromisedSinceTime, RevokedBy: k.EndedBy})
	}
	return out, nil
}
