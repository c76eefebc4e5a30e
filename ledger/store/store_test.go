package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corestore "cosmossdk.io/core/store"
	iavldb "github.com/cosmos/iavl/db"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/layout"
)

// commit ends a block at the next height around whatever the test set and
// commits it.
func commit(s *Store) ([]byte, int64, error) {
	if err := s.BeginBlock(s.tree.Version() + 1); err != nil {
		return nil, 0, err
	}
	if _, _, err := s.EndBlock(); err != nil {
		return nil, 0, err
	}
	return s.Commit()
}

func commitN(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := s.set([]byte("x/"+string(rune('a'+i))), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := commit(s); err != nil {
			t.Fatal(err)
		}
	}
}

// openGenesis opens a store in dir with opts and initialises chain "c" with
// the genesis of n dev members.
func openGenesis(t testing.TB, dir string, opts Options, n int) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.InitGenesis("c", fixture.Genesis(fixture.Dev(n, fixture.SeededKey)), 1, ledger.CurrentAppVersion); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s
}

// A database that lost committed versions, or whose hash differs from the
// committed one, refuses to open with a clear error.
func TestDamagedDatabaseRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	s := openGenesis(t, dir, Options{}, 1)
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
	s := openGenesis(t, dir, Options{}, 3)
	commitN(t, s, 20)
	if err := s.Verify(); err != nil {
		t.Fatalf("intact: %v", err)
	}
	// Drop the nodes written at version 3 (the leaf x/c among them) behind
	// IAVL's back, as a damaged journal would, but keep that version's root.
	dropNodes(t, s, 3)
	// A fresh open, so no node comes from the node cache.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{Verify: VerifyAlways})
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("missing entries not found: %v", err)
	}
	t.Log(err)
}

// The duplicate-content filter never forgets a key (no false negatives),
// across growth and across a reopen (it is rebuilt from the content index),
// and rarely answers "maybe" for a key it never saw.
func TestSeenFilter(t *testing.T) {
	f := &seenFilter{}
	hash := func(i int) (h [32]byte) {
		s := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
		return s
	}
	const n = 300_000 // several chained filters
	for i := 0; i < n; i++ {
		f.add([]string{"xaa", "xbb", "load-001"}[i%3], hash(i))
	}
	if len(f.parts) < 3 {
		t.Fatalf("filter did not grow: %d parts", len(f.parts))
	}
	for i := 0; i < n; i++ {
		if !f.mayHold([]string{"xaa", "xbb", "load-001"}[i%3], hash(i)) {
			t.Fatalf("key %d forgotten", i)
		}
	}
	fp := 0
	for i := n; i < 2*n; i++ {
		if f.mayHold("xaa", hash(i)) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.05 {
		t.Fatalf("false positive rate %.3f", rate)
	} else {
		t.Logf("false positive rate %.4f over %d parts", rate, len(f.parts))
	}

	dir := t.TempDir()
	s := openGenesis(t, dir, Options{}, 3)
	// Written behind the filter's back: only a reload can know it.
	if err := s.writeIndex(map[string]uint64{string(layout.Content("xaa", hash(1))): 0}, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := commit(s); err != nil {
		t.Fatal(err)
	}
	if seen, _ := s.Working().ContentSeen("xaa", hash(1)); seen {
		t.Fatal("filter answered for a key it was never given")
	}
	s.Close()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.At(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		author string
		i      int
		want   bool
	}{{"xaa", 1, true}, {"xbb", 1, false}, {"xaa", 2, false}} {
		if got, err := v.ContentSeen(c.author, hash(c.i)); err != nil || got != c.want {
			t.Fatalf("ContentSeen(%s, %d) = %v, %v; want %v", c.author, c.i, got, err, c.want)
		}
	}
}

// prunedTo waits (up to 30 s) until IAVL's pruning goroutine has deleted
// the versions before first, and returns the versions available.
func prunedTo(t *testing.T, s *Store, first int) []int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := s.tree.AvailableVersions()
		if len(got) > 0 && got[0] >= first || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With KeepRecent, versions older than the window are deleted after each
// commit, reads at them fail with ErrNoVersion, and the store reopens and
// verifies as before.
func TestKeepRecentPrunes(t *testing.T) {
	dir := t.TempDir()
	s := openGenesis(t, dir, Options{KeepRecent: MinKeepRecent}, 3)
	commitN(t, s, MinKeepRecent+20)
	if got := prunedTo(t, s, 21); len(got) != MinKeepRecent || got[0] != 21 {
		t.Fatalf("versions kept: %d from %v", len(got), got[:1])
	}
	if _, err := s.At(20); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("pruned version: %v", err)
	}
	v, err := s.At(21)
	if err != nil {
		t.Fatal(err)
	}
	// The oldest kept version still reads everything written before it.
	if bz, err := v.r.Get([]byte("x/a")); err != nil || len(bz) != 1 || bz[0] != 0 {
		t.Fatalf("x/a at 21: %v %v", bz, err)
	}
	s.Close()
	s, err = Open(dir, Options{KeepRecent: MinKeepRecent, Verify: VerifyAlways})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commitN(t, s, 3)
	if got := prunedTo(t, s, 24); len(got) != MinKeepRecent || got[0] != 24 {
		t.Fatalf("versions kept after reopen: %d from %v", len(got), got[:1])
	}
	for _, bad := range []int64{-1, 1, MinKeepRecent - 1} {
		if _, err := Open(t.TempDir(), Options{KeepRecent: bad}); err == nil {
			t.Fatalf("keep_recent %d accepted", bad)
		}
	}
}

// A value changed on disk behind IAVL's back (same size, still decodes) is
// found: the verification walk recomputes the hashes up to the root.
func TestVerifyFindsChangedValue(t *testing.T) {
	dir := t.TempDir()
	s := openGenesis(t, dir, Options{}, 3)
	commitN(t, s, 20)
	raw := s.db.(interface {
		Iterator(start, end []byte) (corestore.Iterator, error)
	})
	// The leaf x/c = {2}: its encoding holds the key and the value, each
	// length-prefixed.
	needle := []byte("\x03x/c\x01\x02")
	it, err := raw.Iterator([]byte("s"), []byte("t"))
	if err != nil {
		t.Fatal(err)
	}
	var key, val []byte
	for ; it.Valid(); it.Next() {
		if i := bytes.Index(it.Value(), needle); i >= 0 {
			key = append([]byte(nil), it.Key()...)
			val = append([]byte(nil), it.Value()...)
			val[i+len(needle)-1] = 9
		}
	}
	it.Close()
	if key == nil {
		t.Fatal("leaf x/c not found on disk")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := iavldb.NewGoLevelDB("appstate", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(key, val); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(dir, Options{Verify: VerifyAlways})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "hash to") {
		t.Fatalf("changed value not found: %v", err)
	}
	t.Log(err)
}

// dropNodes deletes the tree nodes written at version v behind IAVL's back,
// as a damaged journal would, but keeps that version's root (nonce 1). IAVL
// stores nodes under 's' + version + nonce.
func dropNodes(t *testing.T, s *Store, v int64) {
	t.Helper()
	raw := s.db.(interface {
		Iterator(start, end []byte) (corestore.Iterator, error)
		Delete([]byte) error
	})
	prefix := append([]byte("s"), layout.U64(uint64(v))...)
	it, err := raw.Iterator(prefix, layout.PrefixEnd(prefix))
	if err != nil {
		t.Fatal(err)
	}
	var drop [][]byte
	for ; it.Valid(); it.Next() {
		if binary.BigEndian.Uint32(it.Key()[9:]) != 1 {
			drop = append(drop, append([]byte(nil), it.Key()...))
		}
	}
	it.Close()
	if len(drop) == 0 {
		t.Fatalf("no nodes of version %d where expected", v)
	}
	for _, k := range drop {
		if err := raw.Delete(k); err != nil {
			t.Fatal(err)
		}
	}
}

// A newest version that cannot be read at open (here: its nodes gone, the
// chain id among them), after a clean shutdown so no verification walk runs,
// is damage too, whatever error IAVL gives: the fault suite's corrupted
// journal once gave "Value missing for key".
func TestUnreadableVersionIsDamage(t *testing.T) {
	dir := t.TempDir()
	s := openGenesis(t, dir, Options{}, 3)
	commitN(t, s, 5)
	dropNodes(t, s, s.Version())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "wipe the node's data") {
		t.Fatalf("open: %v", err)
	}
	t.Log(err)
}

// Committed versions are read while the writer writes and commits the next
// blocks (the API and the mempool do this all the time). Run with -race
// (.ci/run does): the readers' tree shares no node with the writer's.
func TestReadsWhileWriting(t *testing.T) {
	s := openGenesis(t, t.TempDir(), Options{}, 3)
	defer s.Close()
	commitN(t, s, 1)
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			v, err := s.At(0)
			if err != nil {
				done <- err
				return
			}
			if _, err := v.ProofOf([]byte(layout.KeyChainID)); err != nil {
				done <- err
				return
			}
			if _, err := v.Members(); err != nil {
				done <- err
				return
			}
		}
	}()
	for b := 0; b < 30; b++ {
		for i := 0; i < 50; i++ {
			if err := s.set([]byte(fmt.Sprintf("x/%02d/%03d", b, i)), []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := commit(s); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
