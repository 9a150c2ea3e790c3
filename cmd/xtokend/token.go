package main

import (
	"fmt"
	"io"
)

// STUB: replaced by the issue that builds "token".
func runToken(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "xtokend: token: not implemented yet")
	return exitFailed
}
