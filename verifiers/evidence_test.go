package verifiers_test

import (
	"errors"
	"testing"

	"github.com/cometbft/cometbft/crypto/ed25519"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// EvidenceMember accepts only the member entry that held the validator key
// the evidence is about.
func TestEvidenceMember(t *testing.T) {
	val := ed25519.GenPrivKeyFromSecret([]byte("validator")).PubKey()
	other := ed25519.GenPrivKeyFromSecret([]byte("other validator")).PubKey()
	ev := &pb.Evidence{Id: "9-0", Member: "xdd", ValidatorAddress: val.Address()}
	for _, tc := range []struct {
		name string
		m    *pb.Member
		ok   bool
	}{
		{"the member holding the key", &pb.Member{Id: "xdd", ValidatorPubKey: val.Bytes()}, true},
		{"another member's entry", &pb.Member{Id: "xcc", ValidatorPubKey: val.Bytes()}, false},
		{"the member held another validator key", &pb.Member{Id: "xdd", ValidatorPubKey: other.Bytes()}, false},
		{"the member held no validator key", &pb.Member{Id: "xdd"}, false},
		{"a validator key of the wrong size", &pb.Member{Id: "xdd", ValidatorPubKey: val.Bytes()[:31]}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verifiers.EvidenceMember(ev, tc.m)
			if tc.ok != (err == nil) {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, verifiers.ErrVerification) {
				t.Fatalf("%v is not a verification failure", err)
			}
		})
	}
}
