package server

import "time"

// SetRefusalLogEvery sets how often refusals are summed up in the log, for
// a test that cannot wait 10 s; the returned func restores it.
func SetRefusalLogEvery(d time.Duration) (restore func()) {
	old := refusalLogEvery
	refusalLogEvery = d
	return func() { refusalLogEvery = old }
}
