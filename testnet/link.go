package testnet

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Link is an emulated wide-area link: a TCP relay between the halves of a
// network (say two capitals), through which nodes of one half reach the
// nodes of the other. It adds latency with jitter and emulates packet loss
// the way TCP experiences it: a lost segment stalls the stream for a
// retransmission timeout (here three one-way delays, at least 200 ms).
//
// It exists because this machine's kernel has no sch_netem (tc refuses the
// qdisc) and no packet filters (iptables, tc actions): routes can cut links,
// but only a relay can slow them. Order is kept; throughput is not limited.
type Link struct {
	ln     net.Listener
	target string

	mu     sync.Mutex // guards the fields below
	delay  time.Duration
	jitter time.Duration
	loss   float64 // probability per chunk
	rng    *rand.Rand
	conns  map[net.Conn]struct{}
}

// NewLink listens on listen and relays every connection to target.
func NewLink(listen, target string) (*Link, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	l := &Link{ln: ln, target: target, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)), conns: map[net.Conn]struct{}{}}
	go l.accept()
	return l, nil
}

// Addr is the address peers dial.
func (l *Link) Addr() string { return l.ln.Addr().String() }

// Set changes the link's latency, jitter and loss (0, 0, 0: a plain relay).
func (l *Link) Set(delay, jitter time.Duration, loss float64) {
	l.mu.Lock()
	l.delay, l.jitter, l.loss = delay, jitter, loss
	l.mu.Unlock()
}

// Close stops the link and drops its connections.
func (l *Link) Close() {
	l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
}

func (l *Link) track(c net.Conn, on bool) {
	l.mu.Lock()
	if on {
		l.conns[c] = struct{}{}
	} else {
		delete(l.conns, c)
	}
	l.mu.Unlock()
}

func (l *Link) accept() {
	for {
		in, err := l.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			// From the link's own address, so that routes cutting the
			// link also cut what it relays.
			d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: l.ln.Addr().(*net.TCPAddr).IP}}
			out, err := d.Dial("tcp", l.target)
			if err != nil {
				in.Close()
				return
			}
			l.track(in, true)
			l.track(out, true)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); l.pipe(out, in) }()
			go func() { defer wg.Done(); l.pipe(in, out) }()
			wg.Wait()
			l.track(in, false)
			l.track(out, false)
		}()
	}
}

type chunk struct {
	data []byte
	at   time.Time
}

// pipe copies src to dst, each chunk delivered at its scheduled time.
func (l *Link) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		var last time.Time
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				at := time.Now().Add(l.lag())
				if at.Before(last) {
					at = last // a TCP stream keeps its order
				}
				last = at
				q <- chunk{buf[:n], at}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(c.data); err != nil {
			for range q { //nolint:revive // drain so the reader ends
			}
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	io.Copy(io.Discard, src)
}

// lag is one chunk's one-way delay: latency, jitter, and a retransmission
// stall for a lost segment.
func (l *Link) lag() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.delay
	if l.jitter > 0 {
		d += time.Duration(l.rng.Int64N(int64(2*l.jitter))) - l.jitter
	}
	if l.loss > 0 && l.rng.Float64() < l.loss {
		d += max(3*l.delay, 200*time.Millisecond)
	}
	return max(d, 0)
}
