package app

import (
	"context"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
)

// ListSnapshots implements ABCI state sync: the snapshots this node serves.
func (a *App) ListSnapshots(_ context.Context, _ *abci.RequestListSnapshots) (*abci.ResponseListSnapshots, error) {
	if a.snaps == nil {
		return &abci.ResponseListSnapshots{}, nil
	}
	return &abci.ResponseListSnapshots{Snapshots: a.snaps.List()}, nil
}

// LoadSnapshotChunk implements ABCI state sync.
func (a *App) LoadSnapshotChunk(_ context.Context, req *abci.RequestLoadSnapshotChunk) (*abci.ResponseLoadSnapshotChunk, error) {
	if a.snaps == nil {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	return &abci.ResponseLoadSnapshotChunk{Chunk: a.snaps.Load(req.Height, req.Format, req.Chunk)}, nil
}

// OfferSnapshot implements ABCI state sync: req.AppHash is the app hash
// CometBFT's light client verified for the snapshot's height.
func (a *App) OfferSnapshot(_ context.Context, req *abci.RequestOfferSnapshot) (*abci.ResponseOfferSnapshot, error) {
	if a.snaps == nil || req.Snapshot == nil {
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_ABORT}, nil
	}
	return &abci.ResponseOfferSnapshot{Result: a.snaps.Offer(req.Snapshot, req.AppHash)}, nil
}

// ApplySnapshotChunk implements ABCI state sync.
func (a *App) ApplySnapshotChunk(_ context.Context, req *abci.RequestApplySnapshotChunk) (*abci.ResponseApplySnapshotChunk, error) {
	if a.snaps == nil {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}, nil
	}
	resp, done := a.snaps.Apply(req.Index, req.Chunk, req.Sender)
	if done {
		if err := a.load(); err != nil {
			return nil, fmt.Errorf("load the restored state: %w", err)
		}
		a.log.Info("state restored by state sync", "height", a.st.Version(), "chain_id", a.chainID)
	}
	return resp, nil
}
