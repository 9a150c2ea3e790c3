package server

import (
	"testing"

	"github.com/xtokend/xtokend/config"
)

// TestWithKeystores: a reload takes the key specs of the file as it is now,
// globally and per host, and nothing else of it.
func TestWithKeystores(t *testing.T) {
	parse := func(text string) *config.Config {
		t.Helper()
		c, err := config.Parse([]byte(text), "/etc/xtokend/config.toml")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cur := parse(`[general]
hosts = ["a.test", "b.test", "c.test"]
listen = "127.0.0.1:5222"
[modules.mod_keystore]
keys = [{ name = "access_secret", type = "ram" }, { name = "otp_seed", type = "ram" }]
[[host_config]]
host = "b.test"
[host_config.modules.mod_keystore]
keys = [{ name = "access_secret", type = "file", path = "b1" }, { name = "otp_seed", type = "ram" }]
[host_config.modules.mod_auth_token]
otp_period = 60
`)
	fresh := parse(`[general]
hosts = ["a.test", "b.test", "c.test"]
listen = "127.0.0.1:6222"
[modules.mod_keystore]
keys = [{ name = "access_secret", type = "env", var = "A" }, { name = "otp_seed", type = "ram" }]
[[host_config]]
host = "b.test"
[host_config.modules.mod_keystore]
keys = [{ name = "access_secret", type = "file", path = "b2", accept = ["b1"] }, { name = "otp_seed", type = "ram" }]
[host_config.modules.mod_auth_token]
otp_period = 90
[[host_config]]
host = "c.test"
[host_config.modules.mod_keystore]
keys = [{ name = "access_secret", type = "file", path = "c1" }, { name = "otp_seed", type = "ram" }]
`)
	got := withKeystores(cur, fresh)
	want := map[string]string{"a.test": "env A", "b.test": "file b2 [b1]", "c.test": "file c1"}
	for host, w := range want {
		hs, ok := got.Host(host)
		if !ok {
			t.Fatalf("host %s gone", host)
		}
		k := hs.Keystore.Keys[0]
		desc := k.Type + " " + k.Path + k.Var
		if len(k.Accept) > 0 {
			desc += " [" + k.Accept[0] + "]"
		}
		if desc != w {
			t.Errorf("%s: access_secret is %q, want %q", host, desc, w)
		}
	}
	if got.General.Listen != "127.0.0.1:5222" {
		t.Errorf("listen became %q: only key specs are reloaded", got.General.Listen)
	}
	if hs, _ := got.Host("b.test"); hs.AuthToken.OTPPeriod != 60 {
		t.Errorf("b.test's otp_period became %d: only key specs are reloaded", hs.AuthToken.OTPPeriod)
	}
	if hs, _ := cur.Host("b.test"); hs.Keystore.Keys[0].Path != "b1" {
		t.Error("the configuration in force was changed")
	}
}
