package server_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xtokend/xtokend/server"
	"github.com/xtokend/xtokend/server/servertest"
)

func TestHooks(t *testing.T) {
	var allowConn, allowLogin atomic.Bool
	allowConn.Store(true)
	allowLogin.Store(true)
	var mu sync.Mutex
	var stanzas []string
	var logins []string
	ts := servertest.Start(t, servertest.Options{Hooks: server.Hooks{
		AllowConnection: func(ip string) bool { return ip == "127.0.0.1" && allowConn.Load() },
		AllowLogin:      func(ip string) bool { return ip == "127.0.0.1" && allowLogin.Load() },
		OnStanza: func(kind string) {
			mu.Lock()
			stanzas = append(stanzas, kind)
			mu.Unlock()
		},
		OnLogin: func(host, cond string, ok bool) {
			mu.Lock()
			logins = append(logins, fmt.Sprintf("%s %q %v", host, cond, ok))
			mu.Unlock()
		},
	}})

	c := login(t, ts, "alice@localhost", "", loginOpts{})
	c.send("<presence/>")
	c.send("<message to='alice@localhost'><body>x</body></message>")
	c.ping("p")
	c.close()
	mu.Lock()
	if got := strings.Join(stanzas, " "); got != "presence message iq" {
		t.Errorf("OnStanza saw %q", got)
	}
	mu.Unlock()

	// A failed login is reported with its condition.
	bad := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
	bad.d = newDecoder(bad.conn)
	bad.expect("features")
	fmt.Fprintf(bad.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>",
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00123")))
	bad.expect("failure")
	mu.Lock()
	if got := strings.Join(logins, ", "); got != `localhost "" true, localhost "malformed-request" false` {
		t.Errorf("OnLogin saw %s", got)
	}
	mu.Unlock()

	// AllowLogin false: the SASL attempt fails with temporary-auth-failure
	// (a proper <failure/>; the stream stays up for another attempt).
	allowLogin.Store(false)
	refused := &rawClient{t: t, conn: rawDial(t, ts, "localhost")}
	refused.d = newDecoder(refused.conn)
	refused.expect("features")
	fmt.Fprintf(refused.conn, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-TOKEN'>%s</auth>",
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00"+ts.Mint(t, "alice@localhost"))))
	if f := refused.expect("failure"); f.find("temporary-auth-failure") == nil {
		t.Errorf("refused login: got %s, want temporary-auth-failure", f)
	}

	// AllowConnection false: closed before a byte is exchanged.
	allowConn.Store(false)
	if got := readAll(t, rawDial(t, ts, "localhost")); got != "" {
		t.Errorf("refused connection got %q", got)
	}
}
