package testnet

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// History records what a workload attempted and what the ledger
// acknowledged (committed, with the height), in the style of Jepsen's set
// test. It is safe for concurrent use.
type History struct {
	mu        sync.Mutex
	attempted map[string]bool
	acked     map[string]int64
	failures  map[string]int
}

// NewHistory returns an empty history.
func NewHistory() *History {
	return &History{attempted: map[string]bool{}, acked: map[string]int64{}, failures: map[string]int{}}
}

// Fail notes why a write was not acknowledged (a result code name or "error").
func (h *History) Fail(reason string) {
	h.mu.Lock()
	h.failures[reason]++
	h.mu.Unlock()
}

// Failures returns the count of unacknowledged writes by reason.
func (h *History) Failures() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.failures))
	for k, v := range h.failures {
		out[k] = v
	}
	return out
}

// Attempt notes a write that was sent (it may or may not commit).
func (h *History) Attempt(id string) {
	h.mu.Lock()
	h.attempted[id] = true
	h.mu.Unlock()
}

// Ack notes a write acknowledged as committed at height.
func (h *History) Ack(id string, height int64) {
	h.mu.Lock()
	h.attempted[id] = true
	h.acked[id] = height
	h.mu.Unlock()
}

// Counts returns how many writes were attempted and acknowledged.
func (h *History) Counts() (attempted, acked int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.attempted), len(h.acked)
}

func (h *History) snapshot() (map[string]bool, map[string]int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := make(map[string]bool, len(h.attempted))
	for k := range h.attempted {
		a[k] = true
	}
	k := make(map[string]int64, len(h.acked))
	for id, ht := range h.acked {
		k[id] = ht
	}
	return a, k
}

// Writers run one closed-loop writer per state member until ctx ends: each
// signs a ~1 KB notification with the member's next sequence, broadcasts it in
// commit mode to a random node that live() reports as up, and records the
// outcome in h.
func Writers(ctx context.Context, nw *Network, members []string, h *History, live func() []NodeInfo) (*sync.WaitGroup, error) {
	var wg sync.WaitGroup
	for i, m := range members {
		signer, err := nw.Signer(m)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func(i int, signer ledger.Signer) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for n := 0; ctx.Err() == nil; n++ {
				nodes := live()
				if len(nodes) == 0 {
					sleep(ctx, 100*time.Millisecond)
					continue
				}
				nd := nodes[rng.IntN(len(nodes))]
				c, _ := client.New(nd.RESTURL())
				if err := writeOne(ctx, c, nw.ChainID, signer, n, h); err != nil {
					sleep(ctx, 100*time.Millisecond)
				}
			}
		}(i, signer)
	}
	return &wg, nil
}

func writeOne(ctx context.Context, c *client.Client, chainID string, s ledger.Signer, n int, h *History) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	seq, err := c.NextSequence(cctx, s.Member)
	if err != nil {
		h.Fail("sequence lookup")
		return err
	}
	rec := &pb.Record{SchemaVersion: 1, ClientTime: timestamppb.New(time.Now().UTC().Truncate(time.Second)),
		Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"lumen"},
			Summary: fmt.Sprintf("workload %s #%d seq %d: %0900d", s.Member, n, seq, n)}}}
	tx, err := ledger.BuildTx(&pb.TxBody{ChainId: chainID, Sequence: seq, Record: rec}, s)
	if err != nil {
		return err
	}
	id := ledger.RecordID(tx)
	h.Attempt(id)
	res, err := c.Broadcast(cctx, tx, true)
	if err != nil {
		reason := "transport error"
		if cctx.Err() != nil {
			reason = "timeout"
		}
		h.Fail(reason)
		return err
	}
	if res.Committed {
		h.Ack(id, res.Height)
		return nil
	}
	h.Fail(res.Code.String())
	return fmt.Errorf("%s", res.Code)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// CheckReport says what a check compared.
type CheckReport struct {
	Nodes           int   `json:"nodes"`
	Height          int64 `json:"height"` // common attested height compared
	Records         int   `json:"records"`
	AckedChecked    int   `json:"acked_checked"`
	Attempted       int   `json:"attempted"`
	HeadersCompared int64 `json:"headers_compared"`
}

// Check waits until every node attests a common height at least as high as
// every acknowledged write (within wait), then checks at that height: every
// acknowledged write is on every node; nothing is on any node that was not
// written (h's attempts or extra); no record twice; the same records in the
// same order on every node; identical headers (so identical app hashes) at
// every height up to it.
func Check(ctx context.Context, nodes []NodeInfo, h *History, extra []string, wait time.Duration) (*CheckReport, error) {
	attempted, acked := h.snapshot()
	for _, id := range extra {
		attempted[id] = true
	}
	var need int64
	for _, ht := range acked {
		need = max(need, ht)
	}
	clients := make([]*client.Client, len(nodes))
	for i, n := range nodes {
		clients[i], _ = client.New(n.RESTURL())
	}
	// A common attested height covering every acknowledged write.
	var height int64
	// A node that joined by state sync holds blocks only from then on.
	from := make([]int64, len(clients))
	deadline := time.Now().Add(wait)
	for {
		height = -1
		var lastErr error
		for i, c := range clients {
			st, err := c.Status(ctx)
			if err != nil {
				lastErr = err
				height = -1
				break
			}
			if height < 0 || st.LatestAttestedHeight < height {
				height = st.LatestAttestedHeight
			}
			from[i] = 1
			if st.StateSyncedFrom > 0 {
				from[i] = st.StateSyncedFrom + 1 // its first block is the one after the snapshot
			}
		}
		if height >= need && height >= 1 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no common attested height >= %d within %s (lowest %d, last error %v)", need, wait, height, lastErr)
		}
		sleep(ctx, 100*time.Millisecond)
	}
	rep := &CheckReport{Nodes: len(nodes), Height: height, Attempted: len(attempted)}
	var reference []string
	for i, c := range clients {
		ids, err := allRecords(ctx, c, height)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", nodes[i].Name, err)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				return nil, fmt.Errorf("%s: record %s appears twice", nodes[i].Name, id)
			}
			seen[id] = true
			if !attempted[id] {
				return nil, fmt.Errorf("%s: record %s was never written", nodes[i].Name, id)
			}
		}
		for id, ht := range acked {
			if ht <= height && !seen[id] {
				return nil, fmt.Errorf("%s: acknowledged record %s (height %d) is missing at height %d", nodes[i].Name, id, ht, height)
			}
		}
		if i == 0 {
			reference = ids
			continue
		}
		if len(ids) != len(reference) {
			return nil, fmt.Errorf("%s has %d records at height %d, %s has %d", nodes[i].Name, len(ids), height, nodes[0].Name, len(reference))
		}
		for j := range ids {
			if ids[j] != reference[j] {
				return nil, fmt.Errorf("%s and %s differ at ledger position %d", nodes[i].Name, nodes[0].Name, j+1)
			}
		}
	}
	rep.Records = len(reference)
	for _, ht := range acked {
		if ht <= height {
			rep.AckedChecked++
		}
	}
	// Identical headers at every height up to height+1 (the one attesting
	// it), on every node that holds that height.
	for ht := int64(1); ht <= height+1; ht++ {
		var ref []byte
		for i, c := range clients {
			if ht < from[i] {
				continue
			}
			lb, err := c.LightBlock(ctx, ht)
			if err != nil {
				return nil, fmt.Errorf("%s: header %d: %w", nodes[i].Name, ht, err)
			}
			if ref == nil {
				ref = lb.Hash()
			} else if !bytes.Equal(lb.Hash(), ref) {
				return nil, fmt.Errorf("%s and %s have different headers (app hashes) at height %d", nodes[i].Name, nodes[0].Name, ht)
			}
		}
		rep.HeadersCompared++
	}
	return rep, nil
}

// allRecords lists every record id at height, in ledger order.
func allRecords(ctx context.Context, c *client.Client, height int64) ([]string, error) {
	var ids []string
	tok := ""
	for {
		res, err := c.Records(ctx, &pb.ListRecordsRequest{Height: height, Limit: 200, PageToken: tok})
		if err != nil {
			return nil, err
		}
		for _, r := range res.Records {
			if r.Seq != uint64(len(ids)+1) {
				return nil, fmt.Errorf("record %d of the listing has ledger position %d", len(ids)+1, r.Seq)
			}
			ids = append(ids, r.Id)
		}
		if res.NextPageToken == "" {
			return ids, nil
		}
		tok = res.NextPageToken
	}
}
