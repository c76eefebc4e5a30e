package node

import (
	"sync"

	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
)

// CometBFT closes its block and state stores in Node.OnStop while goroutines
// of its consensus reactor that passed their "still running?" check before the
// stop may still read them, seconds later (queryMaj23Routine sleeps between
// steps): the store then panics with "leveldb: closed" and takes the process
// down during an orderly shutdown (tendermint #6680 in vega, nibiru #1918,
// finschia #653 report the same). CometBFT treats any read error as fatal, so
// the fix lives below it: the node's CometBFT databases answer reads after
// Close as "not found", which every such reader already handles as "nothing
// to send". Writes after Close still fail, as they must.

// shutdownSafeDBProvider opens CometBFT's databases like the default provider
// and wraps each in a shutdownSafeDB.
func shutdownSafeDBProvider(ctx *cmtcfg.DBContext) (dbm.DB, error) {
	db, err := cmtcfg.DefaultDBProvider(ctx)
	if err != nil {
		return nil, err
	}
	return &shutdownSafeDB{DB: db}, nil
}

// shutdownSafeDB is a database whose point reads after Close find nothing
// instead of failing. Close waits for reads in progress.
type shutdownSafeDB struct {
	dbm.DB
	mu     sync.RWMutex
	closed bool
}

func (d *shutdownSafeDB) Get(key []byte) ([]byte, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, nil
	}
	return d.DB.Get(key)
}

func (d *shutdownSafeDB) Has(key []byte) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return false, nil
	}
	return d.DB.Has(key)
}

func (d *shutdownSafeDB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.DB.Close()
}
