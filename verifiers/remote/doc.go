// Package remote verifies a node's answers by asking it (and witnesses):
// CometBFT's light client with a trust store on disk, the Verifier that
// fetches an answer with its proofs and checks it with package verifiers,
// the record log's consistency across answers, and offline evidence
// bundles, whose headers are checked with CometBFT's light.Verify.
//
// Everything here may read the clock and the disk; the checks themselves
// are package verifiers' pure functions. Allowed imports: ledger,
// ledger/layout, proto/gen (messages), verifiers, verifiers/checkpoint,
// CometBFT's light client and types, cometbft-db.
package remote
