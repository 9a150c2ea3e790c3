package websocket

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Options are the [websocket] section of the configuration file.
type Options struct {
	// Listen is the address of the HTTP listener ("" = off).
	Listen string `toml:"listen"`
	// Path is where the WebSocket endpoint is served.
	Path string `toml:"path"`
	// Origins are the browser Origins allowed ("https://app.example").
	// A request without an Origin header (not a browser) is allowed; one
	// whose Origin is neither listed nor the request's own host gets 403.
	Origins []string `toml:"origins"`
	// TLS serves wss:// (the listener is a TLS listener).
	TLS bool `toml:"tls"`
	// PublicURL is what host-meta advertises; "" derives it from the request.
	PublicURL string `toml:"public_url"`
	// TrustedProxies are CIDRs (or single addresses) whose X-Forwarded-For,
	// X-Forwarded-Proto and X-Forwarded-Host are believed.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// DefaultPath is the endpoint's path when Options.Path is empty.
const DefaultPath = "/xmpp-websocket"

// DefaultOptions are the contract's defaults: off, at DefaultPath.
func DefaultOptions() Options {
	return Options{Path: DefaultPath}
}

// Well-known paths of XEP-0156, served on the same listener.
const (
	HostMetaPath     = "/.well-known/host-meta"
	HostMetaJSONPath = "/.well-known/host-meta.json"
)

// Validate reports the first option that is wrong, in one line naming it as
// in the TOML file ("websocket: origins: ...").
func (o Options) Validate() error {
	if o.Listen != "" {
		if _, port, err := net.SplitHostPort(o.Listen); err != nil || port == "" {
			return fmt.Errorf("websocket: listen = %q: not a host:port address", o.Listen)
		}
	}
	p := o.path()
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("websocket: path = %q: must start with /", o.Path)
	case strings.ContainsAny(p, "?# \t\r\n"):
		return fmt.Errorf("websocket: path = %q: must be a plain URL path", o.Path)
	case p == HostMetaPath || p == HostMetaJSONPath:
		return fmt.Errorf("websocket: path = %q: taken by host-meta (XEP-0156)", o.Path)
	}
	for _, origin := range o.Origins {
		if _, err := normalizeOrigin(origin); err != nil {
			return fmt.Errorf("websocket: origins: %q: %v", origin, err)
		}
	}
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return fmt.Errorf("websocket: public_url = %q: must be a ws:// or wss:// URL with a host", o.PublicURL)
		}
	}
	for _, s := range o.TrustedProxies {
		if _, err := parsePrefix(s); err != nil {
			return fmt.Errorf("websocket: trusted_proxies: %q: not a CIDR or an IP address", s)
		}
	}
	return nil
}

// path is Path or its default.
func (o Options) path() string {
	if o.Path == "" {
		return DefaultPath
	}
	return o.Path
}

// normalizeOrigin turns an origin into the form browsers send: scheme://host
// in lower case, without a trailing slash.
func normalizeOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	switch {
	case err != nil:
		return "", fmt.Errorf("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("must be http:// or https://")
	case u.Host == "":
		return "", fmt.Errorf("has no host")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", fmt.Errorf("must be scheme://host[:port] only, as browsers send it")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// parsePrefix reads a CIDR, or a single address as a one-address prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
