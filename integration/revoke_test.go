package integration

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// TestRevokeRealClients: real clients that stay connected are cut off by
// `xtokend revoke` (stream error not-authorized) and `xtokend kick`
// (policy-violation), each reporting the condition; the revoked user's
// token minted before the revocation is then refused.
func TestRevokeRealClients(t *testing.T) {
	skipShort(t)
	for _, c := range []*client{slixmpp, xmppjs, aioxmpp} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.require(t)
			s := startServer(t)
			// The full JID the server bound: with Bind2 (xmpp.js) the resource asked
			// for is only its beginning.
			stay := func(user, resource string) (*run, string) {
				l := login{host: ramHost, user: user, mint: s.cli(t, user+"@"+ramHost), resource: resource, expectFrom: "nobody@" + ramHost}
				r := c.start(t, s, l)
				bound := r.waitFor("bound")
				checkBound(t, c, l, bound)
				return r, bound.JID
			}
			revoked, _ := stay("rita", "desk")
			unused := s.mint(t, "rita@"+ramHost).Token
			if out := s.run(t, "revoke", "-config", s.configPath, "rita@"+ramHost); !strings.Contains(out, "1 session(s) ended here") {
				t.Fatalf("xtokend revoke printed %q", out)
			}
			code, events := revoked.wait()
			if e, ok := find(events, "stream_error"); code != 3 || !ok || e.Condition != "not-authorized" {
				t.Errorf("%s: revoked session: exit %d, events %v; want exit 3 and stream_error not-authorized", c.name, code, events)
			}
			expectRefused(t, c, s, login{host: ramHost, user: "rita", token: unused})

			kicked, full := stay("kurt", "phone")
			s.run(t, "kick", "-config", s.configPath, full)
			code, events = kicked.wait()
			if e, ok := find(events, "stream_error"); code != 3 || !ok || e.Condition != "policy-violation" {
				t.Errorf("%s: kicked session: exit %d, events %v; want exit 3 and stream_error policy-violation", c.name, code, events)
			}
			expectLogin(t, c, s, login{host: ramHost, user: "kurt", mint: s.cli(t, "kurt@"+ramHost)})
		})
	}
}

// run runs the binary with args and returns its stdout; a failure fails the test.
func (s *server) run(t *testing.T, args ...string) string {
	t.Helper()
	s.waitAdminSocket(t)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("xtokend %q: %v\nstderr: %s", args, err, stderr.String())
	}
	return stdout.String()
}
