package server

import (
	"github.com/xtokend/xtokend/config"

	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A folder in which another user could replace the admin socket is refused
// at start, naming the folder; a private one, or a shared one with the
// sticky bit (/tmp), is fine.
func TestAdminSocketFolder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		owner int // -1: ours
		want  string
	}{
		{"private", 0o700, -1, ""},
		{"readable by all", 0o755, -1, ""},
		{"sticky and writable by all", 0o777 | os.ModeSticky, -1, ""},
		{"writable by all", 0o777, -1, "writable by group or others without the sticky bit"},
		{"writable by group", 0o770, -1, "writable by group or others without the sticky bit"},
		{"another user's", 0o755, 65534, "owned by uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner >= 0 {
				if os.Geteuid() != 0 {
					t.Skip("changing a folder's owner needs root")
				}
				if err := os.Chown(dir, tc.owner, -1); err != nil {
					t.Fatal(err)
				}
			}
			sock := filepath.Join(dir, "xtokend.sock")
			cfg := config.Default()
			cfg.Dir = t.TempDir() // the SQLite file, not in the source tree
			cfg.General.AdminSocket = sock
			cfg.WebSocket.Listen = "127.0.0.1:0"
			cfg.General.Listen = "127.0.0.1:0"
			log0, _ := testLogger()
			srv, err := New(t.Context(), Config{File: cfg, Logger: log0})
			if err == nil {
				defer srv.Shutdown(t.Context())
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				log, _ := testLogger()
				a, err := startAdmin(sock, newAdminHandler(&fakeAdmin{}, log), log)
				if err != nil {
					t.Fatalf("startAdmin: %v", err)
				}
				a.Close(t.Context())
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Init: %v, want one line naming %s with %q", err, dir, tc.want)
			}
			// And startAdmin on its own, for a caller that skipped Init.
			log, _ := testLogger()
			if _, err := startAdmin(sock, newAdminHandler(&fakeAdmin{}, log), log); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("startAdmin: %v, want %q", err, tc.want)
			}
			if _, err := os.Lstat(sock); err == nil {
				t.Errorf("a socket was made in a refused folder")
			}
		})
	}
}
