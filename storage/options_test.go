package storage

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string // "" for valid
	}{
		{"default", DefaultOptions(), ""},
		{"zero", Options{}, ""},
		{"postgres dsn", Options{Backend: "postgres", DSN: "postgres://x@h/db"}, ""},
		{"postgres dsn_env", Options{Backend: "postgres", DSNEnv: "XTOKEND_DSN"}, ""},
		{"postgres default path", Options{Backend: "postgres", Path: DefaultPath, DSNEnv: "X"}, ""},
		{"unknown backend", Options{Backend: "mysql"}, `storage.backend = "mysql": must be "sqlite" or "postgres"`},
		{"sqlite with dsn", Options{DSN: "postgres://u:secret@h/db"}, "storage.dsn: the sqlite backend takes path"},
		{"postgres without dsn", Options{Backend: "postgres"}, "storage.dsn: the postgres backend needs dsn or dsn_env"},
		{"postgres with both", Options{Backend: "postgres", DSN: "x", DSNEnv: "Y"}, "storage.dsn_env: give dsn or dsn_env, not both"},
		{"postgres with path", Options{Backend: "postgres", DSN: "x", Path: "a.db"}, `storage.path = "a.db": the postgres backend takes dsn`},
		{"bad env name", Options{Backend: "postgres", DSNEnv: "A-B"}, `storage.dsn_env = "A-B": not an environment variable name`},
		{"negative cap", Options{MaxRosterItems: -1}, "storage.max_roster_items = -1: must be 1 to"},
		{"huge cap", Options{MaxOfflineMessages: 2_000_000}, "storage.max_offline_messages = 2000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Validate() = nil, want %q", tc.want)
			case err != nil && !strings.HasPrefix(err.Error(), tc.want):
				t.Errorf("Validate()\n got: %v\nwant: %s...", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "\n")) {
				t.Errorf("error quotes the DSN or spans lines: %q", err)
			}
		})
	}
}

func TestCheckCluster(t *testing.T) {
	if err := DefaultOptions().CheckCluster(); err == nil || !strings.Contains(err.Error(), `storage.backend = "sqlite": a cluster needs "postgres"`) {
		t.Errorf("sqlite in a cluster: %v", err)
	}
	if err := (Options{}).CheckCluster(); err == nil {
		t.Error("the default backend in a cluster: nil")
	}
	if err := (Options{Backend: "postgres", DSN: "x"}).CheckCluster(); err != nil {
		t.Errorf("postgres in a cluster: %v", err)
	}
}

func TestSQLitePath(t *testing.T) {
	for _, tc := range []struct{ path, dir, want string }{
		{"", "/etc/xtokend", "/etc/xtokend/xtokend.db"},
		{"data/x.db", "/etc/xtokend", "/etc/xtokend/data/x.db"},
		{"/var/lib/x.db", "/etc/xtokend", "/var/lib/x.db"},
		{"x.db", "", "x.db"},
	} {
		if got := (Options{Path: tc.path, Dir: tc.dir}).SQLitePath(); got != filepath.FromSlash(tc.want) {
			t.Errorf("path %q in %q: %q, want %q", tc.path, tc.dir, got, tc.want)
		}
	}
}

func TestResolveDSN(t *testing.T) {
	t.Setenv("XTOKEND_TEST_DSN", "postgres://u:hunter2@h/db")
	got, err := Options{Backend: "postgres", DSNEnv: "XTOKEND_TEST_DSN"}.ResolveDSN()
	if err != nil || got != "postgres://u:hunter2@h/db" {
		t.Errorf("ResolveDSN() = %q, %v", got, err)
	}
	t.Setenv("XTOKEND_TEST_DSN", "")
	_, err = Options{Backend: "postgres", DSNEnv: "XTOKEND_TEST_DSN"}.ResolveDSN()
	if err == nil || err.Error() != `storage.dsn_env = "XTOKEND_TEST_DSN": the environment variable is unset or empty` {
		t.Errorf("unset variable: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := Open(ctx, Options{Backend: "postgres", DSN: "postgres://u:hunter2@[bad"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.HasPrefix(err.Error(), "storage: storage.dsn: not a valid") {
		t.Errorf("bad DSN: %v", err)
	}
	_, err = Open(ctx, Options{Path: "x.db", Dir: filepath.Join(t.TempDir(), "missing")})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing folder: %v", err)
	}
	_, err = Open(ctx, Options{Backend: "nope"})
	if err == nil || !strings.HasPrefix(err.Error(), "storage: storage.backend") {
		t.Errorf("bad backend: %v", err)
	}
	// A server that is not there: unavailable, and the password is not in
	// the error.
	_, err = Open(ctx, Options{Backend: "postgres", DSN: "host=" + t.TempDir() + " port=1 user=u password=hunter2 dbname=d connect_timeout=5"})
	if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n") {
		t.Errorf("no server: %v", err)
	}
}

// The [storage] section as an operator writes it decodes into Options.
func TestOptionsTOML(t *testing.T) {
	var conf struct {
		Storage Options `toml:"storage"`
	}
	_, err := toml.Decode(`
[storage]
backend = "postgres"
dsn_env = "XTOKEND_DSN"
max_roster_items = 500
max_name_length = 100
max_group_length = 50
max_groups_per_item = 10
max_blocked_jids = 200
max_offline_messages = 300
`, &conf)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Backend: "postgres", DSNEnv: "XTOKEND_DSN", MaxRosterItems: 500, MaxNameLength: 100,
		MaxGroupLength: 50, MaxGroupsPerItem: 10, MaxBlockedJIDs: 200, MaxOfflineMessages: 300}
	if conf.Storage != want {
		t.Errorf("decoded %+v\nwant %+v", conf.Storage, want)
	}
	if err := conf.Storage.Validate(); err != nil {
		t.Error(err)
	}
	if l := conf.Storage.limits(); l != (limits{rosterItems: 500, nameLength: 100, groupLength: 50, groupsPerItem: 10, blocked: 200, offline: 300}) {
		t.Errorf("limits %+v", l)
	}
	if l := (Options{}).limits(); l.rosterItems != DefaultRosterItems || l.offline != DefaultOfflineMessages {
		t.Errorf("default limits %+v", l)
	}
}
