package testnet

import (
	"path/filepath"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/privval"
)

func readPrivValidator(home string) (crypto.PrivKey, error) {
	pv := privval.LoadFilePV(filepath.Join(home, "config", "priv_validator_key.json"), filepath.Join(home, "data", "priv_validator_state.json"))
	return pv.Key.PrivKey, nil
}
