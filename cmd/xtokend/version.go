package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is xtokend's version. The build's VCS revision, when Go recorded
// one, is printed next to it.
const version = "0.1.0-dev"

// pinned are the modules whose versions the version command reports: the
// protocol stack and the token's building blocks.
var pinned = []string{
	"mellium.im/xmpp",
	"mellium.im/sasl",
	"github.com/pquerna/otp",
	"github.com/BurntSushi/toml",
}

// runVersion is "xtokend version".
func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "xtokend: version takes no arguments\n")
		return exitUsage
	}
	fmt.Fprintf(stdout, "xtokend %s\n", version)
	fmt.Fprintf(stdout, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return exitOK
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		line := "commit " + rev
		if t := settings["vcs.time"]; t != "" {
			line += " " + t
		}
		if settings["vcs.modified"] == "true" {
			line += " (modified)"
		}
		fmt.Fprintln(stdout, line)
	}
	for _, path := range pinned {
		for _, dep := range info.Deps {
			if dep.Path == path {
				v := dep.Version
				if dep.Replace != nil {
					v += " => " + dep.Replace.Path + " " + dep.Replace.Version
				}
				fmt.Fprintf(stdout, "%s %s\n", path, v)
			}
		}
	}
	return exitOK
}
