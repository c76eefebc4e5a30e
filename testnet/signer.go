package testnet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/node"
)

// Signer is a remote signer process holding one validator's key, off the
// node (as tmkms or Horcrux would, with an HSM behind them). Its home holds
// the key, the double-sign protection state, a pid file and a log, like a
// node's.
type Signer struct {
	NodeInfo
	// Addr is the node's priv_validator_laddr the signer dials.
	Addr string
}

// MoveKeyToSigner takes node n's validator key and sign state out of its
// home into DIR/signers/<node>, and makes n listen for a remote signer at
// addr (priv_validator_laddr). The node keeps no validator key.
func (nw *Network) MoveKeyToSigner(n NodeInfo, addr string) (Signer, error) {
	home := filepath.Join(nw.Dir, "signers", n.Name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return Signer{}, err
	}
	cfg, err := operator.LoadCometConfig(n.Home)
	if err != nil {
		return Signer{}, err
	}
	for _, f := range []struct{ from, to string }{
		{cfg.PrivValidatorKeyFile(), filepath.Join(home, "priv_validator_key.json")},
		{cfg.PrivValidatorStateFile(), filepath.Join(home, "priv_validator_state.json")},
	} {
		if err := os.Rename(f.from, f.to); err != nil && !os.IsNotExist(err) {
			return Signer{}, err
		}
	}
	cfg.PrivValidatorListenAddr = "tcp://" + addr
	if err := node.SaveCometConfig(n.Home, cfg); err != nil {
		return Signer{}, err
	}
	return Signer{NodeInfo: NodeInfo{Name: "signer-" + n.Name, Home: home}, Addr: addr}, nil
}

// StartSigner starts the signer process (`normledger signer`).
func (nw *Network) StartSigner(s Signer) (*Process, error) {
	if pid, ok := PID(s.NodeInfo); ok {
		return nil, fmt.Errorf("%s is already running (pid %d)", s.Name, pid)
	}
	log, err := os.OpenFile(LogFile(s.NodeInfo), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	fmt.Fprintf(log, "\n=== %s: starting %s\n", time.Now().UTC().Format(time.RFC3339), s.Name)
	cmd := exec.Command(BinaryPath(nw.Dir), "signer", "--addr", "tcp://"+s.Addr, "--chain-id", nw.ChainID,
		"--key", filepath.Join(s.Home, "priv_validator_key.json"), "--state", filepath.Join(s.Home, "priv_validator_state.json"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	if err := atomicfile.WriteFile(pidFile(s.NodeInfo), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	p := &Process{Node: s.NodeInfo, Cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// SignerLog is the tail of the signer's log.
func SignerLog(s Signer) string {
	bz, _ := os.ReadFile(LogFile(s.NodeInfo))
	lines := strings.Split(strings.TrimSpace(string(bz)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
