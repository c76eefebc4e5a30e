package testnet

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/app"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// GrowthPoint is one measurement of state growth.
type GrowthPoint struct {
	Records     int     `json:"records"`
	RecordBytes int64   `json:"record_bytes"`
	StateBytes  int64   `json:"state_bytes"`
	Ratio       float64 `json:"ratio"`
	RSSBytes    int64   `json:"rss_bytes"`
	Seconds     float64 `json:"seconds"`
	// KeepRecent is the store's retention (0: every version kept).
	KeepRecent int64 `json:"keep_recent"`
	// SetsPerRecord is the state writes (IAVL sets) per record so far.
	SetsPerRecord float64 `json:"iavl_sets_per_record"`
	// LogBytes is the record log's part of StateBytes (tiles and bundles).
	LogBytes int64 `json:"log_bytes"`
}

// Growth applies n signed ~size-byte records through the real app into an
// on-disk store in dir, in blocks of block records, and measures the state
// database size against the signed record bytes, and this process's RSS,
// every `every` records.
func Growth(ctx context.Context, dir string, n, size, block, every int, keepRecent int64, progress io.Writer) ([]GrowthPoint, error) {
	st, err := store.Open(dir, store.Options{KeepRecent: keepRecent})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	a, err := app.New(st, app.Options{})
	if err != nil {
		return nil, err
	}
	members := fixture.Dev(8, fixture.SeededKey)
	g := fixture.Genesis(members)
	fixture.SetValidator(g, members[0].ID, fixture.SeededValidatorKey(members[0].ID).PubKey().Bytes(), 10)
	gs, _ := protojson.Marshal(g)
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := a.InitChain(ctx, &abci.RequestInitChain{ChainId: "growth", Time: t, InitialHeight: 1, AppStateBytes: gs,
		ConsensusParams: &cmtproto.ConsensusParams{Version: &cmtproto.VersionParams{App: ledger.CurrentAppVersion}}}); err != nil {
		return nil, err
	}
	states := members[:8]
	seq := make([]uint64, len(states))
	for i := range seq {
		seq[i] = 1
	}
	pad := strings.Repeat("x", max(16, size-300))
	start := time.Now()
	var out []GrowthPoint
	var recordBytes int64
	var height int64
	for done := 0; done < n; {
		k := min(block, n-done)
		txs := make([][]byte, k)
		for j := range txs {
			i := (done + j) % len(states)
			rec := &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
				Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{"lumen"},
				Summary: fmt.Sprintf("growth %d %s", done+j, pad)}}}
			tx, err := ledger.BuildTx(&pb.TxBody{ChainId: "growth", Sequence: seq[i], Record: rec}, states[i].Signer())
			if err != nil {
				return nil, err
			}
			seq[i]++
			txs[j] = tx
			recordBytes += int64(len(tx))
		}
		height++
		t = t.Add(time.Second)
		res, err := a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: txs, Height: height, Time: t})
		if err != nil {
			return nil, err
		}
		for _, r := range res.TxResults {
			if r.Code != 0 {
				return nil, fmt.Errorf("record rejected: %s", r.Log)
			}
		}
		if _, err := a.Commit(ctx, &abci.RequestCommit{}); err != nil {
			return nil, err
		}
		done += k
		if done%every == 0 || done == n {
			sets, _ := st.Writes()
			p := GrowthPoint{Records: done, RecordBytes: recordBytes, StateBytes: dirSize(dir), RSSBytes: selfRSS(),
				Seconds: time.Since(start).Seconds(), KeepRecent: keepRecent, SetsPerRecord: float64(sets) / float64(done),
				LogBytes: dirSize(filepath.Join(dir, store.LogDir))}
			p.Ratio = float64(p.StateBytes) / float64(p.RecordBytes)
			out = append(out, p)
			if progress != nil {
				fmt.Fprintf(progress, "growth: %d records, %.1f MiB records, %.1f MiB state (%.2fx; log %.1f MiB), %.2f sets/record, RSS %.0f MiB, %.0f s\n",
					p.Records, float64(p.RecordBytes)/(1<<20), float64(p.StateBytes)/(1<<20), p.Ratio, float64(p.LogBytes)/(1<<20), p.SetsPerRecord, float64(p.RSSBytes)/(1<<20), p.Seconds)
			}
		}
	}
	return out, nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// selfRSS is this process's resident set size.
func selfRSS() int64 { return pidRSS(os.Getpid()) }

// pidRSS reads a process's resident set size from /proc.
func pidRSS(pid int) int64 {
	bz, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(bz), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
