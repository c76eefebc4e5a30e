package remote

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/normledger/normledger/verifiers"
)

// The trust store's record of the newest accepted log state lives with the
// light client (which needs a database, so not in js/wasm builds).

// CheckLog checks a newly verified log state against the newest one the
// trust store accepted, fetching the consistency proof between them from
// src, and keeps cur if it is newer. A node, or a set of validators, that
// rewrote the log since is caught even though its headers are validly
// signed.
func (c *LightClient) CheckLog(ctx context.Context, src ConsistencySource, cur verifiers.LogState) error {
	prev, ok, err := c.LogState()
	if err != nil {
		return err
	}
	if ok && prev.Size != cur.Size {
		first, second := min(prev.Size, cur.Size), max(prev.Size, cur.Size)
		resp, err := src.GetLogConsistency(ctx, first, second)
		if err != nil {
			return fmt.Errorf("consistency proof %d -> %d: %w", first, second, err)
		}
		if resp.First != first || resp.Second != second {
			return verifiers.Failf("asked for a consistency proof %d -> %d, got %d -> %d", first, second, resp.First, resp.Second)
		}
		if err := verifiers.Consistent(prev, cur, resp.Hashes); err != nil {
			return err
		}
	} else if ok {
		if err := verifiers.Consistent(prev, cur, nil); err != nil {
			return err
		}
	}
	if !ok || cur.Size > prev.Size {
		return c.setLogState(cur)
	}
	return nil
}

// logStateKey holds the newest accepted log state in the trust store,
// beside CometBFT's light blocks.
var logStateKey = []byte("normledger/log")

// LogState is the newest log state this trust store accepted.
func (c *LightClient) LogState() (verifiers.LogState, bool, error) {
	bz, err := c.db.Get(logStateKey)
	if err != nil {
		return verifiers.LogState{}, false, fmt.Errorf("trust store: %w", err)
	}
	if bz == nil {
		return verifiers.LogState{}, false, nil
	}
	if len(bz) != 48 {
		return verifiers.LogState{}, false, fmt.Errorf("trust store: log state of %d bytes", len(bz))
	}
	return verifiers.LogState{Height: int64(binary.BigEndian.Uint64(bz)), Size: binary.BigEndian.Uint64(bz[8:]), Root: bz[16:]}, true, nil
}

func (c *LightClient) setLogState(ls verifiers.LogState) error {
	bz := binary.BigEndian.AppendUint64(nil, uint64(ls.Height))
	bz = binary.BigEndian.AppendUint64(bz, ls.Size)
	bz = append(bz, ls.Root...)
	if err := c.db.SetSync(logStateKey, bz); err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	return nil
}
