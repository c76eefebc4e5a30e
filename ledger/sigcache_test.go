package ledger_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The memo of decoded transactions and verified signatures changes no
// answer: every scenario transaction gives the same changes with and
// without it, applied once or again, and a remembered verification never
// stands in for a key the member no longer has, or no longer may use.
func TestSigCacheChangesNoAnswer(t *testing.T) {
	ms := fixture.Dev(3, fixture.SeededKey)
	byID := fixture.ByID(ms)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	plain := ledger.DefaultRegistry()
	cached := ledger.DefaultRegistry().WithSigCache(ledger.NewSigCache(1000))
	sp, sc := newMemState(ms), newMemState(ms)
	var ids []string
	seqs := map[string]uint64{}
	var first []byte
	for i, s := range fixture.Scenario(t0) {
		seqs[s.Author]++
		tx, err := s.Tx("memo", seqs[s.Author], byID, ids)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = tx
		}
		b := ledger.Block{ChainID: "memo", Height: int64(i + 1), Time: t0}
		want, err := plain.Apply(sp, tx, b)
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
		for round := 0; round < 3; round++ {
			got, err := cached.Apply(sc, tx, b)
			if err != nil {
				t.Fatalf("tx %d round %d: %v", i, round, err)
			}
			if !proto.Equal(got.Record, want.Record) || got.ContentHash != want.ContentHash || len(got.Obligations) != len(want.Obligations) {
				t.Fatalf("tx %d round %d: changes differ with the memo", i, round)
			}
			for j := range got.Obligations {
				if !proto.Equal(got.Obligations[j], want.Obligations[j]) {
					t.Fatalf("tx %d round %d: obligation %d differs", i, round, j)
				}
			}
		}
		sp.write(want)
		sc.write(want)
		ids = append(ids, want.Record.Id)
	}

	// The first tx again, on a fresh state, after the memo has seen it verify.
	b := ledger.Block{ChainID: "memo", Height: 1, Time: t0}
	author := mustDecode(t, first).Body.Signer
	if _, err := cached.Apply(newMemState(ms), first, b); err != nil {
		t.Fatal(err)
	}
	// Same key id, another public key: the signature must be checked anew.
	swapped := newMemState(ms)
	m := proto.Clone(swapped.members[author]).(*pb.Member)
	other := ms[0]
	if other.ID == author {
		other = ms[1]
	}
	m.Keys[0].PubKey = other.Key.PubKey().Bytes()
	swapped.members[author] = m
	if _, err := cached.Apply(swapped, first, b); ledger.CodeOf(err) != ledger.CodeBadSignature {
		t.Fatalf("swapped key: %v, want bad signature", err)
	}
	// Same key, revoked: the key's state is checked every time.
	revoked := newMemState(ms)
	m = proto.Clone(revoked.members[author]).(*pb.Member)
	m.Keys[0].Status = pb.KeyStatus_KEY_STATUS_REVOKED
	revoked.members[author] = m
	if _, err := cached.Apply(revoked, first, b); ledger.CodeOf(err) != ledger.CodeKeyInactive {
		t.Fatalf("revoked key: %v, want key inactive", err)
	}
	// And the remembered tx still verifies where the key is good.
	if _, err := cached.Apply(newMemState(ms), first, b); err != nil {
		t.Fatal(err)
	}
}
