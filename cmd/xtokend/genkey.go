package main

import (
	"fmt"
	"io"
)

// STUB: replaced by the issue that builds "genkey".
func runGenkey(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "xtokend: genkey: not implemented yet")
	return exitFailed
}
