// Package layout is the ledger's state key layout, shared by ledger/store
// (which writes it) and verifiers (which check that a proof is of the key
// it claims). It imports nothing beyond the standard library and proto/gen.
//
// Record bodies (the signed transactions) are not in this state: they are
// the entries of the record log (ledger/store/tlog), whose size and root
// meta/log commits to at every height. The state keeps what a map is good
// at:
//
//	meta/chain_id                      chain id
//	meta/params                        Params
//	meta/log                           log size u64be || log root (32 bytes)
//	m/<member>                         Member
//	n/<member>                         next sequence, u64be
//	i/<id 32 bytes>                    RecordRef (seq = log index + 1, height, time, kind, author)
//	h/<author>/<content hash 32 bytes> id (duplicate detection; app version 6
//	                                   only: from 7 kept beside the state,
//	                                   h/... -> seq, see ledger/store)
//	x/<index>/<value>/<height u64be>   the seqs (u64be each, ascending) of the
//	                                   records of one block under one index value:
//	  x/k/<kind>/...                     by kind name
//	  x/a/<author>/...                   by author
//	  x/s/<subject member>/...           by the members a record concerns
//	  x/c/<sector>/...                   by sector
//	  x/f/<record id 32 bytes>/...       records that refer to a record
//	  x/p/<pledgor>/...                  pledges by pledgor
//	o/<obligation id>                  Obligation
//	ob/d/<debtor>/<due>/<id>           (obligations by debtor, by due time)
//	ob/c/<creditor>/<due>/<id>         (by creditor)
//	ob/s/<status>/<due>/<id>           (by status; ob/s/open/ is what the overdue sweep scans)
//	ob/b/<pledge id 32 bytes>/<due>/<id> (disclosure duties by the pledge they rest on)
//
// and the governance layout below (meta/governance, g/...).
package layout

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Key prefixes; see the package documentation.
const (
	KeyChainID = "meta/chain_id"
	KeyParams  = "meta/params"
	// KeyUpgrade holds the UpgradeState (app version, pending plan).
	KeyUpgrade    = "meta/upgrade"
	KeyLog        = "meta/log"
	PrefixMember  = "m/"
	PrefixSeq     = "n/"
	PrefixID      = "i/"
	PrefixContent = "h/"
	PrefixIndex   = "x/"
)

// Index names: the <index> part of x/<index>/<value>/<height>.
const (
	IndexKind    = "k"
	IndexAuthor  = "a"
	IndexSubject = "s"
	IndexSector  = "c"
	IndexRef     = "f"
	IndexPledge  = "p"
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

// ID is the key of record id's RecordRef.
func ID(id string) ([]byte, error) {
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("record id %q is not 64 hex characters", id)
	}
	return Cat([]byte(PrefixID), raw), nil
}

// IndexPrefix lists the blocks of index value: x/<index>/<value>/.
// Reference values are record ids, stored as their 32 bytes.
func IndexPrefix(index, value string) []byte {
	v := []byte(value)
	if index == IndexRef {
		v = rawID(value)
	}
	return Cat([]byte(PrefixIndex+index+"/"), v, []byte("/"))
}

// ListIndex is the index a record listing filtered by these values scans
// (the most selective one named: subject, author, kind, then sector) and how
// many of them are named. The node and the verifier choose it alike: a
// listing naming at most one can be proven complete from that index (the
// record log when none is named).
func ListIndex(sector, kind, author, subject string) (index, value string, named int) {
	for _, c := range []struct{ index, value string }{
		{IndexSector, sector}, {IndexKind, kind}, {IndexAuthor, author}, {IndexSubject, subject},
	} {
		if c.value != "" {
			index, value = c.index, c.value
			named++
		}
	}
	return index, value, named
}

// Index is the entry of index value for the block at height.
func Index(index, value string, height int64) []byte {
	return Cat(IndexPrefix(index, value), U64(uint64(height)))
}

// IndexHeight reads the height from an index entry's key.
func IndexHeight(key []byte) (int64, bool) {
	if len(key) < len(PrefixIndex)+8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(key[len(key)-8:])), true
}

// Seqs decodes an index entry's value: seqs, u64be each, strictly ascending.
func Seqs(v []byte) ([]uint64, error) {
	if len(v) == 0 || len(v)%8 != 0 {
		return nil, fmt.Errorf("index value of %d bytes is not a list of seqs", len(v))
	}
	out := make([]uint64, len(v)/8)
	for i := range out {
		out[i] = binary.BigEndian.Uint64(v[8*i:])
		if i > 0 && out[i] <= out[i-1] {
			return nil, fmt.Errorf("index value: seqs not ascending")
		}
	}
	return out, nil
}

// AppendSeq appends seq to an index entry's value.
func AppendSeq(v []byte, seq uint64) []byte { return binary.BigEndian.AppendUint64(v, seq) }

// LogState encodes meta/log: size u64be || root.
func LogState(size uint64, root []byte) []byte { return append(U64(size), root...) }

// ParseLogState decodes meta/log.
func ParseLogState(v []byte) (size uint64, root []byte, err error) {
	if len(v) != 40 {
		return 0, nil, fmt.Errorf("meta/log value is %d bytes, want 40", len(v))
	}
	return binary.BigEndian.Uint64(v), v[8:], nil
}

// Content marks that author filed a record with this content hash.
func Content(author string, h [32]byte) []byte {
	return Cat([]byte(PrefixContent+author+"/"), h[:])
}

// SectorName is the index name of a sector: SECTOR_HEALTH -> "health".
func SectorName(s pb.Sector) string {
	return enum.Name(s)
}

// SectorByName is the inverse of SectorName.
func SectorByName(name string) (pb.Sector, bool) {
	v, ok := enum.Value(pb.Sector(0).Descriptor(), name)
	return pb.Sector(v), ok
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

// Obligation layout.
const (
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
	return enum.Name(s)
}

// StatusByName is the inverse of StatusName.
func StatusByName(name string) (pb.ObligationStatus, bool) {
	v, ok := enum.Value(pb.ObligationStatus(0).Descriptor(), name)
	return pb.ObligationStatus(v), ok
}

// Governance layout.
//
//	meta/governance                    GovernanceRules
//	g/p/<proposal id 32 bytes>         ProposalState
//	g/s/<status>/<proposal id>         (proposals by status; g/s/voting/ are the undecided)
//	g/d/<deadline u64be><proposal id>  (proposals still taking votes, by deadline)
//	g/v/<proposal id>/<elector>        VoteState
const (
	KeyGovernance        = "meta/governance"
	PrefixProposal       = "g/p/"
	PrefixProposalStatus = "g/s/"
	PrefixProposalDue    = "g/d/"
	PrefixVote           = "g/v/"
)

// Proposal is where proposal id (a record id) is stored.
func Proposal(id string) []byte { return Cat([]byte(PrefixProposal), rawID(id)) }

// ProposalStatusPrefix lists proposals with a status ("voting", "passed"...).
func ProposalStatusPrefix(status string) []byte { return []byte(PrefixProposalStatus + status + "/") }

// ProposalStatusIndex marks proposal id as having status.
func ProposalStatusIndex(status, id string) []byte {
	return Cat(ProposalStatusPrefix(status), rawID(id))
}

// ProposalDue orders a proposal that still takes votes by its deadline.
func ProposalDue(deadlineNano int64, id string) []byte {
	return Cat([]byte(PrefixProposalDue), Due(deadlineNano), rawID(id))
}

// VotePrefix lists the votes on proposal id.
func VotePrefix(id string) []byte { return Cat([]byte(PrefixVote), rawID(id), []byte("/")) }

// Vote is where elector's vote on proposal id is stored.
func Vote(id, elector string) []byte { return Cat(VotePrefix(id), []byte(elector)) }

// ProposalStatusName is the index name of a proposal status: PROPOSAL_STATUS_VOTING -> "voting".
func ProposalStatusName(s pb.ProposalStatus) string {
	return enum.Name(s)
}

// ProposalStatusByName is the inverse of ProposalStatusName.
func ProposalStatusByName(name string) (pb.ProposalStatus, bool) {
	v, ok := enum.Value(pb.ProposalStatus(0).Descriptor(), name)
	return pb.ProposalStatus(v), ok
}

// Evidence layout:
//
//	e/<committed height u64be>/<index u32be>   Evidence
//	eb/<member>/<committed height>/<index>    (evidence by member; empty value)
const (
	PrefixEvidence       = "e/"
	PrefixEvidenceMember = "eb/"
)

// EvidenceID names the index-th evidence committed at height.
func EvidenceID(height int64, index int) string { return fmt.Sprintf("%d-%d", height, index) }

// ParseEvidenceID reads an evidence id ("<height>-<index>", decimals
// without leading zeros).
func ParseEvidenceID(id string) (height int64, index int, ok bool) {
	h, i, found := strings.Cut(id, "-")
	if !found {
		return 0, 0, false
	}
	height, err1 := strconv.ParseInt(h, 10, 64)
	idx, err2 := strconv.ParseUint(i, 10, 20)
	if err1 != nil || err2 != nil || height < 1 || EvidenceID(height, int(idx)) != id {
		return 0, 0, false
	}
	return height, int(idx), true
}

func evidenceSuffix(height int64, index int) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(height))
	return binary.BigEndian.AppendUint32(b, uint32(index))
}

// Evidence is where evidence (committed at height, index) is stored.
func Evidence(height int64, index int) []byte {
	return Cat([]byte(PrefixEvidence), evidenceSuffix(height, index))
}

// EvidenceMemberPrefix lists a member's evidence.
func EvidenceMemberPrefix(member string) []byte { return []byte(PrefixEvidenceMember + member + "/") }

// EvidenceMember indexes evidence under its member.
func EvidenceMember(member string, height int64, index int) []byte {
	return Cat(EvidenceMemberPrefix(member), evidenceSuffix(height, index))
}

// Case layout (app version 10):
//
//	k/c/<case id 32 bytes>             CaseState
//	k/s/<stage>/<case id 32 bytes>     (cases by stage; value: the case id)
//	k/m/<party>/<case id 32 bytes>     (cases by party: complainant,
//	                                   co-complainants, respondent; value: the case id)
//
// A case's absence is proven by k/c/<id>'s; the cases of a member are
// provably complete from k/m/<member>/ (every entry, or a proof of the
// range's neighbours).
const (
	PrefixCase      = "k/c/"
	PrefixCaseStage = "k/s/"
	PrefixCaseParty = "k/m/"
)

// Case is where case id (its request's record id) is stored.
func Case(id string) []byte { return Cat([]byte(PrefixCase), rawID(id)) }

// CaseStagePrefix lists the cases at a stage ("requested", "closed"...).
func CaseStagePrefix(stage string) []byte { return []byte(PrefixCaseStage + stage + "/") }

// CaseStageIndex marks case id as being at stage.
func CaseStageIndex(stage, id string) []byte { return Cat(CaseStagePrefix(stage), rawID(id)) }

// CasePartyPrefix lists the cases member is a party to.
func CasePartyPrefix(member string) []byte { return []byte(PrefixCaseParty + member + "/") }

// CasePartyIndex marks member as a party to case id.
func CasePartyIndex(member, id string) []byte { return Cat(CasePartyPrefix(member), rawID(id)) }

// CaseStageName is the index name of a case stage: CASE_STAGE_REQUESTED -> "requested".
func CaseStageName(s pb.CaseStage) string { return enum.Name(s) }

// CaseStageByName is the inverse of CaseStageName.
func CaseStageByName(name string) (pb.CaseStage, bool) {
	v, ok := enum.Value(pb.CaseStage(0).Descriptor(), name)
	return pb.CaseStage(v), ok
}
