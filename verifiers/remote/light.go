package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/light/provider"
	lightstore "github.com/cometbft/cometbft/light/store/db"
	"github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
)

// LightBlockSource fetches signed headers with validator sets from one node
// (client.Client satisfies it).
type LightBlockSource interface {
	LightBlock(ctx context.Context, height int64) (*types.LightBlock, error)
}

// ConsistencySource serves the record log's consistency proofs
// (client.Client satisfies it).
type ConsistencySource interface {
	GetLogConsistency(ctx context.Context, first, second uint64) (*pb.GetLogConsistencyResponse, error)
}

// codedError is how API errors expose the ledger result code and details.
type codedError interface {
	error
	LedgerCode() ledger.Code
	ErrorDetails() []proto.Message
}

// Provider adapts a node's API to CometBFT's light client provider.
type Provider struct {
	chainID string
	name    string
	src     LightBlockSource
}

var _ provider.Provider = (*Provider)(nil)

// NewProvider wraps src (named for messages, e.g. its URL).
func NewProvider(chainID, name string, src LightBlockSource) *Provider {
	return &Provider{chainID: chainID, name: name, src: src}
}

// ChainID implements provider.Provider.
func (p *Provider) ChainID() string { return p.chainID }

func (p *Provider) String() string { return p.name }

// LightBlock implements provider.Provider.
func (p *Provider) LightBlock(ctx context.Context, height int64) (*types.LightBlock, error) {
	lb, err := p.src.LightBlock(ctx, height)
	if err != nil {
		var ce codedError
		if errors.As(err, &ce) {
			switch ce.LedgerCode() {
			case ledger.CodeHeightTooHigh:
				return nil, provider.ErrHeightTooHigh
			case ledger.CodeUnavailable:
				return nil, provider.ErrLightBlockNotFound
			}
		}
		return nil, provider.ErrNoResponse
	}
	if err := lb.ValidateBasic(p.chainID); err != nil {
		return nil, provider.ErrBadLightBlock{Reason: err}
	}
	if height != 0 && lb.Height != height {
		return nil, provider.ErrBadLightBlock{Reason: fmt.Errorf("asked for height %d, got %d", height, lb.Height)}
	}
	return lb, nil
}

// ReportEvidence implements provider.Provider. Evidence of an attack found by
// the light client is logged by it; this API does not accept evidence.
func (p *Provider) ReportEvidence(context.Context, types.Evidence) error {
	return errors.New("evidence submission is not supported by the normledger API")
}

// TrustRoot is what a verifier trusts to begin with: one header by height
// and hash. Period is the trusting period (how old a trusted header may get
// before it can no longer vouch for new ones).
type TrustRoot struct {
	Height int64
	Hash   []byte
	Period time.Duration
}

// DefaultTrustPeriod is used when TrustRoot.Period is zero.
const DefaultTrustPeriod = 14 * 24 * time.Hour

// TrustFromGenesis derives a trust root from a genesis document: the first
// block, fetched from src, must belong to the genesis chain and be signed by
// more than two thirds of the genesis validators.
func TrustFromGenesis(ctx context.Context, gen *types.GenesisDoc, src LightBlockSource) (TrustRoot, error) {
	if err := gen.ValidateAndComplete(); err != nil {
		return TrustRoot{}, fmt.Errorf("genesis: %w", err)
	}
	lb, err := src.LightBlock(ctx, gen.InitialHeight)
	if err != nil {
		return TrustRoot{}, fmt.Errorf("first block: %w", err)
	}
	if err := lb.ValidateBasic(gen.ChainID); err != nil {
		return TrustRoot{}, verifiers.Failf("first block: %v", err)
	}
	if err := verifiers.VerifyFirstBlock(gen, lb); err != nil {
		return TrustRoot{}, err
	}
	return TrustRoot{Height: lb.Height, Hash: lb.Hash()}, nil
}

// LightClient verifies headers with CometBFT's light client (skipping
// verification, default trust level 1/3), cross-checking witnesses, and
// keeps verified headers in a trust store.
type LightClient struct {
	lc    *light.Client
	store interface {
		LightBlockBefore(int64) (*types.LightBlock, error)
		LightBlock(int64) (*types.LightBlock, error)
	}
	db dbm.DB
}

// NewLightClient starts a light client. With dbDir the trust store persists
// there and a zero root resumes from it; without, it lives in memory.
func NewLightClient(ctx context.Context, chainID string, primary *Provider, witnesses []*Provider, root TrustRoot, dbDir string) (*LightClient, error) {
	if root.Period == 0 {
		root.Period = DefaultTrustPeriod
	}
	var db dbm.DB = dbm.NewMemDB()
	if dbDir != "" {
		d, err := dbm.NewGoLevelDB("light-trust", dbDir)
		if err != nil {
			return nil, fmt.Errorf("trust store: %w", err)
		}
		db = d
	}
	ls := lightstore.New(db, chainID)
	ws := make([]provider.Provider, len(witnesses))
	for i, w := range witnesses {
		ws[i] = w
	}
	opts := []light.Option{light.SkippingVerification(light.DefaultTrustLevel), light.Logger(cmtlog.NewNopLogger()), light.MaxRetryAttempts(3)}
	var lc *light.Client
	var err error
	if root.Height == 0 {
		lc, err = light.NewClientFromTrustedStore(chainID, root.Period, primary, ws, ls, opts...)
		if err == nil {
			// An empty store answers -1 without an error.
			if h, terr := lc.LastTrustedHeight(); terr != nil || h < 1 {
				err = errors.New("no trust root: give a trusted height and hash, or a genesis file")
			}
		}
	} else {
		lc, err = light.NewClient(ctx, chainID, light.TrustOptions{Period: root.Period, Height: root.Height, Hash: root.Hash}, primary, ws, ls, opts...)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("light client: %w", err)
	}
	return &LightClient{lc: lc, store: ls, db: db}, nil
}

// Close releases the trust store.
func (c *LightClient) Close() error { return c.db.Close() }

// Header returns the light block at height, verified from the trust root
// and cross-checked with the witnesses.
func (c *LightClient) Header(ctx context.Context, height int64) (*types.LightBlock, error) {
	lb, err := c.lc.VerifyLightBlockAtHeight(ctx, height, time.Now())
	if err != nil {
		return nil, verifiers.Failf("header %d: %v", height, err)
	}
	return lb, nil
}

// Trace returns the verified light blocks the trust store holds from the
// first trusted one up to height, ascending: the chain of headers an offline
// checker re-verifies.
func (c *LightClient) Trace(height int64) ([]*types.LightBlock, error) {
	first, err := c.lc.FirstTrustedHeight()
	if err != nil {
		return nil, err
	}
	top, err := c.store.LightBlock(height)
	if err != nil {
		return nil, fmt.Errorf("header %d is not in the trust store: %w", height, err)
	}
	out := []*types.LightBlock{top}
	for h := height; h > first; {
		lb, err := c.store.LightBlockBefore(h)
		if err != nil {
			break
		}
		out = append(out, lb)
		h = lb.Height
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// CheckHeader accepts a light block only if it is the header this light
// client verifies at its height.
func (c *LightClient) CheckHeader(ctx context.Context, lb *types.LightBlock) error {
	h, err := c.Header(ctx, lb.Height)
	if err != nil {
		return err
	}
	if !bytes.Equal(h.Hash(), lb.Hash()) {
		return fmt.Errorf("header %X is not the chain's header %X at height %d", lb.Hash(), h.Hash(), lb.Height)
	}
	return nil
}

func (c *LightClient) checkHeader(ctx context.Context) func(*types.LightBlock) error {
	return func(lb *types.LightBlock) error { return c.CheckHeader(ctx, lb) }
}
