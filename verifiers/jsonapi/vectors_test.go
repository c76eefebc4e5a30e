package jsonapi

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The tamper vectors are made by package verifiers' tests (vectors_test.go
// there, which also checks the Go verifier's outcome on each); this runs
// them through the browser verifier's JSON API, natively and (GOOS=js
// GOARCH=wasm) compiled to WebAssembly.
const vectorsFile = "../testdata/vectors.json"

type vector struct {
	Name             string          `json:"name"`
	Fn               string          `json:"fn"`
	Request          json.RawMessage `json:"request"`
	OK               bool            `json:"ok"`
	VerifiedHeights  []int64         `json:"verifiedHeights"`
	NeedIntermediate []int64         `json:"needIntermediate"`
}

// outcome is the union of the results' fields the tests look at.
type outcome struct {
	OK                    *bool             `json:"ok"`
	Reason                *string           `json:"reason"`
	VerifiedHeights       []int64           `json:"verifiedHeights"`
	AppHashes             map[string]string `json:"appHashes"`
	HeaderTimes           map[string]string `json:"headerTimes"`
	NeedIntermediate      []int64           `json:"needIntermediate"`
	TrustingPeriodChecked *bool             `json:"trustingPeriodChecked"`
	Record                json.RawMessage   `json:"record"`
	Member                json.RawMessage   `json:"member"`
	Obligation            json.RawMessage   `json:"obligation"`
	Absent                bool              `json:"absent"`
	SignaturesChecked     bool              `json:"signaturesChecked"`
	Signers               []string          `json:"signers"`
	LogIndex              *uint64           `json:"logIndex"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	bz, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Format  string   `json:"format"`
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(bz, &f); err != nil {
		t.Fatal(err)
	}
	if f.Format != "normledger-verifier-vectors/v1" || len(f.Vectors) < 100 {
		t.Fatalf("%s: format %q with %d vectors", vectorsFile, f.Format, len(f.Vectors))
	}
	return f.Vectors
}

// parse checks that out is a result (ok and reason always present).
func parse(t *testing.T, out string) outcome {
	t.Helper()
	var a outcome
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("result %q is not JSON: %v", out, err)
	}
	if a.OK == nil || a.Reason == nil {
		t.Fatalf("result %s lacks ok or reason", out)
	}
	if *a.OK != (*a.Reason == "") {
		t.Fatalf("result %s: ok %v with reason %q", out, *a.OK, *a.Reason)
	}
	return a
}

// checkVector runs v through run (the JSON API, called directly or through
// JavaScript) and requires the vector's outcome.
func checkVector(t *testing.T, v vector, run func(fn, req string) string) {
	t.Helper()
	a := parse(t, run(v.Fn, string(v.Request)))
	if *a.OK != v.OK {
		t.Fatalf("ok = %v (%s), want %v", *a.OK, *a.Reason, v.OK)
	}
	if !v.OK {
		t.Logf("rejected: %s", *a.Reason)
	}
	var req struct {
		ID      string            `json:"id"`
		Members []json.RawMessage `json:"members"`
	}
	if v.Fn != "verifyHeaders" {
		if err := json.Unmarshal(v.Request, &req); err != nil {
			t.Fatal(err)
		}
	}
	switch v.Fn {
	case "verifyHeaders":
		if !slices.Equal(a.VerifiedHeights, v.VerifiedHeights) || a.VerifiedHeights == nil {
			t.Errorf("verifiedHeights %v, want %v", a.VerifiedHeights, v.VerifiedHeights)
		}
		if !slices.Equal(a.NeedIntermediate, v.NeedIntermediate) {
			t.Errorf("needIntermediate %v, want %v", a.NeedIntermediate, v.NeedIntermediate)
		}
		if len(a.AppHashes) != len(v.VerifiedHeights) {
			t.Errorf("%d app hashes for %d verified headers", len(a.AppHashes), len(v.VerifiedHeights))
		}
		// Every verified header's block time (verifyMember's "at"), by height.
		if len(a.HeaderTimes) != len(v.VerifiedHeights) {
			t.Errorf("%d header times for %d verified headers", len(a.HeaderTimes), len(v.VerifiedHeights))
		}
		for _, h := range v.VerifiedHeights {
			if _, err := time.Parse(time.RFC3339, a.HeaderTimes[strconv.FormatInt(h, 10)]); err != nil {
				t.Errorf("header %d: time %v", h, err)
			}
		}
		if a.TrustingPeriodChecked == nil || *a.TrustingPeriodChecked {
			t.Error("trustingPeriodChecked must be present and false")
		}
	case "verifyRecord":
		if !v.OK {
			if a.Record != nil {
				t.Error("a record shown for a failed check")
			}
			return
		}
		rec := new(pb.StoredRecord)
		if err := protojson.Unmarshal(a.Record, rec); err != nil {
			t.Fatalf("record does not decode: %v", err)
		}
		if rec.Id != req.ID || rec.Decoded == nil || len(rec.Signers) == 0 || !slices.Equal(rec.Signers, a.Signers) {
			t.Errorf("verified record %s (decoded %v, signers %v, result's %v) for id %s", rec.Id, rec.Decoded != nil, rec.Signers, a.Signers, req.ID)
		}
		if a.LogIndex == nil || *a.LogIndex != rec.Seq-1 {
			t.Errorf("logIndex %v for record seq %d", a.LogIndex, rec.Seq)
		}
		if a.SignaturesChecked != (req.Members != nil) {
			t.Errorf("signaturesChecked %v with %d member entries", a.SignaturesChecked, len(req.Members))
		}
	case "verifyMember":
		if v.OK {
			m := new(pb.Member)
			if err := protojson.Unmarshal(a.Member, m); err != nil || m.Id != req.ID {
				t.Errorf("verified member %s (%v) for id %s", m.Id, err, req.ID)
			}
		}
	case "verifyObligation":
		if v.OK {
			o := new(pb.Obligation)
			if err := protojson.Unmarshal(a.Obligation, o); err != nil || o.Id != req.ID {
				t.Errorf("verified obligation %s (%v) for id %s", o.Id, err, req.ID)
			}
		}
	case "verifyAbsence":
		if a.Absent != v.OK {
			t.Errorf("absent %v, ok %v", a.Absent, v.OK)
		}
	default:
		t.Fatalf("unknown function %q", v.Fn)
	}
}

func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) { checkVector(t, v, Call) })
	}
}

// Bad requests fail with a reason, never a panic.
func TestBadRequests(t *testing.T) {
	for _, req := range []string{"", "{", "null", "[]", "5", `"x"`, `{"unknown": 1}`, `{} {}`,
		`{"appHash": "zz"}`, `{"appHash": 5}`, `{"answer": 5}`, `{"answer": {"record": 5}}`, `{"answer": "x"}`,
		`{"trust": {"height": "x"}}`, `{"trust": {"height": 1, "hash": "00"}}`, `{"trust": {"genesisHash": "00"}}`,
		`{"lightBlocks": ["!!"]}`, `{"trust": {"height": 1, "hash": "` + strings.Repeat("00", 32) + `"}, "lightBlocks": ["AAAA", null]}`,
		`{"appHash": "", "id": "", "answer": {}, "members": [null]}`,
		strings.Repeat("[", 100000)} {
		for _, fn := range Names() {
			if fn == "version" {
				continue
			}
			a := parse(t, Call(fn, req))
			if *a.OK {
				t.Errorf("%s(%.40q) ok", fn, req)
			}
		}
	}
	if a := parse(t, Call("noSuchFunction", "{}")); *a.OK {
		t.Error("an unknown function answered ok")
	}
}

func TestPanicsAreAnswers(t *testing.T) {
	api["panics"] = func([]byte) any { panic("boom") }
	defer delete(api, "panics")
	a := parse(t, Call("panics", "{}"))
	if *a.OK || !strings.Contains(*a.Reason, "boom") {
		t.Fatalf("a panic answered %v %q", *a.OK, *a.Reason)
	}
}

func TestVersion(t *testing.T) {
	var v struct {
		OK        bool     `json:"ok"`
		API       int      `json:"api"`
		Functions []string `json:"functions"`
	}
	if err := json.Unmarshal([]byte(Call("version", "")), &v); err != nil || !v.OK || v.API != APIVersion {
		t.Fatalf("version: %+v, %v", v, err)
	}
	want := []string{"verifyAbsence", "verifyCase", "verifyHeaders", "verifyMember", "verifyObligation", "verifyProposal", "verifyRecord", "version"}
	if !slices.Equal(v.Functions, want) {
		t.Fatalf("functions %v, want %v", v.Functions, want)
	}
}
