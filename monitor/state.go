package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/normledger/normledger/internal/atomicfile"
)

// state is the state file.
type state struct {
	Version int    `json:"version"`
	ChainID string `json:"chain_id"`
	Member  string `json:"member"`
	// Height is the last state height processed (0: none yet) and
	// BlockTime its block's time, where the next obligation scan starts.
	Height    int64     `json:"height"`
	BlockTime time.Time `json:"block_time"`
	// The last record seen in the member's author and subject indexes.
	Author  recordCursor `json:"author_cursor"`
	Subject recordCursor `json:"subject_cursor"`
	// Watch: open obligations due before BlockTime (created in the block
	// of Height with a due time already past), fetched by id until closed.
	Watch []string `json:"watch,omitempty"`
	// Delivered: event ids delivered, kept while the event could still be
	// found again. Pending: events found, in delivery order, not yet
	// delivered.
	Delivered map[string]deliveredEvent `json:"delivered"`
	Pending   []*Event                  `json:"pending"`
}

type recordCursor struct {
	Seq    uint64 `json:"seq"`
	Height int64  `json:"height"`
}

type deliveredEvent struct {
	Height     int64     `json:"height"`
	Obligation string    `json:"obligation,omitempty"`
	Due        time.Time `json:"due,omitempty"`
}

const stateVersion = 1

func DefaultStatePath(home, member string) string {
	return filepath.Join(home, "monitor-"+member+".json")
}

func loadState(path string) (*state, error) {
	bz, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &state{Version: stateVersion, Delivered: map[string]deliveredEvent{}}, nil
	}
	if err != nil {
		return nil, err
	}
	st := new(state)
	if err := json.Unmarshal(bz, st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("state file %s: version %d, this monitor reads %d", path, st.Version, stateVersion)
	}
	if st.Delivered == nil {
		st.Delivered = map[string]deliveredEvent{}
	}
	return st, nil
}

func (m *daemon) save() error {
	bz, err := json.MarshalIndent(m.st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(m.o.StatePath, append(bz, '\n'), 0o600)
}

// prune forgets delivered ids that can no longer be found again: records
// of earlier steps (the record cursors are past them) and obligations due
// before the next scan's window that are not watched.
func (m *daemon) prune() {
	watched := map[string]bool{}
	for _, id := range m.st.Watch {
		watched[id] = true
	}
	for id, d := range m.st.Delivered {
		if d.Obligation == "" {
			if d.Height < m.st.Height {
				delete(m.st.Delivered, id)
			}
			continue
		}
		if d.Due.Before(m.st.BlockTime) && !watched[d.Obligation] {
			delete(m.st.Delivered, id)
		}
	}
}
