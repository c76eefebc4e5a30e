package tlog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// storage holds the log's files by their C2SP path (slash-separated,
// relative to the log's root: "tile/0/000", "tile/entries/x001/234.p/7").
type storage interface {
	read(path string) ([]byte, error)
	// write replaces path atomically: a reader or a crash sees the old
	// file or the new one, never a part.
	write(path string, data []byte) error
	remove(path string) error
	exists(path string) bool
	list() ([]string, error)
	// sync makes the given writes durable (if the storage does that).
	sync(paths []string) error
}

// dirStorage keeps the files under dir.
type dirStorage struct {
	dir   string
	fsync bool
}

func (d *dirStorage) abs(p string) string { return filepath.Join(d.dir, filepath.FromSlash(p)) }

func (d *dirStorage) read(p string) ([]byte, error) { return os.ReadFile(d.abs(p)) }

func (d *dirStorage) write(p string, data []byte) error {
	path := d.abs(p)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if d.fsync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (d *dirStorage) exists(p string) bool {
	_, err := os.Stat(d.abs(p))
	return err == nil
}

func (d *dirStorage) remove(p string) error {
	err := os.Remove(d.abs(p))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func (d *dirStorage) list() ([]string, error) {
	var out []string
	err := filepath.WalkDir(filepath.Join(d.dir, "tile"), func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(d.dir, path)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	return out, err
}

func (d *dirStorage) sync(paths []string) error {
	if !d.fsync {
		return nil
	}
	dirs := map[string]bool{}
	for _, p := range paths {
		dirs[filepath.Dir(d.abs(p))] = true
	}
	for dir := range dirs {
		f, err := os.Open(dir)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// memStorage keeps the files in memory.
type memStorage struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func (s *memStorage) read(p string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	bz, ok := s.m[p]
	if !ok {
		return nil, os.ErrNotExist
	}
	return bz, nil
}

func (s *memStorage) write(p string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[p] = append([]byte(nil), data...)
	return nil
}

func (s *memStorage) exists(p string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.m[p]
	return ok
}

func (s *memStorage) remove(p string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, p)
	return nil
}

func (s *memStorage) list() ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.m))
	for p := range s.m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

func (s *memStorage) sync([]string) error { return nil }
