package genesis_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/node/genesis"
)

// A coordinator reads applications from every operator: decoding and
// verifying never panic, and only the signed application verifies (any
// change to what it says breaks a signature).
func FuzzApplication(f *testing.F) {
	o := apply(f, "fuzz-chain", "xaa", 10)
	good, err := protojson.Marshal(o.app)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"application":{}}`))
	f.Fuzz(func(t *testing.T, bz []byte) {
		s, err := genesis.DecodeApplication(bz)
		if err != nil {
			return
		}
		if genesis.Verify(s, "fuzz-chain") != nil {
			return
		}
		if !proto.Equal(s.Application, o.app.Application) {
			t.Fatalf("an application other than the signed one verified: %v", s.Application)
		}
		d, err := genesis.NewDraft("fuzz-chain")
		if err != nil {
			t.Fatal(err)
		}
		_ = genesis.Add(d, s)
	})
}
