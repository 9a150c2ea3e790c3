//go:build unix

package sasl

import (
	"syscall"
	"time"
)

// processCPUTime is the CPU time (user and system) the process has used. On a
// machine shared with other work, CPU time per operation is steadier than
// wall time per operation.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
