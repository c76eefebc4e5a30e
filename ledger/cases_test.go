package ledger_test

import (
	"testing"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func ladder() *pb.EscalationLadder {
	return &pb.EscalationLadder{Version: 1, Levels: []*pb.LadderLevel{
		{Level: 1, Name: "protest", Conduct: []string{"unnotified_operation", "attack_on_health"}, Responses: []pb.MeasureType{pb.MeasureType_MEASURE_TYPE_PROTEST}},
		{Level: 2, Name: "retorsion", Conduct: []string{"attack_on_health"}, Responses: []pb.MeasureType{pb.MeasureType_MEASURE_TYPE_RETORSION}},
	}}
}

// A ladder is checked whole; what it allows for a conduct is the highest
// level naming it, and a measure stays within it only at or below that
// level with a type allowed there.
func TestLadder(t *testing.T) {
	for _, c := range []struct {
		name string
		mut  func(l *pb.EscalationLadder)
		want ledger.Code
	}{
		{"valid", func(*pb.EscalationLadder) {}, ledger.CodeOK},
		{"no version", func(l *pb.EscalationLadder) { l.Version = 0 }, ledger.CodeMissingField},
		{"no levels", func(l *pb.EscalationLadder) { l.Levels = nil }, ledger.CodeMissingField},
		{"levels out of order", func(l *pb.EscalationLadder) { l.Levels[1].Level = 3 }, ledger.CodeBadFormat},
		{"a level without a name", func(l *pb.EscalationLadder) { l.Levels[0].Name = "" }, ledger.CodeMissingField},
		{"a conduct that is no code", func(l *pb.EscalationLadder) { l.Levels[0].Conduct = []string{"Attack"} }, ledger.CodeBadFormat},
		{"a conduct twice", func(l *pb.EscalationLadder) { l.Levels[0].Conduct = []string{"a", "a"} }, ledger.CodeBadFormat},
		{"no responses", func(l *pb.EscalationLadder) { l.Levels[1].Responses = nil }, ledger.CodeMissingField},
		{"an undefined response", func(l *pb.EscalationLadder) { l.Levels[1].Responses = []pb.MeasureType{9} }, ledger.CodeBadEnum},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := ladder()
			c.mut(l)
			if got := ledger.CodeOf(ledger.ValidateLadder(l)); got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	for _, c := range []struct {
		conduct string
		level   uint32
		typ     pb.MeasureType
		allowed uint32
		within  bool
	}{
		{"attack_on_health", 1, pb.MeasureType_MEASURE_TYPE_PROTEST, 2, true},
		{"attack_on_health", 2, pb.MeasureType_MEASURE_TYPE_RETORSION, 2, true},
		{"attack_on_health", 2, pb.MeasureType_MEASURE_TYPE_PROTEST, 2, false}, // not a response of level 2
		{"unnotified_operation", 2, pb.MeasureType_MEASURE_TYPE_RETORSION, 1, false},
		{"unknown_conduct", 1, pb.MeasureType_MEASURE_TYPE_PROTEST, 0, false},
		{"attack_on_health", 0, pb.MeasureType_MEASURE_TYPE_PROTEST, 2, false},
	} {
		allowed, within := ledger.LadderAllows(ladder(), c.conduct, c.level, c.typ)
		if allowed != c.allowed || within != c.within {
			t.Errorf("%s at %d (%v): allowed %d within %v, want %d %v", c.conduct, c.level, c.typ, allowed, within, c.allowed, c.within)
		}
	}
}

// Windows: the defaults, overridden field by field by the chain's, then
// the pledge's.
func TestEffectiveCaseWindows(t *testing.T) {
	w := ledger.EffectiveCaseWindows(&pb.CaseWindows{ReplySeconds: 100, ConsultSeconds: 200}, &pb.CaseWindows{ReplySeconds: 50})
	d := ledger.DefaultCaseWindows()
	if w.ReplySeconds != 50 || w.ConsultSeconds != 200 || w.CoolingOffSeconds != d.CoolingOffSeconds || d.ReplySeconds != 10*24*3600 {
		t.Fatalf("windows %v (defaults %v)", w, d)
	}
	if p := ledger.DefaultParams(); ledger.ValidateParams(&pb.Params{MaxTxBytes: p.MaxTxBytes, AckWindowHours: 24,
		CaseWindows: &pb.CaseWindows{CoolingOffSeconds: 400 * 24 * 3600}}) == nil {
		t.Fatal("a cooling-off over a year accepted")
	}
}
