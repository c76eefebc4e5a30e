// Package verifiers checks ledger answers without trusting the node that
// gave them: ICS23 proofs against app hashes, record signatures against
// proven member keys, the record log's inclusion and consistency proofs,
// proven-complete listings, and chains of signed headers (VerifyHeaders,
// with CometBFT's commit verification).
//
// Every function here is pure: it is given the answers, the app hash and,
// where time matters, the time, and does no I/O. So the same code runs in
// the CLI, the monitor, the auditor and, compiled to WebAssembly, in the
// browser (verifiers/jsonapi, cmd/verifier-wasm). Fetching answers, the
// light client with its trust store and evidence bundles are in
// verifiers/remote.
//
// Allowed imports: ledger, ledger/layout, ledger/store/tlog/logproof (the record
// log's proof checks), proto/gen (messages), CometBFT's types, ics23. Not
// the store, the light client, a database, the service stubs or gRPC
// (other than what CometBFT's types import).
package verifiers
