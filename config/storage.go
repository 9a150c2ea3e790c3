package config

import (
	"github.com/xtokend/xtokend/storage"
)

// StorageOptions are the [storage] section, with Dir set to the config
// file's folder (a relative SQLite path is taken from there); false when
// storage is off: a configuration built in code without it, or a cluster
// whose file has no [storage] section (see storageWarnings).
//
// A file without the section gets storage.DefaultOptions (SQLite,
// xtokend.db beside the file; the built-in config, in the working folder).
func (c *Config) StorageOptions() (storage.Options, bool) {
	if c.Storage == nil {
		return storage.Options{}, false
	}
	o := *c.Storage
	o.Dir = c.Dir
	return o, true
}

// checkStorage validates the [storage] section: the options themselves, and
// that a cluster shares one PostgreSQL database (each node's own SQLite file
// would disagree). It reads no environment variable: dsn_env is read when
// the store opens.
func (c *Config) checkStorage() error {
	o, ok := c.StorageOptions()
	if !ok {
		return nil
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if c.Cluster != nil {
		return o.CheckCluster()
	}
	return nil
}

// storageWarnings: a cluster without [storage] runs without rosters,
// blocking and offline messages.
func (c *Config) storageWarnings() []string {
	if c.Cluster != nil && c.Storage == nil {
		return []string{"storage: a cluster without a [storage] section keeps no rosters, block lists or offline messages; set backend = \"postgres\" with dsn or dsn_env"}
	}
	return nil
}
