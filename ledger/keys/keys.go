// Package keys is the ledger's state key layout, shared by ledger/store
// (which writes it) and verifiers (which check that a proof is of the key
// it claims). It imports nothing beyond the standard library and proto/gen.
//
//	meta/chain_id                      chain id
//	meta/params                        Params
//	m/<member>                         Member
//	n/<member>                         next sequence, u64be
//	r/<seq u64be>                      StoredRecord (sequential keys: fast appends)
//	i/<id 32 bytes>                    seq u64be (id -> seq index)
//	k/<kind>/<seq u64be>               id (32 bytes)
//	a/<author>/<seq u64be>             id
//	s/<subject member>/<seq u64be>     id
//	c/<sector>/<seq u64be>             id
//	h/<author>/<content hash 32 bytes> id (duplicate detection)
//	f/<record id 32 bytes>/<seq u64be>  id (records that refer to a record)
//	p/<pledgor>/<seq u64be>            id (pledges by pledgor)
//	o/<obligation id>                  Obligation
//	ob/d/<debtor>/<due>/<id>           (obligations by debtor, by due time)
//	ob/c/<creditor>/<due>/<id>         (by creditor)
//	ob/s/<status>/<due>/<id>           (by status; ob/s/open/ is what the overdue sweep scans)
//	ob/b/<pledge id 32 bytes>/<due>/<id> (disclosure duties by the pledge they rest on)
package keys

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
	PrefixMember  = "m/"
	PrefixSeq     = "n/"
	PrefixRecord  = "r/"
	PrefixID      = "i/"
	PrefixKind    = "k/"
	PrefixAuthor  = "a/"
	PrefixSubject = "s/"
	PrefixSector  = "c/"
	PrefixContent = "h/"
)

func U64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func Cat(parts ...[]byte) []byte {
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

// Member is where member id is stored.
func Member(id string) []byte { return []byte(PrefixMember + id) }

// Sequence holds a member's next sequence.
func Sequence(id string) []byte { return []byte(PrefixSeq + id) }

// Record is where the record with ledger sequence seq is stored.
func Record(seq uint64) []byte { return Cat([]byte(PrefixRecord), U64(seq)) }

// ID maps a record id (64 hex) to its sequence.
func ID(id string) ([]byte, error) {
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("record id %q is not 64 hex characters", id)
	}
	return Cat([]byte(PrefixID), raw), nil
}

// KindIndex, AuthorIndex, SubjectIndex and SectorIndex are index
// entries; the prefix functions give the range to scan.
func KindIndex(kind string, seq uint64) []byte     { return Cat(KindPrefix(kind), U64(seq)) }
func AuthorIndex(m string, seq uint64) []byte      { return Cat(AuthorPrefix(m), U64(seq)) }
func SubjectIndex(m string, seq uint64) []byte     { return Cat(SubjectPrefix(m), U64(seq)) }
func SectorIndex(sector string, seq uint64) []byte { return Cat(SectorPrefix(sector), U64(seq)) }
func KindPrefix(kind string) []byte                { return []byte(PrefixKind + kind + "/") }
func AuthorPrefix(m string) []byte                 { return []byte(PrefixAuthor + m + "/") }
func SubjectPrefix(m string) []byte                { return []byte(PrefixSubject + m + "/") }
func SectorPrefix(sector string) []byte            { return []byte(PrefixSector + sector + "/") }

// Content marks that author filed a record with this content hash.
func Content(author string, h [32]byte) []byte {
	return Cat([]byte(PrefixContent+author+"/"), h[:])
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
func PrefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Obligation and reference layout.
const (
	PrefixRef        = "f/"
	PrefixPledge     = "p/"
	PrefixObligation = "o/"
	PrefixObDebtor   = "ob/d/"
	PrefixObCreditor = "ob/c/"
	PrefixObStatus   = "ob/s/"
	PrefixObBasis    = "ob/b/"
)

func rawID(id string) []byte {
	raw, err := hex.DecodeString(id)
	if err != nil {
		return []byte(id)
	}
	return raw
}

// RefPrefix lists the records referring to record id.
func RefPrefix(id string) []byte { return Cat([]byte(PrefixRef), rawID(id), []byte("/")) }

// Ref marks that the record at seq refers to record id.
func Ref(id string, seq uint64) []byte { return Cat(RefPrefix(id), U64(seq)) }

// PledgePrefix lists the pledges of a pledgor.
func PledgePrefix(member string) []byte { return []byte(PrefixPledge + member + "/") }

// Pledge marks that the pledge at seq binds member.
func Pledge(member string, seq uint64) []byte { return Cat(PledgePrefix(member), U64(seq)) }

// Obligation is where obligation id is stored.
func Obligation(id string) []byte { return []byte(PrefixObligation + id) }

// Due encodes a due time (Unix nanoseconds, big-endian) for ordered keys.
func Due(unixNano int64) []byte {
	if unixNano < 0 {
		unixNano = 0
	}
	return U64(uint64(unixNano))
}

// ObDebtorPrefix, ObCreditorPrefix, ObStatusPrefix and ObBasisPrefix are the
// obligation indexes; entries append Due(due) + "/" + id.
func ObDebtorPrefix(m string) []byte   { return []byte(PrefixObDebtor + m + "/") }
func ObCreditorPrefix(m string) []byte { return []byte(PrefixObCreditor + m + "/") }
func ObStatusPrefix(s string) []byte   { return []byte(PrefixObStatus + s + "/") }
func ObBasisPrefix(pledge string) []byte {
	return Cat([]byte(PrefixObBasis), rawID(pledge), []byte("/"))
}

// ObIndex appends an obligation's due time and id to an index prefix.
func ObIndex(prefix []byte, dueNano int64, id string) []byte {
	return Cat(prefix, Due(dueNano), []byte("/"+id))
}

// StatusName is the index name of an obligation status: OBLIGATION_STATUS_MET_LATE -> "met_late".
func StatusName(s pb.ObligationStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "OBLIGATION_STATUS_"))
}

// StatusByName is the inverse of StatusName.
func StatusByName(name string) (pb.ObligationStatus, bool) {
	v, ok := pb.ObligationStatus_value["OBLIGATION_STATUS_"+strings.ToUpper(name)]
	if !ok || v == 0 {
		return 0, false
	}
	return pb.ObligationStatus(v), true
}
