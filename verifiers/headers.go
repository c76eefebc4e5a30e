package verifiers

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	cmtmath "github.com/cometbft/cometbft/libs/math"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/cometbft/cometbft/types"
)

// This file checks chains of headers with CometBFT's commit verification
// (package types) alone, without its light client (which needs a
// database, so it is not in js/wasm builds): what the browser verifier
// uses. Native verifiers use LightClient and VerifyBundle.

// headerTrustLevel is the part of a trusted validator set's voting power
// that must sign a header it vouches for across a skip: CometBFT's default
// (light.DefaultTrustLevel), as LightClient and VerifyBundle use it.
var headerTrustLevel = cmtmath.Fraction{Numerator: 1, Denominator: 3}

// HeaderTrust is what a header chain check starts from: a genesis document,
// or one header trusted by height and hash.
type HeaderTrust struct {
	// Genesis, if set, is the trusted genesis document (validated and
	// completed, as types.GenesisDocFromJSON returns it): its validators
	// vouch for the first header, which must name them if it is the
	// chain's first block.
	Genesis *types.GenesisDoc
	// Otherwise the first header must be the one at Height with hash Hash.
	Height int64
	Hash   []byte
	// ChainID, if set, must be the headers' chain id (with Genesis it is
	// the genesis document's; with Height and Hash, the trusted header's).
	ChainID string
}

// TrustGapError says a header could not be verified from the one before it
// because no more than a third of the trusted validator set's power signed
// it: a header between From and To must be verified first (CometBFT's light
// client bisects the same way). When the trusted validators are the
// genesis document's, From is the genesis' initial height minus one.
type TrustGapError struct {
	From, To int64
	Err      error
}

func (e *TrustGapError) Error() string {
	return fmt.Sprintf("%v: header %d cannot be trusted from header %d: %v (verify a header between them first)",
		ErrVerification, e.To, e.From, e.Err)
}

// Unwrap makes a TrustGapError a verification failure.
func (e *TrustGapError) Unwrap() []error { return []error{ErrVerification, e.Err} }

// DecodeLightBlocks decodes protobuf-encoded tendermint.types.LightBlocks
// (the light_block field of GetLightBlockResponse, the light_blocks of a
// bundle).
func DecodeLightBlocks(bzs [][]byte) ([]*types.LightBlock, error) {
	out := make([]*types.LightBlock, 0, len(bzs))
	for i, bz := range bzs {
		lb, err := decodeLightBlock(i, bz)
		if err != nil {
			return nil, err
		}
		out = append(out, lb)
	}
	return out, nil
}

func decodeLightBlock(i int, bz []byte) (*types.LightBlock, error) {
	p := new(cmtproto.LightBlock)
	if err := p.Unmarshal(bz); err != nil {
		return nil, Failf("light block %d does not decode: %v", i, err)
	}
	lb, err := types.LightBlockFromProto(p)
	if err != nil {
		return nil, Failf("light block %d: %v", i, err)
	}
	return lb, nil
}

// GenesisFromJSON checks that genesisJSON (a genesis document's exact
// bytes) has the SHA-256 hash wantHash, the genesis hash operators compare,
// and decodes it.
func GenesisFromJSON(genesisJSON, wantHash []byte) (*types.GenesisDoc, error) {
	got := sha256.Sum256(genesisJSON)
	if !bytes.Equal(got[:], wantHash) {
		return nil, Failf("the genesis document hashes to %x, not to the pinned genesis hash %x", got, wantHash)
	}
	gen, err := types.GenesisDocFromJSON(genesisJSON)
	if err != nil {
		return nil, Failf("genesis: %v", err)
	}
	return gen, nil
}

// genesisValidators is the validator set a (validated) genesis document
// names.
func genesisValidators(gen *types.GenesisDoc) *types.ValidatorSet {
	vals := make([]*types.Validator, 0, len(gen.Validators))
	for _, v := range gen.Validators {
		vals = append(vals, types.NewValidator(v.PubKey, v.Power))
	}
	return types.NewValidatorSet(vals)
}

// firstBlock checks the chain's first block against the genesis validators
// vs: it names them, and more than two thirds of them signed it.
func firstBlock(gen *types.GenesisDoc, vs *types.ValidatorSet, lb *types.LightBlock) error {
	if lb.Height != gen.InitialHeight {
		return Failf("first block has height %d, genesis says %d", lb.Height, gen.InitialHeight)
	}
	if !bytes.Equal(lb.ValidatorsHash, vs.Hash()) {
		return Failf("first block's validators are not the genesis validators")
	}
	if err := vs.VerifyCommitLight(gen.ChainID, lb.Commit.BlockID, lb.Height, lb.Commit); err != nil {
		return Failf("first block is not signed by the genesis validators: %v", err)
	}
	return nil
}

// VerifyFirstBlock checks the chain's first block against a validated
// genesis document (types.GenesisDoc.ValidateAndComplete): it is at the
// genesis' initial height, names the genesis validators, and more than two
// thirds of them signed it. It is how a trust root is derived from genesis.
func VerifyFirstBlock(gen *types.GenesisDoc, lb *types.LightBlock) error {
	return firstBlock(gen, genesisValidators(gen), lb)
}

// VerifyHeaders checks light blocks, in ascending height, from a trust
// root, the way CometBFT's light client verifies with skipping (trust level
// 1/3). Each block must pass ValidateBasic for the chain id, carry the
// validator set its header names, and be signed by more than two thirds of
// that set's power; and it must follow from the block verified before it:
// the next height must name the validators the previous block announced
// (NextValidatorsHash), a later one must be signed by more than a third of
// the previous block's validators' power (else a *TrustGapError). With a
// genesis trust root the genesis validators stand before the first block
// (which, at the genesis' initial height, must name exactly them).
//
// Unlike light.Verify it reads no clock: it does not check that trusted
// headers are within a trusting period nor that headers are not from the
// future, so headers signed by validators long since unbonded (a
// long-range attack) would pass. The trust root must be recent enough for
// the caller's purposes.
//
// It returns the blocks verified before any failure (all of them when err
// is nil).
func VerifyHeaders(trust HeaderTrust, blocks []*types.LightBlock) ([]*types.LightBlock, error) {
	if len(blocks) == 0 {
		return nil, Failf("no headers to verify")
	}
	chainID := trust.ChainID
	var prev *types.LightBlock       // the last verified block, nil for the genesis
	var prevVals *types.ValidatorSet // the validators that vouch for the next block
	switch {
	case trust.Genesis != nil:
		if chainID != "" && chainID != trust.Genesis.ChainID {
			return nil, Failf("genesis is of chain %q, not %q", trust.Genesis.ChainID, chainID)
		}
		chainID = trust.Genesis.ChainID
		prevVals = genesisValidators(trust.Genesis)
		if prevVals.Size() == 0 {
			return nil, Failf("genesis names no validators")
		}
	case trust.Height > 0 && len(trust.Hash) > 0:
		first := blocks[0]
		if first == nil || first.SignedHeader == nil || first.Header == nil {
			return nil, Failf("light block 0 is empty")
		}
		if first.Height != trust.Height {
			return nil, Failf("the first header is of height %d, the trusted header of %d", first.Height, trust.Height)
		}
		if !bytes.Equal(first.Hash(), trust.Hash) {
			return nil, Failf("the first header %X is not the trusted header %X", first.Hash(), trust.Hash)
		}
		if chainID == "" {
			chainID = first.ChainID
		}
	default:
		return nil, Failf("no trust root: give a genesis document or a trusted height and hash")
	}
	var out []*types.LightBlock
	for i, lb := range blocks {
		if lb == nil || lb.SignedHeader == nil || lb.Header == nil || lb.Commit == nil || lb.ValidatorSet == nil {
			return out, Failf("light block %d is incomplete", i)
		}
		if err := lb.ValidateBasic(chainID); err != nil {
			return out, Failf("header %d: %v", lb.Height, err)
		}
		if !bytes.Equal(lb.ValidatorsHash, lb.ValidatorSet.Hash()) {
			return out, Failf("header %d: its validator set is not the one it names", lb.Height)
		}
		if err := lb.ValidatorSet.VerifyCommitLight(chainID, lb.Commit.BlockID, lb.Height, lb.Commit); err != nil {
			return out, Failf("header %d is not signed by more than two thirds of its validators: %v", lb.Height, err)
		}
		switch {
		case prev == nil && prevVals == nil:
			// The trusted header itself (checked by hash above).
		case prev == nil:
			if lb.Height < trust.Genesis.InitialHeight {
				return out, Failf("header %d is before the genesis' initial height %d", lb.Height, trust.Genesis.InitialHeight)
			}
			if lb.Height == trust.Genesis.InitialHeight {
				if err := firstBlock(trust.Genesis, prevVals, lb); err != nil {
					return out, err
				}
				break
			}
			if err := trusting(prevVals, chainID, lb, trust.Genesis.InitialHeight-1); err != nil {
				return out, err
			}
		default:
			if lb.Height <= prev.Height {
				return out, Failf("header %d follows header %d: the headers are not in ascending order", lb.Height, prev.Height)
			}
			if !lb.Time.After(prev.Time) {
				return out, Failf("header %d has time %v, not after header %d's %v", lb.Height, lb.Time, prev.Height, prev.Time)
			}
			if lb.Height == prev.Height+1 {
				if !bytes.Equal(lb.ValidatorsHash, prev.NextValidatorsHash) {
					return out, Failf("header %d names validators %X, header %d announced %X",
						lb.Height, lb.ValidatorsHash, prev.Height, prev.NextValidatorsHash)
				}
				break
			}
			if err := trusting(prevVals, chainID, lb, prev.Height); err != nil {
				return out, err
			}
		}
		out = append(out, lb)
		prev, prevVals = lb, lb.ValidatorSet
	}
	return out, nil
}

// trusting checks that more than headerTrustLevel of the trusted validators
// vals (of header from) signed lb.
func trusting(vals *types.ValidatorSet, chainID string, lb *types.LightBlock, from int64) error {
	err := vals.VerifyCommitLightTrusting(chainID, lb.Commit, headerTrustLevel)
	if types.IsErrNotEnoughVotingPowerSigned(err) {
		return &TrustGapError{From: from, To: lb.Height, Err: err}
	}
	if err != nil {
		return Failf("header %d from header %d: %v", lb.Height, from, err)
	}
	return nil
}
