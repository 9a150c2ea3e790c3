package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type item struct {
	kind kind
	name string
	raw  string
}

func scanAll(r io.Reader, size, max int) ([]item, error) {
	sc := newScanner(r, size, max)
	var got []item
	for {
		el, err := sc.next()
		if err != nil {
			return got, err
		}
		got = append(got, item{el.Kind, string(el.Name), string(el.Raw)})
		if el.Kind == kindEnd {
			// A new stream may follow on the same connection only after a restart.
			sc.reset(r)
		}
	}
}

func TestScanner(t *testing.T) {
	const header = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x' from='localhost' version='1.0'>`
	features := `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>X-TOKEN</mechanism></mechanisms></stream:features>`
	tests := []struct {
		name string
		in   string
		want []item
	}{{
		name: "prosody negotiation",
		in:   `<?xml version='1.0'?>` + header + features + `<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`,
		want: []item{{kindHeader, "stream:stream", header}, {kindChild, "stream:features", features},
			{kindChild, "proceed", `<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`}},
	}, {
		name: "keepalives, comments and quoted brackets",
		in: header + " \n<!-- a > comment --> <iq type='result' id='a>b/'><bind><jid>u@h/r</jid></bind></iq>\t" +
			`<message><body><![CDATA[<not a tag>]]></body></message></stream:stream>`,
		want: []item{{kindHeader, "stream:stream", header},
			{kindChild, "iq", `<iq type='result' id='a>b/'><bind><jid>u@h/r</jid></bind></iq>`},
			{kindChild, "message", `<message><body><![CDATA[<not a tag>]]></body></message>`},
			{kindEnd, "stream:stream", `</stream:stream>`}},
	}, {
		name: "default namespace stream",
		in:   `<stream xmlns="http://etherx.jabber.org/streams"><features xmlns="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"></bind></features></stream>`,
		want: []item{{kindHeader, "stream", `<stream xmlns="http://etherx.jabber.org/streams">`},
			{kindChild, "features", `<features xmlns="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"></bind></features>`},
			{kindEnd, "stream", `</stream>`}},
	}}
	for _, tc := range tests {
		for _, size := range []int{8, 4096} {
			readers := map[string]io.Reader{
				"whole":    strings.NewReader(tc.in),
				"one byte": iotest.OneByteReader(strings.NewReader(tc.in)),
			}
			for rname, r := range readers {
				t.Run(tc.name+"/"+rname, func(t *testing.T) {
					got, err := scanAll(r, size, 1<<16)
					if !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Fatalf("end: got %v, want ErrUnexpectedEOF", err)
					}
					if len(got) != len(tc.want) {
						t.Fatalf("got %d items %q, want %d", len(got), got, len(tc.want))
					}
					for i := range got {
						if got[i] != tc.want[i] {
							t.Errorf("item %d: got %+v, want %+v", i, got[i], tc.want[i])
						}
					}
				})
			}
		}
	}
}

func TestScannerErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"too large", "<s><a>" + strings.Repeat("x", 200) + "</a></s>", 64, "larger than 64"},
		{"end tag first", "</s>", 64, "before the stream header"},
		{"bad markup", "<s><!DOCTYPE x>", 64, "unexpected markup"},
		{"eof inside element", "<s><a><b>", 64, "unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scanAll(strings.NewReader(tc.in), 16, tc.max)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestScannerResetRefusesBufferedBytes(t *testing.T) {
	// Bytes sent before the TLS handshake must not be read as if they came over TLS.
	r := strings.NewReader("<s><proceed/><x/>")
	sc := newScanner(r, 64, 64)
	for range 2 {
		if _, err := sc.next(); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.reset(strings.NewReader("")); err == nil {
		t.Fatal("reset onto a new reader with buffered bytes: got nil error")
	}
}

func TestAttr(t *testing.T) {
	tests := []struct {
		raw, name, want string
	}{
		{`<iq type='result' id='b1'><x type='no'/></iq>`, "type", "result"},
		{`<iq id="b1" type = "error">`, "type", "error"},
		{`<message xtype='a' type='chat'>`, "type", "chat"},
		{`<message to='a' id='m123'/>`, "id", "m123"},
		{`<message to='a'/>`, "id", ""},
		{`<message id=x>`, "id", ""},
	}
	for _, tc := range tests {
		if got := string(attr([]byte(tc.raw), tc.name)); got != tc.want {
			t.Errorf("attr(%q, %q) = %q, want %q", tc.raw, tc.name, got, tc.want)
		}
	}
	if got := string(textOf([]byte(`<iq><bind><jid>a@b/c</jid></bind></iq>`), "jid")); got != "a@b/c" {
		t.Errorf("textOf: got %q", got)
	}
}

// FuzzScanner checks that any bytes end in items or an error, never a panic or a loop, and
// that every item is a piece of the input.
func FuzzScanner(f *testing.F) {
	f.Add([]byte(`<?xml version='1.0'?><stream:stream><a x='>'><b/></a> <!--c--></stream:stream>`))
	f.Add([]byte(`<s><![CDATA[x]]><a>t</a></s>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		sc := newScanner(bytes.NewReader(in), 8, 256)
		for range len(in) + 2 {
			el, err := sc.next()
			if err != nil {
				return
			}
			if !bytes.Contains(in, el.Raw) {
				t.Fatalf("item %q is not in the input", el.Raw)
			}
			if el.Kind == kindEnd {
				sc.reset(sc.r)
			}
		}
		t.Fatal("more items than bytes")
	})
}

// BenchmarkScanLogin scans what a server sends during one plaintext login, to show the
// tool's parsing is a small part of the cost of a login.
func BenchmarkScanLogin(b *testing.B) {
	transcript := []byte(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='a1b2c3' from='localhost' version='1.0'>` +
		`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>X-TOKEN</mechanism></mechanisms></stream:features>` +
		`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` +
		`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='d4e5f6' from='localhost' version='1.0'>` +
		`<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>` +
		`<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>u1@localhost/b1-1</jid></bind></iq></stream:stream>`)
	r := bytes.NewReader(transcript)
	sc := newScanner(r, 2048, 1<<20)
	b.SetBytes(int64(len(transcript)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(transcript)
		sc.pos, sc.end, sc.depth = 0, 0, 0
		for {
			el, err := sc.next()
			if err != nil {
				b.Fatalf("%v after %q", err, el.Raw)
			}
			if el.Kind == kindEnd {
				break
			}
			if el.Is("success") {
				sc.reset(r) // the stream restart after SASL
			}
			if el.Kind == kindChild && el.Is("iq") && len(attr(el.Raw, "type")) == 0 {
				b.Fatal("no type")
			}
		}
	}
}
