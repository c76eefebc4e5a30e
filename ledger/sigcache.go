package ledger

import (
	"crypto/sha256"
	"sync"

	"github.com/cometbft/cometbft/crypto/ed25519"
)

// SigCache remembers ed25519 signatures that verified. Whether a signature
// verifies is a pure function of (public key, message, signature), so a
// remembered success gives exactly the answer verifying again would: results
// and app hashes cannot change, only the cost. A transaction is otherwise
// verified in CheckTx, in every mempool recheck, in Prepare/ProcessProposal
// and in FinalizeBlock. Failures are not remembered. Safe for concurrent use;
// bounded (when full, it starts over).
type SigCache struct {
	mu   sync.Mutex // guards seen
	seen map[[32]byte]struct{}
	max  int
}

// NewSigCache returns a cache holding at most max entries.
func NewSigCache(max int) *SigCache {
	return &SigCache{seen: make(map[[32]byte]struct{}, max), max: max}
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
