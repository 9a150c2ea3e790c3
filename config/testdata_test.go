package config_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtokend/xtokend/config"
)

// TestTestdataConfigs loads testdata/config: good-*.toml must pass the static
// checks, bad-*.toml must fail with the "# want: " text of their first line.
func TestTestdataConfigs(t *testing.T) {
	paths, err := filepath.Glob("testdata/config/*.toml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = config.Load(p)
			switch base := filepath.Base(p); {
			case strings.HasPrefix(base, "good-"):
				if err != nil {
					t.Fatal(err)
				}
			case strings.HasPrefix(base, "bad-"):
				first, _ := bufio.NewReader(bytes.NewReader(b)).ReadString('\n')
				want, ok := strings.CutPrefix(strings.TrimSpace(first), "# want: ")
				if !ok {
					t.Fatal(`a bad- file must start with "# want: <part of the error>"`)
				}
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v\nwant one containing %s", err, want)
				}
			default:
				t.Fatal("name testdata configs good-* or bad-*")
			}
		})
	}
}
