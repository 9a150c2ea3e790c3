package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/xtokend/xtokend/websocket"
)

// wsServer is the [websocket] listener: an http.Server whose upgraded
// connections are handed, as wsTransports, to the same negotiator as TCP's.
type wsServer struct {
	ln  net.Listener
	srv *http.Server
}

// startWebSocket listens on [websocket] listen (under TLS with the server's
// certificates when tls is on) and serves the endpoint and host-meta.
func (s *Server) startWebSocket() (*wsServer, error) {
	opts := s.cfg.WebSocket
	log := s.logger()
	h, err := websocket.NewHandler(websocket.Config{
		Options:       opts,
		MaxStanzaSize: int(s.maxStanzaSize()),
		Serve:         s.serveWebSocket,
		Logger:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	// The c2s listener's socket options: keepalive inherited by every
	// accepted socket, not four setsockopt calls per connection.
	ln, err := c2sListenConfig.Listen(context.Background(), "tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: websocket.listen %q: %w", opts.Listen, err)
	}
	if opts.TLS {
		conf := s.tlsConf.Clone()
		conf.NextProtos = []string{"http/1.1"} // the upgrade is HTTP/1.1
		ln = tls.NewListener(ln, conf)
	}
	ws := &wsServer{ln: ln, srv: h.NewHTTPServer()}
	go func() {
		if err := ws.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("websocket listener stopped", "addr", opts.Listen, "err", err)
		}
	}()
	scheme := "ws"
	if opts.TLS {
		scheme = "wss"
	}
	path := opts.Path
	if path == "" {
		path = websocket.DefaultPath
	}
	log.Info("serving XMPP over WebSocket", "url", scheme+"://"+ln.Addr().String()+path)
	return ws, nil
}

// serveWebSocket runs one upgraded client: the connection limits of the
// TCP listener, then the negotiator.
func (s *Server) serveWebSocket(wc *websocket.Conn) {
	log := s.logger()
	ip := wc.RemoteIP()
	if f := s.hooks.AllowConnection; f != nil && !f(ip) {
		s.ops.refused.add(log, "connection limit")
		wc.Close()
		return
	}
	key, ok := s.ops.limiter.key(ip)
	slot, refusal := s.ops.caps.acquire(key, ok)
	if refusal != "" {
		s.ops.refused.add(log, refusal)
		s.ops.metrics.OnLimited("connection")
		wc.WriteOpen("", string(appendStreamID(nil)), "en", "1.0")
		if refusal == "max_connections" {
			wc.WriteStreamError(condResourceConstraint, "too many connections")
		} else {
			wc.WriteStreamError(condPolicyViolation, "too many connections from this address")
		}
		wc.Close()
		return
	}
	c := newConn(s, newWSTransport(wc, s.parker))
	c.slot = slot
	if !s.track(c) {
		s.ops.caps.release(slot)
		wc.WriteOpen("", string(appendStreamID(nil)), "en", "1.0")
		wc.WriteStreamError(condSystemShutdown, "server shutting down")
		wc.Close()
		return
	}
	s.negotiators.serve(c)
}

// WebSocketAddr is the address [websocket] listen is bound to, nil when it
// is not serving.
func (s *Server) WebSocketAddr() net.Addr {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	if s.ops.ws == nil {
		return nil
	}
	return s.ops.ws.ln.Addr()
}

// Close stops the listener; upgraded connections are not the http.Server's
// any more: Shutdown ends their sessions as it does TCP's.
func (ws *wsServer) Close(ctx context.Context) error { return ws.srv.Shutdown(ctx) }
