package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/config"
)

// The "get a token" hint names -config when the server was started with one,
// so that the command it prints works when copied.
func TestServeTokenHint(t *testing.T) {
	cfg := config.Default()
	if got := tokenCommand("", cfg); strings.Contains(got, "-config") || !strings.HasPrefix(got, "xtokend token ") {
		t.Errorf("without -config: %q", got)
	}
	cfg.Path = "/etc/xtokend/config.toml"
	if got, want := tokenCommand("config.toml", cfg), "xtokend token -config /etc/xtokend/config.toml "; !strings.HasPrefix(got, want) {
		t.Errorf("with -config: %q, want prefix %q", got, want)
	}
	cfg.Path = "/srv/my configs/it's.toml"
	if got, want := tokenCommand("x", cfg), `xtokend token -config '/srv/my configs/it'\''s.toml' `; !strings.HasPrefix(got, want) {
		t.Errorf("a path to quote: %q, want prefix %q", got, want)
	}
}

// serve -h prints xtokend's usage, as the other subcommands do, and exits 0.
func TestServeHelp(t *testing.T) {
	var stderr bytes.Buffer
	if code := serve(context.Background(), []string{"-h"}, &stderr, nil); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasPrefix(stderr.String(), "usage: xtokend [serve]") {
		t.Errorf("serve -h printed %q", stderr.String())
	}
}
