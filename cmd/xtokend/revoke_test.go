package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

// TestRevokeKickCLI: xtokend revoke and xtokend kick against a running
// server's admin socket: the revoked user's open session ends and the token
// minted before is refused, a kick ends a session without revoking, and the
// refusals are one line with exit 1 or 2.
func TestRevokeKickCLI(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "x.sock")
	path := writeConfig(t, fmt.Sprintf(`[general]
hosts = ["localhost"]
listen = "127.0.0.1:0"
admin_socket = %q
`, sock))
	var logs testkit.LogBuffer
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() { done <- serve(ctx, []string{"-config", path}, &logs, ready) }()
	defer func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	}()
	var addr string
	select {
	case a := <-ready:
		addr = a.String()
	case code := <-done:
		t.Fatalf("exit %d before serving:\n%s", code, logs.String())
	}
	testkit.Eventually(t, e2eWait, "no admin socket", func() bool { _, err := os.Lstat(sock); return err == nil })
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr strings.Builder
		code := run(args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	token := func(bare string) string {
		t.Helper()
		code, out, errOut := cli("token", "-config", path, bare)
		if code != exitOK {
			t.Fatalf("xtokend token: %d %s", code, errOut)
		}
		return strings.TrimSpace(out)
	}

	xs, err := e2eSession(t, addr, "alice@localhost", token("alice@localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer xs.Conn().Close()
	ended := make(chan error, 1)
	go func() { ended <- xs.Serve(nil) }()
	unused := token("alice@localhost")

	code, out, errOut := cli("revoke", "-config", path, "Alice@localhost")
	if code != exitOK || !strings.HasPrefix(out, "revoked alice@localhost at ") || !strings.Contains(out, "1 session(s) ended here; tokens minted from ") {
		t.Fatalf("xtokend revoke: exit %d, %q %q", code, out, errOut)
	}
	select {
	case err := <-ended:
		if err == nil || !strings.Contains(err.Error(), "not-authorized") {
			t.Fatalf("the revoked session ended with %v, want not-authorized", err)
		}
	case <-time.After(e2eWait):
		t.Fatal("the revoked session did not end")
	}
	if err := e2eLogin(t, addr, "alice@localhost", unused); err == nil || !strings.Contains(err.Error(), "not-authorized") {
		t.Fatalf("the token minted before the revocation: %v", err)
	}

	xs, err = e2eSession(t, addr, "bob@localhost", token("bob@localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer xs.Conn().Close()
	go func() { ended <- xs.Serve(nil) }()
	full := xs.LocalAddr().String()
	if code, out, errOut := cli("kick", "-config", path, full); code != exitOK || out != "ended the session of "+full+"\n" {
		t.Fatalf("xtokend kick: exit %d, %q %q", code, out, errOut)
	}
	select {
	case err := <-ended:
		if err == nil || !strings.Contains(err.Error(), "policy-violation") {
			t.Fatalf("the kicked session ended with %v", err)
		}
	case <-time.After(e2eWait):
		t.Fatal("the kicked session did not end")
	}
	if err := e2eLogin(t, addr, "bob@localhost", token("bob@localhost")); err != nil {
		t.Fatalf("a kick revoked: %v", err)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"kick", "-config", path, full}, exitFailed, "xtokend: kick: no session of " + full + " is bound"},
		{[]string{"kick", "-config", path, "bob@localhost"}, exitUsage, "not a full JID"},
		{[]string{"revoke", "-config", path, "alice@nowhere.example"}, exitFailed, `xtokend: revoke: unknown host "nowhere.example" (not in general.hosts)`},
		{[]string{"revoke", "-config", path, "@@"}, exitUsage, "is not a JID"},
		{[]string{"revoke", "-config", path}, exitUsage, "usage: xtokend revoke"},
		{[]string{"revoke", "-config", path, "a@localhost", "b@localhost"}, exitUsage, "usage: xtokend revoke"},
	} {
		code, _, errOut := cli(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("xtokend %q: exit %d, %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
