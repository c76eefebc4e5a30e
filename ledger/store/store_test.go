package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/normledger/normledger/ledger/fixture"
)

func commitN(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := s.set([]byte("x/"+string(rune('a'+i))), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// A database that lost committed versions, or whose hash differs from the
// committed one, refuses to open with a clear error.
func TestDamagedDatabaseRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InitGenesis("c", fixture.Genesis(fixture.Dev(1, fixture.SeededKey)), 1); err != nil {
		t.Fatal(err)
	}
	commitN(t, s, 5)
	s.Close()
	marker := filepath.Join(dir, "appstate.commit")
	good, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	// Truncation: the marker says a later height was committed.
	os.WriteFile(marker, []byte(`{"version":9,"hash":"00"}`), 0o644)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "height 9 was committed") {
		t.Fatalf("truncated: %v", err)
	}
	// Corruption: same height, another hash.
	os.WriteFile(marker, []byte(`{"version":5,"hash":"00"}`), 0o644)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrDamaged) {
		t.Fatalf("corrupted: %v", err)
	}
	// Missing marker on a database past its first block.
	os.Remove(marker)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrDamaged) {
		t.Fatalf("missing marker: %v", err)
	}
	os.WriteFile(marker, good, 0o644)
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatalf("intact: %v", err)
	}
	if s.Version() != 5 {
		t.Fatalf("version %d", s.Version())
	}
	s.Close()
}

// After an unclean shutdown, entries lost from the database are found by the
// verification walk.
func TestVerifyFindsMissingEntries(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InitGenesis("c", fixture.Genesis(fixture.Dev(3, fixture.SeededKey)), 1); err != nil {
		t.Fatal(err)
	}
	commitN(t, s, 20)
	if err := s.Verify(); err != nil {
		t.Fatalf("intact: %v", err)
	}
	// Drop one fast-index entry behind IAVL's back, as a damaged journal would
	// (IAVL keeps its fast index under the 'f' prefix).
	raw := s.db.(interface {
		Get([]byte) ([]byte, error)
		Delete([]byte) error
	})
	fastKey := append([]byte("f"), []byte("x/c")...)
	if v, err := raw.Get(fastKey); err != nil || v == nil {
		t.Fatalf("fast index entry not where expected: %v", err)
	}
	if err := raw.Delete(fastKey); err != nil {
		t.Fatal(err)
	}
	err = s.Verify()
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("missing entry not found: %v", err)
	}
	t.Log(err)
}
