// Package operator is what an operator does to a home before and while the
// chain forms: make a member's home (CometBFT config, node key, validator
// key, member key, profile, app.toml), write its signed genesis
// application, join a published genesis, and set up state sync. The
// `normledger init` and `genesis` commands and the local testnet's
// ceremony use it. It sits in the CLI floor because it reads CometBFT's
// config.toml with viper, as CometBFT's own commands do.
package operator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/mitchellh/mapstructure"
	"github.com/spf13/viper"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/genesis"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Profile is the public description of the member an operator's home
// belongs to (config/member.json), written by `init --member` and read by
// `genesis application`.
type Profile struct {
	ChainID        string             `json:"chain_id"`
	Member         string             `json:"member"`
	Class          string             `json:"class"`
	Name           string             `json:"name"`
	CountryCode    string             `json:"country_code,omitempty"`
	Roles          []string           `json:"roles,omitempty"`
	PointOfContact *pb.PointOfContact `json:"point_of_contact,omitempty"`
	Validator      bool               `json:"validator"`
	Power          int64              `json:"power,omitempty"`
}

func profilePath(home string) string { return filepath.Join(home, "config", "member.json") }

// ReadProfile reads a home's member profile.
func ReadProfile(home string) (*Profile, error) {
	bz, err := os.ReadFile(profilePath(home))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s has no member profile: it was not made by `normledger init --member`", home)
		}
		return nil, err
	}
	p := new(Profile)
	if err := json.Unmarshal(bz, p); err != nil {
		return nil, fmt.Errorf("%s: %w", profilePath(home), err)
	}
	return p, nil
}

// Options describe one operator's new home.
type Options struct {
	Home    string
	Moniker string
	Profile Profile
	// Keyring backend and passphrase for the member key.
	KeyringBackend string
	Passphrase     keyring.Passphrase
	// Key is the member key to store; nil generates one (tests pass seeded keys).
	Key ed25519.PrivKey
	// Comet adjusts CometBFT's config before it is written.
	Comet func(*cmtcfg.Config)
	// Node is the REST URL client commands of this home talk to.
	Node string
}

// Init creates an operator's home on its own host: CometBFT's
// config and node key, the validator key if the member runs a validator,
// the member's signing key in the home's keyring, and the public member
// profile. It holds no other party's keys and no member set: the chain's
// members come from the genesis ceremony.
func Init(o Options) (keyring.Info, error) {
	p := o.Profile
	if !ledger.IsMemberID(p.Member) {
		return keyring.Info{}, fmt.Errorf("--member %q: want [a-z0-9-]{2,32}", p.Member)
	}
	cv, ok := enum.Parse(pb.MemberClass(0).Descriptor(), p.Class)
	if !ok {
		return keyring.Info{}, fmt.Errorf("--class %q: want state, neutral_body, verifier or observer", p.Class)
	}
	p.Class = enum.NameOf(pb.MemberClass(0).Descriptor(), cv)
	if p.Name == "" {
		p.Name = p.Member
	}
	if p.Validator && p.Power <= 0 {
		p.Power = 10
	}
	if !p.Validator {
		p.Power = 0
	}
	moniker := o.Moniker
	if moniker == "" {
		moniker = p.Member
	}
	if _, err := node.InitHome(node.InitOptions{Home: o.Home, Moniker: moniker, Comet: o.Comet, NoValidatorKey: !p.Validator}); err != nil {
		return keyring.Info{}, err
	}
	kr, err := keyring.Open(filepath.Join(o.Home, "keyring"), o.KeyringBackend, o.Passphrase)
	if err != nil {
		return keyring.Info{}, err
	}
	key := o.Key
	if key == nil {
		key = ed25519.GenPrivKey()
	}
	info, err := kr.Add(p.Member, p.Member, key)
	if err != nil {
		return keyring.Info{}, err
	}
	bz, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return keyring.Info{}, err
	}
	if err := atomicfile.WriteFile(profilePath(o.Home), append(bz, '\n'), 0o644); err != nil {
		return keyring.Info{}, err
	}
	rest := o.Node
	if rest == "" {
		rest = "http://127.0.0.1:1317"
	}
	return info, WriteAppToml(o.Home, p.ChainID, rest, o.KeyringBackend)
}

// NoNode as the p2p address of BuildApplication says the member runs no
// node (it reads and writes through other operators' nodes).
const NoNode = "none"

// BuildApplication writes nothing: it assembles and signs the genesis
// application of an operator's home from its profile, its member key
// (keyring), its validator key and its node key. p2pAddress is where peers
// reach the node (default: config.toml's p2p external_address, else its
// listen address if that names a host), or NoNode.
func BuildApplication(home string, kr *keyring.Keyring, p2pAddress string, now time.Time) (*pb.SignedGenesisApplication, error) {
	p, err := ReadProfile(home)
	if err != nil {
		return nil, err
	}
	ccfg, err := LoadCometConfig(home)
	if err != nil {
		return nil, err
	}
	signer, err := kr.Signer(p.Member)
	if err != nil {
		return nil, fmt.Errorf("member key %q: %w", p.Member, err)
	}
	pub := signer.Key.PubKey().Bytes()
	n, _ := enum.Value(pb.MemberClass(0).Descriptor(), p.Class)
	cv := pb.MemberClass(n)
	m := &pb.Member{Id: p.Member, Class: cv, Name: p.Name, CountryCode: p.CountryCode, Roles: p.Roles,
		PointOfContact: p.PointOfContact, Status: pb.MemberStatus_MEMBER_STATUS_ACTIVE,
		Keys: []*pb.MemberKey{{KeyId: ledger.KeyID(pub), PubKey: pub, Status: pb.KeyStatus_KEY_STATUS_ACTIVE}}}
	// Encryption identities the member holds ('keys add-encryption') join
	// the registry with it: others can seal notices to it from genesis on.
	infos, err := kr.List()
	if err != nil {
		return nil, err
	}
	for _, i := range infos {
		if i.Type == keyring.TypeEncryption && i.Member == p.Member {
			m.EncryptionKeys = append(m.EncryptionKeys, &pb.MemberKey{KeyId: i.KeyID, AgeRecipient: i.AgeRecipient, Status: pb.KeyStatus_KEY_STATUS_ACTIVE})
		}
	}
	var valKey *privval.FilePV
	if p.Validator {
		if ccfg.PrivValidatorListenAddr != "" {
			return nil, fmt.Errorf("this home's validator key lives in a remote signer (priv_validator_laddr): run `genesis application` where the key is, or pass its public key to the coordinator")
		}
		if _, err := os.Stat(ccfg.PrivValidatorKeyFile()); err != nil {
			return nil, fmt.Errorf("validator key: %w", err)
		}
		valKey = privval.LoadFilePV(ccfg.PrivValidatorKeyFile(), ccfg.PrivValidatorStateFile())
		m.ValidatorPubKey, m.ValidatorPower = valKey.Key.PubKey.Bytes(), p.Power
	}
	nk, err := p2p.LoadNodeKey(ccfg.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	nodeID := string(nk.ID())
	if p2pAddress == NoNode {
		if p.Validator {
			return nil, fmt.Errorf("a validator runs a node: give its --p2p-address")
		}
		nodeID, p2pAddress = "", ""
	} else if p2pAddress == "" {
		p2pAddress = strings.TrimPrefix(ccfg.P2P.ExternalAddress, "tcp://")
	}
	if p2pAddress == "" {
		addr := strings.TrimPrefix(ccfg.P2P.ListenAddress, "tcp://")
		if host, _, err := net.SplitHostPort(addr); err == nil && host != "" && host != "0.0.0.0" && host != "::" {
			p2pAddress = addr
		}
	}
	if p2pAddress == "" && nodeID != "" {
		return nil, fmt.Errorf("give --p2p-address host:port: where the other operators' nodes reach this one (or %q)", NoNode)
	}
	a := genesis.NewApplication(p.ChainID, m, nodeID, p2pAddress, now)
	if valKey != nil {
		return genesis.Sign(a, signer.Key, valKey.Key.PrivKey)
	}
	return genesis.Sign(a, signer.Key, nil)
}

// JoinGenesis makes home a node of the chain genesisFile describes: it
// creates a plain (non-validating, non-member) node home if there is none,
// verifies the genesis (and its hash, if given), installs it, and sets the
// persistent peers. If the operator's member is in the genesis, it must be
// there with this home's member key and, for a validator, this home's
// validator key. A member that is not in it (one to be admitted by
// governance) gets a note, not an error.
func JoinGenesis(home, genesisFile, wantHash, peers string, comet func(*cmtcfg.Config)) (*Profile, string, error) {
	p, note, err := joinGenesis(home, genesisFile, wantHash, peers, comet)
	return p, note, err
}

func joinGenesis(home, genesisFile, wantHash, peers string, comet func(*cmtcfg.Config)) (p *Profile, note string, err error) {
	doc, err := genesis.VerifyFile(genesisFile, wantHash)
	if err != nil {
		return nil, "", err
	}
	cfgPath := filepath.Join(home, "config", "config.toml")
	if _, err := os.Stat(cfgPath); errors.Is(err, os.ErrNotExist) {
		if _, err := node.InitHome(node.InitOptions{Home: home, Moniker: filepath.Base(home), Comet: comet, NoValidatorKey: true}); err != nil {
			return nil, "", err
		}
		if err := WriteAppToml(home, doc.ChainID, "http://127.0.0.1:1317", keyring.BackendFile); err != nil {
			return nil, "", err
		}
	}
	ccfg, err := LoadCometConfig(home)
	if err != nil {
		return nil, "", err
	}
	p, err = ReadProfile(home)
	if err != nil {
		p = nil // a plain node
	}
	if p != nil {
		if p.ChainID != doc.ChainID {
			return nil, "", fmt.Errorf("this home was made for chain %q, the genesis is for %q", p.ChainID, doc.ChainID)
		}
		gs := new(pb.GenesisState)
		if err := unmarshalAppState(doc.AppState, gs); err != nil {
			return nil, "", err
		}
		var mine *pb.Member
		for _, m := range gs.Members {
			if m.Id == p.Member {
				mine = m
			}
		}
		if mine == nil {
			note = fmt.Sprintf("member %q is not in this genesis: until a governance vote admits it, this is a full node", p.Member)
		}
		kr, err := keyring.Open(filepath.Join(home, "keyring"), keyring.BackendTest, nil)
		if err != nil {
			return nil, "", err
		}
		if info, err := kr.Show(p.Member); err == nil && mine != nil {
			found := false
			for _, k := range mine.Keys {
				found = found || k.KeyId == info.KeyID
			}
			if !found {
				return nil, "", fmt.Errorf("the genesis lists member %q without this home's key %s", p.Member, info.KeyID)
			}
		}
		if mine != nil && p.Validator && ccfg.PrivValidatorListenAddr == "" {
			pv := privval.LoadFilePV(ccfg.PrivValidatorKeyFile(), ccfg.PrivValidatorStateFile())
			if !bytes.Equal(pv.Key.PubKey.Bytes(), mine.ValidatorPubKey) {
				return nil, "", fmt.Errorf("the genesis lists a different validator key for %q than this home's", p.Member)
			}
		}
	}
	dst := ccfg.GenesisFile()
	if old, err := os.ReadFile(dst); err == nil {
		newBz, err := os.ReadFile(genesisFile)
		if err != nil {
			return nil, "", err
		}
		if !bytes.Equal(old, newBz) {
			if h, _ := genesis.Hash(dst); h != "" {
				return nil, "", fmt.Errorf("%s already holds another genesis (hash %s); use a fresh home", home, h)
			}
		}
	}
	// Installed byte for byte, so its hash stays the published one.
	bz, err := os.ReadFile(genesisFile)
	if err != nil {
		return nil, "", err
	}
	if err := atomicfile.WriteFile(dst, bz, 0o644); err != nil {
		return nil, "", err
	}
	if peers != "" {
		ccfg.P2P.PersistentPeers = peers
	}
	if err := node.SaveCometConfig(home, ccfg); err != nil {
		return nil, "", err
	}
	return p, note, nil
}

func unmarshalAppState(bz []byte, gs *pb.GenesisState) error {
	return protojson.Unmarshal(bz, gs)
}

// EnableStateSync configures home's node to join by state sync
// (config.toml [statesync]): CometBFT's light client verifies the snapshot's
// height from trustHeight/trustHash (taken from a source you trust, out of
// band) through rpcServers (at least two CometBFT RPC URLs of other
// operators), and the app checks every chunk against that verified app hash.
func EnableStateSync(home string, rpcServers []string, trustHeight int64, trustHash string) error {
	if len(rpcServers) < 2 {
		return fmt.Errorf("state sync needs at least two RPC servers to cross-check, got %d", len(rpcServers))
	}
	if trustHeight <= 0 || len(trustHash) != 64 {
		return fmt.Errorf("state sync needs a trusted height and its 64-hex header hash")
	}
	ccfg, err := LoadCometConfig(home)
	if err != nil {
		return err
	}
	ccfg.StateSync.Enable = true
	ccfg.StateSync.RPCServers = rpcServers
	ccfg.StateSync.TrustHeight = trustHeight
	ccfg.StateSync.TrustHash = strings.ToLower(trustHash)
	ccfg.StateSync.TrustPeriod = 168 * time.Hour
	ccfg.StateSync.DiscoveryTime = 5 * time.Second
	ccfg.StateSync.ChunkRequestTimeout = 5 * time.Second
	if err := ccfg.ValidateBasic(); err != nil {
		return err
	}
	return node.SaveCometConfig(home, ccfg)
}

const appTomlTemplate = `# normledger settings. Precedence: command-line flags, then NORMLEDGER_*
# environment variables (NORMLEDGER_LOG_LEVEL for log.level), then this file.
# CometBFT's own settings live in config.toml next to this file.

# Chain this home belongs to.
chain_id = %q

# REST API that client commands (tx, query, verify) talk to.
node = %q

# Where member keys are kept: "file" (passphrase-encrypted) or "test"
# (unencrypted, development only).
keyring_backend = %q

# Default output of queries: "text" or "json".
output = "text"

[log]
# normledger log level: debug, info, warn, error.
level = "info"
# CometBFT's own log level.
comet_level = "error"
# text or json.
format = "text"

[rpc]
# Overrides config.toml rpc.laddr when set, e.g. "tcp://127.0.0.1:26657".
laddr = ""

[p2p]
# Override config.toml's p2p settings when set: listen address, peers to
# keep connected to (id@host:port,...), seed nodes, and the address peers
# should dial (host:port, e.g. behind NAT or a sentry).
laddr = ""
persistent_peers = ""
seeds = ""
external_address = ""

[priv_validator]
# Remote signer: listen here for a signer process holding the validator key
# (tmkms, Horcrux, normledger signer), e.g. "tcp://127.0.0.1:26659". The
# node then keeps no validator key. Overrides config.toml's
# priv_validator_laddr.
laddr = ""

[app]
# IAVL node cache size (nodes); 0 = default.
cache_size = 0
# Walk the whole application state at start to find damage: "auto" (after an
# unclean shutdown), "always" or "never".
verify_on_start = "auto"
# State versions (heights) to keep: 0 keeps every version (an archive node,
# proofs at any height); N >= 100 deletes versions older than the newest N after
# each block, which bounds the state's growth. The newest version always
# holds every record and member, so proofs at recent heights are unaffected;
# reads at a deleted height answer 404.
keep_recent = 0

[state_sync]
# Take a state-sync snapshot every N heights for joining nodes (0: none);
# keep the newest K. A joining node restores one by enabling [statesync] in
# config.toml (docs/operations.md).
snapshot_interval = 0
snapshot_keep_recent = 2

[checkpoints]
# Publish a checkpoint of the record log (docs/witnesses.md) at every state
# height that is a multiple of interval_blocks, and (if interval_seconds > 0)
# at the first height of every window of that many seconds of block time.
# Both follow the chain's own data, so every node publishes the same
# checkpoints. 0 and 0: none.
interval_blocks = 10
interval_seconds = 0
# Witnesses (C2SP tlog-witness submission URLs) to send each checkpoint to
# for cosigning; cosignatures that verify against a witness key in the
# member registry are kept and served with the checkpoint.
witnesses = []

[api]
# REST (grpc-gateway) and gRPC listeners; "" disables a server.
rest_laddr = "tcp://127.0.0.1:1317"
grpc_laddr = "tcp://127.0.0.1:9090"
# Browser origins allowed to call the REST API ("*" for any).
cors_origins = []
# Largest accepted request body, bytes (413 beyond).
max_body_bytes = 262144
# Reads per second per client, and burst (REST GET/HEAD: 429 beyond; gRPC
# reads: RESOURCE_EXHAUSTED); 0 disables.
read_rate_limit = 200
read_rate_burst = 400
# Native TLS (PEM files): REST serves HTTPS and gRPC TLS when both are set.
tls_cert_file = ""
tls_key_file = ""
# Reverse proxies (IPs or CIDRs, e.g. ["127.0.0.1", "10.0.0.0/8"]) whose
# X-Forwarded-For and X-Forwarded-Proto are believed: the client is the
# rightmost address in X-Forwarded-For that is not a trusted proxy, and links
# the node writes use the proxy's scheme. Headers from anyone else are ignored.
trusted_proxies = []
# Serve Prometheus /metrics on a listener of its own (e.g.
# "tcp://127.0.0.1:26661"; CometBFT's own metrics default to :26660) instead
# of the REST port, with /livez and /readyz; "" keeps them on REST.
metrics_laddr = ""
`

// WriteAppToml writes home's config/app.toml with the defaults and the
// given chain id, REST URL for client commands and keyring backend.
func WriteAppToml(home, chainID, node, backend string) error {
	path := filepath.Join(home, "config", "app.toml")
	return atomicfile.WriteFile(path, []byte(fmt.Sprintf(appTomlTemplate, chainID, node, backend)), 0o644)
}

// LoadCometConfig reads config/config.toml of home into a CometBFT config.
func LoadCometConfig(home string) (*cmtcfg.Config, error) {
	cfg := cmtcfg.DefaultConfig()
	path := filepath.Join(home, "config", "config.toml")
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s not found: run `normledger init --home %s` first", path, home)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	md := new(mapstructure.Metadata)
	if err := v.Unmarshal(cfg, func(dc *mapstructure.DecoderConfig) { dc.Metadata = md }); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	// A typo would otherwise leave CometBFT's default in place in silence.
	if len(md.Unused) > 0 {
		sort.Strings(md.Unused)
		return nil, fmt.Errorf("%s: unknown key %q: remove it or correct its name (CometBFT v0.38's config.toml)", path, strings.Join(md.Unused, `", "`))
	}
	cfg.SetRoot(home)
	if err := cfg.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
