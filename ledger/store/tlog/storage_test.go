package tlog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/normledger/normledger/internal/atomicfile"
)

// A crash mid-write leaves temporary files: atomicfile's ".<name>.tmp*"
// and, in logs written before it was used, "<name>.tmp". Open removes
// both kinds and reopens the log.
func TestOpenRemovesTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var all [][]byte
	for i := 0; i < 1300; i++ {
		e := entry(i)
		if _, err := l.Append(e); err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	flushCommitted(t, l)
	size, root := l.Size(), l.Root()
	temps := []string{
		TilePath(0, 5, 20) + ".tmp",        // the old write's name
		BundlePath(4, 0) + ".tmp",          // beside a full bundle
		"tile/0/005.p/.20.tmp123456",       // atomicfile's, for a partial tile
		"tile/0/.004.tmp55",                // atomicfile's, for a full tile
		"tile/entries/005.p/.20.tmp987654", // atomicfile's, for a partial bundle
	}
	for _, p := range temps {
		abs := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(abs, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err = Open(dir, size, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range temps {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
			t.Errorf("%s survived Open", p)
		}
	}
	if err := l.VerifyAll(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.Root(), refRoot(all)) {
		t.Fatal("root differs")
	}
}

// With fsync on and off, a flush leaves no temporary file and the log
// reopens to the same root.
func TestFlushSync(t *testing.T) {
	for _, on := range []bool{false, true} {
		dir := t.TempDir()
		l, err := Open(dir, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		l.SetSync(on)
		appendCommitted(t, l, 2100, 300, entry)
		err = filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
			if err == nil && (atomicfile.IsTemp(p) || strings.Contains(filepath.Base(p), ".tmp")) {
				t.Errorf("sync=%v: %s left behind", on, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, l.Size(), l.Root()); err != nil {
			t.Fatalf("sync=%v: reopen: %v", on, err)
		}
	}
}
