// Package logproof checks proofs of the record log (an RFC 6962 Merkle
// tree) with transparency-dev/merkle: inclusion of an entry, consistency of
// two sizes. It holds no log and does no I/O, so the verifiers, the
// WebAssembly one too, check the log's proofs without linking its storage
// (package tlog, which makes the proofs, uses the same hasher).
package logproof

import (
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Hasher is the record log's tree hasher: RFC 6962 (SHA-256, 0x00 leaf and
// 0x01 node prefixes).
var Hasher = rfc6962.DefaultHasher

// LeafHash is the RFC 6962 leaf hash of an entry.
func LeafHash(entry []byte) []byte { return Hasher.HashLeaf(entry) }

// VerifyInclusion checks an inclusion proof of entry at index in the tree of
// size with root.
func VerifyInclusion(index, size uint64, entry []byte, p [][]byte, root []byte) error {
	return readable(proof.VerifyInclusion(Hasher, index, size, LeafHash(entry), p, root))
}

// VerifyConsistency checks that the tree (size2, root2) extends (size1, root1).
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 []byte) error {
	return readable(proof.VerifyConsistency(Hasher, size1, size2, p, root1, root2))
}

// readable words a root mismatch in hex (the library prints byte lists).
func readable(err error) error {
	var rm proof.RootMismatchError
	if errors.As(err, &rm) {
		return fmt.Errorf("the proof leads to root %X, not %X", rm.CalculatedRoot, rm.ExpectedRoot)
	}
	return err
}
