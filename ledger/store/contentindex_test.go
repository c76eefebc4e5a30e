package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
)

// fileGenesisAndStep initialises chain "c" (3 dev members) in the empty
// store s and files scenario step i as the only record of block 1.
func fileGenesisAndStep(t *testing.T, s *Store, i int) ([]byte, *ledger.Changes) {
	t.Helper()
	ms := fixture.Dev(3, fixture.SeededKey)
	if _, err := s.InitGenesis("c", fixture.Genesis(ms), 1, ledger.CurrentAppVersion); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tx, err := fixture.Scenario(t0)[i].Tx("c", 1, fixture.ByID(ms), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.BeginBlock(1); err != nil {
		t.Fatal(err)
	}
	ch, err := ledger.DefaultRegistry().Apply(s.Working(), tx, ledger.Block{ChainID: "c", Height: 1, Time: t0.Add(time.Second), Params: ledger.DefaultParams()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ch); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.EndBlock(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	return tx, ch
}

// fileStep files scenario step i as the only record of block 1 of a fresh
// chain in dir, closes the store, and returns the author and content hash.
func fileStep(t *testing.T, dir string, i int) (string, [32]byte) {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, ch := fileGenesisAndStep(t, s, i)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return ch.Record.Author, ch.ContentHash
}

func seenAt(t *testing.T, dir, author string, h [32]byte) bool {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.At(0)
	if err != nil {
		t.Fatal(err)
	}
	seen, err := v.ContentSeen(author, h)
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

// The content index answers for the record log it was built from: one that
// lags is caught up, one left from another history (another chain's data
// directory, a restored backup) is rebuilt, one that cannot be opened is
// damage, not a crash.
func TestContentIndexFollowsTheLog(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	authorA, hashA := fileStep(t, a, 0)
	authorB, hashB := fileStep(t, b, 1)
	if !seenAt(t, b, authorB, hashB) {
		t.Fatal("a committed record's content is not seen")
	}
	// Lagging: the index is gone; the next open rebuilds it from the log.
	if err := os.RemoveAll(filepath.Join(b, "appindex.db")); err != nil {
		t.Fatal(err)
	}
	if !seenAt(t, b, authorB, hashB) {
		t.Fatal("a lost index was not rebuilt from the log")
	}
	// Another history's index, as long as this log: rebuilt, not trusted.
	if err := os.RemoveAll(filepath.Join(b, "appindex.db")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(a, "appindex.db"), filepath.Join(b, "appindex.db")); err != nil {
		t.Fatal(err)
	}
	if authorA == authorB && hashA == hashB {
		t.Fatal("the two chains filed the same content: the test proves nothing")
	}
	if seenAt(t, b, authorA, hashA) {
		t.Fatal("an index from another chain answered for this one")
	}
	if !seenAt(t, b, authorB, hashB) {
		t.Fatal("the foreign index was not rebuilt")
	}
	// Unopenable: an error wrapping ErrDamaged.
	if err := os.RemoveAll(filepath.Join(b, "appindex.db")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "appindex.db"), []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(b, Options{}); !errors.Is(err, ErrDamaged) {
		t.Fatalf("an unopenable index: %v", err)
	}
}
