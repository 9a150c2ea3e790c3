package cluster

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestOptionsTOML(t *testing.T) {
	var cfg struct {
		Cluster *Options `toml:"cluster"`
	}
	md, err := toml.Decode(`
[cluster]
node_name = "xmpp1"
bind = "0.0.0.0:7946"
advertise = "10.0.0.1:7946"
join = ["10.0.0.2:7946", "10.0.0.3:7946"]
secret_file = "priv/cluster_secret"
link_listen = "0.0.0.0:7947"
link_advertise = "10.0.0.1:7947"
join_timeout = "3s"
replay_max = 1000
`, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Fatalf("undecoded keys: %v", u)
	}
	o := cfg.Cluster.WithDefaults().WithDir("/etc/xtokend")
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.SecretFile != "/etc/xtokend/priv/cluster_secret" || o.JoinTimeout.Seconds() != 3 || len(o.Join) != 2 || o.ReplayMax != 1000 {
		t.Fatalf("decoded %+v", o)
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{NodeName: "a", SecretFile: "s"}.WithDefaults()
	if o.Bind != DefaultBind || o.LinkListen != "0.0.0.0:7947" || o.JoinTimeout.Duration != DefaultJoinTimeout || o.ReplayMax != DefaultReplayMax {
		t.Fatalf("defaults: %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	o = Options{NodeName: "a", SecretFile: "s", Bind: "127.0.0.1:0"}.WithDefaults()
	if o.LinkListen != "127.0.0.1:0" {
		t.Fatalf("link_listen for port 0: %q", o.LinkListen)
	}
}

func TestOptionsValidate(t *testing.T) {
	good := Options{NodeName: "a", Bind: "127.0.0.1:7946", LinkListen: "127.0.0.1:7947", SecretFile: "s", ReplayMax: 1}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no name", func(o *Options) { o.NodeName = "" }, "node_name is empty"},
		{"space in name", func(o *Options) { o.NodeName = "a b" }, "space or control"},
		{"long name", func(o *Options) { o.NodeName = strings.Repeat("a", 129) }, "longer than 128"},
		{"bind not host:port", func(o *Options) { o.Bind = "7946" }, `bind "7946" is not host:port`},
		{"bind bad port", func(o *Options) { o.Bind = "127.0.0.1:70000" }, "port \"70000\""},
		{"bind name", func(o *Options) { o.Bind = "localhost:1" }, "IP address"},
		{"join no host", func(o *Options) { o.Join = []string{":7946"} }, "join[0] \":7946\" has no host"},
		{"join port 0", func(o *Options) { o.Join = []string{"a:0"} }, "port 0 cannot be dialled"},
		{"advertise bad", func(o *Options) { o.Advertise = "x" }, "advertise"},
		{"advertise name", func(o *Options) { o.Advertise = "node1.example:7946" }, "IP address, not a name"},
		{"no secret", func(o *Options) { o.SecretFile = "" }, "secret_file is required"},
		{"link bad", func(o *Options) { o.LinkListen = "x" }, "link_listen"},
		{"link advertise bad", func(o *Options) { o.LinkAdvertise = "10.0.0.1" }, "link_advertise"},
		{"negative timeout", func(o *Options) { o.JoinTimeout.Duration = -1 }, "join_timeout"},
		{"negative replay", func(o *Options) { o.ReplayMax = -1 }, "replay_max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cluster: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
		})
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("ten")); err == nil {
		t.Fatal("accepted ten")
	}
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || d.Seconds() != 90 {
		t.Fatal(d, err)
	}
	if b, _ := d.MarshalText(); string(b) != "1m30s" {
		t.Fatal(string(b))
	}
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	key := make([]byte, SecretSize)
	for i := range key {
		key[i] = byte(i)
	}
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	std := base64.StdEncoding.EncodeToString(key)
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want          string // error substring; "" for success
		warn          bool
	}{
		{"std", std + "\n", 0o600, "", false},
		{"raw url", base64.RawURLEncoding.EncodeToString(key), 0o600, "", false},
		{"readable", std, 0o644, "", true},
		{"empty", " \n", 0o600, "empty", false},
		{"not base64", "!!!!", 0o600, "not base64", false},
		{"short", base64.StdEncoding.EncodeToString(key[:16]), 0o600, "decodes to 16 bytes, want 32", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(tc.name, tc.content, tc.mode)
			os.Chmod(p, tc.mode) // umask
			got, warn, err := LoadSecret(p)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
					t.Fatalf("got %v, want an error naming %s with %q", err, p, tc.want)
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tc.content)) && len(strings.TrimSpace(tc.content)) > 8 {
					t.Fatal("error holds the secret")
				}
				return
			}
			if err != nil || string(got) != string(key) {
				t.Fatalf("got %x, %v", got, err)
			}
			if (warn != "") != tc.warn {
				t.Fatalf("warning %q, want one: %v", warn, tc.warn)
			}
		})
	}
	if _, _, err := LoadSecret(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestDeriveSeparatesKeys(t *testing.T) {
	a, err := derive(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := derive(append(make([]byte, 31), 1))
	if string(a.gossip) == string(b.gossip) || string(a.linkKey) == string(b.linkKey) {
		t.Fatal("different secrets, same keys")
	}
	if string(a.gossip) == string(a.linkKey.Seed()) {
		t.Fatal("gossip and link keys are the same")
	}
	if _, err := derive(make([]byte, 16)); err == nil {
		t.Fatal("16-byte secret accepted")
	}
}
