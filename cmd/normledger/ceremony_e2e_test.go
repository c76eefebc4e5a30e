package main_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/client/keyring"
)

// operatorHome is one operator's host, as far as this test is concerned.
type operatorHome struct {
	member string
	home   string
	p      *proc
	nodeID string
}

// The genesis ceremony with four separate homes, as four operators would
// run it, and a neutral body that runs no node: genesis is built only from
// their applications, the network starts and commits records, and no home,
// application or genesis holds a private key of anybody else.
func TestGenesisCeremony(t *testing.T) {
	const chain = "ceremony-1"
	dir := t.TempDir()
	coord := filepath.Join(dir, "coordinator")
	os.MkdirAll(coord, 0o755)
	bin := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("normledger %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var ops []*operatorHome
	var apps []string
	for i, m := range []struct{ id, class, country string }{
		{"xaa", "state", "XAA"}, {"xbb", "state", "XBB"}, {"xcc", "state", "XCC"}, {"xdd", "state", "XDD"}, {"observatory", "neutral_body", ""},
	} {
		o := &operatorHome{member: m.id, home: filepath.Join(dir, m.id)}
		args := []string{"init", "--member", m.id, "--class", m.class, "--chain-id", chain, "--home", o.home, "--keyring-backend", "test",
			"--name", "Operator " + m.id, "--role", "governance"}
		if m.country != "" {
			args = append(args, "--country", m.country, "--validator")
		}
		bin(args...)
		p2pAddr := "none"
		if m.country != "" {
			o.p = &proc{t: t, home: o.home,
				rpc:  fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
				p2p:  fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
				rest: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
				grpc: fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))}
			p2pAddr = strings.TrimPrefix(o.p.p2p, "tcp://")
		}
		app := filepath.Join(dir, "outbox", m.id+".json")
		os.MkdirAll(filepath.Dir(app), 0o755)
		out := bin("genesis", "application", "--home", o.home, "--keyring-backend", "test", "--out", app, "--p2p-address", p2pAddr)
		if !strings.Contains(out, "holds no private key") {
			t.Fatalf("application %d: %s", i, out)
		}
		var a struct {
			Application struct {
				NodeID string `json:"node_id"`
			} `json:"application"`
		}
		bz, _ := os.ReadFile(app)
		json.Unmarshal(bz, &a)
		o.nodeID = a.Application.NodeID
		ops = append(ops, o)
		apps = append(apps, app)
	}
	// The coordinator sees only the application files.
	draft := filepath.Join(coord, "draft.json")
	bin("genesis", "new", "--chain-id", chain, "--out", draft)
	bin(append([]string{"genesis", "add", draft}, apps...)...)
	// Bad input writes nothing: a tampered application, the same one twice,
	// another chain's.
	before, _ := os.ReadFile(draft)
	bz, _ := os.ReadFile(apps[1])
	tampered := filepath.Join(dir, "tampered.json")
	os.WriteFile(tampered, bytes.Replace(bz, []byte("Operator xbb"), []byte("Operator xbx"), 1), 0o644)
	for _, bad := range [][]string{{tampered}, {apps[2]}, {apps[3], apps[3]}} {
		cmd := exec.Command(binary, append([]string{"genesis", "add", draft}, bad...)...)
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "nothing added") {
			t.Fatalf("genesis add %v: %v\n%s", bad, err, out)
		}
		if after, _ := os.ReadFile(draft); !bytes.Equal(before, after) {
			t.Fatal("a refused genesis add changed the draft")
		}
	}
	gen := filepath.Join(coord, "genesis.json")
	out := bin("genesis", "finalize", draft, "--out", gen)
	if !strings.Contains(out, "4 validators") {
		t.Fatalf("finalize: %s", out)
	}
	hash := strings.TrimSpace(bin("genesis", "hash", gen))
	if out, err := exec.Command(binary, "genesis", "verify", gen, "--hash", strings.Repeat("0", 64)).CombinedOutput(); err == nil {
		t.Fatalf("genesis verify accepted a wrong hash:\n%s", out)
	}
	// Every operator verifies the published file against the hash it was
	// told out of band, then turns its home into a node of the chain.
	for _, o := range ops {
		if out := bin("genesis", "verify", gen, "--hash", hash); !strings.Contains(out, "matches the hash given") {
			t.Fatalf("verify: %s", out)
		}
		if o.p == nil {
			continue
		}
		peers := strings.TrimSpace(bin("genesis", "peers", draft, "--except", o.nodeID))
		bin("init", "--home", o.home, "--genesis", gen, "--genesis-hash", hash, "--p2p.persistent-peers", peers)
		cfgPath := filepath.Join(o.home, "config", "config.toml")
		bz, _ := os.ReadFile(cfgPath)
		s := strings.Replace(string(bz), `timeout_commit = "1s"`, `timeout_commit = "200ms"`, 1)
		s = strings.Replace(s, "addr_book_strict = true", "addr_book_strict = false", 1)
		s = strings.Replace(s, "allow_duplicate_ip = false", "allow_duplicate_ip = true", 1)
		os.WriteFile(cfgPath, []byte(s), 0o644)
		o.p.start()
	}
	c, _ := client.New(ops[0].p.rest)
	waitHeight(t, c, 3, 60*time.Second)
	note := filepath.Join(dir, "note.json")
	os.WriteFile(note, []byte(`{"notification": {"type": "NOTIFICATION_TYPE_INFORMATION", "recipients": ["observatory"], "summary": "First record of the consortium, from ${who}"}}`), 0o644)
	for _, o := range ops[:4] {
		out := bin("tx", "submit", "--home", o.home, "--keyring-backend", "test", "--node", o.p.rest, "--from", o.member,
			"--file", note, "--var", "who="+o.member)
		if !strings.HasPrefix(out, "committed record") {
			t.Fatalf("%s: %s", o.member, out)
		}
	}
	ms, err := c.Members(t.Context())
	if err != nil || len(ms) != 5 {
		t.Fatalf("members: %d %v", len(ms), err)
	}

	// Custody: every private key, and where it may appear.
	type secret struct{ owner, what string }
	secrets := map[string]secret{}
	addSecret := func(owner, what string, priv []byte) {
		for _, b := range [][]byte{priv, priv[:32]} {
			secrets[hex.EncodeToString(b)] = secret{owner, what}
			secrets[base64.StdEncoding.EncodeToString(b)] = secret{owner, what}
		}
	}
	for _, o := range ops {
		kr, _ := keyring.Open(filepath.Join(o.home, "keyring"), keyring.BackendTest, nil)
		infos, err := kr.List()
		if err != nil || len(infos) != 1 || infos[0].Member != o.member {
			t.Fatalf("%s's keyring holds %v (%v), want its own key only", o.member, infos, err)
		}
		s, err := kr.Signer(o.member)
		if err != nil {
			t.Fatal(err)
		}
		addSecret(o.member, "member key", s.Key.Bytes())
		if o.p != nil {
			pv := privval.LoadFilePV(filepath.Join(o.home, "config", "priv_validator_key.json"), filepath.Join(o.home, "data", "priv_validator_state.json"))
			addSecret(o.member, "validator key", pv.Key.PrivKey.Bytes())
		} else if _, err := os.Stat(filepath.Join(o.home, "config", "priv_validator_key.json")); err == nil {
			t.Fatalf("%s runs no validator but has a validator key", o.member)
		}
		nk, err := p2p.LoadNodeKey(filepath.Join(o.home, "config", "node_key.json"))
		if err != nil {
			t.Fatal(err)
		}
		addSecret(o.member, "node key", nk.PrivKey.Bytes())
	}
	// scan reports every file under root holding a key of someone but owner.
	scan := func(root, owner string) (files int, found []string) {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			files++
			bz, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			for enc, s := range secrets {
				if s.owner != owner && bytes.Contains(bz, []byte(enc)) {
					found = append(found, fmt.Sprintf("%s holds the %s of %s", path, s.what, s.owner))
				}
			}
			return nil
		})
		return files, found
	}
	// The scan finds a key where one is: a copy of xbb's validator key planted elsewhere.
	planted := filepath.Join(dir, "planted")
	os.MkdirAll(planted, 0o755)
	if bz, err := os.ReadFile(filepath.Join(ops[1].home, "config", "priv_validator_key.json")); err == nil {
		os.WriteFile(filepath.Join(planted, "copy.json"), bz, 0o600)
	}
	if _, found := scan(planted, "xaa"); len(found) == 0 {
		t.Fatal("the scan misses a planted validator key")
	}
	n := 0
	for _, root := range []struct{ dir, owner string }{{filepath.Join(dir, "outbox"), ""}, {coord, ""},
		{ops[0].home, ops[0].member}, {ops[1].home, ops[1].member}, {ops[2].home, ops[2].member}, {ops[3].home, ops[3].member}, {ops[4].home, ops[4].member}} {
		files, found := scan(root.dir, root.owner)
		for _, f := range found {
			t.Error(f)
		}
		n += files
	}
	t.Logf("ceremony: %d operators, genesis %s; scanned %d files (every home, the applications, draft and genesis) for %d key encodings: no key outside its owner's home",
		len(ops), hash[:16], n, len(secrets))
}
