package server

import (
	"bytes"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/internal/xmltok"
)

// host.userJID skips checking the host's part again, and must otherwise
// be jid.New: the same JID, or an error where jid.New has one.
func TestUserJIDIsJIDNew(t *testing.T) {
	long := strings.Repeat("a", 1024)
	for _, name := range []string{"localhost", "Example.ORG", "example.org.", "münchen.example", "127.0.0.1", "[::1]", "bad host"} {
		h := &host{name: name}
		h.domain, _ = jid.New("", name, "")
		for _, node := range []string{"alice", "Alice", "ÅSA", "a b", "a@b", "a/b", "", "\xff", long} {
			for _, res := range []string{"", "phone", "Phone ☎", "a/b@c", "\xff", long} {
				want, wantErr := jid.New(node, name, res)
				got, err := h.userJID(node, res)
				if (err != nil) != (wantErr != nil) {
					t.Fatalf("%q %q %q: error %v, jid.New's %v", name, node, res, err, wantErr)
				}
				if err == nil && (!got.Equal(want) || got.String() != want.String()) {
					t.Fatalf("%q %q %q: %q, jid.New's %q", name, node, res, got, want)
				}
			}
		}
	}
}

// A 'to' written as a served host's JID is found without parsing; any
// other spelling is parsed and ends where it did before (the same host,
// or none).
func TestStreamHeaderTo(t *testing.T) {
	s := &Server{hosts: map[string]*host{}}
	for _, name := range []string{"localhost", "Example.ORG"} {
		h := &host{name: name}
		h.domain, _ = jid.New("", name, "")
		s.hosts[strings.ToLower(name)] = h
	}
	for _, tc := range []struct {
		to, host string // host: the name of the host found, "" none
		fast     bool
	}{
		{"localhost", "localhost", true},
		{"LocalHost", "localhost", false},
		{"localhost.", "localhost", false},
		{"example.org", "Example.ORG", true},
		{"EXAMPLE.org", "Example.ORG", false},
		{"alice@localhost", "", false},
		{"localhost/r", "", false},
		{"other.example", "", false},
	} {
		header := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='" + tc.to + "'>"
		start, err := readStreamHeader(xmltok.NewDecoder(bytes.NewReader([]byte(header))))
		if err != nil {
			t.Fatal(err)
		}
		h, err := checkStreamHeader(start, s.servedHost)
		if err != nil {
			t.Fatalf("%q: %v", tc.to, err)
		}
		if fast := h.host != nil; fast != tc.fast {
			t.Errorf("%q: found without parsing %v, want %v", tc.to, fast, tc.fast)
		}
		got := ""
		if found := s.headerHost(h); found != nil {
			got = found.name
		}
		if got != tc.host {
			t.Errorf("%q: host %q, want %q", tc.to, got, tc.host)
		}
	}
}
