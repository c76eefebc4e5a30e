package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// commitVersions commits versions blocks of keys entries each: x/<v>/<i>
// holding 1+i*grow bytes of i.
func commitVersions(t testing.TB, s *Store, versions, keys, grow int) {
	t.Helper()
	for v := 0; v < versions; v++ {
		for i := 0; i < keys; i++ {
			if err := s.set([]byte(fmt.Sprintf("x/%02d/%03d", v, i)), bytes.Repeat([]byte{byte(i)}, 1+i*grow)); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := commit(s); err != nil {
			t.Fatal(err)
		}
	}
}

// exportChunks exports s's snapshot at its version in chunks of chunkHeight
// and returns the manifest and copies of the chunks.
func exportChunks(t testing.TB, s *Store, chunkHeight int) (*pb.SnapshotManifest, [][]byte) {
	t.Helper()
	var chunks [][]byte
	m, err := s.ExportSnapshot(s.Version(), chunkHeight, func(_ int, bz []byte) error {
		chunks = append(chunks, append([]byte(nil), bz...))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, chunks
}

// A snapshot exported in small chunks restores, chunk by chunk and
// checked against the app hash, into an identical state; a corrupted chunk
// or a manifest for another app hash is refused; a restore is installed
// only into an empty store.
func TestSnapshotRoundTrip(t *testing.T) {
	src := openGenesis(t, t.TempDir(), Options{}, 3)
	defer src.Close()
	commitVersions(t, src, 20, 30, 7)
	h := src.Version()
	var chunks [][]byte
	m, err := src.ExportSnapshot(h, 4, func(i int, bz []byte) error {
		if i != len(chunks) {
			t.Fatalf("chunk %d out of order", i)
		}
		chunks = append(chunks, append([]byte(nil), bz...))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 10 || len(m.Top) == 0 {
		t.Fatalf("%d chunks, %d top nodes: too few to test", len(chunks), len(m.Top))
	}
	if err := VerifyManifest(m, src.Hash()); err != nil {
		t.Fatal(err)
	}
	if err := VerifyManifest(m, bytes.Repeat([]byte{1}, 32)); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("manifest against another app hash: %v", err)
	}
	forged := proto.Clone(m).(*pb.SnapshotManifest)
	forged.Chunks[0].SubtreeHash = bytes.Repeat([]byte{2}, 32)
	if err := VerifyManifest(forged, src.Hash()); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("manifest with a forged chunk hash: %v", err)
	}

	dataDir := t.TempDir()
	dst, err := Open(dataDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	r, err := NewRestorer(filepath.Join(dataDir, "restore"), m)
	if err != nil {
		t.Fatal(err)
	}
	for i, bz := range chunks {
		bad := append([]byte(nil), bz...)
		bad[len(bad)/2] ^= 1
		if err := r.Apply(i, bad); !errors.Is(err, ErrSnapshot) {
			t.Fatalf("corrupted chunk %d: %v", i, err)
		}
		if i+1 < len(chunks) {
			if err := r.Apply(i+1, chunks[i+1]); err == nil {
				t.Fatalf("chunk %d accepted before chunk %d", i+1, i)
			}
		}
		if err := r.Apply(i, bz); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := dst.Install(filepath.Join(dataDir, "restore")); err != nil {
		t.Fatal(err)
	}
	if dst.Version() != h || !bytes.Equal(dst.Hash(), src.Hash()) || dst.RestoredFrom() != h {
		t.Fatalf("restored version %d hash %X (from %d), want %d %X", dst.Version(), dst.Hash(), dst.RestoredFrom(), h, src.Hash())
	}
	v, err := dst.At(0)
	if err != nil {
		t.Fatal(err)
	}
	if ms, err := v.Members(); err != nil || len(ms) != 5 {
		t.Fatalf("members after restore: %d %v", len(ms), err)
	}
	if bz, _ := v.Get([]byte("x/19/029")); len(bz) != 1+29*7 {
		t.Fatal("a restored value is wrong")
	}
	if cid, _ := v.Get([]byte(layout.KeyChainID)); string(cid) != "c" {
		t.Fatal("chain id lost")
	}
	// The restored store keeps committing.
	if err := dst.set([]byte("x/after"), []byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, ver, err := commit(dst); err != nil || ver != h+1 {
		t.Fatalf("commit after restore: %d %v", ver, err)
	}
	// Never over a store with state.
	r2, err := NewRestorer(filepath.Join(dataDir, "restore2"), m)
	if err != nil {
		t.Fatal(err)
	}
	for i, bz := range chunks {
		if err := r2.Apply(i, bz); err != nil {
			t.Fatal(err)
		}
	}
	if err := r2.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := dst.Install(filepath.Join(dataDir, "restore2")); err == nil {
		t.Fatal("a restore was installed over a store with state")
	}
	// And it survives a reopen as a state-synced store.
	dst.Close()
	again, err := Open(dataDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Version() != h+1 || again.RestoredFrom() != h {
		t.Fatalf("reopened at %d (restored from %d)", again.Version(), again.RestoredFrom())
	}
}

// The IAVL hash does not cover inner nodes' keys, which route lookups: a
// peer that changes one (in a chunk, or a top node of the manifest) while
// keeping every hash is refused, since the restored node would look up and
// insert keys elsewhere than every other node and diverge. (Found by
// FuzzSnapshotChunk.)
func TestSnapshotInnerKeysChecked(t *testing.T) {
	src := openGenesis(t, t.TempDir(), Options{}, 3)
	defer src.Close()
	for i := 0; i < 200; i++ {
		if err := src.set([]byte(fmt.Sprintf("x/%04d", i)), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := commit(src); err != nil {
		t.Fatal(err)
	}
	// Deletions too (they move inner keys), so the honest tree below went
	// through every kind of rebalancing.
	for i := 0; i < 200; i += 3 {
		if err := src.remove([]byte(fmt.Sprintf("x/%04d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := commit(src); err != nil {
		t.Fatal(err)
	}
	m, chunks := exportChunks(t, src, 4)
	if len(m.Top) == 0 {
		t.Fatal("no top nodes: too small to test")
	}
	// A chunk with an inner key changed: hashes still match.
	c := new(pb.SnapshotChunk)
	if err := proto.Unmarshal(chunks[0], c); err != nil {
		t.Fatal(err)
	}
	changed := false
	for _, n := range c.Nodes {
		if n.Height > 0 {
			n.Key = []byte("x/0000")
			changed = true
			break
		}
	}
	if !changed {
		t.Fatal("chunk 0 has no inner node")
	}
	bad, _ := proto.Marshal(c)
	forged := proto.Clone(m).(*pb.SnapshotManifest)
	sum := sha256.Sum256(bad)
	forged.Chunks[0].Sha256 = sum[:]
	if _, err := VerifyChunk(forged, 0, bad); !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "inner node's key") {
		t.Fatalf("changed inner key: %v", err)
	}
	// A top node with its key changed: the manifest still verifies (its
	// hashes do not cover keys); the restore refuses it when it gets there.
	forged = proto.Clone(m).(*pb.SnapshotManifest)
	forged.Top[len(forged.Top)-1].Key = []byte("x/9999")
	if err := VerifyManifest(forged, src.Hash()); err != nil {
		t.Fatal(err)
	}
	r, err := NewRestorer(filepath.Join(t.TempDir(), "restore"), forged)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Abort()
	var last error
	for i, bz := range chunks[:len(forged.Chunks)] {
		if last = r.Apply(i, bz); last != nil {
			break
		}
	}
	if !errors.Is(last, ErrSnapshot) || !strings.Contains(last.Error(), "top node") {
		t.Fatalf("changed top key: %v", last)
	}
	// The honest snapshot restores (its inner keys are its right subtrees'
	// smallest keys, after inserts, deletes and rotations).
	honest, err := NewRestorer(filepath.Join(t.TempDir(), "honest"), m)
	if err != nil {
		t.Fatal(err)
	}
	for i, bz := range chunks {
		if err := honest.Apply(i, bz); err != nil {
			t.Fatalf("honest chunk %d: %v", i, err)
		}
	}
	if err := honest.Finish(); err != nil {
		t.Fatal(err)
	}
}
