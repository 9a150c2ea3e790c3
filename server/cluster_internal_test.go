package server

import "testing"

func TestStanzaHead(t *testing.T) {
	tests := []struct {
		in   string
		want routedHead
		bad  bool
	}{
		{in: `<message to="a@x/r" from="b@x/s" type="chat" id="1"><body>hi</body></message>`,
			want: routedHead{name: "message", to: "a@x/r", from: "b@x/s", typ: "chat", id: "1"}},
		{in: `<presence xmlns='jabber:client' type='unavailable' from='b@x/s' to='a@x'></presence>`,
			want: routedHead{name: "presence", to: "a@x", from: "b@x/s", typ: "unavailable"}},
		{in: `<iq to='a@x/r' from='b@x/s' type='get' id='q' xml:lang='en'/>`,
			want: routedHead{name: "iq", to: "a@x/r", from: "b@x/s", typ: "get", id: "q"}},
		{in: `<stream:error/>`, bad: true},
		{in: `<body/>`, bad: true},
		{in: ``, bad: true},
		{in: `not xml`, bad: true},
	}
	for _, tc := range tests {
		got, err := stanzaHead([]byte(tc.in))
		if (err != nil) != tc.bad || !tc.bad && got != tc.want {
			t.Errorf("stanzaHead(%q) = %+v, %v; want %+v (error: %t)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestAddressed(t *testing.T) {
	in := "<presence xmlns='jabber:client' type='unavailable' from='a@x/r'></presence>"
	want := "<presence xmlns='jabber:client' to='a@x' type='unavailable' from='a@x/r'></presence>"
	if got := string(addressed([]byte(in), "a@x")); got != want {
		t.Fatalf("addressed:\n got %s\nwant %s", got, want)
	}
	other := "<message to='a@x'/>"
	if got := string(addressed([]byte(other), "b@x")); got != other {
		t.Fatalf("addressed changed a stanza it does not know: %s", got)
	}
}
