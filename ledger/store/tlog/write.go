package tlog

import (
	"bytes"
	"fmt"

	"github.com/normledger/normledger/ledger/store/tlog/logproof"
	"github.com/transparency-dev/merkle/compact"
)

// Append adds an entry (in memory until Flush) and returns its index.
func (l *Log) Append(entry []byte) (uint64, error) {
	if len(entry) > MaxEntrySize {
		return 0, fmt.Errorf("entry of %d bytes exceeds %d", len(entry), MaxEntrySize)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	idx := l.rng.End()
	var verr error
	err := l.rng.Append(logproof.Hasher.HashLeaf(entry), func(id compact.NodeID, h []byte) {
		if id.Level%TileHeight != 0 {
			return
		}
		level := uint64(id.Level / TileHeight)
		k := tileKey{level, id.Index / TileWidth}
		row := l.edge[k]
		if uint64(len(row)) != id.Index%TileWidth {
			verr = fmt.Errorf("tile %d/%d: node %d out of order", k.level, k.index, id.Index)
			return
		}
		l.edge[k] = append(row, h)
		l.touched[k] = true
	})
	if err == nil {
		err = verr
	}
	if err != nil {
		return 0, err
	}
	l.bundle = append(l.bundle, append([]byte(nil), entry...))
	l.bundleDirty = true
	if len(l.bundle) == TileWidth {
		l.fullBundles[idx/TileWidth] = l.bundle
		l.bundle = nil
	}
	return idx, nil
}

// Rollback drops appends since the last flush (a block that will not be
// committed, in tests); the log returns to its committed state.
func (l *Log) Rollback() error {
	fresh, err := open(l.fs, l.committed, l.committedRoot())
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rng, l.edge, l.touched, l.bundle, l.fullBundles, l.bundleDirty = fresh.rng, fresh.edge, fresh.touched, fresh.bundle, fresh.fullBundles, false
	l.flushed, l.flushedBundle, l.superseded = fresh.flushed, fresh.flushedBundle, nil
	l.caches = fresh.caches
	return nil
}

func (l *Log) committedRoot() []byte {
	r, err := l.RootAt(l.committed)
	if err != nil {
		return nil
	}
	return r
}

// Flush writes every tile and bundle touched since the last flush: full ones
// under their full path, the right edge as partial files. When it returns
// (with SetSync on) they are all durable: the state commits the log size
// right after.
func (l *Log) Flush() error {
	l.mu.Lock()
	type file struct {
		path string
		data []byte
	}
	var files []file
	end := l.rng.End()
	for k := range l.touched {
		row := l.edge[k]
		data := bytes.Join(row, nil)
		files = append(files, file{TilePath(k.level, k.index, len(row)), data})
		if old := l.flushed[k]; old > 0 {
			l.superseded = append(l.superseded, supersededFile{TilePath(k.level, k.index, old), end})
		}
		l.flushed[k] = len(row)
		if len(row) == TileWidth {
			delete(l.edge, k)
			delete(l.flushed, k)
		}
	}
	l.touched = map[tileKey]bool{}
	for idx, entries := range l.fullBundles {
		files = append(files, file{BundlePath(idx, 0), joinBundle(entries)})
		if idx == l.flushedBundle.index && l.flushedBundle.width > 0 {
			l.superseded = append(l.superseded, supersededFile{BundlePath(idx, l.flushedBundle.width), end})
			l.flushedBundle.width = 0
		}
	}
	l.fullBundles = map[uint64][][]byte{}
	if l.bundleDirty && len(l.bundle) > 0 {
		idx := end / TileWidth
		files = append(files, file{BundlePath(idx, len(l.bundle)), joinBundle(l.bundle)})
		if idx == l.flushedBundle.index && l.flushedBundle.width > 0 && l.flushedBundle.width != len(l.bundle) {
			l.superseded = append(l.superseded, supersededFile{BundlePath(idx, l.flushedBundle.width), end})
		}
		l.flushedBundle = flushedBundle{idx, len(l.bundle)}
	}
	l.bundleDirty = false
	l.mu.Unlock()
	for i, f := range files {
		if i == len(files)/2 && len(files) > 1 && l.midFlush != nil {
			l.midFlush()
		}
		if err := l.fs.write(f.path, f.data); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	if err := l.fs.sync(); err != nil {
		return fmt.Errorf("sync the record log: %w", err)
	}
	return nil
}

// MarkCommitted says the first size entries are committed (in IAVL): reads
// may use them, and partial files they superseded are removed.
func (l *Log) MarkCommitted(size uint64) {
	l.mu.Lock()
	l.committed = size
	var gone []string
	keep := l.superseded[:0]
	for _, f := range l.superseded {
		if f.size <= size {
			gone = append(gone, f.path)
		} else {
			keep = append(keep, f)
		}
	}
	l.superseded = keep
	l.mu.Unlock()
	// A reader never needs them: the right edge is in memory and wider
	// files hold every narrower tile. A crash leaves them behind, harmless.
	for _, p := range gone {
		_ = l.fs.remove(p)
	}
}
