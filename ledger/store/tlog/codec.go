package tlog

import (
	"encoding/binary"
	"errors"

	"github.com/normledger/normledger/ledger/store/tlog/logproof"
)

// The bytes of tiles and entry bundles (C2SP tlog-tiles): a tile is its
// hashes, 32 bytes each, concatenated; a bundle is its entries, each a
// 2-byte big-endian length and the entry.

// MaxEntrySize is the largest entry a bundle can hold.
const MaxEntrySize = 1<<16 - 1

func splitHashes(bz []byte) [][]byte {
	out := make([][]byte, 0, len(bz)/32)
	for i := 0; i+32 <= len(bz); i += 32 {
		out = append(out, bz[i:i+32])
	}
	return out
}

// splitBundle reads an entry bundle: each entry is a 2-byte big-endian
// length and the entry.
func splitBundle(bz []byte) ([][]byte, error) {
	var out [][]byte
	for len(bz) > 0 {
		if len(bz) < 2 {
			return nil, errors.New("truncated entry length")
		}
		n := int(binary.BigEndian.Uint16(bz))
		if len(bz) < 2+n {
			return nil, errors.New("truncated entry")
		}
		out = append(out, bz[2:2+n])
		bz = bz[2+n:]
	}
	return out, nil
}

func joinBundle(entries [][]byte) []byte {
	var b []byte
	for _, e := range entries {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b
}

// entryAt walks a bundle's length prefixes to entry i.
func entryAt(bz []byte, i int) ([]byte, error) {
	for j := 0; ; j++ {
		if len(bz) < 2 {
			return nil, errors.New("entry bundle truncated")
		}
		n := int(binary.BigEndian.Uint16(bz))
		if len(bz) < 2+n {
			return nil, errors.New("entry bundle truncated")
		}
		if j == i {
			return bz[2 : 2+n], nil
		}
		bz = bz[2+n:]
	}
}

// tileTree is a full tile with the subtree it spans: rows[r] holds the
// 256>>r nodes r levels above the tile's bottom row, rows[8] its root.
type tileTree struct {
	rows [TileHeight + 1][]byte
}

func newTileTree(bz []byte) *tileTree {
	t := &tileTree{}
	t.rows[0] = bz
	for r := 1; r <= TileHeight; r++ {
		below := t.rows[r-1]
		row := make([]byte, 0, len(below)/2)
		for i := 0; i < len(below); i += 64 {
			row = append(row, logproof.Hasher.HashChildren(below[i:i+32], below[i+32:i+64])...)
		}
		t.rows[r] = row
	}
	return t
}

// subtreeRoot hashes a power-of-two row of nodes up to one.
func subtreeRoot(row [][]byte) []byte {
	for len(row) > 1 {
		next := make([][]byte, 0, len(row)/2)
		for i := 0; i < len(row); i += 2 {
			next = append(next, logproof.Hasher.HashChildren(row[i], row[i+1]))
		}
		row = next
	}
	return row[0]
}
