// Package verifiers checks ledger answers without trusting the node that
// gave them: ICS23 proofs against app hashes from light-client-verified
// headers, record signatures, and offline evidence bundles.
//
// The proof checks (Proof, Record, Member, Obligation, List, ...) and
// VerifyHeaders, which checks light blocks with CometBFT's commit
// verification alone, also build for js/wasm (verifiers/wasm, the browser
// verifier); the light client, Verifier and VerifyBundle need a database
// and are native only (//go:build !js).
//
// Allowed imports: ledger, ledger/store (key layout only), proto/gen,
// CometBFT light client and types, ics23.
package verifiers
