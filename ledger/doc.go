// Package ledger is the normledger domain: record kinds, validation, admission
// rules, transaction signing and the pure, deterministic Apply.
//
// Nothing here does I/O, reads a clock, logs, reads configuration or starts a
// goroutine. Block time is an argument. Apply reads state through the State
// interface and returns the changes to make; the caller (ledger/store, via the
// app) writes them. Iteration is over slices in a defined order only.
//
// Allowed imports: the standard library, proto/gen, CometBFT crypto, and
// google.golang.org/protobuf.
package ledger
