package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/config"
)

// TestStreamManagementConfig parses [modules.mod_stream_management]: the
// defaults, a global section, a host's own section, and the one-line errors
// naming the file, the host where there is one, the module and the option.
func TestStreamManagementConfig(t *testing.T) {
	const head = "[general]\nhosts = [\"a.example\", \"b.example\"]\n"
	const bHost = "[[host_config]]\nhost = \"b.example\"\n"
	for _, tc := range []struct {
		name, file   string
		timeoutA     time.Duration // a.example's resume_timeout, when it parses
		timeoutB     time.Duration
		maxUnackedA  int
		wantErrParts []string
	}{
		{name: "no section: the defaults", file: head, timeoutA: 300 * time.Second, timeoutB: 300 * time.Second, maxUnackedA: 1000},
		{name: "global", file: head + "[modules.mod_stream_management]\nresume_timeout = \"2m\"\nmax_unacked = 50\n", timeoutA: 2 * time.Minute, timeoutB: 2 * time.Minute, maxUnackedA: 50},
		{name: "resumption off", file: head + "[modules.mod_stream_management]\nresume_timeout = \"0s\"\n", timeoutA: 0, timeoutB: 0, maxUnackedA: 1000},
		{name: "a host's own", file: head + bHost + "[host_config.modules.mod_stream_management]\nresume_timeout = \"30s\"\n", timeoutA: 300 * time.Second, timeoutB: 30 * time.Second, maxUnackedA: 1000},
		{name: "negative", file: head + "[modules.mod_stream_management]\nresume_timeout = \"-1s\"\n", wantErrParts: []string{`config.toml"`, "mod_stream_management", "resume_timeout = -1s"}},
		{name: "too long", file: head + "[modules.mod_stream_management]\nresume_timeout = \"25h\"\n", wantErrParts: []string{"mod_stream_management", "resume_timeout = 25h0m0s", "to 24h0m0s"}},
		{name: "not a duration", file: head + "[modules.mod_stream_management]\nresume_timeout = \"five minutes\"\n", wantErrParts: []string{"modules.mod_stream_management", "not a duration"}},
		{name: "no unacked", file: head + "[modules.mod_stream_management]\nmax_unacked = 0\n", wantErrParts: []string{"mod_stream_management", "max_unacked = 0"}},
		{name: "host's section broken", file: head + bHost + "[host_config.modules.mod_stream_management]\nmax_unacked = -3\n", wantErrParts: []string{`host "b.example"`, "mod_stream_management", "max_unacked = -3"}},
		{name: "unknown option", file: head + "[modules.mod_stream_management]\nresume_timout = \"1m\"\n", wantErrParts: []string{`unknown option "modules.mod_stream_management.resume_timout"`, `did you mean "resume_timeout"?`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tc.file), "config.toml")
			if tc.wantErrParts != nil {
				if err == nil {
					t.Fatal("parsed; want an error")
				}
				msg := err.Error()
				if strings.Contains(msg, "\n") {
					t.Errorf("error is not one line: %q", msg)
				}
				for _, p := range tc.wantErrParts {
					if !strings.Contains(msg, p) {
						t.Errorf("error %q does not say %q", msg, p)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a, _ := c.Host("a.example")
			b, _ := c.Host("b.example")
			if got := a.StreamManagement.ResumeTimeout.Duration; got != tc.timeoutA {
				t.Errorf("a.example resume_timeout = %v, want %v", got, tc.timeoutA)
			}
			if got := b.StreamManagement.ResumeTimeout.Duration; got != tc.timeoutB {
				t.Errorf("b.example resume_timeout = %v, want %v", got, tc.timeoutB)
			}
			if got := a.StreamManagement.MaxUnacked; got != tc.maxUnackedA {
				t.Errorf("a.example max_unacked = %d, want %d", got, tc.maxUnackedA)
			}
		})
	}
}
