package config_test

import (
	"os"
	"testing"

	"github.com/xtokend/xtokend/config"
)

// BenchmarkParseConfig parses and validates the example configuration
// (no key files read): the cost check-config and start-up pay once.
func BenchmarkParseConfig(b *testing.B) {
	data, err := os.ReadFile("../config.toml.example")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := config.Parse(data, "/nonexistent/config.toml"); err != nil {
			b.Fatal(err)
		}
	}
}
