package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Subprotocol is the WebSocket subprotocol of RFC 7395.
const Subprotocol = "xmpp"

// Defaults of Config.
const (
	DefaultMaxStanzaSize = 65536
	DefaultPingInterval  = 30 * time.Second
	DefaultPingTimeout   = 15 * time.Second
)

// Config is what a server gives NewHandler.
type Config struct {
	Options Options
	// MaxStanzaSize is the largest message read, in bytes (the server's
	// max_stanza_size); a larger one is a policy-violation.
	// 0 means DefaultMaxStanzaSize.
	MaxStanzaSize int
	// PingInterval is how long a client may send nothing before it is
	// pinged; it must answer within PingTimeout. 0 means the defaults,
	// a negative interval no pings.
	PingInterval, PingTimeout time.Duration
	// Serve takes one client's XMPP session once the WebSocket is open.
	// It is called on the HTTP handler's goroutine and should hand the
	// session to a goroutine of its own and return (net/http's per-request
	// state is freed when the handler returns); it must see to it that
	// Conn.Close is called when the session is done.
	Serve func(*Conn)
	// Logger gets refused handshakes at debug level; nil: slog.Default().
	Logger *slog.Logger
}

// Handler serves the WebSocket endpoint at Options.Path and XEP-0156's
// host-meta documents, on the listener at Options.Listen.
type Handler struct {
	opts    Options
	cfg     Config
	origins map[string]bool
	proxies []netip.Prefix
	log     *slog.Logger
}

// NewHandler checks cfg and returns its handler.
func NewHandler(cfg Config) (*Handler, error) {
	if err := cfg.Options.Validate(); err != nil {
		return nil, err
	}
	if cfg.Serve == nil {
		return nil, errors.New("websocket: Config.Serve is nil")
	}
	if cfg.MaxStanzaSize <= 0 {
		cfg.MaxStanzaSize = DefaultMaxStanzaSize
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	h := &Handler{opts: cfg.Options, cfg: cfg, origins: map[string]bool{}, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	for _, o := range cfg.Options.Origins {
		n, _ := normalizeOrigin(o) // Validate checked it
		h.origins[n] = true
	}
	for _, s := range cfg.Options.TrustedProxies {
		p, _ := parsePrefix(s)
		h.proxies = append(h.proxies, p)
	}
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case h.opts.path():
		h.serveWebSocket(w, r)
	case HostMetaPath:
		h.serveHostMeta(w, r, false)
	case HostMetaJSONPath:
		h.serveHostMeta(w, r, true)
	default:
		http.NotFound(w, r)
	}
}

// serveWebSocket upgrades a request to an XMPP WebSocket and hands it to
// Config.Serve. Refusals are HTTP answers with a reason in the body.
func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	p := peer(r, h.proxies, h.opts.TLS)
	refuse := func(code int, reason string) {
		h.log.Debug("websocket: handshake refused", "remote", p.ip, "status", code, "reason", reason)
		http.Error(w, "websocket: "+reason, code)
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		refuse(http.StatusUpgradeRequired, "this is an XMPP over WebSocket endpoint (RFC 7395): connect with a WebSocket client and the subprotocol xmpp")
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && !h.originAllowed(origin, r.Host) {
		refuse(http.StatusForbidden, "origin "+origin+" is not allowed (websocket.origins)")
		return
	}
	// RFC 7395 section 3.2: without the subprotocol xmpp there is no XMPP
	// connection; refusing the handshake says so, where a completed one
	// would only be closed.
	if !headerHasToken(r.Header, "Sec-WebSocket-Protocol", Subprotocol) {
		refuse(http.StatusBadRequest, "the WebSocket subprotocol xmpp is required (RFC 7395 section 3.2)")
		return
	}
	if !headerHasToken(r.Header, "Sec-WebSocket-Version", "13") {
		w.Header().Set("Sec-WebSocket-Version", "13")
		refuse(http.StatusUpgradeRequired, "WebSocket version 13 (RFC 6455) is required")
		return
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		refuse(http.StatusBadRequest, "Sec-WebSocket-Key is not 16 bytes in base64")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		refuse(http.StatusMethodNotAllowed, "the upgrade is a GET")
		return
	}
	conn, in, err := hijack(w, key)
	if err != nil {
		h.log.Debug("websocket: handshake failed", "remote", p.ip, "err", err)
		return
	}
	c := &Conn{
		netConn:  conn,
		in:       in,
		remoteIP: p.ip,
		secure:   p.secure,
		maxSize:  h.cfg.MaxStanzaSize,
	}
	c.startKeepalive(h.cfg.PingInterval, h.cfg.PingTimeout)
	h.cfg.Serve(c) // no goroutine of its own: the server hands c to its negotiators
}

// hijack takes the connection from net/http and answers the upgrade (101,
// the subprotocol xmpp, no extension) in one write. net/http's 4 KB reader
// and writer are left behind: bytes the client sent after its request (its
// first frames) are copied out of the reader.
func hijack(w http.ResponseWriter, key string) (net.Conn, *idleReader, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	in := newIdleReader(conn)
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		in.early = append([]byte(nil), b...)
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	var b [192]byte
	answer := append(b[:0], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: "+Subprotocol+"\r\nSec-WebSocket-Accept: "...)
	answer = base64.StdEncoding.AppendEncode(answer, sum[:])
	answer = append(answer, "\r\n\r\n"...)
	conn.SetWriteDeadline(time.Now().Add(DefaultWriteTimeout))
	if _, err := conn.Write(answer); err != nil {
		conn.Close()
		return nil, nil, err
	}
	conn.SetDeadline(time.Time{}) // net/http's deadlines do not apply any more
	return conn, in, nil
}

// acceptGUID is RFC 6455's suffix of the key whose SHA-1 the server sends
// back (Sec-WebSocket-Accept).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// NewHTTPServer returns an http.Server for h, to Serve on the listener at
// Options.Listen (a TLS listener when Options.TLS): HTTP/1.1 only, since
// the WebSocket is an HTTP/1.1 upgrade (a browser offered HTTP/2 could try
// RFC 8441 instead); a bound on reading a request's headers; idle
// keep-alive connections (host-meta's) closed after a minute; net/http's
// own errors logged at debug level. Its Shutdown does not reach upgraded
// connections: the server ends those sessions itself.
func (h *Handler) NewHTTPServer() *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	return &http.Server{
		Handler:           h,
		Protocols:         &p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
	}
}

// originAllowed: a listed origin, or the request's own host (a page served
// from the endpoint's own origin).
func (h *Handler) originAllowed(origin, host string) bool {
	n, err := normalizeOrigin(origin)
	if err != nil {
		return false
	}
	if h.origins[n] {
		return true
	}
	_, oh, _ := strings.Cut(n, "://")
	return strings.EqualFold(oh, host)
}

// headerHasToken reports whether a comma-separated header has token
// (case-insensitive, as header tokens are).
func headerHasToken(h http.Header, name, token string) bool {
	for _, line := range h.Values(name) {
		for v := range strings.SplitSeq(line, ",") {
			if strings.EqualFold(strings.TrimSpace(v), token) {
				return true
			}
		}
	}
	return false
}
