// Package verifiers checks ledger answers without trusting the node that
// gave them: ICS23 proofs against app hashes from light-client-verified
// headers, record signatures, and offline evidence bundles.
//
// Allowed imports: ledger, ledger/store (key layout only), proto/gen,
// CometBFT light client and types, ics23.
package verifiers
