package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/normledger/normledger/client"
	"github.com/normledger/normledger/internal/atomicfile"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers/remote"
)

// JoinResult is what the join benchmark measured: how long a new full node
// takes to reach the tip of a chain of Records records, by block sync (every
// block replayed from genesis) and by state sync (a verified snapshot, then
// the blocks after it).
type JoinResult struct {
	Date           time.Time `json:"date"`
	Records        int       `json:"records"`
	Height         int64     `json:"height"`
	SnapshotHeight int64     `json:"snapshot_height"`
	SnapshotChunks int       `json:"snapshot_chunks"`
	BlockSyncSec   float64   `json:"block_sync_seconds"`
	StateSyncSec   float64   `json:"state_sync_seconds"`
	// Verified: a record committed near the tip, read from each new node,
	// verified against light-client-verified headers (so its state is the
	// chain's).
	BlockSyncVerified bool `json:"block_sync_verified"`
	StateSyncVerified bool `json:"state_sync_verified"`
}

// JoinOptions configure the join benchmark.
type JoinOptions struct {
	Dir      string
	Records  int
	Rate     float64
	Interval int64 // snapshot interval
	Progress io.Writer
}

func (o JoinOptions) logf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// JoinBench builds a 4-validator chain of at least o.Records records with
// the load generator, then times a block-sync join and a state-sync join.
func JoinBench(ctx context.Context, o JoinOptions) (*JoinResult, error) {
	os.RemoveAll(o.Dir)
	nw, err := Generate(Options{Dir: o.Dir, ChainID: "join-bench", Validators: 4, LoadMembers: 28,
		TimeoutCommit: 200 * time.Millisecond, SnapshotInterval: o.Interval})
	if err != nil {
		return nil, err
	}
	if err := InstallBinary(o.Dir); err != nil {
		return nil, err
	}
	defer func() {
		for _, n := range nw.Nodes {
			StopNode(n, 15*time.Second)
		}
	}()
	for _, n := range nw.Nodes {
		if _, err := StartNode(o.Dir, n); err != nil {
			return nil, err
		}
	}
	c0, _ := client.New(nw.Nodes[0].RESTURL())
	if _, err := c0.WaitHeight(ctx, 3); err != nil {
		return nil, err
	}
	res := &JoinResult{Date: time.Now().UTC()}
	for res.Records < o.Records {
		rep, err := RunLoad(ctx, nw, LoadOptions{Rate: o.Rate, Duration: 30 * time.Second, Size: 1024, Settle: 20 * time.Second})
		if err != nil {
			return nil, err
		}
		res.Records += rep.Committed
		o.logf("join bench: %d records committed", res.Records)
	}
	st, err := c0.Status(ctx)
	if err != nil {
		return nil, err
	}
	loaded := st.LatestHeight
	// A snapshot covering the whole load.
	snapDir := filepath.Join(nw.Nodes[0].Home, "data", "snapshots")
	deadline := time.Now().Add(10 * time.Minute)
	for res.SnapshotHeight <= loaded && time.Now().Before(deadline) {
		ents, _ := os.ReadDir(snapDir)
		var hs []int64
		for _, e := range ents {
			if h, err := strconv.ParseInt(e.Name(), 10, 64); err == nil {
				if _, err := os.Stat(filepath.Join(snapDir, e.Name(), "manifest")); err == nil {
					hs = append(hs, h)
				}
			}
		}
		sort.Slice(hs, func(i, j int) bool { return hs[i] > hs[j] })
		if len(hs) > 0 {
			res.SnapshotHeight = hs[0]
		}
		time.Sleep(time.Second)
	}
	if res.SnapshotHeight <= loaded {
		return nil, fmt.Errorf("no snapshot above height %d within 10 minutes", loaded)
	}
	// chunks.idx holds each chunk's end offset (node/snapshots.go).
	if fi, err := os.Stat(filepath.Join(snapDir, strconv.FormatInt(res.SnapshotHeight, 10), "chunks.idx")); err == nil {
		res.SnapshotChunks = int(fi.Size() / 8)
	}
	gen, err := cmttypes.GenesisDocFromFile(nw.Genesis)
	if err != nil {
		return nil, err
	}
	c1, _ := client.New(nw.Nodes[1].RESTURL())
	root, err := remote.TrustFromGenesis(ctx, gen, c1)
	if err != nil {
		return nil, err
	}
	// The record to verify on each new node: a fresh one, after the
	// snapshot (a state-synced node has no member entries from before it).
	signer, err := nw.Signer("load-001")
	if err != nil {
		return nil, err
	}
	fresh, err := c0.Submit(ctx, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
		Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"lumen"},
		Summary: fmt.Sprintf("join benchmark marker %d", time.Now().UnixNano())}}}, signer, nil, true)
	if err != nil || fresh.Rejected() {
		return nil, fmt.Errorf("marker record: %+v %v", fresh, err)
	}
	if err := c0.WaitAttested(ctx, fresh.Height); err != nil {
		return nil, err
	}
	target := fresh.ID
	var tipHeight int64
	join := func(info NodeInfo) (time.Duration, bool, error) {
		tip, err := c0.Status(ctx)
		if err != nil {
			return 0, false, err
		}
		tipHeight = tip.LatestHeight
		start := time.Now()
		if _, err := StartNode(o.Dir, info); err != nil {
			return 0, false, err
		}
		cn, _ := client.New(info.RESTURL())
		for {
			if s, err := cn.Status(ctx); err == nil && s.LatestHeight >= tip.LatestHeight && !s.CatchingUp {
				break
			}
			if time.Since(start) > 30*time.Minute {
				return 0, false, fmt.Errorf("%s did not reach height %d within 30 minutes", info.Name, tip.LatestHeight)
			}
			time.Sleep(200 * time.Millisecond)
		}
		took := time.Since(start)
		lc, err := remote.NewLightClient(ctx, gen.ChainID, remote.NewProvider(gen.ChainID, cn.Base(), cn),
			[]*remote.Provider{remote.NewProvider(gen.ChainID, c1.Base(), c1)}, root, "")
		if err != nil {
			return took, false, err
		}
		defer lc.Close()
		v := &remote.Verifier{API: cn, Light: lc, ChainID: gen.ChainID}
		_, _, verr := v.Record(ctx, target)
		if verr != nil {
			o.logf("join bench: %s: verify record %s: %v", info.Name, target, verr)
		}
		return took, verr == nil, nil
	}
	bs, err := nw.AddFullNode(freeLoopbackPorts())
	if err != nil {
		return nil, err
	}
	d, ok, err := join(bs)
	if err != nil {
		return nil, err
	}
	res.BlockSyncSec, res.BlockSyncVerified = d.Seconds(), ok
	o.logf("join bench: block sync to height %d in %s (verified %v)", tipHeight, d.Round(time.Millisecond), ok)
	StopNode(bs, 15*time.Second)
	ss, err := nw.AddStateSyncNode(ctx, freeLoopbackPorts(), res.SnapshotHeight-2, nw.Nodes[1:3])
	if err != nil {
		return nil, err
	}
	d, ok, err = join(ss)
	if err != nil {
		return nil, err
	}
	res.StateSyncSec, res.StateSyncVerified = d.Seconds(), ok
	st, _ = c0.Status(ctx)
	res.Height = st.LatestHeight
	o.logf("join bench: state sync to height %d (snapshot %d, %d chunks) in %s (verified %v)", tipHeight, res.SnapshotHeight, res.SnapshotChunks, d.Round(time.Millisecond), ok)
	return res, nil
}

// pickFreePort finds a free port on 127.0.0.1 below the ephemeral range.
func pickFreePort() int {
	for i := 0; i < 500; i++ {
		port := 20000 + rand.IntN(12768)
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			return port
		}
	}
	return 0
}

// freeLoopbackPorts picks four free ports on 127.0.0.1 for an added node.
func freeLoopbackPorts() Ports {
	var ps []string
	for len(ps) < 4 {
		ps = append(ps, fmt.Sprintf("127.0.0.1:%d", pickFreePort()))
	}
	return Ports{RPC: ps[0], P2P: ps[1], REST: ps[2], GRPC: ps[3]}
}

func joinBenchCmd() *cobra.Command {
	var o JoinOptions
	var out string
	cmd := &cobra.Command{
		Use:    "joinbench --dir WORKDIR --records N --json FILE",
		Short:  "Time a new full node joining a chain of N records by block sync and by state sync",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = cmd.ErrOrStderr()
			res, err := JoinBench(cmd.Context(), o)
			if err != nil {
				return err
			}
			bz, _ := json.MarshalIndent(res, "", "  ")
			if out == "" {
				_, err := cmd.OutOrStdout().Write(append(bz, '\n'))
				return err
			}
			return atomicfile.WriteFile(out, append(bz, '\n'), 0o644)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", "/tmp/normledger-join", "work directory")
	f.IntVar(&o.Records, "records", 100000, "records the chain holds before the joins")
	f.Float64Var(&o.Rate, "rate", 600, "load rate while building the chain")
	f.Int64Var(&o.Interval, "snapshot-interval", 200, "snapshot interval of the validators")
	f.StringVar(&out, "json", "", "write the result here (default: stdout)")
	return cmd
}
