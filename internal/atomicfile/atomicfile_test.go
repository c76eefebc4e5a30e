package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	for _, content := range []string{"one", "two, longer"} {
		if err := WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read %q %v, want %q", got, err, content)
		}
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	if err := Write(filepath.Join(dir, "g"), 0o755, strings.NewReader("streamed")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "g")); string(got) != "streamed" {
		t.Fatalf("streamed: %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	// A write into a missing directory fails and leaves nothing.
	if err := WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}

func TestBatch(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		dir := t.TempDir()
		b := &Batch{NoSync: noSync}
		paths := []string{"tile/0/000", "tile/0/001", "tile/1/x001/002", "entries/000"}
		for _, p := range paths {
			if err := b.WriteFile(filepath.Join(dir, p), []byte(p), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if !noSync && len(b.dirs) < 5 { // the four directories and the parents of those created
			t.Fatalf("directories to sync: %v", b.dirs)
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		if len(b.dirs) != 0 {
			t.Fatalf("Sync left %v", b.dirs)
		}
		for _, p := range paths {
			if got, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(got) != p {
				t.Fatalf("%s: %q %v", p, got, err)
			}
		}
	}
}

func TestIsTemp(t *testing.T) {
	dir := t.TempDir()
	f, err := os.CreateTemp(dir, ".note.tmp*") // what replace creates for "note"
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !IsTemp(f.Name()) || !IsTemp("state.json.tmp") || IsTemp(filepath.Join(dir, "note")) || IsTemp("00000000000000000012.note") {
		t.Fatal("IsTemp misjudges")
	}
}

// As os.WriteFile: an existing file keeps its mode (never more open than
// perm), a new one gets perm
// less the umask, a symbolic link is followed and kept, and a path that is
// not a regular file is written in place.
func TestLikeOSWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("an existing 0600 file became %v", st.Mode().Perm())
	}
	// Never more open than asked: a key file someone opened up is closed again.
	key := filepath.Join(dir, "key.json")
	if err := os.WriteFile(key, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(key, 0o664); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(key, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(key); st.Mode().Perm() != 0o600 {
		t.Errorf("a 0664 file written with 0600 became %v", st.Mode().Perm())
	}
	link := filepath.Join(dir, "link.toml")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("through the link"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", st.Mode(), err)
	}
	if got, _ := os.ReadFile(p); string(got) != "through the link" {
		t.Errorf("the link's target holds %q", got)
	}
	if err := WriteFile("/dev/null", []byte("discarded"), 0o644); err != nil {
		t.Errorf("a device: %v", err)
	}
	if st, err := os.Stat("/dev/null"); err != nil || st.Mode().IsRegular() {
		t.Errorf("/dev/null is now %v %v", st.Mode(), err)
	}
}
