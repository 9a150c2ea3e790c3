package config

import (
	"fmt"
	"time"

	"github.com/xtokend/xtokend/cluster"
)

// ModFAST is the [modules.mod_fast] section: FAST tokens (XEP-0484), which a
// client that logged in by token over SASL2 may ask for and log in with
// next time without a new X-TOKEN. They live in RAM only.
const ModFAST = "mod_fast"

// FASTOptions are mod_fast's options.
type FASTOptions struct {
	// TokenLifetime is how long a FAST token is accepted after it was
	// issued.
	TokenLifetime cluster.Duration `toml:"token_lifetime"`
}

// Defaults of mod_fast.
const (
	DefaultFASTTokenLifetime = 14 * 24 * time.Hour
	maxFASTTokenLifetime     = 365 * 24 * time.Hour
)

// DefaultFASTOptions are the options without a section.
func DefaultFASTOptions() FASTOptions {
	return FASTOptions{TokenLifetime: cluster.Duration{Duration: DefaultFASTTokenLifetime}}
}

// Validate names the first option that cannot work.
func (o FASTOptions) Validate() error {
	if o.TokenLifetime.Duration < time.Minute || o.TokenLifetime.Duration > maxFASTTokenLifetime {
		return fmt.Errorf("token_lifetime = %v: must be from 1m to %v", o.TokenLifetime.Duration, maxFASTTokenLifetime)
	}
	return nil
}
