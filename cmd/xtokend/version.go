package main

import (
	"fmt"
	"io"
)

// STUB: replaced by the issue that builds "version".
func runVersion(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "xtokend: version: not implemented yet")
	return exitFailed
}
