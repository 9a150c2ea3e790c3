package config_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/config"
)

func TestClusterConfig(t *testing.T) {
	dir := t.TempDir()
	secret := base64.StdEncoding.EncodeToString(make([]byte, cluster.SecretSize))
	if err := os.WriteFile(filepath.Join(dir, "cluster_secret"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "cluster_secret"), 0o644) // umask may have narrowed it
	const hosts = "[general]\nhosts = [\"a.example\"]\n"
	path := filepath.Join(dir, "config.toml")

	// No section: no cluster.
	c, err := config.Parse([]byte(hosts), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, on := c.ClusterOptions(); on || c.Cluster != nil {
		t.Fatal("a config without [cluster] turned the cluster on")
	}

	// An empty section is enough to turn it on; defaults fill the rest
	// (here, everything but the secret).
	c, err = config.Parse([]byte(hosts+"[cluster]\nsecret_file = \"cluster_secret\"\nbind = \"10.1.2.3:8000\"\n"), path)
	if err != nil {
		t.Fatal(err)
	}
	o, on := c.ClusterOptions()
	if !on {
		t.Fatal("[cluster] did not turn the cluster on")
	}
	if o.SecretFile != filepath.Join(dir, "cluster_secret") || o.LinkListen != "10.1.2.3:8001" ||
		o.JoinTimeout.Duration != cluster.DefaultJoinTimeout || o.ReplayMax != cluster.DefaultReplayMax || o.NodeName == "" {
		t.Fatalf("options with defaults: %+v", o)
	}
	// The secret file is readable by others: a warning that names it, and
	// never its content.
	found := false
	for _, w := range c.Warnings() {
		if strings.Contains(w, secret) {
			t.Fatalf("a warning shows the secret: %s", w)
		}
		found = found || strings.Contains(w, "cluster: secret_file") && strings.Contains(w, "0644")
	}
	if !found {
		t.Fatalf("no warning about the secret file's mode: %q", c.Warnings())
	}

	// Refusals are one-line ConfigErrors.
	for _, tc := range []struct{ section, want string }{
		{"", "secret_file is required"},
		{"secret_file = \"nope\"\n", "no such file"},
		{"secret_file = \"cluster_secret\"\nreplay_max = -1\n", "replay_max -1 is negative"},
		{"secret_file = \"cluster_secret\"\nadvertise = \"example.com:7946\"\n", "give an IP address"},
	} {
		_, err := config.Parse([]byte(hosts+"[cluster]\n"+tc.section), path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("[cluster] %q: %v, want one line containing %q", tc.section, err, tc.want)
		}
	}
}
