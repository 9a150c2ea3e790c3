package server_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/server"
	"github.com/xtokend/xtokend/storage"
)

// TestNewStorageErrors: a database that cannot be opened fails New with
// one line naming the file and what is wrong, never the DSN's password;
// the built-in default opens its SQLite file in the config's folder.
func TestNewStorageErrors(t *testing.T) {
	newer := filepath.Join(t.TempDir(), "newer.db")
	func() {
		st, err := storage.Open(context.Background(), storage.Options{Path: newer})
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		db, err := sql.Open("sqlite", newer)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`UPDATE schema_version SET version = version + 1`); err != nil {
			t.Fatal(err)
		}
	}()
	t.Setenv("XTOKEND_TEST_DSN", "postgres://xtokend:hunter2@127.0.0.1:1/xtokend?connect_timeout=5")
	for _, tc := range []struct {
		name string
		opts storage.Options
		want string
	}{
		{"missing folder", storage.Options{Path: "nope/x.db"}, `storage.path = "nope/x.db": the folder`},
		{"newer schema", storage.Options{Path: newer}, "upgrade xtokend (the database was not changed)"},
		{"unset dsn_env", storage.Options{Backend: "postgres", DSNEnv: "XTOKEND_TEST_UNSET"}, `storage.dsn_env = "XTOKEND_TEST_UNSET": the environment variable is unset`},
		{"nothing listens", storage.Options{Backend: "postgres", DSNEnv: "XTOKEND_TEST_DSN"}, "connect to PostgreSQL: database unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ramConfig(t)
			cfg.Path = filepath.Join(cfg.Dir, "config.toml")
			o := tc.opts
			cfg.Storage = &o
			srv, err := server.New(context.Background(), server.Config{File: cfg, Logger: quietLogger()})
			if err == nil {
				srv.Shutdown(context.Background())
				t.Fatal("New succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, `config: "`+cfg.Path+`"`) || !strings.Contains(msg, tc.want) ||
				strings.ContainsAny(msg, "\r\n") || strings.Contains(msg, "hunter2") {
				t.Errorf("error %q: want one line naming the file and containing %q, without the password", msg, tc.want)
			}
		})
	}

	cfg := ramConfig(t)
	srv, err := server.New(context.Background(), server.Config{File: cfg, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown(context.Background())
	if m, _ := filepath.Glob(filepath.Join(cfg.Dir, storage.DefaultPath)); len(m) != 1 {
		t.Errorf("the built-in default made no %s in the config's folder", storage.DefaultPath)
	}
}
