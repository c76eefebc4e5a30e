package ledger

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

type pbTime = timestamppb.Timestamp

// State is the read-only view of ledger state that Apply needs. Absent
// entries are (nil, nil) or zero values; an error means storage failed.
type State interface {
	Member(id string) (*pb.Member, error)
	// NextSequence is the sequence the member's next transaction must carry (1 for a new member).
	NextSequence(member string) (uint64, error)
	Record(id string) (*pb.StoredRecord, error)
	ContentSeen(author string, content [32]byte) (bool, error)
	RecordCount() (uint64, error)
	Obligation(id string) (*pb.Obligation, error)
	// PledgesOf lists the pledges member is a pledgor of, in ledger order.
	PledgesOf(member string) ([]*pb.StoredRecord, error)
	// OpenDueBefore lists open obligations due before t, by due time then id.
	OpenDueBefore(t time.Time) ([]*pb.Obligation, error)
	// Members lists every member, by id.
	Members() ([]*pb.Member, error)
	// GovernanceRules are the rules in force (the defaults if none were written).
	GovernanceRules() (*pb.GovernanceRules, error)
	Proposal(id string) (*pb.ProposalState, error)
	Vote(proposal, elector string) (*pb.VoteState, error)
	// Votes lists a proposal's votes by elector.
	Votes(proposal string) ([]*pb.VoteState, error)
	// UndecidedProposals lists the proposals still voting, by id.
	UndecidedProposals() ([]*pb.ProposalState, error)
	// OpenProposalsDueBefore lists proposals still taking votes whose
	// deadline is before t, by deadline then id.
	OpenProposalsDueBefore(t time.Time) ([]*pb.ProposalState, error)
	// Upgrade is the chain's software state (nil before the first plan).
	Upgrade() (*pb.UpgradeState, error)
	// Case is the case with this id (its request's record id), or nil.
	Case(id string) (*pb.CaseState, error)
}

// Block is the context a transaction is applied in. For CheckTx it describes
// the block the transaction is expected to land in.
type Block struct {
	ChainID string
	Height  int64
	Time    time.Time
	TxIndex uint32
	Params  *pb.Params
	// StartPowers is the validator set at the start of the block (from the
	// state the block builds on): no block may move more than a third of it.
	// Nil means the set in the state Apply reads.
	StartPowers Powers
	// Misbehavior is the validator misbehaviour consensus committed in this
	// block (FinalizeBlock's), in CometBFT's order.
	Misbehavior []Misbehavior
}

// Misbehavior is one piece of evidence CometBFT passes to FinalizeBlock.
type Misbehavior struct {
	Type             pb.MisbehaviorType
	Address          []byte // validator address (20 bytes)
	Power            int64
	Height           int64
	Time             time.Time
	TotalVotingPower int64
}

// Changes is what applying one valid transaction does to state.
type Changes struct {
	Record       *pb.StoredRecord
	ContentHash  [32]byte
	Subjects     []string    // sorted, unique member ids the record concerns
	Sectors      []pb.Sector // sorted, unique
	NextSequence uint64      // the author's new next sequence
	// References are the record ids the record refers to (sorted, unique).
	References []string
	// Pledgors, for a pledge, index it under each pledgor.
	Pledgors []string
	// Obligations created or changed, in the order they were touched.
	Obligations []*pb.Obligation
	// Evidence committed in the block (BeginBlock only).
	Evidence []*pb.Evidence
	// Governance: members created or changed (their whole new entry),
	// proposals created or changed, new votes, new params and rules.
	Members         []*pb.Member
	Proposals       []*pb.ProposalState
	Votes           []*pb.VoteState
	Params          *pb.Params
	GovernanceRules *pb.GovernanceRules
	// Upgrade is the new software state: a plan scheduled or cancelled, or
	// (BeginBlock only) applied.
	Upgrade *pb.UpgradeState
	// Cases: the new state of the case the record moved (app version 10).
	Cases []*pb.CaseState
}

// BeginBlock is what happens at the start of block b before its
// transactions, whether or not any transaction mentions it: obligations
// whose due time b's time has passed become overdue, and proposals whose
// deadline has passed close (an undecided one gets its final outcome and is
// executed if it passed). FinalizeBlock and the proposal checks run it
// first. The Changes carry no record.
func (reg *Registry) BeginBlock(st State, b Block) (*Changes, error) {
	if b.Params == nil {
		b.Params = DefaultParams()
	}
	overdue, err := Sweep(st, b)
	if err != nil {
		return nil, err
	}
	ob := &obligations{st: st, b: b, params: b.Params, changed: map[string]*pb.Obligation{}}
	for _, o := range overdue {
		ob.put(o)
	}
	g := newGovState(st, b)
	if err := g.closeDue(ob); err != nil {
		return nil, fmt.Errorf("close proposals: %w", err)
	}
	ch := &Changes{Obligations: ob.list()}
	g.fill(ch)
	ev, err := evidenceOf(st, b)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	ch.Evidence = ev
	// A software upgrade due at this height migrates the state first
	// thing; a binary without it stops here (UpgradeNeededError).
	if err := applyUpgrade(st, b, ch); err != nil {
		return nil, err
	}
	return ch, nil
}

// evidenceOf records block b's misbehaviour, each linked to the member that
// holds the validator key in the state the block builds on. Recording is
// all the ledger does: acting on it (suspension, a new key) takes a vote.
func evidenceOf(st State, b Block) ([]*pb.Evidence, error) {
	if len(b.Misbehavior) == 0 {
		return nil, nil
	}
	ms, err := st.Members()
	if err != nil {
		return nil, err
	}
	byAddr := map[string]string{}
	for _, m := range ms {
		if len(m.ValidatorPubKey) == ed25519.PubKeySize {
			byAddr[string(ed25519.PubKey(m.ValidatorPubKey).Address())] = m.Id
		}
	}
	out := make([]*pb.Evidence, 0, len(b.Misbehavior))
	for i, mb := range b.Misbehavior {
		out = append(out, &pb.Evidence{Id: layout.EvidenceID(b.Height, i), Type: mb.Type,
			ValidatorAddress: append([]byte(nil), mb.Address...), Member: byAddr[string(mb.Address)],
			ValidatorPower: mb.Power, TotalVotingPower: mb.TotalVotingPower, Height: mb.Height,
			Time: timestamppb.New(mb.Time), CommittedHeight: b.Height, CommittedTime: timestamppb.New(b.Time)})
	}
	return out, nil
}

// DefaultParams are the chain parameters used when genesis gives none.
func DefaultParams() *pb.Params {
	return &pb.Params{MaxTxBytes: DefaultMaxTxBytes, MaxClockSkewSeconds: 600, AckWindowHours: 24}
}

// Apply checks one raw transaction against state at block b and returns the
// changes it makes, or a rejection (*Error) that leaves state untouched, or an
// internal error (storage failure). It is pure and deterministic: the same
// state, bytes and block always give the same answer.
func (reg *Registry) Apply(st State, raw []byte, b Block) (*Changes, error) {
	params := b.Params
	if params == nil {
		params = DefaultParams()
	}
	// Bytes seen before (CheckTx, rechecks, the proposal checks) are not
	// decoded again: the size limit is the only check that depends on more
	// than the bytes.
	if err := checkTxSize(raw, int(params.MaxTxBytes)); err != nil {
		return nil, err
	}
	rawID := sha256.Sum256(raw)
	memo := reg.sigs.decoded(rawID)
	fresh := memo == nil
	if fresh {
		tx, err := DecodeTx(raw, int(params.MaxTxBytes))
		if err != nil {
			return nil, err
		}
		memo = &decodedTx{tx: tx}
	}
	tx := memo.tx
	body := tx.Body
	if err := checkAppVersion(st, body.Record); err != nil {
		return nil, err
	}
	if body.ChainId != b.ChainID {
		return nil, errf(CodeWrongChainID, "tx is for chain %q, this is %q", body.ChainId, b.ChainID)
	}
	v := &validator{reg: reg, st: st, blockTime: b.Time, skew: time.Duration(params.MaxClockSkewSeconds) * time.Second}
	if err := v.record(body.Record); err != nil {
		return nil, err
	}
	kind := reg.Kind(KindOf(body.Record))

	// Who signed, with which key, and does the signature hold?
	if !isMemberID(body.Signer) {
		return nil, errf(CodeUnknownSigner, "signer %q is not a member id", body.Signer)
	}
	signer, err := st.Member(body.Signer)
	if err != nil {
		return nil, fmt.Errorf("read member %q: %w", body.Signer, err)
	}
	if signer == nil {
		return nil, errf(CodeUnknownSigner, "signer %q is not a member", body.Signer)
	}
	if err := reg.sigs.checkSigMemo(signer, body, body.Signer, body.KeyId, tx.Signature, b.Height, &memo.signed, true); err != nil {
		return nil, err
	}
	if fresh {
		// Only what a member signed is remembered.
		reg.sigs.rememberTx(rawID, memo, len(raw))
	}

	// Replay protection: strictly the next sequence.
	next, err := st.NextSequence(body.Signer)
	if err != nil {
		return nil, fmt.Errorf("read sequence of %q: %w", body.Signer, err)
	}
	switch {
	case body.Sequence < next:
		return nil, errf(CodeReplay, "sequence %d of %q is already used (next is %d)", body.Sequence, body.Signer, next)
	case body.Sequence > next:
		return nil, errf(CodeSequenceGap, "sequence %d of %q is ahead of the next sequence %d", body.Sequence, body.Signer, next)
	}

	if ok, err := allowed(st, kind, signer.Class); err != nil {
		return nil, err
	} else if !ok {
		return nil, errf(CodeClassNotAllowed, "a %v may not file %s records", signer.Class, kind.Name)
	}
	if err := reg.checkCoSignatures(st, tx, b.Height); err != nil {
		return nil, err
	}

	a := &admission{reg: reg, st: st, signer: signer, author: body.Signer, b: b}
	for _, ref := range body.Record.Refs {
		if _, _, err := a.record("record.refs", ref); err != nil {
			return nil, err
		}
	}
	if err := kind.Admit(a, body.Record); err != nil {
		return nil, err
	}

	var content [32]byte
	if c := memo.content.Load(); c != nil {
		content = *c
	} else {
		if content, err = ContentHash(body.Record); err != nil {
			return nil, err
		}
		memo.content.Store(&content)
	}
	seen, err := st.ContentSeen(body.Signer, content)
	if err != nil {
		return nil, fmt.Errorf("read content index: %w", err)
	}
	if seen {
		return nil, errf(CodeDuplicateRecord, "%q already filed a record with this content", body.Signer)
	}

	count, err := st.RecordCount()
	if err != nil {
		return nil, fmt.Errorf("read record count: %w", err)
	}
	id := hex.EncodeToString(rawID[:])
	ob := &obligations{st: st, b: b, params: params, record: id, author: body.Signer, changed: map[string]*pb.Obligation{}}
	if err := ob.apply(body.Record); err != nil {
		return nil, fmt.Errorf("derive obligations: %w", err)
	}
	cs, err := ob.caseChange(st, body.Record)
	if err != nil {
		return nil, fmt.Errorf("case: %w", err)
	}
	g := newGovState(st, b)
	if err := g.applyRecord(id, body.Signer, body.Record, ob); err != nil {
		return nil, fmt.Errorf("governance: %w", err)
	}
	var pledgors []string
	if p := body.Record.GetPledge(); p != nil {
		pledgors = sortedUnique(p.Pledgors)
	}
	ch := &Changes{
		References:  sortedUnique(append(a.refs, body.Record.Refs...)),
		Pledgors:    pledgors,
		Obligations: ob.list(),
		Record: &pb.StoredRecord{
			Id:        id,
			Seq:       count + 1,
			Height:    b.Height,
			BlockTime: timestamppb.New(b.Time),
			TxIndex:   b.TxIndex,
			Kind:      kind.Enum,
			Author:    body.Signer,
			Tx:        append([]byte(nil), raw...),
		},
		ContentHash:  content,
		Subjects:     sortedUnique(a.subjects),
		Sectors:      sortedUnique(a.sectors),
		NextSequence: next + 1,
	}
	if cs != nil {
		ch.Cases = []*pb.CaseState{cs}
	}
	g.fill(ch)
	return ch, nil
}

// checkSig verifies one signature by member m with keyID over body, as a
// verifier does: the key must be valid at height (valid_from/valid_until).
func checkSig(m *pb.Member, body *pb.TxBody, signer, keyID string, sig []byte, height int64) error {
	return (*SigCache)(nil).checkSigMemo(m, body, signer, keyID, sig, height, nil, false)
}

// checkSig is the admission check with memoised ed25519 verification.
func (c *SigCache) checkSig(m *pb.Member, body *pb.TxBody, signer, keyID string, sig []byte, height int64) error {
	return c.checkSigMemo(m, body, signer, keyID, sig, height, nil, true)
}

// checkSigMemo is checkSig for a transaction whose decodedTx records the key
// its signature verified with (signed): the same key needs no new
// verification, but every check of the key's state at this height still
// runs. admit adds what only new records need: an active member and an
// active key (a rotated or revoked key keeps verifying what it signed while
// it was valid, but signs nothing new).
func (c *SigCache) checkSigMemo(m *pb.Member, body *pb.TxBody, signer, keyID string, sig []byte, height int64, signed *atomic.Pointer[[]byte], admit bool) error {
	if admit && m.Status != pb.MemberStatus_MEMBER_STATUS_ACTIVE {
		return errf(CodeMemberInactive, "member %q is %v", m.Id, m.Status)
	}
	key := findKey(m, keyID)
	if key == nil {
		return errf(CodeUnknownKey, "member %q has no key %q", m.Id, keyID)
	}
	if admit && key.Status != pb.KeyStatus_KEY_STATUS_ACTIVE {
		return errf(CodeKeyInactive, "key %q of %q is %v", keyID, m.Id, key.Status)
	}
	if height < key.ValidFromHeight || (key.ValidUntilHeight != 0 && height > key.ValidUntilHeight) {
		return errf(CodeKeyInactive, "key %q of %q is not valid at height %d (valid from %d to %d)", keyID, m.Id, height,
			key.ValidFromHeight, key.ValidUntilHeight)
	}
	if len(sig) != ed25519.SignatureSize {
		return errf(CodeBadSignature, "signature of %q is %d bytes, want %d", signer, len(sig), ed25519.SignatureSize)
	}
	if signed != nil {
		if pub := signed.Load(); pub != nil && bytes.Equal(*pub, key.PubKey) {
			return nil
		}
	}
	msg, err := SignBytes(body, signer, keyID)
	if err != nil {
		return err
	}
	if !c.verify(key.PubKey, msg, sig) {
		return errf(CodeBadSignature, "signature of %q with key %q does not verify", signer, keyID)
	}
	if signed != nil {
		pub := append([]byte(nil), key.PubKey...)
		signed.Store(&pub)
	}
	return nil
}

// VerifySignatures checks every signature of tx (primary and co-signers)
// against the members' keys, which must be valid at height (the record's
// height; pass the member entries the record was admitted against, from the
// state before its block). It lets verifiers and auditors re-check records
// without trusting the node. Member and key status are admission rules,
// not checked here: a key rotated or revoked later still verifies what it
// signed while valid (see Flags for keys revoked as compromised).
func VerifySignatures(members func(id string) (*pb.Member, error), tx *pb.Tx, height int64) error {
	m, err := members(tx.Body.Signer)
	if err != nil {
		return err
	}
	if m == nil {
		return errf(CodeUnknownSigner, "signer %q is not a member", tx.Body.Signer)
	}
	if err := checkSig(m, tx.Body, tx.Body.Signer, tx.Body.KeyId, tx.Signature, height); err != nil {
		return err
	}
	for _, cs := range tx.CoSignatures {
		m, err := members(cs.Signer)
		if err != nil {
			return err
		}
		if m == nil {
			return errf(CodeUnknownSigner, "co-signer %q is not a member", cs.Signer)
		}
		if err := checkSig(m, tx.Body, cs.Signer, cs.KeyId, cs.Signature, height); err != nil {
			return err
		}
	}
	return nil
}

// requiredCoSigners lists who besides the signer must sign: the other
// pledgors of a pledge (also when a pledge is amended).
func requiredCoSigners(st State, r *pb.Record, signer string) ([]string, error) {
	if s := r.GetCaseStep(); s != nil {
		cs, err := caseCoSigners(st, s, signer)
		out := slices.Clone(cs)
		sort.Strings(out)
		return out, err
	}
	body := r
	if am := r.GetAmendment(); am != nil {
		body = am.GetReplacement()
	} else if rv := r.GetReveal(); rv != nil {
		body = rv.GetBody()
	}
	var pledgors []string
	switch {
	case r.GetPledge() != nil || r.GetAmendment().GetReplacement().GetPledge() != nil:
		pledgors = body.GetPledge().GetPledgors()
	case body.GetHarmAssessment() != nil:
		// Joint assessments and attributions (app version 12).
		pledgors = body.GetHarmAssessment().GetCoAssessors()
	case body.GetAttribution() != nil:
		pledgors = body.GetAttribution().GetCoAttributors()
	}
	// An amendment of a joint assessment or an attribution is signed again
	// by everyone who signed the original too: the author cannot drop a
	// co-assessor's dissent or a co-attributor alone.
	if am := r.GetAmendment(); am != nil && (body.GetHarmAssessment() != nil || body.GetAttribution() != nil) {
		target, err := st.Record(am.TargetId)
		if err != nil {
			return nil, fmt.Errorf("read record %s: %w", am.TargetId, err)
		}
		if target != nil {
			ttx := new(pb.Tx)
			if err := proto.Unmarshal(target.Tx, ttx); err != nil {
				return nil, fmt.Errorf("stored record %s: %w", am.TargetId, err)
			}
			tr := ttx.GetBody().GetRecord()
			pledgors = append(append([]string(nil), pledgors...), tr.GetHarmAssessment().GetCoAssessors()...)
			pledgors = append(pledgors, tr.GetAttribution().GetCoAttributors()...)
			pledgors = sortedUnique(pledgors)
		}
	}
	var out []string
	for _, p := range pledgors {
		if p != signer {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (reg *Registry) checkCoSignatures(st State, tx *pb.Tx, height int64) error {
	want, err := requiredCoSigners(st, tx.Body.Record, tx.Body.Signer)
	if err != nil {
		return fmt.Errorf("co-signers: %w", err)
	}
	got := tx.CoSignatures
	if len(got) != len(want) {
		return errf(CodeCoSignature, "tx has %d co-signatures, the record needs %d (%v)", len(got), len(want), want)
	}
	for i, cs := range got {
		if cs.Signer != want[i] {
			return errf(CodeCoSignature, "co-signature %d is by %q, want %q (co-signatures are sorted by member id)", i, cs.Signer, want[i])
		}
		m, err := st.Member(cs.Signer)
		if err != nil {
			return fmt.Errorf("read member %q: %w", cs.Signer, err)
		}
		if m == nil {
			return errf(CodeUnknownSigner, "co-signer %q is not a member", cs.Signer)
		}
		if err := reg.sigs.checkSig(m, tx.Body, cs.Signer, cs.KeyId, cs.Signature, height); err != nil {
			return err
		}
	}
	return nil
}

// record checks the fields every record has, then its kind's body.
func (v *validator) record(r *pb.Record) error {
	if r.SchemaVersion == 0 {
		return errf(CodeMissingField, "record.schema_version is required")
	}
	if r.SchemaVersion != CurrentSchemaVersion {
		return errf(CodeUnsupportedSchema, "record.schema_version %d is not supported (want %d)", r.SchemaVersion, CurrentSchemaVersion)
	}
	if err := recordIDs("record.refs", r.Refs, 0, MaxRefs); err != nil {
		return err
	}
	if err := enumOpt("record.tlp", r.Tlp); err != nil {
		return err
	}
	if err := v.past("record.client_time", r.ClientTime, false); err != nil {
		return err
	}
	k := v.reg.Kind(KindOf(r))
	if k == nil {
		return errf(CodeEmptyBody, "record has no body")
	}
	if err := checkExercise(r); err != nil {
		return err
	}
	outer := v.held
	defer func() { v.held = outer }()
	v.held = nil
	if r.Redaction != nil {
		held, err := validateRedaction(r)
		if err != nil {
			return err
		}
		v.held = held
	}
	return k.Validate(v, r)
}

// admission carries what Admit functions need and collects index terms.
type admission struct {
	reg      *Registry
	st       State
	b        Block
	signer   *pb.Member
	author   string
	subjects []string
	sectors  []pb.Sector
	refs     []string // record ids the record refers to
}

func (a *admission) subject(ids ...string) { a.subjects = append(a.subjects, ids...) }
func (a *admission) sector(s ...pb.Sector) { a.sectors = append(a.sectors, s...) }
func (a *admission) admitBody(r *pb.Record) error {
	k := a.reg.Kind(KindOf(r))
	if ok, err := allowed(a.st, k, a.signer.Class); err != nil {
		return err
	} else if !ok {
		return errf(CodeClassNotAllowed, "a %v may not file %s records", a.signer.Class, k.Name)
	}
	return k.Admit(a, r)
}

// member loads a referenced member that must exist, be active and, if classes
// are given, be of one of them.
func (a *admission) member(field, id string, classes ...pb.MemberClass) (*pb.Member, error) {
	m, err := a.st.Member(id)
	if err != nil {
		return nil, fmt.Errorf("read member %q: %w", id, err)
	}
	if m == nil {
		return nil, errf(CodeUnknownMember, "%s: %q is not a member", field, id)
	}
	if m.Status != pb.MemberStatus_MEMBER_STATUS_ACTIVE {
		return nil, errf(CodeUnknownMember, "%s: member %q is %v", field, id, m.Status)
	}
	if len(classes) > 0 {
		if !slices.Contains(classes, m.Class) {
			return nil, errf(CodeUnknownMember, "%s: member %q is a %v, want %v", field, id, m.Class, classes)
		}
	}
	return m, nil
}

// record loads a referenced record that must exist and, if kinds are given,
// be of one of them; it returns the stored record and its decoded tx.
func (a *admission) record(field, id string, kinds ...pb.RecordKind) (*pb.StoredRecord, *pb.Tx, error) {
	rec, err := a.st.Record(id)
	if err != nil {
		return nil, nil, fmt.Errorf("read record %s: %w", id, err)
	}
	if rec == nil {
		return nil, nil, errf(CodeUnknownRecord, "%s: record %s does not exist", field, id)
	}
	a.refs = append(a.refs, id)
	if len(kinds) > 0 {
		if !slices.Contains(kinds, rec.Kind) {
			return nil, nil, errf(CodeWrongRecordKind, "%s: record %s is a %v, want %v", field, id, rec.Kind, kinds)
		}
	}
	tx := new(pb.Tx)
	if err := proto.Unmarshal(rec.Tx, tx); err != nil {
		return nil, nil, fmt.Errorf("stored record %s does not decode: %w", id, err)
	}
	return rec, tx, nil
}

// own loads a referenced record that the signer authored.
func (a *admission) own(field, id string, kinds ...pb.RecordKind) (*pb.StoredRecord, error) {
	rec, _, err := a.ownTx(field, id, kinds...)
	return rec, err
}

func (a *admission) ownTx(field, id string, kinds ...pb.RecordKind) (*pb.StoredRecord, *pb.Tx, error) {
	rec, tx, err := a.record(field, id, kinds...)
	if err != nil {
		return nil, nil, err
	}
	if rec.Author != a.author {
		return nil, nil, errf(CodeNotAuthor, "%s: record %s is by %q, only its author may do this", field, id, rec.Author)
	}
	return rec, tx, nil
}

// sortedUnique is a sorted copy of s without repeats; nil when s is empty
// (Changes keep absent lists nil).
func sortedUnique[T cmp.Ordered](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
