package tlog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/normledger/normledger/ledger/store/tlog/logproof"
)

// refRoot is RFC 6962's Merkle tree hash, computed the slow obvious way.
func refRoot(entries [][]byte) []byte {
	switch len(entries) {
	case 0:
		return logproof.Hasher.EmptyRoot()
	case 1:
		return logproof.Hasher.HashLeaf(entries[0])
	}
	k := 1
	for k*2 < len(entries) {
		k *= 2
	}
	return logproof.Hasher.HashChildren(refRoot(entries[:k]), refRoot(entries[k:]))
}

func entry(i int) []byte {
	return []byte(fmt.Sprintf("entry %d %s", i, bytes.Repeat([]byte{byte(i)}, i%50)))
}

// flushCommitted flushes l and marks all it holds committed.
func flushCommitted(tb testing.TB, l *Log) {
	tb.Helper()
	if err := l.Flush(); err != nil {
		tb.Fatal(err)
	}
	l.MarkCommitted(l.Size())
}

// appendCommitted appends entryOf(0) to entryOf(n-1) to l, flushed and
// committed after every every entries and at the end.
func appendCommitted(tb testing.TB, l *Log, n, every int, entryOf func(int) []byte) {
	tb.Helper()
	for i := 0; i < n; i++ {
		if _, err := l.Append(entryOf(i)); err != nil {
			tb.Fatal(err)
		}
		if i%every == every-1 {
			flushCommitted(tb, l)
		}
	}
	flushCommitted(tb, l)
}

// Appends in blocks of odd sizes, flushed and reopened, give RFC 6962's
// root; every inclusion and random consistency proof verifies; entries
// and tiles read back.
func TestLog(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var all [][]byte
	rng := rand.New(rand.NewPCG(1, 2))
	var sizes []uint64
	var roots [][]byte
	for len(all) < 70000 {
		n := 1 + rng.IntN(900)
		for i := 0; i < n; i++ {
			e := entry(len(all))
			idx, err := l.Append(e)
			if err != nil || idx != uint64(len(all)) {
				t.Fatalf("append %d: %d %v", len(all), idx, err)
			}
			all = append(all, e)
		}
		flushCommitted(t, l)
		sizes = append(sizes, l.Size())
		roots = append(roots, l.Root())
	}
	if !bytes.Equal(l.Root(), refRoot(all)) {
		t.Fatal("root differs from RFC 6962's")
	}
	size, root := l.Size(), l.Root()
	l2, err := Open(dir, size, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{0, 1, 255, 256, 257, 65535, 65536, size - 1} {
		got, err := l2.Entry(i)
		if err != nil || !bytes.Equal(got, all[i]) {
			t.Fatalf("entry %d: %v", i, err)
		}
		p, err := l2.InclusionProof(i, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := logproof.VerifyInclusion(i, size, all[i], p, root); err != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
		if err := logproof.VerifyInclusion(i, size, append([]byte("x"), all[i]...), p, root); err == nil {
			t.Fatal("inclusion of a changed entry verified")
		}
	}
	for k := 0; k < 300; k++ {
		a, b := rng.IntN(len(sizes)), rng.IntN(len(sizes))
		if a > b {
			a, b = b, a
		}
		p, err := l2.ConsistencyProof(sizes[a], sizes[b])
		if err != nil {
			t.Fatal(err)
		}
		if err := logproof.VerifyConsistency(sizes[a], sizes[b], p, roots[a], roots[b]); err != nil {
			t.Fatalf("consistency %d -> %d: %v", sizes[a], sizes[b], err)
		}
		if a != b {
			if r, _ := l2.RootAt(sizes[a]); !bytes.Equal(r, roots[a]) {
				t.Fatalf("root at %d", sizes[a])
			}
			bad := append([]byte(nil), roots[a]...)
			bad[0] ^= 1
			if err := logproof.VerifyConsistency(sizes[a], sizes[b], p, bad, roots[b]); err == nil {
				t.Fatal("consistency with a wrong old root verified")
			}
		}
	}
	// A full tile served is what the tree says.
	tile, err := l2.Tile(0, 3, 0)
	if err != nil || len(tile) != 32*TileWidth || !bytes.Equal(tile[:32], logproof.Hasher.HashLeaf(all[3*TileWidth])) {
		t.Fatalf("tile 0/3: %d bytes %v", len(tile), err)
	}
	if _, err := l2.Tile(0, size/TileWidth+1, 0); err == nil {
		t.Fatal("a tile beyond the log was served")
	}
}

// A crash after a flush but before the commit leaves entries beyond the
// committed size: Open drops them and the log continues identically. A
// missing or changed tile makes Open refuse.
func TestCrashConsistency(t *testing.T) {
	dir := t.TempDir()
	l, _ := Open(dir, 0, nil)
	var all [][]byte
	add := func(n int) {
		for i := 0; i < n; i++ {
			e := entry(len(all))
			l.Append(e)
			all = append(all, e)
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	add(1000)
	l.MarkCommitted(1000)
	size, root := l.Size(), l.Root()
	add(700) // flushed, never committed: crosses tiles and a bundle
	l, err := Open(dir, size, root)
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != size || !bytes.Equal(l.Root(), root) {
		t.Fatalf("reopened at %d", l.Size())
	}
	if _, err := os.Stat(filepath.Join(dir, BundlePath(4, 0))); err == nil {
		t.Fatal("a bundle beyond the committed size survived")
	}
	all = all[:size]
	add(333)
	if !bytes.Equal(l.Root(), refRoot(all)) {
		t.Fatal("after the crash the log diverged")
	}
	l.MarkCommitted(l.Size())
	size, root = l.Size(), l.Root()
	// Damage: a changed hash in a full tile, then a missing tile.
	p := filepath.Join(dir, TilePath(0, 1, 0))
	bz, _ := os.ReadFile(p)
	bad := append([]byte(nil), bz...)
	bad[100] ^= 1
	os.WriteFile(p, bad, 0o644)
	damaged := func(what string) {
		t.Helper()
		l, err := Open(dir, size, root)
		if err == nil {
			err = l.VerifyTiles()
		}
		if !errors.Is(err, ErrDamaged) {
			t.Fatalf("%s: %v", what, err)
		}
		// Without the full walk, reading through the tile is refused.
		if l, err := Open(dir, size, root); err == nil {
			if _, err := l.InclusionProof(300, size); !errors.Is(err, ErrDamaged) {
				t.Fatalf("%s: inclusion proof through it: %v", what, err)
			}
		}
	}
	damaged("changed tile")
	os.Remove(p)
	damaged("missing tile")
	os.WriteFile(p, bz, 0o644)
	// A changed entry: its bundle no longer matches the leaf hashes.
	bp := filepath.Join(dir, BundlePath(1, 0))
	bb, _ := os.ReadFile(bp)
	badb := append([]byte(nil), bb...)
	badb[10] ^= 1
	os.WriteFile(bp, badb, 0o644)
	if l, err := Open(dir, size, root); err != nil {
		t.Fatal(err)
	} else if _, err := l.Entry(256); !errors.Is(err, ErrDamaged) {
		t.Fatalf("changed entry read: %v", err)
	} else if err := l.VerifyAll(); !errors.Is(err, ErrDamaged) {
		t.Fatalf("changed entry, full walk: %v", err)
	} else if err := l.VerifyTiles(); err != nil {
		t.Fatalf("changed entry: the tiles are intact: %v", err)
	}
	os.Rename(bp, bp+".gone")
	if l, err := Open(dir, size, root); err != nil {
		t.Fatal(err)
	} else if err := l.VerifyTiles(); !errors.Is(err, ErrDamaged) {
		t.Fatalf("missing bundle: %v", err)
	}
	os.Rename(bp+".gone", bp)
	os.WriteFile(bp, bb, 0o644)
	l, err = Open(dir, size, root)
	if err != nil {
		t.Fatalf("repaired: %v", err)
	}
	if err := l.VerifyAll(); err != nil {
		t.Fatalf("repaired, full walk: %v", err)
	}
	// Superseded partial files are gone once a later flush is committed.
	add(5)
	l.MarkCommitted(l.Size())
	parts, _ := filepath.Glob(filepath.Join(dir, "tile", "0", "*.p", "*"))
	if len(parts) != 1 {
		t.Fatalf("level-0 partial tiles left: %v", parts)
	}
}

// logOf1M is an on-disk log of 2^20 entries (built once per benchmark run).
var logOf1M *Log

func millionLog(b *testing.B) *Log {
	if logOf1M != nil {
		return logOf1M
	}
	dir := b.TempDir()
	l, err := Open(dir, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	appendCommitted(b, l, 1<<20, 10000, func(i int) []byte { return []byte(fmt.Sprintf("entry %d", i)) })
	logOf1M = l
	return l
}

// BenchmarkLogProofs generates and verifies inclusion and consistency
// proofs in a log of 2^20 entries on disk (random indexes and sizes; tiles
// come from the tile cache or, on a miss, from disk and are checked against
// the tile above first).
func BenchmarkLogProofs(b *testing.B) {
	l := millionLog(b)
	size := l.Committed()
	root := l.Root()
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run("inclusion-generate", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.InclusionProof(rng.Uint64N(size), size); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("inclusion-verify", func(b *testing.B) {
		idx := rng.Uint64N(size)
		p, _ := l.InclusionProof(idx, size)
		e := []byte(fmt.Sprintf("entry %d", idx))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := logproof.VerifyInclusion(idx, size, e, p, root); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("consistency-generate", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.ConsistencyProof(1+rng.Uint64N(size-1), size); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("consistency-verify", func(b *testing.B) {
		first := 1 + rng.Uint64N(size-1)
		p, _ := l.ConsistencyProof(first, size)
		r1, _ := l.RootAt(first)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := logproof.VerifyConsistency(first, size, p, r1, root); err != nil {
				b.Fatal(err)
			}
		}
	})
}
