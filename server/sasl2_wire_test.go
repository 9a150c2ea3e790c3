package server_test

import (
	"strings"
)

// SASL2 (XEP-0388) with Bind2 (XEP-0386) on the wire: run by
// TestNegotiationWire with the RFC 6120 cases.
const (
	wAuth2Open = "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X-TOKEN'>"
	wInitial   = "<initial-response>{TOKEN}</initial-response>"
	wUA        = "<user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'><software>wire</software><device>test</device></user-agent>"
	wAuth2     = wAuth2Open + wInitial + wUA + "</authenticate>"
	wBind2     = "<bind xmlns='urn:xmpp:bind:0'><tag>wire</tag></bind>"
	wAuth2Bind = wAuth2Open + wInitial + wUA + wBind2 + "</authenticate>"
	wPing2     = "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"

	aAuthFeat = "<authentication xmlns='urn:xmpp:sasl:2'><mechanism>X-TOKEN</mechanism><inline><bind xmlns='urn:xmpp:bind:0'><inline><feature var='urn:xmpp:sm:3'/></inline></bind><sm xmlns='urn:xmpp:sm:3'/><fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-NONE</mechanism></fast></inline></authentication>"
	aSuccess2 = "<success xmlns='urn:xmpp:sasl:2'>"
	aBare     = "<authorization-identifier>alice@localhost</authorization-identifier>"
	aFull     = "<authorization-identifier>alice@localhost/wire."
	aBound2   = "<bound xmlns='urn:xmpp:bind:0'></bound></success>"
	aPong     = "type='result' id='p1'"
	aNotAuth2 = "<failure xmlns='urn:xmpp:sasl:2'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>"
)

func failure2(cond string) string {
	return "<failure xmlns='urn:xmpp:sasl:2'><" + cond + " xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>"
}

func sasl2WireCases() []wireCase {
	bad := strings.Replace(wAuth2, "{TOKEN}", "{BADTOKEN}", 1)
	return []wireCase{
		{name: "sasl2 offered", send: wHeader + wEnd, want: []string{aMechs, aAuthFeat}, cond: ""},
		{name: "sasl2 without bind", send: wHeader + wAuth2 + wBindR + wPing2 + wEnd,
			want: []string{aSuccess2, aBare, "</success><stream:features>" + aBindFeat, aBound, aPong}, notWant: []string{"<bound", "<token"}, cond: ""},
		{name: "sasl2 bind2", send: wHeader + wAuth2Bind + wPing2 + wEnd,
			want: []string{aSuccess2, aFull, aBound2, aPong}, notWant: []string{"<stream:features><bind"}, cond: ""},
		{name: "sasl2 bind2 without tag", send: wHeader + strings.Replace(wAuth2Bind, "<tag>wire</tag>", "", 1) + wEnd,
			want: []string{"<authorization-identifier>alice@localhost/xtokend-", aBound2}, cond: ""},
		{name: "sasl2 bind2 enables stream management", send: wHeader + strings.Replace(wAuth2Bind, "</bind>", "<enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>", 1) + wPing2 + "<r xmlns='urn:xmpp:sm:3'/>" + wEnd,
			want: []string{aFull, "<bound xmlns='urn:xmpp:bind:0'><enabled xmlns='urn:xmpp:sm:3' id='", "resume='true' max='300'/></bound></success>", aPong, "<a xmlns='urn:xmpp:sm:3' h='1'/>"}, cond: ""},
		{name: "sasl2 bind2 enables stream management without resume", send: wHeader + strings.Replace(wAuth2Bind, "</bind>", "<enable xmlns='urn:xmpp:sm:3'/></bind>", 1) + wEnd,
			want: []string{"<bound xmlns='urn:xmpp:bind:0'><enabled xmlns='urn:xmpp:sm:3'/></bound></success>"}, cond: ""},
		{name: "sasl2 challenge and response", send: wHeader + wAuth2Open + wUA + "</authenticate><response xmlns='urn:xmpp:sasl:2'>{TOKEN}</response>" + wEnd,
			want: []string{"<challenge xmlns='urn:xmpp:sasl:2'/>", aSuccess2, aBare}, cond: ""},
		{name: "sasl2 challenge then abort", send: wHeader + wAuth2Open + "</authenticate><abort xmlns='urn:xmpp:sasl:2'/>" + wAuth2 + wEnd,
			want: []string{"<challenge xmlns='urn:xmpp:sasl:2'/>", failure2("aborted"), aSuccess2}, cond: ""},
		{name: "sasl2 challenge then something else", send: wHeader + wAuth2Open + "</authenticate><auth xmlns='urn:xmpp:sasl:2'/>" + wEnd,
			want: []string{"<challenge xmlns='urn:xmpp:sasl:2'/>", failure2("malformed-request")}, notWant: []string{"success"}, cond: ""},
		{name: "sasl2 abort without exchange", send: wHeader + "<abort xmlns='urn:xmpp:sasl:2'/>" + wEnd, want: []string{failure2("aborted")}, cond: ""},
		{name: "sasl2 response without exchange", send: wHeader + "<response xmlns='urn:xmpp:sasl:2'>{TOKEN}</response>" + wEnd, want: []string{failure2("malformed-request")}, notWant: []string{"success"}, cond: ""},
		{name: "sasl2 bad token", send: wHeader + bad + wAuth2 + wEnd, want: []string{aNotAuth2, aSuccess2}, cond: ""},
		{name: "sasl2 three failures", send: wHeader + bad + bad + bad + wAuth2, want: []string{aNotAuth2, aNotAuth2, aNotAuth2}, notWant: []string{"success"}, cond: "policy-violation"},
		{name: "sasl2 unknown mechanism", send: wHeader + strings.Replace(wAuth2, "X-TOKEN", "SCRAM-SHA-1", 1) + wEnd, want: []string{failure2("invalid-mechanism")}, cond: ""},
		{name: "sasl2 PLAIN not offered", send: wHeader + strings.Replace(wAuth2, "X-TOKEN", "PLAIN", 1) + wEnd, want: []string{failure2("invalid-mechanism")}, cond: ""},
		{name: "sasl2 no mechanism", send: wHeader + strings.Replace(wAuth2, " mechanism='X-TOKEN'", "", 1) + wEnd, want: []string{failure2("invalid-mechanism")}, cond: ""},
		{name: "sasl2 bad base64", send: wHeader + strings.Replace(wAuth2, "{TOKEN}", "!!!", 1) + wEnd, want: []string{failure2("incorrect-encoding")}, cond: ""},
		{name: "sasl2 response too large", send: wHeader + strings.Replace(wAuth2, "{TOKEN}", strings.Repeat("QUFB", 1500), 1) + wEnd, want: []string{failure2("malformed-request")}, cond: ""},
		{name: "sasl2 user agent without id", send: wHeader + strings.Replace(wAuth2, " id='d4565fa7-4d72-4749-b3d3-740edbf87770'", "", 1) + wEnd, want: []string{failure2("malformed-request")}, cond: ""},
		{name: "sasl2 FAST count not a number", send: wHeader + strings.Replace(wAuth2, "</authenticate>", "<fast xmlns='urn:xmpp:fast:0' count='x'/></authenticate>", 1) + wEnd, want: []string{failure2("malformed-request")}, cond: ""},
		{name: "sasl2 FAST unknown token", send: wHeader + "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>YWxpY2UAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</initial-response>" + wUA + "<fast xmlns='urn:xmpp:fast:0'/></authenticate>" + wEnd, want: []string{aNotAuth2}, cond: ""},
		{name: "sasl2 FAST without user agent", send: wHeader + "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>YWxpY2UAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</initial-response></authenticate>" + wEnd, want: []string{failure2("malformed-request")}, cond: ""},
		{name: "sasl2 FAST bad shape", send: wHeader + "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>YWxpY2UAAA==</initial-response>" + wUA + "</authenticate>" + wEnd, want: []string{failure2("malformed-request")}, cond: ""},
		{name: "sasl2 FAST channel binding not offered", send: wHeader + "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-ENDP'><initial-response>YWxpY2UAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</initial-response>" + wUA + "</authenticate>" + wEnd, want: []string{failure2("invalid-mechanism")}, cond: ""},
		{name: "sasl2 resume of an unknown session, then bind2", send: wHeader + strings.Replace(wAuth2Bind, wBind2, "<resume xmlns='urn:xmpp:sm:3' previd='00' h='0'/>"+wBind2, 1) + wEnd,
			want: []string{aSuccess2, aFull, "</authorization-identifier><failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>", aBound2}, notWant: []string{"<resumed"}, cond: ""},
		{name: "sasl2 resume without previd", send: wHeader + strings.Replace(wAuth2, "</authenticate>", "<resume xmlns='urn:xmpp:sm:3' h='0'/></authenticate>", 1) + wEnd,
			want: []string{aSuccess2, aBare, "<failed xmlns='urn:xmpp:sm:3'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed></success><stream:features>"}, cond: ""},
		{name: "sasl2 after success", send: wHeader + wAuth2 + wAuth2, want: []string{aSuccess2}, cond: "policy-violation"},
		{name: "sasl2 then legacy auth", send: wHeader + wAuth2 + wAuth, want: []string{aSuccess2}, cond: "policy-violation"},
		{name: "sasl2 comment", send: wHeader + wAuth2Open + "<!-- x --></authenticate>", cond: "restricted-xml"},
		{name: "sasl2 comment in response", send: wHeader + wAuth2Open + wUA + "</authenticate><response xmlns='urn:xmpp:sasl:2'><!-- x -->{TOKEN}</response>",
			want: []string{"<challenge xmlns='urn:xmpp:sasl:2'/>"}, notWant: []string{"success"}, cond: "restricted-xml"},
		{name: "sasl2 message before bind", send: wHeader + wAuth2 + "<message to='bob@localhost'/>", want: []string{aSuccess2}, cond: "not-authorized"},
	}
}
