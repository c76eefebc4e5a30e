package store

import (
	"encoding/binary"
	"sync"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// memberCache holds decoded members (only members that exist: ids from
// transactions are untrusted). A nil cache holds nothing.
//
// Governance changes members, so one cache cannot serve every version. The
// working state has a cache of its own, cleared by every member write. The
// committed cache serves only versions from `from` on, the first version
// after the last commit that changed a member; Commit moves `from` and bumps
// gen, and an entry read under an older gen is not stored (a reader of an
// older version, racing with that commit, cannot put a stale member in).
type memberCache struct {
	mu        sync.RWMutex
	m         map[string]*pb.Member
	versioned bool
	from      int64
	gen       uint64
}

// usable reports whether the cache serves version v, and its generation.
func (c *memberCache) usable(v int64) (uint64, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen, !c.versioned || v >= c.from
}

func (c *memberCache) get(id string, v int64) *pb.Member {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.versioned && v < c.from {
		return nil
	}
	return c.m[id]
}

func (c *memberCache) put(id string, m *pb.Member, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.gen == gen {
		c.m[id] = m
	}
	c.mu.Unlock()
}

func (c *memberCache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.gen++
	c.mu.Unlock()
}

// reset empties the cache and makes it serve versions from v on.
func (c *memberCache) reset(v int64) {
	c.mu.Lock()
	clear(c.m)
	c.from = v
	c.gen++
	c.mu.Unlock()
}

// seenFilter is an in-memory Bloom filter over the (author, content hash)
// pairs of the duplicate-content index. It only ever answers "certainly
// not filed" or "maybe": a "maybe" goes to the tree as before, so every
// answer is still the state's answer and the filter cannot change a result.
//
// Without IAVL's fast index, asking the tree for a key it does not hold walks
// to a leaf and reads several nodes from disk. Every new record asks exactly
// that (is this content new?) in CheckTx, in the proposal checks and in
// FinalizeBlock; the filter answers those in memory.
//
// Keys are only added (content keys are never removed), including keys of
// blocks that are later not committed, which can only cause a "maybe". The
// filter grows as a chain of filters, each twice the capacity of the one
// before, at about 1 % false positives each (10 bits and 7 probes a key).
type seenFilter struct {
	mu    sync.RWMutex
	parts []*bloom
}

type bloom struct {
	bits     []uint64
	n, limit int
}

const (
	seenFirstCapacity = 1 << 16
	seenBitsPerKey    = 10
	seenProbes        = 7
)

func newBloom(capacity int) *bloom {
	words := (capacity*seenBitsPerKey + 63) / 64
	return &bloom{bits: make([]uint64, words), limit: capacity}
}

// probes derives the filter positions from the key's FNV-1a hash (author
// and content hash together) by double hashing.
func probes(author string, h [32]byte) (uint64, uint64) {
	const offset, prime = 14695981039346656037, 1099511628211
	a := uint64(offset)
	for i := 0; i < len(author); i++ {
		a ^= uint64(author[i])
		a *= prime
	}
	x := binary.LittleEndian.Uint64(h[0:8]) ^ a
	y := binary.LittleEndian.Uint64(h[8:16])*prime | 1
	return x, y
}

func (b *bloom) add(x, y uint64) {
	m := uint64(len(b.bits) * 64)
	for i := uint64(0); i < seenProbes; i++ {
		p := (x + i*y) % m
		b.bits[p/64] |= 1 << (p % 64)
	}
	b.n++
}

func (b *bloom) has(x, y uint64) bool {
	m := uint64(len(b.bits) * 64)
	for i := uint64(0); i < seenProbes; i++ {
		p := (x + i*y) % m
		if b.bits[p/64]&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}

func (f *seenFilter) add(author string, h [32]byte) {
	x, y := probes(author, h)
	f.mu.Lock()
	defer f.mu.Unlock()
	last := len(f.parts) - 1
	if last < 0 || f.parts[last].n >= f.parts[last].limit {
		capacity := seenFirstCapacity
		if last >= 0 {
			capacity = 2 * f.parts[last].limit
		}
		f.parts = append(f.parts, newBloom(capacity))
		last++
	}
	f.parts[last].add(x, y)
}

// mayHold is false only if (author, h) was never added.
func (f *seenFilter) mayHold(author string, h [32]byte) bool {
	x, y := probes(author, h)
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, b := range f.parts {
		if b.has(x, y) {
			return true
		}
	}
	return false
}
