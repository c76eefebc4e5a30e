package audit

import (
	"sort"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// series follows obligation events through re-execution.
type series struct {
	states  []string
	isState map[string]bool
	status  map[string][2]string // obligation id -> debtor, status
	points  []Point
}

func newSeries(gen *cmttypes.GenesisDoc) *series {
	s := &series{isState: map[string]bool{}, status: map[string][2]string{}}
	gs := new(pb.GenesisState)
	if protojson.Unmarshal(gen.AppState, gs) == nil {
		for _, m := range gs.Members {
			if m.Class == pb.MemberClass_MEMBER_CLASS_STATE {
				s.states = append(s.states, m.Id)
				s.isState[m.Id] = true
			}
		}
	}
	sort.Strings(s.states)
	return s
}

func (s *series) observe(h int64, t time.Time, res *abci.ResponseFinalizeBlock) {
	changed := false
	see := func(evs []abci.Event) {
		for _, e := range evs {
			if e.Type != "obligation" {
				continue
			}
			var id, debtor, status string
			for _, a := range e.Attributes {
				switch a.Key {
				case "id":
					id = a.Value
				case "debtor":
					debtor = a.Value
				case "status":
					status = a.Value
				}
			}
			s.status[id] = [2]string{debtor, status}
			changed = true
		}
	}
	see(res.Events)
	for _, r := range res.TxResults {
		see(r.Events)
	}
	if !changed && len(s.points) > 0 {
		return
	}
	p := Point{Height: h, Time: t.UTC(), States: map[string]map[string]int{}}
	for _, st := range s.states {
		p.States[st] = map[string]int{}
	}
	for _, ds := range s.status {
		if s.isState[ds[0]] {
			p.States[ds[0]][ds[1]]++
		}
	}
	s.points = append(s.points, p)
}
