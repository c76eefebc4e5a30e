package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	corestore "cosmossdk.io/core/store"
	"github.com/cosmos/iavl"
	ics23 "github.com/cosmos/ics23/go"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store/tlog"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// immutableReader reads a committed version through its own tree. (The
// store keeps no IAVL fast index; one would only hold the newest version and
// could change under a reader while the next version commits.)
type immutableReader struct{ t *iavl.ImmutableTree }

func (r immutableReader) Get(key []byte) ([]byte, error) { return r.t.Get(key) }

func (r immutableReader) Iterator(start, end []byte, ascending bool) (corestore.Iterator, error) {
	return iavl.NewIterator(start, end, ascending, r.t), nil
}

// ErrNoVersion is returned for a version that was never committed or was pruned.
var ErrNoVersion = errors.New("state version not available")

type reader interface {
	Get(key []byte) ([]byte, error)
	Iterator(start, end []byte, ascending bool) (corestore.Iterator, error)
}

// View reads one state: the working state or an immutable committed version.
// A committed view is safe for concurrent use.
type View struct {
	r       reader
	imm     *iavl.ImmutableTree
	version int64
	seen    *seenFilter // nil: ask the tree every time
	members *memberCache
	count   *atomic.Uint64 // the working state's record count; nil: ask the tree
	log     *tlog.Log
	// work is the store, for the working state's view: it reads the block
	// being written (Store.pend) too.
	work *Store
	// index is the store's duplicate-content index (contentindex.go).
	index iavlDB
	// shared is the store's cache of what reads at one height share.
	shared *heightCache
	// A committed version's count never changes: found once per view.
	countOnce sync.Once
	countMemo uint64
	countErr  error
}

var _ ledger.State = (*View)(nil)

func (v *View) pending() *pendingBlock {
	if v.work == nil {
		return nil
	}
	return v.work.pend
}

// Version is the committed version the view reads (0 for the working state).
func (v *View) Version() int64 { return v.version }

// Get returns the raw value at key (nil if absent).
func (v *View) Get(key []byte) ([]byte, error) { return v.r.Get(key) }

// Proof returns an ICS23 existence proof if key is present and a
// non-existence proof if it is absent, against this version's root hash.
func (v *View) Proof(key []byte) (*ics23.CommitmentProof, error) {
	if v.imm == nil {
		return nil, errors.New("proofs are only available for committed versions")
	}
	return v.imm.GetProof(key)
}

// RootHash is the root hash of this committed version.
func (v *View) RootHash() []byte {
	if v.imm == nil {
		return nil
	}
	return v.imm.Hash()
}

func (v *View) getProto(key []byte, m proto.Message) (bool, error) {
	bz, err := v.r.Get(key)
	if err != nil {
		return false, err
	}
	if bz == nil {
		return false, nil
	}
	if err := proto.Unmarshal(bz, m); err != nil {
		return false, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func (v *View) getU64(key []byte) (uint64, bool, error) {
	bz, err := v.r.Get(key)
	if err != nil || bz == nil {
		return 0, false, err
	}
	if len(bz) != 8 {
		return 0, false, fmt.Errorf("value at %q is %d bytes, want 8", key, len(bz))
	}
	return binary.BigEndian.Uint64(bz), true, nil
}

// Member implements ledger.State.
// The member is shared: callers must not modify it.
func (v *View) Member(id string) (*pb.Member, error) {
	if m := v.members.get(id, v.version); m != nil {
		return m, nil
	}
	gen, cacheable := v.members.usable(v.version)
	m := new(pb.Member)
	ok, err := v.getProto(layout.Member(id), m)
	if !ok || err != nil {
		return nil, err
	}
	if cacheable {
		v.members.put(id, m, gen)
	}
	return m, nil
}

// NextSequence implements ledger.State.
func (v *View) NextSequence(member string) (uint64, error) {
	if p := v.pending(); p != nil {
		if n, ok := p.seqs[member]; ok {
			return n, nil
		}
	}
	n, ok, err := v.getU64(layout.Sequence(member))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 1, nil
	}
	return n, nil
}

// ChainID returns the chain id written at genesis.
func (v *View) ChainID() (string, error) {
	bz, err := v.r.Get([]byte(layout.KeyChainID))
	return string(bz), err
}

// Params returns the chain parameters.
func (v *View) Params() (*pb.Params, error) {
	p := new(pb.Params)
	ok, err := v.getProto([]byte(layout.KeyParams), p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return ledger.DefaultParams(), nil
	}
	return p, nil
}

// Members lists all members in id order.
func (v *View) Members() ([]*pb.Member, error) {
	p := []byte(layout.PrefixMember)
	out, _, err := scan(v, p, p, layout.PrefixEnd(p), 0, func(k, val []byte) (*pb.Member, error) {
		m := new(pb.Member)
		if err := proto.Unmarshal(val, m); err != nil {
			return nil, fmt.Errorf("decode member %q: %w", k, err)
		}
		return m, nil
	})
	return out, err
}
