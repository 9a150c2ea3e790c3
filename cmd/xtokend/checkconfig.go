package main

import (
	"fmt"
	"io"
)

// STUB: replaced by the issue that builds "check-config".
func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "xtokend: check-config: not implemented yet")
	return exitFailed
}
