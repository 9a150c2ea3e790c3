package cluster

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

var sampleFrames = []frame{
	{kind: kindHello, name: "n1", instance: [16]byte{1, 2, 3}, version: protocolVersion},
	{kind: kindStanza, payload: []byte("<message to='a@b/c'><body>hi</body></message>")},
	{kind: kindStanzaSole, payload: []byte("<message to='a@b' type='chat'><body>hi</body></message>")},
	{kind: kindReplayReq, id: 7, host: "a.test", node: "alice", tokenID: []byte("12345678" + "0123"), expiry: 1_700_000_000_000_000_000},
	{kind: kindReplayResp, id: 7, result: replayUsed},
	{kind: kindSessions, version: 3, sessions: []session{{jid: "a@b/c", at: 1}, {jid: "d@e/f", at: -2}}},
	{kind: kindSessions, version: 0, sessions: []session{}},
	{kind: kindSession, version: 4, bound: true, jid: "a@b/c", at: 1_700_000_000_000_000_000},
	{kind: kindSessions, version: 5, sessions: []session{
		{jid: "a@b/c", at: 1, presence: presence{available: true, priority: 127}},
		{jid: "a@b/d", at: 2, presence: presence{available: true, priority: -128}},
		{jid: "a@b/e", at: 3},
	}},
	{kind: kindAvailability, version: 6, jid: "a@b/c", avail: presence{available: true, priority: -1}},
	{kind: kindAvailability, version: 7, jid: "a@b/c"},
	{kind: kindBye},
	{kind: kindAck, acked: 1 << 40},
	{kind: kindRevoke, revoke: Revocation{JID: "alice@first.com", At: time.Unix(0, 1_700_000_000_123_456_789), Until: time.Unix(0, 1_700_000_060_000_000_000)}},
	{kind: kindFAST, fast: []byte{1, 2, 3}},
	{kind: kindRevoke, revoke: Revocation{JID: "alice@first.com", Resource: "phone", At: time.Unix(0, 1), Until: time.Unix(0, 2), Kick: true}},
}

func TestFrameRoundTrip(t *testing.T) {
	for _, f := range sampleFrames {
		var buf bytes.Buffer
		buf.Write(f.encode())
		got, _, err := readFrame(&buf, nil)
		if err != nil {
			t.Fatalf("kind %d: %v", f.kind, err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Fatalf("kind %d: got %+v, want %+v", f.kind, got, f)
		}
	}
}

func TestFrameRefuses(t *testing.T) {
	for name, b := range map[string][]byte{
		"zero length":       {0, 0, 0, 0},
		"too long":          {0x7f, 0, 0, 0},
		"unknown kind":      {0, 0, 0, 1, 99},
		"empty stanza":      {0, 0, 0, 1, kindStanza},
		"empty sole stanza": {0, 0, 0, 1, kindStanzaSole},
		"bye with a body":   {0, 0, 0, 2, kindBye, 0},
		"ack without count": {0, 0, 0, 1, kindAck},
		"short hello":       {0, 0, 0, 3, kindHello, 5, 'a'},
		"bad result":        {0, 0, 0, 3, kindReplayResp, 1, 9},
		"bad bool":          {0, 0, 0, 6, kindSession, 1, 2, 1, 'a', 0},
		"huge jid list":     {0, 0, 0, 7, kindSessions, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"truncated":         {0, 0, 0, 9, kindStanza, 'a'},
		// availability: version 1, jid "a", available, priority 128 / -129 (zigzag varints)
		"priority over 127":     {0, 0, 0, 7, kindAvailability, 1, 1, 'a', 1, 0x80, 0x02},
		"priority under -128":   {0, 0, 0, 7, kindAvailability, 1, 1, 'a', 1, 0x81, 0x02},
		"availability not bool": {0, 0, 0, 6, kindAvailability, 1, 1, 'a', 2, 0},
		"availability short":    {0, 0, 0, 5, kindAvailability, 1, 1, 'a', 1},
		// a snapshot entry without its presence
		"snapshot entry short": {0, 0, 0, 8, kindSessions, 1, 1, 3, 'a', 'b', 'c', 2},
	} {
		if _, _, err := readFrame(bytes.NewReader(b), nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, fr := range sampleFrames {
		f.Add(fr.encode()[4:])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fr, err := parseFrame(body)
		if err != nil {
			return
		}
		again, err := parseFrame(fr.encode()[4:])
		if err != nil {
			t.Fatalf("re-encoded frame does not parse: %v", err)
		}
		if !reflect.DeepEqual(again, fr) {
			t.Fatalf("round trip changed the frame: %+v vs %+v", again, fr)
		}
	})
}
