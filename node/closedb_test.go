package node

import (
	"sync"
	"testing"

	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
)

// Reads racing with Close never fail (CometBFT would panic on the error);
// reads after Close find nothing; writes after Close still fail.
func TestShutdownSafeDB(t *testing.T) {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(t.TempDir())
	db, err := shutdownSafeDBProvider(&cmtcfg.DBContext{ID: "blockstore", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 2000; j++ {
				v, err := db.Get([]byte("k"))
				if err != nil {
					errs <- err
					return
				}
				if v != nil && string(v) != "v" {
					t.Errorf("read %q", v)
					return
				}
				if _, err := db.Has([]byte("k")); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("read during close failed: %v", err)
	}
	if v, err := db.Get([]byte("k")); err != nil || v != nil {
		t.Fatalf("Get after close = %q, %v; want nothing, no error", v, err)
	}
	if ok, err := db.Has([]byte("k")); err != nil || ok {
		t.Fatalf("Has after close = %v, %v", ok, err)
	}
	if err := db.Set([]byte("k"), []byte("w")); err == nil {
		t.Fatal("write after close succeeded")
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	// The unwrapped database is what CometBFT would see without the wrapper:
	// it fails reads after close, which is the panic this guards against.
	raw, err := cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: "state", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := raw.Get([]byte("k")); err == nil {
		t.Fatal("raw leveldb read after close did not fail; the wrapper may be unnecessary")
	}
	var _ dbm.DB = (*shutdownSafeDB)(nil)
}
