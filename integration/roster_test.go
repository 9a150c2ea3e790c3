package integration

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// slixmppRoster is slixmpp with a roster (clients/slixmpp_roster.py): it is
// there when slixmpp is, so its check is slixmpp's.
func slixmppRoster(extra ...string) *client {
	c := &client{
		name: "slixmpp-roster",
		pkg:  slixmpp.pkg,
		command: func(args ...string) *exec.Cmd {
			return exec.Command(debianPython, append(append([]string{"clients/slixmpp_roster.py"}, withCA(args)...), extra...)...)
		},
	}
	c.once.Do(func() {}) // checked through slixmpp.require
	return c
}

// TestRosterSlixmpp: two slixmpp users subscribe to each other (alice asks
// while bob is away; bob finds the request at login and slixmpp approves it
// and asks back), each sees roster pushes up to "both"; then a message
// alice sends while bob is away is stored, survives a kill -9 of the server
// and a start on the same SQLite file, and reaches bob at his next login
// with <delay/>.
func TestRosterSlixmpp(t *testing.T) {
	slixmpp.require(t)
	t.Parallel()
	s := startServer(t)
	alice, bob := "alice@"+fileHost, "bob@"+fileHost

	a := slixmppRoster("--peer", bob, "--subscribe").start(t, s, login{host: fileHost, user: "alice", resource: "a", mint: s.cli(t, alice)})
	a.waitFor("bound")
	if e := a.waitFor("roster"); e.JID != bob || e.Type != "none" {
		t.Errorf("alice's first push: %v, want bob with none (ask=subscribe)", e)
	}
	b := slixmppRoster("--peer", alice).start(t, s, login{host: fileHost, user: "bob", resource: "b", mint: s.cli(t, bob)})
	for _, r := range []*run{a, b} {
		code, events := r.wait()
		last := event{}
		for _, e := range events {
			if e.Event == "roster" {
				last = e
			}
		}
		if code != 0 || last.Type != "both" {
			t.Errorf("%s: exit %d, last roster push %v; events %v\nstderr:\n%s", r.name, code, last, events, r.stderr)
		}
	}

	code, events := slixmpp.loginOnce(t, s, login{host: fileHost, user: "alice", mint: s.cli(t, alice), sendTo: bob, body: "while you were away"})
	if code != 0 {
		t.Fatalf("alice's message: exit %d, %v", code, events)
	}
	s.killAndStart(t)
	r := slixmppRoster().start(t, s, login{host: fileHost, user: "bob", mint: s.cli(t, bob), expectFrom: alice})
	code, events = r.wait()
	m, ok := find(events, "message")
	if code != 0 || !ok || m.Body != "while you were away" || m.Type != "delayed" || !strings.HasPrefix(m.From, alice) {
		t.Errorf("bob after the restart: exit %d, events %v; want alice's message with a delay\nstderr:\n%s", code, events, r.stderr)
	}
}

// TestRosterCLI: xtokend roster sets a mutual subscription in the running
// server and lists both rosters; bad usage exits 2, a refusal 1.
func TestRosterCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.waitAdminSocket(t)
	roster := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(binPath, append([]string{"roster", "-config", s.configPath}, args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Run()
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	alice, carol := "alice@"+fileHost, "carol@"+fileHost
	if code, out, errOut := roster("set", "-name", "Carol", "-group", "Friends", "-subscription", "both", alice, carol); code != 0 || !strings.Contains(out, `"subscription": "both"`) {
		t.Fatalf("set: exit %d\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct{ user, contact string }{{alice, carol}, {carol, alice}} {
		code, out, errOut := roster("list", tc.user)
		var ro struct {
			Items []struct{ JID, Subscription string }
		}
		if code != 0 || json.Unmarshal([]byte(out), &ro) != nil || len(ro.Items) != 1 || ro.Items[0].JID != tc.contact || ro.Items[0].Subscription != "both" {
			t.Errorf("list %s: exit %d\n%s%s", tc.user, code, out, errOut)
		}
	}
	if code, _, errOut := roster("remove", alice, "nobody@"+fileHost); code != 1 || !strings.Contains(errOut, "no such roster item") {
		t.Errorf("remove of a missing item: exit %d, %s", code, errOut)
	}
	if code, _, _ := roster("list"); code != 2 {
		t.Errorf("list without a JID: exit %d, want 2", code)
	}
}

// killAndStart kills the server with SIGKILL (no shutdown, no goodbye to
// the database) and starts it again with the same configuration and
// database; t.Cleanup stops the new one.
func (s *server) killAndStart(t *testing.T) {
	t.Helper()
	s.kill()
	if err := s.start(t); err != nil {
		t.Fatalf("start after kill -9: %v\nserver log:\n%s", err, s.log)
	}
}
