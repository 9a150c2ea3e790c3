package main

import (
	"github.com/xtokend/xtokend/config"

	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/internal/testkit"
)

// "xtokend token" against an impostor on the admin socket, one that answers
// with a token for another JID: exit 1, nothing on stdout.
func TestTokenImpostorSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "xtokend.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"jid":"mallory@localhost","token":"IMPOSTOR-TOKEN","expires_at":"2030-01-02T03:04:05Z"}`))
	})}
	go srv.Serve(ln)
	defer srv.Close()
	cfg := config.Default()
	cfg.General.AdminSocket = sock
	var stdout, stderr bytes.Buffer
	code := mintRemote(cfg, "alice@localhost", "localhost", "access_secret", false, &stdout, &stderr)
	if code == exitOK || stdout.Len() != 0 {
		t.Fatalf("exit %d, stdout %q; want a failure and nothing printed", code, stdout.String())
	}
	if !strings.Contains(stderr.String(), "mallory@localhost") {
		t.Errorf("stderr does not say what was answered: %q", stderr.String())
	}
}

// serve refuses an admin socket folder others can write: exit 2, one line
// naming the folder.
func TestServeAdminSocketFolderOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, "[general]\nhosts = [\"localhost\"]\nlisten = \"127.0.0.1:0\"\nadmin_socket = \""+filepath.Join(dir, "xtokend.sock")+"\"\n")
	var stderr testkit.LogBuffer
	code := serve(context.Background(), []string{"-config", path}, &stderr, nil)
	var errLines []string // start-up warnings (the self-signed certificate) are log lines
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.HasPrefix(line, "xtokend: ") {
			errLines = append(errLines, line)
		}
	}
	if code != exitUsage || len(errLines) != 1 || !strings.Contains(errLines[0], dir) {
		t.Fatalf("exit %d, stderr %q; want 2 and one error line naming %s", code, stderr.String(), dir)
	}
}
