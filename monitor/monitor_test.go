package monitor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/normledger/normledger/ledger/layout"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

func TestMonitorStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "monitor-xbb.json")
	st, err := loadState(path)
	if err != nil || st.Height != 0 || st.Delivered == nil {
		t.Fatalf("missing state file: %+v %v", st, err)
	}
	m := &daemon{o: Options{StatePath: path}, st: st}
	st.Member, st.ChainID, st.Height = "xbb", "c", 7
	st.Pending = []*Event{{ID: "record:ab", Type: EventRecord, Height: 7}}
	if err := m.save(); err != nil {
		t.Fatal(err)
	}
	if err := m.save(); err != nil { // replacing works too
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "monitor-xbb.json" {
		t.Fatalf("after two atomic writes the directory holds %v", entries)
	}
	back, err := loadState(path)
	if err != nil || back.Height != 7 || len(back.Pending) != 1 || back.Pending[0].ID != "record:ab" {
		t.Fatalf("read back %+v %v", back, err)
	}
	if err := os.WriteFile(path, []byte(`{"version": 9}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadState(path); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("a state file of another version: %v", err)
	}
}

// Delivered ids are forgotten only once they cannot be found again.
func TestMonitorPrune(t *testing.T) {
	bt := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	st := &state{Height: 20, BlockTime: bt, Watch: []string{"w"}, Delivered: map[string]deliveredEvent{
		"record:old":     {Height: 19},
		"record:now":     {Height: 20},
		"overdue:past":   {Height: 20, Obligation: "past", Due: bt.Add(-time.Second)},
		"due_soon:ahead": {Height: 20, Obligation: "ahead", Due: bt},
		"due_soon:w":     {Height: 18, Obligation: "w", Due: bt.Add(-time.Hour)},
	}}
	(&daemon{st: st}).prune()
	for id, keep := range map[string]bool{"record:old": false, "record:now": true, "overdue:past": false, "due_soon:ahead": true, "due_soon:w": true} {
		if _, ok := st.Delivered[id]; ok != keep {
			t.Errorf("%s kept %v, want %v", id, ok, keep)
		}
	}
}

func TestProvenObligationRejects(t *testing.T) {
	o := &pb.Obligation{Id: "10a36750a56267c8ee9763e3ece8190e", Debtor: "xbb"}
	for name, p := range map[string]*pb.Proof{
		"no proof":       nil,
		"other key":      {Key: layout.Obligation("20a36750a56267c8ee9763e3ece8190e"), Exists: true, Value: []byte{1}},
		"absence":        {Key: layout.Obligation(o.Id)},
		"bad commitment": {Key: layout.Obligation(o.Id), Exists: true, Value: []byte{1}, Proof: []byte{0xff}},
	} {
		if _, err := provenObligation(make([]byte, 32), o, p); !errors.Is(err, verifiers.ErrVerification) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := provenObligation(nil, &pb.Obligation{Id: "nope"}, nil); !errors.Is(err, verifiers.ErrVerification) {
		t.Errorf("bad id: %v", err)
	}
}

func TestMonitorEventText(t *testing.T) {
	ev := &Event{ID: "overdue:x", Type: EventOverdue, Height: 57, BlockTime: time.Date(2026, 12, 3, 10, 0, 5, 0, time.UTC),
		Summary: "respond obligation x owed by xbb to xaa is overdue"}
	want := "2026-12-03T10:00:05Z height 57 overdue       respond obligation x owed by xbb to xaa is overdue\n"
	if got := eventText(ev); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestMonitorOptionsChecked(t *testing.T) {
	for name, o := range map[string]Options{
		"member":   {Member: "X Y", Witnesses: []string{"http://127.0.0.1:1"}, StatePath: "s", Interval: time.Second},
		"witness":  {Member: "xbb", StatePath: "s", Interval: time.Second},
		"interval": {Member: "xbb", Witnesses: []string{"http://127.0.0.1:1"}, StatePath: "s"},
		"webhook":  {Member: "xbb", Witnesses: []string{"http://127.0.0.1:1"}, StatePath: "s", Interval: time.Second, Webhook: "ftp://x"},
	} {
		if err := Run(context.Background(), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A protective order and its steps tell each member what they ask of it:
// the approved person that it may see the values and must confirm a
// delivery, the designating author that it must deliver, and that a
// confirmation proved its delivery false.
func TestDisclosureHints(t *testing.T) {
	order := &pb.Record{Body: &pb.Record_ProtectiveOrder{ProtectiveOrder: &pb.ProtectiveOrder{SubjectId: "rec", Paths: []string{"affected_entities"},
		Approved: []*pb.Approval{{Member: "xbb", UndertakingId: "u"}}, PurposeRef: "case"}}}
	step := func(s *pb.DisclosureStep) *pb.Record {
		return &pb.Record{Body: &pb.Record_DisclosureStep{DisclosureStep: s}}
	}
	for _, c := range []struct {
		rec    *pb.Record
		author string
		me     string
		want   string
	}{
		{order, "lumen", "xbb", "approves xbb to see affected_entities of record rec"},
		{order, "lumen", "xaa", "deliver them to xbb (`normledger disclose deliver o1`)"},
		{step(&pb.DisclosureStep{Step: pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_DELIVER, SourceId: "o1"}), "xaa", "xbb", "confirm (`normledger disclose confirm o1`)"},
		{step(&pb.DisclosureStep{Step: pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_CONFIRM, SourceId: "o1", FileKey: make([]byte, 16)}), "xbb", "xaa", "proves that xaa's delivery under order o1 does not open"},
		{step(&pb.DisclosureStep{Step: pb.DisclosureStepType_DISCLOSURE_STEP_TYPE_RETURN, SourceId: "o1"}), "xbb", "xaa", "disclosure step o1 (return) by xbb"},
	} {
		if got := disclosureHint(&pb.StoredRecord{Id: "o1", Author: c.author}, c.rec, c.me); !strings.Contains(got, c.want) {
			t.Errorf("%s for %s: %q, want %q", c.author, c.me, got, c.want)
		}
	}
}
