// Package atomicfile replaces files atomically and durably: a crash leaves
// either the old content or the new, never a mix, and a write that
// returned survives a power loss. Every site in normledger that replaces a
// file goes through it (the temporary file is fsynced, renamed over the
// target, and the directory fsynced), as Tessera's POSIX storage and
// google/renameio do.
//
// It imports only the standard library, so the record log (which stands
// alone) can use it.
package atomicfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// WriteFile replaces path with data, durably.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, bytes.NewReader(data))
}

// Write replaces path with what r holds, durably.
func Write(path string, perm os.FileMode, r io.Reader) error {
	if err := replace(path, perm, r, true); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// replace writes r to a temporary file beside path (fsynced when sync),
// then renames it over path.
func replace(path string, perm os.FileMode, r io.Reader, sync bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	renamed = true
	return nil
}

// SyncDir fsyncs a directory, making the names created, renamed or
// removed in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// IsTemp reports whether name is a temporary file this package left
// behind (a crash between creating and renaming it), which a reader of the
// directory should ignore and may remove.
func IsTemp(name string) bool {
	base := filepath.Base(name)
	return len(base) > 0 && base[0] == '.' && bytes.Contains([]byte(base), []byte(".tmp"))
}

// Batch replaces many files and makes them durable together: each file is
// written and renamed as by WriteFile, and Sync fsyncs every directory
// touched once, instead of once per file. Until Sync returns, a crash may
// leave any of the files old or new (each one whole). With NoSync nothing
// is fsynced (for stores whose durability comes from elsewhere, and for
// tests). A Batch is safe for concurrent use.
type Batch struct {
	NoSync bool

	mu   sync.Mutex
	dirs map[string]bool // guarded by mu
}

// WriteFile replaces path with data, creating its directory if needed
// (the parents of directories it creates are synced too).
func (b *Batch) WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	touched := []string{dir}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		touched = append(touched, filepath.Dir(d))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := replace(path, perm, bytes.NewReader(data), !b.NoSync); err != nil {
		return err
	}
	b.mu.Lock()
	if b.dirs == nil {
		b.dirs = map[string]bool{}
	}
	for _, d := range touched {
		b.dirs[d] = true
	}
	b.mu.Unlock()
	return nil
}

// Sync fsyncs every directory written to since the last Sync.
func (b *Batch) Sync() error {
	b.mu.Lock()
	dirs := b.dirs
	b.dirs = nil
	b.mu.Unlock()
	if b.NoSync {
		return nil
	}
	for d := range dirs {
		if err := SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}
