package tlog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/normledger/normledger/internal/atomicfile"
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
	// sync makes the writes since the last sync durable (if the storage
	// does that).
	sync() error
}

// dirStorage keeps the files under dir. Its writes go through one
// atomicfile.Batch: with fsync on, each file is fsynced before its rename
// and sync fsyncs every directory written to (and the parents of those
// created) once; with it off, nothing is fsynced.
type dirStorage struct {
	dir   string
	batch *atomicfile.Batch
}

func newDirStorage(dir string) *dirStorage {
	return &dirStorage{dir: dir, batch: &atomicfile.Batch{NoSync: true}}
}

// setSync switches fsync on or off; Flush and SetSync come from the same
// goroutine, so no write is under way.
func (d *dirStorage) setSync(on bool) { d.batch.NoSync = !on }

func (d *dirStorage) abs(p string) string { return filepath.Join(d.dir, filepath.FromSlash(p)) }

func (d *dirStorage) read(p string) ([]byte, error) { return os.ReadFile(d.abs(p)) }

func (d *dirStorage) write(p string, data []byte) error {
	return d.batch.WriteFile(d.abs(p), data, 0o644)
}

func (d *dirStorage) sync() error { return d.batch.Sync() }

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

func (s *memStorage) sync() error { return nil }
