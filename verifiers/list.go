package verifiers

import (
	"bytes"
	"strconv"
	"time"

	ics23 "github.com/cosmos/ics23/go"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ListQuery is a listing as the verifier asked for it.
type ListQuery struct {
	Kind, Author, Subject, Sector string
	// After is the page token asked with (a record seq; 0: the first page)
	// and AfterHeight that record's block height, from the verified
	// previous page (0 for the first page).
	After       uint64
	AfterHeight int64
	// Limit is the page size asked for (0: the server's default, 50).
	Limit int
	// From and To are the time bounds asked for, when HasFrom / HasTo (a
	// non-zero From or To is a bound too).
	From, To       time.Time
	HasFrom, HasTo bool
}

func (q ListQuery) hasFrom() bool { return q.HasFrom || !q.From.IsZero() }
func (q ListQuery) hasTo() bool   { return q.HasTo || !q.To.IsZero() }

// ListResult is a verified page.
type ListResult struct {
	Records []*pb.StoredRecord
	// Complete says the page is proven complete: no record that matches
	// was left out before or inside it, and a next page token is given
	// exactly when more follow. Listings by more than one of kind, author,
	// subject and sector, or with time bounds, prove each record only.
	Complete bool
	Log      LogState
}

// List checks a ListRecordsResponse (with prove=true) against appHash (the
// app hash in header resp.Height+1). Every record must be proven (its
// RecordRef and its inclusion in the proven record log) and match the
// query; a listing by one index, or by none, must also prove that it is
// complete (docs/proofs.md).
func List(appHash []byte, q ListQuery, resp *pb.ListRecordsResponse) (*ListResult, error) {
	if resp == nil {
		return nil, Failf("no listing")
	}
	ls, err := ProvenLog(appHash, resp.LogProof, resp.Height)
	if err != nil {
		return nil, err
	}
	if len(resp.Proofs) != len(resp.Records) || len(resp.Inclusions) != len(resp.Records) {
		return nil, Failf("%d records with %d proofs and %d inclusion proofs", len(resp.Records), len(resp.Proofs), len(resp.Inclusions))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 200 {
		limit = 200
	}
	if len(resp.Records) > limit {
		return nil, Failf("%d records for a limit of %d", len(resp.Records), limit)
	}
	out := &ListResult{Log: ls}
	last := q.After
	for i, r := range resp.Records {
		rec, err := listedRecord(appHash, ls, r, resp.Proofs[i], resp.Inclusions[i])
		if err != nil {
			return nil, Failf("record %d of the page: %v", i, err)
		}
		if rec.Seq <= last {
			return nil, Failf("record %d of the page (seq %d) is not after seq %d", i, rec.Seq, last)
		}
		last = rec.Seq
		if q.Kind != "" && ledger.KindNameOf(rec.Kind) != q.Kind || q.Author != "" && rec.Author != q.Author {
			return nil, Failf("record %s does not match the query", rec.Id)
		}
		bt := rec.BlockTime.AsTime()
		if q.hasFrom() && bt.Before(q.From) || q.hasTo() && !bt.Before(q.To) {
			return nil, Failf("record %s lies outside the time bounds", rec.Id)
		}
		out.Records = append(out.Records, rec)
	}
	var next uint64
	if resp.NextPageToken != "" {
		if next, err = strconv.ParseUint(resp.NextPageToken, 10, 64); err != nil {
			return nil, Failf("next page token %q is not a seq", resp.NextPageToken)
		}
	}
	index, value, named := layout.ListIndex(q.Sector, q.Kind, q.Author, q.Subject)
	provable := named <= 1 && !q.hasFrom() && !q.hasTo()
	if resp.NextPageToken != "" {
		// A page that cannot be proven complete may also end early at the
		// server's work limit, with a token past the records it examined.
		if provable && (len(out.Records) != limit || next != last) || !provable && next < last {
			return nil, Failf("a next page token after a page of %d of %d records ending at seq %d", len(out.Records), limit, last)
		}
	}
	if !provable {
		return out, nil
	}
	if named == 0 {
		// The page must be the log's entries after After, in a run.
		for i, r := range out.Records {
			if r.Seq != q.After+uint64(i)+1 {
				return nil, Failf("record %d of the page is seq %d, not %d: records were left out", i, r.Seq, q.After+uint64(i)+1)
			}
		}
		end := q.After + uint64(len(out.Records))
		if next == 0 && end < ls.Size {
			return nil, Failf("the page ends at seq %d without a next page, but the log holds %d records", end, ls.Size)
		}
		if next != 0 && end >= ls.Size {
			return nil, Failf("a next page token, but the page reaches the log's end (%d)", ls.Size)
		}
		out.Complete = true
		return out, nil
	}
	seqs, heights, err := walkIndex(appHash, layout.IndexPrefix(index, value), q.AfterHeight, resp.IndexProofs, next != 0)
	if err != nil {
		return nil, err
	}
	var want []uint64
	for _, s := range seqs {
		if s > q.After {
			want = append(want, s)
		}
	}
	if len(want) < len(out.Records) {
		return nil, Failf("the index holds %d records after seq %d, the page lists %d", len(want), q.After, len(out.Records))
	}
	for i, r := range out.Records {
		if r.Seq != want[i] {
			return nil, Failf("record %d of the page is seq %d, the index's is %d: records were left out or added", i, r.Seq, want[i])
		}
		if heights[r.Seq] != r.Height {
			return nil, Failf("record %d (seq %d) is indexed at height %d but was committed at %d", i, r.Seq, heights[r.Seq], r.Height)
		}
	}
	if next == 0 && len(want) != len(out.Records) {
		return nil, Failf("the index holds %d records after seq %d, the page lists %d and gives no next page", len(want), q.After, len(out.Records))
	}
	if next != 0 && len(want) == len(out.Records) {
		return nil, Failf("a next page token, but the index holds no record after seq %d", last)
	}
	out.Complete = true
	return out, nil
}

// listedRecord checks one record of a listing: its RecordRef proof and its
// inclusion in the proven log.
func listedRecord(appHash []byte, ls LogState, r *pb.StoredRecord, p *pb.Proof, inc *pb.LogInclusion) (*pb.StoredRecord, error) {
	if r == nil {
		return nil, Failf("an empty record")
	}
	idKey, err := layout.ID(r.Id)
	if err != nil {
		return nil, Failf("%v", err)
	}
	if p == nil || !bytes.Equal(p.Key, idKey) || !p.Exists {
		return nil, Failf("the proof is not of the state entry of %s", r.Id)
	}
	if err := Proof(appHash, p); err != nil {
		return nil, err
	}
	ref := new(pb.RecordRef)
	if err := proto.Unmarshal(p.Value, ref); err != nil || ref.Seq == 0 {
		return nil, Failf("the proven state entry of %s is not a RecordRef", r.Id)
	}
	if ledger.RecordID(r.Tx) != r.Id {
		return nil, Failf("the transaction does not hash to %s", r.Id)
	}
	if err := Included(ls, inc, ref.Seq-1, r.Tx); err != nil {
		return nil, err
	}
	want := &pb.StoredRecord{Id: r.Id, Seq: ref.Seq, Height: ref.Height, BlockTime: ref.BlockTime, TxIndex: ref.TxIndex,
		Kind: ref.Kind, Author: ref.Author, Tx: r.Tx}
	if !proto.Equal(ledger.Bare(r), want) {
		return nil, Failf("record %s differs from its proven state entry and log entry", r.Id)
	}
	tx, err := ledger.DecodeTx(r.Tx, 0)
	if err != nil {
		return nil, Failf("record %s: %v", r.Id, err)
	}
	if ledger.KindOf(tx.Body.Record) != ref.Kind || tx.Body.Signer != ref.Author {
		return nil, Failf("the proven state entry of %s names a kind or author its transaction does not", r.Id)
	}
	if err := readableMatches(r, tx); err != nil {
		return nil, err
	}
	want.Decoded, want.Signers = tx, ledger.TxSigners(tx)
	return want, nil
}

// walkIndex follows a listing's index proofs over the keys of one index
// value from the entry of height from on: each proof is of the key the
// walk stands at, and yields the entry there (an existence proof) or its
// right neighbour (an absence proof, whose neighbours ICS23 proves
// adjacent), so no entry can be skipped. Unless stopped (the page was
// full), the walk must end with proof that no entry follows. It returns
// the entries' seqs in order and each seq's block height.
func walkIndex(appHash, prefix []byte, from int64, proofs []*pb.Proof, stopped bool) ([]uint64, map[uint64]int64, error) {
	cursor := layout.Cat(prefix, layout.U64(uint64(from)))
	var seqs []uint64
	heights := map[uint64]int64{}
	ended := false
	take := func(key, value []byte) error {
		h, ok := layout.IndexHeight(key)
		if !ok || len(key) != len(prefix)+8 {
			return Failf("index key %x is malformed", key)
		}
		ss, err := layout.Seqs(value)
		if err != nil {
			return Failf("index entry %x: %v", key, err)
		}
		for _, s := range ss {
			if len(seqs) > 0 && s <= seqs[len(seqs)-1] {
				return Failf("index entry %x: seqs out of order", key)
			}
			seqs = append(seqs, s)
			heights[s] = h
		}
		return nil
	}
	for i, p := range proofs {
		if ended {
			return nil, nil, Failf("index proof %d follows the end of the index", i)
		}
		if p == nil || !bytes.Equal(p.Key, cursor) {
			return nil, nil, Failf("index proof %d is not of key %x, where the walk stands", i, cursor)
		}
		if err := Proof(appHash, p); err != nil {
			return nil, nil, err
		}
		var key, value []byte
		if p.Exists {
			key, value = p.Key, p.Value
		} else {
			cp := new(ics23.CommitmentProof)
			if err := cp.Unmarshal(p.Proof); err != nil {
				return nil, nil, Failf("index proof %d: %v", i, err)
			}
			right := cp.GetNonexist().GetRight()
			if right == nil || !bytes.HasPrefix(right.Key, prefix) {
				ended = true
				continue
			}
			key, value = right.Key, right.Value
		}
		if err := take(key, value); err != nil {
			return nil, nil, err
		}
		cursor = append(append([]byte(nil), key...), 0)
	}
	if len(proofs) == 0 {
		return nil, nil, Failf("no index proofs")
	}
	if !stopped && !ended {
		return nil, nil, Failf("the index proofs stop at %x without showing the index ends there", cursor)
	}
	return seqs, heights, nil
}
