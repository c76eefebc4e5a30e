package tlog

import (
	"math/rand/v2"
	"testing"
)

// Many blocks, each flushed and then committed, or killed in the middle
// of its flush (the crash point's panic stands for the process exit) and
// reopened at the committed size: the log always reopens and keeps growing
// to the reference root.
func TestCrashMidFlushRandom(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		dir := t.TempDir()
		l, err := Open(dir, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		var all [][]byte
		committed := 0
		var root []byte
		for block := 0; block < 120; block++ {
			n := rng.IntN(40)
			if rng.IntN(10) == 0 {
				n = rng.IntN(600)
			}
			for i := 0; i < n; i++ {
				e := entry(len(all))
				if _, err := l.Append(e); err != nil {
					t.Fatal(err)
				}
				all = append(all, e)
			}
			crash := rng.IntN(4) == 0
			if crash {
				l.SetCrashPoint(func() { panic("crash") })
			} else {
				l.SetCrashPoint(nil)
			}
			func() {
				defer func() { recover() }()
				if err := l.Flush(); err != nil {
					t.Fatal(err)
				}
				if !crash {
					l.MarkCommitted(l.Size())
					committed = len(all)
					root = l.Root()
				}
			}()
			if crash || rng.IntN(8) == 0 {
				all = all[:committed]
				l, err = Open(dir, uint64(committed), root)
				if err != nil {
					t.Fatalf("seed %d block %d: reopen at %d: %v", seed, block, committed, err)
				}
			}
		}
		if got := l.Root(); committed > 0 && string(got) != string(refRoot(all)) {
			t.Fatalf("seed %d: root differs", seed)
		}
	}
}
