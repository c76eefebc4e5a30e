package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/normledger/normledger/internal/atomicfile"
)

// Each node runs as its own OS process, `<dir>/bin/normledger start --home
// <dir>/nodeN`, in its own process group, logging to <home>/node.log, with
// its pid in <home>/node.pid. Commands find nodes through those files, so
// any shell can stop, kill, pause or restart them.

// BinaryPath is where a network keeps the normledger binary its nodes run.
func BinaryPath(dir string) string { return filepath.Join(dir, "bin", "normledger") }

// InstallBinary copies the running executable into the network directory, so
// nodes keep a stable binary even when started through `go run`.
func InstallBinary(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return CopyBinary(self, dir)
}

// CopyBinary installs the binary at src as the network's node binary.
func CopyBinary(src, dir string) error {
	dst := BinaryPath(dir)
	if src == dst {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.Write(dst, 0o755, in)
}

// Node finds a node by name ("node2").
func (n *Network) Node(name string) (NodeInfo, error) {
	for _, x := range n.Nodes {
		if x.Name == name {
			return x, nil
		}
	}
	var names []string
	for _, x := range n.Nodes {
		names = append(names, x.Name)
	}
	return NodeInfo{}, fmt.Errorf("no node %q (nodes: %s)", name, strings.Join(names, ", "))
}

func pidFile(n NodeInfo) string { return filepath.Join(n.Home, "node.pid") }

// LogFile is the node's log.
func LogFile(n NodeInfo) string { return filepath.Join(n.Home, "node.log") }

// PID returns the node's process id if its process is alive.
func PID(n NodeInfo) (int, bool) {
	bz, err := os.ReadFile(pidFile(n))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(bz)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	// The pid must still be our node (pids are reused) and not a zombie.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), n.Home) {
		return 0, false
	}
	if procState(pid) == 'Z' {
		return 0, false
	}
	return pid, true
}

// procState is the process state letter from /proc (R, S, T for stopped, Z...).
func procState(pid int) byte {
	bz, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(bz)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0
	}
	return s[i+2]
}

// Paused reports whether the node's process is stopped by SIGSTOP.
func Paused(n NodeInfo) bool {
	pid, ok := PID(n)
	return ok && procState(pid) == 'T'
}

// Process is a started node process.
type Process struct {
	Node NodeInfo
	Cmd  *exec.Cmd
	done chan struct{}
}

// Done is closed when the process has exited (only for processes this
// program started).
func (p *Process) Done() <-chan struct{} { return p.done }

// NodeRuntimeEnv is the Go runtime setting of every node process, of both
// apps alike, unless the environment of `testnet start` sets them: GC at 200 %
// heap growth instead of 100 % (a node allocates heavily per block; this
// runs the GC half as often; see README, Configuration), with a soft limit so that
// the larger heap stays bounded when several nodes share one machine.
var NodeRuntimeEnv = []string{"GOGC=200", "GOMEMLIMIT=448MiB"}

// StartNode starts the node's process with extra environment variables
// (e.g. FAIL_TEST_INDEX=7). It refuses if the node already runs.
func StartNode(dir string, n NodeInfo, env ...string) (*Process, error) {
	args := []string{"start", "--home", n.Home}
	if appOf(dir) == AppKVStore {
		args = []string{"testnet", "kvstore-node", "--home", n.Home}
	}
	return startProcess(dir, n, args, env)
}

// StartWitness starts witness w of the network (its light client and
// follower sources: the first two nodes).
func StartWitness(nw *Network, w NodeInfo, env ...string) (*Process, error) {
	args := []string{"witness", "start", "--home", w.Home, "--keyring-backend", "test", "--member", w.Member,
		"--genesis", nw.Genesis, "--listen", w.REST}
	for _, n := range nw.Nodes[:min(2, len(nw.Nodes))] {
		args = append(args, "--node-url", n.RESTURL())
	}
	return startProcess(nw.Dir, w, args, env)
}

func startProcess(dir string, n NodeInfo, args, env []string) (*Process, error) {
	if pid, ok := PID(n); ok {
		return nil, fmt.Errorf("%s is already running (pid %d)", n.Name, pid)
	}
	log, err := os.OpenFile(LogFile(n), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	fmt.Fprintf(log, "\n=== %s: starting %s %s\n", time.Now().UTC().Format(time.RFC3339), n.Name, strings.Join(env, " "))
	cmd := exec.Command(BinaryPath(dir), args...)
	if n.Netns != "" {
		// ip execs the binary inside the namespace: the pid stays the node's.
		cmd = exec.Command("ip", append([]string{"netns", "exec", n.Netns, BinaryPath(dir)}, args...)...)
	}
	// Later entries win: the caller's environment overrides NodeRuntimeEnv,
	// and env overrides both.
	cmd.Env = append(append(append([]string(nil), NodeRuntimeEnv...), os.Environ()...), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", n.Name, err)
	}
	if err := atomicfile.WriteFile(pidFile(n), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	p := &Process{Node: n, Cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }() // reap it
	return p, nil
}

func signalNode(n NodeInfo, sig syscall.Signal) error {
	pid, ok := PID(n)
	if !ok {
		return fmt.Errorf("%s is not running", n.Name)
	}
	return syscall.Kill(pid, sig)
}

// KillNode sends SIGKILL and waits until the process is gone.
func KillNode(n NodeInfo) error {
	pid, ok := PID(n)
	if !ok {
		return fmt.Errorf("%s is not running", n.Name)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	return waitGone(n, pid, 10*time.Second)
}

// PauseNode sends SIGSTOP; ResumeNode sends SIGCONT.
func PauseNode(n NodeInfo) error  { return signalNode(n, syscall.SIGSTOP) }
func ResumeNode(n NodeInfo) error { return signalNode(n, syscall.SIGCONT) }

// StopNode asks the node to shut down (SIGTERM) and kills it if it has not
// exited within timeout. A stopped node is fine.
func StopNode(n NodeInfo, timeout time.Duration) error {
	pid, ok := PID(n)
	if !ok {
		return nil
	}
	syscall.Kill(pid, syscall.SIGCONT) // a paused process cannot handle SIGTERM
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	if waitGone(n, pid, timeout) == nil {
		return nil
	}
	syscall.Kill(pid, syscall.SIGKILL)
	return waitGone(n, pid, 5*time.Second)
}

// waitGone waits until process pid (node n's) has exited completely: an
// exiting process loses its command line (its memory) before it closes its
// files, and a killed thread-group leader turns zombie while its other
// threads (one in fsync, say) still hold the database lock; gone means no
// /proc entry, or a zombie with no thread left.
func waitGone(n NodeInfo, pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return nil
		}
		if tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid)); procState(pid) == 'Z' && (err != nil || len(tasks) <= 1) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not exit within %s", n.Name, timeout)
}

// RestartNode stops and starts a node.
func RestartNode(dir string, n NodeInfo, env ...string) (*Process, error) {
	if err := StopNode(n, 15*time.Second); err != nil {
		return nil, err
	}
	return StartNode(dir, n, env...)
}

// ResetNode wipes a stopped node's chain and application data so that it
// resyncs from its peers. The validator's last-signed state is kept, so it
// cannot sign anything it signed before.
func ResetNode(n NodeInfo) error {
	if _, ok := PID(n); ok {
		return fmt.Errorf("%s is running: stop it first", n.Name)
	}
	data := filepath.Join(n.Home, "data")
	ents, err := os.ReadDir(data)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() == "priv_validator_state.json" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(data, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// NodeStatus is one line of `testnet status`.
type NodeStatus struct {
	Name         string `json:"name"`
	PID          int    `json:"pid,omitempty"`
	State        string `json:"state"` // running, paused, down, unresponsive
	Height       int64  `json:"height,omitempty"`
	AttestedHash string `json:"app_hash,omitempty"` // app hash of height-1, from header height
	Peers        int    `json:"peers"`
	CatchingUp   bool   `json:"catching_up,omitempty"`
	REST         string `json:"rest"`
	RPC          string `json:"rpc"`
	Error        string `json:"error,omitempty"`
}

// Status asks every node for its height, app hash and peers.
func (n *Network) Status(ctx context.Context) []NodeStatus {
	out := make([]NodeStatus, len(n.Nodes))
	for i, nd := range n.Nodes {
		s := NodeStatus{Name: nd.Name, State: "down", REST: nd.RESTURL(), RPC: "http://" + nd.RPC}
		if pid, ok := PID(nd); ok {
			s.PID, s.State = pid, "running"
			if Paused(nd) {
				s.State = "paused"
			}
		}
		if s.State == "running" {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := rpcStatus(cctx, nd.RPC)
			if err != nil {
				s.State, s.Error = "unresponsive", err.Error()
			} else {
				s.Height, s.AttestedHash, s.CatchingUp = st.Height, st.AppHash, st.CatchingUp
				s.Peers, _ = peers(cctx, nd.RPC)
			}
			cancel()
		}
		out[i] = s
	}
	return out
}

// peers asks CometBFT's RPC how many peers a node has.
func peers(ctx context.Context, rpc string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+rpc+"/net_info", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var ni struct {
		Result struct {
			NPeers string `json:"n_peers"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ni); err != nil {
		return 0, err
	}
	return strconv.Atoi(ni.Result.NPeers)
}

// appOf reads which app the network in dir runs.
func appOf(dir string) string {
	nw, err := Load(dir)
	if err != nil || nw.App == "" {
		return AppNormledger
	}
	return nw.App
}

type rpcStatusResult struct {
	Height     int64
	AppHash    string
	CatchingUp bool
}

// rpcStatus reads CometBFT's /status (both apps serve it).
func rpcStatus(ctx context.Context, rpc string) (rpcStatusResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+rpc+"/status", nil)
	if err != nil {
		return rpcStatusResult{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rpcStatusResult{}, err
	}
	defer resp.Body.Close()
	var st struct {
		Result struct {
			SyncInfo struct {
				Height     string `json:"latest_block_height"`
				AppHash    string `json:"latest_app_hash"`
				CatchingUp bool   `json:"catching_up"`
			} `json:"sync_info"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return rpcStatusResult{}, err
	}
	h, _ := strconv.ParseInt(st.Result.SyncInfo.Height, 10, 64)
	return rpcStatusResult{Height: h, AppHash: st.Result.SyncInfo.AppHash, CatchingUp: st.Result.SyncInfo.CatchingUp}, nil
}

func rpcHeight(ctx context.Context, rpc string) (int64, error) {
	st, err := rpcStatus(ctx, rpc)
	return st.Height, err
}
