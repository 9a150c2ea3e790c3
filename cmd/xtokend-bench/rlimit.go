package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises this process's open-file limit to its hard limit (each session is
// a descriptor) and returns the limit in force.
func raiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("rlimit: %w", err)
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = want.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return rl.Cur, fmt.Errorf("rlimit: raising the open-file limit to %d: %w", want.Max, err)
		}
		rl = want
	}
	return rl.Cur, nil
}
