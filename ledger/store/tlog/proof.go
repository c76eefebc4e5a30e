package tlog

import (
	"fmt"

	"github.com/normledger/normledger/ledger/store/tlog/logproof"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// Proofs over the committed log. Their checks are in package logproof,
// which needs no log (the verifiers, the WebAssembly one too, use it).

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
		return logproof.Hasher.EmptyRoot(), nil
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
	return ns.Rehash(hashes, logproof.Hasher.HashChildren)
}

// InclusionProof proves entry index in the tree of the first size entries.
func (l *Log) InclusionProof(index, size uint64) ([][]byte, error) {
	return l.prove(size, func() (proof.Nodes, error) { return proof.Inclusion(index, size) })
}

// ConsistencyProof proves the tree of size2 entries extends that of size1.
func (l *Log) ConsistencyProof(size1, size2 uint64) ([][]byte, error) {
	return l.prove(size2, func() (proof.Nodes, error) { return proof.Consistency(size1, size2) })
}
