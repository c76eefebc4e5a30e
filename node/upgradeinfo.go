package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger"
)

// UpgradeInfoFile is the file, in a home's data directory, that a node
// stopping for a software upgrade writes for an upgrade supervisor:
// cosmovisor polls $DAEMON_HOME/data/upgrade-info.json (so DAEMON_HOME is
// the node's --home) and, when the file names an upgrade whose binary
// $DAEMON_HOME/cosmovisor/upgrades/<name>/bin/$DAEMON_NAME is installed,
// points $DAEMON_HOME/cosmovisor/current at upgrades/<name> and starts that
// binary with the same arguments (docs/operations.md, "Upgrades").
const UpgradeInfoFile = "upgrade-info.json"

// UpgradeInfo is upgrade-info.json: the Cosmos SDK's x/upgrade keeper
// writes these fields of its Plan when a node halts for an upgrade it
// lacks (Keeper.DumpUpgradeInfoToDisk), and cosmovisor reads them back
// into a Plan with a strict protobuf-JSON decoder (Config.ParseUpgradeInfo),
// so no field beyond the Plan's may appear. Name is the plan's name (a
// normledger upgrade name is already lower case, as cosmovisor's upgrade
// directories are); Height is the height of the block that needs the new
// binary (the plan's height: the stopped node committed the block before
// it); Info is the plan's free text, which cosmovisor reads only for
// auto-download (DAEMON_ALLOW_DOWNLOAD_BINARIES: a JSON object with
// "binaries" mapping "os/arch" to a URL with ?checksum=sha256:..., or a
// URL of such a document).
type UpgradeInfo struct {
	Name   string `json:"name"`
	Height int64  `json:"height"`
	Info   string `json:"info"`
}

// UpgradeInfoPath is home's data/upgrade-info.json.
func UpgradeInfoPath(home string) string { return filepath.Join(home, "data", UpgradeInfoFile) }

// WriteUpgradeInfo writes home's data/upgrade-info.json for the upgrade e
// names, atomically and durably (a temporary file, fsynced, renamed over
// the file, the directory fsynced): a supervisor polling the file sees
// either the old content or the new, never a partial file (cosmovisor
// reads whatever it finds and fails on a truncated file; the SDK writes
// in place). A file that already says the same is left as it is, so a
// node that stops again for the same upgrade changes nothing, not even
// the file's modification time, which cosmovisor's poller compares.
//
// Node.Run calls it after the node stopped (the stores closed): a
// supervisor that kills the process as soon as the file appears
// (cosmovisor does, unless DAEMON_SHUTDOWN_GRACE is set) then finds
// nothing left to interrupt.
func WriteUpgradeInfo(home string, e *ledger.UpgradeNeededError) error {
	if e == nil || e.Plan == nil {
		return errors.New("upgrade-info.json: no upgrade plan")
	}
	if e.Plan.GetName() == "" || e.Plan.GetHeight() <= 0 {
		return fmt.Errorf("upgrade-info.json: plan %q at height %d is not an upgrade", e.Plan.GetName(), e.Plan.GetHeight())
	}
	bz, err := json.Marshal(UpgradeInfo{Name: e.Plan.GetName(), Height: e.Plan.GetHeight(), Info: e.Plan.GetInfo()})
	if err != nil {
		return err
	}
	path := UpgradeInfoPath(home)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, bz) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("upgrade-info.json: %w", err)
	}
	// 0600 as the SDK's keeper writes it: the supervisor runs as the
	// node's user.
	if err := atomicfile.WriteFile(path, bz, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadUpgradeInfo reads home's data/upgrade-info.json (os.ErrNotExist if
// there is none).
func ReadUpgradeInfo(home string) (UpgradeInfo, error) {
	var u UpgradeInfo
	bz, err := os.ReadFile(UpgradeInfoPath(home))
	if err != nil {
		return u, err
	}
	dec := json.NewDecoder(bytes.NewReader(bz))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return u, fmt.Errorf("%s: %w", UpgradeInfoPath(home), err)
	}
	return u, nil
}
