package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

// clientTimeout is each script's own overall limit (--timeout), counted once its library is
// loaded; runTimeout the test's, beyond it. Both guard against hangs on a loaded machine and
// neither asserts on speed: a client that works answers in a second or two.
const (
	clientTimeout = 60 * time.Second
	runTimeout    = 2 * clientTimeout
)

// startSlots bounds how many clients are starting (loading their library, connecting, logging
// in) at once. Starting is mostly CPU work (loading a Python or Node library) and two cores
// shared by a dozen processes at once slow every one of them down past any sane hang guard. A slot is held until the
// client's first event, so a receiver waiting for a message holds none: no exchange can deadlock.
var startSlots = make(chan struct{}, 2*runtime.NumCPU())

// debianPython is Debian's interpreter: the python3 on PATH may be a build that cannot see the
// python3-* packages.
const debianPython = "/usr/bin/python3"

// A client is one real XMPP stack and the script that drives it.
type client struct {
	name    string // as in the tests' names
	pkg     string // what to install when it is missing
	command func(args ...string) *exec.Cmd
	// sendOnly is a client that cannot wait for messages and does not report its bound JID.
	sendOnly bool

	once sync.Once
	err  error // why it cannot run, nil if it can
}

var (
	slixmpp = &client{
		name: "slixmpp",
		pkg:  "Debian package python3-slixmpp (apt-get install -y python3-slixmpp)",
		command: func(args ...string) *exec.Cmd {
			return exec.Command(debianPython, append([]string{"clients/slixmpp_client.py"}, withCA(args)...)...)
		},
	}
	aioxmpp = &client{
		name: "aioxmpp",
		pkg:  "Debian package python3-aioxmpp (apt-get install -y python3-aioxmpp)",
		command: func(args ...string) *exec.Cmd {
			return exec.Command(debianPython, append([]string{"clients/aioxmpp_client.py"}, withCA(args)...)...)
		},
	}
	xmppjs = &client{
		name: "xmpp.js",
		pkg:  "npm package @xmpp/client 0.14.0 (cd integration && npm ci)",
		command: func(args ...string) *exec.Cmd {
			cmd := exec.Command("node", append([]string{"clients/xmppjs_client.mjs"}, args...)...)
			// xmpp.js has no CA option: Node adds this file to its trust store.
			cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+certPath)
			return cmd
		},
	}
	sendxmpp = &client{
		name:     "sendxmpp",
		pkg:      "Debian package sendxmpp (apt-get install -y sendxmpp)",
		sendOnly: true,
		command: func(args ...string) *exec.Cmd {
			return exec.Command("clients/sendxmpp_client.sh", withCA(args)...)
		},
	}
)

func withCA(args []string) []string { return append(args, "--ca", certPath) }

// check finds out once whether the client can run here.
func (c *client) check() error {
	c.once.Do(func() {
		var probe *exec.Cmd
		switch c {
		case slixmpp:
			probe = exec.Command(debianPython, "-c", "import slixmpp")
		case aioxmpp:
			probe = exec.Command(debianPython, "-c", "import aioxmpp, aiosasl")
		case sendxmpp:
			probe = exec.Command("perl", "-e", "use Net::XMPP; use Authen::SASL; exit(system('sendxmpp', '--help') == 0 ? 0 : 1)")
		case xmppjs:
			probe = exec.Command("node", "--input-type=module", "-e", `
const [maj, min] = process.versions.node.split(".").map(Number);
if (maj < 20 || (maj === 20 && min < 10)) { console.error("node " + process.version + " < 20.10"); process.exit(1); }
await import("@xmpp/client");`)
			probe.Dir = "clients" // resolve @xmpp/client as the script will
		}
		if out, err := probe.CombinedOutput(); err != nil {
			c.err = fmt.Errorf("%v: %s", err, errorLine(string(out)))
		}
	})
	return c.err
}

// require skips the test when the client is missing, or fails it when CI=true.
func (c *client) require(t *testing.T) {
	t.Helper()
	if err := c.check(); err != nil {
		msg := fmt.Sprintf("%s is not installed: %s (%v); scripts/install-test-deps.sh installs it", c.name, c.pkg, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// event is one JSON line a client script prints.
type event struct {
	Event     string `json:"event,omitempty"`
	JID       string `json:"jid,omitempty"`
	Secure    bool   `json:"secure,omitempty"`
	From      string `json:"from,omitempty"`
	Type      string `json:"type,omitempty"`
	Body      string `json:"body,omitempty"`
	To        string `json:"to,omitempty"`
	Condition string `json:"condition,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (e event) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// login describes one client run: who logs in where, and what it does once bound.
type login struct {
	host, user, token string
	// mint, if set, makes the token once the client may start: waiting for a start slot on a
	// loaded machine must not eat into a token's lifetime.
	mint         func() string
	resource     string
	sendTo, body string // send a directed presence and a message
	expectFrom   string // wait for a message from this full JID
	plain        bool   // the client's stock SASL (PLAIN), the token as the password
	addr         string // where to connect instead of the server (a proxy)
	extra        []string
}

func (l login) args(addr string) []string {
	args := []string{addr, l.host, l.user, l.token, "--timeout", fmt.Sprint(clientTimeout.Seconds())}
	if l.resource != "" {
		args = append(args, "--resource", l.resource)
	}
	if l.sendTo != "" {
		args = append(args, "--send-to", l.sendTo, "--body", l.body)
	}
	if l.expectFrom != "" {
		args = append(args, "--expect-from", l.expectFrom)
	}
	if l.plain {
		args = append(args, "--plain")
	}
	return append(args, l.extra...)
}

// run is a running client script.
type run struct {
	t       *testing.T
	name    string
	login   login // as run, with its token
	cmd     *exec.Cmd
	events  chan event // every line, in order; closed at the end of stdout
	stderr  *testkit.LogBuffer
	waited  chan struct{}
	err     error // of cmd.Wait, once waited is closed
	cancel  context.CancelFunc
	release func() // gives back the start slot; idempotent
	seen    []event
}

// start launches the client; the run is killed in t.Cleanup if it is still going.
func (c *client) start(t *testing.T, s *server, l login) *run {
	t.Helper()
	startSlots <- struct{}{}
	release := sync.OnceFunc(func() { <-startSlots })
	started := false
	defer func() {
		if !started {
			release() // a t.Fatal below must not keep the slot from the other tests
		}
	}()
	if l.mint != nil {
		l.token = l.mint()
	}
	s.addToken(l.token)
	addr := s.addr
	if l.addr != "" {
		addr = l.addr
	}
	cmd := c.command(l.args(addr)...)
	r := &run{
		t:       t,
		name:    fmt.Sprintf("%s %s@%s", c.name, l.user, l.host),
		login:   l,
		cmd:     cmd,
		events:  make(chan event, 16),
		stderr:  &testkit.LogBuffer{},
		waited:  make(chan struct{}),
		release: release,
	}
	cmd.Stderr = r.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	started = true
	go r.read(stdout)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	r.cancel = cancel
	go func() {
		<-ctx.Done()
		cmd.Process.Kill() // the run outlived its limit, or the test is over
	}()
	t.Cleanup(func() {
		cancel()
		<-r.waited
	})
	return r
}

func (r *run) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	defer r.release() // at the latest when the client ends
	for sc.Scan() {
		r.release() // the client is up: it printed its first event
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			e = event{Event: "unparsed", Error: sc.Text()}
		}
		r.events <- e
	}
	close(r.events)
	r.err = r.cmd.Wait()
	close(r.waited)
}

// next returns the next event, or fails the test when the client ends first.
func (r *run) next() event {
	r.t.Helper()
	e, ok := <-r.events
	if !ok {
		<-r.waited
		r.t.Fatalf("%s ended (%v) after %v; stderr:\n%s", r.name, r.err, r.seen, r.stderr)
	}
	r.seen = append(r.seen, e)
	return e
}

// waitFor returns the first event named name; any other event is kept in r.seen.
func (r *run) waitFor(name string) event {
	r.t.Helper()
	for {
		if e := r.next(); e.Event == name {
			return e
		}
	}
}

// wait reads to the end and returns the exit code and every event.
func (r *run) wait() (int, []event) {
	for e := range r.events {
		r.seen = append(r.seen, e)
	}
	<-r.waited
	return r.cmd.ProcessState.ExitCode(), r.seen
}

// loginOnce runs a client that logs in and quits, and returns its exit code and events.
func (c *client) loginOnce(t *testing.T, s *server, l login) (int, []event) {
	t.Helper()
	return c.start(t, s, l).wait()
}

func find(events []event, name string) (event, bool) {
	for _, e := range events {
		if e.Event == name {
			return e, true
		}
	}
	return event{}, false
}

// errorLine picks the telling line of a probe's output: the first naming an error, else the last.
func errorLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		if strings.Contains(l, "Error") || strings.Contains(l, "error") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}
