package tlog

import (
	"strconv"
	"strings"
)

// C2SP tlog-tiles paths. They are written here rather than taken from
// Tessera's api/layout: that package imports only the standard library,
// but requiring its module raises other modules of normledger (x/time,
// badger, ...) to Tessera's versions. paths_test.go holds paths Tessera
// v1.0.4 produced, to keep the two spellings the same.

// TilePath is the C2SP path of tile (level, index), partial of width w (0: full).
func TilePath(level, index uint64, w int) string {
	p := "tile/" + strconv.FormatUint(level, 10) + "/" + encodeIndex(index)
	if w > 0 && w < TileWidth {
		p += ".p/" + strconv.Itoa(w)
	}
	return p
}

// BundlePath is the C2SP path of entry bundle index, partial of width w (0: full).
func BundlePath(index uint64, w int) string {
	p := "tile/entries/" + encodeIndex(index)
	if w > 0 && w < TileWidth {
		p += ".p/" + strconv.Itoa(w)
	}
	return p
}

// encodeIndex writes N in 3-digit groups, each but the last prefixed "x":
// 1234067 -> x001/x234/067.
func encodeIndex(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for len(s)%3 != 0 {
		s = "0" + s
	}
	var parts []string
	for i := 0; i < len(s); i += 3 {
		parts = append(parts, s[i:i+3])
	}
	for i := 0; i < len(parts)-1; i++ {
		parts[i] = "x" + parts[i]
	}
	return strings.Join(parts, "/")
}

// widthOr is a file's width: w, or TileWidth for a full one (w = 0).
func widthOr(w int) int {
	if w == 0 {
		return TileWidth
	}
	return w
}

// parsePath reads a C2SP tile or bundle path.
func parsePath(p string) (level, index uint64, w int, bundle, ok bool) {
	parts := strings.Split(strings.TrimPrefix(p, "tile/"), "/")
	if len(parts) < 2 {
		return 0, 0, 0, false, false
	}
	if parts[0] == "entries" {
		bundle = true
	} else {
		lv, err := strconv.ParseUint(parts[0], 10, 8)
		if err != nil {
			return 0, 0, 0, false, false
		}
		level = lv
	}
	rest := parts[1:]
	if n := len(rest); n >= 2 && strings.HasSuffix(rest[n-2], ".p") {
		wv, err := strconv.Atoi(rest[n-1])
		if err != nil || wv <= 0 || wv >= TileWidth {
			return 0, 0, 0, false, false
		}
		w = wv
		rest[n-2] = strings.TrimSuffix(rest[n-2], ".p")
		rest = rest[:n-1]
	}
	var digits string
	for i, r := range rest {
		if i < len(rest)-1 {
			if !strings.HasPrefix(r, "x") {
				return 0, 0, 0, false, false
			}
			r = r[1:]
		}
		if len(r) != 3 {
			return 0, 0, 0, false, false
		}
		digits += r
	}
	idx, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, 0, 0, false, false
	}
	return level, idx, w, bundle, true
}

// ParseTilePath reads the C2SP path of a tile or entry bundle (for serving).
func ParseTilePath(p string) (level, index uint64, w int, bundle, ok bool) {
	level, index, w, bundle, ok = parsePath(p)
	if !ok {
		return
	}
	// Only canonical spellings.
	if bundle && BundlePath(index, w) != p || !bundle && TilePath(level, index, w) != p {
		return 0, 0, 0, false, false
	}
	return level, index, w, bundle, true
}
