//go:build lyingproposer

package app

import (
	"bytes"
	"slices"

	"github.com/normledger/normledger/ledger"
)

// A binary built with -tags lyingproposer proposes blocks that no honest
// validator may accept: the fault suite runs one validator with it and
// checks that ProcessProposal rejects every such block, that a later round
// commits a valid one and that none of the bad transactions reaches state.
// The lie depends only on the height, so a run can be repeated.
func init() { lie = lyingProposal }

// lyingProposal cycles through the lies by height: a transaction that does
// not decode, one larger than max_tx_bytes, a transaction repeated (a
// replay within the block), each with the valid transactions reordered
// (last first, which breaks one author's sequence order when the block
// holds two of its records).
func lyingProposal(height int64, txs [][]byte, maxBytes int64) ([][]byte, string) {
	out := slices.Clone(txs)
	slices.Reverse(out)
	what := "reordered"
	var bad []byte
	switch height % 3 {
	case 0:
		bad, what = []byte("normledger lying proposer: not a transaction"), what+" + undecodable tx"
	case 1:
		bad, what = append([]byte("normledger lying proposer: oversized "), bytes.Repeat([]byte{0x2a}, ledger.MaxTxBytesLimit)...), what+" + oversized tx"
	default:
		if len(txs) == 0 {
			bad, what = []byte("normledger lying proposer: nothing to repeat"), what+" + undecodable tx (nothing to repeat)"
		} else {
			bad, what = txs[0], what+" + duplicate tx"
		}
	}
	// Keep the block within CometBFT's limit, or the proposer itself fails
	// before proposing anything: drop valid transactions to make room.
	size := int64(len(bad))
	for _, tx := range out {
		size += int64(len(tx))
	}
	for maxBytes > 0 && size > maxBytes && len(out) > 0 {
		size -= int64(len(out[len(out)-1]))
		out = out[:len(out)-1]
	}
	return append([][]byte{bad}, out...), what
}
