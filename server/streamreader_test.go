package server

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"mellium.im/xmpp/stream"

	"github.com/xtokend/xtokend/internal/xmltok"
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
			r, err := newStreamReader(strings.NewReader(tc.header + tc.in))
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
	cc := newCountConn(pipeWith(t, headerS, stanza, stanza), 0)
	r, err := newStreamReader(cc)
	cc.limit = int64(len(stanza))
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

// newStreamReader reads the header on r, as negotiation does, and returns
// the stream reader a session would use after it.
func newStreamReader(r io.Reader) (*streamReader, error) {
	d := xmltok.NewDecoder(r)
	start, err := readStreamHeader(d)
	if err != nil {
		return nil, err
	}
	return &streamReader{d: d, header: replayHeader(start)}, nil
}

// readStreamHeader takes a declaration, whitespace and the header, and
// nothing else before it.
func TestReadStreamHeader(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr func(error) bool
	}{
		{"<?xml version='1.0'?>\n" + headerStream, nil},
		{headerS, nil},
		{" \r\n" + headerExtra, nil},
		{"<auth>secret</auth>" + headerStream, isCond(condInvalidNamespace)},
		{"<message xmlns='jabber:client'>", isCond(condInvalidNamespace)},
		{"<stream xmlns='urn:example'>", isCond(condInvalidNamespace)},
		{"<stream:stream", isSyntax},
		{"<?xml version='1.0'?>", isEOF},
		{"", isEOF},
		{"</stream:stream>", isEOF},
		{"text", is(errStreamText)},
		{"<!-- c -->" + headerStream, is(errComment)},
		{"<?php x?>" + headerStream, is(errProcInst)},
		{"<!DOCTYPE x>" + headerStream, is(errDirective)},
		{"<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", isStreamError("conflict")},
	} {
		_, err := readStreamHeader(xmltok.NewDecoder(strings.NewReader(tc.in)))
		if tc.wantErr == nil && err != nil || tc.wantErr != nil && !tc.wantErr(err) {
			t.Errorf("readStreamHeader(%q): %v (%T)", tc.in, err, err)
		}
	}
}

func isCond(cond string) func(error) bool {
	return func(err error) bool { var ce *clientError; return errors.As(err, &ce) && ce.cond == cond }
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
