package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a per-client token bucket for reads.
type limiter struct {
	rps   rate.Limit
	burst int
	now   func() time.Time // the buckets' clock (Config.Now)
	mu    sync.Mutex       // guards m and calls
	m     map[string]*client
	calls int
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

// newLimiter allows rps reads per second per client, burst at once; now
// nil means time.Now.
func newLimiter(rps float64, burst int, now func() time.Time) *limiter {
	if burst <= 0 {
		burst = int(rps) + 1
	}
	if now == nil {
		now = time.Now
	}
	return &limiter{rps: rate.Limit(rps), burst: burst, now: now, m: map[string]*client{}}
}

func (l *limiter) allow(key string) bool {
	if l.rps <= 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%4096 == 0 { // forget idle clients now and then
		for k, c := range l.m {
			if now.Sub(c.seen) > 10*time.Minute {
				delete(l.m, k)
			}
		}
	}
	c, ok := l.m[key]
	if !ok {
		c = &client{lim: rate.NewLimiter(l.rps, l.burst)}
		l.m[key] = c
	}
	c.seen = now
	return c.lim.AllowN(now, 1)
}
