// Package jsonapi is the browser verifier's API: package verifiers behind
// functions that take one JSON string (the request) and return one JSON
// string (the result), synchronously. cmd/verifier-wasm compiles it to
// WebAssembly (GOOS=js GOARCH=wasm, scripts/wasm.sh) and binds each
// function to the global object normledgerVerifier, so a web page checks
// the node's answers with the same code as the CLI verifier. It does no
// I/O and reads no clock: the page fetches the answers and passes them in.
//
//	verifyHeaders(req)    light blocks from a trust root (genesis or a header):
//	                      app hash, header hash and block time by height
//	verifyRecord(req)     GET /v1/records/{id}?prove=true
//	verifyMember(req)     GET /v1/members/{id}?prove=true; given "at" (a block
//	                      time), also the entry's contact status then
//	                      (ledger.ContactStatusAt, as GET /v1/directory says it)
//	verifyObligation(req) GET /v1/obligations/{id}?prove=true
//	verifyAbsence(req)    the 404 of GET /v1/records/{id}?prove=true
//	version()
//
// Every result has "ok" (bool) and "reason" (why not, when ok is false).
// The functions never throw: bad input, and any panic, give ok false.
//
// It is plain Go with no build tags, tested natively and under js/wasm.
// Allowed imports: verifiers, ledger (the pure rules, which verifiers links
// already: ContactStatusAt), proto/gen (messages), protobuf.
package jsonapi

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// APIVersion changes when a request or result changes incompatibly.
const APIVersion = 1

// Version is the build's version (scripts/wasm.sh sets it with -X).
var Version = "dev"

// api is the functions normledgerVerifier exposes, by name.
var api = map[string]func(req []byte) any{
	"verifyHeaders":    verifyHeaders,
	"verifyRecord":     verifyRecord,
	"verifyMember":     verifyMember,
	"verifyObligation": verifyObligation,
	"verifyAbsence":    verifyAbsence,
	"verifyCase":       verifyCase,
	"verifyProposal":   verifyProposal,
	"version":          versionInfo,
}

// functions are the API's function names, sorted.
var functions []string

func init() {
	for n := range api {
		functions = append(functions, n)
	}
	sort.Strings(functions)
}

// Names are the API's function names, sorted.
func Names() []string { return append([]string(nil), functions...) }

// result is what every answer carries.
type result struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason"`
}

// Failure is the result that says ok false for reason.
func Failure(reason string) string {
	bz, _ := json.Marshal(result{Reason: reason})
	return string(bz)
}

// Call runs the function name on a request and answers its result as
// JSON. It never panics.
func Call(name, req string) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = Failure(fmt.Sprintf("internal error in %s: %v", name, r))
		}
	}()
	fn, ok := api[name]
	if !ok {
		return Failure(fmt.Sprintf("no function %q", name))
	}
	bz, err := json.Marshal(fn([]byte(req)))
	if err != nil {
		return Failure(fmt.Sprintf("internal error in %s: %v", name, err))
	}
	return string(bz)
}

// decode reads a request strictly: one JSON object, no unknown fields.
func decode(req []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(req))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("the request does not decode: %v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("the request does not decode: data after the JSON object")
	}
	return nil
}

// hexBytes is a hex string (either case).
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(bz []byte) error {
	if string(bz) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(bz, &s); err != nil {
		return fmt.Errorf("want a hex string: %v", err)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%q is not hex", s)
	}
	*h = b
	return nil
}

// b64Bytes is base64, standard or URL-safe, padded or not (protojson
// writes standard with padding).
type b64Bytes []byte

func (b *b64Bytes) UnmarshalJSON(bz []byte) error {
	if string(bz) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(bz, &s); err != nil {
		return fmt.Errorf("want a base64 string: %v", err)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if out, err := enc.DecodeString(s); err == nil {
			*b = out
			return nil
		}
	}
	return errors.New("a string is not base64")
}

// jsonInt is an integer given as a JSON number or, as protojson writes
// int64 fields, a string.
type jsonInt int64

func (n *jsonInt) UnmarshalJSON(bz []byte) error {
	if string(bz) == "null" {
		return nil
	}
	s := strings.Trim(string(bz), `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an integer", bz)
	}
	*n = jsonInt(v)
	return nil
}

var restJSON = protojson.UnmarshalOptions{DiscardUnknown: true}

// answer decodes a REST answer (protojson) into m; null or nothing is no
// answer (false).
func answer(raw json.RawMessage, m proto.Message) (bool, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return false, nil
	}
	if err := restJSON.Unmarshal(raw, m); err != nil {
		return false, fmt.Errorf("the answer does not decode: %v", err)
	}
	return true, nil
}

// display is a verified message as JSON for showing (protojson, as the
// REST API writes it).
func display(m proto.Message) json.RawMessage {
	bz, err := protojson.Marshal(m)
	if err != nil {
		return nil
	}
	return bz
}

const clockNote = "No clock is read: unlike CometBFT's light client, the trusting period (how old the trust root may be) " +
	"and headers from the future are not checked, so a trust root must be recent for the result to mean the chain is current."

// headersRequest is verifyHeaders' request.
type headersRequest struct {
	// Trust is {"genesisHash": hex} (with genesisJson) or {"height": n,
	// "hash": hex} (the first light block must be that header).
	Trust struct {
		GenesisHash hexBytes `json:"genesisHash"`
		Height      jsonInt  `json:"height"`
		Hash        hexBytes `json:"hash"`
	} `json:"trust"`
	// GenesisJSON is genesisJson of GET /v1/genesis: the document's exact
	// bytes, base64.
	GenesisJSON b64Bytes `json:"genesisJson"`
	// ChainID, if given, must be the headers' chain id.
	ChainID string `json:"chainId"`
	// LightBlocks are lightBlock of GET /v1/light_blocks/{h} (protobuf
	// tendermint.types.LightBlock, base64), in ascending height.
	LightBlocks []b64Bytes `json:"lightBlocks"`
}

type headersResult struct {
	result
	ChainID string `json:"chainId,omitempty"`
	// The headers verified (before the failure, if ok is false: those
	// are verified all the same), and by height their app hash (which
	// commits to the state of height-1), hash and block time (RFC 3339,
	// UTC, to the nanosecond: the time GET /v1/directory judges the state
	// of that height by, and verifyMember's "at").
	VerifiedHeights []int64           `json:"verifiedHeights"`
	AppHashes       map[string]string `json:"appHashes"`
	HeaderHashes    map[string]string `json:"headerHashes"`
	HeaderTimes     map[string]string `json:"headerTimes"`
	// NeedIntermediate is [a, b] when header b could not be trusted from
	// header a (a is the genesis' initial height - 1 for the genesis
	// validators): verify a header between them first.
	NeedIntermediate []int64 `json:"needIntermediate,omitempty"`
	// TrustingPeriodChecked is always false (see Note).
	TrustingPeriodChecked bool   `json:"trustingPeriodChecked"`
	Note                  string `json:"note"`
}

// verifyHeaders checks light blocks with verifiers.VerifyHeaders (CometBFT
// skipping verification, trust level 1/3, without a clock).
func verifyHeaders(req []byte) any {
	out := &headersResult{VerifiedHeights: []int64{}, AppHashes: map[string]string{}, HeaderHashes: map[string]string{},
		HeaderTimes: map[string]string{}, Note: clockNote}
	var r headersRequest
	if err := decode(req, &r); err != nil {
		out.Reason = err.Error()
		return out
	}
	trust := verifiers.HeaderTrust{ChainID: r.ChainID}
	byGenesis := len(r.Trust.GenesisHash) != 0
	byHeader := r.Trust.Height != 0 || len(r.Trust.Hash) != 0
	switch {
	case byGenesis && byHeader:
		out.Reason = "trust: give either genesisHash or height and hash, not both"
		return out
	case byGenesis:
		if len(r.Trust.GenesisHash) != 32 {
			out.Reason = "trust.genesisHash: want 32 bytes of hex (SHA-256)"
			return out
		}
		if len(r.GenesisJSON) == 0 {
			out.Reason = "trust.genesisHash needs genesisJson, the genesis document's bytes"
			return out
		}
		gen, err := verifiers.GenesisFromJSON(r.GenesisJSON, r.Trust.GenesisHash)
		if err != nil {
			out.Reason = err.Error()
			return out
		}
		trust.Genesis = gen
	case byHeader:
		if r.Trust.Height <= 0 || len(r.Trust.Hash) != 32 {
			out.Reason = "trust: want a positive height and a 32-byte hex hash"
			return out
		}
		trust.Height, trust.Hash = int64(r.Trust.Height), r.Trust.Hash
	default:
		out.Reason = "no trust root: give trust.genesisHash (with genesisJson) or trust.height and trust.hash"
		return out
	}
	raw := make([][]byte, len(r.LightBlocks))
	for i, b := range r.LightBlocks {
		raw[i] = b
	}
	blocks, err := verifiers.DecodeLightBlocks(raw)
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	verified, err := verifiers.VerifyHeaders(trust, blocks)
	for _, lb := range verified {
		h := strconv.FormatInt(lb.Height, 10)
		out.VerifiedHeights = append(out.VerifiedHeights, lb.Height)
		out.AppHashes[h] = fmt.Sprintf("%X", lb.AppHash)
		out.HeaderHashes[h] = fmt.Sprintf("%X", lb.Hash())
		out.HeaderTimes[h] = lb.Time.UTC().Format(time.RFC3339Nano)
		out.ChainID = lb.ChainID
	}
	if err != nil {
		var gap *verifiers.TrustGapError
		if errors.As(err, &gap) {
			out.NeedIntermediate = []int64{gap.From, gap.To}
		}
		out.Reason = err.Error()
		return out
	}
	out.OK = true
	return out
}

// answerRequest is the request of verifyRecord, verifyMember,
// verifyObligation and verifyAbsence.
type answerRequest struct {
	// AppHash is the app hash of header answer.height+1 (appHashes of
	// verifyHeaders).
	AppHash hexBytes `json:"appHash"`
	ID      string   `json:"id"`
	// Answer is the REST answer's JSON, as the API returned it.
	Answer json.RawMessage `json:"answer"`
	// At (verifyMember only, optional) is a block time, RFC 3339 (the
	// headerTimes of verifyHeaders for header answer.height): the result
	// then has the proven entry's contact status at that time.
	At *string `json:"at"`
	// Members (verifyRecord only, optional) are the record's signers'
	// entries at the state its signatures are checked against: for each
	// of the result's signers, in order, GET /v1/members/{signer}?height=
	// {memberHeight}&prove=true, with the app hash of header
	// memberHeight+1.
	Members []memberEntry `json:"members"`
	// Disclosures (verifyRecord only, optional) is a DisclosureBundle in
	// protobuf JSON that the viewer holds (docs/disclosure.md): each value
	// is checked against its digest in the verified record. It never
	// leaves the viewer's machine.
	Disclosures json.RawMessage `json:"disclosures"`
}

type memberEntry struct {
	AppHash hexBytes        `json:"appHash"`
	Answer  json.RawMessage `json:"answer"`
}

type recordResult struct {
	result
	// Record is the verified record (protojson, with its decoded
	// transaction and signers).
	Record json.RawMessage `json:"record,omitempty"`
	// Height is the state the answer was read at (its app hash is in
	// header height+1), and the record log as proven there.
	Height   int64   `json:"height,omitempty"`
	LogIndex *uint64 `json:"logIndex,omitempty"`
	LogSize  uint64  `json:"logSize,omitempty"`
	LogRoot  string  `json:"logRoot,omitempty"`
	// Signers sign the record; their keys are checked against their member
	// entries at memberHeight when the request gives them
	// (signaturesChecked).
	Signers           []string `json:"signers,omitempty"`
	MemberHeight      int64    `json:"memberHeight,omitempty"`
	SignaturesChecked bool     `json:"signaturesChecked"`
	// Withheld are the record's withheld fields; Disclosed the values the
	// request's disclosures opened (each proven by its digest), and
	// withheld then lists only the fields they leave closed.
	Withheld  []string                   `json:"withheld,omitempty"`
	Disclosed []verifiers.DisclosedField `json:"disclosed,omitempty"`
}

// verifyRecord checks a record answer with verifiers.RecordWithLog (the
// check verifiers.Record and the CLI verifier make) and, given the
// signers' member entries, their signatures (verifiers.Member and
// Signatures).
func verifyRecord(req []byte) any {
	out := &recordResult{}
	r, resp, err := readAnswer(req, withMembers|withDisclosures, new(pb.GetRecordResponse))
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	rec, ls, err := verifiers.RecordWithLog(r.AppHash, r.ID, resp)
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	signers, err := verifiers.Signers(rec)
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	mh := verifiers.MemberHeight(rec.Height)
	if r.Members != nil {
		if err := signatures(rec, signers, mh, r.Members); err != nil {
			out.Reason = err.Error()
			return out
		}
		out.SignaturesChecked = true
	}
	if err := disclosed(out, rec, r.Disclosures); err != nil {
		out.Reason = err.Error()
		return out
	}
	out.OK = true
	out.Record = display(rec)
	index := rec.Seq - 1
	out.Height, out.LogIndex, out.LogSize, out.LogRoot = resp.Height, &index, ls.Size, fmt.Sprintf("%X", ls.Root)
	out.Signers, out.MemberHeight = signers, mh
	return out
}

// signatures checks rec's signatures against its signers' member entries
// at height mh, one per signer in order.
func signatures(rec *pb.StoredRecord, signers []string, mh int64, entries []memberEntry) error {
	if len(entries) != len(signers) {
		return verifiers.Failf("%d member entries for the record's %d signers %v", len(entries), len(signers), signers)
	}
	members := map[string]*pb.Member{}
	for i, e := range entries {
		mr := new(pb.GetMemberResponse)
		ok, err := answer(e.Answer, mr)
		if err != nil {
			return fmt.Errorf("member entry %d: %v", i, err)
		}
		if !ok {
			return verifiers.Failf("member entry %d is empty", i)
		}
		if mr.Height != mh {
			return verifiers.Failf("the member entry of %s is at height %d, the record's signatures are checked at %d", signers[i], mr.Height, mh)
		}
		m, err := verifiers.Member(e.AppHash, signers[i], mr)
		if err != nil {
			return err
		}
		members[m.Id] = m
	}
	return verifiers.Signatures(rec, members)
}

type memberResult struct {
	result
	Member json.RawMessage `json:"member,omitempty"`
	Height int64           `json:"height,omitempty"`
	// Contact (with "at" only) is the proven entry's contact status at
	// that time (a normledger.v1.ContactStatus, as GET /v1/directory
	// lists them): whether it is stale, why, and since when confirmed.
	Contact json.RawMessage `json:"contact,omitempty"`
}

// verifyMember checks a member answer with verifiers.Member and, given a
// block time, computes the proven entry's contact status then with
// ledger.ContactStatusAt.
func verifyMember(req []byte) any {
	out := &memberResult{}
	r, resp, err := readAnswer(req, withAt, new(pb.GetMemberResponse))
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	var at time.Time
	if r.At != nil {
		if at, err = time.Parse(time.RFC3339, *r.At); err != nil {
			out.Reason = fmt.Sprintf("at: %q is not an RFC 3339 time", *r.At)
			return out
		}
	}
	m, err := verifiers.Member(r.AppHash, r.ID, resp)
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	out.OK, out.Member, out.Height = true, display(m), resp.Height
	if r.At != nil {
		out.Contact = display(ledger.ContactStatusAt(m, at))
	}
	return out
}

type obligationResult struct {
	result
	Obligation json.RawMessage `json:"obligation,omitempty"`
	Height     int64           `json:"height,omitempty"`
}

// verifyObligation checks an obligation answer with verifiers.Obligation.
func verifyObligation(req []byte) any {
	out := &obligationResult{}
	r, resp, err := readAnswer(req, 0, new(pb.GetObligationResponse))
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	o, err := verifiers.Obligation(r.AppHash, r.ID, resp)
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	out.OK, out.Obligation, out.Height = true, display(o), resp.Height
	return out
}

type proposalResult struct {
	result
	// Proposal is the proven proposal state; Votes the proven votes, in
	// electorate order (an elector without one is proven not to have voted).
	Proposal json.RawMessage   `json:"proposal,omitempty"`
	Votes    []json.RawMessage `json:"votes,omitempty"`
	Height   int64             `json:"height,omitempty"`
}

// verifyProposal checks a proposal answer (GET /v1/proposals/{id}?prove=true)
// with verifiers.Proposal: the proposal state and every elector's vote or
// its absence (app version 12's collective statements are proposals).
func verifyProposal(req []byte) any {
	out := &proposalResult{}
	r, resp, err := readAnswer(req, 0, new(pb.GetProposalResponse))
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	p, votes, err := verifiers.Proposal(r.AppHash, r.ID, resp)
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	out.OK, out.Proposal, out.Height = true, display(p), resp.Height
	for _, v := range votes {
		out.Votes = append(out.Votes, display(v))
	}
	return out
}

type caseResult struct {
	result
	// Case is the proven case (absent: its absence is proven, ok true).
	Case        json.RawMessage   `json:"case,omitempty"`
	Obligations []json.RawMessage `json:"obligations,omitempty"`
	Absent      bool              `json:"absent,omitempty"`
	Height      int64             `json:"height,omitempty"`
	// NoReply (with at, the block time of height from a verified header):
	// the respondent's reply duty is unmet and at is at or after its due
	// time, so no reply was accepted in time.
	NoReply bool `json:"noReply,omitempty"`
}

// verifyCase checks a case answer (GET /v1/cases/{id}?prove=true, or the
// 404's details for an absent case) with verifiers.Case.
func verifyCase(req []byte) any {
	out := &caseResult{}
	var r answerRequest
	if err := decodeAnswer(req, &r, withAt); err != nil {
		out.Reason = err.Error()
		return out
	}
	resp := new(pb.GetCaseResponse)
	if ok, err := fromDetails(r.Answer, resp); err != nil || !ok {
		out.Reason = fmt.Sprintf("%v", err)
		if err == nil {
			out.Reason = "the answer is null"
		}
		return out
	}
	var at time.Time
	if r.At != nil {
		var err error
		if at, err = time.Parse(time.RFC3339, *r.At); err != nil {
			out.Reason = fmt.Sprintf("at: %q is not an RFC 3339 time", *r.At)
			return out
		}
	}
	c, obs, err := verifiers.Case(r.AppHash, r.ID, resp)
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	out.OK, out.Height = true, resp.Height
	if c == nil {
		out.Absent = true
		return out
	}
	out.Case = display(c)
	for _, o := range obs {
		out.Obligations = append(out.Obligations, display(o))
		if r.At != nil && o.Kind == pb.ObligationKind_OBLIGATION_KIND_REPLY_CONSULTATION && ledger.UnmetAt(o, at) {
			out.NoReply = true
		}
	}
	return out
}

type absenceResult struct {
	result
	// Absent: no record id exists at height (ok is true only then).
	Absent bool  `json:"absent"`
	Height int64 `json:"height,omitempty"`
}

// verifyAbsence checks a proof that a record does not exist with
// verifiers.Absence. The answer is the 404's body (a google.rpc.Status
// whose details carry the proof) or that detail alone.
func verifyAbsence(req []byte) any {
	out := &absenceResult{}
	var r answerRequest
	if err := decodeAnswer(req, &r, 0); err != nil {
		out.Reason = err.Error()
		return out
	}
	resp, err := absenceAnswer(r.Answer)
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	if err := verifiers.Absence(r.AppHash, r.ID, resp); err != nil {
		out.Reason = err.Error()
		return out
	}
	out.OK, out.Absent, out.Height = true, true, resp.Height
	return out
}

// absenceAnswer finds the GetRecordResponse in a 404 body, or decodes the
// answer as one; nil if there is none.
func absenceAnswer(raw json.RawMessage) (*pb.GetRecordResponse, error) {
	resp := new(pb.GetRecordResponse)
	if ok, err := fromDetails(raw, resp); err != nil || !ok {
		return nil, err
	}
	return resp, nil
}

// fromDetails decodes an answer into resp: the answer itself, or a 404
// body (a google.rpc.Status) whose details carry one (an absence proof).
func fromDetails(raw json.RawMessage, resp proto.Message) (bool, error) {
	var body struct {
		Details []json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Details == nil {
		return answer(raw, resp)
	}
	want := string(resp.ProtoReflect().Descriptor().FullName())
	for _, d := range body.Details {
		var head struct {
			Type string `json:"@type"`
		}
		if json.Unmarshal(d, &head) != nil || !strings.HasSuffix(head.Type, "/"+want) {
			continue
		}
		a := new(anypb.Any)
		if err := restJSON.Unmarshal(d, a); err != nil {
			return false, fmt.Errorf("the 404's absence proof does not decode: %v", err)
		}
		if err := a.UnmarshalTo(resp); err != nil {
			return false, fmt.Errorf("the 404's absence proof does not decode: %v", err)
		}
		return true, nil
	}
	return false, verifiers.Failf("the 404 carries no absence proof (ask with prove=true)")
}

// The fields of answerRequest that only one function takes.
const (
	withMembers     = 1 << iota // members: verifyRecord
	withAt                      // at: verifyMember, verifyCase
	withDisclosures             // disclosures: verifyRecord
)

// disclosed lists a verified record's withheld fields and checks the
// request's disclosures, if any, against their digests.
func disclosed(out *recordResult, rec *pb.StoredRecord, raw json.RawMessage) error {
	tx := new(pb.Tx)
	if err := proto.Unmarshal(rec.Tx, tx); err != nil {
		return err
	}
	if red := ledger.RedactedRecord(tx); red != nil {
		for _, f := range red.Redaction.Fields {
			out.Withheld = append(out.Withheld, f.Path)
		}
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	b := new(pb.DisclosureBundle)
	if err := protojson.Unmarshal(raw, b); err != nil {
		return fmt.Errorf("disclosures do not decode: %v", err)
	}
	var err error
	out.Disclosed, out.Withheld, err = verifiers.Disclosures(rec, b)
	return err
}

// readAnswer decodes an answer request (with the optional fields allow
// names) and its answer into resp, which it returns nil when the answer is
// null.
func readAnswer[R proto.Message](req []byte, allow int, resp R) (answerRequest, R, error) {
	var r answerRequest
	var none R
	if err := decodeAnswer(req, &r, allow); err != nil {
		return r, none, err
	}
	ok, err := answer(r.Answer, resp)
	if err != nil || !ok {
		return r, none, err
	}
	return r, resp, nil
}

// decodeAnswer is decode for an answer request: of the fields only one
// function takes, those allow names.
func decodeAnswer(req []byte, r *answerRequest, allow int) error {
	if err := decode(req, r); err != nil {
		return err
	}
	if r.Members != nil && allow&withMembers == 0 {
		return errors.New("members is a field of verifyRecord only")
	}
	if r.Disclosures != nil && allow&withDisclosures == 0 {
		return errors.New("disclosures is a field of verifyRecord only")
	}
	if r.At != nil && allow&withAt == 0 {
		return errors.New("at is a field of verifyMember and verifyCase only")
	}
	return nil
}

type versionResult struct {
	result
	Verifier string   `json:"verifier"`
	Version  string   `json:"version"`
	API      int      `json:"api"`
	Go       string   `json:"go"`
	Function []string `json:"functions"`
	// TrustingPeriodChecked: see verifyHeaders.
	TrustingPeriodChecked bool `json:"trustingPeriodChecked"`
}

func versionInfo([]byte) any {
	return &versionResult{result: result{OK: true}, Verifier: "normledger browser verifier", Version: Version, API: APIVersion,
		Go: runtime.Version(), Function: Names()}
}
