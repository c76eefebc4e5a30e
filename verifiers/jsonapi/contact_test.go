package jsonapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// requestAt is a vector's request with "at" set to at (a JSON value).
func requestAt(t *testing.T, v vector, at any) string {
	t.Helper()
	var req map[string]any
	if err := json.Unmarshal(v.Request, &req); err != nil {
		t.Fatal(err)
	}
	req["at"] = at
	bz, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return string(bz)
}

// contactOf runs verifyMember on req: its outcome and contact status.
func contactOf(t *testing.T, req string) (outcome, *pb.ContactStatus) {
	t.Helper()
	out := Call("verifyMember", req)
	a := parse(t, out)
	var r struct {
		Contact json.RawMessage `json:"contact"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Contact == nil {
		return a, nil
	}
	cs := new(pb.ContactStatus)
	if err := protojson.Unmarshal(r.Contact, cs); err != nil {
		t.Fatalf("contact %s does not decode: %v", r.Contact, err)
	}
	return a, cs
}

// verifyMember's "at", with the member vectors (whose members filed no
// contact update: their entries are stale for want of one): with a valid
// answer, the contact status ledger.ContactStatusAt gives the proven
// member at that time; none with an answer that does not verify; ok false
// for an "at" that is not an RFC 3339 time or given to another function.
// Here and under js/wasm; contact_store_test.go checks entries with
// contact points (natively).
func TestMemberAt(t *testing.T) {
	at := time.Date(2027, 3, 1, 9, 30, 0, 123456789, time.UTC)
	n := 0
	for _, v := range loadVectors(t) {
		if v.Fn != "verifyMember" || strings.Contains(v.Name, "nil answer") {
			continue
		}
		n++
		a, cs := contactOf(t, requestAt(t, v, at.Format(time.RFC3339Nano)))
		if *a.OK != v.OK {
			t.Fatalf("%s with at: ok %v (%s), want %v", v.Name, *a.OK, *a.Reason, v.OK)
		}
		if !v.OK {
			if cs != nil {
				t.Fatalf("%s: a contact status for an answer that does not verify", v.Name)
			}
			continue
		}
		m := new(pb.Member)
		if err := protojson.Unmarshal(a.Member, m); err != nil {
			t.Fatal(err)
		}
		if want := ledger.ContactStatusAt(m, at); cs == nil || !proto.Equal(cs, want) {
			t.Fatalf("%s: contact status %v, want %v", v.Name, cs, want)
		}
		if !cs.Stale || cs.Entry != nil || len(cs.StaleReasons) != 1 || !strings.Contains(cs.StaleReasons[0], "no directory entry") {
			t.Fatalf("%s: contact status %v for a member without an entry", v.Name, cs)
		}
		// Without "at", none.
		if a, cs := contactOf(t, string(v.Request)); !*a.OK || cs != nil {
			t.Fatalf("%s without at: ok %v, contact %v", v.Name, *a.OK, cs)
		}
		for _, bad := range []any{"", "yesterday", "2027-03-01", "2027-03-01 09:30:00Z", 5, false} {
			a, cs := contactOf(t, requestAt(t, v, bad))
			if *a.OK || cs != nil || !strings.Contains(*a.Reason, "at: ") && !strings.Contains(*a.Reason, ".at of type string") {
				t.Errorf("%s, at %v: ok %v (%s), contact %v", v.Name, bad, *a.OK, *a.Reason, cs)
			}
		}
	}
	if n < 2 {
		t.Fatalf("%d member vectors", n)
	}
	// "at" is verifyMember's and verifyCase's alone.
	for _, fn := range []string{"verifyRecord", "verifyObligation", "verifyAbsence"} {
		req := `{"appHash": "00", "id": "x", "answer": null, "at": "2027-03-01T00:00:00Z"}`
		if a := parse(t, Call(fn, req)); *a.OK || !strings.Contains(*a.Reason, "at is a field of verifyMember and verifyCase only") {
			t.Errorf("%s with at: ok %v (%s)", fn, *a.OK, *a.Reason)
		}
	}
}

func mustProtoJSON(t *testing.T, m proto.Message) []byte {
	t.Helper()
	bz, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return bz
}
