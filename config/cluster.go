package config

import "github.com/xtokend/xtokend/cluster"

// ClusterOptions are the [cluster] section with every default filled in and
// secret_file made absolute; false when the section is absent (one node on
// its own).
func (c *Config) ClusterOptions() (cluster.Options, bool) {
	if c.Cluster == nil {
		return cluster.Options{}, false
	}
	return c.Cluster.WithDefaults().WithDir(c.Dir), true
}

// checkCluster validates the [cluster] section and reads its secret file, so
// that check-config refuses a missing or malformed secret (exit 2) rather
// than the cluster failing to start. The error never holds the secret.
func (c *Config) checkCluster() error {
	o, ok := c.ClusterOptions()
	if !ok {
		return nil
	}
	if err := o.Validate(); err != nil {
		return err
	}
	_, _, err := cluster.LoadSecret(o.SecretFile)
	return err
}

// clusterWarnings are the [cluster] section's warnings: a secret file
// readable by group or others.
func (c *Config) clusterWarnings() []string {
	o, ok := c.ClusterOptions()
	if !ok {
		return nil
	}
	if _, warning, err := cluster.LoadSecret(o.SecretFile); err == nil && warning != "" {
		return []string{warning}
	}
	return nil
}
