package ledger

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"

	"github.com/cometbft/cometbft/crypto/ed25519"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// SigCache remembers ed25519 signatures that verified. Whether a signature
// verifies is a pure function of (public key, message, signature), so a
// remembered success gives exactly the answer verifying again would: results
// and app hashes cannot change, only the cost. A transaction is otherwise
// verified in CheckTx, in every mempool recheck, in Prepare/ProcessProposal
// and in FinalizeBlock. Failures are not remembered. Safe for concurrent use;
// bounded (when full, it starts over).
//
// It also remembers, per transaction, what Apply derives from the bytes
// alone (decodedTx), so that the later checks of the same transaction skip
// decoding, the canonical-encoding check and the content hash.
type SigCache struct {
	mu      sync.Mutex // guards seen and txs
	seen    map[[32]byte]struct{}
	max     int
	txs     map[[32]byte]*decodedTx
	maxTxs  int
	txBytes int // raw bytes of the txs in txs
}

// maxMemoBytes bounds the raw bytes behind the decoded-tx memo.
const maxMemoBytes = 32 << 20

// NewSigCache returns a cache holding at most size signatures (and size/20
// decoded transactions, at least 1,000).
func NewSigCache(size int) *SigCache {
	return &SigCache{seen: make(map[[32]byte]struct{}, size), max: size, maxTxs: max(size/20, 1000)}
}

func sigKey(pub, msg, sig []byte) [32]byte {
	h := sha256.New()
	h.Write(pub)
	h.Write(sig)
	h.Write(msg)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// verify reports whether sig is pub's signature of msg; a nil cache just verifies.
func (c *SigCache) verify(pub, msg, sig []byte) bool {
	if c == nil {
		return ed25519.PubKey(pub).VerifySignature(msg, sig)
	}
	k := sigKey(pub, msg, sig)
	c.mu.Lock()
	_, ok := c.seen[k]
	c.mu.Unlock()
	if ok {
		return true
	}
	if !ed25519.PubKey(pub).VerifySignature(msg, sig) {
		return false
	}
	c.mu.Lock()
	if len(c.seen) >= c.max {
		c.seen = make(map[[32]byte]struct{}, c.max)
	}
	c.seen[k] = struct{}{}
	c.mu.Unlock()
	return true
}

// decodedTx is what Apply derives from a transaction's bytes alone: the
// decoded (canonical, size-checked) tx, its content hash, and the public key
// its primary signature verified with. All three are pure functions of the
// bytes (and the key), so reusing them gives exactly the answers computing
// them again would. The tx is shared: Apply and the kinds only read it.
type decodedTx struct {
	tx      *pb.Tx
	content atomic.Pointer[[32]byte]
	signed  atomic.Pointer[[]byte] // the key the primary signature verified with
}

// decoded returns the memo of the tx with this id, if any.
func (c *SigCache) decoded(id [32]byte) *decodedTx {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.txs[id]
}

// rememberTx keeps d for the tx with this id (size raw bytes); when full
// (entries or bytes), it starts over.
func (c *SigCache) rememberTx(id [32]byte, d *decodedTx, size int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.txs == nil || len(c.txs) >= c.maxTxs || c.txBytes+size > maxMemoBytes {
		c.txs = make(map[[32]byte]*decodedTx, c.maxTxs)
		c.txBytes = 0
	}
	c.txs[id] = d
	c.txBytes += size
}
