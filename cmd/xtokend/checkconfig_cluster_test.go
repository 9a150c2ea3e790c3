package main

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
)

// clusterSecret is a cluster secret file's content for the tests: 32 bytes
// in base64. The output must never show it.
var clusterSecret = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

const clusterHosts = "[general]\nhosts = [\"a.example\"]\n"

func TestCheckConfigCluster(t *testing.T) {
	dir := configFolderWith(t, map[string]string{
		"config.toml":         clusterHosts + "[cluster]\nnode_name = \"xmpp1\"\nbind = \"127.0.0.1:7946\"\njoin = [\"10.0.0.2:7946\"]\nsecret_file = \"priv/cluster_secret\"\n",
		"priv/cluster_secret": clusterSecret + "\n",
	})
	code, stdout, stderr := runXtokendCmd(t, "check-config", "-config", filepath.Join(dir, "config.toml"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"cluster: node_name xmpp1, bind 127.0.0.1:7946, advertise (none), join 10.0.0.2:7946",
		"link_listen 127.0.0.1:7947", "join_timeout 10s", "replay_max 1000000",
		"secret_file " + filepath.Join(dir, "priv/cluster_secret"),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout+stderr, clusterSecret) {
		t.Error("the cluster secret is in the output")
	}
	// Without [cluster], nothing about a cluster.
	dir = configFolderWith(t, map[string]string{"config.toml": clusterHosts})
	if _, stdout, _ := runXtokendCmd(t, "check-config", "-config", filepath.Join(dir, "config.toml")); strings.Contains(stdout, "cluster") {
		t.Errorf("a config without [cluster] printed:\n%s", stdout)
	}
}

// A bad [cluster] section exits 2 with one line naming the problem.
func TestCheckConfigClusterRefusals(t *testing.T) {
	tests := []struct {
		name, section, secret, want string
	}{
		{"no secret_file", "node_name = \"a\"\n", "", "cluster: secret_file is required"},
		{"missing secret", "secret_file = \"priv/nope\"\n", "", `cluster: secret_file "`},
		{"short secret", "secret_file = \"priv/s\"\n", base64.StdEncoding.EncodeToString([]byte("short")), "decodes to 5 bytes, want 32"},
		{"not base64", "secret_file = \"priv/s\"\n", "not base64 at all!", "not base64"},
		{"bad bind", "bind = \"nowhere\"\nsecret_file = \"priv/s\"\n", clusterSecret, `cluster: bind "nowhere" is not host:port`},
		{"bad join", "join = [\"10.0.0.2\"]\nsecret_file = \"priv/s\"\n", clusterSecret, `join[0] "10.0.0.2" is not host:port`},
		{"bad duration", "join_timeout = \"soon\"\nsecret_file = \"priv/s\"\n", clusterSecret, "not a duration"},
		{"unknown option", "nodename = \"a\"\nsecret_file = \"priv/s\"\n", clusterSecret, `unknown option "cluster.nodename"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"config.toml": clusterHosts + "[cluster]\n" + tc.section}
			if tc.secret != "" {
				files["priv/s"] = tc.secret + "\n"
			}
			dir := configFolderWith(t, files)
			code, stdout, stderr := runXtokendCmd(t, "check-config", "-config", filepath.Join(dir, "config.toml"))
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, exitUsage, stdout, stderr)
			}
			if stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("stdout %q\nstderr %q\nwant one line containing %s", stdout, stderr, tc.want)
			}
			if strings.Contains(stderr, clusterSecret) {
				t.Error("the secret is in the error")
			}
		})
	}
}
