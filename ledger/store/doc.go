// Package store is the only user of IAVL: it keeps ledger state in one
// versioned IAVL tree whose root hash is the app hash, lays out keys and
// indexes so that every answer (including list queries and absence) is
// provable, and serves immutable views of committed versions.
//
// The key layout is in ledger/layout.
//
// Allowed imports: ledger, ledger/layout, the record log (ledger/store/tlog
// and its logproof), internal/atomicfile, proto/gen, IAVL (and goleveldb's options, for
// its database), ics23, the standard library.
package store
