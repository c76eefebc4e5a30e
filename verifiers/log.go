package verifiers

import (
	"bytes"

	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store/tlog/logproof"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// LogState is the record log as a verified answer saw it: its size and
// root, proven (meta/log) at Height against the app hash in header
// Height+1.
type LogState struct {
	Height int64
	Size   uint64
	Root   []byte
}

// ProvenLog checks a proof of meta/log under appHash and returns the log
// state it proves.
func ProvenLog(appHash []byte, p *pb.Proof, height int64) (LogState, error) {
	if p == nil || !bytes.Equal(p.Key, []byte(layout.KeyLog)) || !p.Exists {
		return LogState{}, Failf("no existence proof of %s", layout.KeyLog)
	}
	if err := Proof(appHash, p); err != nil {
		return LogState{}, err
	}
	size, root, err := layout.ParseLogState(p.Value)
	if err != nil {
		return LogState{}, Failf("%v", err)
	}
	return LogState{Height: height, Size: size, Root: root}, nil
}

// Included checks that tx is entry index of the proven log.
func Included(ls LogState, inc *pb.LogInclusion, index uint64, tx []byte) error {
	if inc == nil {
		return Failf("no log inclusion proof")
	}
	if inc.LogIndex != index {
		return Failf("inclusion proof is of log entry %d, the record is entry %d", inc.LogIndex, index)
	}
	if index >= ls.Size {
		return Failf("log entry %d is beyond the proven log of %d entries", index, ls.Size)
	}
	if err := logproof.VerifyInclusion(index, ls.Size, tx, inc.Hashes, ls.Root); err != nil {
		return Failf("log entry %d is not in the log of %d entries with root %X: %v", index, ls.Size, ls.Root, err)
	}
	return nil
}

// Consistent checks that cur's log extends prev's (or, if it is smaller,
// that prev's extends cur's) with an RFC 6962 consistency proof from the
// smaller to the larger. Two logs of one size must have one root.
func Consistent(prev, cur LogState, proof [][]byte) error {
	a, b := prev, cur
	if b.Size < a.Size {
		a, b = b, a
	}
	if a.Size == b.Size {
		if !bytes.Equal(a.Root, b.Root) {
			return Failf("the log of %d entries has root %X at height %d but %X at height %d: history was rewritten",
				a.Size, a.Root, a.Height, b.Root, b.Height)
		}
		return nil
	}
	if err := logproof.VerifyConsistency(a.Size, b.Size, proof, a.Root, b.Root); err != nil {
		return Failf("the log of %d entries (height %d) is not a prefix of the log of %d (height %d): history was rewritten: %v",
			a.Size, a.Height, b.Size, b.Height, err)
	}
	return nil
}
