package testnet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/cli/keyring"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/node"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Ports are one node's listen addresses (host:port).
type Ports struct {
	RPC, P2P, REST, GRPC string
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
	// 26657+10i (RPC), 26656+10i (P2P), 1317+10i (REST), 9090+10i (gRPC).
	PortsFor      func(i int) Ports
	TimeoutCommit time.Duration
	// KeyFor supplies member keys; the default generates fresh ones.
	KeyFor func(id string) ed25519.PrivKey
}

// NodeInfo describes one generated node.
type NodeInfo struct {
	Name      string `json:"name"`
	Home      string `json:"home"`
	NodeID    string `json:"node_id"`
	Validator bool   `json:"validator"`
	Ports     `json:"ports"`
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
	// Keyring is a test-backend keyring holding every member's key.
	Keyring string   `json:"keyring"`
	Members []string `json:"members"`
}

// DefaultPorts is the default port plan.
func DefaultPorts(i int) Ports {
	return Ports{
		RPC: fmt.Sprintf("127.0.0.1:%d", 26657+10*i), P2P: fmt.Sprintf("127.0.0.1:%d", 26656+10*i),
		REST: fmt.Sprintf("127.0.0.1:%d", 1317+10*i), GRPC: fmt.Sprintf("127.0.0.1:%d", 9090+10*i),
	}
}

// Generate writes node homes node0..nodeN-1 sharing one genesis: one
// fictional state member per validator (xaa, xbb, ...), the neutral body
// "observatory" and the verifier "lumen", all keys in <dir>/keyring.
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
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	net := &Network{ChainID: o.ChainID, Keyring: filepath.Join(o.Dir, "keyring")}
	net.Dir, net.TimeoutCommit, net.App = o.Dir, o.TimeoutCommit, o.App
	var vals []cmttypes.GenesisValidator
	var cfgs []*cmtcfg.Config
	for i := 0; i < o.Validators+o.FullNodes; i++ {
		info, cfg, err := initNode(o.Dir, i, o.PortsFor(i), o.TimeoutCommit)
		if err != nil {
			return nil, err
		}
		if i < o.Validators {
			info.Validator = true
			val, err := node.ValidatorPubKey(cfg)
			if err != nil {
				return nil, err
			}
			vals = append(vals, val)
		}
		cfgs = append(cfgs, cfg)
		net.Nodes = append(net.Nodes, info)
	}
	members := fixture.Dev(o.Validators, o.KeyFor)
	for i := 1; i <= o.LoadMembers; i++ {
		id := fmt.Sprintf("load-%03d", i)
		members = append(members, fixture.Member{ID: id, Class: pb.MemberClass_MEMBER_CLASS_STATE,
			Name: "Load generator " + id, Country: "XZZ", Key: o.KeyFor(id)})
	}
	kr, err := keyring.Open(net.Keyring, keyring.BackendTest, nil)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if _, err := kr.Add(m.ID, m.ID, m.Key); err != nil {
			return nil, err
		}
		net.Members = append(net.Members, m.ID)
	}
	gs := fixture.Genesis(members)
	for i := range vals {
		gs.Members[i].ValidatorPubKey = vals[i].PubKey.Bytes()
		gs.Members[i].ValidatorPower = vals[i].Power
	}
	genesisTime := time.Now().UTC()
	for i, n := range net.Nodes {
		cfgs[i].P2P.PersistentPeers = net.peersExcept(n.Name)
		cmtcfg.WriteConfigFile(filepath.Join(n.Home, "config", "config.toml"), cfgs[i])
		if err := node.WriteGenesis(cfgs[i].GenesisFile(), o.ChainID, genesisTime, vals, gs); err != nil {
			return nil, err
		}
		if err := writeNodeAppToml(n); err != nil {
			return nil, err
		}
	}
	return net, net.save()
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
	return os.WriteFile(filepath.Join(n.Dir, "testnet.json"), append(bz, '\n'), 0o644)
}

// initNode creates the home of node i.
func initNode(dir string, i int, ports Ports, timeoutCommit time.Duration) (NodeInfo, *cmtcfg.Config, error) {
	name := fmt.Sprintf("node%d", i)
	home := filepath.Join(dir, name)
	cfg, err := node.InitHome(node.InitOptions{Home: home, Moniker: name, Comet: func(c *cmtcfg.Config) {
		c.RPC.ListenAddress = "tcp://" + ports.RPC
		c.P2P.ListenAddress = "tcp://" + ports.P2P
		c.P2P.ExternalAddress = ports.P2P
		c.P2P.PexReactor = false
		c.P2P.AddrBookStrict = false
		c.P2P.AllowDuplicateIP = true
		c.Consensus.TimeoutCommit = timeoutCommit
		c.Consensus.TimeoutPropose = 1 * time.Second
		c.Mempool.Recheck = true
	}})
	if err != nil {
		return NodeInfo{}, nil, err
	}
	nk, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return NodeInfo{}, nil, err
	}
	return NodeInfo{Name: name, Home: home, NodeID: string(nk.ID()), Ports: ports}, cfg, nil
}

// AddFullNode adds a non-validating node to an existing network: same
// genesis, every existing node as a persistent peer. Start it to have it
// sync from genesis.
func (n *Network) AddFullNode(ports Ports) (NodeInfo, error) {
	i := len(n.Nodes)
	info, cfg, err := initNode(n.Dir, i, ports, n.TimeoutCommit)
	if err != nil {
		return NodeInfo{}, err
	}
	cfg.P2P.PersistentPeers = n.peersExcept(info.Name)
	cmtcfg.WriteConfigFile(filepath.Join(info.Home, "config", "config.toml"), cfg)
	gen, err := os.ReadFile(filepath.Join(n.Nodes[0].Home, "config", "genesis.json"))
	if err != nil {
		return NodeInfo{}, err
	}
	if err := os.WriteFile(cfg.GenesisFile(), gen, 0o644); err != nil {
		return NodeInfo{}, err
	}
	if err := writeNodeAppToml(info); err != nil {
		return NodeInfo{}, err
	}
	n.Nodes = append(n.Nodes, info)
	return info, n.save()
}

// writeNodeAppToml writes the API addresses into the node's app.toml so that
// `normledger start --home <node home>` serves them.
func writeNodeAppToml(n NodeInfo) error {
	s := fmt.Sprintf(`# written by testnet generation
chain_id = ""
node = %q
keyring_backend = "test"

[log]
level = "info"
comet_level = "error"
format = "text"

[api]
rest_laddr = "tcp://%s"
grpc_laddr = "tcp://%s"
read_rate_limit = 0
`, n.RESTURL(), n.REST, n.GRPC)
	return os.WriteFile(filepath.Join(n.Home, "config", "app.toml"), []byte(s), 0o644)
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
