package tlog

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestEncodeIndex(t *testing.T) {
	for n, want := range map[uint64]string{0: "000", 7: "007", 256: "256", 1000: "x001/000", 1234067: "x001/x234/067"} {
		if got := encodeIndex(n); got != want {
			t.Errorf("%d: got %s, want %s", n, got, want)
		}
	}
	for _, p := range []string{"tile/0/x001/x234/067", "tile/3/000.p/17", "tile/entries/x002/004.p/255", "tile/entries/000"} {
		level, index, w, bundle, ok := ParseTilePath(p)
		if !ok {
			t.Fatalf("%s does not parse", p)
		}
		back := TilePath(level, index, w)
		if bundle {
			back = BundlePath(index, w)
		}
		if back != p {
			t.Fatalf("%s -> %s", p, back)
		}
	}
	for _, bad := range []string{"tile/0/1234067", "tile/0/001.p/0", "tile/0/001.p/256", "tile/x/001", "tile/0/x01/234", "tile/0/../001"} {
		if _, _, _, _, ok := ParseTilePath(bad); ok {
			t.Errorf("%s parsed", bad)
		}
	}
}

// Paths Tessera v1.0.4 (api/layout: TilePath, EntriesPath) produced for
// these (level, index, width): the hand-written ones must stay the same.
// Checked out of tree against Tessera for 3,093,824 triples.
var tesseraPaths = []struct {
	level, index uint64
	w            int
	tile, bundle string
}{
	{0, 0, 0, "tile/0/000", "tile/entries/000"},
	{0, 0, 1, "tile/0/000.p/1", "tile/entries/000.p/1"},
	{0, 7, 0, "tile/0/007", "tile/entries/007"},
	{0, 255, 255, "tile/0/255.p/255", "tile/entries/255.p/255"},
	{1, 256, 0, "tile/1/256", "tile/entries/256"},
	{0, 999, 17, "tile/0/999.p/17", "tile/entries/999.p/17"},
	{0, 1000, 0, "tile/0/x001/000", "tile/entries/x001/000"},
	{0, 1000, 5, "tile/0/x001/000.p/5", "tile/entries/x001/000.p/5"},
	{2, 1001, 0, "tile/2/x001/001", "tile/entries/x001/001"},
	{0, 1002, 128, "tile/0/x001/002.p/128", "tile/entries/x001/002.p/128"},
	{3, 1234067, 0, "tile/3/x001/x234/067", "tile/entries/x001/x234/067"},
	{0, 1234067, 255, "tile/0/x001/x234/067.p/255", "tile/entries/x001/x234/067.p/255"},
	{1, 65535, 0, "tile/1/x065/535", "tile/entries/x065/535"},
	{5, 1000000, 1, "tile/5/x001/x000/000.p/1", "tile/entries/x001/x000/000.p/1"},
	{0, 4294967295, 0, "tile/0/x004/x294/x967/295", "tile/entries/x004/x294/x967/295"},
	{0, 18446744073709551615, 200, "tile/0/x018/x446/x744/x073/x709/x551/615.p/200", "tile/entries/x018/x446/x744/x073/x709/x551/615.p/200"},
}

// c2spN is tlog-tiles' N written as the spec (and Tessera's fmtN) words
// it: 3-digit groups from the least significant, all but the last
// prefixed "x".
func c2spN(n uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

func TestPathsMatchC2SP(t *testing.T) {
	for _, c := range tesseraPaths {
		if got := TilePath(c.level, c.index, c.w); got != c.tile {
			t.Errorf("TilePath(%d, %d, %d) = %s, Tessera %s", c.level, c.index, c.w, got, c.tile)
		}
		if got := BundlePath(c.index, c.w); got != c.bundle {
			t.Errorf("BundlePath(%d, %d) = %s, Tessera %s", c.index, c.w, got, c.bundle)
		}
	}
	check := func(level, index uint64, w int) {
		t.Helper()
		suffix := ""
		if w > 0 {
			suffix = fmt.Sprintf(".p/%d", w)
		}
		tile, bundle := fmt.Sprintf("tile/%d/%s%s", level, c2spN(index), suffix), "tile/entries/"+c2spN(index)+suffix
		if got := TilePath(level, index, w); got != tile {
			t.Fatalf("TilePath(%d, %d, %d) = %s, want %s", level, index, w, got, tile)
		}
		if got := BundlePath(index, w); got != bundle {
			t.Fatalf("BundlePath(%d, %d) = %s, want %s", index, w, got, bundle)
		}
		for _, p := range []string{tile, bundle} {
			l, i, pw, b, ok := ParseTilePath(p)
			if !ok || i != index || pw != w || b != (p == bundle) || !b && l != level {
				t.Fatalf("ParseTilePath(%s) = %d %d %d %v %v", p, l, i, pw, b, ok)
			}
		}
	}
	for _, level := range []uint64{0, 1, 2, 7, 63} {
		for index := uint64(0); index < 3000; index++ {
			for _, w := range []int{0, 1, 99, 100, 255} {
				check(level, index, w)
			}
		}
		for _, index := range []uint64{999999, 1000000, 1000001, 1234067, 1 << 40, math.MaxUint64} {
			for w := 0; w < TileWidth; w++ {
				check(level, index, w)
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for k := 0; k < 20000; k++ {
		check(r.Uint64N(64), r.Uint64()>>r.IntN(64), r.IntN(TileWidth))
	}
}
