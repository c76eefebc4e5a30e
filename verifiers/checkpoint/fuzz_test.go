package checkpoint_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/verifiers/checkpoint"
)

// Checkpoints come from nodes and witnesses a verifier does not trust:
// opening one never panics, and one is accepted only with the header the
// light client vouches for and the size and root that header commits to.
func FuzzOpen(f *testing.F) {
	msg, size, root, lb := signedCheckpoint(f)
	f.Add(msg)
	f.Add(append(append([]byte(nil), msg...), "\u2014 normledger-witness/lumen AAAAAAAA\n"...))
	check := func(got *types.LightBlock) error {
		if !bytes.Equal(got.Hash(), lb.Hash()) {
			return errors.New("another header")
		}
		return nil
	}
	f.Fuzz(func(t *testing.T, bz []byte) {
		c, err := checkpoint.Open(bz, chainID, nil, check)
		if err != nil {
			return
		}
		if c.Size != size || !bytes.Equal(c.Root, root) || c.Height != lb.Height-1 {
			t.Fatalf("accepted a checkpoint of size %d root %X at %d", c.Size, c.Root, c.Height)
		}
	})
}

// Witness policies are files a verifier is handed: parsing never panics.
func FuzzParsePolicy(f *testing.F) {
	f.Add("witness normledger-witness/lumen normledger-witness/lumen+0a1b2c3d+AYEiWtaYv6HpzYBr8fjKuf7HiGm6U7xRl6tqoEhVxtTw\nquorum 1\n")
	f.Add("quorum 2\n")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := checkpoint.ParsePolicy(text)
		if err == nil && p == nil {
			t.Fatal("no policy and no error")
		}
	})
}
