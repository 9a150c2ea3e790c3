package server

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"weak"

	"github.com/xtokend/xtokend/internal/xmltok"
)

// replaySource is a stream's bytes that can be put back to (unreader), as
// countConn and wsReader can.
type replaySource struct{ b []byte }

func (s *replaySource) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

func (s *replaySource) ReadByte() (byte, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c, nil
}

func (s *replaySource) unread(p string) error {
	s.b = append([]byte(p), s.b...)
	return nil
}

// readAllIdle reads stream (a header and what follows) stanza by stanza
// and describes each stanza whole (names, attributes, children as the
// decoder gave them) and the error that ended it. With idle, the reader
// lets go of its decoder before every stanza and primes a fresh one, as an
// idle session does when its decoder was collected; it also says how many
// times it did.
func readAllIdle(t testing.TB, stream string, idle bool) (got []string, end string, drops int) {
	src := &replaySource{b: []byte(stream)}
	r, err := newStreamReader(src)
	if err != nil {
		return nil, "header: " + err.Error(), 0
	}
	for {
		if idle {
			r.idle(src)
			if r.d == nil {
				drops++
				r.idleD = weak.Pointer[xmltok.Decoder]{} // as if collected
			}
			if err := r.wake(src); err != nil {
				t.Fatalf("wake: %v", err)
			}
		}
		st, err := readStanza(r)
		if err != nil {
			return got, fmt.Sprintf("%T %v", err, err), drops
		}
		desc := fmt.Sprintf("%v %v", st.start.Name, st.start.Attr)
		for _, tok := range st.inner {
			desc += fmt.Sprintf(" %#v", tok)
		}
		got = append(got, desc)
	}
}

// A stream read by a session that lets go of its decoder between stanzas
// reads exactly as one that keeps it: the same stanzas, the same
// namespaces (declared on the header, with any prefix, redeclared inside
// stanzas), the same end, and syntax errors on the same line.
func TestStreamReaderIdle(t *testing.T) {
	const ping = "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>"
	for _, tc := range []struct {
		name, header, body string
		replay             bool // the header can be replayed: the decoder is dropped
	}{
		{"common header", headerStream, ping + "<message><body>hi</body></message></stream:stream>", true},
		{"double quotes, declaration", "<?xml version='1.0'?>\n" + headerS, ping + "</s:stream>", true},
		{"another prefix ended as stream:", headerS, ping + "</stream:stream>", true},
		{"prefixes declared on the header", headerExtra, "<c:message><p:ping/></c:message><iq xmlns='jabber:client' type='get' id='1'/></stream:stream>", true},
		{"declared prefix, undeclared use", headerExtra, "<c:message><q:ping/></c:message>", true},
		{"stream error", headerS, ping + "<s:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></s:error>", true},
		{"stream error in the wrong prefix", headerS, ping + "<stream:error/>", true},
		{"restart", headerStream, ping + "<stream:stream>", true},
		{"line numbers", headerStream, "\n<message>\n<body>hi</body>\n</message>\n\n<iq type='get' id='1'>\n</message>", true},
		{"line numbers in the header", "<stream:stream\nxmlns='jabber:client'\nxmlns:stream='http://etherx.jabber.org/streams'\nto='localhost'>", "<message/>\n<message>\n</iq>", true},
		{"values to escape", `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:e='urn:x&amp;&lt;"&#9;&#10;&#13;'>`, "<message><e:x/></message><e:y/>", true},
		{"the prefix redeclared", "<x:stream xmlns='jabber:client' xmlns:x='urn:a' xmlns:x='http://etherx.jabber.org/streams'>", "<message/></x:stream>", true},
		{"a second prefix for it, redeclared", "<b:stream xmlns='jabber:client' xmlns:a='http://etherx.jabber.org/streams' xmlns:b='http://etherx.jabber.org/streams' xmlns:a='urn:x'>", "<message/><a:x/></b:stream>", true},
		{"another prefix for the same namespace", "<a:stream xmlns='jabber:client' xmlns:a='http://etherx.jabber.org/streams' xmlns:b='http://etherx.jabber.org/streams'>", "<message/></b:stream>", false},
		{"default namespace redeclared", "<stream:stream xmlns='urn:a' xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>", "<message/><iq/>", true},
		{"stanza namespace inside", headerStream, "<message xmlns='jabber:server'/>", true},
		{"stanza redeclares a header prefix", headerExtra, "<c:message xmlns:p='urn:other'><p:ping/></c:message><c:iq><p:ping/></c:iq>", true},
		{"cut short", headerStream, ping + "<message><body>", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantEnd, _ := readAllIdle(t, tc.header+tc.body, false)
			got, gotEnd, drops := readAllIdle(t, tc.header+tc.body, true)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("stanzas read with drops:\n%s\nwithout:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if gotEnd != wantEnd {
				t.Errorf("end with drops: %s\nwithout: %s", gotEnd, wantEnd)
			}
			if (drops > 0) != tc.replay {
				t.Errorf("the decoder was dropped %d times, want replay %v", drops, tc.replay)
			}
		})
	}
}

func TestReplayHeader(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{headerStream, commonHeader},
		{headerS, `<s:stream xmlns="jabber:client" xmlns:s="http://etherx.jabber.org/streams">`},
		{headerExtra, `<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" xmlns:c="jabber:client" xmlns:p="urn:xmpp:ping">`},
		{"<a:stream xmlns:a='http://etherx.jabber.org/streams' xmlns:b='http://etherx.jabber.org/streams'>", ""},
		{"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns:p='" + strings.Repeat("x", maxReplayHeader) + "'>", ""},
	} {
		d := xmltok.NewDecoder(strings.NewReader(tc.header))
		start, err := readStreamHeader(d)
		if err != nil {
			t.Fatalf("%s: %v", tc.header, err)
		}
		if got := replayHeader(start); got != tc.want {
			t.Errorf("replayHeader(%s) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

// FuzzStreamReaderIdle: whatever the header and the stream, a reader that
// drops its decoder between stanzas reads what one that keeps it reads.
func FuzzStreamReaderIdle(f *testing.F) {
	for _, s := range [][2]string{
		{headerStream, "<message/>\n<presence/></stream:stream>"},
		{headerS, "<message><body>hi</body></message></s:stream>"},
		{headerExtra, "<c:message><p:ping/></c:message><c:iq xmlns:p='urn:x'><p:x/></c:iq>"},
		{"<x:stream xmlns='jabber:client' xmlns:x='urn:a' xmlns:x='http://etherx.jabber.org/streams'>", "<message/>\n</x:stream>"},
		{headerStream, "<message>\n</iq>"},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, header, body []byte) {
		stream := string(header) + string(body)
		want, wantEnd, _ := readAllIdle(t, stream, false)
		got, gotEnd, _ := readAllIdle(t, stream, true)
		if !bytes.Equal([]byte(strings.Join(got, "\n")), []byte(strings.Join(want, "\n"))) || gotEnd != wantEnd {
			t.Fatalf("with drops: %q, %s\nwithout: %q, %s", got, gotEnd, want, wantEnd)
		}
	})
}

// An idle session's decoder is freed by the next collection: nothing but
// the weak pointer holds it. One that is not collected is taken back as it
// was, and the stream goes on.
func TestStreamReaderIdleFreesDecoder(t *testing.T) {
	src := &replaySource{b: []byte(headerS + "<message/>\n<iq type='get' id='1'/>\n<presence/>\n</iq>")}
	r, err := newStreamReader(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readStanza(r); err != nil {
		t.Fatal(err)
	}
	d := r.d
	r.idle(src)
	if err := r.wake(src); err != nil || r.d != d {
		t.Fatalf("wake before a collection: %v, the same decoder %v", err, r.d == d)
	}
	if _, err := readStanza(r); err != nil {
		t.Fatal(err)
	}
	d = nil
	r.idle(src)
	runtime.GC()
	runtime.GC()
	if r.idleD.Value() != nil {
		t.Fatal("an idle session's decoder outlived two collections")
	}
	if err := r.wake(src); err != nil {
		t.Fatal(err)
	}
	if st, err := readStanza(r); err != nil || st.name != "presence" {
		t.Fatalf("after the collection: %v, %v", st, err)
	}
	if _, err := readStanza(r); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("the error at the end: %v, want one on line 4", err)
	}
}
