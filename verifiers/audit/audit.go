// Package audit re-checks a whole chain without trusting the node it reads:
// it verifies every header with the light client, checks every block's
// transactions against its header, re-executes the chain from genesis in a
// fresh in-memory app (re-verifying every signature), requires every app
// hash and results hash to match the headers, and then compares the node's
// record and compliance answers with its own. It writes report.json and
// report.html.
//
// It may import app and ledger/store (to re-execute) besides verifiers.
package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/app"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// API is what the auditor asks the audited node (cli/client satisfies it).
type API interface {
	verifiers.LightBlockSource
	Status(ctx context.Context) (*pb.StatusResponse, error)
	Genesis(ctx context.Context) ([]byte, error)
	Block(ctx context.Context, height int64) (*pb.GetBlockResponse, error)
	Records(ctx context.Context, req *pb.ListRecordsRequest) (*pb.ListRecordsResponse, error)
	MemberCompliance(ctx context.Context, member string, height int64) (*pb.GetMemberComplianceResponse, error)
	PledgeCompliance(ctx context.Context, id string, height int64) (*pb.GetPledgeComplianceResponse, error)
}

// Options configure an audit.
type Options struct {
	API       API
	NodeName  string
	Witnesses []*verifiers.Provider
	// Trust is the trust root; zero means trust the genesis validators'
	// signatures on the first block.
	Trust verifiers.TrustRoot
	// Genesis, if set, is the genesis JSON to use instead of the node's.
	Genesis []byte
	// ToHeight is the last state height to audit (0 = the node's newest attested).
	ToHeight int64
	Progress io.Writer
}

// Discrepancy is one way the chain or the node's answers disagree with the
// re-execution.
type Discrepancy struct {
	Height int64  `json:"height,omitempty"`
	What   string `json:"what"`
	Want   string `json:"want,omitempty"`
	Got    string `json:"got,omitempty"`
}

// Point is one sample of the obligation series: per state, obligations by status.
type Point struct {
	Height int64                     `json:"height"`
	Time   time.Time                 `json:"time"`
	States map[string]map[string]int `json:"states"` // state -> status -> count
}

// Report is the audit's result.
type Report struct {
	ChainID          string                 `json:"chain_id"`
	Node             string                 `json:"node"`
	FromHeight       int64                  `json:"from_height"`
	ToHeight         int64                  `json:"to_height"`
	Blocks           int64                  `json:"blocks"`
	Txs              int                    `json:"txs"`
	Accepted         int                    `json:"accepted"`
	Rejected         int                    `json:"rejected"`
	Signatures       int                    `json:"signatures_verified"`
	HeadersVerified  int64                  `json:"headers_verified"`
	AppHashesMatched int64                  `json:"app_hashes_matched"`
	RecordsCompared  int                    `json:"records_compared"`
	MembersCompared  int                    `json:"members_compared"`
	PledgesCompared  int                    `json:"pledges_compared"`
	Seconds          float64                `json:"seconds"`
	TxsPerSecond     float64                `json:"txs_per_second"`
	Discrepancies    []Discrepancy          `json:"discrepancies"`
	Compliance       []*pb.MemberCompliance `json:"-"`
	ComplianceJSON   []json.RawMessage      `json:"compliance"`
	Series           []Point                `json:"obligation_series"`
	States           []string               `json:"states"`
	Started          time.Time              `json:"started"`
}

// OK reports whether the audit found nothing wrong.
func (r *Report) OK() bool { return len(r.Discrepancies) == 0 }

func (r *Report) add(h int64, what, want, got string) {
	r.Discrepancies = append(r.Discrepancies, Discrepancy{Height: h, What: what, Want: want, Got: got})
}

// Run audits the chain up to the node's newest attested height.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	rep := &Report{Node: o.NodeName, Started: start.UTC()}
	st, err := o.API.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	rep.ChainID = st.ChainId
	genJSON := o.Genesis
	if genJSON == nil {
		if genJSON, err = o.API.Genesis(ctx); err != nil {
			return nil, fmt.Errorf("genesis: %w", err)
		}
	}
	gen, err := cmttypes.GenesisDocFromJSON(genJSON)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	if gen.ChainID != st.ChainId {
		return nil, fmt.Errorf("genesis is for chain %q, the node serves %q", gen.ChainID, st.ChainId)
	}
	root := o.Trust
	if root.Height == 0 {
		if root, err = verifiers.TrustFromGenesis(ctx, gen, o.API); err != nil {
			return nil, err
		}
	}
	lc, err := verifiers.NewLightClient(ctx, gen.ChainID, verifiers.NewProvider(gen.ChainID, o.NodeName, o.API), o.Witnesses, root, "")
	if err != nil {
		return nil, err
	}
	defer lc.Close()
	to := o.ToHeight
	if to == 0 || to > st.LatestAttestedHeight {
		to = st.LatestAttestedHeight
	}
	rep.FromHeight, rep.ToHeight = gen.InitialHeight, to

	// A fresh app, from genesis.
	mem, err := store.OpenMem()
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	a, err := app.New(mem, app.Options{})
	if err != nil {
		return nil, err
	}
	ic, err := a.InitChain(ctx, &abci.RequestInitChain{ChainId: gen.ChainID, Time: gen.GenesisTime,
		InitialHeight: gen.InitialHeight, AppStateBytes: gen.AppState})
	if err != nil {
		return nil, fmt.Errorf("re-execute genesis: %w", err)
	}
	header, err := lc.Header(ctx, gen.InitialHeight)
	if err != nil {
		return nil, err
	}
	rep.HeadersVerified++
	if !bytes.Equal(ic.AppHash, header.AppHash) {
		rep.add(gen.InitialHeight, "app hash after genesis", fmt.Sprintf("%X", header.AppHash), fmt.Sprintf("%X", ic.AppHash))
	}
	series := newSeries(gen)
	lastReport := time.Now()
	for h := gen.InitialHeight; h <= to; h++ {
		blk, err := o.API.Block(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", h, err)
		}
		txs := make(cmttypes.Txs, len(blk.Txs))
		for i, t := range blk.Txs {
			txs[i] = t
		}
		if !bytes.Equal(txs.Hash(), header.DataHash) {
			rep.add(h, "block transactions do not match the header's data hash", fmt.Sprintf("%X", header.DataHash), fmt.Sprintf("%X", txs.Hash()))
		}
		res, err := a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: blk.Txs, Height: h, Time: header.Time,
			ProposerAddress: header.ProposerAddress, Hash: header.Hash()})
		if err != nil {
			return nil, fmt.Errorf("re-execute block %d: %w", h, err)
		}
		if _, err := a.Commit(ctx, &abci.RequestCommit{}); err != nil {
			return nil, err
		}
		for i, r := range res.TxResults {
			rep.Txs++
			if r.Code != 0 {
				rep.Rejected++
				continue
			}
			rep.Accepted++
			if tx, err := ledger.DecodeTx(blk.Txs[i], 0); err == nil {
				rep.Signatures += 1 + len(tx.CoSignatures)
			}
		}
		series.observe(h, header.Time, res)
		next, err := lc.Header(ctx, h+1)
		if err != nil {
			return nil, err
		}
		rep.HeadersVerified++
		if !bytes.Equal(res.AppHash, next.AppHash) {
			rep.add(h, "app hash after re-execution differs from header "+fmt.Sprint(h+1), fmt.Sprintf("%X", next.AppHash), fmt.Sprintf("%X", res.AppHash))
		} else {
			rep.AppHashesMatched++
		}
		if rh := cmttypes.NewResults(res.TxResults).Hash(); !bytes.Equal(rh, next.LastResultsHash) {
			rep.add(h, "transaction results differ from header "+fmt.Sprint(h+1), fmt.Sprintf("%X", next.LastResultsHash), fmt.Sprintf("%X", rh))
		}
		header = next
		rep.Blocks++
		if o.Progress != nil && (time.Since(lastReport) > 2*time.Second || h == to) {
			el := time.Since(start).Seconds()
			fmt.Fprintf(o.Progress, "audit: height %d/%d, %d txs re-executed (%.0f tx/s), %d discrepancies\n",
				h, to, rep.Txs, float64(rep.Txs)/el, len(rep.Discrepancies))
			lastReport = time.Now()
		}
	}
	rep.Series, rep.States = series.points, series.states
	if err := compareAnswers(ctx, o.API, mem, to, rep); err != nil {
		return nil, err
	}
	rep.Seconds = time.Since(start).Seconds()
	if rep.Seconds > 0 {
		rep.TxsPerSecond = float64(rep.Txs) / rep.Seconds
	}
	for _, c := range rep.Compliance {
		bz, _ := protojson.Marshal(c)
		rep.ComplianceJSON = append(rep.ComplianceJSON, bz)
	}
	return rep, nil
}

// compareAnswers checks the node's records and compliance at height to
// against the re-executed state.
func compareAnswers(ctx context.Context, api API, mem *store.Store, to int64, rep *Report) error {
	v, err := mem.At(to)
	if err != nil {
		return err
	}
	// Records: every one the node lists must be the re-executed one, and no more or fewer.
	mine, err := v.AllRecords(store.Filter{})
	if err != nil {
		return err
	}
	var theirs []*pb.StoredRecord
	tok := ""
	for {
		res, err := api.Records(ctx, &pb.ListRecordsRequest{Height: to, Limit: store.MaxPageSize, PageToken: tok})
		if err != nil {
			return fmt.Errorf("records: %w", err)
		}
		theirs = append(theirs, res.Records...)
		if res.NextPageToken == "" {
			break
		}
		tok = res.NextPageToken
	}
	if len(theirs) != len(mine) {
		rep.add(to, "number of records the node lists", fmt.Sprint(len(mine)), fmt.Sprint(len(theirs)))
	}
	for i := 0; i < len(mine) && i < len(theirs); i++ {
		if !proto.Equal(mine[i], theirs[i]) {
			rep.add(to, fmt.Sprintf("record %d (%s) as the node serves it", mine[i].Seq, mine[i].Id),
				describeRecord(mine[i]), describeRecord(theirs[i]))
		}
		rep.RecordsCompared++
	}
	// Compliance of every member and every pledge.
	members, err := v.Members()
	if err != nil {
		return err
	}
	for _, m := range members {
		want, err := v.MemberCompliance(m.Id)
		if err != nil {
			return err
		}
		rep.Compliance = append(rep.Compliance, want)
		got, err := api.MemberCompliance(ctx, m.Id, to)
		if err != nil {
			rep.add(to, "compliance of "+m.Id+": node did not answer", "", err.Error())
			continue
		}
		for _, d := range diffCompliance(want, got.Compliance) {
			rep.add(to, "compliance of "+m.Id+": "+d.What, d.Want, d.Got)
		}
		rep.MembersCompared++
	}
	for _, r := range mine {
		if r.Kind != pb.RecordKind_RECORD_KIND_PLEDGE {
			continue
		}
		want, err := v.PledgeCompliance(r.Id)
		if err != nil {
			return err
		}
		got, err := api.PledgeCompliance(ctx, r.Id, to)
		if err != nil {
			rep.add(to, "compliance of pledge "+r.Id+": node did not answer", "", err.Error())
			continue
		}
		if !proto.Equal(want, got.Compliance) {
			rep.add(to, "compliance of pledge "+r.Id, compact(want), compact(got.Compliance))
		}
		rep.PledgesCompared++
	}
	return nil
}

func describeRecord(r *pb.StoredRecord) string {
	return fmt.Sprintf("seq %d id %s kind %s author %s height %d tx %d bytes", r.Seq, r.Id, ledger.KindNameOf(r.Kind), r.Author, r.Height, len(r.Tx))
}

func compact(m proto.Message) string {
	bz, _ := protojson.MarshalOptions{EmitUnpopulated: false}.Marshal(m)
	var buf bytes.Buffer
	json.Compact(&buf, bz)
	return buf.String()
}

// diffCompliance names the figures that differ.
func diffCompliance(want, got *pb.MemberCompliance) []Discrepancy {
	if got == nil {
		return []Discrepancy{{What: "missing", Want: compact(want)}}
	}
	var out []Discrepancy
	pair := func(name string, a, b proto.Message) {
		if !proto.Equal(a, b) {
			out = append(out, Discrepancy{What: name, Want: compact(a), Got: compact(b)})
		}
	}
	pair("on-time rate", want.OnTime, got.OnTime)
	pair("median time to acknowledge", want.TimeToAcknowledge, got.TimeToAcknowledge)
	pair("median time to disclose", want.TimeToDisclose, got.TimeToDisclose)
	pair("median time to remediate", want.TimeToRemediate, got.TimeToRemediate)
	pair("open challenges", want.OpenChallenges, got.OpenChallenges)
	pair("overdue obligations", want.Overdue, got.Overdue)
	for i := range want.Obligations {
		if i >= len(got.Obligations) {
			out = append(out, Discrepancy{What: "obligations by status: missing " + want.Obligations[i].Status.String()})
			continue
		}
		pair("obligations "+want.Obligations[i].Status.String(), want.Obligations[i], got.Obligations[i])
	}
	for i := range want.Findings {
		if i >= len(got.Findings) {
			out = append(out, Discrepancy{What: "findings: missing " + want.Findings[i].Determination.String()})
			continue
		}
		pair("findings "+want.Findings[i].Determination.String(), want.Findings[i], got.Findings[i])
	}
	if len(out) == 0 && !proto.Equal(want, got) {
		out = append(out, Discrepancy{What: "figures", Want: compact(want), Got: compact(got)})
	}
	return out
}

// series follows obligation events through re-execution.
type series struct {
	states  []string
	isState map[string]bool
	status  map[string][2]string // obligation id -> debtor, status
	points  []Point
	every   int64
}

func newSeries(gen *cmttypes.GenesisDoc) *series {
	s := &series{isState: map[string]bool{}, status: map[string][2]string{}, every: 1}
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
