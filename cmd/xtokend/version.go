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

// runVersion is "xtokend version" (and "xtokend -version").
func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "xtokend: version takes no arguments\n")
		return exitUsage
	}
	info, _ := debug.ReadBuildInfo()
	writeVersion(stdout, info)
	return exitOK
}

// writeVersion prints the version, the toolchain, the VCS revision the
// binary was built from, and every module linked into it, as the binary
// itself records them (info is nil when it recorded nothing).
func writeVersion(w io.Writer, info *debug.BuildInfo) {
	fmt.Fprintf(w, "xtokend %s\n", version)
	fmt.Fprintf(w, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if info == nil {
		fmt.Fprintln(w, "commit unknown (no build information in the binary)")
		return
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
		fmt.Fprintln(w, line)
	} else {
		fmt.Fprintln(w, "commit unknown (built without VCS information)")
	}
	if info.Main.Path != "" {
		fmt.Fprintf(w, "%s %s\n", info.Main.Path, info.Main.Version)
	}
	for _, dep := range info.Deps {
		v := dep.Version
		if r := dep.Replace; r != nil {
			v += " => " + r.Path + " " + r.Version
		}
		fmt.Fprintf(w, "%s %s\n", dep.Path, v)
	}
}
