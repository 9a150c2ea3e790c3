package server

import (
	"strings"
	"testing"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/sasl"
)

// The SASL stage's constant features list what sasl offers for the same
// options, in its order, in RFC 6120's SASL and in SASL2 alike.
func TestSASLFeaturesMatchMechanisms(t *testing.T) {
	for _, plain := range []bool{false, true} {
		opts := sasl.DefaultOptions()
		opts.Plain = plain
		sasl2 := "<authentication xmlns='" + nsSASL2 + "'>"
		for _, m := range opts.Mechanisms() {
			sasl2 += "<mechanism>" + m + "</mechanism>"
		}
		sasl2 += inlineSASL2 + "</authentication>"
		want := "<stream:features>" + string(sasl.AppendMechanisms(nil, opts.Mechanisms())) + sasl2 + "</stream:features>"
		if got := saslFeatures(&host{settings: config.HostSettings{AuthToken: opts}}, 0); got != want {
			t.Errorf("plain = %t: features\n got %s\nwant %s", plain, got, want)
		}
		// With channel bindings the same, FAST's channel-binding mechanisms
		// first, tls-exporter before tls-server-end-point.
		for offer, mechs := range map[fastOffer]string{
			offerEndPoint:                 "HT-SHA-256-ENDP",
			offerExporter:                 "HT-SHA-256-EXPR",
			offerExporter | offerEndPoint: "HT-SHA-256-EXPR</mechanism><mechanism>HT-SHA-256-ENDP",
		} {
			want := strings.Replace(want, "<fast xmlns='urn:xmpp:fast:0'><mechanism>", "<fast xmlns='urn:xmpp:fast:0'><mechanism>"+mechs+"</mechanism><mechanism>", 1)
			if got := saslFeatures(&host{settings: config.HostSettings{AuthToken: opts}}, offer); got != want {
				t.Errorf("plain = %t, offer %b: features\n got %s\nwant %s", plain, offer, got, want)
			}
		}
	}
}
