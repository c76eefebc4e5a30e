package api

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a per-client token bucket for reads.
//
// A client is an IPv4 address or an IPv6 /64 (limitKey): keyed per IPv6
// address, one host, which usually has a /64 to itself, would have 2^64
// budgets. A client idle for limiterIdle is forgotten (its bucket would be
// full again anyway), and at most max clients are remembered: a new client
// past that makes the limiter forget the one seen least recently. It
// forgets rather than refuses new clients because refusing would let
// whoever fills the table (with many addresses, or many /64s) lock every
// newcomer out, whereas forgetting only ever hands out a fresh bucket, as
// an idle client gets, and someone with that many addresses has that many
// buckets anyway.
type limiter struct {
	rps   rate.Limit
	burst int
	now   func() time.Time // the buckets' clock (Config.Now)
	max   int              // clients remembered at most
	mu    sync.Mutex       // guards m and lru
	m     map[string]*list.Element
	lru   *list.List // of *client, the most recently seen first
}

type client struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
}

// limiterMaxClients bounds the clients a limiter remembers: some 25 MB
// of buckets at most.
const limiterMaxClients = 100_000

// limiterIdle is how long a client is remembered without a read.
const limiterIdle = 10 * time.Minute

// newLimiter allows rps reads per second per client, burst at once; now
// nil means time.Now.
func newLimiter(rps float64, burst int, now func() time.Time) *limiter {
	if burst <= 0 {
		burst = int(rps) + 1
	}
	if now == nil {
		now = time.Now
	}
	return &limiter{rps: rate.Limit(rps), burst: burst, now: now, max: limiterMaxClients,
		m: map[string]*list.Element{}, lru: list.New()}
}

// limitKey is the bucket of a client address (as trustedProxies.client
// gives it): an IPv4 address as it is, an IPv6 address's /64; anything
// that is no address as it is.
func limitKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// allow takes a read from the bucket of the client at addr.
func (l *limiter) allow(addr string) bool {
	if l.rps <= 0 {
		return true
	}
	key := limitKey(addr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// Forget idle clients: the least recently seen are at the back.
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		c := e.Value.(*client)
		if now.Sub(c.seen) <= limiterIdle {
			break
		}
		l.forget(e)
	}
	e, ok := l.m[key]
	if ok {
		l.lru.MoveToFront(e)
	} else {
		for l.lru.Len() >= l.max && l.lru.Len() > 0 {
			l.forget(l.lru.Back())
		}
		e = l.lru.PushFront(&client{key: key, lim: rate.NewLimiter(l.rps, l.burst)})
		l.m[key] = e
	}
	c := e.Value.(*client)
	c.seen = now
	return c.lim.AllowN(now, 1)
}

func (l *limiter) forget(e *list.Element) {
	l.lru.Remove(e)
	delete(l.m, e.Value.(*client).key)
}
