package websocket

import (
	"net/http"
	"net/netip"
	"strings"
)

// peerInfo is what the handler believes about the client of a request.
type peerInfo struct {
	ip      string // the client's address
	secure  bool   // the client's connection is encrypted
	trusted bool   // the peer is a trusted proxy
}

// peer works out the client's address and whether its connection is
// encrypted. Headers count only from a trusted proxy: then the client is the
// right-most X-Forwarded-For entry that is not itself a trusted proxy (the
// entries to its left are the client's own claims), and X-Forwarded-Proto's
// last value says whether it came over https.
func peer(r *http.Request, proxies []netip.Prefix, tlsOn bool) peerInfo {
	p := peerInfo{secure: tlsOn || r.TLS != nil}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		p.ip = r.RemoteAddr
		return p
	}
	addr := ap.Addr().Unmap()
	p.ip = addr.String()
	if !isTrusted(addr, proxies) {
		return p
	}
	p.trusted = true
	if proto := lastValue(r.Header.Values("X-Forwarded-Proto")); strings.EqualFold(proto, "https") {
		p.secure = true
	}
	forwarded := r.Header.Values("X-Forwarded-For")
	for h := len(forwarded) - 1; h >= 0; h-- {
		entries := strings.Split(forwarded[h], ",")
		for e := len(entries) - 1; e >= 0; e-- {
			a, ok := parseForwardedAddr(strings.TrimSpace(entries[e]))
			if !ok {
				return p // the hop that wrote this is the last we can believe
			}
			p.ip = a.String()
			if !isTrusted(a, proxies) {
				return p
			}
		}
	}
	return p
}

func isTrusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseForwardedAddr reads an X-Forwarded-For entry: an address, possibly
// with a port ("192.0.2.1:1234", "[2001:db8::1]:80").
func parseForwardedAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// lastValue is the last comma-separated value of a header's lines: the one
// the nearest proxy wrote.
func lastValue(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	l := lines[len(lines)-1]
	if k := strings.LastIndexByte(l, ','); k >= 0 {
		l = l[k+1:]
	}
	return strings.TrimSpace(l)
}
