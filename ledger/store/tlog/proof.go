package tlog

import (
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// Proofs over the committed log, and their checks (which need no log: the
// verifiers, the WebAssembly one too, call them).

func (l *Log) checkSize(size uint64) error {
	if size > l.committed {
		return fmt.Errorf("the log holds %d committed entries, not %d", l.committed, size)
	}
	return nil
}

// RootAt is the root of the log's first size entries (committed).
func (l *Log) RootAt(size uint64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.checkSize(size); err != nil {
		return nil, err
	}
	if size == 0 {
		return Hasher.EmptyRoot(), nil
	}
	hashes, err := l.hashesOf(compact.RangeNodes(0, size, nil), size)
	if err != nil {
		return nil, err
	}
	rng, err := factory.NewRange(0, size, hashes)
	if err != nil {
		return nil, err
	}
	return rng.GetRootHash(nil)
}

// hashesOf reads the hashes of nodes ids of the tree of the first size
// entries.
func (l *Log) hashesOf(ids []compact.NodeID, size uint64) ([][]byte, error) {
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := l.nodeHash(id.Level, id.Index, size)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	return hashes, nil
}

// prove builds a proof over the first size committed entries from the
// nodes it needs (proof.Inclusion's or proof.Consistency's).
func (l *Log) prove(size uint64, nodes func() (proof.Nodes, error)) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.checkSize(size); err != nil {
		return nil, err
	}
	ns, err := nodes()
	if err != nil {
		return nil, err
	}
	hashes, err := l.hashesOf(ns.IDs, size)
	if err != nil {
		return nil, err
	}
	return ns.Rehash(hashes, Hasher.HashChildren)
}

// InclusionProof proves entry index in the tree of the first size entries.
func (l *Log) InclusionProof(index, size uint64) ([][]byte, error) {
	return l.prove(size, func() (proof.Nodes, error) { return proof.Inclusion(index, size) })
}

// ConsistencyProof proves the tree of size2 entries extends that of size1.
func (l *Log) ConsistencyProof(size1, size2 uint64) ([][]byte, error) {
	return l.prove(size2, func() (proof.Nodes, error) { return proof.Consistency(size1, size2) })
}

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
