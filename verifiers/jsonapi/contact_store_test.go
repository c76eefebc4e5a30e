//go:build !js

package jsonapi

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/fixture"
	"github.com/normledger/normledger/ledger/layout"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// This file is native only: the store that makes the proofs does not build
// for js/wasm (contact_test.go runs there too).

// directoryState is a one-block ledger in which xaa filed a contact update
// (its technical point valid for 90 days) and xbb none: the app hash that
// commits to it, and GET /v1/members/{id}?prove=true of each as node/api
// assembles it.
func directoryState(t *testing.T, blockTime time.Time) (appHash []byte, answers map[string]*pb.GetMemberResponse) {
	t.Helper()
	const chainID = "jsonapi-test"
	ms := fixture.Dev(3, fixture.SeededKey)
	st, err := store.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.InitGenesis(chainID, fixture.Genesis(ms), 1, ledger.CurrentAppVersion); err != nil {
		t.Fatal(err)
	}
	tech := fixture.Contact("xaa", pb.ContactRole_CONTACT_ROLE_TECHNICAL)
	tech.ValidUntil = timestamppb.New(blockTime.Add(90 * 24 * time.Hour))
	tx, err := ledger.BuildTx(&pb.TxBody{ChainId: chainID, Sequence: 1, Record: &pb.Record{SchemaVersion: 1,
		Body: &pb.Record_ContactUpdate{ContactUpdate: &pb.ContactUpdate{Points: []*pb.ContactPoint{
			fixture.Contact("xaa", pb.ContactRole_CONTACT_ROLE_DIPLOMATIC), tech}}}}}, fixture.ByID(ms)["xaa"].Signer())
	if err != nil {
		t.Fatal(err)
	}
	reg := ledger.DefaultRegistry()
	b := ledger.Block{ChainID: chainID, Height: 1, Time: blockTime, Params: ledger.DefaultParams()}
	if err := st.BeginBlock(1); err != nil {
		t.Fatal(err)
	}
	bb, err := reg.BeginBlock(st.Working(), b)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(bb); err != nil {
		t.Fatal(err)
	}
	ch, err := reg.Apply(st.Working(), tx, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ch); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.EndBlock(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	v, err := st.At(1)
	if err != nil {
		t.Fatal(err)
	}
	answers = map[string]*pb.GetMemberResponse{}
	for _, id := range []string{"xaa", "xbb"} {
		m, err := v.Member(id)
		if err != nil || m == nil {
			t.Fatalf("member %s: %v", id, err)
		}
		key := layout.Member(id)
		val, err := v.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Proof(key)
		if err != nil {
			t.Fatal(err)
		}
		bz, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		answers[id] = &pb.GetMemberResponse{Member: proto.Clone(m).(*pb.Member), Height: 1,
			Proof: &pb.Proof{Key: key, Value: val, Proof: bz, Exists: true}}
	}
	if answers["xaa"].Member.GetDirectory() == nil || answers["xbb"].Member.GetDirectory() != nil {
		t.Fatalf("directory entries: xaa %v, xbb %v", answers["xaa"].Member.GetDirectory(), answers["xbb"].Member.GetDirectory())
	}
	return v.RootHash(), answers
}

// verifyMember with "at", for entries with contact points: the contact
// status of the proven entry at that time, exactly as
// ledger.ContactStatusAt (and so GET /v1/directory) computes it, current
// or stale (a point expired, not reconfirmed within a year, no entry);
// none without "at", nor for an entry that is not the proven one.
func TestMemberContactStatus(t *testing.T) {
	confirmed := time.Date(2027, 3, 1, 9, 30, 0, 123456789, time.UTC)
	appHash, answers := directoryState(t, confirmed)
	request := func(id string, ans *pb.GetMemberResponse, at any) string {
		req := map[string]any{"appHash": hex.EncodeToString(appHash), "id": id, "answer": json.RawMessage(mustProtoJSON(t, ans))}
		if at != nil {
			req["at"] = at
		}
		bz, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		return string(bz)
	}

	for _, tc := range []struct {
		name   string
		id     string
		at     time.Time
		stale  bool
		days   int64
		reason string
	}{
		{name: "just confirmed", id: "xaa", at: confirmed, days: 0},
		{name: "ten days on", id: "xaa", at: confirmed.Add(10*24*time.Hour + time.Hour), days: 10},
		{name: "a point expired", id: "xaa", at: confirmed.Add(91 * 24 * time.Hour), stale: true, days: 91, reason: "the technical contact point expired on 2027-05-30"},
		{name: "not reconfirmed", id: "xaa", at: confirmed.Add(ledger.ContactReconfirmWindow), stale: true, days: 365, reason: "not reconfirmed since 2027-03-01 (due 2028-02-29)"},
		{name: "a nanosecond before the reconfirmation is due", id: "xaa", at: confirmed.Add(ledger.ContactReconfirmWindow - 1), stale: true, days: 364, reason: "expired"},
		{name: "no entry", id: "xbb", at: confirmed, stale: true, reason: "no directory entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, cs := contactOf(t, request(tc.id, answers[tc.id], tc.at.Format(time.RFC3339Nano)))
			if !*a.OK || cs == nil {
				t.Fatalf("ok %v (%s), contact %v", *a.OK, *a.Reason, cs)
			}
			want := ledger.ContactStatusAt(answers[tc.id].Member, tc.at)
			if !proto.Equal(cs, want) {
				t.Fatalf("contact status\n%v\nwant (ledger.ContactStatusAt)\n%v", cs, want)
			}
			if cs.Member != tc.id || cs.Stale != tc.stale || cs.DaysSinceConfirmation != tc.days {
				t.Fatalf("contact status of %s: stale %v, %d days (%v), want stale %v, %d days", cs.Member, cs.Stale, cs.DaysSinceConfirmation, cs.StaleReasons, tc.stale, tc.days)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(cs.StaleReasons, "; "), tc.reason) {
				t.Fatalf("stale reasons %q, want one with %q", cs.StaleReasons, tc.reason)
			}
			if !tc.stale && len(cs.StaleReasons) != 0 {
				t.Fatalf("stale reasons %q for a current entry", cs.StaleReasons)
			}
			if tc.id == "xaa" && (!proto.Equal(cs.Entry, answers["xaa"].Member.Directory) || !cs.ReconfirmBy.AsTime().Equal(confirmed.Add(ledger.ContactReconfirmWindow))) {
				t.Fatalf("entry %v, reconfirm by %v", cs.Entry, cs.ReconfirmBy.AsTime())
			}
		})
	}

	// Other time forms RFC 3339 allows: an offset, whole seconds.
	if a, cs := contactOf(t, request("xaa", answers["xaa"], "2027-03-11T12:00:00+02:00")); !*a.OK || cs == nil || cs.DaysSinceConfirmation != 10 {
		t.Fatalf("at with an offset: %v %s %v", *a.OK, *a.Reason, cs)
	}
	// Without "at", no contact status.
	if a, cs := contactOf(t, request("xaa", answers["xaa"], nil)); !*a.OK || cs != nil {
		t.Fatalf("without at: ok %v (%s), contact %v", *a.OK, *a.Reason, cs)
	}
	// A contact point's phone number changed: the entry is not the proven
	// one, and no contact status is given.
	lie := proto.Clone(answers["xaa"]).(*pb.GetMemberResponse)
	lie.Member.Directory.Points[1].Channels[0].Address = "+99 555 0199"
	if a, cs := contactOf(t, request("xaa", lie, confirmed.Format(time.RFC3339))); *a.OK || cs != nil || !strings.Contains(*a.Reason, "differs from the proven") {
		t.Fatalf("a changed phone number: ok %v (%s), contact %v", *a.OK, *a.Reason, cs)
	}
}
