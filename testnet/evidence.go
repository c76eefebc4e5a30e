package testnet

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/cometbft/cometbft/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

// DoubleSign makes what a second copy of a validator would produce: two
// conflicting prevotes for the same height and round, signed with the
// validator's own key (bypassing its double-sign guard), as duplicate-vote
// evidence against the validator set vals of that height, whose block time
// was blockTime. Fault tests send it to CometBFT's broadcast_evidence.
func DoubleSign(pv *privval.FilePV, chainID string, height int64, blockTime time.Time, vals *cmttypes.ValidatorSet) (*cmttypes.DuplicateVoteEvidence, error) {
	idx, _ := vals.GetByAddress(pv.Key.PubKey.Address())
	if idx < 0 {
		return nil, fmt.Errorf("validator %X is not in the set", pv.Key.PubKey.Address())
	}
	vote := func(tag string) (*cmttypes.Vote, error) {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%s", chainID, height, tag)))
		v := &cmttypes.Vote{Type: cmtproto.PrevoteType, Height: height, Round: 0, Timestamp: blockTime,
			BlockID:          cmttypes.BlockID{Hash: h[:], PartSetHeader: cmttypes.PartSetHeader{Total: 1, Hash: h[:]}},
			ValidatorAddress: pv.Key.PubKey.Address(), ValidatorIndex: idx}
		sig, err := pv.Key.PrivKey.Sign(cmttypes.VoteSignBytes(chainID, v.ToProto()))
		v.Signature = sig
		return v, err
	}
	a, err := vote("a")
	if err != nil {
		return nil, err
	}
	b, err := vote("b")
	if err != nil {
		return nil, err
	}
	return cmttypes.NewDuplicateVoteEvidence(a, b, blockTime, vals)
}
