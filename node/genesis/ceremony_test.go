package genesis_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/node/genesis"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

var now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type operator struct {
	member, val ed25519.PrivKey
	app         *pb.SignedGenesisApplication
}

// apply makes an operator's application: member id, with a validator if power > 0.
func apply(t testing.TB, chain, id string, power int64) operator {
	t.Helper()
	o := operator{member: ed25519.GenPrivKeyFromSecret([]byte("m/" + id)), val: ed25519.GenPrivKeyFromSecret([]byte("v/" + id))}
	pub := o.member.PubKey().Bytes()
	m := &pb.Member{Id: id, Class: pb.MemberClass_MEMBER_CLASS_STATE, Name: "State " + id, CountryCode: strings.ToUpper(id),
		Roles: []string{ledger.RoleGovernance}, Status: pb.MemberStatus_MEMBER_STATUS_ACTIVE,
		Keys: []*pb.MemberKey{{KeyId: ledger.KeyID(pub), PubKey: pub, Status: pb.KeyStatus_KEY_STATUS_ACTIVE}}}
	var vk ed25519.PrivKey
	if power > 0 {
		m.ValidatorPubKey, m.ValidatorPower, vk = o.val.PubKey().Bytes(), power, o.val
	}
	sum := sha256.Sum256([]byte(id))
	nodeID := hex.EncodeToString(sum[:20])
	a := genesis.NewApplication(chain, m, nodeID, "10.0.0."+fmt.Sprint(int(id[1])%200)+":26656", now)
	var err error
	if vk != nil {
		o.app, err = genesis.Sign(a, o.member, vk)
	} else {
		o.app, err = genesis.Sign(a, o.member, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// The ceremony from four operators' applications to a verified genesis.
func TestCeremony(t *testing.T) {
	d, err := genesis.NewDraft("consortium-1")
	if err != nil {
		t.Fatal(err)
	}
	var apps []*pb.SignedGenesisApplication
	for _, id := range []string{"xaa", "xbb", "xcc", "xdd"} {
		apps = append(apps, apply(t, "consortium-1", id, 10).app)
	}
	obs := apply(t, "consortium-1", "obs", 0).app
	if err := genesis.Add(d, append(apps, obs)...); err != nil {
		t.Fatal(err)
	}
	doc, err := genesis.Finalize(d, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Validators) != 4 || doc.ChainID != "consortium-1" {
		t.Fatalf("genesis: %d validators, chain %q", len(doc.Validators), doc.ChainID)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "genesis.json")
	if err := genesis.WriteGenesis(path, doc); err != nil {
		t.Fatal(err)
	}
	h, err := genesis.Hash(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := genesis.VerifyFile(path, h); err != nil {
		t.Fatal(err)
	}
	if p := genesis.Peers(d, apps[0].Application.NodeId); strings.Count(p, "@") != 4 { // the other three validators and the observer's node
		t.Fatalf("peers %q", p)
	}
}

// Each bad input gets a clear error and changes nothing.
func TestCeremonyRejections(t *testing.T) {
	const chain = "consortium-1"
	good := apply(t, chain, "xaa", 10)
	base := func() *pb.GenesisDraft {
		d, _ := genesis.NewDraft(chain)
		if err := genesis.Add(d, good.app); err != nil {
			t.Fatal(err)
		}
		return d
	}
	tampered := proto.Clone(apply(t, chain, "xbb", 10).app).(*pb.SignedGenesisApplication)
	tampered.Application.Member.ValidatorPower = 1000
	dupID := apply(t, chain, "xaa", 0).app
	dupVal := apply(t, chain, "xcc", 10)
	dupVal.app.Application.Member.ValidatorPubKey = good.app.Application.Member.ValidatorPubKey
	if s, err := genesis.Sign(dupVal.app.Application, dupVal.member, good.val); err == nil {
		dupVal.app = s // signed by the holder of that key: still a duplicate
	}
	wrongChain := apply(t, "other-chain", "xdd", 10).app
	noValSig := proto.Clone(apply(t, chain, "xee", 10).app).(*pb.SignedGenesisApplication)
	noValSig.ValidatorSignature = nil
	stolenKey := apply(t, chain, "xff", 10)
	stolenKey.app.Application.Member.Keys = good.app.Application.Member.Keys // claims xaa's signing key
	if s, err := genesis.Sign(stolenKey.app.Application, stolenKey.member, stolenKey.val); err == nil {
		stolenKey.app = s
	}
	cases := []struct {
		name string
		app  *pb.SignedGenesisApplication
		want string
	}{
		{"tampered application (signature fails)", tampered, "does not verify"},
		{"duplicate member id", dupID, "twice"},
		{"duplicate validator key", dupVal.app, "validator key"},
		{"application for another chain id", wrongChain, "other-chain"},
		{"validator key without proof of possession", noValSig, "validator signature"},
		{"signing key of another member", stolenKey.app, "does not verify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := base()
			before := proto.Clone(d)
			err := genesis.Add(d, apply(t, chain, "xzz", 10).app, c.app)
			if !errors.Is(err, genesis.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, c.want)
			}
			if !proto.Equal(before, d) {
				t.Fatal("a refused batch changed the draft")
			}
		})
	}
	dir := t.TempDir()
	t.Run("malformed file", func(t *testing.T) {
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(`{"application": {"chain_id": 7}}`), 0o644)
		if _, err := genesis.ReadApplication(p); !errors.Is(err, genesis.ErrInvalid) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("oversized file", func(t *testing.T) {
		p := filepath.Join(dir, "big.json")
		os.WriteFile(p, bytes.Repeat([]byte(" "), genesis.MaxApplicationBytes+1), 0o644)
		if _, err := genesis.ReadApplication(p); !errors.Is(err, genesis.ErrInvalid) || !strings.Contains(err.Error(), "larger") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("verify with another hash", func(t *testing.T) {
		doc, err := genesis.Finalize(base(), now)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "genesis.json")
		if err := genesis.WriteGenesis(p, doc); err != nil {
			t.Fatal(err)
		}
		if _, err := genesis.VerifyFile(p, strings.Repeat("ab", 32)); !errors.Is(err, genesis.ErrInvalid) || !strings.Contains(err.Error(), "do not use it") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no validator at all", func(t *testing.T) {
		d, _ := genesis.NewDraft(chain)
		if err := genesis.Add(d, apply(t, chain, "obs", 0).app); err != nil {
			t.Fatal(err)
		}
		if _, err := genesis.Finalize(d, now); !errors.Is(err, genesis.ErrInvalid) {
			t.Fatalf("got %v", err)
		}
	})
}
