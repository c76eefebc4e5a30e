package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	lightstore "github.com/cometbft/cometbft/light/store/db"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/cli/client"
	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/keys"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// The monitor follows the chain for one member and reports events about it
// (docs/monitor.md). Each step goes from the last processed state height H
// to the newest attested height T:
//
//   - records: the author and subject index listings after the last record
//     seen in each, proven complete (verifiers.List), so none is skipped;
//   - obligations: the debtor and creditor index listings of the
//     obligations due in [block time of H, block time of T + within), each
//     proven (the listings do not prove completeness), plus the open
//     obligations due before the window that it watches by id. An
//     obligation due before block time of H was settled by then: the sweep
//     of the first block past its due time makes it overdue, so its status
//     as of H is final as far as becoming overdue goes.
//
// The step's events go into the state file's queue together with the new
// position (one atomic write), then are delivered in order, each marked
// delivered (another write) only after it was printed and flushed or the
// webhook answered 2xx. A crash before the first write repeats the step; a
// crash between a delivery and its mark repeats that one delivery.

// MonitorEvent is one thing the monitor reports; its JSON is the webhook
// payload and the -o json line (docs/monitor.md).
type MonitorEvent struct {
	// ID is stable ("overdue:<obligation id>", "record:<record id>", ...):
	// the same event always has the same id, and it is delivered once (at
	// least once across a crash between delivery and the state write).
	ID      string `json:"id"`
	Type    string `json:"type"`
	Member  string `json:"member"`
	ChainID string `json:"chain_id"`
	// Height is the state height the event was read and proven at;
	// BlockTime is the time of that block.
	Height     int64              `json:"height"`
	BlockTime  time.Time          `json:"block_time"`
	Summary    string             `json:"summary"`
	Record     *MonitorRecord     `json:"record,omitempty"`
	Obligation *MonitorObligation `json:"obligation,omitempty"`
	Proof      MonitorProof       `json:"proof"`
}

// Event types.
const (
	EventRecord      = "record"       // a new record names the member
	EventFinding     = "finding"      // a new finding concerns the member
	EventChallenge   = "challenge"    // a new challenge of one of the member's records
	EventDueSoon     = "due_soon"     // an open obligation of the member falls due within --within
	EventOverdue     = "overdue"      // an obligation of the member became overdue
	EventOwedOverdue = "owed_overdue" // an obligation owed to the member became overdue
)

// MonitorRecord is the record an event is about.
type MonitorRecord struct {
	ID        string    `json:"id"`
	Seq       uint64    `json:"seq"`
	Kind      string    `json:"kind"`
	Author    string    `json:"author"`
	Signers   []string  `json:"signers"`
	Height    int64     `json:"height"`
	BlockTime time.Time `json:"block_time"`
	// Roles are the member's parts in it: author, co_signer, recipient,
	// subject (named by it otherwise: a pledgor, an affected state, the
	// state a finding concerns, the author of the record it answers...).
	Roles []string `json:"roles"`
}

// MonitorObligation is the obligation an event is about, as proven.
type MonitorObligation struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	Debtor        string     `json:"debtor"`
	Creditors     []string   `json:"creditors"`
	SourceRecord  string     `json:"source_record"`
	CreatedAt     time.Time  `json:"created_at"`
	CreatedHeight int64      `json:"created_height"`
	Due           time.Time  `json:"due"`
	Status        string     `json:"status"`
	StatusAt      *time.Time `json:"status_at,omitempty"`
	StatusHeight  int64      `json:"status_height,omitempty"`
	StatusRecord  string     `json:"status_record,omitempty"`
	OverdueAt     *time.Time `json:"overdue_at,omitempty"`
}

// MonitorProof says what the event was checked against: the state key
// proven (hex) under the app hash of header HeaderHeight (= StateHeight+1),
// a header the light client verified.
type MonitorProof struct {
	StateHeight  int64  `json:"state_height"`
	HeaderHeight int64  `json:"header_height"`
	HeaderHash   string `json:"header_hash"`
	AppHash      string `json:"app_hash"`
	Key          string `json:"key"`
	// ListingComplete: the listing the item was found in is proven
	// complete (record index listings). Obligation listings prove each
	// obligation, not that none was left out.
	ListingComplete bool `json:"listing_complete"`
	// LogSize and LogRoot: the record log the record's inclusion was
	// proven in (records only).
	LogSize uint64 `json:"log_size,omitempty"`
	LogRoot string `json:"log_root,omitempty"`
}

// MonitorOptions configure RunMonitor.
type MonitorOptions struct {
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
	JSON      bool
	Once      bool
	Out, Err  io.Writer
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
	// RunMonitor at once with it, writing nothing more, as a crash there
	// would.
	CrashHook func(point string, events []*MonitorEvent) error
}

// Monitor crash points (MonitorOptions.CrashHook).
const (
	MonitorComputed  = "computed"
	MonitorQueued    = "queued"
	MonitorDelivered = "delivered"
)

// monitorState is the state file.
type monitorState struct {
	Version int    `json:"version"`
	ChainID string `json:"chain_id"`
	Member  string `json:"member"`
	// Height is the last state height processed (0: none yet) and
	// BlockTime its block's time, where the next obligation scan starts.
	Height    int64     `json:"height"`
	BlockTime time.Time `json:"block_time"`
	// The last record seen in the member's author and subject indexes.
	Author  recordCursor `json:"author_cursor"`
	Subject recordCursor `json:"subject_cursor"`
	// Watch: open obligations due before BlockTime (created in the block
	// of Height with a due time already past), fetched by id until closed.
	Watch []string `json:"watch,omitempty"`
	// Delivered: event ids delivered, kept while the event could still be
	// found again. Pending: events found, in delivery order, not yet
	// delivered.
	Delivered map[string]deliveredEvent `json:"delivered"`
	Pending   []*MonitorEvent           `json:"pending"`
}

type recordCursor struct {
	Seq    uint64 `json:"seq"`
	Height int64  `json:"height"`
}

type deliveredEvent struct {
	Height     int64     `json:"height"`
	Obligation string    `json:"obligation,omitempty"`
	Due        time.Time `json:"due,omitempty"`
}

const monitorStateVersion = 1

func defaultStatePath(home, member string) string {
	return filepath.Join(home, "monitor-"+member+".json")
}

func loadMonitorState(path string) (*monitorState, error) {
	bz, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &monitorState{Version: monitorStateVersion, Delivered: map[string]deliveredEvent{}}, nil
	}
	if err != nil {
		return nil, err
	}
	st := new(monitorState)
	if err := json.Unmarshal(bz, st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if st.Version != monitorStateVersion {
		return nil, fmt.Errorf("state file %s: version %d, this monitor reads %d", path, st.Version, monitorStateVersion)
	}
	if st.Delivered == nil {
		st.Delivered = map[string]deliveredEvent{}
	}
	return st, nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, fsync, rename, fsync of the directory. A crash leaves the old
// file or the new one, never a mix.
func writeFileAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data, 0o600) }

type monitor struct {
	o       MonitorOptions
	c       *client.Client
	ws      []*client.Client
	chainID string
	lc      *verifiers.LightClient
	st      *monitorState
	hc      *http.Client
}

// RunMonitor follows the chain for o.Member until ctx ends (nil then) or,
// with o.Once, until it has processed the newest attested height and
// delivered every event.
func RunMonitor(ctx context.Context, o MonitorOptions) error {
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
	c, err := client.New(o.Node)
	if err != nil {
		return err
	}
	m := &monitor{o: o, c: c, hc: &http.Client{Timeout: 10 * time.Second}}
	if m.st, err = loadMonitorState(o.StatePath); err != nil {
		return err
	}
	if m.st.Member != "" && m.st.Member != o.Member {
		return fmt.Errorf("state file %s is of member %s, not %s", o.StatePath, m.st.Member, o.Member)
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
func (m *monitor) connect(ctx context.Context) error {
	chainID, err := m.c.ChainID(ctx)
	if err != nil {
		return err
	}
	if m.st.ChainID != "" && m.st.ChainID != chainID {
		return fmt.Errorf("state file %s is of chain %s, the node serves %s", m.o.StatePath, m.st.ChainID, chainID)
	}
	m.chainID, m.st.ChainID, m.st.Member = chainID, chainID, m.o.Member
	var ws []*verifiers.Provider
	for _, w := range m.o.Witnesses {
		wc, err := client.New(w)
		if err != nil {
			return err
		}
		m.ws = append(m.ws, wc)
		ws = append(ws, verifiers.NewProvider(chainID, wc.Base(), wc))
	}
	dir := m.o.StatePath + ".light"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	root := verifiers.TrustRoot{Period: m.o.TrustPeriod}
	has, err := trustStoreTop(dir, chainID)
	if err != nil {
		return err
	}
	if has == nil {
		tf := &trustFlags{height: m.o.TrustHeight, hash: m.o.TrustHash, genesis: m.o.Genesis, period: m.o.TrustPeriod}
		if root, err = tf.root(ctx, m.c); err != nil {
			return err
		}
		if root.Height == 0 {
			top, err := trustStoreTop(m.o.SharedTrustStore, chainID)
			if err != nil {
				return fmt.Errorf("trust store %s: %w", m.o.SharedTrustStore, err)
			}
			if top == nil {
				return fmt.Errorf("no trust root: give --genesis FILE, or --trust-height and --trust-hash, or run normledger verify once so that %s holds a verified header", m.o.SharedTrustStore)
			}
			root.Height, root.Hash = top.Height, top.Hash()
		}
	}
	m.lc, err = verifiers.NewLightClient(ctx, chainID, verifiers.NewProvider(chainID, m.c.Base(), m.c), ws, root, dir)
	return err
}

// storedTop is the newest header of a trust store.
type storedTop struct {
	Height int64
	hash   []byte
}

func (s *storedTop) Hash() []byte { return s.hash }

// trustStoreTop returns the newest light block of a verifiers trust store
// directory, nil if there is none (or no store). It opens the store only
// for the look.
func trustStoreTop(dir, chainID string) (*storedTop, error) {
	if dir == "" {
		return nil, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "light-trust.db")); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, err := dbm.NewGoLevelDB("light-trust", dir)
	if err != nil {
		return nil, fmt.Errorf("open (is another verify or monitor using it?): %w", err)
	}
	defer db.Close()
	s := lightstore.New(db, chainID)
	h, err := s.LastLightBlockHeight()
	if err != nil || h <= 0 {
		return nil, err
	}
	lb, err := s.LightBlock(h)
	if err != nil {
		return nil, err
	}
	return &storedTop{Height: h, hash: lb.Hash()}, nil
}

func (m *monitor) logf(format string, args ...any) {
	fmt.Fprintf(m.o.Err, "monitor: "+format+"\n", args...)
}

func (m *monitor) hook(point string, events []*MonitorEvent) error {
	if m.o.CrashHook == nil {
		return nil
	}
	return m.o.CrashHook(point, events)
}

func (m *monitor) save() error {
	bz, err := json.MarshalIndent(m.st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(m.o.StatePath, append(bz, '\n'))
}

// errCrash wraps what the crash hook returned, so it is never retried.
type errCrash struct{ err error }

func (e errCrash) Error() string { return e.err.Error() }
func (e errCrash) Unwrap() error { return e.err }

func (m *monitor) run(ctx context.Context) error {
	for {
		// Events queued before (a previous run's, or this one's) go first.
		if err := m.deliverPending(ctx); err != nil {
			if ctx.Err() != nil && !m.o.Once {
				return nil
			}
			return err
		}
		err := m.poll(ctx)
		var crash errCrash
		switch {
		case errors.As(err, &crash):
			return crash.err
		case err != nil && ctx.Err() != nil && !m.o.Once:
			return nil
		case err != nil && m.o.Once:
			return verifyExit(err)
		case errors.Is(err, verifiers.ErrVerification):
			m.logf("NOT VERIFIED: %v (nothing reported from this answer; retrying in %s)", err, m.o.Interval)
		case err != nil:
			m.logf("%v (retrying in %s)", err, m.o.Interval)
		}
		if m.o.Once {
			return verifyExit(m.deliverPending(ctx))
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
func (m *monitor) poll(ctx context.Context) error {
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

// proven is what a step's answers are checked against.
type proven struct {
	height     int64
	appHash    []byte
	headerHash []byte
	blockTime  time.Time
}

func (p proven) proof(key []byte, complete bool) MonitorProof {
	return MonitorProof{StateHeight: p.height, HeaderHeight: p.height + 1, HeaderHash: fmt.Sprintf("%X", p.headerHash),
		AppHash: fmt.Sprintf("%X", p.appHash), Key: hex.EncodeToString(key), ListingComplete: complete}
}

// step goes from the last processed height to t.
func (m *monitor) step(ctx context.Context, t int64) error {
	next, err := m.lc.Header(ctx, t+1)
	if err != nil {
		return err
	}
	self, err := m.lc.Header(ctx, t)
	if err != nil {
		return err
	}
	at := proven{height: t, appHash: next.AppHash, headerHash: next.Hash(), blockTime: self.Time.UTC()}
	first := m.st.Height == 0
	author, subject := m.st.Author, m.st.Subject
	if first {
		// Start at the end of the record log: records already on the
		// ledger are not news.
		end, err := m.logEnd(ctx, at)
		if err != nil {
			return err
		}
		author, subject = end, end
	}
	var events []*MonitorEvent
	byAuthor, author, ls, err := m.listIndex(ctx, at, keys.IndexAuthor, author)
	if err != nil {
		return err
	}
	bySubject, subject, _, err := m.listIndex(ctx, at, keys.IndexSubject, subject)
	if err != nil {
		return err
	}
	// The log must extend the one this monitor saw before.
	if err := m.lc.CheckLog(ctx, m.c, ls); err != nil {
		return err
	}
	recs := map[uint64]*pb.StoredRecord{}
	viaSubject := map[uint64]bool{}
	for _, r := range byAuthor {
		recs[r.Seq] = r
	}
	for _, r := range bySubject {
		recs[r.Seq] = r
		viaSubject[r.Seq] = true
	}
	seqs := make([]uint64, 0, len(recs))
	for s := range recs {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	// Obligations: candidates by id (listings, watched ones, lookups).
	cands := map[string]*pb.Obligation{}
	var lookups []string
	for _, s := range seqs {
		r := recs[s]
		ev, err := m.recordEvent(at, r, viaSubject[s], ls)
		if err != nil {
			return err
		}
		events = append(events, ev)
		// A harm assessment's remediation may be due before the block
		// that created it (its due time is not checked to lie ahead), so
		// it may fall before the obligation scan's window: look it up.
		if h := r.Decoded.GetBody().GetRecord().GetHarmAssessment(); h.GetRemediationDue() != nil && h.GetResponsibleParty() != "" {
			lookups = append(lookups, ledger.ObligationID(pb.ObligationKind_OBLIGATION_KIND_REMEDIATE, r.Id, h.ResponsibleParty))
		}
	}
	var from time.Time
	if !first {
		from = m.st.BlockTime
	}
	dueBefore := at.blockTime.Add(m.o.Within)
	if limit := time.Unix(ledger.MaxTimeSeconds-1, 0); dueBefore.After(limit) {
		dueBefore = limit
	}
	for _, debtor := range []bool{true, false} {
		obs, err := m.scanObligations(ctx, at, debtor, from, dueBefore)
		if err != nil {
			return err
		}
		for _, o := range obs {
			cands[o.Id] = o
		}
	}
	for _, id := range append(slices.Clone(m.st.Watch), lookups...) {
		if _, ok := cands[id]; ok {
			continue
		}
		o, err := m.obligation(ctx, at, id)
		if err != nil {
			return err
		}
		if o != nil {
			cands[o.Id] = o
		}
	}
	ids := make([]string, 0, len(cands))
	for id := range cands {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := cands[ids[i]], cands[ids[j]]
		if da, db := a.Due.AsTime(), b.Due.AsTime(); !da.Equal(db) {
			return da.Before(db)
		}
		return a.Id < b.Id
	})
	var watch []string
	for _, id := range ids {
		o := cands[id]
		events = append(events, m.obligationEvents(at, o, first)...)
		if o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OPEN && o.Due.AsTime().Before(at.blockTime) {
			watch = append(watch, o.Id)
		}
	}
	// Only what was not reported before.
	queued := map[string]bool{}
	for _, ev := range m.st.Pending {
		queued[ev.ID] = true
	}
	var fresh []*MonitorEvent
	for _, ev := range events {
		if _, done := m.st.Delivered[ev.ID]; done || queued[ev.ID] {
			continue
		}
		queued[ev.ID] = true
		fresh = append(fresh, ev)
	}
	if err := m.hook(MonitorComputed, fresh); err != nil {
		return errCrash{err}
	}
	m.st.Height, m.st.BlockTime, m.st.Author, m.st.Subject, m.st.Watch = t, at.blockTime, author, subject, watch
	m.st.Pending = append(m.st.Pending, fresh...)
	m.prune()
	if err := m.save(); err != nil {
		return err
	}
	if err := m.hook(MonitorQueued, fresh); err != nil {
		return errCrash{err}
	}
	return nil
}

// prune forgets delivered ids that can no longer be found again: records
// of earlier steps (the record cursors are past them) and obligations due
// before the next scan's window that are not watched.
func (m *monitor) prune() {
	watched := map[string]bool{}
	for _, id := range m.st.Watch {
		watched[id] = true
	}
	for id, d := range m.st.Delivered {
		if d.Obligation == "" {
			if d.Height < m.st.Height {
				delete(m.st.Delivered, id)
			}
			continue
		}
		if d.Due.Before(m.st.BlockTime) && !watched[d.Obligation] {
			delete(m.st.Delivered, id)
		}
	}
}

// logEnd returns the cursor at the last record of the log at p: the
// proven log size and the proven height of its last record.
func (m *monitor) logEnd(ctx context.Context, p proven) (recordCursor, error) {
	lr, err := m.c.GetLog(ctx, p.height, true)
	if err != nil {
		return recordCursor{}, err
	}
	if lr.Height != p.height {
		return recordCursor{}, fmt.Errorf("%w: asked for the log at height %d, got height %d", verifiers.ErrVerification, p.height, lr.Height)
	}
	ls, err := verifiers.ProvenLog(p.appHash, lr.Proof, p.height)
	if err != nil {
		return recordCursor{}, err
	}
	if ls.Size == 0 {
		return recordCursor{}, nil
	}
	req := &pb.ListRecordsRequest{Limit: 1, Height: p.height, Prove: true}
	if ls.Size > 1 {
		req.PageToken = strconv.FormatUint(ls.Size-1, 10)
	}
	resp, err := m.c.Records(ctx, req)
	if err != nil {
		return recordCursor{}, err
	}
	if resp.Height != p.height {
		return recordCursor{}, fmt.Errorf("%w: asked for records at height %d, got height %d", verifiers.ErrVerification, p.height, resp.Height)
	}
	res, err := verifiers.List(p.appHash, verifiers.ListQuery{After: ls.Size - 1, Limit: 1}, resp)
	if err != nil {
		return recordCursor{}, err
	}
	if !res.Complete || len(res.Records) != 1 || res.Records[0].Seq != ls.Size {
		return recordCursor{}, fmt.Errorf("%w: the log's last record %d is not the one listed", verifiers.ErrVerification, ls.Size)
	}
	return recordCursor{Seq: ls.Size, Height: res.Records[0].Height}, nil
}

// listIndex lists the member's records in one index after cur, every page
// proven complete.
func (m *monitor) listIndex(ctx context.Context, p proven, index string, cur recordCursor) ([]*pb.StoredRecord, recordCursor, verifiers.LogState, error) {
	const limit = 200
	var out []*pb.StoredRecord
	var ls verifiers.LogState
	for {
		req := &pb.ListRecordsRequest{Limit: limit, Height: p.height, Prove: true}
		q := verifiers.ListQuery{After: cur.Seq, AfterHeight: cur.Height, Limit: limit}
		if index == keys.IndexAuthor {
			req.Author, q.Author = m.o.Member, m.o.Member
		} else {
			req.Subject, q.Subject = m.o.Member, m.o.Member
		}
		if cur.Seq > 0 {
			req.PageToken = strconv.FormatUint(cur.Seq, 10)
		}
		resp, err := m.c.Records(ctx, req)
		if err != nil {
			return nil, cur, ls, err
		}
		if resp.Height != p.height {
			return nil, cur, ls, fmt.Errorf("%w: asked for records at height %d, got height %d", verifiers.ErrVerification, p.height, resp.Height)
		}
		res, err := verifiers.List(p.appHash, q, resp)
		if err != nil {
			return nil, cur, ls, fmt.Errorf("records of %s at height %d: %w", m.o.Member, p.height, err)
		}
		if !res.Complete {
			return nil, cur, ls, fmt.Errorf("%w: the listing of %s's records is not proven complete", verifiers.ErrVerification, m.o.Member)
		}
		ls = res.Log
		out = append(out, res.Records...)
		if n := len(res.Records); n > 0 {
			cur = recordCursor{Seq: res.Records[n-1].Seq, Height: res.Records[n-1].Height}
		}
		if resp.NextPageToken == "" {
			return out, cur, ls, nil
		}
	}
}

// provenObligation checks an obligation answer (o with proof p) against
// appHash with the verifiers package's own obligation check.
func provenObligation(appHash []byte, o *pb.Obligation, p *pb.Proof) (*pb.Obligation, error) {
	if o == nil {
		return nil, fmt.Errorf("%w: an empty obligation", verifiers.ErrVerification)
	}
	pv, err := verifiers.Obligation(appHash, o.Id, &pb.GetObligationResponse{Obligation: o, Proof: p})
	if err != nil {
		return nil, err
	}
	if pv.Due == nil {
		return nil, fmt.Errorf("%w: proven obligation %s has no due time", verifiers.ErrVerification, o.Id)
	}
	return pv, nil
}

// scanObligations lists the member's obligations as debtor (or creditor)
// due in [from, dueBefore) at p, each proven. The page token is the
// documented index key suffix (docs/verifying.md 7.5): u64be of the due
// time starts the listing there.
func (m *monitor) scanObligations(ctx context.Context, p proven, debtor bool, from, dueBefore time.Time) ([]*pb.Obligation, error) {
	req := &pb.ListObligationsRequest{Limit: 200, Height: p.height, Prove: true, DueBefore: timestamppb.New(dueBefore)}
	if debtor {
		req.Debtor = m.o.Member
	} else {
		req.Creditor = m.o.Member
	}
	if !from.IsZero() {
		req.PageToken = hex.EncodeToString(keys.Due(from.UnixNano()))
	}
	var out []*pb.Obligation
	for {
		resp, err := m.c.Obligations(ctx, req)
		if err != nil {
			return nil, err
		}
		if resp.Height != p.height {
			return nil, fmt.Errorf("%w: asked for obligations at height %d, got height %d", verifiers.ErrVerification, p.height, resp.Height)
		}
		if len(resp.Proofs) != len(resp.Obligations) {
			return nil, fmt.Errorf("%w: %d obligations with %d proofs", verifiers.ErrVerification, len(resp.Obligations), len(resp.Proofs))
		}
		for i, o := range resp.Obligations {
			po, err := provenObligation(p.appHash, o, resp.Proofs[i])
			if err != nil {
				return nil, err
			}
			if debtor && po.Debtor != m.o.Member || !debtor && !slices.Contains(po.Creditors, m.o.Member) {
				return nil, fmt.Errorf("%w: obligation %s does not match the query", verifiers.ErrVerification, po.Id)
			}
			if due := po.Due.AsTime(); due.Before(from) || !due.Before(dueBefore) {
				return nil, fmt.Errorf("%w: obligation %s is due outside the window asked for", verifiers.ErrVerification, po.Id)
			}
			out = append(out, po)
		}
		if resp.NextPageToken == "" {
			return out, nil
		}
		req.PageToken = resp.NextPageToken
	}
}

// obligation fetches one obligation at p with its proof; nil when it is
// proven absent.
func (m *monitor) obligation(ctx context.Context, p proven, id string) (*pb.Obligation, error) {
	resp, err := m.c.Obligation(ctx, id, p.height, true)
	if err != nil {
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Code != ledger.CodeUnknownObligation {
			return nil, err
		}
		for _, d := range ae.Details {
			if r, ok := d.(*pb.GetObligationResponse); ok && r.Height == p.height && r.Proof != nil &&
				bytes.Equal(r.Proof.Key, keys.Obligation(id)) && !r.Proof.Exists && verifiers.Proof(p.appHash, r.Proof) == nil {
				return nil, nil
			}
		}
		return nil, fmt.Errorf("%w: the node says obligation %s is absent without proving it", verifiers.ErrVerification, id)
	}
	if resp.Height != p.height {
		return nil, fmt.Errorf("%w: asked for obligation %s at height %d, got height %d", verifiers.ErrVerification, id, p.height, resp.Height)
	}
	if resp.Obligation.GetId() != id {
		return nil, fmt.Errorf("%w: asked for obligation %s, got %s", verifiers.ErrVerification, id, resp.Obligation.GetId())
	}
	return provenObligation(p.appHash, resp.Obligation, resp.Proof)
}

// recordEvent describes a new record naming the member.
func (m *monitor) recordEvent(p proven, r *pb.StoredRecord, viaSubject bool, ls verifiers.LogState) (*MonitorEvent, error) {
	tx := r.Decoded
	if tx == nil {
		var err error
		if tx, err = ledger.DecodeTx(r.Tx, 0); err != nil {
			return nil, fmt.Errorf("record %s: %w", r.Id, err)
		}
	}
	me := m.o.Member
	var roles []string
	if r.Author == me {
		roles = append(roles, "author")
	}
	for _, cs := range tx.CoSignatures {
		if cs.Signer == me {
			roles = append(roles, "co_signer")
		}
	}
	body := tx.Body.GetRecord()
	if n := body.GetNotification(); n != nil && slices.Contains(n.Recipients, me) {
		roles = append(roles, "recipient")
	}
	if viaSubject && len(roles) == 0 {
		roles = append(roles, "subject")
	}
	kind := ledger.KindNameOf(r.Kind)
	typ, what := EventRecord, fmt.Sprintf("%s record %s by %s names %s (%s)", kind, r.Id, r.Author, me, strings.Join(roles, ", "))
	switch {
	case r.Author == me:
	case body.GetFinding() != nil && slices.Contains(body.GetFinding().SubjectStates, me):
		f := body.GetFinding()
		typ = EventFinding
		what = fmt.Sprintf("finding %s by %s concerns %s: %s (reply due %s)", r.Id, r.Author, me, enumName(f.Determination), timeText(f.ReplyDue))
	case body.GetChallenge() != nil && viaSubject:
		c := body.GetChallenge()
		typ = EventChallenge
		what = fmt.Sprintf("challenge %s by %s of %s's record %s (reply by %s)", r.Id, r.Author, me, c.TargetId, timeText(c.ReplyBy))
	}
	idKey, err := keys.ID(r.Id)
	if err != nil {
		return nil, err
	}
	pr := p.proof(idKey, true)
	pr.LogSize, pr.LogRoot = ls.Size, fmt.Sprintf("%X", ls.Root)
	return &MonitorEvent{
		ID: typ + ":" + r.Id, Type: typ, Member: me, ChainID: m.chainID, Height: p.height, BlockTime: p.blockTime, Summary: what,
		Record: &MonitorRecord{ID: r.Id, Seq: r.Seq, Kind: kind, Author: r.Author, Signers: ledger.TxSigners(tx), Height: r.Height,
			BlockTime: r.BlockTime.AsTime().UTC(), Roles: roles},
		Proof: pr,
	}, nil
}

// obligationEvents are the events an obligation gives at p. On the first
// step only obligations overdue now count as having become overdue (not
// those that were overdue once and were met late or waived since).
func (m *monitor) obligationEvents(p proven, o *pb.Obligation, first bool) []*MonitorEvent {
	me := m.o.Member
	overdue := o.OverdueAt != nil && (!first || o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE)
	view := obligationView(o)
	desc := fmt.Sprintf("%s obligation %s owed by %s to %s", enumName(o.Kind), o.Id, o.Debtor, strings.Join(o.Creditors, ", "))
	due := timeText(o.Due)
	mk := func(typ, summary string) *MonitorEvent {
		return &MonitorEvent{ID: typ + ":" + o.Id, Type: typ, Member: me, ChainID: m.chainID, Height: p.height, BlockTime: p.blockTime,
			Summary: summary, Obligation: view, Proof: p.proof(keys.Obligation(o.Id), false)}
	}
	var out []*MonitorEvent
	if o.Debtor == me {
		switch {
		case overdue:
			out = append(out, mk(EventOverdue, fmt.Sprintf("%s is overdue: due %s, overdue since %s (status now %s)", desc, due, timeText(o.OverdueAt), keys.StatusName(o.Status))))
		case o.Status == pb.ObligationStatus_OBLIGATION_STATUS_OPEN && o.Due.AsTime().Before(p.blockTime.Add(m.o.Within)):
			left := "due already"
			if d := o.Due.AsTime().Sub(p.blockTime); d > 0 {
				left = durText(d) + " after block time"
			}
			out = append(out, mk(EventDueSoon, fmt.Sprintf("%s falls due %s (%s)", desc, due, left)))
		}
	}
	if overdue && slices.Contains(o.Creditors, me) {
		out = append(out, mk(EventOwedOverdue, fmt.Sprintf("%s is overdue: due %s, overdue since %s (status now %s)", desc, due, timeText(o.OverdueAt), keys.StatusName(o.Status))))
	}
	return out
}

func obligationView(o *pb.Obligation) *MonitorObligation {
	tp := func(t *timestamppb.Timestamp) *time.Time {
		if t == nil {
			return nil
		}
		v := t.AsTime().UTC()
		return &v
	}
	return &MonitorObligation{ID: o.Id, Kind: enumName(o.Kind), Debtor: o.Debtor, Creditors: append([]string{}, o.Creditors...),
		SourceRecord: o.SourceRecord, CreatedAt: o.CreatedAt.AsTime().UTC(), CreatedHeight: o.CreatedHeight, Due: o.Due.AsTime().UTC(),
		Status: keys.StatusName(o.Status), StatusAt: tp(o.StatusAt), StatusHeight: o.StatusHeight, StatusRecord: o.StatusRecord,
		OverdueAt: tp(o.OverdueAt)}
}

// deliverPending delivers the queued events in order, marking each
// delivered in the state file after it was.
func (m *monitor) deliverPending(ctx context.Context) error {
	for len(m.st.Pending) > 0 {
		ev := m.st.Pending[0]
		if err := m.deliver(ctx, ev); err != nil {
			return err
		}
		if err := m.hook(MonitorDelivered, []*MonitorEvent{ev}); err != nil {
			return err
		}
		m.st.Pending = m.st.Pending[1:]
		d := deliveredEvent{Height: ev.Height}
		if ev.Obligation != nil {
			d.Obligation, d.Due = ev.Obligation.ID, ev.Obligation.Due
		}
		m.st.Delivered[ev.ID] = d
		if err := m.save(); err != nil {
			return err
		}
	}
	return nil
}

// deliver prints ev (and flushes), or with a webhook posts it until the
// receiver answers 2xx and then prints it.
func (m *monitor) deliver(ctx context.Context, ev *MonitorEvent) error {
	if m.o.Webhook != "" {
		if err := m.post(ctx, ev); err != nil {
			return err
		}
	}
	var line []byte
	if m.o.JSON {
		bz, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		line = append(bz, '\n')
	} else {
		line = []byte(eventText(ev))
	}
	if _, err := m.o.Out.Write(line); err != nil && m.o.Webhook == "" {
		return fmt.Errorf("write event %s: %w", ev.ID, err)
	}
	switch w := m.o.Out.(type) {
	case interface{ Flush() error }:
		if err := w.Flush(); err != nil && m.o.Webhook == "" {
			return fmt.Errorf("flush event %s: %w", ev.ID, err)
		}
	case *os.File:
		_ = w.Sync() // fails harmlessly on terminals and pipes
	}
	return nil
}

// eventText is an event's text line.
func eventText(ev *MonitorEvent) string {
	return fmt.Sprintf("%s height %d %-13s %s\n", ev.BlockTime.UTC().Format(time.RFC3339), ev.Height, ev.Type, ev.Summary)
}

// post sends ev to the webhook, retrying with exponential backoff until a
// 2xx answer (or ctx ends; with Once, until OnceGiveUp has passed).
func (m *monitor) post(ctx context.Context, ev *MonitorEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	wait := m.o.RetryMin
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := m.postOnce(ctx, ev.ID, body)
		if err == nil {
			if attempt > 1 {
				m.logf("webhook: event %s delivered after %d attempts", ev.ID, attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if m.o.Once && time.Since(start)+wait > m.o.OnceGiveUp {
			return fmt.Errorf("webhook: event %s not delivered after %d attempts (%v); it stays queued in %s", ev.ID, attempt, err, m.o.StatePath)
		}
		m.logf("webhook: event %s: %v (attempt %d, retrying in %s)", ev.ID, err, attempt, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, m.o.RetryMax)
	}
}

func (m *monitor) postOnce(ctx context.Context, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.o.Webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "normledger-monitor/"+Version)
	req.Header.Set("Normledger-Event-Id", id)
	req.Header.Set("Idempotency-Key", id)
	resp, err := m.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

func monitorCmd(e *env) *cobra.Command {
	var o MonitorOptions
	tf := &trustFlags{}
	cmd := &cobra.Command{
		Use:   "monitor --member ID --witness URL [--genesis FILE]",
		Short: "Follow the chain for one member and report proven events about it (stdout, webhook)",
		Long: `monitor follows the chain through --node, verifying headers with the light
client (cross-checked with every --witness), and reports events about the
member, each proven against a verified header:

  record:<id>        a new record names the member (author, co-signer,
                     recipient or subject)
  finding:<id>       a new finding concerns it
  challenge:<id>     a new challenge of one of its records
  due_soon:<ob>      an open obligation it owes falls due within --within of
                     block time
  overdue:<ob>       an obligation it owes became overdue
  owed_overdue:<ob>  an obligation owed to it became overdue

One line per event (-o json: one JSON object per line); with --webhook each
event is also POSTed as JSON, retried with exponential backoff (1 s to 30 s)
until the receiver answers 2xx, in order. The position and the ids reported
are kept in --state (default <home>/monitor-<member>.json), written
atomically, so a restart neither loses nor repeats events (a crash between a
delivery and its record repeats that one delivery: receivers deduplicate by
id). Obligation listings do not prove completeness; see docs/monitor.md.

Trust root on the first run: --genesis FILE, or --trust-height and
--trust-hash, or the newest header in normledger verify's trust store
(--trust-store, default <home>/light). The monitor keeps its own trust store
next to the state file (<state>.light).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Member == "" {
				return errors.New("--member is required")
			}
			o.Node, o.Out, o.Err, o.JSON = e.cfg.Node, e.out, e.err, e.cfg.Output == "json"
			o.Genesis, o.TrustHeight, o.TrustHash, o.TrustPeriod = tf.genesis, tf.height, tf.hash, tf.period
			o.SharedTrustStore = tf.store
			if o.SharedTrustStore == "" {
				o.SharedTrustStore = filepath.Join(e.cfg.Home, "light")
			}
			if o.StatePath == "" {
				if err := os.MkdirAll(e.cfg.Home, 0o700); err != nil {
					return err
				}
				o.StatePath = defaultStatePath(e.cfg.Home, o.Member)
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			return RunMonitor(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Member, "member", "", "member id to monitor (required)")
	f.DurationVar(&o.Within, "within", 24*time.Hour, "report obligations the member owes that fall due within this long of block time")
	f.DurationVar(&o.Interval, "interval", 5*time.Second, "how often to poll the node for new heights")
	f.StringVar(&o.Webhook, "webhook", "", "also POST each event as JSON to this URL (retried until it answers 2xx)")
	f.StringVar(&o.StatePath, "state", "", "state file (default <home>/monitor-<member>.json; its trust store is <state>.light)")
	f.BoolVar(&o.Once, "once", false, "process up to the newest attested height, deliver, and exit (for cron)")
	f.StringArrayVar(&o.Witnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable, at least one)")
	tf.add(cmd, true)
	f.Lookup("trust-store").Usage = "normledger verify's trust store, whose newest header is the trust root on the first run (default <home>/light)"
	return cmd
}
