package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	"github.com/normledger/normledger/node/api"
	"github.com/normledger/normledger/node/witness"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/checkpoint"
)

// CheckpointConfig configures the record log's checkpoints.
type CheckpointConfig struct {
	// IntervalBlocks publishes a checkpoint of every state height that is a
	// multiple of it; IntervalSeconds (if set) also of the first height in
	// each window of that many seconds of block time. Both are the chain's
	// own data, so every node publishes the same checkpoints (stable: all
	// witnesses cosign the same trees). 0 and 0 disable checkpoints.
	IntervalBlocks  int64
	IntervalSeconds int64
	// Witnesses are the submission prefixes (URLs) the node sends every
	// checkpoint to for cosigning.
	Witnesses []string
}

// Checkpoints publishes checkpoints, collects witness cosignatures for them
// and keeps them in <data>/checkpoints, one note per checkpoint.
type Checkpoints struct {
	cfg     CheckpointConfig
	st      *store.Store
	dir     string
	log     *slog.Logger
	hc      *http.Client
	chain   api.Chain
	chainID string

	mu    sync.RWMutex
	notes map[int64][]byte
	// witnessSize is each witness's last cosigned size as it told us.
	witnessSize map[string]uint64
	last        int64 // newest height published

	stop chan struct{}
	wg   sync.WaitGroup
}

// NewCheckpoints loads the checkpoints kept in dataDir.
func NewCheckpoints(cfg CheckpointConfig, st *store.Store, dataDir string, log *slog.Logger) (*Checkpoints, error) {
	c := &Checkpoints{cfg: cfg, st: st, dir: filepath.Join(dataDir, "checkpoints"), log: log, hc: &http.Client{Timeout: 10 * time.Second},
		notes: map[int64][]byte{}, witnessSize: map[string]uint64{}, stop: make(chan struct{})}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		name := e.Name()
		if atomicfile.IsTemp(name) { // a crashed write's: never a checkpoint
			os.Remove(filepath.Join(c.dir, name))
			continue
		}
		if !strings.HasSuffix(name, ".note") {
			continue
		}
		h, err := strconv.ParseInt(strings.TrimSuffix(name, ".note"), 10, 64)
		if err != nil {
			continue
		}
		bz, err := os.ReadFile(filepath.Join(c.dir, name))
		if err != nil {
			return nil, err
		}
		c.notes[h] = bz
		c.last = max(c.last, h)
	}
	return c, nil
}

// Start publishes checkpoints as the chain commits them.
func (c *Checkpoints) Start(chain api.Chain, chainID string) {
	c.chain, c.chainID = chain, chainID
	if c.cfg.IntervalBlocks <= 0 && c.cfg.IntervalSeconds <= 0 {
		return
	}
	c.wg.Add(1)
	go c.run()
}

// Close stops publishing.
func (c *Checkpoints) Close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.wg.Wait()
}

func (c *Checkpoints) run() {
	defer c.wg.Done()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastPush := time.Time{}
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		// A checkpoint of state H needs header H+1: H+1 committed.
		v := c.st.Version()
		c.mu.RLock()
		from := c.last + 1
		c.mu.RUnlock()
		if from < v-1000 {
			from = v - 1000 // a node far behind checkpoints only the recent chain
		}
		published := false
		for h := max(from, 1); h <= v-1; h++ {
			ok, err := c.due(ctx, h)
			if err != nil {
				c.log.Debug("checkpoint schedule", "height", h, "err", err)
				break
			}
			if !ok {
				c.mu.Lock()
				c.last = max(c.last, h)
				c.mu.Unlock()
				continue
			}
			if err := c.publish(ctx, h); err != nil {
				c.log.Warn("cannot publish a checkpoint", "height", h, "err", err)
				break
			}
			published = true
		}
		if published || time.Since(lastPush) > 5*time.Second {
			c.push(ctx)
			lastPush = time.Now()
		}
		cancel()
	}
}

// due reports whether state height h gets a checkpoint.
func (c *Checkpoints) due(ctx context.Context, h int64) (bool, error) {
	if c.cfg.IntervalBlocks > 0 && h%c.cfg.IntervalBlocks == 0 {
		return true, nil
	}
	if c.cfg.IntervalSeconds <= 0 || h < 2 {
		return false, nil
	}
	t, err := c.blockTime(ctx, h)
	if err != nil {
		return false, err
	}
	p, err := c.blockTime(ctx, h-1)
	if err != nil {
		return false, err
	}
	return t.Unix()/c.cfg.IntervalSeconds != p.Unix()/c.cfg.IntervalSeconds, nil
}

func (c *Checkpoints) blockTime(ctx context.Context, h int64) (time.Time, error) {
	r, err := c.chain.Commit(ctx, &h)
	if err != nil {
		return time.Time{}, err
	}
	return r.SignedHeader.Header.Time, nil
}

// publish makes and keeps the checkpoint of state height h.
func (c *Checkpoints) publish(ctx context.Context, h int64) error {
	v, err := c.st.At(h)
	if err != nil {
		return err
	}
	size, root, err := v.LogState()
	if err != nil {
		return err
	}
	p, err := v.ProofOf([]byte(layout.KeyLog))
	if err != nil {
		return err
	}
	lb, err := api.LightBlockAt(ctx, c.chain, h+1)
	if err != nil {
		return err
	}
	lbp, err := lb.ToProto()
	if err != nil {
		return err
	}
	lbBytes, err := lbp.Marshal()
	if err != nil {
		return err
	}
	msg, err := checkpoint.Sign(checkpoint.Origin(c.chainID), size, root, &pb.CheckpointCertificate{Height: h, LightBlock: lbBytes, LogProof: p.Proof})
	if err != nil {
		return err
	}
	if err := c.save(h, msg); err != nil {
		return err
	}
	c.log.Debug("checkpoint published", "height", h, "size", size)
	return nil
}

func (c *Checkpoints) save(h int64, msg []byte) error {
	path := filepath.Join(c.dir, fmt.Sprintf("%020d.note", h))
	if err := atomicfile.WriteFile(path, msg, 0o600); err != nil {
		return err
	}
	c.mu.Lock()
	c.notes[h] = msg
	c.last = max(c.last, h)
	c.mu.Unlock()
	return nil
}

// push sends the newest checkpoint to every witness that has not cosigned
// it, and keeps the cosignatures that verify.
func (c *Checkpoints) push(ctx context.Context) {
	h, msg := c.latest()
	if msg == nil || len(c.cfg.Witnesses) == 0 {
		return
	}
	size, _, err := bodyState(msg)
	if err != nil {
		return
	}
	for _, w := range c.cfg.Witnesses {
		c.mu.RLock()
		old, known := c.witnessSize[w]
		c.mu.RUnlock()
		if known && old == size && hasCosigFromWitness(msg, c.cosignerNames()) {
			continue
		}
		for attempt := 0; attempt < 2; attempt++ {
			proof, err := c.st.LogConsistency(min(old, size), size)
			if err != nil {
				break
			}
			if old > size {
				break // the witness holds a newer checkpoint than ours
			}
			sig, conflict, err := witness.Submit(ctx, c.hc, w, old, proof, msg)
			var we *witness.Error
			if errors.As(err, &we) && we.Status == http.StatusConflict {
				old = conflict
				c.mu.Lock()
				c.witnessSize[w] = conflict
				c.mu.Unlock()
				continue
			}
			if err != nil {
				c.log.Debug("witness did not cosign", "witness", w, "height", h, "err", err)
				break
			}
			c.mu.Lock()
			c.witnessSize[w] = size
			c.mu.Unlock()
			if err := c.AddCosignatures(h, sig); err != nil {
				c.log.Warn("witness cosignature refused", "witness", w, "err", err)
			}
			break
		}
	}
}

func (c *Checkpoints) cosignerNames() []string {
	ws, err := c.registryWitnesses()
	if err != nil {
		return nil
	}
	var names []string
	for _, w := range ws {
		names = append(names, w.Name)
	}
	return names
}

func hasCosigFromWitness(msg []byte, names []string) bool {
	for _, n := range names {
		if bytes.Contains(msg, []byte("\n— "+n+" ")) {
			return true
		}
	}
	return false
}

func bodyState(msg []byte) (uint64, []byte, error) {
	lines := strings.SplitN(string(msg), "\n", 4)
	if len(lines) < 4 {
		return 0, nil, errors.New("malformed checkpoint")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	return size, []byte(lines[2]), err
}

func (c *Checkpoints) latest() (int64, []byte) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var best int64 = -1
	for h := range c.notes {
		best = max(best, h)
	}
	if best < 0 {
		return 0, nil
	}
	return best, c.notes[best]
}

// registryWitnesses are the witnesses the newest state knows: active
// members with the witness role, each active key.
func (c *Checkpoints) registryWitnesses() ([]*checkpoint.Witness, error) {
	v, err := c.st.At(0)
	if err != nil {
		return nil, err
	}
	ms, err := v.Members()
	if err != nil {
		return nil, err
	}
	return checkpoint.RegistryWitnesses(ms), nil
}

// AddCosignatures merges cosignature lines into the checkpoint of height h
// (h = 0: the checkpoint whose body they sign) if they verify against a
// witness key in the member registry; lines of unknown keys are dropped.
func (c *Checkpoints) AddCosignatures(h int64, lines []byte) error {
	ws, err := c.registryWitnesses()
	if err != nil {
		return err
	}
	pol, err := checkpoint.CosignerPolicy(ws)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	msg, ok := c.notes[h]
	if !ok {
		return fmt.Errorf("no checkpoint at height %d", h)
	}
	merged := mergeSigs(msg, lines)
	cp, err := checkpoint.Open(merged, c.chainID, pol, nil)
	if err != nil {
		return err
	}
	// Keep only the lines that verified (the certificate and known cosigners).
	keep := map[string]bool{checkpoint.Origin(c.chainID): true}
	for _, n := range cp.Cosigners {
		keep[n] = true
	}
	out := filterSigs(merged, keep)
	if bytes.Equal(out, msg) {
		return nil
	}
	path := filepath.Join(c.dir, fmt.Sprintf("%020d.note", h))
	if err := atomicfile.WriteFile(path, out, 0o600); err != nil {
		return err
	}
	c.notes[h] = out
	return nil
}

// FindHeight is the height of the checkpoint with the note body of msg.
func (c *Checkpoints) FindHeight(msg []byte) (int64, bool) {
	body, _, _ := bytes.Cut(msg, []byte("\n\n"))
	c.mu.RLock()
	defer c.mu.RUnlock()
	for h, n := range c.notes {
		b, _, _ := bytes.Cut(n, []byte("\n\n"))
		if bytes.Equal(b, body) {
			return h, true
		}
	}
	return 0, false
}

func mergeSigs(msg, lines []byte) []byte {
	seen := map[string]bool{}
	for _, l := range strings.Split(string(msg), "\n") {
		seen[l] = true
	}
	out := append([]byte(nil), msg...)
	for _, l := range strings.Split(string(lines), "\n") {
		if strings.HasPrefix(l, "— ") && !seen[l] {
			out = append(out, l+"\n"...)
			seen[l] = true
		}
	}
	return out
}

func filterSigs(msg []byte, keep map[string]bool) []byte {
	text, sigs, _ := bytes.Cut(msg, []byte("\n\n"))
	out := append(append([]byte(nil), text...), "\n\n"...)
	for _, l := range strings.Split(string(sigs), "\n") {
		f := strings.Fields(strings.TrimPrefix(l, "— "))
		if strings.HasPrefix(l, "— ") && len(f) == 2 && keep[f[0]] {
			out = append(out, l+"\n"...)
		}
	}
	return out
}

// Latest implements api.CheckpointSource.
func (c *Checkpoints) Latest() []byte {
	_, msg := c.latest()
	return msg
}

// List implements api.CheckpointSource: checkpoints at or below before (0:
// any), newest first.
func (c *Checkpoints) List(before int64, limit int) []*pb.CheckpointInfo {
	c.mu.RLock()
	var hs []int64
	for h := range c.notes {
		if before == 0 || h <= before {
			hs = append(hs, h)
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i] > hs[j] })
	if len(hs) > limit {
		hs = hs[:limit]
	}
	var out []*pb.CheckpointInfo
	for _, h := range hs {
		msg := c.notes[h]
		info := &pb.CheckpointInfo{Height: h, Note: string(msg)}
		if size, _, err := bodyState(msg); err == nil {
			info.Size = size
		}
		if v, err := c.st.At(h); err == nil {
			if _, root, err := v.LogState(); err == nil {
				info.Root = root
			}
		}
		_, sigs, _ := bytes.Cut(msg, []byte("\n\n"))
		for _, l := range strings.Split(string(sigs), "\n") {
			f := strings.Fields(strings.TrimPrefix(l, "— "))
			if len(f) == 2 && f[0] != checkpoint.Origin(c.chainID) {
				info.Cosigners = append(info.Cosigners, f[0])
			}
		}
		out = append(out, info)
	}
	c.mu.RUnlock()
	return out
}

// Receive implements api.CheckpointSource: cosignatures a witness in
// follower mode delivers (the checkpoint body and its cosignature lines).
func (c *Checkpoints) Receive(msg []byte) error {
	h, ok := c.FindHeight(msg)
	if !ok {
		return api.ErrUnknownCheckpoint
	}
	_, sigs, _ := bytes.Cut(msg, []byte("\n\n"))
	return c.AddCosignatures(h, sigs)
}
