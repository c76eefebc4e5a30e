package verifiers_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

func TestCheckFlags(t *testing.T) {
	c := chain(t)
	rec := c.record(t, c.note2) // xbb, height 2
	h := c.top
	xbb, err := verifiers.Member(c.root(t, h), "xbb", c.memberAnswer(t, h, "xbb"))
	if err != nil {
		t.Fatal(err)
	}
	keyID := c.members["xbb"].Signer().KeyID()
	if xbb.Keys[0].KeyId != keyID {
		t.Fatalf("fixture: xbb's key is %s, signer's %s", xbb.Keys[0].KeyId, keyID)
	}
	const revokedBy = "feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface"
	// compromise marks xbb's key revoked as compromised since height since
	// (and, if at is set, since that time).
	compromise := func(since int64, at *time.Time) func(ms map[string]*pb.Member) {
		return func(ms map[string]*pb.Member) {
			k := ms["xbb"].Keys[0]
			k.Status, k.ValidUntilHeight, k.EndedBy = pb.KeyStatus_KEY_STATUS_REVOKED, h, revokedBy
			k.CompromisedSinceHeight = since
			if at != nil {
				k.CompromisedSinceTime = timestamppb.New(*at)
			}
		}
	}
	// flag is the warning the node derives for rec with xbb's key
	// compromised since height since (see node/api flags).
	flag := func(since int64) *pb.RecordFlag {
		return &pb.RecordFlag{RecordId: rec.Id, Member: "xbb", KeyId: keyID, Reason: ledger.FlagKeyCompromised,
			CompromisedSinceHeight: since, RevokedBy: revokedBy}
	}
	with := func(f *pb.RecordFlag, mutate func(f *pb.RecordFlag)) *pb.RecordFlag {
		f = proto.Clone(f).(*pb.RecordFlag)
		mutate(f)
		return f
	}
	blockTime := rec.BlockTime.AsTime()
	later := blockTime.Add(time.Hour)
	cases := []struct {
		name    string
		members func(ms map[string]*pb.Member)
		claimed []*pb.RecordFlag
		rec     func(r *pb.StoredRecord)
		want    int // flags derived, when ok
		ok      bool
	}{
		{name: "no compromise, no flags", ok: true},
		{name: "compromised at the record's height, flagged", members: compromise(rec.Height, nil),
			claimed: []*pb.RecordFlag{flag(rec.Height)}, want: 1, ok: true},
		{name: "compromised before the record, flagged", members: compromise(1, nil),
			claimed: []*pb.RecordFlag{flag(1)}, want: 1, ok: true},
		{name: "compromised since the record's block time, flagged", members: compromise(0, &blockTime),
			claimed: []*pb.RecordFlag{with(flag(0), func(f *pb.RecordFlag) { f.CompromisedSinceTime = timestamppb.New(blockTime) })},
			want:    1, ok: true},
		{name: "compromised only after the record, no flag", members: compromise(rec.Height+1, nil), ok: true},
		{name: "compromised only after the record's time, no flag", members: compromise(0, &later), ok: true},
		{name: "flags about other records are not this record's", claimed: []*pb.RecordFlag{
			with(flag(rec.Height), func(f *pb.RecordFlag) { f.RecordId = c.note1 })}, ok: true},
		{name: "claimed flag missing", members: compromise(rec.Height, nil)},
		{name: "claimed flag only for another record", members: compromise(rec.Height, nil), claimed: []*pb.RecordFlag{
			with(flag(rec.Height), func(f *pb.RecordFlag) { f.RecordId = c.note1 })}},
		{name: "extra flag without a compromise", claimed: []*pb.RecordFlag{flag(rec.Height)}},
		{name: "extra flag for a compromise after the record", members: compromise(rec.Height+1, nil),
			claimed: []*pb.RecordFlag{flag(rec.Height + 1)}},
		{name: "flag claimed twice", members: compromise(rec.Height, nil),
			claimed: []*pb.RecordFlag{flag(rec.Height), flag(rec.Height)}},
		{name: "different compromise height", members: compromise(rec.Height, nil),
			claimed: []*pb.RecordFlag{flag(1)}},
		{name: "different member", members: compromise(rec.Height, nil),
			claimed: []*pb.RecordFlag{with(flag(rec.Height), func(f *pb.RecordFlag) { f.Member = "xaa" })}},
		{name: "different key", members: compromise(rec.Height, nil),
			claimed: []*pb.RecordFlag{with(flag(rec.Height), func(f *pb.RecordFlag) { f.KeyId = "0000000000000000" })}},
		{name: "different reason", members: compromise(rec.Height, nil),
			claimed: []*pb.RecordFlag{with(flag(rec.Height), func(f *pb.RecordFlag) { f.Reason = "key_lost" })}},
		{name: "different revoking record", members: compromise(rec.Height, nil),
			claimed: []*pb.RecordFlag{with(flag(rec.Height), func(f *pb.RecordFlag) { f.RevokedBy = c.note1 })}},
		{name: "compromise time added", members: compromise(rec.Height, nil),
			claimed: []*pb.RecordFlag{with(flag(rec.Height), func(f *pb.RecordFlag) { f.CompromisedSinceTime = timestamppb.New(blockTime) })}},
		{name: "undecodable tx", rec: func(r *pb.StoredRecord) { r.Tx = []byte{0xff} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, ms := signedInputs(rec, xbb, tc.rec, tc.members)
			got, err := verifiers.CheckFlags(r, ms, tc.claimed)
			checkOutcome(t, tc.ok, err)
			if !tc.ok {
				return
			}
			if len(got) != tc.want {
				t.Fatalf("derived %d flags, want %d: %v", len(got), tc.want, got)
			}
			// What the verifier derives is what the honest node claimed.
			var mine []*pb.RecordFlag
			for _, f := range tc.claimed {
				if f.RecordId == r.Id {
					mine = append(mine, f)
				}
			}
			for i := range got {
				if !proto.Equal(got[i], mine[i]) {
					t.Fatalf("derived flag %v, node claimed %v", got[i], mine[i])
				}
			}
		})
	}
}

// The honest flag built by hand above is the one ledger.Flags (which the
// node's API uses) derives, so the table tests what a node really sends.
func TestCheckFlagsMatchesLedgerFlags(t *testing.T) {
	c := chain(t)
	rec := c.record(t, c.note2)
	m, err := c.view(t, c.top).Member("xbb")
	if err != nil {
		t.Fatal(err)
	}
	m = proto.Clone(m).(*pb.Member)
	m.Keys[0].CompromisedSinceHeight, m.Keys[0].EndedBy = rec.Height, c.note1
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(id string) (*pb.Member, error) {
		if id == "xbb" {
			return m, nil
		}
		return nil, nil
	}
	node, err := ledger.Flags(rec, tx, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := &pb.RecordFlag{RecordId: rec.Id, Member: "xbb", KeyId: m.Keys[0].KeyId, Reason: ledger.FlagKeyCompromised,
		CompromisedSinceHeight: rec.Height, RevokedBy: c.note1}
	if len(node) != 1 || !proto.Equal(node[0], want) {
		t.Fatalf("ledger.Flags gives %v, want [%v]", node, want)
	}
	got, err := verifiers.CheckFlags(rec, map[string]*pb.Member{"xbb": m}, node)
	if err != nil || len(got) != 1 || !proto.Equal(got[0], want) {
		t.Fatalf("CheckFlags: %v, %v", got, err)
	}
}
