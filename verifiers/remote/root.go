package remote

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	lightstore "github.com/cometbft/cometbft/light/store/db"
	"github.com/cometbft/cometbft/types"
)

// RootSpec names a trust root the way an operator gives it (the
// --genesis, --trust-height, --trust-hash and --trust-period flags): a
// genesis file whose validators must have signed the chain's first block,
// or a header by height and hex hash. Neither gives a zero root, which a
// LightClient with a trust store resumes from.
type RootSpec struct {
	GenesisFile string
	Height      int64
	Hash        string
	Period      time.Duration
}

// Root resolves the spec, fetching the first block from src for a genesis
// root.
func (s RootSpec) Root(ctx context.Context, src LightBlockSource) (TrustRoot, error) {
	root := TrustRoot{Period: s.Period}
	switch {
	case s.GenesisFile != "":
		gen, err := types.GenesisDocFromFile(s.GenesisFile)
		if err != nil {
			return root, err
		}
		r, err := TrustFromGenesis(ctx, gen, src)
		if err != nil {
			return root, err
		}
		r.Period = s.Period
		return r, nil
	case s.Height != 0 || s.Hash != "":
		h, err := hex.DecodeString(s.Hash)
		if err != nil || len(h) != 32 || s.Height <= 0 {
			return root, errors.New("--trust-height needs a positive height and --trust-hash a 32-byte hex hash")
		}
		root.Height, root.Hash = s.Height, h
	}
	return root, nil
}

// StoredRoot is the newest verified header of the trust store in dir (a
// LightClient's dbDir) as a trust root; ok is false when there is none (or
// no store). It opens the store only for the look, so it fails while a
// LightClient holds it.
func StoredRoot(dir, chainID string) (root TrustRoot, ok bool, err error) {
	if dir == "" {
		return root, false, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "light-trust.db")); errors.Is(err, os.ErrNotExist) {
		return root, false, nil
	}
	db, err := dbm.NewGoLevelDB("light-trust", dir)
	if err != nil {
		return root, false, fmt.Errorf("open (is another verify or monitor using it?): %w", err)
	}
	defer db.Close()
	s := lightstore.New(db, chainID)
	h, err := s.LastLightBlockHeight()
	if err != nil || h <= 0 {
		return root, false, err
	}
	lb, err := s.LightBlock(h)
	if err != nil {
		return root, false, err
	}
	return TrustRoot{Height: h, Hash: lb.Hash()}, true, nil
}
