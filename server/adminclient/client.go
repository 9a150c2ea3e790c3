// Package adminclient talks to a running xtokend over its admin socket.
//
// The admin API is plain HTTP/1.1 with JSON bodies, served on a unix socket
// (general.admin_socket) that only the server's user can open. RAM keys exist
// only inside the running server, so this is the one way to mint a token for
// a host that has one:
//
//	c := adminclient.New("/var/lib/xtokend/xtokend.sock")
//	tok, err := c.Mint(ctx, "alice@example.com")
//
// The same requests work from a shell:
//
//	curl --unix-socket xtokend.sock -d '{"jid":"alice@example.com"}' http://xtokend/v1/tokens
//
// The types here are the wire format; the server encodes them too.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"mellium.im/xmpp/jid"
)

// Token is the answer to POST /v1/tokens.
type Token struct {
	JID       string    `json:"jid"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// MintRequest is the body of POST /v1/tokens.
type MintRequest struct {
	JID string `json:"jid"`
}

// Key describes one key of a host's keystore: never its bytes.
type Key struct {
	Name string `json:"name"`
	Type string `json:"type"` // "ram", "file" or "env"
	Size int    `json:"size"` // bytes
}

// Host is one virtual host with its keys.
type Host struct {
	Host string `json:"host"`
	Keys []Key  `json:"keys"`
}

// Hosts is the answer to GET /v1/hosts.
type Hosts struct {
	Hosts []Host `json:"hosts"`
}

// Sessions is the answer to GET /v1/sessions: the bound full JIDs per host
// (every served host is present, with an empty list when nobody is online).
// In a cluster the list is the whole cluster's, Node names the node that
// answered and Nodes the node each full JID is bound on; both are empty
// without a cluster.
type Sessions struct {
	Sessions map[string][]string `json:"sessions"`
	Node     string              `json:"node,omitempty"`
	Nodes    map[string]string   `json:"nodes,omitempty"`
}

// ErrorBody is the body of every answer that is not 2xx.
type ErrorBody struct {
	Error string `json:"error"`
}

// APIError is an answer of the server that is not 2xx.
type APIError struct {
	Status  int    // the HTTP status: 400 bad JID, 404 unknown host, ...
	Message string // the server's "error" text
}

func (e *APIError) Error() string {
	return fmt.Sprintf("adminclient: server answered %d: %s", e.Status, e.Message)
}

// ErrNotRunning is returned (wrapped) when nothing listens on the socket:
// it does not exist, or it is left over from a server that is gone.
var ErrNotRunning = errors.New("adminclient: xtokend is not running")

// ErrPermission is returned (wrapped) when the socket exists but this user
// may not open it (it is mode 0600, owned by the server's user).
var ErrPermission = errors.New("adminclient: permission denied")

// Client is a client of one server's admin socket. It is safe for concurrent use.
type Client struct {
	socket string
	hc     *http.Client
}

// New returns a client for the socket at path. Nothing is dialed until a request.
func New(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "unix", path)
			if err != nil {
				return nil, err
			}
			if err := checkPeer(conn, path); err != nil {
				conn.Close()
				return nil, err
			}
			return conn, nil
		},
		MaxIdleConns:    1,
		IdleConnTimeout: 10 * time.Second,
	}
	return &Client{socket: path, hc: &http.Client{Transport: tr}}
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Mint asks the server for a fresh token for the bare JID.
func (c *Client) Mint(ctx context.Context, bareJID string) (Token, error) {
	var tok Token
	if err := c.do(ctx, http.MethodPost, "/v1/tokens", MintRequest{JID: bareJID}, &tok); err != nil {
		return Token{}, err
	}
	if !sameBareJID(bareJID, tok.JID) {
		return Token{}, fmt.Errorf("%w: asked for a token for %s, the answer is for %q", ErrNotOurServer, bareJID, tok.JID)
	}
	return tok, nil
}

// Hosts lists the served hosts with their keys' names, types and sizes.
func (c *Client) Hosts(ctx context.Context) ([]Host, error) {
	var h Hosts
	err := c.do(ctx, http.MethodGet, "/v1/hosts", nil, &h)
	return h.Hosts, err
}

// Sessions lists the bound full JIDs per host.
func (c *Client) Sessions(ctx context.Context) (map[string][]string, error) {
	s, err := c.SessionsWhere(ctx)
	return s.Sessions, err
}

// SessionsWhere is Sessions with, in a cluster, the node of each session.
func (c *Client) SessionsWhere(ctx context.Context) (Sessions, error) {
	var s Sessions
	err := c.do(ctx, http.MethodGet, "/v1/sessions", nil, &s)
	return s, err
}

// maxAnswer bounds what is read of an answer.
const maxAnswer = 4 << 20

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("adminclient: %w", err)
		}
		body = bytes.NewReader(b)
	}
	// The host part is ignored by the server; "xtokend" reads well in logs.
	req, err := http.NewRequestWithContext(ctx, method, "http://xtokend"+path, body)
	if err != nil {
		return fmt.Errorf("adminclient: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.dialError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("adminclient: reading the answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = http.StatusText(resp.StatusCode)
		}
		return &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("adminclient: the answer to %s %s is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// dialError turns the errors of reaching the socket into ones that tell the
// user what to do.
func (c *Client) dialError(err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%w: nothing listens on the admin socket %s (start the server, or check general.admin_socket)", ErrNotRunning, c.socket)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w: cannot open the admin socket %s (it is mode 0600: run as the user the server runs as)", ErrPermission, c.socket)
	}
	if errors.Is(err, ErrNotOurServer) {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err // without the request's URL, which says nothing here
		}
		return err
	}
	return fmt.Errorf("adminclient: admin socket %s: %w", c.socket, err)
}

// sameBareJID compares the JID asked for with the one a token was minted
// for, as JIDs: the server answers with the case-mapped form.
func sameBareJID(asked, answered string) bool {
	a, errA := jid.Parse(asked)
	b, errB := jid.Parse(answered)
	if errA != nil || errB != nil {
		return asked == answered
	}
	return a.Bare().Equal(b)
}
