package websocket

import (
	"encoding/json"
	"net/http"
	"strings"
)

// relWebSocket is XEP-0156's link relation for a WebSocket endpoint.
const relWebSocket = "urn:xmpp:alt-connections:websocket"

// serveHostMeta answers XEP-0156 discovery: the XRD document (what
// Converse.js and xmpp.js read) or its JSON form. Host-meta is public, so
// any page may read it: Access-Control-Allow-Origin is *.
func (h *Handler) serveHostMeta(w http.ResponseWriter, r *http.Request, asJSON bool) {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodOptions:
		hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", "*")
		hdr.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet, http.MethodHead:
	default:
		hdr.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "websocket: host-meta answers GET, HEAD and OPTIONS", http.StatusMethodNotAllowed)
		return
	}
	href := h.publicURL(r)
	var body []byte
	if asJSON {
		hdr.Set("Content-Type", "application/json")
		body, _ = json.Marshal(map[string]any{
			"links": []map[string]string{{"rel": relWebSocket, "href": href}},
		})
		body = append(body, '\n')
	} else {
		hdr.Set("Content-Type", "application/xrd+xml; charset=utf-8")
		body = append(body, "<?xml version='1.0' encoding='utf-8'?>\n"+
			"<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n"+
			"  <Link rel='"+relWebSocket+"' href='"...)
		body = appendEscaped(body, href)
		body = append(body, "'/>\n</XRD>\n"...)
	}
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// publicURL is the WebSocket URL to advertise: public_url, or the request's
// host (a trusted proxy's X-Forwarded-Host) with wss when the client's
// connection is encrypted, and the endpoint's path.
func (h *Handler) publicURL(r *http.Request) string {
	if h.opts.PublicURL != "" {
		return h.opts.PublicURL
	}
	p := peer(r, h.proxies, h.opts.TLS)
	host := r.Host
	if p.trusted {
		if fh := lastValue(r.Header.Values("X-Forwarded-Host")); fh != "" {
			host = fh
		}
	}
	scheme := "ws://"
	if p.secure {
		scheme = "wss://"
	}
	return scheme + strings.TrimSpace(host) + h.opts.path()
}
