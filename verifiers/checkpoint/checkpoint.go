// Package checkpoint is the record log's signed checkpoints and their
// witness cosignatures (docs/witnesses.md): C2SP tlog-checkpoint bodies in
// signed notes (golang.org/x/mod/sumdb/note), the log's own "signature"
// being a commit certificate (the header that commits to the checkpoint and
// the proof of meta/log), witnesses' tlog-cosignature/v1 Ed25519
// cosignatures (github.com/transparency-dev/formats), and the witness
// policy a verifier applies.
package checkpoint

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/cometbft/cometbft/types"
	ics23 "github.com/cosmos/ics23/go"
	tlogformat "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ErrCheckpoint is wrapped by every checkpoint verification failure.
var ErrCheckpoint = errors.New("checkpoint does not verify")

func failf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCheckpoint, fmt.Sprintf(format, args...))
}

// Origin is the checkpoint origin of chain id's record log.
func Origin(chainID string) string { return "normledger/" + chainID }

// certAlg is the algorithm byte of the commit certificate "key" in its key
// hash (not a C2SP-registered signature type: there is no key).
const certAlg = 0xff

// LogKeyHash is the key hash of origin's commit certificate signatures:
// the first four bytes of SHA-256(origin || 0x0A || 0xFF || "normledger
// commit certificate v1"), after C2SP signed-note's key hash.
func LogKeyHash(origin string) uint32 {
	h := sha256.Sum256(append(append([]byte(origin), '\n', certAlg), "normledger commit certificate v1"...))
	return binary.BigEndian.Uint32(h[:4])
}

// Body is the C2SP tlog-checkpoint text of a log state.
func Body(origin string, size uint64, root []byte) []byte {
	return tlogformat.Checkpoint{Origin: origin, Size: size, Hash: root}.Marshal()
}

type certSigner struct {
	origin string
	cert   []byte
}

func (s certSigner) Name() string                { return s.origin }
func (s certSigner) KeyHash() uint32             { return LogKeyHash(s.origin) }
func (s certSigner) Sign([]byte) ([]byte, error) { return s.cert, nil }

// Sign makes the checkpoint note of a log state with its certificate as the
// log's signature.
func Sign(origin string, size uint64, root []byte, cert *pb.CheckpointCertificate) ([]byte, error) {
	bz, err := proto.MarshalOptions{Deterministic: true}.Marshal(cert)
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(Body(origin, size, root))}, certSigner{origin, bz})
}

// Checkpoint is a verified checkpoint.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
	// Height is the state height whose meta/log the checkpoint is;
	// LightBlock the header of Height+1 that commits to it.
	Height     int64
	LightBlock *types.LightBlock
	// Cosigners are the witnesses whose cosignatures verified.
	Cosigners []string
	// Note is the note as verified (every signature line kept).
	Note []byte
}

// certVerifier checks the commit certificate of a note: the light block
// must be of chainID, its app hash must commit to the body's size and root
// through the proof of meta/log, and checkHeader must accept the light
// block (a light client's verdict).
type certVerifier struct {
	origin, chainID string
	checkHeader     func(*types.LightBlock) error
	// Set by Verify for the caller.
	height int64
	lb     *types.LightBlock
	err    error
}

func (v *certVerifier) Name() string    { return v.origin }
func (v *certVerifier) KeyHash() uint32 { return LogKeyHash(v.origin) }

func (v *certVerifier) Verify(msg, sig []byte) bool {
	v.err = v.verify(msg, sig)
	return v.err == nil
}

func (v *certVerifier) verify(msg, sig []byte) error {
	var c tlogformat.Checkpoint
	rest, err := c.Unmarshal(msg)
	if err != nil {
		return failf("%v", err)
	}
	if c.Origin != v.origin {
		return failf("origin %q, want %q", c.Origin, v.origin)
	}
	if len(rest) != 0 || len(c.Hash) != 32 {
		return failf("malformed checkpoint body")
	}
	cert := new(pb.CheckpointCertificate)
	if err := proto.Unmarshal(sig, cert); err != nil {
		return failf("certificate does not decode: %v", err)
	}
	lbp := new(cmtproto.LightBlock)
	if err := lbp.Unmarshal(cert.LightBlock); err != nil {
		return failf("certificate light block does not decode: %v", err)
	}
	lb, err := types.LightBlockFromProto(lbp)
	if err != nil {
		return failf("certificate light block: %v", err)
	}
	if err := lb.ValidateBasic(v.chainID); err != nil {
		return failf("certificate light block: %v", err)
	}
	if cert.Height < 1 || lb.Height != cert.Height+1 {
		return failf("certificate of height %d carries header %d", cert.Height, lb.Height)
	}
	cp := new(ics23.CommitmentProof)
	if err := cp.Unmarshal(cert.LogProof); err != nil {
		return failf("certificate log proof does not decode: %v", err)
	}
	if !ics23.VerifyMembership(ics23.IavlSpec, []byte(lb.AppHash), cp, []byte(layout.KeyLog), layout.LogState(c.Size, c.Hash)) {
		return failf("the header of height %d does not commit to a log of %d entries with root %X", lb.Height, c.Size, c.Hash)
	}
	if v.checkHeader != nil {
		if err := v.checkHeader(lb); err != nil {
			return failf("header %d: %v", lb.Height, err)
		}
	}
	v.height, v.lb = cert.Height, lb
	return nil
}

// LogVerifier is the signed-note verifier of chainID's commit certificates,
// for note.Open or transparency-dev/formats/log.ParseCheckpoint (checkHeader
// as for Open).
func LogVerifier(chainID string, checkHeader func(*types.LightBlock) error) note.Verifier {
	return &certVerifier{origin: Origin(chainID), chainID: chainID, checkHeader: checkHeader}
}

type verifierList struct {
	log       *certVerifier
	witnesses map[string]note.Verifier // name -> verifier
}

func (l verifierList) Verifier(name string, hash uint32) (note.Verifier, error) {
	if name == l.log.origin && hash == l.log.KeyHash() {
		return l.log, nil
	}
	if v, ok := l.witnesses[name]; ok && v.KeyHash() == hash {
		return v, nil
	}
	return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
}

// Open verifies a checkpoint note of chainID's log: the commit certificate
// (checkHeader decides whether its header is the chain's; nil accepts any
// header whose own signatures are well formed, for callers that check the
// returned LightBlock themselves) and the cosignatures of the policy's
// witnesses (others are ignored). It does not apply the policy's quorum:
// see Policy.Check.
func Open(msg []byte, chainID string, policy *Policy, checkHeader func(*types.LightBlock) error) (*Checkpoint, error) {
	origin := Origin(chainID)
	cv := &certVerifier{origin: origin, chainID: chainID, checkHeader: checkHeader}
	vl := verifierList{log: cv, witnesses: map[string]note.Verifier{}}
	if policy != nil {
		for _, w := range policy.Witnesses {
			vl.witnesses[w.Name] = w.verifier
		}
	}
	n, err := note.Open(msg, vl)
	if err != nil {
		if cv.err != nil {
			return nil, cv.err
		}
		var inv *note.InvalidSignatureError
		if errors.As(err, &inv) {
			return nil, failf("the signature of %s does not verify", inv.Name)
		}
		return nil, failf("%v", err)
	}
	if cv.lb == nil {
		return nil, failf("no commit certificate from %s", origin)
	}
	var c tlogformat.Checkpoint
	if _, err := c.Unmarshal([]byte(n.Text)); err != nil {
		return nil, failf("%v", err)
	}
	out := &Checkpoint{Origin: origin, Size: c.Size, Root: c.Hash, Height: cv.height, LightBlock: cv.lb, Note: msg}
	for _, s := range n.Sigs {
		if s.Name != origin {
			out.Cosigners = append(out.Cosigners, s.Name)
		}
	}
	return out, nil
}

// WitnessName is the cosigner name of a witness member.
func WitnessName(member string) string { return "normledger-witness/" + member }

// cosigAlg is tlog-cosignature/v1's Ed25519 algorithm byte.
const cosigAlg = 0x04

// KeyHash is the C2SP key hash of an Ed25519 cosignature/v1 key:
// SHA-256(name || 0x0A || 0x04 || public key)[:4].
func KeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.Sum256(append(append([]byte(name), '\n', cosigAlg), pub...))
	return binary.BigEndian.Uint32(h[:4])
}

// VerifierKey is the signed-note verifier key of a witness:
// name+hash+base64(0x04 || public key).
func VerifierKey(name string, pub ed25519.PublicKey) string {
	return fmt.Sprintf("%s+%08x+%s", name, KeyHash(name, pub), base64.StdEncoding.EncodeToString(append([]byte{cosigAlg}, pub...)))
}

// NewCosigner is a witness's tlog-cosignature/v1 signer.
func NewCosigner(name string, key ed25519.PrivateKey) (note.Signer, error) {
	pub := key.Public().(ed25519.PublicKey)
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, KeyHash(name, pub), base64.StdEncoding.EncodeToString(append([]byte{cosigAlg}, key.Seed()...)))
	return fnote.NewSignerForCosignatureV1(skey)
}

// Cosign returns a witness's cosignature line (C2SP signed-note signature
// line, "— name base64\n") on a checkpoint body.
func Cosign(s note.Signer, body []byte) ([]byte, error) {
	signed, err := note.Sign(&note.Note{Text: string(body)}, s)
	if err != nil {
		return nil, err
	}
	return signed[len(body)+1:], nil
}

// Witness is one witness of a policy.
type Witness struct {
	Name string
	Key  string // verifier key
	Pub  ed25519.PublicKey

	verifier note.Verifier
}

// RegistryWitnesses lists the witness keys in a member registry: every
// active ed25519 key of every active member with the witness role.
func RegistryWitnesses(ms []*pb.Member) []*Witness {
	var out []*Witness
	for _, m := range ms {
		if m.Status != pb.MemberStatus_MEMBER_STATUS_ACTIVE || !ledger.HasRole(m, ledger.RoleWitness) {
			continue
		}
		for _, k := range m.Keys {
			if k.Status != pb.KeyStatus_KEY_STATUS_ACTIVE || len(k.PubKey) != ed25519.PublicKeySize {
				continue
			}
			name := WitnessName(m.Id)
			out = append(out, &Witness{Name: name, Key: VerifierKey(name, k.PubKey), Pub: k.PubKey})
		}
	}
	return out
}

// Group is a policy group: Threshold of its members (witnesses or groups).
type Group struct {
	Name      string
	Threshold int
	Members   []string
}

// Policy says which witnesses a verifier trusts and how many must cosign,
// in the line format of Sigsum's trust policy (docs/witnesses.md):
//
//	log <origin>
//	witness <name> <verifier key>
//	group <name> <k|all|any> <member>...
//	quorum <witness or group name>
type Policy struct {
	Origin    string
	Witnesses []*Witness
	Groups    []*Group
	Quorum    string
}

// ParsePolicy reads a policy file's text.
func ParsePolicy(text string) (*Policy, error) {
	p := &Policy{}
	names := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("policy line %d: %s", i+1, fmt.Sprintf(format, args...))
		}
		switch f[0] {
		case "log":
			if len(f) != 2 || p.Origin != "" {
				return nil, bad("want one line `log <origin>`")
			}
			p.Origin = f[1]
		case "witness":
			if len(f) != 3 {
				return nil, bad("want `witness <name> <verifier key>`")
			}
			if names[f[1]] {
				return nil, bad("%q defined twice", f[1])
			}
			v, err := fnote.NewVerifierForCosignatureV1(f[2])
			if err != nil {
				return nil, bad("verifier key of %s: %v", f[1], err)
			}
			if v.Name() != f[1] {
				return nil, bad("verifier key names %q, not %q", v.Name(), f[1])
			}
			// <name>+<hash>+<base64 key>: the key's base64 may itself hold '+'.
			parts := strings.SplitN(f[2], "+", 3)
			raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
			if err != nil || len(parts) != 3 || len(raw) != 1+ed25519.PublicKeySize {
				return nil, bad("verifier key of %s is not <name>+<hash>+<base64 key>", f[1])
			}
			p.Witnesses = append(p.Witnesses, &Witness{Name: f[1], Key: f[2], Pub: ed25519.PublicKey(raw[1:]), verifier: v})
			names[f[1]] = true
		case "group":
			if len(f) < 4 {
				return nil, bad("want `group <name> <k|all|any> <member>...`")
			}
			if names[f[1]] {
				return nil, bad("%q defined twice", f[1])
			}
			g := &Group{Name: f[1], Members: f[3:]}
			for _, m := range g.Members {
				if !names[m] {
					return nil, bad("group %s: %q is not defined above", f[1], m)
				}
			}
			switch f[2] {
			case "all":
				g.Threshold = len(g.Members)
			case "any":
				g.Threshold = 1
			default:
				var k int
				if _, err := fmt.Sscanf(f[2], "%d", &k); err != nil || k < 1 || k > len(g.Members) {
					return nil, bad("threshold %q: want 1..%d, all or any", f[2], len(g.Members))
				}
				g.Threshold = k
			}
			p.Groups = append(p.Groups, g)
			names[f[1]] = true
		case "quorum":
			if len(f) != 2 || p.Quorum != "" {
				return nil, bad("want one line `quorum <name>`")
			}
			if f[1] != "none" && !names[f[1]] {
				return nil, bad("quorum %q is not defined above", f[1])
			}
			p.Quorum = f[1]
		default:
			return nil, bad("unknown keyword %q", f[0])
		}
	}
	if p.Quorum == "" {
		return nil, errors.New("policy has no quorum line")
	}
	return p, nil
}

// String writes the policy in its file format.
func (p *Policy) String() string {
	var b strings.Builder
	if p.Origin != "" {
		fmt.Fprintf(&b, "log %s\n", p.Origin)
	}
	for _, w := range p.Witnesses {
		fmt.Fprintf(&b, "witness %s %s\n", w.Name, w.Key)
	}
	for _, g := range p.Groups {
		fmt.Fprintf(&b, "group %s %d %s\n", g.Name, g.Threshold, strings.Join(g.Members, " "))
	}
	fmt.Fprintf(&b, "quorum %s\n", p.Quorum)
	return b.String()
}

// Satisfied reports whether cosigners (names) meet the quorum.
func (p *Policy) Satisfied(cosigners []string) bool {
	if p.Quorum == "none" {
		return true
	}
	have := map[string]bool{}
	for _, c := range cosigners {
		have[c] = true
	}
	groups := map[string]*Group{}
	for _, g := range p.Groups {
		groups[g.Name] = g
	}
	var met func(name string, depth int) bool
	met = func(name string, depth int) bool {
		if depth > 16 {
			return false
		}
		g, ok := groups[name]
		if !ok {
			return have[name]
		}
		n := 0
		for _, m := range g.Members {
			if met(m, depth+1) {
				n++
			}
		}
		return n >= g.Threshold
	}
	return met(p.Quorum, 0)
}

// Check verifies a checkpoint note under the policy and requires its
// quorum: the error names the cosigners found and what was needed.
func (p *Policy) Check(msg []byte, chainID string, checkHeader func(*types.LightBlock) error) (*Checkpoint, error) {
	if p.Origin != "" && p.Origin != Origin(chainID) {
		return nil, failf("the policy is for log %s, the chain's is %s", p.Origin, Origin(chainID))
	}
	c, err := Open(msg, chainID, p, checkHeader)
	if err != nil {
		return nil, err
	}
	if !p.Satisfied(c.Cosigners) {
		return nil, failf("no witness quorum: the checkpoint of %d entries carries valid cosignatures from %v, the policy needs %s", c.Size, c.Cosigners, p.Quorum)
	}
	return c, nil
}

// CosignerPolicy knows the witnesses ws and requires none of them (quorum
// none): what checks which cosignatures of a checkpoint verify, as a node
// merging them or an auditor reading them does.
func CosignerPolicy(ws []*Witness) (*Policy, error) {
	var text strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&text, "witness %s %s\n", w.Name, w.Key)
	}
	text.WriteString("quorum none\n")
	return ParsePolicy(text.String())
}

// NewPolicy is the witness policy of chainID with the given witnesses and
// quorum (0: a majority): the policy file `normledger witness policy` writes.
func NewPolicy(chainID string, ws []*Witness, quorum int) (*Policy, error) {
	if len(ws) == 0 {
		return nil, errors.New("the member registry lists no witness (a member with the \"witness\" role)")
	}
	if quorum == 0 {
		quorum = len(ws)/2 + 1
	}
	if quorum < 1 || quorum > len(ws) {
		return nil, fmt.Errorf("--quorum %d: want 1..%d", quorum, len(ws))
	}
	text := fmt.Sprintf("log %s\n", Origin(chainID))
	group := "group witnesses " + fmt.Sprint(quorum)
	for _, w := range ws {
		text += fmt.Sprintf("witness %s %s\n", w.Name, w.Key)
		group += " " + w.Name
	}
	text += group + "\nquorum witnesses\n"
	return ParsePolicy(text)
}
