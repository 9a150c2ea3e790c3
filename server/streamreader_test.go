package server

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"mellium.im/xmpp/stream"
)

const (
	headerStream = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='localhost'>"
	headerS      = `<s:stream xmlns="jabber:client" xmlns:s="http://etherx.jabber.org/streams" version="1.0" to="localhost">`
	headerExtra  = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:c='jabber:client' xmlns:p='urn:xmpp:ping' to='localhost'>"
)

// readAllStanzas reads stanzas until an error and returns their names
// (namespace and local name) and that error.
func readAllStanzas(r xml.TokenReader) ([]string, error) {
	var names []string
	for {
		st, err := readStanza(r)
		if err != nil {
			return names, err
		}
		names = append(names, st.start.Name.Space+" "+st.name)
	}
}

func TestStreamReader(t *testing.T) {
	msg := "jabber:client message"
	for _, tc := range []struct {
		name    string
		header  string
		in      string
		want    []string
		wantErr func(error) bool
	}{
		{"stream end", headerStream, "<message/> \n<presence/></stream:stream>", []string{msg, "jabber:client presence"}, isEOF},
		{"another prefix ends with its own", headerS, "<message><body>hi</body></message></s:stream>", []string{msg}, isEOF},
		{"another prefix: stream: is bad XML", headerS, "<message/></stream:stream>", []string{msg}, isSyntax},
		{"declared prefixes", headerExtra, "<c:message><p:ping/></c:message><iq xmlns='jabber:client' type='get' id='1'/></stream:stream>", []string{msg, "jabber:client iq"}, isEOF},
		{"default namespace of a stanza", headerStream, "<message xmlns='jabber:server'/>", nil, isClientError},
		{"stream error", headerStream, "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", nil, isStreamError("conflict")},
		{"stream error, another prefix", headerS, "<s:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></s:error>", nil, isStreamError("system-shutdown")},
		{"restart", headerStream, "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", nil, is(errUnexpectedRestart)},
		{"other stream element", headerS, "<s:features/>", nil, is(errUnknownStreamElement)},
		{"text", headerStream, "<message/>hello", []string{msg}, is(errStreamText)},
		{"comment", headerStream, "<!-- hi -->", nil, is(errComment)},
		{"comment in a stanza", headerStream, "<message><!-- hi --></message>", nil, is(errComment)},
		{"processing instruction", headerStream, "<?php x?>", nil, is(errProcInst)},
		{"directive", headerStream, "<!DOCTYPE x>", nil, is(errDirective)},
		{"cut short", headerStream, "<message><body>", nil, isSyntax},
		{"unknown prefix", headerStream, "<x:message/>", nil, isClientError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := newStreamReader(strings.NewReader(tc.in), []byte(tc.header))
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAllStanzas(r)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("stanzas: got %q, want %q", got, tc.want)
			}
			if !tc.wantErr(err) {
				t.Errorf("error: got %v (%T)", err, err)
			}
		})
	}
}

func TestStreamReaderMaxStanzaSize(t *testing.T) {
	stanza := "<message><body>" + strings.Repeat("x", 100) + "</body></message>"
	cc := newCountConn(pipeWith(t, stanza, stanza), int64(len(stanza)))
	cc.takeHeader()
	r, err := newStreamReader(cc, []byte(headerS))
	if err != nil {
		t.Fatal(err)
	}
	// The header does not count; a stanza exactly at the limit passes.
	cc.reset()
	if _, err := readStanza(r); err != nil {
		t.Fatalf("a stanza at the limit: %v", err)
	}
	cc.limit--
	cc.reset()
	if _, err := readStanza(r); !errors.Is(err, errStanzaTooLarge) || !cc.exceeded() {
		t.Fatalf("a stanza over the limit: %v, exceeded %v", err, cc.exceeded())
	}
}

// newStreamReader takes what countConn recorded: a declaration, whitespace
// and the header, and nothing else.
func TestStreamReaderRecordedHeader(t *testing.T) {
	for _, tc := range []struct {
		rec string
		ok  bool
	}{
		{"<?xml version='1.0'?>\n" + headerStream, true},
		{headerS, true},
		{" \r\n" + headerExtra, true},
		{headerStream + "<message/>", false},          // more than the header
		{"<auth>secret</auth>" + headerStream, false}, // never a header after something else
		{"<stream:stream", false},                     // cut short: not read on from the connection
		{"<?xml version='1.0'?>", false},
		{"", false},
		{"text", false},
		{"<message xmlns='jabber:client'>", false},
		{"<!-- c -->" + headerStream, false},
	} {
		// The connection has a stanza ready: a reader that went on reading
		// it would see a header where there is none.
		_, err := newStreamReader(strings.NewReader(headerStream+"<message/>"), []byte(tc.rec))
		if (err == nil) != tc.ok {
			t.Errorf("newStreamReader(%q): %v, want ok %v", tc.rec, err, tc.ok)
		}
	}
}

// The header is recorded from a new countConn (or recordHeader) to
// takeHeader, and a header longer than maxHeaderSize is dropped.
func TestCountConnRecordsHeader(t *testing.T) {
	cc := newCountConn(pipeWith(t, headerS+"<auth>secret</auth>"+headerStream), 0)
	d := xml.NewDecoder(cc)
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	if got := string(cc.takeHeader()); got != headerS {
		t.Fatalf("first header: %q", got)
	}
	if _, err := d.Token(); err != nil { // <auth>
		t.Fatal(err)
	}
	if _, err := d.Token(); err != nil { // secret
		t.Fatal(err)
	}
	if _, err := d.Token(); err != nil { // </auth>
		t.Fatal(err)
	}
	cc.recordHeader()
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	if got := string(cc.takeHeader()); got != headerStream {
		t.Fatalf("second header: %q", got)
	}

	long := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='" + strings.Repeat("x", maxHeaderSize) + "'>"
	cc = newCountConn(pipeWith(t, long), 0)
	if _, err := xml.NewDecoder(cc).Token(); err != nil {
		t.Fatal(err)
	}
	if got := cc.takeHeader(); got != nil {
		t.Fatalf("a header over maxHeaderSize was kept (%d bytes)", len(got))
	}
}

func isEOF(err error) bool         { return errors.Is(err, io.EOF) }
func isClientError(err error) bool { var ce *clientError; return errors.As(err, &ce) }
func isSyntax(err error) bool {
	var se *xml.SyntaxError
	return errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF)
}
func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }
func isStreamError(cond string) func(error) bool {
	return func(err error) bool {
		var se stream.Error
		return errors.As(err, &se) && se.Err == cond
	}
}
