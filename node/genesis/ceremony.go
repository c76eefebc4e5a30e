// Package genesis is the genesis ceremony of a consortium: every operator
// writes an application holding only public parts, signed with its member
// key and its validator key as proof of possession; a coordinator collects
// them into a draft, verifies each, and finalizes the genesis document that
// every operator verifies and compares by hash out of band. No party ever
// holds another party's private keys (docs/operations.md).
//
// It may import ledger and proto; cli and testnet build on it.
package genesis

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/crypto/ed25519"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmttypes "github.com/cometbft/cometbft/types"
	cmttime "github.com/cometbft/cometbft/types/time"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Formats and limits.
const (
	ApplicationFormat = "normledger-genesis-application/v1"
	DraftFormat       = "normledger-genesis-draft/v1"
	// SignDomain prefixes the bytes an application's signatures cover.
	SignDomain = "normledger/v1/genesis-application"
	// MaxApplicationBytes bounds an application file.
	MaxApplicationBytes = 64 << 10
	// MaxDraftBytes bounds a draft or genesis file.
	MaxDraftBytes = 16 << 20
)

// ErrInvalid is wrapped by every refusal of ceremony input.
var ErrInvalid = errors.New("invalid genesis ceremony input")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// SignBytes are the bytes an application's signatures cover.
func SignBytes(a *pb.GenesisApplication) ([]byte, error) {
	bz, err := ledger.Canonical(a)
	if err != nil {
		return nil, err
	}
	return append(append([]byte(SignDomain), 0), bz...), nil
}

// Sign signs an application with the member key and, if the application
// names a validator, the validator key.
func Sign(a *pb.GenesisApplication, memberKey ed25519.PrivKey, validatorKey crypto.PrivKey) (*pb.SignedGenesisApplication, error) {
	a.Format = ApplicationFormat
	msg, err := SignBytes(a)
	if err != nil {
		return nil, err
	}
	s := &pb.SignedGenesisApplication{Application: a}
	if s.MemberSignature, err = memberKey.Sign(msg); err != nil {
		return nil, err
	}
	if len(a.GetMember().GetValidatorPubKey()) > 0 {
		if validatorKey == nil {
			return nil, fmt.Errorf("the application names a validator key but none was given to sign with")
		}
		if !bytes.Equal(validatorKey.PubKey().Bytes(), a.Member.ValidatorPubKey) {
			return nil, fmt.Errorf("the validator key does not match the application's validator public key")
		}
		if s.ValidatorSignature, err = validatorKey.Sign(msg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Verify checks one application for chainID: format, the member entry as
// genesis would hold it, and both proofs of possession.
func Verify(s *pb.SignedGenesisApplication, chainID string) error {
	a := s.GetApplication()
	if a == nil {
		return invalid("the file holds no application")
	}
	if a.Format != ApplicationFormat {
		return invalid("application format %q, want %q", a.Format, ApplicationFormat)
	}
	if a.ChainId != chainID {
		return invalid("application of %q is for chain %q, this ceremony is for %q", a.GetMember().GetId(), a.ChainId, chainID)
	}
	m := a.Member
	if m == nil {
		return invalid("application has no member")
	}
	if m.Status != pb.MemberStatus_MEMBER_STATUS_ACTIVE || len(m.History) > 0 {
		return invalid("member %q must be ACTIVE with no history", m.Id)
	}
	for _, k := range append(append([]*pb.MemberKey(nil), m.Keys...), m.EncryptionKeys...) {
		if k.Status != pb.KeyStatus_KEY_STATUS_ACTIVE || k.ValidFromHeight != 0 || k.ValidUntilHeight != 0 ||
			k.CompromisedSinceHeight != 0 || k.CompromisedSinceTime != nil || k.EndedBy != "" {
			return invalid("member %q key %q must be a plain active key from genesis", m.Id, k.KeyId)
		}
	}
	if err := ledger.ValidateGenesis(&pb.GenesisState{Members: []*pb.Member{m}}); err != nil {
		return invalid("member %q: %v", m.Id, err)
	}
	if (len(m.ValidatorPubKey) == 0) != (m.ValidatorPower == 0) {
		return invalid("member %q: a validator needs both a key and a power above 0", m.Id)
	}
	if a.NodeId != "" && !isNodeID(a.NodeId) {
		return invalid("member %q: node id %q is not 40 lowercase hex characters", m.Id, a.NodeId)
	}
	if a.P2PAddress != "" && (a.NodeId == "" || !strings.Contains(a.P2PAddress, ":") || strings.ContainsAny(a.P2PAddress, "@, /")) {
		return invalid("member %q: p2p address %q needs a node id and the form host:port", m.Id, a.P2PAddress)
	}
	msg, err := SignBytes(a)
	if err != nil {
		return invalid("member %q: %v", m.Id, err)
	}
	if !ed25519.PubKey(m.Keys[0].PubKey).VerifySignature(msg, s.MemberSignature) {
		return invalid("member %q: the member signature does not verify with its key %s (a tampered application, or the wrong key)", m.Id, m.Keys[0].KeyId)
	}
	if len(m.ValidatorPubKey) > 0 && !ed25519.PubKey(m.ValidatorPubKey).VerifySignature(msg, s.ValidatorSignature) {
		return invalid("member %q: the validator signature does not verify with its validator key", m.Id)
	}
	if len(m.ValidatorPubKey) == 0 && len(s.ValidatorSignature) > 0 {
		return invalid("member %q: a validator signature without a validator key", m.Id)
	}
	return nil
}

func isNodeID(s string) bool {
	if len(s) != 40 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// readLimited reads a file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bz, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(bz)) > max {
		return nil, invalid("%s is larger than %d bytes", path, max)
	}
	return bz, nil
}

var strict = protojson.UnmarshalOptions{DiscardUnknown: false}

// ReadApplication reads and decodes an application file (it does not verify it).
func ReadApplication(path string) (*pb.SignedGenesisApplication, error) {
	bz, err := readLimited(path, MaxApplicationBytes)
	if err != nil {
		return nil, err
	}
	s, err := DecodeApplication(bz)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// DecodeApplication decodes an application file's bytes (strict protojson;
// it does not verify the application).
func DecodeApplication(bz []byte) (*pb.SignedGenesisApplication, error) {
	if len(bz) > MaxApplicationBytes {
		return nil, invalid("a genesis application is at most %d bytes", MaxApplicationBytes)
	}
	s := new(pb.SignedGenesisApplication)
	if err := strict.Unmarshal(bz, s); err != nil {
		return nil, invalid("not a genesis application: %v", err)
	}
	return s, nil
}

// WriteFile writes m as indented protojson, atomically (temp file, rename).
func WriteFile(path string, m proto.Message) error {
	bz, err := protojson.MarshalOptions{Indent: "  ", UseProtoNames: true}.Marshal(m)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(bz, '\n'), 0o644)
}

// NewDraft starts a ceremony for chainID with the default parameters and
// governance rules.
func NewDraft(chainID string) (*pb.GenesisDraft, error) {
	if chainID == "" || len(chainID) > cmttypes.MaxChainIDLen || strings.ContainsAny(chainID, " \t\n") {
		return nil, invalid("chain id %q: want 1 to %d characters without spaces", chainID, cmttypes.MaxChainIDLen)
	}
	return &pb.GenesisDraft{Format: DraftFormat, ChainId: chainID, Params: ledger.DefaultParams(),
		Governance: ledger.DefaultGovernanceRules()}, nil
}

// ReadDraft reads a draft file.
func ReadDraft(path string) (*pb.GenesisDraft, error) {
	bz, err := readLimited(path, MaxDraftBytes)
	if err != nil {
		return nil, err
	}
	d := new(pb.GenesisDraft)
	if err := strict.Unmarshal(bz, d); err != nil {
		return nil, invalid("%s is not a genesis draft: %v", path, err)
	}
	if d.Format != DraftFormat {
		return nil, invalid("%s: draft format %q, want %q", path, d.Format, DraftFormat)
	}
	return d, nil
}

// Add verifies applications and adds them to the draft, all or none: any
// invalid application, a member id, signing key or validator key already
// in the draft (or twice among them), or a second application for the same
// node, leaves the draft unchanged.
func Add(d *pb.GenesisDraft, apps ...*pb.SignedGenesisApplication) error {
	ids, keys, vals, nodes := map[string]bool{}, map[string]string{}, map[string]string{}, map[string]string{}
	note := func(s *pb.SignedGenesisApplication) error {
		m := s.Application.Member
		if ids[m.Id] {
			return invalid("member id %q is applied for twice", m.Id)
		}
		ids[m.Id] = true
		for _, k := range append(append([]*pb.MemberKey(nil), m.Keys...), m.EncryptionKeys...) {
			if other, ok := keys[k.KeyId]; ok {
				return invalid("key %s of %q is also %q's", k.KeyId, m.Id, other)
			}
			keys[k.KeyId] = m.Id
		}
		if len(m.ValidatorPubKey) > 0 {
			if other, ok := vals[string(m.ValidatorPubKey)]; ok {
				return invalid("validator key of %q is also %q's", m.Id, other)
			}
			vals[string(m.ValidatorPubKey)] = m.Id
		}
		if n := s.Application.NodeId; n != "" {
			if other, ok := nodes[n]; ok {
				return invalid("node %s of %q is also %q's", n, m.Id, other)
			}
			nodes[n] = m.Id
		}
		return nil
	}
	for _, s := range d.Applications {
		if err := note(s); err != nil {
			return fmt.Errorf("the draft itself: %w", err)
		}
	}
	for _, s := range apps {
		if err := Verify(s, d.ChainId); err != nil {
			return err
		}
		if err := note(s); err != nil {
			return err
		}
	}
	d.Applications = append(d.Applications, apps...)
	sort.Slice(d.Applications, func(i, j int) bool {
		return d.Applications[i].Application.Member.Id < d.Applications[j].Application.Member.Id
	})
	return nil
}

// Finalize builds the genesis document of a draft: every application
// verified again, the members in id order, the validators from the members
// that run one.
func Finalize(d *pb.GenesisDraft, genesisTime time.Time) (*cmttypes.GenesisDoc, error) {
	check, err := NewDraft(d.ChainId)
	if err != nil {
		return nil, err
	}
	if err := Add(check, d.Applications...); err != nil {
		return nil, err
	}
	gs := &pb.GenesisState{Params: d.Params, Governance: d.Governance}
	var vals []cmttypes.GenesisValidator
	for _, s := range check.Applications {
		m := proto.Clone(s.Application.Member).(*pb.Member)
		gs.Members = append(gs.Members, m)
		if m.ValidatorPower > 0 {
			pk := ed25519.PubKey(m.ValidatorPubKey)
			vals = append(vals, cmttypes.GenesisValidator{Address: pk.Address(), PubKey: pk, Power: m.ValidatorPower, Name: m.Id})
		}
	}
	if len(vals) == 0 {
		return nil, invalid("no application runs a validator")
	}
	doc, err := NewDoc(d.ChainId, genesisTime, vals, gs)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return doc, nil
}

// NewDoc is the genesis document of chain chainID: the validators, the app
// state gs (which must pass ledger.ValidateGenesis) and CometBFT's default
// consensus params with 4 MiB blocks. A zero genesisTime means now.
func NewDoc(chainID string, genesisTime time.Time, vals []cmttypes.GenesisValidator, gs *pb.GenesisState) (*cmttypes.GenesisDoc, error) {
	if err := ledger.ValidateGenesis(gs); err != nil {
		return nil, err
	}
	appState, err := protojson.MarshalOptions{Indent: "  "}.Marshal(gs)
	if err != nil {
		return nil, err
	}
	if genesisTime.IsZero() {
		genesisTime = cmttime.Now()
	}
	doc := &cmttypes.GenesisDoc{
		ChainID:         chainID,
		GenesisTime:     genesisTime.UTC(),
		InitialHeight:   1,
		ConsensusParams: cmttypes.DefaultConsensusParams(),
		Validators:      vals,
		AppState:        json.RawMessage(appState),
	}
	doc.ConsensusParams.Block.MaxBytes = 4 << 20
	// The chain starts at this binary's app version (headers carry it).
	doc.ConsensusParams.Version.App = ledger.CurrentAppVersion
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	return doc, nil
}

// WriteGenesis writes a genesis document atomically.
func WriteGenesis(path string, doc *cmttypes.GenesisDoc) error {
	// As GenesisDoc.SaveAs writes it, but atomically.
	bz, err := cmtjson.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, bz, 0o644)
}

// Hash is the lowercase hex SHA-256 of a genesis file's bytes: what
// operators compare out of band.
func Hash(path string) (string, error) {
	bz, err := readLimited(path, MaxDraftBytes)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(bz)
	return hex.EncodeToString(h[:]), nil
}

// VerifyFile checks a genesis file: its hash (when want is given), that it
// is a valid CometBFT genesis, that its app state is a valid member
// registry, and that its validators are exactly the members' validator keys
// and powers. It returns the document.
func VerifyFile(path, wantHash string) (*cmttypes.GenesisDoc, error) {
	got, err := Hash(path)
	if err != nil {
		return nil, err
	}
	if wantHash != "" && !strings.EqualFold(strings.TrimSpace(wantHash), got) {
		return nil, invalid("%s has hash %s, not the %s you were given: do not use it", path, got, wantHash)
	}
	doc, err := cmttypes.GenesisDocFromFile(path)
	if err != nil {
		return nil, invalid("%s: %v", path, err)
	}
	gs := new(pb.GenesisState)
	if err := protojson.Unmarshal(doc.AppState, gs); err != nil {
		return nil, invalid("%s: app_state: %v", path, err)
	}
	if err := ledger.ValidateGenesis(gs); err != nil {
		return nil, invalid("%s: %v", path, err)
	}
	want := ledger.PowersOf(gs.Members)
	have := ledger.Powers{}
	for _, v := range doc.Validators {
		have[string(v.PubKey.Bytes())] += v.Power
	}
	if d := have.Diff(want); len(d) > 0 {
		return nil, invalid("%s: the validators differ from the members' validator keys and powers", path)
	}
	return doc, nil
}

// Peers lists the draft's nodes as CometBFT persistent peers
// (id@host:port), leaving out the node with id except.
func Peers(d *pb.GenesisDraft, except string) string {
	var out []string
	for _, s := range d.Applications {
		a := s.Application
		if a.NodeId != "" && a.P2PAddress != "" && a.NodeId != except {
			out = append(out, a.NodeId+"@"+a.P2PAddress)
		}
	}
	return strings.Join(out, ",")
}

// NewApplication fills in the parts of an application common to every
// operator.
func NewApplication(chainID string, m *pb.Member, nodeID, p2pAddress string, now time.Time) *pb.GenesisApplication {
	return &pb.GenesisApplication{Format: ApplicationFormat, ChainId: chainID, Member: m, NodeId: nodeID, P2PAddress: p2pAddress,
		CreatedAt: timestamppb.New(now.UTC().Truncate(time.Second))}
}
