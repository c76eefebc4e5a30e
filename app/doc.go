// Package app is the ABCI 2.0 adapter: it decodes requests, calls
// ledger.Apply, writes accepted changes through ledger/store, maps rejections
// to result codes and events, commits, and answers Info and Query.
//
// Like ledger it is deterministic: it never reads the wall clock for state
// transitions (CheckTx is given a Clock to estimate the next block time; it is
// a mempool filter, not a state transition), starts no goroutines and
// iterates only in defined orders.
//
// Files: app.go (the App, Info, InitChain), proposals.go (CheckTx and
// the proposal checks), finalize.go (FinalizeBlock, Commit), query.go
// (Query), statesync.go (snapshots).
//
// Allowed imports: ledger, ledger/layout, ledger/store, proto/gen, CometBFT's
// abci types and consensus protos.
package app
