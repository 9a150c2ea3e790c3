package cluster

import (
	"bytes"
	"reflect"
	"testing"
)

var sampleFrames = []frame{
	{kind: kindHello, name: "n1", instance: [16]byte{1, 2, 3}, version: protocolVersion},
	{kind: kindStanza, payload: []byte("<message to='a@b/c'><body>hi</body></message>")},
	{kind: kindReplayReq, id: 7, host: "a.test", node: "alice", tokenID: []byte("12345678" + "0123"), expiry: 1_700_000_000_000_000_000},
	{kind: kindReplayResp, id: 7, result: replayUsed},
	{kind: kindSessions, version: 3, sessions: []session{{"a@b/c", 1}, {"d@e/f", -2}}},
	{kind: kindSessions, version: 0, sessions: []session{}},
	{kind: kindSession, version: 4, bound: true, jid: "a@b/c", at: 1_700_000_000_000_000_000},
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
		"zero length":   {0, 0, 0, 0},
		"too long":      {0x7f, 0, 0, 0},
		"unknown kind":  {0, 0, 0, 1, 99},
		"empty stanza":  {0, 0, 0, 1, kindStanza},
		"short hello":   {0, 0, 0, 3, kindHello, 5, 'a'},
		"bad result":    {0, 0, 0, 3, kindReplayResp, 1, 9},
		"bad bool":      {0, 0, 0, 6, kindSession, 1, 2, 1, 'a', 0},
		"huge jid list": {0, 0, 0, 7, kindSessions, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"truncated":     {0, 0, 0, 9, kindStanza, 'a'},
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
