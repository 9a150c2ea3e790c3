package config

import (
	"fmt"
	"time"

	"github.com/xtokend/xtokend/cluster"
)

// ModStreamManagement is the [modules.mod_stream_management] section: XEP-0198
// stream management, on for every host. Its options bound what a session
// that lost its connection may keep waiting for the client to come back.
const ModStreamManagement = "mod_stream_management"

// StreamManagementOptions are mod_stream_management's options.
type StreamManagementOptions struct {
	// ResumeTimeout is how long a resumable session whose connection
	// dropped stays bound, waiting for <resume/>; 0 turns resumption off
	// (acks still work).
	ResumeTimeout cluster.Duration `toml:"resume_timeout"`
	// MaxUnacked caps the stanzas a session keeps until the client acks
	// them; past it the session ends with resource-constraint.
	MaxUnacked int `toml:"max_unacked"`
}

// Defaults of mod_stream_management.
const (
	DefaultResumeTimeout = 300 * time.Second
	DefaultMaxUnacked    = 1000
	// maxResumeTimeout bounds how long a dead connection's session may
	// hold its resources (and its queue) for nobody.
	maxResumeTimeout = 24 * time.Hour
)

// DefaultStreamManagementOptions are the options without a section.
func DefaultStreamManagementOptions() StreamManagementOptions {
	return StreamManagementOptions{
		ResumeTimeout: cluster.Duration{Duration: DefaultResumeTimeout},
		MaxUnacked:    DefaultMaxUnacked,
	}
}

// Validate names the first option that cannot work.
func (o StreamManagementOptions) Validate() error {
	switch {
	case o.ResumeTimeout.Duration < 0 || o.ResumeTimeout.Duration > maxResumeTimeout:
		return fmt.Errorf("resume_timeout = %v: must be from 0 (no resumption) to %v", o.ResumeTimeout.Duration, maxResumeTimeout)
	case o.MaxUnacked < 1:
		return fmt.Errorf("max_unacked = %d: must be 1 or more", o.MaxUnacked)
	}
	return nil
}
