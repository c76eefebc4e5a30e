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
	"github.com/cometbft/cometbft/crypto/ed25519"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/app"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/store"
	"github.com/normledger/normledger/ledger/store/tlog"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/checkpoint"
	"github.com/normledger/normledger/verifiers/remote"
)

// API is what the auditor asks the audited node (client.Client satisfies it).
type API interface {
	remote.LightBlockSource
	Status(ctx context.Context) (*pb.StatusResponse, error)
	Genesis(ctx context.Context) ([]byte, error)
	Block(ctx context.Context, height int64) (*pb.GetBlockResponse, error)
	Records(ctx context.Context, req *pb.ListRecordsRequest) (*pb.ListRecordsResponse, error)
	GetLog(ctx context.Context, height int64, prove bool) (*pb.GetLogResponse, error)
	GetLogConsistency(ctx context.Context, first, second uint64) (*pb.GetLogConsistencyResponse, error)
	ListCheckpoints(ctx context.Context, before int64, limit int) (*pb.ListCheckpointsResponse, error)
	MemberCompliance(ctx context.Context, member string, height int64) (*pb.GetMemberComplianceResponse, error)
	PledgeCompliance(ctx context.Context, id string, height int64) (*pb.GetPledgeComplianceResponse, error)
	EvidenceList(ctx context.Context, member string, height int64, prove bool) (*pb.ListEvidenceResponse, error)
}

// Options configure an audit.
type Options struct {
	API       API
	NodeName  string
	Witnesses []*remote.Provider
	// Trust is the trust root; zero means trust the genesis validators'
	// signatures on the first block.
	Trust remote.TrustRoot
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
	ChainID          string `json:"chain_id"`
	Node             string `json:"node"`
	FromHeight       int64  `json:"from_height"`
	ToHeight         int64  `json:"to_height"`
	Blocks           int64  `json:"blocks"`
	Txs              int    `json:"txs"`
	Accepted         int    `json:"accepted"`
	Rejected         int    `json:"rejected"`
	Signatures       int    `json:"signatures_verified"`
	HeadersVerified  int64  `json:"headers_verified"`
	AppHashesMatched int64  `json:"app_hashes_matched"`
	// ValidatorSetsMatched counts heights whose member registry gave the
	// validator set the headers name (governance changes included).
	ValidatorSetsMatched int64 `json:"validator_sets_matched"`
	// LogRootsMatched counts heights whose record log (size and root), as
	// the node proves it, is the log rebuilt from the blocks;
	// LogConsistencyVerified the consecutive pairs of log sizes whose
	// consistency proof from the node verified.
	LogRootsMatched        int64 `json:"log_roots_matched"`
	LogConsistencyVerified int64 `json:"log_consistency_verified"`
	// Checkpoints are the node\'s published checkpoints in the audited
	// range, each checked against the re-execution, with the witnesses
	// whose cosignatures verified (coverage over time).
	Checkpoints     []CheckpointCoverage `json:"checkpoints"`
	RecordsCompared int                  `json:"records_compared"`
	MembersCompared int                  `json:"members_compared"`
	PledgesCompared int                  `json:"pledges_compared"`
	// Evidence is the validator misbehaviour the re-execution committed
	// (compared with what the node serves).
	Evidence       []EvidenceEntry        `json:"evidence"`
	Seconds        float64                `json:"seconds"`
	TxsPerSecond   float64                `json:"txs_per_second"`
	Discrepancies  []Discrepancy          `json:"discrepancies"`
	Compliance     []*pb.MemberCompliance `json:"-"`
	ComplianceJSON []json.RawMessage      `json:"compliance"`
	Series         []Point                `json:"obligation_series"`
	States         []string               `json:"states"`
	Started        time.Time              `json:"started"`
}

// EvidenceEntry is one piece of evidence as the re-execution stored it.
type EvidenceEntry struct {
	ID              string `json:"id"`
	Type            string `json:"type"`
	Validator       string `json:"validator_address"`
	Member          string `json:"member,omitempty"`
	Height          int64  `json:"height"`
	CommittedHeight int64  `json:"committed_height"`
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
	if st.StateSyncedFrom > 0 {
		return nil, fmt.Errorf("%s joined the chain by state sync at height %d: it holds no blocks or state before that, and an audit replays the chain from genesis; point --node at a node with the full history (an archive node that synced from genesis)", o.NodeName, st.StateSyncedFrom)
	}
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
		if root, err = remote.TrustFromGenesis(ctx, gen, o.API); err != nil {
			return nil, err
		}
	}
	lc, err := remote.NewLightClient(ctx, gen.ChainID, remote.NewProvider(gen.ChainID, o.NodeName, o.API), o.Witnesses, root, "")
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
	prevLog := verifiers.LogState{Root: tlog.Hasher.EmptyRoot()}
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
		// The block's evidence, checked against the header's evidence hash,
		// goes to FinalizeBlock as CometBFT passes it.
		var evl cmttypes.EvidenceList
		for i, bz := range blk.Evidence {
			var p cmtproto.Evidence
			if err := p.Unmarshal(bz); err != nil {
				return nil, fmt.Errorf("block %d evidence %d: %w", h, i, err)
			}
			ev, err := cmttypes.EvidenceFromProto(&p)
			if err != nil {
				return nil, fmt.Errorf("block %d evidence %d: %w", h, i, err)
			}
			evl = append(evl, ev)
		}
		if !bytes.Equal(evl.Hash(), header.EvidenceHash) {
			rep.add(h, "block evidence does not match the header's evidence hash", fmt.Sprintf("%X", header.EvidenceHash), fmt.Sprintf("%X", evl.Hash()))
		}
		res, err := a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Txs: blk.Txs, Height: h, Time: header.Time,
			ProposerAddress: header.ProposerAddress, Hash: header.Hash(), Misbehavior: evl.ToABCI()})
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
		// The member registry of state h defines CometBFT's validator set
		// at h+2, whose hash header h+1 carries as next_validators_hash.
		vh, err := registryValidatorsHash(mem, h)
		if err != nil {
			return nil, fmt.Errorf("validators of state %d: %w", h, err)
		}
		if !bytes.Equal(vh, next.NextValidatorsHash) {
			rep.add(h, "validator set of the member registry differs from header "+fmt.Sprint(h+1)+"'s next validators",
				fmt.Sprintf("%X", next.NextValidatorsHash), fmt.Sprintf("%X", vh))
		} else {
			rep.ValidatorSetsMatched++
		}
		if err := checkLog(ctx, o.API, mem, h, next, &prevLog, rep); err != nil {
			return nil, err
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
	if err := auditCheckpoints(ctx, o.API, mem, lc, gen.ChainID, to, rep); err != nil {
		return nil, err
	}
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

// CheckpointCoverage is one published checkpoint as the audit found it.
type CheckpointCoverage struct {
	Height    int64    `json:"height"`
	Size      uint64   `json:"size"`
	Cosigners []string `json:"cosigners"`
}

// auditCheckpoints checks every checkpoint the node published up to height
// to: its certificate (header verified by the light client), that it names
// the log the re-execution has at its height, and which registered
// witnesses cosigned it.
func auditCheckpoints(ctx context.Context, api API, mem *store.Store, lc *remote.LightClient, chainID string, to int64, rep *Report) error {
	res, err := api.ListCheckpoints(ctx, to, 200)
	if err != nil {
		return nil //nolint:nilerr // a node of an older version serves none
	}
	v, err := mem.At(0)
	if err != nil {
		return err
	}
	ms, err := v.Members()
	if err != nil {
		return err
	}
	text := "quorum none\n"
	for _, w := range checkpoint.RegistryWitnesses(ms) {
		text = fmt.Sprintf("witness %s %s\n", w.Name, w.Key) + text
	}
	policy, err := checkpoint.ParsePolicy(text)
	if err != nil {
		return err
	}
	for i := len(res.Checkpoints) - 1; i >= 0; i-- {
		info := res.Checkpoints[i]
		c, err := checkpoint.Open([]byte(info.Note), chainID, policy, func(lb *cmttypes.LightBlock) error { return lc.CheckHeader(ctx, lb) })
		if err != nil {
			rep.add(info.Height, "published checkpoint does not verify", "", err.Error())
			continue
		}
		mv, err := mem.At(c.Height)
		if err != nil {
			return err
		}
		size, root, err := mv.LogState()
		if err != nil {
			return err
		}
		if c.Height != info.Height || c.Size != size || !bytes.Equal(c.Root, root) {
			rep.add(info.Height, "published checkpoint names another log than the re-execution", fmt.Sprintf("%d %X", size, root), fmt.Sprintf("%d %X", c.Size, c.Root))
			continue
		}
		rep.Checkpoints = append(rep.Checkpoints, CheckpointCoverage{Height: c.Height, Size: c.Size, Cosigners: c.Cosigners})
	}
	return nil
}

// checkLog compares the record log the node proves at height h with the
// one rebuilt from the blocks, and checks the node's consistency proof from
// the previous height's log.
func checkLog(ctx context.Context, api API, mem *store.Store, h int64, next *cmttypes.LightBlock, prev *verifiers.LogState, rep *Report) error {
	v, err := mem.At(h)
	if err != nil {
		return err
	}
	size, root, err := v.LogState()
	if err != nil {
		return fmt.Errorf("rebuilt log at %d: %w", h, err)
	}
	mine := verifiers.LogState{Height: h, Size: size, Root: root}
	res, err := api.GetLog(ctx, h, true)
	if err != nil {
		return fmt.Errorf("log at %d: %w", h, err)
	}
	theirs, err := verifiers.ProvenLog(next.AppHash, res.Proof, h)
	switch {
	case err != nil:
		rep.add(h, "the node's log state does not verify against header "+fmt.Sprint(h+1), "", err.Error())
	case theirs.Size != mine.Size || !bytes.Equal(theirs.Root, mine.Root) || res.Size != mine.Size || !bytes.Equal(res.Root, mine.Root):
		rep.add(h, "record log differs from the one rebuilt from the blocks", fmt.Sprintf("%d %X", mine.Size, mine.Root), fmt.Sprintf("%d %X", res.Size, res.Root))
	default:
		rep.LogRootsMatched++
	}
	if mine.Size != prev.Size {
		c, err := api.GetLogConsistency(ctx, prev.Size, mine.Size)
		if err != nil {
			rep.add(h, fmt.Sprintf("no consistency proof %d -> %d", prev.Size, mine.Size), "", err.Error())
		} else if err := verifiers.Consistent(*prev, mine, c.Hashes); err != nil {
			rep.add(h, fmt.Sprintf("consistency proof %d -> %d does not verify", prev.Size, mine.Size), "", err.Error())
		} else {
			rep.LogConsistencyVerified++
		}
	}
	*prev = mine
	return nil
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
		// The served record with its reading aids (decoded transaction,
		// signers), which no proof covers, must also be what the
		// re-execution gives.
		if !proto.Equal(ledger.Readable(mine[i]), theirs[i]) {
			rep.add(to, fmt.Sprintf("record %d (%s) as the node serves it", mine[i].Seq, mine[i].Id),
				describeRecord(mine[i]), describeRecord(theirs[i]))
		}
		rep.RecordsCompared++
	}
	// Evidence of validator misbehaviour: what the re-execution committed
	// is what the node serves.
	evs, err := v.EvidenceList("")
	if err != nil {
		return err
	}
	for _, e := range evs {
		rep.Evidence = append(rep.Evidence, EvidenceEntry{ID: e.Id, Type: enum.Name(e.Type),
			Validator: fmt.Sprintf("%X", e.ValidatorAddress), Member: e.Member, Height: e.Height, CommittedHeight: e.CommittedHeight})
	}
	if got, err := api.EvidenceList(ctx, "", to, false); err != nil {
		rep.add(to, "evidence: node did not answer", "", err.Error())
	} else {
		if len(got.Evidence) != len(evs) {
			rep.add(to, "number of pieces of evidence the node lists", fmt.Sprint(len(evs)), fmt.Sprint(len(got.Evidence)))
		}
		for i := 0; i < len(evs) && i < len(got.Evidence); i++ {
			if !proto.Equal(evs[i], got.Evidence[i]) {
				rep.add(to, "evidence "+evs[i].Id+" as the node serves it", compact(evs[i]), compact(got.Evidence[i]))
			}
		}
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
		// The pledge's state is a function of the pledge and the time of
		// the header at this height.
		lb, err := api.LightBlock(ctx, to)
		if err != nil {
			return fmt.Errorf("header at %d: %w", to, err)
		}
		tx, err := ledger.DecodeTx(r.Tx, 0)
		if err != nil {
			return err
		}
		want.State = ledger.PledgeStateAt(tx.Body.Record.GetPledge(), lb.Time)
		want.StateTime = timestamppb.New(lb.Time)
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

// registryValidatorsHash is the CometBFT validator set hash of the validators
// the member registry of state h defines.
func registryValidatorsHash(st *store.Store, h int64) ([]byte, error) {
	v, err := st.At(h)
	if err != nil {
		return nil, err
	}
	ms, err := v.Members()
	if err != nil {
		return nil, err
	}
	var vals []*cmttypes.Validator
	for _, u := range ledger.PowersOf(ms).Sorted() {
		vals = append(vals, cmttypes.NewValidator(ed25519.PubKey(u.PubKey), u.Power))
	}
	if len(vals) == 0 {
		return nil, fmt.Errorf("the member registry names no validator")
	}
	// NewValidatorSet orders the set as CometBFT does (power, then address).
	return cmttypes.NewValidatorSet(vals).Hash(), nil
}
