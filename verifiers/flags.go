package verifiers

import (
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// CheckFlags derives a record's flags from proven member entries and
// requires the node's flags (claimed) to be exactly those: a node that hides
// a compromise warning, or invents one, is caught.
func CheckFlags(rec *pb.StoredRecord, members map[string]*pb.Member, claimed []*pb.RecordFlag) ([]*pb.RecordFlag, error) {
	tx, err := ledger.DecodeTx(rec.Tx, 0)
	if err != nil {
		return nil, Failf("record %s: %v", rec.Id, err)
	}
	want, err := ledger.Flags(rec, tx, func(id string) (*pb.Member, error) { return members[id], nil })
	if err != nil {
		return nil, err
	}
	var mine []*pb.RecordFlag
	for _, f := range claimed {
		if f.RecordId == rec.Id {
			mine = append(mine, f)
		}
	}
	if len(mine) != len(want) {
		return nil, Failf("record %s: the node reports %d warnings, the proven member entries give %d", rec.Id, len(mine), len(want))
	}
	for i := range want {
		if !proto.Equal(want[i], mine[i]) {
			return nil, Failf("record %s: the node's warning %d differs from the proven member entries", rec.Id, i)
		}
	}
	return want, nil
}
