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
	"fmt"
	"io"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/ed25519"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/app"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	"github.com/normledger/normledger/ledger/store/tlog/logproof"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
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
	var params *cmtproto.ConsensusParams
	if gen.ConsensusParams != nil {
		p := gen.ConsensusParams.ToProto()
		params = &p
	}
	ic, err := a.InitChain(ctx, &abci.RequestInitChain{ChainId: gen.ChainID, Time: gen.GenesisTime,
		InitialHeight: gen.InitialHeight, AppStateBytes: gen.AppState, ConsensusParams: params})
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
	prevLog := verifiers.LogState{Root: logproof.Hasher.EmptyRoot()}
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
	// Pledge states are judged at the time of header to, as verified.
	last, err := lc.Header(ctx, to)
	if err != nil {
		return nil, err
	}
	if err := compareAnswers(ctx, o.API, mem, to, last.Time, rep); err != nil {
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
