package store

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// rollbackChain is a chain of blocks of notifications, the same every
// time: blocks[h-1] holds block h's transactions.
type rollbackChain struct {
	t0     time.Time
	blocks [][][]byte
}

// newRollbackChain builds blocks of counts[h-1] notifications each,
// signed in turn by the three dev states; the last block's summaries
// start with last.
func newRollbackChain(t *testing.T, last string, counts ...int) *rollbackChain {
	t.Helper()
	ms := fixture.Dev(3, fixture.SeededKey)[:3] // the three states (openGenesis)
	c := &rollbackChain{t0: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	seqs := map[string]uint64{}
	for h, n := range counts {
		var txs [][]byte
		for i := 0; i < n; i++ {
			m := ms[i%len(ms)]
			seqs[m.ID]++
			rec := &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
				Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: []string{ms[(i+1)%len(ms)].ID},
				Summary: fmt.Sprintf("block %d, notice %d", h+1, i)}}}
			if h == len(counts)-1 {
				rec.GetNotification().Summary = last + rec.GetNotification().Summary
			}
			tx, err := ledger.BuildTx(&pb.TxBody{ChainId: "c", Sequence: seqs[m.ID], Record: rec}, m.Signer())
			if err != nil {
				t.Fatal(err)
			}
			txs = append(txs, tx)
		}
		c.blocks = append(c.blocks, txs)
	}
	return c
}

// commit applies and commits block h (the store is at h-1) and returns
// the app hash and the content (author, hash) of its records.
func (c *rollbackChain) commit(t *testing.T, s *Store, h int64) ([]byte, [][2]string) {
	t.Helper()
	if err := s.BeginBlock(h); err != nil {
		t.Fatal(err)
	}
	var content [][2]string
	for i, tx := range c.blocks[h-1] {
		ch, err := ledger.DefaultRegistry().Apply(s.Working(), tx, ledger.Block{ChainID: "c", Height: h,
			Time: c.t0.Add(time.Duration(h) * time.Second), TxIndex: uint32(i), Params: ledger.DefaultParams()})
		if err != nil {
			t.Fatalf("block %d tx %d: %v", h, i, err)
		}
		if err := s.Write(ch); err != nil {
			t.Fatal(err)
		}
		content = append(content, [2]string{ch.Record.Author, string(ch.ContentHash[:])})
	}
	if _, _, err := s.EndBlock(); err != nil {
		t.Fatal(err)
	}
	hash, v, err := s.Commit()
	if err != nil || v != h {
		t.Fatalf("commit %d: version %d, %v", h, v, err)
	}
	return hash, content
}

// logFiles lists the record log's files in dir with their content.
func logFiles(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	root := filepath.Join(dir, LogDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		bz, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		lines = append(lines, fmt.Sprintf("%s %x", filepath.ToSlash(rel), bz))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func seen(t *testing.T, s *Store, c [2]string) bool {
	t.Helper()
	v, err := s.At(0)
	if err != nil {
		t.Fatal(err)
	}
	var h [32]byte
	copy(h[:], c[1])
	ok, err := v.ContentSeen(c[0], h)
	if err != nil {
		t.Fatal(err)
	}
	if w, err := s.Working().ContentSeen(c[0], h); err != nil || w != ok {
		t.Fatalf("the working state says %v (%v), version %d %v", w, err, v.Version(), ok)
	}
	return ok
}

// A store that committed blocks 1..N and is rolled back to N-1 is the
// store that only ever committed N-1: its version, root hash, record log
// (size, root, the very files) and duplicate-content answers; committing
// block N again gives block N's first app hash and log. The block sizes
// make the log cross a full tile and entry bundle in block N (250 -> 270
// entries), so the partial files of 250 that block N's commit removed
// must come back; a second chain rolls back within one tile. Rolled back
// again and given another block N (as after a hard rollback), the store
// does not take the first block N's records for filed.
func TestRollback(t *testing.T) {
	for _, counts := range [][]int{{100, 0, 150, 20}, {3, 2, 5}} {
		t.Run(fmt.Sprint(counts), func(t *testing.T) {
			c := newRollbackChain(t, "", counts...)
			n := int64(len(counts))
			dir, ref := t.TempDir(), t.TempDir()
			s := openGenesis(t, dir, Options{}, 3)
			hashes := map[int64][]byte{}
			var last [][2]string
			var before [][2]string
			for h := int64(1); h <= n; h++ {
				var content [][2]string
				hashes[h], content = c.commit(t, s, h)
				if h < n {
					before = append(before, content...)
				} else {
					last = content
				}
			}
			logN, sizeN := logFiles(t, dir), s.LogCommitted()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			r := openGenesis(t, ref, Options{}, 3)
			for h := int64(1); h < n; h++ {
				if hash, _ := c.commit(t, r, h); !bytes.Equal(hash, hashes[h]) {
					t.Fatalf("the reference chain's block %d has another app hash", h)
				}
			}
			refLog, refSize, refRoot := logFiles(t, ref), r.LogCommitted(), r.rlog.Root()
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}

			start := time.Now()
			res, err := Rollback(dir, n-1, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("rolled back from %d (%X, log %d) to %d (%X, log %d) in %s", res.From, res.FromHash, res.LogFrom, res.To, res.Hash, res.LogTo,
				time.Since(start).Round(time.Millisecond))
			if res.From != n || res.To != n-1 || !bytes.Equal(res.FromHash, hashes[n]) || !bytes.Equal(res.Hash, hashes[n-1]) ||
				res.LogFrom != sizeN || res.LogTo != refSize {
				t.Fatalf("result %+v", res)
			}
			if bz, _ := os.ReadFile(filepath.Join(dir, "appstate.commit")); !strings.Contains(string(bz), fmt.Sprintf(`{"version":%d,`, n-1)) || !strings.Contains(string(bz), `"clean":true`) {
				t.Fatalf("commit marker after the rollback: %s", bz)
			}
			// The content index itself (not rebuilt: Open with VerifyAlways
			// would rebuild it) stops at the log of N-1 and has no entry
			// of block N's records.
			idx, err := openIndexDB(dir)
			if err != nil {
				t.Fatal(err)
			}
			mark, _ := idx.Get(indexedKey)
			if m, root, err := layout.ParseLogState(mark); err != nil || m != refSize || (m > 0 && !bytes.Equal(root, refRoot)) {
				t.Fatalf("meta/indexed after the rollback: %d %X %v; want %d %X", m, root, err, refSize, refRoot)
			}
			for _, ct := range last {
				var h [32]byte
				copy(h[:], ct[1])
				if bz, _ := idx.Get(layout.Content(ct[0], h)); bz != nil {
					t.Fatalf("the content index still holds a record of block %d (seq %x)", n, bz)
				}
			}
			idx.Close()
			s, err = Open(dir, Options{Verify: VerifyAlways})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Version() != n-1 || !bytes.Equal(s.Hash(), hashes[n-1]) || s.LogCommitted() != refSize || !bytes.Equal(s.rlog.Root(), refRoot) {
				t.Fatalf("reopened at version %d root %X log %d; want %d %X %d", s.Version(), s.Hash(), s.LogCommitted(), n-1, hashes[n-1], refSize)
			}
			if got := logFiles(t, dir); got != refLog {
				t.Fatalf("record log after the rollback:\n%s\nwant (a store that committed %d):\n%s", got, n-1, refLog)
			}
			for _, ct := range before {
				if !seen(t, s, ct) {
					t.Fatal("a record before the rolled-back block is no longer seen")
				}
			}
			for _, ct := range last {
				if seen(t, s, ct) {
					t.Fatal("a record of the rolled-back block is still seen")
				}
			}
			// Block N again: its first app hash and log.
			if hash, _ := c.commit(t, s, n); !bytes.Equal(hash, hashes[n]) {
				t.Fatalf("block %d again: app hash %X, first %X", n, hash, hashes[n])
			}
			if got := logFiles(t, dir); got != logN {
				t.Fatalf("record log after block %d again:\n%s\nwant:\n%s", n, got, logN)
			}
			for _, ct := range last {
				if !seen(t, s, ct) {
					t.Fatal("a record of the block committed again is not seen")
				}
			}
			// Another block N, longer, over the same N-1.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := Rollback(dir, n-1, Options{}); err != nil {
				t.Fatal(err)
			}
			other := append(append([]int(nil), counts[:n-1]...), counts[n-1]+30)
			c2 := newRollbackChain(t, "other ", other...)
			if s, err = Open(dir, Options{}); err != nil {
				t.Fatal(err)
			}
			hash, content := c2.commit(t, s, n)
			if bytes.Equal(hash, hashes[n]) || s.LogCommitted() != refSize+uint64(counts[n-1]+30) {
				t.Fatalf("another block %d: app hash %X, log %d", n, hash, s.LogCommitted())
			}
			for _, ct := range last {
				if seen(t, s, ct) {
					t.Fatal("a record of the rolled-back block is seen after another block took its place")
				}
			}
			for _, ct := range content {
				if !seen(t, s, ct) {
					t.Fatal("a record of the other block is not seen")
				}
			}
		})
	}
}

// What Rollback refuses, changing nothing: going forward, below the first
// block, a pruned version, an empty state; rolling back to the latest
// version does nothing. A crash after the marker moved back but before the
// state did leaves a store that opens at its newer version.
func TestRollbackRefuses(t *testing.T) {
	if _, err := Rollback(t.TempDir(), 1, Options{}); err == nil || !strings.Contains(err.Error(), "no committed version") {
		t.Fatalf("empty state: %v", err)
	}
	dir := t.TempDir()
	s := openGenesis(t, dir, Options{KeepRecent: MinKeepRecent}, 1)
	commitN(t, s, 3)
	for i := 0; i < MinKeepRecent; i++ {
		if err := s.set([]byte(fmt.Sprintf("y/%03d", i)), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := commit(s); err != nil {
			t.Fatal(err)
		}
	}
	top, hash := s.Version(), s.Hash()
	prunedTo(t, s, int(top)-MinKeepRecent+1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := logFiles(t, dir)
	for _, c := range []struct {
		to   int64
		want string
	}{{top + 1, "forward"}, {0, "first block"}, {1, "pruned"}} {
		if _, err := Rollback(dir, c.to, Options{KeepRecent: MinKeepRecent}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("rollback to %d: %v", c.to, err)
		}
	}
	if res, err := Rollback(dir, top, Options{}); err != nil || res.From != top || res.To != top {
		t.Fatalf("rollback to the latest: %+v %v", res, err)
	}
	s, err := Open(dir, Options{KeepRecent: MinKeepRecent})
	if err != nil || s.Version() != top || !bytes.Equal(s.Hash(), hash) || logFiles(t, dir) != before {
		t.Fatalf("after refused rollbacks: version %d %v", s.Version(), err)
	}
	at := s.Hash()
	v, _ := s.At(top - 1)
	prev := v.RootHash()
	s.Close()
	// The newest version that pruning kept (keep_recent's N-1) is fine.
	if res, err := Rollback(dir, top-1, Options{KeepRecent: MinKeepRecent}); err != nil || !bytes.Equal(res.Hash, prev) || !bytes.Equal(res.FromHash, at) {
		t.Fatalf("rollback of a pruned store by one: %+v %v", res, err)
	}
	// A crash between the marker and the state's rollback.
	d2 := t.TempDir()
	s = openGenesis(t, d2, Options{}, 1)
	commitN(t, s, 4)
	v, _ = s.At(3)
	s.writeMarker(3, v.RootHash(), false)
	s.tree.Close()
	s.reader.Close()
	s.index.Close()
	s.db.Close()
	s, err = Open(d2, Options{})
	if err != nil || s.Version() != 4 {
		t.Fatalf("a store whose marker went back first: %v", err)
	}
	s.Close()
	if _, err := Rollback(d2, 3, Options{}); err != nil {
		t.Fatal(err)
	}
	s, err = Open(d2, Options{})
	if err != nil || s.Version() != 3 || !bytes.Equal(s.Hash(), v.RootHash()) {
		t.Fatalf("rolled back after the crash: %v", err)
	}
	s.Close()
}
