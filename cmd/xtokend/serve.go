package main

import (
	"fmt"
	"io"
)

// STUB: replaced by the issue that builds "serve".
func runServe(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "xtokend: serve: not implemented yet")
	return exitFailed
}
