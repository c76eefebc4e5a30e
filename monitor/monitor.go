package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/remote"
)

// Options configure Run.
type Options struct {
	Member    string
	Node      string   // REST URL of the node followed
	Witnesses []string // REST URLs of nodes that cross-check headers (at least one)
	// Trust root for a monitor without a trust store of its own yet:
	// Genesis, or TrustHeight and TrustHash, or else the newest header in
	// SharedTrustStore (normledger verify's trust store).
	Genesis          string
	TrustHeight      int64
	TrustHash        string
	TrustPeriod      time.Duration
	SharedTrustStore string
	// StatePath is the position file; the monitor's own light client trust
	// store is the directory StatePath + ".light".
	StatePath string
	Within    time.Duration
	Interval  time.Duration
	Webhook   string
	// WebhookSecretFile, if set, holds the whsec_ secret(s) the webhook
	// calls are signed with (Standard Webhooks; ReadWebhookSecrets).
	WebhookSecretFile string
	// MetricsListener, if set, serves the monitor's Prometheus metrics at
	// /metrics while Run runs; Run closes it.
	MetricsListener net.Listener
	JSON            bool
	Once            bool
	Out, Err        io.Writer
	// Version is the monitor's version, sent in the webhook's User-Agent.
	Version string
	// RetryMin and RetryMax bound the webhook's exponential backoff
	// (defaults 1 s and 30 s).
	RetryMin, RetryMax time.Duration
	// OnceGiveUp: with Once, stop retrying a failing webhook after this
	// long (default 2 minutes); the event stays queued for the next run.
	OnceGiveUp time.Duration
	// CrashHook, for tests, is called at "computed" (a step's new events
	// are known, nothing is written), "queued" (they and the new position
	// are written) and "delivered" (the one event was printed or
	// acknowledged, and is not yet marked delivered). A non-nil error ends
	// Run at once with it, writing nothing more, as a crash there
	// would.
	CrashHook func(point string, events []*Event) error
}

// Monitor crash points (Options.CrashHook).
const (
	Computed  = "computed"
	Queued    = "queued"
	Delivered = "delivered"
)

type daemon struct {
	o       Options
	c       *client.Client
	ws      []*client.Client
	chainID string
	lc      *remote.LightClient
	st      *state
	hc      *http.Client
	keys    [][]byte // webhook signing keys (none: unsigned)
	mx      *metrics
}

// Run follows the chain for o.Member until ctx ends (nil then) or,
// with o.Once, until it has processed the newest attested height and
// delivered every event.
func Run(ctx context.Context, o Options) error {
	if o.MetricsListener != nil {
		defer o.MetricsListener.Close()
	}
	if !ledger.IsMemberID(o.Member) {
		return fmt.Errorf("--member %q is not a member id", o.Member)
	}
	if len(o.Witnesses) == 0 {
		return errors.New("--witness: give at least one other node to cross-check headers with (as for verify record)")
	}
	if o.StatePath == "" {
		return errors.New("no state file")
	}
	if o.Within < 0 || o.Interval <= 0 {
		return errors.New("--within must not be negative and --interval must be positive")
	}
	if o.RetryMin <= 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(30*time.Second, o.RetryMin)
	}
	if o.OnceGiveUp <= 0 {
		o.OnceGiveUp = 2 * time.Minute
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Err == nil {
		o.Err = io.Discard
	}
	if o.Webhook != "" && !strings.HasPrefix(o.Webhook, "http://") && !strings.HasPrefix(o.Webhook, "https://") {
		return fmt.Errorf("--webhook %q: want an http(s) URL", o.Webhook)
	}
	var keys [][]byte
	if o.WebhookSecretFile != "" {
		if o.Webhook == "" {
			return errors.New("--webhook-secret-file without --webhook: there is nothing to sign")
		}
		var err error
		if keys, err = ReadWebhookSecrets(o.WebhookSecretFile); err != nil {
			return err
		}
	}
	c, err := client.New(o.Node)
	if err != nil {
		return err
	}
	m := &daemon{o: o, c: c, hc: &http.Client{Timeout: 10 * time.Second}, keys: keys, mx: newMetrics(o.Member, o.Version)}
	if m.st, err = loadState(o.StatePath); err != nil {
		return err
	}
	if m.st.Member != "" && m.st.Member != o.Member {
		return fmt.Errorf("state file %s is of member %s, not %s", o.StatePath, m.st.Member, o.Member)
	}
	m.mx.state(m.st)
	if o.MetricsListener != nil {
		defer serveMetrics(o.MetricsListener, m.mx.reg, m.logf)()
	}
	if o.Webhook != "" && len(keys) == 0 {
		m.logf("webhook calls are not signed: give --webhook-secret-file so that the receiver can tell them from anyone's")
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = m.connect(sctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil && !o.Once {
			return nil
		}
		return err
	}
	defer m.lc.Close()
	return m.run(ctx)
}

// connect asks the node its chain and starts the light client on the
// monitor's own trust store.
func (m *daemon) connect(ctx context.Context) error {
	chainID, err := m.c.ChainID(ctx)
	if err != nil {
		return err
	}
	if m.st.ChainID != "" && m.st.ChainID != chainID {
		return fmt.Errorf("state file %s is of chain %s, the node serves %s", m.o.StatePath, m.st.ChainID, chainID)
	}
	m.chainID, m.st.ChainID, m.st.Member = chainID, chainID, m.o.Member
	var ws []*remote.Provider
	for _, w := range m.o.Witnesses {
		wc, err := client.New(w)
		if err != nil {
			return err
		}
		m.ws = append(m.ws, wc)
		ws = append(ws, remote.NewProvider(chainID, wc.Base(), wc))
	}
	dir := m.o.StatePath + ".light"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	root := remote.TrustRoot{Period: m.o.TrustPeriod}
	_, has, err := remote.StoredRoot(dir, chainID)
	if err != nil {
		return err
	}
	if !has {
		spec := remote.RootSpec{GenesisFile: m.o.Genesis, Height: m.o.TrustHeight, Hash: m.o.TrustHash, Period: m.o.TrustPeriod}
		if root, err = spec.Root(ctx, m.c); err != nil {
			return err
		}
		if root.Height == 0 {
			top, ok, err := remote.StoredRoot(m.o.SharedTrustStore, chainID)
			if err != nil {
				return fmt.Errorf("trust store %s: %w", m.o.SharedTrustStore, err)
			}
			if !ok {
				return fmt.Errorf("no trust root: give --genesis FILE, or --trust-height and --trust-hash, or run normledger verify once so that %s holds a verified header", m.o.SharedTrustStore)
			}
			root.Height, root.Hash = top.Height, top.Hash
		}
	}
	m.lc, err = remote.NewLightClient(ctx, chainID, remote.NewProvider(chainID, m.c.Base(), m.c), ws, root, dir)
	return err
}

func (m *daemon) logf(format string, args ...any) {
	fmt.Fprintf(m.o.Err, "monitor: "+format+"\n", args...)
}

func (m *daemon) hook(point string, events []*Event) error {
	if m.o.CrashHook == nil {
		return nil
	}
	return m.o.CrashHook(point, events)
}

// errCrash wraps what the crash hook returned, so it is never retried.
type errCrash struct{ err error }

func (e errCrash) Error() string { return e.err.Error() }

func (e errCrash) Unwrap() error { return e.err }

func (m *daemon) run(ctx context.Context) error {
	for {
		// Events queued before (a previous run's, or this one's) go first.
		if err := m.deliverPending(ctx); err != nil {
			if ctx.Err() != nil && !m.o.Once {
				return nil
			}
			return err
		}
		err := m.poll(ctx)
		switch {
		case err == nil:
			m.mx.polled(pollOK)
		case errors.Is(err, verifiers.ErrVerification):
			m.mx.polled(pollUnverified)
		case ctx.Err() == nil:
			m.mx.polled(pollError)
		}
		var crash errCrash
		switch {
		case errors.As(err, &crash):
			return crash.err
		case err != nil && ctx.Err() != nil && !m.o.Once:
			return nil
		case err != nil && m.o.Once:
			return &OnceError{err}
		case errors.Is(err, verifiers.ErrVerification):
			m.logf("NOT VERIFIED: %v (nothing reported from this answer; retrying in %s)", err, m.o.Interval)
		case err != nil:
			m.logf("%v (retrying in %s)", err, m.o.Interval)
		}
		if m.o.Once {
			if err := m.deliverPending(ctx); err != nil {
				return &OnceError{err}
			}
			return nil
		}
		if len(m.st.Pending) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(m.o.Interval):
		}
	}
}

// poll processes one step to the newest attested height, if it is new.
func (m *daemon) poll(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, err := m.c.Status(sctx)
	if err != nil {
		return err
	}
	t := st.LatestAttestedHeight
	// Header t+1 is cross-checked with every witness; one that does not
	// have it yet makes CometBFT's light client wait 30 s (2 x clock drift
	// + block lag) before it looks again. Stay at what all of them have.
	// (Their heights are only claims; the headers are verified.)
	for _, w := range m.ws {
		if ws, err := w.Status(sctx); err == nil && ws.LatestHeight-1 < t {
			t = ws.LatestHeight - 1
		}
	}
	if t <= m.st.Height {
		return nil
	}
	return m.step(sctx, t)
}

// OnceError is how a run with Once ends when its step or its deliveries
// failed (the CLI exits 4 for a verification failure in it, 1 otherwise);
// other errors (a bad option, a trust root that cannot be set up) come
// back as they are.
type OnceError struct{ Err error }

func (e *OnceError) Error() string { return e.Err.Error() }
func (e *OnceError) Unwrap() error { return e.Err }
