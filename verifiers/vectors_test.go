package verifiers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/light"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmtversion "github.com/cometbft/cometbft/proto/tendermint/version"
	"github.com/cometbft/cometbft/types"
	"github.com/cometbft/cometbft/version"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/remote"
)

// The tamper vectors (testdata/vectors.json) are requests to the browser
// verifier (cmd/verifier-wasm) with the outcome the Go verifier gives them:
// the record, member, obligation and absence cases of the tests in
// proof_test.go as REST (protojson) answers, and header chains of a small
// in-memory validator set. cmd/verifier-wasm runs them through its JSON API,
// natively and compiled to js/wasm. Regenerate with
//
//	go test ./verifiers -run TestVectors -update

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

const vectorsFile = "testdata/vectors.json"

// VectorsFormat names the layout of testdata/vectors.json.
const vectorsFormat = "normledger-verifier-vectors/v1"

type vectorFile struct {
	Format  string   `json:"format"`
	About   string   `json:"about"`
	Vectors []vector `json:"vectors"`
}

// vector is one request to a function of the browser verifier (fn) and
// the outcome it must have.
type vector struct {
	Name    string          `json:"name"`
	Fn      string          `json:"fn"`
	Request json.RawMessage `json:"request"`
	OK      bool            `json:"ok"`
	// For verifyHeaders: the heights verified (before a failure, if any),
	// and the skip that lacked trust.
	VerifiedHeights  []int64 `json:"verifiedHeights,omitempty"`
	NeedIntermediate []int64 `json:"needIntermediate,omitempty"`
}

type headersTrust struct {
	GenesisHash string `json:"genesisHash,omitempty"`
	Height      int64  `json:"height,omitempty"`
	Hash        string `json:"hash,omitempty"`
}

type headersRequest struct {
	Trust       headersTrust `json:"trust"`
	GenesisJSON []byte       `json:"genesisJson,omitempty"`
	ChainID     string       `json:"chainId,omitempty"`
	LightBlocks [][]byte     `json:"lightBlocks"`
}

type answerRequest struct {
	AppHash string          `json:"appHash"`
	ID      string          `json:"id"`
	Answer  json.RawMessage `json:"answer"`
	// verifyRecord only: the signers' member entries at the state the
	// signatures are checked against, in the order of the record's signers.
	Members []memberEntry `json:"members,omitempty"`
}

type memberEntry struct {
	AppHash string          `json:"appHash"`
	Answer  json.RawMessage `json:"answer"`
}

// restJSON is m as the REST API writes it (protojson, compacted: protojson
// varies its whitespace).
func restJSON(t *testing.T, m proto.Message) json.RawMessage {
	t.Helper()
	if m == nil || !m.ProtoReflect().IsValid() {
		return json.RawMessage("null")
	}
	bz, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, bz); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	bz, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bz
}

// hdrChain is a chain of light blocks by an in-memory validator set: set A
// (a1..a4) signs heights 1-3, header 3 announces set B (a1, b1..b3), which
// signs heights 4-6 (so A vouches for less than a third of B's headers).
// Header h carries the test ledger's app hash of state h-1.
type hdrChain struct {
	keys    map[string]crypto.PrivKey // by validator address
	a, b, c *types.ValidatorSet       // c: a disjoint set that forges
	blocks  map[int64]*types.LightBlock
	genA    []byte // genesis of set A
	genC    []byte // genesis of set C
}

func hdrValidators(h *hdrChain, names ...string) *types.ValidatorSet {
	var vals []*types.Validator
	for _, n := range names {
		k := fixture.SeededValidatorKey("vectors/" + n)
		h.keys[string(k.PubKey().Address())] = k
		vals = append(vals, types.NewValidator(k.PubKey(), 10))
	}
	return types.NewValidatorSet(vals)
}

type blockSpec struct {
	chainID    string
	height     int64
	time       time.Time
	vals, next *types.ValidatorSet
	last       types.BlockID
	appHash    []byte
	// sign says which validators (by index in vals) sign; nil: all.
	sign func(i int) bool
}

func (h *hdrChain) block(t *testing.T, s blockSpec) *types.LightBlock {
	t.Helper()
	if s.chainID == "" {
		s.chainID = testChainID
	}
	fixed := func(what string) []byte { d := sha256.Sum256([]byte(what)); return d[:] }
	hdr := types.Header{
		Version: cmtversion.Consensus{Block: version.BlockProtocol, App: 1}, ChainID: s.chainID,
		Height: s.height, Time: s.time, LastBlockID: s.last,
		ValidatorsHash: s.vals.Hash(), NextValidatorsHash: s.next.Hash(), ConsensusHash: fixed("consensus params"),
		AppHash: s.appHash, ProposerAddress: s.vals.GetProposer().Address,
	}
	id := types.BlockID{Hash: hdr.Hash(), PartSetHeader: types.PartSetHeader{Total: 1, Hash: fixed(fmt.Sprintf("parts %d", s.height))}}
	commit := &types.Commit{Height: s.height, BlockID: id}
	for i, v := range s.vals.Validators {
		if s.sign != nil && !s.sign(i) {
			commit.Signatures = append(commit.Signatures, types.NewCommitSigAbsent())
			continue
		}
		vote := &types.Vote{Type: cmtproto.PrecommitType, Height: s.height, BlockID: id, Timestamp: s.time.Add(time.Second),
			ValidatorAddress: v.Address, ValidatorIndex: int32(i)}
		sig, err := h.keys[string(v.Address)].Sign(types.VoteSignBytes(s.chainID, vote.ToProto()))
		if err != nil {
			t.Fatal(err)
		}
		commit.Signatures = append(commit.Signatures, types.CommitSig{BlockIDFlag: types.BlockIDFlagCommit,
			ValidatorAddress: v.Address, Timestamp: vote.Timestamp, Signature: sig})
	}
	return &types.LightBlock{SignedHeader: &types.SignedHeader{Header: &hdr, Commit: commit}, ValidatorSet: s.vals}
}

func genesisOf(t *testing.T, vs *types.ValidatorSet) []byte {
	t.Helper()
	gen := &types.GenesisDoc{GenesisTime: t0, ChainID: testChainID, InitialHeight: 1,
		ConsensusParams: types.DefaultConsensusParams(), AppState: json.RawMessage(`{}`)}
	for i, v := range vs.Validators {
		gen.Validators = append(gen.Validators, types.GenesisValidator{Address: v.Address, PubKey: v.PubKey, Power: v.VotingPower, Name: fmt.Sprintf("v%d", i)})
	}
	bz, err := cmtjson.MarshalIndent(gen, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return bz
}

func buildHdrChain(t *testing.T, c *testChain) *hdrChain {
	t.Helper()
	h := &hdrChain{keys: map[string]crypto.PrivKey{}, blocks: map[int64]*types.LightBlock{}}
	h.a = hdrValidators(h, "a1", "a2", "a3", "a4")
	h.b = hdrValidators(h, "a1", "b1", "b2", "b3")
	h.c = hdrValidators(h, "c1", "c2", "c3", "c4")
	h.genA, h.genC = genesisOf(t, h.a), genesisOf(t, h.c)
	var last types.BlockID
	for height := int64(1); height <= c.top+1; height++ {
		vals, next := h.a, h.a
		if height >= 3 {
			next = h.b
		}
		if height >= 4 {
			vals = h.b
		}
		lb := h.block(t, blockSpec{height: height, time: h.time(height), vals: vals, next: next, last: last, appHash: h.appHash(t, c, height)})
		h.blocks[height] = lb
		last = lb.Commit.BlockID
	}
	return h
}

func (h *hdrChain) time(height int64) time.Time { return t0.Add(time.Duration(height) * time.Minute) }

// appHash is the app hash of header height: the state of height-1 (the
// first header's is the genesis state's, fixed here).
func (h *hdrChain) appHash(t *testing.T, c *testChain, height int64) []byte {
	if height == 1 {
		d := sha256.Sum256([]byte("genesis state"))
		return d[:]
	}
	return c.root(t, height-1)
}

func encodeBlock(t *testing.T, lb *types.LightBlock) []byte {
	t.Helper()
	p, err := lb.ToProto()
	if err != nil {
		t.Fatal(err)
	}
	bz, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return bz
}

// reencoded is lb with its protobuf form changed by mutate.
func reencoded(t *testing.T, lb *types.LightBlock, mutate func(p *cmtproto.LightBlock)) []byte {
	t.Helper()
	p, err := lb.ToProto()
	if err != nil {
		t.Fatal(err)
	}
	mutate(p)
	bz, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return bz
}

func hexHash(bz []byte) string { d := sha256.Sum256(bz); return hex.EncodeToString(d[:]) }

func heights(from, to int64) []int64 {
	var out []int64
	for h := from; h <= to; h++ {
		out = append(out, h)
	}
	return out
}

func headerVectors(t *testing.T, c *testChain) []vector {
	t.Helper()
	h := buildHdrChain(t, c)
	top := c.top + 1
	enc := func(hs ...int64) [][]byte {
		out := [][]byte{}
		for _, x := range hs {
			out = append(out, encodeBlock(t, h.blocks[x]))
		}
		return out
	}
	b := h.blocks
	fromGenesis := func(blocks [][]byte) headersRequest {
		return headersRequest{Trust: headersTrust{GenesisHash: hexHash(h.genA)}, GenesisJSON: h.genA, LightBlocks: blocks}
	}
	fromHeader := func(height int64, hash []byte, blocks [][]byte) headersRequest {
		return headersRequest{Trust: headersTrust{Height: height, Hash: hex.EncodeToString(hash)}, LightBlocks: blocks}
	}
	spec := func(height int64, vals *types.ValidatorSet) blockSpec {
		return blockSpec{height: height, time: h.time(height), vals: vals, next: vals, last: b[height-1].Commit.BlockID, appHash: h.appHash(t, c, height)}
	}
	forged2 := reencoded(t, b[2], func(p *cmtproto.LightBlock) {
		sig := p.SignedHeader.Commit.Signatures[0].Signature
		p.SignedHeader.Commit.Signatures[0].Signature = flipped(sig, len(sig)/2)
	})
	swappedVals2 := reencoded(t, b[2], func(p *cmtproto.LightBlock) {
		vs, err := h.c.ToProto()
		if err != nil {
			t.Fatal(err)
		}
		p.ValidatorSet = vs
	})
	appHash2 := reencoded(t, b[2], func(p *cmtproto.LightBlock) {
		p.SignedHeader.Header.AppHash = flipped(p.SignedHeader.Header.AppHash, 0)
	})
	fork2 := encodeBlock(t, h.block(t, spec(2, h.c)))
	fork3 := encodeBlock(t, h.block(t, spec(3, h.c)))
	s := spec(2, h.a)
	s.chainID = "another-chain"
	otherChain2 := encodeBlock(t, h.block(t, s))
	s = spec(2, h.a)
	s.sign = func(i int) bool { return i < 2 }
	weak := h.block(t, s)
	weak2 := encodeBlock(t, weak)
	s = spec(3, h.a)
	s.next, s.time = h.b, h.time(2).Add(-30*time.Second)
	early3 := encodeBlock(t, h.block(t, s))
	// The chain's first header pinned by a hash with a bit flipped.
	badHash := flipped(b[3].Hash(), 0)

	type hv struct {
		name     string
		req      headersRequest
		ok       bool
		verified []int64
		gap      []int64
	}
	cases := []hv{
		{name: "honest from genesis, every header", req: fromGenesis(enc(heights(1, top)...)), ok: true, verified: heights(1, top)},
		{name: "honest from genesis, skipping within a validator set", req: fromGenesis(enc(1, 3, 4, top)), ok: true, verified: []int64{1, 3, 4, top}},
		{name: "honest from genesis, skipping the first header", req: fromGenesis(enc(2, 3)), ok: true, verified: []int64{2, 3}},
		{name: "validator change skipped from the first header: trust gap", req: fromGenesis(enc(1, top)), verified: []int64{1}, gap: []int64{1, top}},
		{name: "validator change skipped later: trust gap", req: fromGenesis(enc(1, 2, 4)), verified: []int64{1, 2}, gap: []int64{2, 4}},
		{name: "validator change skipped from the genesis: trust gap", req: fromGenesis(enc(4, 5)), gap: []int64{0, 4}},
		{name: "genesis hash pinned is another document's", req: headersRequest{Trust: headersTrust{GenesisHash: hexHash(h.genC)}, GenesisJSON: h.genA, LightBlocks: enc(1, 2)}},
		{name: "genesis bytes changed (a trailing newline) under the pinned hash", req: headersRequest{Trust: headersTrust{GenesisHash: hexHash(h.genA)}, GenesisJSON: append(slices.Clone(h.genA), '\n'), LightBlocks: enc(1, 2)}},
		{name: "genesis of other validators, correctly pinned", req: headersRequest{Trust: headersTrust{GenesisHash: hexHash(h.genC)}, GenesisJSON: h.genC, LightBlocks: enc(1, 2)}},
		{name: "genesis hash without the genesis document", req: headersRequest{Trust: headersTrust{GenesisHash: hexHash(h.genA)}, LightBlocks: enc(1, 2)}},
		{name: "forged signature", req: fromGenesis(append(enc(1), forged2)), verified: []int64{1}},
		{name: "forged signature, the header trusted by hash before it", req: fromHeader(1, b[1].Hash(), append(enc(1), forged2)), verified: []int64{1}},
		{name: "validator set in the light block is not the header's", req: fromGenesis(append(enc(1), swappedVals2)), verified: []int64{1}},
		{name: "header app hash changed after signing", req: fromGenesis(append(enc(1), appHash2)), verified: []int64{1}},
		{name: "next header signed by another validator set (fork)", req: fromGenesis(append(enc(1), fork2)), verified: []int64{1}},
		{name: "skipped-to header signed by another validator set: trust gap", req: fromGenesis(append(enc(1), fork3)), verified: []int64{1}, gap: []int64{1, 3}},
		{name: "skipped-to header of another validator set, bisected", req: fromGenesis(append(enc(1, 2), fork3)), verified: []int64{1, 2}},
		{name: "header of another chain", req: fromGenesis(append(enc(1), otherChain2)), verified: []int64{1}},
		{name: "header signed by only half its validators", req: fromGenesis(append(enc(1), weak2)), verified: []int64{1}},
		{name: "header signed by only half its validators, trusted by hash", req: fromHeader(2, weak.Hash(), [][]byte{weak2})},
		{name: "header time not after its predecessor's", req: fromGenesis(append(enc(1, 2), early3)), verified: []int64{1, 2}},
		{name: "headers out of order", req: fromGenesis(enc(1, 3, 2)), verified: []int64{1, 3}},
		{name: "a header repeated", req: fromGenesis(enc(1, 2, 2)), verified: []int64{1, 2}},
		{name: "undecodable light block", req: fromGenesis(append(enc(1), []byte{0xff, 0x01})), verified: nil},
		{name: "no headers", req: fromGenesis([][]byte{})},
		{name: "honest from a trusted header", req: fromHeader(3, b[3].Hash(), enc(heights(3, top)...)), ok: true, verified: heights(3, top)},
		{name: "honest from a trusted header, chain id given", req: func() headersRequest {
			r := fromHeader(3, b[3].Hash(), enc(3, 4, top))
			r.ChainID = testChainID
			return r
		}(), ok: true, verified: []int64{3, 4, top}},
		{name: "trusted header of another chain id than given", req: func() headersRequest {
			r := fromHeader(3, b[3].Hash(), enc(3, top))
			r.ChainID = "another-chain"
			return r
		}()},
		{name: "trusted header hash does not match the first header", req: fromHeader(3, badHash, enc(heights(3, top)...))},
		{name: "trusted height is not the first header's", req: fromHeader(2, b[3].Hash(), enc(heights(3, top)...))},
		{name: "no trust root", req: headersRequest{LightBlocks: enc(1, 2)}},
		{name: "both trust roots", req: func() headersRequest {
			r := fromGenesis(enc(1, 2))
			r.Trust.Height, r.Trust.Hash = 1, hex.EncodeToString(b[1].Hash())
			return r
		}()},
	}
	var out []vector
	for _, tc := range cases {
		out = append(out, vector{Name: "headers: " + tc.name, Fn: "verifyHeaders", Request: mustJSON(t, tc.req), OK: tc.ok,
			VerifiedHeights: tc.verified, NeedIntermediate: tc.gap})
	}
	return out
}

func answerVector(t *testing.T, fn, name string, hash []byte, id string, answer json.RawMessage, ok bool) vector {
	return vector{Name: name, Fn: fn, Request: mustJSON(t, answerRequest{AppHash: hex.EncodeToString(hash), ID: id, Answer: answer}), OK: ok}
}

// answerVectors are fn's vectors of cases, named prefix and the case's
// name: each case's answer in the REST API's JSON.
func answerVectors[R proto.Message](t *testing.T, fn, prefix string, honest R, honestID string, root []byte, cases []answerCase[R]) []vector {
	t.Helper()
	var out []vector
	for _, tc := range cases {
		r, id, hash := tc.answer(honest, honestID, root)
		ans := restJSON(t, r)
		if tc.nilAnswer {
			ans = json.RawMessage("null")
		}
		out = append(out, answerVector(t, fn, prefix+tc.name, hash, id, ans, tc.ok))
	}
	return out
}

func recordVectors(t *testing.T, c *testChain) []vector {
	t.Helper()
	root := c.root(t, c.top)
	honest, cases := recordCases(t, c)
	out := answerVectors(t, "verifyRecord", "record: ", honest, c.note1, root, cases)
	// With the signers' member entries: note2 (by xbb, height 2) is checked
	// against the state of height 1.
	note2 := c.recordAnswer(t, c.top, c.note2)
	mh := verifiers.MemberHeight(note2.Record.Height)
	xbb, xaa := c.memberAnswer(t, mh, "xbb"), c.memberAnswer(t, mh, "xaa")
	entry := func(h int64, m *pb.GetMemberResponse) memberEntry {
		return memberEntry{AppHash: hex.EncodeToString(c.root(t, h)), Answer: restJSON(t, m)}
	}
	badKey := proto.Clone(xbb).(*pb.GetMemberResponse)
	badKey.Member.Keys[0].PubKey = xaa.Member.Keys[0].PubKey
	for _, tc := range []struct {
		name    string
		members []memberEntry
		ok      bool
	}{
		{name: "honest, with the signer's member entry", members: []memberEntry{entry(mh, xbb)}, ok: true},
		{name: "signer's member entry at the answer's height, not the record's", members: []memberEntry{entry(c.top, c.memberAnswer(t, c.top, "xbb"))}},
		{name: "another member's entry for the signer", members: []memberEntry{entry(mh, xaa)}},
		{name: "signer's member entry with another key", members: []memberEntry{entry(mh, badKey)}},
		{name: "signer's member entry checked against another height's root", members: []memberEntry{{AppHash: hex.EncodeToString(c.root(t, 2)), Answer: restJSON(t, xbb)}}},
		{name: "signer's member entry twice", members: []memberEntry{entry(mh, xbb), entry(mh, xbb)}},
		{name: "an empty member entry", members: []memberEntry{{AppHash: hex.EncodeToString(c.root(t, mh)), Answer: json.RawMessage("null")}}},
	} {
		req := answerRequest{AppHash: hex.EncodeToString(root), ID: c.note2, Answer: restJSON(t, note2), Members: tc.members}
		out = append(out, vector{Name: "record signatures: " + tc.name, Fn: "verifyRecord", Request: mustJSON(t, req), OK: tc.ok})
	}
	return out
}

func memberVectors(t *testing.T, c *testChain) []vector {
	t.Helper()
	honest, cases := memberCases(t, c)
	return answerVectors(t, "verifyMember", "member: ", honest, "xaa", c.root(t, c.top), cases)
}

func obligationVectors(t *testing.T, c *testChain) []vector {
	t.Helper()
	honestID, honest, cases := obligationCases(t, c)
	return answerVectors(t, "verifyObligation", "obligation: ", honest, honestID, c.root(t, c.top), cases)
}

// notFoundBody is the 404 the REST API answers for an unknown record with
// prove=true: a google.rpc.Status whose details carry the ledger code and,
// if proof is set, the absence proof.
func notFoundBody(t *testing.T, id string, proof *pb.GetRecordResponse) json.RawMessage {
	t.Helper()
	info, err := anypb.New(&pb.ErrorInfo{Code: uint32(ledger.CodeUnknownRecord), Codespace: ledger.Codespace, CodeName: ledger.CodeUnknownRecord.String()})
	if err != nil {
		t.Fatal(err)
	}
	st := &status.Status{Code: 5, Message: fmt.Sprintf("record %s not found", id), Details: []*anypb.Any{info}}
	if proof != nil {
		d, err := anypb.New(proof)
		if err != nil {
			t.Fatal(err)
		}
		st.Details = append(st.Details, d)
	}
	return restJSON(t, st)
}

func absenceVectors(t *testing.T, c *testChain) []vector {
	t.Helper()
	root := c.root(t, c.top)
	missing := absentID()
	honest, cases := absenceCases(t, c)
	return append(answerVectors(t, "verifyAbsence", "absence: ", honest, missing, root, cases),
		answerVector(t, "verifyAbsence", "absence: honest, as the whole 404 body", root, missing, notFoundBody(t, missing, honest), true),
		answerVector(t, "verifyAbsence", "absence: a 404 body without the absence proof", root, missing, notFoundBody(t, missing, nil), false),
		answerVector(t, "verifyAbsence", "absence: a 404 body with a present record's proof", root, c.note1,
			notFoundBody(t, c.note1, &pb.GetRecordResponse{Height: c.top, Proofs: c.recordAnswer(t, c.top, c.note1).Proofs[:1]}), false),
	)
}

func buildVectors(t *testing.T) []byte {
	t.Helper()
	c := chain(t)
	f := vectorFile{Format: vectorsFormat,
		About: "Tamper vectors for the browser verifier (cmd/verifier-wasm): requests and the outcome the Go verifier gives them. Generated by go test ./verifiers -run TestVectors -update."}
	for _, vs := range [][]vector{headerVectors(t, c), recordVectors(t, c), memberVectors(t, c), obligationVectors(t, c), absenceVectors(t, c)} {
		f.Vectors = append(f.Vectors, vs...)
	}
	names := map[string]bool{}
	for _, v := range f.Vectors {
		if names[v.Name] {
			t.Fatalf("two vectors named %q", v.Name)
		}
		names[v.Name] = true
	}
	bz, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(bz, '\n')
}

// TestVectors keeps testdata/vectors.json current (the fixture is
// deterministic: seeded keys, fixed times, deterministic Ed25519).
func TestVectors(t *testing.T) {
	got := buildVectors(t)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (generate it with go test ./verifiers -run TestVectors -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: regenerate it with go test ./verifiers -run TestVectors -update", vectorsFile)
	}
	if again := buildVectors(t); !bytes.Equal(got, again) {
		t.Fatal("the vectors are not deterministic")
	}
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	bz, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(bz, &f); err != nil {
		t.Fatal(err)
	}
	if f.Format != vectorsFormat || len(f.Vectors) == 0 {
		t.Fatalf("%s: format %q with %d vectors", vectorsFile, f.Format, len(f.Vectors))
	}
	return f.Vectors
}

// TestVectorsGoVerifier runs every vector through the Go verifier
// (verifiers.VerifyHeaders and, where CometBFT's light client can follow
// the same path, light.Verify as LightClient and VerifyBundle use it; and
// Record, Member, Signatures, Obligation, Absence) and requires the
// recorded outcome.
func TestVectorsGoVerifier(t *testing.T) {
	c := chain(t)
	counts := map[string][2]int{}
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			var err error
			switch v.Fn {
			case "verifyHeaders":
				err = goHeaders(t, v)
			case "verifyRecord":
				err = goRecord(t, v.Request)
			case "verifyMember", "verifyObligation", "verifyAbsence":
				err = goAnswer(t, v.Fn, v.Request)
			default:
				t.Fatalf("unknown function %q", v.Fn)
			}
			checkOutcome(t, v.OK, err)
			n := counts[v.Fn]
			if v.OK {
				n[0]++
			} else {
				n[1]++
			}
			counts[v.Fn] = n
		})
	}
	for fn, n := range counts {
		if n[0] == 0 || n[1] == 0 {
			t.Errorf("%s: %d passing and %d failing vectors; want both", fn, n[0], n[1])
		}
	}
	// The honest header chain carries the app hash the honest answers are
	// checked against: header top+1 commits to state top.
	var honest vector
	for _, v := range loadVectors(t) {
		if v.Name == "headers: honest from genesis, every header" {
			honest = v
		}
	}
	var req headersRequest
	if err := json.Unmarshal(honest.Request, &req); err != nil {
		t.Fatal(err)
	}
	blocks, err := verifiers.DecodeLightBlocks(req.LightBlocks)
	if err != nil {
		t.Fatal(err)
	}
	if last := blocks[len(blocks)-1]; last.Height != c.top+1 || !bytes.Equal(last.AppHash, c.root(t, c.top)) {
		t.Fatalf("header %d's app hash %X is not the root %X of state %d", last.Height, last.AppHash, c.root(t, c.top), c.top)
	}
}

func decodeHex(s string) []byte {
	bz, err := hex.DecodeString(s)
	if err != nil {
		return []byte("not hex")
	}
	return bz
}

// goHeaders checks a verifyHeaders vector with VerifyHeaders, and cross-
// checks the outcome with CometBFT's light client verification.
func goHeaders(t *testing.T, v vector) error {
	t.Helper()
	var req headersRequest
	if err := json.Unmarshal(v.Request, &req); err != nil {
		t.Fatal(err)
	}
	trust := verifiers.HeaderTrust{ChainID: req.ChainID}
	tr := req.Trust
	switch {
	case tr.GenesisHash != "" && (tr.Height != 0 || tr.Hash != ""):
		return fmt.Errorf("%w: two trust roots", verifiers.ErrVerification)
	case tr.GenesisHash != "":
		gen, err := verifiers.GenesisFromJSON(req.GenesisJSON, decodeHex(tr.GenesisHash))
		if err != nil {
			return err
		}
		trust.Genesis = gen
	default:
		trust.Height, trust.Hash = tr.Height, decodeHex(tr.Hash)
	}
	blocks, err := verifiers.DecodeLightBlocks(req.LightBlocks)
	if err != nil {
		return err
	}
	verified, err := verifiers.VerifyHeaders(trust, blocks)
	var got []int64
	for _, lb := range verified {
		got = append(got, lb.Height)
	}
	if !slices.Equal(got, v.VerifiedHeights) {
		t.Errorf("verified heights %v, want %v", got, v.VerifiedHeights)
	}
	var gap *verifiers.TrustGapError
	var gotGap []int64
	if errors.As(err, &gap) {
		gotGap = []int64{gap.From, gap.To}
	}
	if !slices.Equal(gotGap, v.NeedIntermediate) {
		t.Errorf("trust gap %v, want %v (%v)", gotGap, v.NeedIntermediate, err)
	}
	if cometOK, cometGap, applies := cometHeaders(t, trust, blocks); applies {
		if cometOK != (err == nil) {
			t.Errorf("CometBFT's light verification says ok=%v, VerifyHeaders %v", cometOK, err)
		}
		if cometGap != (v.NeedIntermediate != nil) {
			t.Errorf("CometBFT's light verification says trust gap=%v, the vector %v", cometGap, v.NeedIntermediate)
		}
	}
	return err
}

type oneBlock struct{ lb *types.LightBlock }

func (s oneBlock) LightBlock(_ context.Context, h int64) (*types.LightBlock, error) {
	if s.lb.Height != h {
		return nil, fmt.Errorf("no light block %d", h)
	}
	return s.lb, nil
}

// cometHeaders verifies blocks the way the native verifier does: from a
// genesis with TrustFromGenesis (the first block must be the chain's
// first), from a trusted header as VerifyBundle does, then hop by hop with
// light.Verify. applies is false where the native verifier has no such
// path (a genesis trust root with a later first block, no blocks).
func cometHeaders(t *testing.T, trust verifiers.HeaderTrust, blocks []*types.LightBlock) (ok, gap, applies bool) {
	t.Helper()
	if len(blocks) == 0 {
		return false, false, false
	}
	first := blocks[0]
	chainID := trust.ChainID
	if trust.Genesis != nil {
		if first.Height != trust.Genesis.InitialHeight {
			return false, false, false
		}
		if _, err := remote.TrustFromGenesis(context.Background(), trust.Genesis, oneBlock{first}); err != nil {
			return false, false, true
		}
		chainID = trust.Genesis.ChainID
	} else {
		if chainID == "" {
			chainID = first.ChainID
		}
		if first.Height != trust.Height || !bytes.Equal(first.Hash(), trust.Hash) || first.ValidateBasic(chainID) != nil ||
			first.ValidatorSet.VerifyCommitLight(chainID, first.Commit.BlockID, first.Height, first.Commit) != nil {
			return false, false, true
		}
	}
	now := blocks[len(blocks)-1].Time.Add(time.Minute)
	for i := 1; i < len(blocks); i++ {
		tb, u := blocks[i-1], blocks[i]
		if err := u.ValidateBasic(chainID); err != nil {
			return false, false, true
		}
		err := light.Verify(tb.SignedHeader, tb.ValidatorSet, u.SignedHeader, u.ValidatorSet,
			remote.DefaultTrustPeriod, now, remote.MaxClockDrift, light.DefaultTrustLevel)
		if err != nil {
			var cant light.ErrNewValSetCantBeTrusted
			return false, errors.As(err, &cant), true
		}
	}
	return true, false, true
}

func TestHeaderTrustLevelIsCometBFTs(t *testing.T) {
	if verifiers.HeaderTrustLevel != light.DefaultTrustLevel {
		t.Fatalf("HeaderTrustLevel %v, CometBFT's default %v", verifiers.HeaderTrustLevel, light.DefaultTrustLevel)
	}
}

var restUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// restAnswer decodes a REST answer; null is no answer.
func restAnswer(raw json.RawMessage, m proto.Message) (bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	return true, restUnmarshal.Unmarshal(raw, m)
}

// answerOf decodes an answer in the REST API's JSON into resp: nil for a
// null answer.
func answerOf[R proto.Message](t *testing.T, raw json.RawMessage, resp R) R {
	t.Helper()
	ok, err := restAnswer(raw, resp)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		var none R
		return none
	}
	return resp
}

func goRecord(t *testing.T, raw json.RawMessage) error {
	t.Helper()
	var req answerRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	resp := answerOf(t, req.Answer, new(pb.GetRecordResponse))
	rec, err := verifiers.Record(decodeHex(req.AppHash), req.ID, resp)
	if err != nil || req.Members == nil {
		return err
	}
	signers, err := verifiers.Signers(rec)
	if err != nil {
		return err
	}
	if len(req.Members) != len(signers) {
		return fmt.Errorf("%w: %d member entries for %d signers", verifiers.ErrVerification, len(req.Members), len(signers))
	}
	members := map[string]*pb.Member{}
	for i, e := range req.Members {
		mr := answerOf(t, e.Answer, new(pb.GetMemberResponse))
		if mr.GetHeight() != verifiers.MemberHeight(rec.Height) {
			return fmt.Errorf("%w: member entry at height %d", verifiers.ErrVerification, mr.GetHeight())
		}
		m, err := verifiers.Member(decodeHex(e.AppHash), signers[i], mr)
		if err != nil {
			return err
		}
		members[m.Id] = m
	}
	return verifiers.Signatures(rec, members)
}

func goAnswer(t *testing.T, fn string, raw json.RawMessage) error {
	t.Helper()
	var req answerRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	hash := decodeHex(req.AppHash)
	switch fn {
	case "verifyMember":
		resp := answerOf(t, req.Answer, new(pb.GetMemberResponse))
		_, err := verifiers.Member(hash, req.ID, resp)
		return err
	case "verifyObligation":
		resp := answerOf(t, req.Answer, new(pb.GetObligationResponse))
		_, err := verifiers.Obligation(hash, req.ID, resp)
		return err
	}
	var resp *pb.GetRecordResponse
	if strings.Contains(string(req.Answer), `"details"`) {
		st := new(status.Status)
		if _, err := restAnswer(req.Answer, st); err != nil {
			t.Fatal(err)
		}
		for _, d := range st.Details {
			r := new(pb.GetRecordResponse)
			if d.MessageIs(r) {
				if err := d.UnmarshalTo(r); err != nil {
					t.Fatal(err)
				}
				resp = r
			}
		}
	} else {
		resp = new(pb.GetRecordResponse)
		if ok, err := restAnswer(req.Answer, resp); err != nil {
			t.Fatal(err)
		} else if !ok {
			resp = nil
		}
	}
	return verifiers.Absence(hash, req.ID, resp)
}
