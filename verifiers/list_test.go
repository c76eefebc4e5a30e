package verifiers_test

import (
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// listAnswer is ListRecords with prove=true as node/api assembles it.
func (c *testChain) listAnswer(t *testing.T, h int64, f store.Filter) *pb.ListRecordsResponse {
	t.Helper()
	v := c.view(t, h)
	page, err := v.ListPage(f)
	if err != nil {
		t.Fatal(err)
	}
	out := &pb.ListRecordsResponse{Height: v.Version()}
	for _, r := range page.Records {
		out.Records = append(out.Records, ledger.Readable(r))
	}
	if page.Next != 0 {
		out.NextPageToken = strconv.FormatUint(page.Next, 10)
	}
	if err := v.ProveList(page, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func seqsOf(recs []*pb.StoredRecord) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

// The fixture: seq 1 note by xaa (height 1), 2 note by xbb (2), 3 and 4
// proposals by xaa and xbb (3), 5 and 6 votes by xaa and xbb (4).
func TestList(t *testing.T) {
	c := chain(t)
	h := c.top
	root := c.root(t, h)
	byXaa := c.listAnswer(t, h, store.Filter{Author: "xaa"})
	page1 := c.listAnswer(t, h, store.Filter{Author: "xaa", Limit: 2})
	page2 := c.listAnswer(t, h, store.Filter{Author: "xaa", Limit: 2, After: 3})
	byXbb := c.listAnswer(t, h, store.Filter{Author: "xbb"})
	all := c.listAnswer(t, h, store.Filter{})
	all4 := c.listAnswer(t, h, store.Filter{Limit: 4})
	early := c.listAnswer(t, 2, store.Filter{Author: "xaa"})
	if got := seqsOf(byXaa.Records); len(got) != 3 || got[0] != 1 || got[2] != 5 {
		t.Fatalf("fixture: xaa's records %v", got)
	}
	if page1.NextPageToken != "3" || len(page2.Records) != 1 || page2.NextPageToken != "" {
		t.Fatalf("fixture: pages %v %q, %v %q", seqsOf(page1.Records), page1.NextPageToken, seqsOf(page2.Records), page2.NextPageToken)
	}
	drop := func(r *pb.ListRecordsResponse, i int) {
		r.Records = append(r.Records[:i:i], r.Records[i+1:]...)
		r.Proofs = append(r.Proofs[:i:i], r.Proofs[i+1:]...)
		r.Inclusions = append(r.Inclusions[:i:i], r.Inclusions[i+1:]...)
	}
	xaa := verifiers.ListQuery{Author: "xaa"}
	cases := []struct {
		name     string
		answer   *pb.ListRecordsResponse
		q        verifiers.ListQuery
		mutate   func(r *pb.ListRecordsResponse)
		hash     []byte // nil: the root at h
		ok       bool
		complete bool
		seqs     int
	}{
		{name: "one author, one page", answer: byXaa, q: xaa, ok: true, complete: true, seqs: 3},
		{name: "one author, first page of two", answer: page1, q: verifiers.ListQuery{Author: "xaa", Limit: 2}, ok: true, complete: true, seqs: 2},
		{name: "one author, second page", answer: page2, q: verifiers.ListQuery{Author: "xaa", Limit: 2, After: 3, AfterHeight: 3}, ok: true, complete: true, seqs: 1},
		{name: "one kind", answer: c.listAnswer(t, h, store.Filter{Kind: "proposal"}), q: verifiers.ListQuery{Kind: "proposal"}, ok: true, complete: true, seqs: 2},
		{name: "a kind with no records", answer: c.listAnswer(t, h, store.Filter{Kind: "pledge"}), q: verifiers.ListQuery{Kind: "pledge"}, ok: true, complete: true},
		{name: "no filter", answer: all, ok: true, complete: true, seqs: 6},
		{name: "no filter, first page", answer: all4, q: verifiers.ListQuery{Limit: 4}, ok: true, complete: true, seqs: 4},
		{name: "two filters: records proven, completeness not", answer: c.listAnswer(t, h, store.Filter{Author: "xaa", Kind: "vote"}),
			q: verifiers.ListQuery{Author: "xaa", Kind: "vote"}, ok: true, seqs: 1},
		{name: "an earlier height", answer: early, q: xaa, hash: c.root(t, 2), ok: true, complete: true, seqs: 1},

		{name: "a record left out of the middle", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) { drop(r, 1) }},
		{name: "the last record left out", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) { drop(r, 2) }},
		{name: "next page token removed", answer: page1, q: verifiers.ListQuery{Author: "xaa", Limit: 2}, mutate: func(r *pb.ListRecordsResponse) { r.NextPageToken = "" }},
		{name: "next page token on the last page", answer: page2, q: verifiers.ListQuery{Author: "xaa", Limit: 2, After: 3, AfterHeight: 3},
			mutate: func(r *pb.ListRecordsResponse) { r.NextPageToken = "5" }},
		{name: "page shortened, token kept", answer: page1, q: verifiers.ListQuery{Author: "xaa", Limit: 2}, mutate: func(r *pb.ListRecordsResponse) {
			drop(r, 1)
			r.NextPageToken = "1"
		}},
		{name: "second page from the wrong height", answer: page2, q: verifiers.ListQuery{Author: "xaa", Limit: 2, After: 3, AfterHeight: 1}},
		{name: "a record of another author added", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) {
			r.Records = append(r.Records, byXbb.Records[0])
			r.Proofs = append(r.Proofs, byXbb.Proofs[0])
			r.Inclusions = append(r.Inclusions, byXbb.Inclusions[0])
		}},
		{name: "the end-of-index proof removed", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) { r.IndexProofs = r.IndexProofs[:len(r.IndexProofs)-1] }},
		{name: "an index proof removed", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) {
			r.IndexProofs = append(r.IndexProofs[:1:1], r.IndexProofs[2:]...)
		}},
		{name: "no index proofs", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) { r.IndexProofs = nil }},
		{name: "another author's index proofs", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) { r.IndexProofs = byXbb.IndexProofs }},
		{name: "index entry value changed", answer: page2, q: verifiers.ListQuery{Author: "xaa", Limit: 2, After: 3, AfterHeight: 3},
			mutate: func(r *pb.ListRecordsResponse) {
				if !r.IndexProofs[0].Exists {
					t.Fatal("fixture: the second page's walk starts at an entry")
				}
				r.IndexProofs[0].Value = flipped(r.IndexProofs[0].Value, 7)
			}},
		{name: "asked for another author", answer: byXaa, q: verifiers.ListQuery{Author: "xbb"}},
		{name: "more records than the limit", answer: byXaa, q: verifiers.ListQuery{Author: "xaa", Limit: 2}},
		{name: "no filter: a record left out", answer: all, mutate: func(r *pb.ListRecordsResponse) { drop(r, 3) }},
		{name: "no filter: the last record left out", answer: all, mutate: func(r *pb.ListRecordsResponse) { drop(r, 5) }},
		{name: "no filter: token removed", answer: all4, q: verifiers.ListQuery{Limit: 4}, mutate: func(r *pb.ListRecordsResponse) { r.NextPageToken = "" }},
		{name: "records swapped", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) {
			r.Records[0], r.Records[1] = r.Records[1], r.Records[0]
			r.Proofs[0], r.Proofs[1] = r.Proofs[1], r.Proofs[0]
			r.Inclusions[0], r.Inclusions[1] = r.Inclusions[1], r.Inclusions[0]
		}},
		{name: "inclusion proofs swapped", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) {
			r.Inclusions[0], r.Inclusions[1] = r.Inclusions[1], r.Inclusions[0]
		}},
		{name: "a record's tx changed", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) {
			r.Records[0].Tx = flipped(r.Records[0].Tx, len(r.Records[0].Tx)-1)
		}},
		{name: "no log proof", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) { r.LogProof = nil }},
		{name: "log proof from another height", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) { r.LogProof = early.LogProof }},
		{name: "checked against another height's root", answer: byXaa, q: xaa, hash: c.root(t, 2)},
		{name: "a proof missing", answer: byXaa, q: xaa, mutate: func(r *pb.ListRecordsResponse) { r.Proofs = r.Proofs[1:] }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := proto.Clone(tc.answer).(*pb.ListRecordsResponse)
			if tc.mutate != nil {
				tc.mutate(r)
			}
			hash := root
			if tc.hash != nil {
				hash = tc.hash
			}
			res, err := verifiers.List(hash, tc.q, r)
			checkOutcome(t, tc.ok, err)
			if !tc.ok {
				return
			}
			if res.Complete != tc.complete || len(res.Records) != tc.seqs {
				t.Fatalf("complete %v with %d records, want %v with %d", res.Complete, len(res.Records), tc.complete, tc.seqs)
			}
		})
	}
}

// A listing that cannot be proven complete ends early at the store's work
// limit with a token that continues it; following the tokens gives what
// one unlimited call gives, and the verifier accepts every short page.
func TestListWorkLimit(t *testing.T) {
	c := chain(t)
	h := c.top
	root := c.root(t, h)
	want := seqsOf(c.listAnswer(t, h, store.Filter{Author: "xaa", Kind: "vote"}).Records)
	if len(want) != 1 {
		t.Fatalf("fixture: xaa's votes %v", want)
	}
	var got []uint64
	var after uint64
	pages := 0
	for {
		f := store.Filter{Author: "xaa", Kind: "vote", After: after, MaxScan: 1}
		page, err := c.view(t, h).ListPage(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Records) > 1 || page.Next != 0 && !page.Truncated && len(page.Records) < 50 {
			t.Fatalf("page after %d: %d records, next %d, truncated %v", after, len(page.Records), page.Next, page.Truncated)
		}
		answer := c.listAnswer(t, h, f)
		if _, err := verifiers.List(root, verifiers.ListQuery{Author: "xaa", Kind: "vote", After: after}, answer); err != nil {
			t.Fatalf("page after %d refused: %v", after, err)
		}
		got = append(got, seqsOf(page.Records)...)
		pages++
		if page.Next == 0 {
			break
		}
		if page.Next < after || pages > 20 {
			t.Fatalf("the continuation does not advance: after %d next %d", after, page.Next)
		}
		after = page.Next
	}
	if pages < 2 || len(got) != 1 || got[0] != want[0] {
		t.Fatalf("%d pages gave %v, want %v over several pages", pages, got, want)
	}
	// A zero time bound is a bound: nothing lies before the year 1.
	none := c.listAnswer(t, h, store.Filter{HasTo: true})
	if len(none.Records) != 0 {
		t.Fatalf("records before the zero time: %d", len(none.Records))
	}
	if _, err := verifiers.List(root, verifiers.ListQuery{HasTo: true}, none); err != nil {
		t.Fatal(err)
	}
}

// Obligation listings end early at the work limit too, with a position
// that continues them: following it gives what one unlimited call gives.
func TestObligationsWorkLimit(t *testing.T) {
	c := chain(t)
	v := c.view(t, c.top)
	all, next, err := v.Obligations(store.ObligationFilter{})
	if err != nil || next != nil {
		t.Fatalf("unlimited listing: %v, next %x", err, next)
	}
	if len(all) < 2 {
		t.Skipf("the fixture has %d obligations; the work limit needs two", len(all))
	}
	var got []string
	var after []byte
	for calls := 0; ; calls++ {
		obs, next, err := v.Obligations(store.ObligationFilter{After: after, MaxScan: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(obs) > 1 {
			t.Fatalf("a work limit of 1 gave %d obligations", len(obs))
		}
		for _, o := range obs {
			got = append(got, o.Id)
		}
		if next == nil {
			break
		}
		if calls > 10*len(all) {
			t.Fatal("the continuation does not advance")
		}
		after = next
	}
	if len(got) != len(all) {
		t.Fatalf("pages gave %d obligations, one call %d", len(got), len(all))
	}
	for i := range all {
		if got[i] != all[i].Id {
			t.Fatalf("obligation %d: %s, want %s", i, got[i], all[i].Id)
		}
	}
}
