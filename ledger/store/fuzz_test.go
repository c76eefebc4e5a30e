package store

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// snapshotFixture is a small store's snapshot: manifest, chunks, app hash.
func snapshotFixture(f *testing.F) (*pb.SnapshotManifest, [][]byte, []byte) {
	src := openGenesis(f, f.TempDir(), Options{}, 3)
	f.Cleanup(func() { src.Close() })
	commitVersions(f, src, 4, 20, 5)
	m, chunks := exportChunks(f, src, 3)
	return m, chunks, src.Hash()
}

// A state-sync peer sends any bytes as a chunk. With the manifest's quick
// SHA-256 set to the bytes' own (so decoding and the structure checks run
// on them), a chunk is accepted only if it rebuilds exactly the subtree the
// manifest names; nothing panics.
func FuzzSnapshotChunk(f *testing.F) {
	m, chunks, _ := snapshotFixture(f)
	for i, c := range chunks {
		if i < len(m.Chunks) {
			f.Add(uint8(i), c)
		}
	}
	f.Fuzz(func(t *testing.T, i uint8, bz []byte) {
		idx := int(i) % len(m.Chunks)
		mm := proto.Clone(m).(*pb.SnapshotManifest)
		sum := sha256.Sum256(bz)
		mm.Chunks[idx].Sha256 = sum[:]
		nodes, err := VerifyChunk(mm, idx, bz)
		if err != nil {
			return
		}
		// Accepted: it must hold the real chunk's nodes.
		real := new(pb.SnapshotChunk)
		if err := proto.Unmarshal(chunks[idx], real); err != nil {
			t.Fatal(err)
		}
		if len(nodes) != len(real.Nodes) {
			t.Fatalf("chunk %d accepted with %d nodes, the real one has %d", idx, len(nodes), len(real.Nodes))
		}
		for j := range nodes {
			if !bytes.Equal(nodes[j].Key, real.Nodes[j].Key) || !bytes.Equal(nodes[j].Value, real.Nodes[j].Value) {
				t.Fatalf("chunk %d accepted with node %d changed", idx, j)
			}
		}
	})
}

// A manifest from a peer is accepted only for the app hash it hashes to.
func FuzzSnapshotManifest(f *testing.F) {
	m, _, appHash := snapshotFixture(f)
	bz, err := proto.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bz)
	f.Fuzz(func(t *testing.T, bz []byte) {
		mm := new(pb.SnapshotManifest)
		if err := proto.Unmarshal(bz, mm); err != nil {
			return
		}
		if VerifyManifest(mm, appHash) != nil {
			return
		}
		if mm.Height != m.Height || len(mm.Chunks) != len(m.Chunks) || !bytes.Equal(mm.AppHash, m.AppHash) {
			t.Fatalf("a different manifest verified: height %d, %d chunks", mm.Height, len(mm.Chunks))
		}
	})
}
