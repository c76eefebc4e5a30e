package tlog

import "fmt"

// VerifyTiles checks every committed tile against the tile above it (and
// so, with the root check in Open, against the committed root) and that
// every committed entry bundle is there: about a second per ten million
// entries. Open does it every time.
func (l *Log) VerifyTiles() error { return l.verify(false) }

// VerifyAll is VerifyTiles that also checks every committed entry against
// its leaf hash: it reads the whole log (a few seconds per million 1 KiB
// entries).
func (l *Log) VerifyAll() error { return l.verify(true) }

func (l *Log) verify(entries bool) error {
	if l.unchecked {
		return nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	size := l.committed
	for level := uint64(0); ; level++ {
		n := size >> (TileHeight * level)
		if n < TileWidth {
			break
		}
		for i := uint64(0); i < n/TileWidth; i++ {
			bz, err := l.fs.read(TilePath(level, i, 0))
			if err != nil {
				return fmt.Errorf("%w: tile %d/%d is missing", ErrDamaged, level, i)
			}
			if _, err := l.checkTile(level, i, bz); err != nil {
				return err
			}
		}
	}
	if !entries {
		for b := uint64(0); b < size/TileWidth; b++ {
			if !l.fs.exists(BundlePath(b, 0)) {
				return fmt.Errorf("%w: entry bundle %d is missing", ErrDamaged, b)
			}
		}
		return nil
	}
	for b := uint64(0); b < size/TileWidth; b++ {
		bz, err := l.fs.read(BundlePath(b, 0))
		if err != nil {
			return fmt.Errorf("%w: entry bundle %d is missing", ErrDamaged, b)
		}
		entries, err := splitBundle(bz)
		if err != nil || len(entries) != TileWidth {
			return fmt.Errorf("%w: entry bundle %d does not hold %d entries", ErrDamaged, b, TileWidth)
		}
		if err := l.checkEntries(b, entries); err != nil {
			return err
		}
	}
	return nil
}
