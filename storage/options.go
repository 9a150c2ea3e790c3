package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// Backends of Options.Backend.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// Defaults of the options a [storage] section leaves out.
const (
	DefaultPath            = "xtokend.db"
	DefaultRosterItems     = 1000
	DefaultNameLength      = 1023 // bytes, as a JID part (RFC 7622 section 3.3)
	DefaultGroupLength     = 1023
	DefaultGroupsPerItem   = 100
	DefaultBlockedJIDs     = 1000
	DefaultOfflineMessages = 1000
)

// maxLimit bounds every cap: a typo of a few digits must not make a cap
// meaningless.
const maxLimit = 1_000_000

// Options are the [storage] section of the configuration.
type Options struct {
	Backend string `toml:"backend"` // "sqlite" (default) or "postgres"
	Path    string `toml:"path"`    // sqlite: the database file, relative to Dir
	DSN     string `toml:"dsn"`     // postgres: a connection string or URL
	DSNEnv  string `toml:"dsn_env"` // postgres: the environment variable holding the DSN

	// Caps; 0 takes the default.
	MaxRosterItems     int `toml:"max_roster_items"` // items per roster, and pending requests per user
	MaxNameLength      int `toml:"max_name_length"`  // bytes of an item's name
	MaxGroupLength     int `toml:"max_group_length"` // bytes of a group's name
	MaxGroupsPerItem   int `toml:"max_groups_per_item"`
	MaxBlockedJIDs     int `toml:"max_blocked_jids"`
	MaxOfflineMessages int `toml:"max_offline_messages"` // per user

	// Dir is the folder a relative Path is resolved against: the
	// configuration file's. Empty means the working directory.
	Dir string `toml:"-"`
}

// DefaultOptions are those of a configuration without a [storage] section:
// SQLite in DefaultPath.
func DefaultOptions() Options {
	return Options{Backend: BackendSQLite, Path: DefaultPath}
}

// envName is what a POSIX shell accepts as a variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the options without opening anything or reading the
// environment. The error is one line naming the option (as "storage.dsn"),
// and never quotes a DSN, which may hold a password.
func (o Options) Validate() error {
	switch o.Backend {
	case "", BackendSQLite:
		if o.DSN != "" || o.DSNEnv != "" {
			return fmt.Errorf("storage.dsn: the sqlite backend takes path, not dsn or dsn_env (set backend = %q to use PostgreSQL)", BackendPostgres)
		}
	case BackendPostgres:
		if o.Path != "" && o.Path != DefaultPath {
			return fmt.Errorf("storage.path = %q: the postgres backend takes dsn or dsn_env, not path", o.Path)
		}
		switch {
		case o.DSN == "" && o.DSNEnv == "":
			return fmt.Errorf("storage.dsn: the postgres backend needs dsn or dsn_env (the name of an environment variable holding it)")
		case o.DSN != "" && o.DSNEnv != "":
			return fmt.Errorf("storage.dsn_env: give dsn or dsn_env, not both")
		case o.DSNEnv != "" && !envName.MatchString(o.DSNEnv):
			return fmt.Errorf("storage.dsn_env = %q: not an environment variable name", o.DSNEnv)
		}
	default:
		return fmt.Errorf("storage.backend = %q: must be %q or %q", o.Backend, BackendSQLite, BackendPostgres)
	}
	for _, c := range []struct {
		key string
		v   int
	}{
		{"max_roster_items", o.MaxRosterItems},
		{"max_name_length", o.MaxNameLength},
		{"max_group_length", o.MaxGroupLength},
		{"max_groups_per_item", o.MaxGroupsPerItem},
		{"max_blocked_jids", o.MaxBlockedJIDs},
		{"max_offline_messages", o.MaxOfflineMessages},
	} {
		if c.v < 0 || c.v > maxLimit {
			return fmt.Errorf("storage.%s = %d: must be 1 to %d (0: the default)", c.key, c.v, maxLimit)
		}
	}
	return nil
}

// CheckCluster is the check a clustered configuration adds: every node must
// share one database, so the backend must be PostgreSQL (each node's own
// SQLite file would disagree).
func (o Options) CheckCluster() error {
	if o.Backend != BackendPostgres {
		b := o.Backend
		if b == "" {
			b = BackendSQLite
		}
		return fmt.Errorf("storage.backend = %q: a cluster needs %q, one database every node shares (each node's own SQLite file would disagree)", b, BackendPostgres)
	}
	return nil
}

// SQLitePath is the SQLite file the options name, resolved against Dir.
func (o Options) SQLitePath() string {
	p := o.Path
	if p == "" {
		p = DefaultPath
	}
	if !filepath.IsAbs(p) && o.Dir != "" {
		p = filepath.Join(o.Dir, p)
	}
	return p
}

// ResolveDSN returns the PostgreSQL DSN: dsn, or the value of the variable
// dsn_env names. Start-up calls it (through Open) so that an unset variable
// is a configuration error, reported without the value.
func (o Options) ResolveDSN() (string, error) {
	if o.DSNEnv == "" {
		if o.DSN == "" {
			return "", fmt.Errorf("storage.dsn: empty")
		}
		return o.DSN, nil
	}
	v := os.Getenv(o.DSNEnv)
	if v == "" {
		return "", fmt.Errorf("storage.dsn_env = %q: the environment variable is unset or empty", o.DSNEnv)
	}
	return v, nil
}

// limits are the caps in force: the options' with defaults filled in.
type limits struct {
	rosterItems, nameLength, groupLength, groupsPerItem, blocked, offline int
}

func (o Options) limits() limits {
	or := func(v, def int) int {
		if v <= 0 {
			return def
		}
		return v
	}
	return limits{
		rosterItems:   or(o.MaxRosterItems, DefaultRosterItems),
		nameLength:    or(o.MaxNameLength, DefaultNameLength),
		groupLength:   or(o.MaxGroupLength, DefaultGroupLength),
		groupsPerItem: or(o.MaxGroupsPerItem, DefaultGroupsPerItem),
		blocked:       or(o.MaxBlockedJIDs, DefaultBlockedJIDs),
		offline:       or(o.MaxOfflineMessages, DefaultOfflineMessages),
	}
}
