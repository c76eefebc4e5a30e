package testnet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/client/keyring"
	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/node"
	"github.com/normledger/normledger/node/genesis"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/checkpoint"
)

// Ports are one node's listen addresses (host:port).
type Ports struct {
	RPC, P2P, REST, GRPC string
	// Prometheus, when set, turns on CometBFT's own Prometheus metrics
	// (config.toml [instrumentation]) served there at /metrics. CometBFT
	// registers them in the process-wide default registry, so only a node
	// that is a process of its own may have them: the in-process test
	// networks leave this empty.
	Prometheus string `json:",omitempty"`
}

// Options describe a local network.
type Options struct {
	Dir        string
	ChainID    string
	Validators int
	// FullNodes are non-validating nodes, named after the validators.
	FullNodes int
	// LoadMembers adds state members load-001 ... for load generation (more
	// signers, more parallel sequences).
	LoadMembers int
	// App is what the nodes run: AppNormledger (default) or AppKVStore.
	App string
	// PortsFor gives node i's addresses; the default is 127.0.0.1 with
	// 26657+10i (RPC), 26656+10i (P2P), 1317+10i (REST), 9090+10i (gRPC)
	// and 26660+10i (CometBFT's Prometheus metrics).
	PortsFor      func(i int) Ports
	TimeoutCommit time.Duration
	// KeyFor supplies member keys; the default generates fresh ones.
	KeyFor func(id string) ed25519.PrivKey
	// SnapshotInterval > 0 has the validators take state-sync snapshots
	// every that many heights (app.toml [state_sync]), in chunks of
	// subtrees of at most SnapshotChunkHeight (0: the default).
	SnapshotInterval    int64
	SnapshotChunkHeight int
	// Witnesses (0..2) run record log witnesses: the neutral body
	// "observatory" and the verifier "lumen", from their own homes, at
	// WitnessAddrs (default 127.0.0.1:7380+i); every node sends them its
	// checkpoints. The policy for verifiers is <dir>/witness-policy.txt.
	Witnesses    int
	WitnessAddrs []string
	// LimitReads runs the nodes with the node's default read rate limit
	// (200 reads/s per client, burst 400), as `testnet init` and `up` do;
	// test networks that read hard from one address leave it off.
	LimitReads bool
}

// NodeInfo describes one generated node.
type NodeInfo struct {
	Name      string `json:"name"`
	Home      string `json:"home"`
	NodeID    string `json:"node_id"`
	Validator bool   `json:"validator"`
	// Member is the member whose operator runs the node ("" for a full node
	// nobody in particular runs).
	Member string `json:"member,omitempty"`
	// Netns, when set, is the network namespace the node's process runs in
	// (its own host on a bridge; see Hosts).
	Netns string `json:"netns,omitempty"`
	Ports `json:"ports"`
}

// REST is the node's REST base URL.
func (n NodeInfo) RESTURL() string { return "http://" + n.REST }

// Network is a generated network, also written to <dir>/testnet.json.
type Network struct {
	Dir           string        `json:"-"`
	ChainID       string        `json:"chain_id"`
	App           string        `json:"app,omitempty"`
	TimeoutCommit time.Duration `json:"timeout_commit"`
	Nodes         []NodeInfo    `json:"nodes"`
	// Members lists every member; MemberHomes says where each operator's
	// home is (its keyring holds that member's key, and no other).
	Members     []string          `json:"members"`
	MemberHomes map[string]string `json:"member_homes"`
	// Genesis is the published genesis file and GenesisHash its hash.
	Genesis     string `json:"genesis"`
	GenesisHash string `json:"genesis_hash"`
	// LimitReads: the nodes run with the default read rate limit.
	LimitReads bool `json:"limit_reads,omitempty"`
	// Snapshots the validators take (see Options).
	SnapshotInterval    int64 `json:"snapshot_interval,omitempty"`
	SnapshotChunkHeight int   `json:"snapshot_chunk_height,omitempty"`
	// Witnesses are the witness processes (Home: the member's, REST: the
	// witness API address), and Policy the verifiers' policy file.
	Witnesses []NodeInfo `json:"witnesses,omitempty"`
	Policy    string     `json:"witness_policy,omitempty"`
}

// DefaultPorts is the default port plan.
func DefaultPorts(i int) Ports {
	return Ports{
		RPC: fmt.Sprintf("127.0.0.1:%d", 26657+10*i), P2P: fmt.Sprintf("127.0.0.1:%d", 26656+10*i),
		REST: fmt.Sprintf("127.0.0.1:%d", 1317+10*i), GRPC: fmt.Sprintf("127.0.0.1:%d", 9090+10*i),
		Prometheus: fmt.Sprintf("127.0.0.1:%d", 26660+10*i),
	}
}

// Generate runs the genesis ceremony of a local network exactly as separate
// operators would: every member gets its own home (`init --member`), writes
// a signed application holding only public parts (`genesis application`),
// a coordinator adds them to a draft and finalizes the genesis (`genesis
// new/add/finalize`), and every node home installs it after checking its
// hash (`init --genesis`). Validators node0..nodeN-1 are run by fictional
// states (xaa, xbb, ...); the neutral body "observatory", the verifier
// "lumen" and any load members have homes under members/ and run no node.
func Generate(o Options) (*Network, error) {
	if o.FullNodes < 0 {
		return nil, fmt.Errorf("full nodes: want 0 or more")
	}
	if o.Validators < 1 || o.Validators > len(fixture.StateNames) {
		return nil, fmt.Errorf("validators: want 1 to %d", len(fixture.StateNames))
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	o.Dir = abs
	if o.ChainID == "" {
		o.ChainID = "normledger-testnet"
	}
	if o.PortsFor == nil {
		o.PortsFor = DefaultPorts
	}
	if o.TimeoutCommit == 0 {
		o.TimeoutCommit = 300 * time.Millisecond
	}
	if o.KeyFor == nil {
		o.KeyFor = func(string) ed25519.PrivKey { return ed25519.GenPrivKey() }
	}
	for _, d := range []string{o.Dir, filepath.Join(o.Dir, "applications"), filepath.Join(o.Dir, "members")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	net := &Network{ChainID: o.ChainID, MemberHomes: map[string]string{}, SnapshotInterval: o.SnapshotInterval, SnapshotChunkHeight: o.SnapshotChunkHeight}
	net.Dir, net.TimeoutCommit, net.App, net.LimitReads = o.Dir, o.TimeoutCommit, o.App, o.LimitReads
	members := fixture.Dev(o.Validators, o.KeyFor)
	for i := 1; i <= o.LoadMembers; i++ {
		id := fmt.Sprintf("load-%03d", i)
		members = append(members, fixture.Member{ID: id, Class: pb.MemberClass_MEMBER_CLASS_STATE,
			Name: "Load generator " + id, Country: "XZZ", Key: o.KeyFor(id)})
	}
	// Every operator, on "its own host".
	var apps []string
	for i, m := range members {
		home := filepath.Join(o.Dir, "members", m.ID)
		validator := i < o.Validators
		var comet func(*cmtcfg.Config)
		p2pAddr := operator.NoNode
		if validator {
			home = filepath.Join(o.Dir, fmt.Sprintf("node%d", i))
			ports := o.PortsFor(i)
			comet = nodeComet(ports, o.TimeoutCommit)
			p2pAddr = ports.P2P
		}
		prof := operator.Profile{ChainID: o.ChainID, Member: m.ID, Class: enum.Name(m.Class), Name: m.Name,
			CountryCode: m.Country, Roles: m.Roles, Validator: validator, Power: 10,
			PointOfContact: &pb.PointOfContact{Name: "Duty officer", Organisation: m.Name, Email: "poc@" + m.ID + ".example"}}
		if _, err := operator.Init(operator.Options{Home: home, Profile: prof, KeyringBackend: keyring.BackendTest, Key: m.Key, Comet: comet}); err != nil {
			return nil, fmt.Errorf("operator %s: %w", m.ID, err)
		}
		kr, err := keyring.Open(filepath.Join(home, "keyring"), keyring.BackendTest, nil)
		if err != nil {
			return nil, err
		}
		if m.Encryption != "" {
			// Each state brings a fresh encryption identity to genesis
			// (sealed notices to it; docs/sealed.md).
			if _, err := kr.AddEncryption(m.ID+"-enc", m.ID); err != nil {
				return nil, fmt.Errorf("encryption identity of %s: %w", m.ID, err)
			}
		}
		app, err := operator.BuildApplication(home, kr, p2pAddr, time.Now())
		if err != nil {
			return nil, fmt.Errorf("application of %s: %w", m.ID, err)
		}
		path := filepath.Join(o.Dir, "applications", m.ID+".json")
		if err := genesis.WriteFile(path, app); err != nil {
			return nil, err
		}
		apps = append(apps, path)
		net.Members = append(net.Members, m.ID)
		net.MemberHomes[m.ID] = home
		if validator {
			net.Nodes = append(net.Nodes, NodeInfo{Name: fmt.Sprintf("node%d", i), Home: home, NodeID: app.Application.NodeId,
				Validator: true, Member: m.ID, Ports: o.PortsFor(i)})
		}
	}
	// The coordinator: only the application files.
	draft, err := genesis.NewDraft(o.ChainID)
	if err != nil {
		return nil, err
	}
	var signed []*pb.SignedGenesisApplication
	for _, path := range apps {
		a, err := genesis.ReadApplication(path)
		if err != nil {
			return nil, err
		}
		signed = append(signed, a)
	}
	if err := genesis.Add(draft, signed...); err != nil {
		return nil, err
	}
	if err := genesis.WriteFile(filepath.Join(o.Dir, "draft.json"), draft); err != nil {
		return nil, err
	}
	doc, err := genesis.Finalize(draft, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	net.Genesis = filepath.Join(o.Dir, "genesis.json")
	if err := genesis.WriteGenesis(net.Genesis, doc); err != nil {
		return nil, err
	}
	if net.GenesisHash, err = genesis.Hash(net.Genesis); err != nil {
		return nil, err
	}
	if o.Witnesses > 0 {
		if err := net.addWitnesses(o, members); err != nil {
			return nil, err
		}
	}
	// Every node: the published genesis, checked against the hash given out
	// of band, and the other nodes as peers.
	for i := 0; i < o.FullNodes; i++ {
		idx := o.Validators + i
		name := fmt.Sprintf("node%d", idx)
		net.Nodes = append(net.Nodes, NodeInfo{Name: name, Home: filepath.Join(o.Dir, name), Ports: o.PortsFor(idx)})
	}
	for i, n := range net.Nodes {
		if _, _, err := operator.JoinGenesis(n.Home, net.Genesis, net.GenesisHash, "", nodeComet(n.Ports, o.TimeoutCommit)); err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		if n.NodeID == "" {
			nk, err := p2p.LoadNodeKey(filepath.Join(n.Home, "config", "node_key.json"))
			if err != nil {
				return nil, err
			}
			net.Nodes[i].NodeID = string(nk.ID())
		}
	}
	for _, n := range net.Nodes {
		if err := net.setPeers(n); err != nil {
			return nil, err
		}
		interval := int64(0)
		if n.Validator {
			interval = net.SnapshotInterval
		}
		if err := net.writeNodeAppToml(n, interval); err != nil {
			return nil, err
		}
	}
	return net, net.save()
}

// addWitnesses names the witness processes and writes the policy.
func (n *Network) addWitnesses(o Options, members []fixture.Member) error {
	var ws []*checkpoint.Witness
	for i, id := range []string{"observatory", "lumen"}[:min(o.Witnesses, 2)] {
		addr := fmt.Sprintf("127.0.0.1:%d", 7380+i)
		if i < len(o.WitnessAddrs) {
			addr = o.WitnessAddrs[i]
		}
		n.Witnesses = append(n.Witnesses, NodeInfo{Name: "witness-" + id, Home: n.MemberHomes[id], Member: id, Ports: Ports{REST: addr}})
		for _, m := range members {
			if m.ID == id {
				name := checkpoint.WitnessName(id)
				ws = append(ws, &checkpoint.Witness{Name: name, Key: checkpoint.VerifierKey(name, m.Key.PubKey().Bytes())})
			}
		}
	}
	p, err := checkpoint.NewPolicy(n.ChainID, ws, 0)
	if err != nil {
		return err
	}
	n.Policy = filepath.Join(n.Dir, "witness-policy.txt")
	return atomicfile.WriteFile(n.Policy, []byte(p.String()), 0o644)
}

// nodeComet is the CometBFT configuration of a local node.
func nodeComet(ports Ports, timeoutCommit time.Duration) func(*cmtcfg.Config) {
	return func(c *cmtcfg.Config) {
		c.RPC.ListenAddress = "tcp://" + ports.RPC
		c.P2P.ListenAddress = "tcp://" + ports.P2P
		c.P2P.ExternalAddress = ports.P2P
		c.P2P.PexReactor = false
		c.P2P.AddrBookStrict = false
		c.P2P.AllowDuplicateIP = true
		c.Consensus.TimeoutCommit = timeoutCommit
		c.Consensus.TimeoutPropose = 1 * time.Second
		c.Mempool.Recheck = true
		c.Instrumentation.Prometheus = ports.Prometheus != ""
		if ports.Prometheus != "" {
			c.Instrumentation.PrometheusListenAddr = ports.Prometheus
		}
	}
}

// setPeers writes every other node as a persistent peer of n.
func (n *Network) setPeers(nd NodeInfo) error {
	cfg, err := operator.LoadCometConfig(nd.Home)
	if err != nil {
		return err
	}
	cfg.P2P.PersistentPeers = n.peersExcept(nd.Name)
	if err := node.SaveCometConfig(nd.Home, cfg); err != nil {
		return err
	}
	return nil
}

// Signer is a member's signing key, from that member's own home.
func (n *Network) Signer(member string) (ledger.Signer, error) {
	home, ok := n.MemberHomes[member]
	if !ok {
		return ledger.Signer{}, fmt.Errorf("%s has no home in this network", member)
	}
	kr, err := keyring.Open(filepath.Join(home, "keyring"), keyring.BackendTest, nil)
	if err != nil {
		return ledger.Signer{}, err
	}
	return kr.Signer(member)
}

// Identity is a member's encryption identity ("<member>-enc"), from that
// member's own home.
func (n *Network) Identity(member string) (*age.X25519Identity, error) {
	home, ok := n.MemberHomes[member]
	if !ok {
		return nil, fmt.Errorf("%s has no home in this network", member)
	}
	kr, err := keyring.Open(filepath.Join(home, "keyring"), keyring.BackendTest, nil)
	if err != nil {
		return nil, err
	}
	return kr.Identity(member + "-enc")
}

// AddMemberHome registers a member home made after the ceremony (a member
// admitted by governance) and saves testnet.json.
func (n *Network) AddMemberHome(member, home string) error {
	if n.MemberHomes == nil {
		n.MemberHomes = map[string]string{}
	}
	n.MemberHomes[member] = home
	n.Members = append(n.Members, member)
	return n.save()
}

func (n *Network) peersExcept(name string) string {
	var peers []string
	for _, m := range n.Nodes {
		if m.Name != name {
			peers = append(peers, m.NodeID+"@"+m.P2P)
		}
	}
	return strings.Join(peers, ",")
}

func (n *Network) save() error {
	bz, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(n.Dir, "testnet.json"), append(bz, '\n'), 0o644)
}

// AddFullNode adds a non-validating node to an existing network: a fresh
// home that joins the published genesis (`init --genesis`), with every
// existing node as a persistent peer. Start it to have it sync from genesis.
func (n *Network) AddFullNode(ports Ports) (NodeInfo, error) {
	return n.addNode(ports, "")
}

// AddOperatorNode adds the node of a new member's operator: its own home
// (`init --member --validator`: node key, validator key and member key,
// nobody else's) joined to the published genesis, peering with every
// node. The member is not in the registry yet: governance admits it.
func (n *Network) AddOperatorNode(ports Ports, prof operator.Profile, key ed25519.PrivKey) (NodeInfo, error) {
	i := len(n.Nodes)
	home := filepath.Join(n.Dir, fmt.Sprintf("node%d", i))
	prof.ChainID, prof.Validator = n.ChainID, true
	if _, err := operator.Init(operator.Options{Home: home, Profile: prof, KeyringBackend: keyring.BackendTest, Key: key,
		Comet: nodeComet(ports, n.TimeoutCommit)}); err != nil {
		return NodeInfo{}, err
	}
	info, err := n.addNode(ports, prof.Member)
	if err != nil {
		return NodeInfo{}, err
	}
	return info, n.AddMemberHome(prof.Member, home)
}

func (n *Network) addNode(ports Ports, member string) (NodeInfo, error) {
	i := len(n.Nodes)
	name := fmt.Sprintf("node%d", i)
	info := NodeInfo{Name: name, Home: filepath.Join(n.Dir, name), Ports: ports, Member: member}
	if _, _, err := operator.JoinGenesis(info.Home, n.Genesis, n.GenesisHash, "", nodeComet(ports, n.TimeoutCommit)); err != nil {
		return NodeInfo{}, err
	}
	nk, err := p2p.LoadNodeKey(filepath.Join(info.Home, "config", "node_key.json"))
	if err != nil {
		return NodeInfo{}, err
	}
	info.NodeID = string(nk.ID())
	n.Nodes = append(n.Nodes, info)
	if err := n.setPeers(info); err != nil {
		return NodeInfo{}, err
	}
	if err := n.writeNodeAppToml(info, 0); err != nil {
		return NodeInfo{}, err
	}
	return info, n.save()
}

// writeNodeAppToml writes the node's app.toml with the network's snapshot
// and witness settings.
func (net *Network) writeNodeAppToml(n NodeInfo, snapshotInterval int64) error {
	var ws []string
	for _, w := range net.Witnesses {
		ws = append(ws, fmt.Sprintf("%q", "http://"+w.REST))
	}
	return writeNodeAppTomlWith(n, snapshotInterval, net.SnapshotChunkHeight, ws, net.LimitReads)
}

// writeNodeAppToml writes the API addresses into the node's app.toml so that
// `normledger start --home <node home>` serves them.
func writeNodeAppToml(n NodeInfo, snapshotInterval int64, chunkHeight int) error {
	return writeNodeAppTomlWith(n, snapshotInterval, chunkHeight, nil, false)
}

func writeNodeAppTomlWith(n NodeInfo, snapshotInterval int64, chunkHeight int, witnesses []string, limitReads bool) error {
	rate := "read_rate_limit = 0"
	if limitReads {
		rate = "# read_rate_limit: the node's default (200 reads/s per client, burst 400)"
	}
	s := fmt.Sprintf(`# written by testnet generation
chain_id = ""
node = %q
keyring_backend = "test"

[log]
level = "info"
comet_level = "error"
format = "text"

[state_sync]
snapshot_interval = %d
snapshot_chunk_height = %d

[checkpoints]
interval_blocks = 10
witnesses = [%s]

[api]
rest_laddr = "tcp://%s"
grpc_laddr = "tcp://%s"
%s
`, n.RESTURL(), snapshotInterval, chunkHeight, strings.Join(witnesses, ", "), n.REST, n.GRPC, rate)
	return atomicfile.WriteFile(filepath.Join(n.Home, "config", "app.toml"), []byte(s), 0o644)
}

// Load reads <dir>/testnet.json.
func Load(dir string) (*Network, error) {
	bz, err := os.ReadFile(filepath.Join(dir, "testnet.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a testnet directory (run `normledger testnet init`): %w", dir, err)
	}
	n := &Network{Dir: dir}
	return n, json.Unmarshal(bz, n)
}
