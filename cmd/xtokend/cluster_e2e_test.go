package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/xtokend/xtokend/internal/testkit"
)

// TestClusterTokenCLI is issue 8's "xtokend token against any node's admin
// socket mints tokens every node accepts", with the real binary: two
// processes in one cluster, each with its own folder, configuration and
// admin socket, and hosts with RAM keys only (the cluster's).
func TestClusterTokenCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := e2eBuild(t)
	secret := base64.StdEncoding.EncodeToString([]byte("xtokend cluster e2e test secret!"))
	seed := testkit.FreeAddr(t)
	type node struct {
		dir, c2s string
		proc     *e2eProcess
	}
	var nodes []*node
	for i, join := range []string{"", fmt.Sprintf("%q", seed)} {
		n := &node{dir: t.TempDir(), c2s: testkit.FreeAddr(t)}
		bind := "127.0.0.1:0"
		if i == 0 {
			bind = seed
		}
		cfg := fmt.Sprintf("[general]\nhosts = [\"localhost\"]\nlisten = %q\n\n[cluster]\nnode_name = \"node%d\"\nbind = %q\nlink_listen = \"127.0.0.1:0\"\njoin = [%s]\nsecret_file = \"cluster_secret\"\njoin_timeout = \"30s\"\n",
			n.c2s, i+1, bind, join)
		for name, content := range map[string]string{"config.toml": cfg, "cluster_secret": secret + "\n"} {
			if err := os.WriteFile(filepath.Join(n.dir, name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		n.proc = e2eStart(t, bin, n.dir)
		sock := filepath.Join(n.dir, "xtokend.sock")
		n.proc.waitFor(t, fmt.Sprintf("node%d's admin socket", i+1), func() bool { _, err := os.Lstat(sock); return err == nil })
		nodes = append(nodes, n)
	}

	// A token from each node's admin socket logs in on the other node, once.
	for i, n := range nodes {
		other := nodes[1-i]
		bare := fmt.Sprintf("user%d@localhost", i+1)
		out, stderr, code := e2eCLI(t, bin, n.dir, "token", bare)
		if code != 0 {
			t.Fatalf("xtokend token on node%d: exit %d: %s", i+1, code, stderr)
		}
		token := strings.TrimSpace(out)
		if err := e2eLogin(t, other.c2s, bare, token); err != nil {
			t.Fatalf("a token of node%d on node%d: %v", i+1, 2-i, err)
		}
		if err := e2eLogin(t, n.c2s, bare, token); err == nil {
			t.Fatalf("a token used on node%d logged in again on node%d", 2-i, i+1)
		}
	}
	for i, n := range nodes {
		if code := n.proc.stop(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("node%d exited %d on SIGTERM", i+1, code)
		}
	}
}
