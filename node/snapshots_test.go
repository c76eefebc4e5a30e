package node

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/store"
)

// A node that holds state refuses to restore a snapshot over it; an empty
// one accepts a verified snapshot and refuses one for another app hash.
func TestSnapshotOffers(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srcDir := t.TempDir()
	src, err := store.Open(filepath.Join(srcDir, "data"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	gs := fixture.Genesis(fixture.Dev(2, fixture.SeededKey))
	fixture.SetValidator(gs, "xaa", fixture.SeededValidatorKey("xaa").PubKey().Bytes(), 10)
	if _, err := src.InitGenesis("c", gs, 1, ledger.CurrentAppVersion); err != nil {
		t.Fatal(err)
	}
	if err := src.BeginBlock(1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.EndBlock(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Commit(); err != nil {
		t.Fatal(err)
	}
	ss, err := NewSnapshots(SnapshotConfig{Interval: 1}, src, filepath.Join(srcDir, "data"), log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.create(1); err != nil {
		t.Fatal(err)
	}
	snaps := ss.List()
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots", len(snaps))
	}
	// The source itself holds state: refused.
	if got := ss.Offer(snaps[0], src.Hash()); got != abci.ResponseOfferSnapshot_ABORT {
		t.Fatalf("offer into a store with state: %v", got)
	}
	dstDir := t.TempDir()
	dst, err := store.Open(filepath.Join(dstDir, "data"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	ds, err := NewSnapshots(SnapshotConfig{}, dst, filepath.Join(dstDir, "data"), log)
	if err != nil {
		t.Fatal(err)
	}
	other := append([]byte(nil), src.Hash()...)
	other[0] ^= 1
	if got := ds.Offer(snaps[0], other); got != abci.ResponseOfferSnapshot_REJECT {
		t.Fatalf("offer for another app hash: %v", got)
	}
	if got := ds.Offer(snaps[0], src.Hash()); got != abci.ResponseOfferSnapshot_ACCEPT {
		t.Fatalf("honest offer: %v", got)
	}
	for i := uint32(0); i < snaps[0].Chunks; i++ {
		resp, done := ds.Apply(i, ss.Load(snaps[0].Height, snaps[0].Format, i), "peer")
		if resp.Result != abci.ResponseApplySnapshotChunk_ACCEPT || done != (i == snaps[0].Chunks-1) {
			t.Fatalf("chunk %d: %v done=%v", i, resp.Result, done)
		}
	}
	if dst.Version() != 1 || string(dst.Hash()) != string(src.Hash()) {
		t.Fatal("restored state differs")
	}
	v, _ := dst.At(0)
	if cid, _ := v.ChainID(); cid != "c" {
		t.Fatal("chain id")
	}
}

// [state_sync] snapshot_chunk_height is held to the bound an export's
// --chunk-height has: chunks a joining node could never take are refused
// at start, not served.
func TestSnapshotChunkHeightBound(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "data"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := NewSnapshots(SnapshotConfig{Interval: 1, ChunkHeight: MaxChunkHeight + 1}, st, filepath.Join(dir, "data"), log); err == nil ||
		!strings.Contains(err.Error(), "snapshot_chunk_height") {
		t.Fatalf("chunk height %d: %v", MaxChunkHeight+1, err)
	}
	for _, h := range []int{0, MinChunkHeight, MaxChunkHeight} {
		if _, err := NewSnapshots(SnapshotConfig{Interval: 1, ChunkHeight: h}, st, filepath.Join(dir, "data"), log); err != nil {
			t.Fatalf("chunk height %d: %v", h, err)
		}
	}
}
