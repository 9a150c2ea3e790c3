package main

import (
	"errors"
	"net"
	"testing"
)

// -from picks the loopback address a load's connections come from, and
// refuses anything else.
func TestFromFlag(t *testing.T) {
	for _, tc := range []struct {
		from string
		want net.IP // nil: a usage error
	}{
		{"127.0.0.2", net.IPv4(127, 0, 0, 2)},
		{"127.1.2.3", net.IPv4(127, 1, 2, 3)},
		{"10.0.0.1", nil},
		{"::1", nil},
		{"localhost", nil},
	} {
		c := &common{addr: "127.0.0.1:5222", host: "localhost", mech: "PLAIN", from: tc.from}
		tg, err := c.target()
		if tc.want == nil {
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("-from %s: %v, want a usage error", tc.from, err)
			}
			continue
		}
		if err != nil || len(tg.sources) != 1 || !tg.sources[0].Equal(tc.want) {
			t.Errorf("-from %s: sources %v, %v", tc.from, tg.sources, err)
		}
	}
}
