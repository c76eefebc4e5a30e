package testnet

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// LoadOptions describe an open-loop load: transactions are offered at Rate
// per second for Duration whatever happens to earlier ones.
type LoadOptions struct {
	Rate     float64
	Duration time.Duration
	// Size is the approximate size of each signed record in bytes.
	Size int
	// Kinds of records to file: "notification" and/or "incident_disclosure".
	Kinds []string
	// Signers are member ids that sign (default: every state member); each
	// signer's transactions go, in order, to one node.
	Signers []string
	// Settle is how long to wait for commits after the last offer.
	Settle time.Duration
	// Nodes take the transactions (default: every node of the network).
	Nodes []NodeInfo

	nonce int64
}

// LoadReport is what a load run measured.
type LoadReport struct {
	Offered       int            `json:"offered"`
	Accepted      int            `json:"accepted"`
	Committed     int            `json:"committed"`
	Rejected      map[string]int `json:"rejected_by_reason"`
	Seconds       float64        `json:"seconds"`
	OfferedRate   float64        `json:"offered_tx_per_s"`
	AcceptedRate  float64        `json:"accepted_tx_per_s"`
	CommittedRate float64        `json:"committed_tx_per_s"`
	// SustainedRate counts only what committed while the load was being
	// offered (blocks committed by the end of the offer window), over the
	// window: what the network keeps up with, not what a full mempool
	// drains later.
	SustainedRate float64 `json:"sustained_tx_per_s"`
	P50           float64 `json:"p50_s"` // submit-to-commit latency, seconds
	P90           float64 `json:"p90_s"`
	P99           float64 `json:"p99_s"`
	Blocks        int     `json:"blocks"`
	MaxBlockTxs   int     `json:"max_block_txs"`
}

func (r *LoadReport) String() string {
	var rej []string
	for k, v := range r.Rejected {
		rej = append(rej, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(rej)
	return fmt.Sprintf("offered %d (%.0f tx/s), accepted %d (%.0f tx/s), committed %d (%.0f tx/s) over %.1f s, "+
		"%.0f tx/s within the offer window; "+
		"latency submit->commit p50 %.3f s, p90 %.3f s, p99 %.3f s; %d blocks (max %d txs); rejects: %s",
		r.Offered, r.OfferedRate, r.Accepted, r.AcceptedRate, r.Committed, r.CommittedRate, r.Seconds, r.SustainedRate,
		r.P50, r.P90, r.P99, r.Blocks, r.MaxBlockTxs, strings.Join(rej, " "))
}

type offer struct {
	at time.Time
}

// RunLoad runs an open-loop load against the network's nodes.
func RunLoad(ctx context.Context, nw *Network, o LoadOptions) (*LoadReport, error) {
	if o.Rate <= 0 || o.Duration <= 0 {
		return nil, fmt.Errorf("rate and duration must be positive")
	}
	if o.Size <= 0 {
		o.Size = 1024
	}
	if len(o.Kinds) == 0 {
		o.Kinds = []string{"notification"}
	}
	if o.Settle == 0 {
		o.Settle = 15 * time.Second
	}
	kvs := nw.App == AppKVStore
	// Every run's transactions must differ from every earlier run's: equal
	// records from one author are duplicates to the ledger, equal kvstore
	// transactions hit CometBFT's mempool cache.
	o.nonce = time.Now().UnixNano()
	if len(o.Signers) == 0 {
		for _, m := range nw.Members {
			if strings.HasPrefix(m, "x") && len(m) == 3 || strings.HasPrefix(m, "load-") {
				o.Signers = append(o.Signers, m)
			}
		}
	}
	// Both apps are driven through CometBFT's RPC, so the harness is the
	// same for normledger and for the kvstore baseline.
	nodes := o.Nodes
	if len(nodes) == 0 {
		nodes = nw.Nodes
	}
	var targets []*rpchttp.HTTP
	for _, n := range nodes {
		c, err := rpchttp.NewWithTimeout("http://"+n.RPC, "/websocket", 30)
		if err != nil {
			return nil, err
		}
		targets = append(targets, c)
	}
	st0, err := targets[0].Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	chainID, startHeight := st0.NodeInfo.Network, st0.SyncInfo.LatestBlockHeight
	if !kvs {
		// Sequences come from the REST API, which answers at the attested
		// height (one below the newest block): wait until every node has
		// attested everything committed so far (an earlier run's last
		// block included), or lanes would start from used sequences.
		if err := waitHeight(ctx, targets, startHeight+2, 30*time.Second); err != nil {
			return nil, err
		}
	}

	var mu sync.Mutex
	sent := map[string]time.Time{} // tx hash (upper hex) -> intended send time
	rep := &LoadReport{Rejected: map[string]int{}}
	// Per block seen: when it was fetched, its header time, and the
	// scheduled send times of this run's transactions in it.
	type seenBlock struct {
		header   time.Time
		observed time.Time
		sched    []time.Time
	}
	var blocks []seenBlock // consecutive heights from startHeight+1

	// Follow committed blocks and match their transactions.
	followCtx, stopFollow := context.WithCancel(ctx)
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		h := startHeight + 1
		for followCtx.Err() == nil {
			hh := h
			b, err := targets[0].Block(followCtx, &hh)
			if err != nil || b.Block == nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			now := time.Now()
			mu.Lock()
			rep.Blocks++
			if len(b.Block.Txs) > rep.MaxBlockTxs {
				rep.MaxBlockTxs = len(b.Block.Txs)
			}
			sb := seenBlock{header: b.Block.Time, observed: now}
			for _, tx := range b.Block.Txs {
				id := ledger.RecordID(tx)
				if at, ok := sent[id]; ok {
					sb.sched = append(sb.sched, at)
					rep.Committed++
					delete(sent, id)
				}
			}
			blocks = append(blocks, sb)
			mu.Unlock()
			h++
		}
	}()

	// One ordered sender per lane: a signer for normledger (its sequence
	// must arrive in order at one node), a key prefix for kvstore.
	lanes := len(o.Signers)
	if kvs {
		lanes = 16
	}
	queues := make([]chan offer, lanes)
	var wg sync.WaitGroup
	for i := 0; i < lanes; i++ {
		c := targets[i%len(targets)]
		next := func(n int) []byte { return kvTx(o.Size, o.nonce, i, n) }
		refused := func(string) {}
		if !kvs {
			m := o.Signers[i]
			signer, err := nw.Signer(m)
			if err != nil {
				stopFollow()
				return nil, err
			}
			rc, err := client.New(nodes[i%len(nodes)].RESTURL())
			if err != nil {
				stopFollow()
				return nil, err
			}
			seq, err := rc.NextSequence(ctx, m)
			if err != nil {
				stopFollow()
				return nil, fmt.Errorf("sequence of %s: %w", m, err)
			}
			next = func(n int) []byte {
				tx, err := ledger.BuildTx(&pb.TxBody{ChainId: chainID, Sequence: seq, Record: loadRecord(o, m, n, i)}, signer)
				if err != nil {
					return nil
				}
				seq++
				return tx
			}
			refused = func(reason string) {
				// Not admitted: the sequence is still free, unless it was
				// refused as already used.
				if reason != ledger.CodeReplay.String() {
					seq--
				}
			}
		}
		queues[i] = make(chan offer, int(o.Rate*o.Duration.Seconds())+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for of := range queues[i] {
				tx := next(n)
				n++
				if tx == nil {
					continue
				}
				if reason := send(ctx, c, tx, of.at, &mu, sent, rep); reason != "" {
					refused(reason)
				}
			}
		}()
	}

	// The open-loop schedule.
	start := time.Now()
	interval := time.Duration(float64(time.Second) / o.Rate)
	total := int(o.Rate * o.Duration.Seconds())
	for k := 0; k < total && ctx.Err() == nil; k++ {
		at := start.Add(time.Duration(k) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		queues[k%len(queues)] <- offer{at: at}
		rep.Offered++
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	offerEnd := time.Since(start)
	// Let the tail commit.
	deadline := time.Now().Add(o.Settle)
	for time.Now().Before(deadline) {
		mu.Lock()
		pending := len(sent)
		mu.Unlock()
		if pending == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopFollow()
	<-followDone
	mu.Lock()
	defer mu.Unlock()
	rep.Seconds = offerEnd.Seconds()
	rep.OfferedRate = float64(rep.Offered) / o.Duration.Seconds()
	rep.AcceptedRate = float64(rep.Accepted) / rep.Seconds
	rep.CommittedRate = float64(rep.Committed) / rep.Seconds
	// Block h committed when 2/3 of the voting power precommitted it; the
	// header of block h+1 carries that time (BFT time: the median of those
	// precommits' timestamps, all from this machine's clock). It does not
	// depend on how quickly this process fetched the blocks. The last block,
	// whose successor was not fetched, falls back to when it was seen.
	windowEnd := start.Add(o.Duration)
	inWindow := 0
	var lat []float64
	for i, sb := range blocks {
		at := sb.observed
		if i+1 < len(blocks) {
			at = blocks[i+1].header
		}
		for _, s := range sb.sched {
			lat = append(lat, at.Sub(s).Seconds())
			if !at.After(windowEnd) {
				inWindow++
			}
		}
	}
	rep.SustainedRate = float64(inWindow) / o.Duration.Seconds()
	sort.Float64s(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(p*float64(len(lat)-1))]
	}
	rep.P50, rep.P90, rep.P99 = q(0.50), q(0.90), q(0.99)
	return rep, nil
}

// send broadcasts one tx (CheckTx only) and books the outcome; it returns
// why the node refused it, or "" if it admitted it.
func send(ctx context.Context, c *rpchttp.HTTP, tx []byte, at time.Time, mu *sync.Mutex, sent map[string]time.Time, rep *LoadReport) string {
	id := ledger.RecordID(tx)
	mu.Lock()
	sent[id] = at
	mu.Unlock()
	res, err := c.BroadcastTxSync(ctx, tx)
	mu.Lock()
	defer mu.Unlock()
	switch {
	case err != nil:
		reason := "transport"
		if strings.Contains(err.Error(), "mempool is full") {
			reason = "mempool_full"
		}
		rep.Rejected[reason]++
		delete(sent, id)
		return reason
	case res.Code != 0:
		name := fmt.Sprintf("code_%d", res.Code)
		if res.Codespace == ledger.Codespace {
			name = ledger.Code(res.Code).String()
		}
		rep.Rejected[name]++
		delete(sent, id)
		return name
	}
	rep.Accepted++
	return ""
}

// kvTx is a kvstore transaction key=value of about size bytes.
func kvTx(size int, nonce int64, lane, n int) []byte {
	k := fmt.Sprintf("r%dl%02dn%08d", nonce, lane, n)
	v := size - len(k) - 1
	if v < 1 {
		v = 1
	}
	return []byte(k + "=" + strings.Repeat("v", v))
}

// loadRecord builds a record of about o.Size bytes when signed.
func loadRecord(o LoadOptions, member string, n, i int) *pb.Record {
	kind := o.Kinds[n%len(o.Kinds)]
	pad := o.Size - 300
	if pad < 16 {
		pad = 16
	}
	filler := strings.Repeat("x", pad)
	tag := fmt.Sprintf("load %s run %d #%d ", member, o.nonce, n)
	now := time.Now().UTC().Truncate(time.Second)
	switch kind {
	case "incident_disclosure":
		return &pb.Record{SchemaVersion: 1, ClientTime: timestamppb.New(now), Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
			IncidentRef: fmt.Sprintf("LOAD-%s-%d", member, n), Stage: pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION,
			Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM, Sectors: []pb.Sector{pb.Sector_SECTOR_TELECOM}, AffectedStates: []string{member},
			DetectedAt: timestamppb.New(now.Add(-time.Hour)), AwareAt: timestamppb.New(now.Add(-30 * time.Minute)),
			Severity: pb.Severity_SEVERITY_LOW, Summary: tag + filler}}}
	default:
		return &pb.Record{SchemaVersion: 1, ClientTime: timestamppb.New(now), Body: &pb.Record_Notification{Notification: &pb.Notification{
			Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"lumen"}, Summary: tag + filler}}}
	}
}

// waitHeight waits until every target has committed height h.
func waitHeight(ctx context.Context, targets []*rpchttp.HTTP, h int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, c := range targets {
		for {
			st, err := c.Status(ctx)
			if err == nil && st.SyncInfo.LatestBlockHeight >= h {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nodes did not reach height %d within %s", h, timeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}
