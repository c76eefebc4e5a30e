package tlog

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// files lists the log's files under dir with a digest of their content.
func files(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		bz, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, fmt.Sprintf("%s %d %x", filepath.ToSlash(rel), len(bz), refRoot([][]byte{bz})[:8]))
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// grow appends the entries from l's size up to each of sizes, one
// flushed and committed block per size.
func grow(t *testing.T, l *Log, sizes ...uint64) {
	t.Helper()
	for _, s := range sizes {
		for i := l.Size(); i < s; i++ {
			if _, err := l.Append(entry(int(i))); err != nil {
				t.Fatal(err)
			}
		}
		flushCommitted(t, l)
	}
}

// A log cut back to an earlier committed size opens there with the root
// and the very files of a log that only ever grew to it, still opens at
// its old size until then, and grows again to the same files and root:
// within one tile, across a full tile and bundle, at a tile boundary, and
// across a full level-1 tile.
func TestCut(t *testing.T) {
	cases := []struct{ to, size uint64 }{{5, 10}, {250, 270}, {256, 300}, {255, 256}, {512, 513}, {300, 300}, {0, 7}, {65530, 65600}, {65536, 65800}}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d-%d", c.to, c.size), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(c.to, c.size))
			// The history up to `to` in blocks of random sizes, then `size`.
			var sizes []uint64
			for s := uint64(0); s < c.to; {
				s = min(c.to, s+1+uint64(rng.IntN(int(min(c.to, 3000)))))
				sizes = append(sizes, s)
			}
			ref, long := t.TempDir(), t.TempDir()
			rl, err := Open(ref, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			grow(t, rl, sizes...)
			l, err := Open(long, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			grow(t, l, sizes...)
			grow(t, l, c.size)
			root := l.Root()
			atSize := files(t, long)

			toRoot, err := Cut(long, c.size, root, c.to)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(toRoot, rl.Root()) {
				t.Fatalf("Cut returned root %x, the log of %d has %x", toRoot, c.to, rl.Root())
			}
			// Not yet rolled back: it still opens at its size.
			if _, err := Open(long, c.size, root); err != nil {
				t.Fatalf("the cut log no longer opens at %d: %v", c.size, err)
			}
			cut, err := Open(long, c.to, toRoot)
			if err != nil {
				t.Fatal(err)
			}
			if err := cut.VerifyAll(); err != nil {
				t.Fatal(err)
			}
			if got, want := files(t, long), files(t, ref); got != want {
				t.Fatalf("files after the cut:\n%s\nwant (a log that grew to %d):\n%s", got, c.to, want)
			}
			grow(t, cut, c.size)
			if !bytes.Equal(cut.Root(), root) {
				t.Fatal("grown again, the log has another root")
			}
			if got := files(t, long); got != atSize {
				t.Fatalf("files grown again:\n%s\nwant:\n%s", got, atSize)
			}
		})
	}
	// Not beyond the log, nor from a size or root it was not committed at.
	dir := t.TempDir()
	l, _ := Open(dir, 0, nil)
	grow(t, l, 10)
	if _, err := Cut(dir, 10, l.Root(), 11); err == nil {
		t.Fatal("cut to a larger size")
	}
	if _, err := Cut(dir, 10, bytes.Repeat([]byte{1}, 32), 5); err == nil {
		t.Fatal("cut of a log with another root")
	}
}
