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
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// WriteFile replaces path with data, durably. Like os.WriteFile, a new
// file gets perm (less the umask); an existing one keeps its mode, but
// never more open than perm (a key written 0600 that someone opened up is
// closed again); a
// symbolic link is followed (its target is replaced, the link kept); a
// path that is not a regular file (a device such as /dev/stdout, a pipe)
// is written in place, there being nothing to rename over.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, bytes.NewReader(data))
}

// Write replaces path with what r holds, durably, as WriteFile.
func Write(path string, perm os.FileMode, r io.Reader) error {
	dir, err := replace(path, perm, r, true, true)
	if err != nil || dir == "" {
		return err
	}
	return SyncDir(dir)
}

// Replace replaces path with data atomically but not durably: a crash
// leaves the old content or the new, never a mix, but nothing is fsynced,
// so after a power loss either may be there. It is for a file that must
// not become durable before the state it describes, when that state is
// itself written without fsync (the store's commit marker).
func Replace(path string, data []byte, perm os.FileMode) error {
	_, err := replace(path, perm, bytes.NewReader(data), false, true)
	return err
}

// replace writes r to a temporary file beside path's target (fsynced when
// sync; a symbolic link followed when follow), then renames it over the
// target. It returns the directory whose
// entry changed ("" when it wrote in place).
func replace(path string, perm os.FileMode, r io.Reader, sync, follow bool) (string, error) {
	dst := path
	if follow {
		if p, err := filepath.EvalSymlinks(path); err == nil {
			dst = p
		}
	}
	st, statErr := os.Stat(dst)
	if statErr == nil && !st.Mode().IsRegular() {
		return "", writeInPlace(dst, r, false)
	}
	f, err := createTemp(dst, perm)
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
	}()
	if statErr == nil {
		if err := f.Chmod(st.Mode().Perm() & perm); err != nil {
			f.Close()
			return "", err
		}
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return "", err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return "", err
		}
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		// A file bind-mounted on its own (a container's config.toml)
		// cannot be renamed over: write it in place, not atomically.
		if errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV) {
			t, oerr := os.Open(tmp)
			if oerr != nil {
				return "", oerr
			}
			defer t.Close()
			return "", writeInPlace(dst, t, sync)
		}
		return "", err
	}
	renamed = true
	return filepath.Dir(dst), nil
}

// createTemp creates a new temporary file beside dst with perm (less the
// umask, as os.WriteFile's new files).
func createTemp(dst string, perm os.FileMode) (*os.File, error) {
	for range 100 {
		name := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("%s: no free temporary name", dst)
}

// writeInPlace writes r to an existing path that cannot be renamed over
// (fsynced when sync: a regular file bind-mounted on its own).
func writeInPlace(path string, r io.Reader, sync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
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
	return f.Close()
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

// IsTemp reports whether name is a temporary file a crashed write left
// behind, which a reader of the directory should ignore and may remove:
// this package's ".<name>.tmp<random>", or "<name>.tmp", the name
// normledger's writers used before it.
func IsTemp(name string) bool {
	base := filepath.Base(name)
	return strings.HasSuffix(base, ".tmp") || (strings.HasPrefix(base, ".") && strings.Contains(base, ".tmp"))
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
	// A store's own files: no links to follow.
	_, err := replace(path, perm, bytes.NewReader(data), !b.NoSync, false)
	dir := filepath.Dir(path)
	var created []string // directories whose entries MkdirAll changes
	if errors.Is(err, fs.ErrNotExist) {
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
				break
			}
			created = append(created, filepath.Dir(d))
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		_, err = replace(path, perm, bytes.NewReader(data), !b.NoSync, false)
	}
	if err != nil || b.NoSync {
		return err
	}
	b.mu.Lock()
	if b.dirs == nil {
		b.dirs = map[string]bool{}
	}
	b.dirs[dir] = true
	for _, d := range created {
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
