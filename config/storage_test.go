package config_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/storage"
)

// TestStorageConfig parses [storage] sections: what each turns into, and
// the one-line errors (naming the file and the option) of those that
// cannot run.
func TestStorageConfig(t *testing.T) {
	dir := t.TempDir()
	secret := base64.StdEncoding.EncodeToString(make([]byte, cluster.SecretSize))
	if err := os.WriteFile(filepath.Join(dir, "cluster_secret"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	const hosts = "[general]\nhosts = [\"a.example\"]\n"
	const clusterSection = "[cluster]\nsecret_file = \"cluster_secret\"\n"
	path := filepath.Join(dir, "config.toml")

	for _, tc := range []struct {
		name, file string
		off        bool   // storage off
		backend    string // want, when on
		sqlitePath string // want, for sqlite
		dsnEnv     string
		rosterCap  int
	}{
		{name: "no section: sqlite beside the file", file: hosts, backend: "sqlite", sqlitePath: filepath.Join(dir, "xtokend.db")},
		{name: "relative path", file: hosts + "[storage]\npath = \"data/x.db\"\n", backend: "sqlite", sqlitePath: filepath.Join(dir, "data/x.db")},
		{name: "absolute path", file: hosts + "[storage]\nbackend = \"sqlite\"\npath = \"/var/lib/xtokend/x.db\"\n", backend: "sqlite", sqlitePath: "/var/lib/xtokend/x.db"},
		{name: "caps", file: hosts + "[storage]\nmax_roster_items = 50\n", backend: "sqlite", sqlitePath: filepath.Join(dir, "xtokend.db"), rosterCap: 50},
		{name: "postgres dsn_env", file: hosts + "[storage]\nbackend = \"postgres\"\ndsn_env = \"XTOKEND_DSN\"\n", backend: "postgres", dsnEnv: "XTOKEND_DSN"},
		{name: "cluster with postgres", file: hosts + clusterSection + "[storage]\nbackend = \"postgres\"\ndsn = \"postgres://x@db/xtokend\"\n", backend: "postgres"},
		{name: "cluster without [storage]: off", file: hosts + clusterSection, off: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tc.file), path)
			if err != nil {
				t.Fatal(err)
			}
			o, on := c.StorageOptions()
			if on == tc.off {
				t.Fatalf("storage on = %v, want %v", on, !tc.off)
			}
			if tc.off {
				warned := false
				for _, w := range c.Warnings() {
					warned = warned || strings.HasPrefix(w, "storage: ")
				}
				if !warned {
					t.Errorf("no warning that storage is off: %q", c.Warnings())
				}
				return
			}
			if b := o.Backend; b != tc.backend && !(b == "" && tc.backend == "sqlite") {
				t.Errorf("backend %q, want %q", b, tc.backend)
			}
			if tc.sqlitePath != "" && o.SQLitePath() != tc.sqlitePath {
				t.Errorf("sqlite path %q, want %q", o.SQLitePath(), tc.sqlitePath)
			}
			if o.DSNEnv != tc.dsnEnv || o.MaxRosterItems != tc.rosterCap {
				t.Errorf("options %+v", o)
			}
		})
	}

	for _, tc := range []struct{ file, want string }{
		{hosts + "[storage]\nbackend = \"mysql\"\n", `storage.backend = "mysql": must be "sqlite" or "postgres"`},
		{hosts + "[storage]\nbackend = \"postgres\"\n", "storage.dsn: the postgres backend needs dsn or dsn_env"},
		{hosts + "[storage]\nbackend = \"postgres\"\ndsn = \"postgres://u:hunter2@db/x\"\ndsn_env = \"X\"\n", "storage.dsn_env: give dsn or dsn_env, not both"},
		{hosts + "[storage]\nbackend = \"postgres\"\ndsn_env = \"not a name\"\n", "not an environment variable name"},
		{hosts + "[storage]\ndsn = \"postgres://u:hunter2@db/x\"\n", "storage.dsn: the sqlite backend takes path"},
		{hosts + "[storage]\nmax_offline_messages = -1\n", "storage.max_offline_messages = -1"},
		{hosts + "[storage]\npaht = \"x.db\"\n", "paht"},
		{hosts + clusterSection + "[storage]\nbackend = \"sqlite\"\n", `storage.backend = "sqlite": a cluster needs "postgres"`},
		{hosts + clusterSection + "[storage]\npath = \"x.db\"\n", `a cluster needs "postgres"`},
	} {
		_, err := config.Parse([]byte(tc.file), path)
		var ce *config.Error
		switch {
		case err == nil:
			t.Errorf("%q: accepted, want %q", tc.file, tc.want)
		case !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) ||
			strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%q:\n got %v\nwant one line naming %s and containing %q, without the password", tc.file, err, path, tc.want)
		}
	}
}

// TestStorageDefault: the built-in configuration keeps its SQLite file in
// the working folder; one built in code has no storage.
func TestStorageDefault(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	o, on := config.Default().StorageOptions()
	if !on || o.SQLitePath() != filepath.Join(wd, storage.DefaultPath) {
		t.Errorf("built-in: on %v, path %q; want %q", on, o.SQLitePath(), filepath.Join(wd, storage.DefaultPath))
	}
	if _, on := (&config.Config{}).StorageOptions(); on {
		t.Error("a config built in code has storage on")
	}
}
