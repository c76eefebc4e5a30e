package testnet

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

// Hosts puts nodes on separate network hosts on one machine: each in its
// own Linux network namespace, with its own address on a bridge, so that
// nodes talk over a real network that can be broken (routes) rather than
// over loopback ports. It needs root and iproute2 (`ip netns`, veth,
// bridge). The root namespace keeps two addresses on the bridge: HostIP,
// from which tests and tools reach every node, and LinkIP, where the
// emulated WAN links between halves of the network listen (see Link).
type Hosts struct {
	Prefix string // namespace and link name prefix, unique per run
	Bridge string
	Subnet string // e.g. "10.77.3"
	HostIP string
	LinkIP string
	n      int

	mu         sync.Mutex
	blackholes map[[2]string]bool // (namespace, ip)
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NewHosts creates a bridge and n namespaces, each with a veth into the
// bridge and address Subnet.(10+i). It returns an error (and removes what
// it made) where the kernel or the user may not do this.
func NewHosts(prefix string, subnet int, n int) (*Hosts, error) {
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("iproute2 (ip) is not installed: %w", err)
	}
	h := &Hosts{Prefix: prefix, Bridge: prefix + "br", Subnet: fmt.Sprintf("10.77.%d", subnet), n: n, blackholes: map[[2]string]bool{}}
	h.HostIP, h.LinkIP = h.Subnet+".1", h.Subnet+".2"
	steps := [][]string{
		{"link", "add", h.Bridge, "type", "bridge"},
		{"link", "set", h.Bridge, "up"},
		{"addr", "add", h.HostIP + "/24", "dev", h.Bridge},
		{"addr", "add", h.LinkIP + "/24", "dev", h.Bridge},
	}
	for i := 0; i < n; i++ {
		ns, host, peer := h.NS(i), fmt.Sprintf("%sh%d", prefix, i), fmt.Sprintf("%sp%d", prefix, i)
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"link", "add", host, "type", "veth", "peer", "name", peer},
			[]string{"link", "set", peer, "netns", ns},
			[]string{"link", "set", host, "master", h.Bridge, "up"},
			[]string{"-n", ns, "addr", "add", h.IP(i) + "/24", "dev", peer},
			[]string{"-n", ns, "link", "set", peer, "up"},
			[]string{"-n", ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			h.Close()
			return nil, err
		}
	}
	return h, nil
}

// NS is the namespace of host i.
func (h *Hosts) NS(i int) string { return fmt.Sprintf("%sn%d", h.Prefix, i) }

// IP is the address of host i.
func (h *Hosts) IP(i int) string { return fmt.Sprintf("%s.%d", h.Subnet, 10+i) }

// Cut makes host i drop everything it sends to ip (a blackhole route);
// traffic in both directions stops once each side cuts the other.
func (h *Hosts) Cut(i int, ip string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := [2]string{h.NS(i), ip}
	if h.blackholes[k] {
		return nil
	}
	if err := ipCmd("-n", h.NS(i), "route", "add", "blackhole", ip+"/32"); err != nil {
		return err
	}
	h.blackholes[k] = true
	return nil
}

// Heal removes every cut.
func (h *Hosts) Heal() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []string
	for k := range h.blackholes {
		if err := ipCmd("-n", k[0], "route", "del", "blackhole", k[1]+"/32"); err != nil {
			errs = append(errs, err.Error())
		}
		delete(h.blackholes, k)
	}
	if len(errs) > 0 {
		return fmt.Errorf("heal: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Close removes the namespaces and the bridge.
func (h *Hosts) Close() {
	for i := 0; i < h.n; i++ {
		exec.Command("ip", "netns", "del", h.NS(i)).Run()
		exec.Command("ip", "link", "del", fmt.Sprintf("%sh%d", h.Prefix, i)).Run()
	}
	exec.Command("ip", "link", "del", h.Bridge).Run()
}
