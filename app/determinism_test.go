package app

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// genBlocks makes n transactions, valid and invalid, grouped into blocks.
// Validity is intended, not assumed: the test checks how many were accepted.
func genBlocks(t *testing.T, rng *rand.Rand, n int) [][][]byte {
	g := newHarness(t) // used only to sign; its app is never fed
	states := []string{"xaa", "xbb", "xcc"}
	type notif struct {
		id         string
		recipients []string
	}
	var notifs []notif
	var all [][]byte
	var blocks [][][]byte
	for len(all) < n {
		size := 1 + rng.IntN(25)
		var blk [][]byte
		for i := 0; i < size && len(all) < n; i++ {
			k := len(all)
			author := states[rng.IntN(len(states))]
			var tx []byte
			switch r := rng.IntN(100); {
			case r < 35: // valid notification
				var rcpt []string
				for _, s := range append(states, "observatory", "lumen") {
					if s != author && rng.IntN(2) == 0 {
						rcpt = append(rcpt, s)
					}
				}
				if len(rcpt) == 0 {
					rcpt = []string{"lumen"}
				}
				tx = g.sign(author, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Notification{Notification: &pb.Notification{
					Type: pb.NotificationType_NOTIFICATION_TYPE_INFORMATION, Recipients: rcpt, Summary: fmt.Sprintf("note %d", k),
					ExcludedSectors: []pb.Sector{pb.Sector(1 + rng.IntN(13))},
				}}})
				notifs = append(notifs, notif{ledger.RecordID(tx), rcpt})
			case r < 50 && len(notifs) > 0: // valid acknowledgement by a recipient
				nt := notifs[rng.IntN(len(notifs))]
				who := nt.recipients[rng.IntN(len(nt.recipients))]
				tx = g.sign(who, &pb.Record{SchemaVersion: 1, Body: &pb.Record_Acknowledgement{Acknowledgement: &pb.Acknowledgement{
					NotificationId: nt.id, Note: fmt.Sprintf("ack %d", k)}}})
			case r < 65: // valid disclosure
				at := t0.Add(-time.Duration(1+rng.IntN(1000)) * time.Minute)
				tx = g.sign(author, &pb.Record{SchemaVersion: 1, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
					IncidentRef: fmt.Sprintf("INC-%d", k), Stage: pb.DisclosureStage_DISCLOSURE_STAGE_NOTIFICATION,
					Role: pb.IncidentRole_INCIDENT_ROLE_AFFECTED, Sectors: []pb.Sector{pb.Sector(1 + rng.IntN(13))},
					AffectedStates: []string{author}, DetectedAt: timestamppb.New(at), AwareAt: timestamppb.New(at.Add(time.Minute)),
					Severity: pb.Severity(1 + rng.IntN(4)), Summary: "generated",
				}}})
			case r < 75 && len(all) > 0: // replay of an earlier tx
				tx = all[rng.IntN(len(all))]
			case r < 85: // a would-be valid tx with one random byte flipped (sequence not consumed)
				v := g.signSeq(author, g.nextSeq(author), note(fmt.Sprintf("flip %d", k)))
				v = append([]byte(nil), v...)
				v[rng.IntN(len(v))] ^= byte(1 + rng.IntN(255))
				tx = v
			case r < 92: // sequence gap
				tx = g.signSeq(author, g.nextSeq(author)+uint64(1+rng.IntN(3)), note(fmt.Sprintf("gap %d", k)))
			default: // garbage
				tx = make([]byte, 1+rng.IntN(200))
				for j := range tx {
					tx[j] = byte(rng.Uint32())
				}
			}
			blk = append(blk, tx)
			all = append(all, tx)
		}
		blocks = append(blocks, blk)
	}
	return blocks
}

// The same blocks fed to two fresh apps give identical results and app
// hashes at every height.
func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261122, 1))
	blocks := genBlocks(t, rng, 1000)
	a, b := newHarness(t), newHarness(t)
	accepted, rejected := 0, 0
	codes := map[uint32]int{}
	for hgt, blk := range blocks {
		ra, rb := a.block(blk...), b.block(blk...)
		if !bytes.Equal(ra.AppHash, rb.AppHash) {
			t.Fatalf("height %d: app hashes differ: %X vs %X", hgt+1, ra.AppHash, rb.AppHash)
		}
		for i := range blk {
			if ra.TxResults[i].Code != rb.TxResults[i].Code || ra.TxResults[i].Log != rb.TxResults[i].Log {
				t.Fatalf("height %d tx %d: results differ: %d %q vs %d %q", hgt+1, i,
					ra.TxResults[i].Code, ra.TxResults[i].Log, rb.TxResults[i].Code, rb.TxResults[i].Log)
			}
			codes[ra.TxResults[i].Code]++
			if ra.TxResults[i].Code == 0 {
				accepted++
			} else {
				rejected++
			}
		}
	}
	t.Logf("%d blocks, %d accepted, %d rejected, codes %v", len(blocks), accepted, rejected, codes)
	// The generator must really exercise both paths.
	if accepted < 400 || rejected < 200 {
		t.Fatalf("generator degenerate: %d accepted, %d rejected", accepted, rejected)
	}
	if len(codes) < 5 {
		t.Fatalf("only %d distinct result codes", len(codes))
	}
}
