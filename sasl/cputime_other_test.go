//go:build !unix

package sasl

import "time"

func processCPUTime() time.Duration { return 0 }
