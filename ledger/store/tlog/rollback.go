package tlog

import (
	"bytes"
	"fmt"
	"os"
)

// Cut prepares the log in dir, committed at size with root, to be opened
// at its first `to` entries: the state that commits to the log goes back
// to an older version (a rollback). Open at `to` drops every file that
// describes more than `to` entries; but it also needs the right edge of
// the smaller tree (the partial tiles and entry bundle of `to`), and those
// files were superseded and removed when the log grew past `to`. Cut
// writes them again from the committed log (each read verified up to
// root, each written atomically and durably), checks that the log opens at
// `to` from the files it will keep, and returns the root of the first `to`
// entries.
//
// Cut removes nothing: until the state goes back and Open at `to` drops
// the newer files, the log still opens at size (the files Cut added
// describe fewer entries, which Open keeps), so a crash before the state's
// rollback loses nothing.
func Cut(dir string, size uint64, root []byte, to uint64) ([]byte, error) {
	if to > size {
		return nil, fmt.Errorf("cut the log of %d entries to %d: it would grow", size, to)
	}
	fs := newDirStorage(dir)
	l, err := open(fs, size, root)
	if err != nil {
		return nil, err
	}
	toRoot, err := l.RootAt(to)
	if err != nil {
		return nil, damaged(err)
	}
	if to == size {
		return toRoot, nil
	}
	type file struct {
		path string
		data []byte
	}
	var files []file
	// The right edge of the tree of `to` leaves, as open reads it.
	l.mu.RLock()
	for level := uint64(0); ; level++ {
		n := to >> (TileHeight * level)
		if n == 0 && level > 0 {
			break
		}
		if w := int(n % TileWidth); w > 0 {
			bz, err := l.readTile(level, n/TileWidth, w)
			if err != nil {
				l.mu.RUnlock()
				return nil, damaged(err)
			}
			files = append(files, file{TilePath(level, n/TileWidth, w), bytes.Clone(bz)})
		}
		if n < TileWidth {
			break
		}
	}
	l.mu.RUnlock()
	if w := int(to % TileWidth); w > 0 {
		entries := make([][]byte, 0, w)
		for i := to - uint64(w); i < to; i++ {
			e, err := l.Entry(i) // checked against its leaf
			if err != nil {
				return nil, damaged(err)
			}
			entries = append(entries, e)
		}
		files = append(files, file{BundlePath(to/TileWidth, w), joinBundle(entries)})
	}
	fs.setSync(true)
	for _, f := range files {
		if err := fs.write(f.path, f.data); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	if err := fs.sync(); err != nil {
		return nil, fmt.Errorf("sync the record log: %w", err)
	}
	// The log as Open at `to` will find it, without removing anything yet.
	cut, err := open(&cutStorage{fs, to}, to, toRoot)
	if err == nil {
		err = cut.VerifyTiles()
	}
	if err != nil {
		return nil, fmt.Errorf("the log cut to %d entries does not open: %w", to, err)
	}
	return toRoot, nil
}

// cutStorage shows a log's files as Open at size leaves them: the files
// that describe more than size entries are hidden, and nothing is removed.
type cutStorage struct {
	storage
	size uint64
}

// beyond reports whether the file at p describes more than size leaves
// (as truncate decides).
func beyond(p string, size uint64) bool {
	level, index, w, bundle, ok := parsePath(p)
	if !ok {
		return false
	}
	have := size >> (TileHeight * level)
	if bundle {
		have = size
	}
	return index*TileWidth+uint64(widthOr(w)) > have
}

func (c *cutStorage) read(p string) ([]byte, error) {
	if beyond(p, c.size) {
		return nil, fmt.Errorf("%s: %w", p, os.ErrNotExist)
	}
	return c.storage.read(p)
}

func (c *cutStorage) exists(p string) bool { return !beyond(p, c.size) && c.storage.exists(p) }

func (c *cutStorage) list() ([]string, error) {
	all, err := c.storage.list()
	var out []string
	for _, p := range all {
		if !beyond(p, c.size) {
			out = append(out, p)
		}
	}
	return out, err
}

func (c *cutStorage) write(p string, _ []byte) error {
	return fmt.Errorf("write %s: the cut log is read-only", p)
}
func (c *cutStorage) remove(string) error { return nil }
func (c *cutStorage) sync() error         { return nil }
