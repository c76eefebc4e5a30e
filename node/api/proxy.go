package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// Trusted proxies. Behind a reverse proxy every request comes from the
// proxy's address, and the proxy says who the client was in
// X-Forwarded-For and how it was reached in X-Forwarded-Proto and
// X-Forwarded-Host. Anyone can send those headers, so the node believes
// them only from a peer in Config.TrustedProxies, and then takes as the
// client the rightmost X-Forwarded-For hop that is not itself a trusted
// proxy (the rule of frameworks' trusted-proxy settings): the hops to the
// left of it were written by the client or by proxies nobody vouches for.

// trustedProxies is the set of addresses whose forwarding headers count.
type trustedProxies []netip.Prefix

// parseTrustedProxies reads IP addresses and CIDR prefixes ("10.0.0.7",
// "10.0.0.0/8", "::1", "fd00::/8").
func parseTrustedProxies(ss []string) (trustedProxies, error) {
	var tp trustedProxies
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: not an IP address or CIDR prefix", s)
			}
			if p.Addr().Is4In6() {
				if p.Bits() < 96 {
					return nil, fmt.Errorf("trusted proxy %q: an IPv4-mapped prefix shorter than /96", s)
				}
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			tp = append(tp, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an IP address or CIDR prefix", s)
		}
		a = a.Unmap().WithZone("")
		tp = append(tp, netip.PrefixFrom(a, a.BitLen()))
	}
	return tp, nil
}

func (tp trustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range tp {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For element: an address, possibly with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711") or in brackets.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// client is the client's address for a request whose direct peer is
// remote (host:port, as http.Request.RemoteAddr and gRPC's peer give it)
// and whose X-Forwarded-For values are xff (every header line, in order).
// Only a trusted peer's xff counts; then the client is the rightmost hop
// that is no trusted proxy, or, when every hop is trusted or one is not an
// address, the leftmost trusted one reached (the furthest address a
// trusted proxy vouches for).
func (tp trustedProxies) client(remote string, xff []string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	peerAddr, ok := parseHop(host)
	if !ok {
		return host
	}
	if len(tp) == 0 || !tp.trusts(peerAddr) {
		return peerAddr.String()
	}
	var hops []string
	for _, v := range xff {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peerAddr
	for i := len(hops) - 1; i >= 0; i-- {
		if strings.TrimSpace(hops[i]) == "" {
			continue // "a,,b": an empty element is no hop
		}
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = a
		if !tp.trusts(a) {
			break
		}
	}
	return client.String()
}

// origin is how a client reached the node: the scheme and host its links
// must use.
type origin struct{ scheme, host string }

// requestOrigin is the scheme and host a client used: "https" when the
// request came over TLS, and the host it asked for (directHost); from a
// trusted proxy, and only from one, X-Forwarded-Proto and
// X-Forwarded-Host when present and valid. Of each the leftmost value is
// taken (what the outermost proxy received), so a trusted proxy must
// overwrite these headers rather than append to what the client sent:
// the shipped nginx configuration sets both.
func (tp trustedProxies) requestOrigin(r *http.Request) origin {
	o := origin{scheme: "http", host: directHost(r)}
	if r.TLS != nil {
		o.scheme = "https"
	}
	if len(tp) == 0 {
		return o
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, ok := parseHop(host); !ok || !tp.trusts(a) {
		return o
	}
	if p := firstValue(r.Header.Values("X-Forwarded-Proto")); p != "" {
		switch p = strings.ToLower(p); p {
		case "http", "https":
			o.scheme = p
		}
	}
	if h := firstValue(r.Header.Values("X-Forwarded-Host")); h != "" && validHost(h) {
		o.host = h
	}
	return o
}

// directHost is the host a request named (r.Host) when it can go into a
// link as it is. A Host that cannot (characters no host has; net/http
// lets through more than a URL's host takes) or none (HTTP/1.0 allows
// that) gives way to the address the request reached, the listener's
// (without an IPv6 zone), which names this node whatever the client
// wrote: links must never carry what a client can inject.
func directHost(r *http.Request) string {
	if r.Host != "" && validHost(r.Host) {
		return r.Host
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && a != nil {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()).String()
		}
	}
	return "localhost" // no listener: a handler called directly
}

// firstValue is the first element of a comma-separated header.
func firstValue(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	v, _, _ := strings.Cut(vs[0], ",")
	return strings.TrimSpace(v)
}

// validHost accepts a host[:port] that can go into a URL as it is.
func validHost(h string) bool {
	if len(h) > 255 {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune(".-:[]_", c):
		default:
			return false
		}
	}
	return true
}

// baseURL is scheme://host of the request as its client made it (see
// requestOrigin): the base of the links an answer carries. Only the
// handlers that write links ask for it.
func (tp trustedProxies) baseURL(r *http.Request) string {
	o := tp.requestOrigin(r)
	return o.scheme + "://" + o.host
}

// grpcClient is a gRPC call's client address, keyed as REST's: the peer,
// or, when the peer is a trusted proxy, the x-forwarded-for metadata read
// with the same rule as the header (gRPC proxies such as nginx's grpc_pass
// or Envoy send it). So one client has one read budget over both doors.
func (tp trustedProxies) grpcClient(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return tp.client(p.Addr.String(), md.Get("x-forwarded-for"))
}
