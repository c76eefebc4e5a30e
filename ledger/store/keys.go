package store

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Key prefixes; see the package documentation.
const (
	KeyChainID    = "meta/chain_id"
	KeyParams     = "meta/params"
	KeyCount      = "meta/count"
	prefixMember  = "m/"
	prefixSeq     = "n/"
	prefixRecord  = "r/"
	prefixID      = "i/"
	prefixKind    = "k/"
	prefixAuthor  = "a/"
	prefixSubject = "s/"
	prefixSector  = "c/"
	prefixContent = "h/"
)

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func cat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// MemberKey is where member id is stored.
func MemberKey(id string) []byte { return []byte(prefixMember + id) }

// SequenceKey holds a member's next sequence.
func SequenceKey(id string) []byte { return []byte(prefixSeq + id) }

// RecordKey is where the record with ledger sequence seq is stored.
func RecordKey(seq uint64) []byte { return cat([]byte(prefixRecord), u64(seq)) }

// IDKey maps a record id (64 hex) to its sequence.
func IDKey(id string) ([]byte, error) {
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("record id %q is not 64 hex characters", id)
	}
	return cat([]byte(prefixID), raw), nil
}

// KindIndexKey, AuthorIndexKey, SubjectIndexKey and SectorIndexKey are index
// entries; the prefix functions give the range to scan.
func KindIndexKey(kind string, seq uint64) []byte     { return cat(KindPrefix(kind), u64(seq)) }
func AuthorIndexKey(m string, seq uint64) []byte      { return cat(AuthorPrefix(m), u64(seq)) }
func SubjectIndexKey(m string, seq uint64) []byte     { return cat(SubjectPrefix(m), u64(seq)) }
func SectorIndexKey(sector string, seq uint64) []byte { return cat(SectorPrefix(sector), u64(seq)) }
func KindPrefix(kind string) []byte                   { return []byte(prefixKind + kind + "/") }
func AuthorPrefix(m string) []byte                    { return []byte(prefixAuthor + m + "/") }
func SubjectPrefix(m string) []byte                   { return []byte(prefixSubject + m + "/") }
func SectorPrefix(sector string) []byte               { return []byte(prefixSector + sector + "/") }

// ContentKey marks that author filed a record with this content hash.
func ContentKey(author string, h [32]byte) []byte {
	return cat([]byte(prefixContent+author+"/"), h[:])
}

// SectorName is the index name of a sector: SECTOR_HEALTH -> "health".
func SectorName(s pb.Sector) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "SECTOR_"))
}

// SectorByName is the inverse of SectorName.
func SectorByName(name string) (pb.Sector, bool) {
	v, ok := pb.Sector_value["SECTOR_"+strings.ToUpper(name)]
	if !ok || v == 0 {
		return 0, false
	}
	return pb.Sector(v), true
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
