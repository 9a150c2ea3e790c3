package server

import "time"

// SetRefusalLogEvery sets how often refusals are summed up in the log, for
// a test that cannot wait 10 s; the returned func restores it.
func SetRefusalLogEvery(d time.Duration) (restore func()) {
	old := refusalLogEvery.Swap(int64(d))
	return func() { refusalLogEvery.Store(old) }
}

// SetMemRelease sets when idle memory is returned after a drop in
// connections; the returned func restores the defaults.
func SetMemRelease(minPeak int, after time.Duration) (restore func()) {
	oldPeak, oldAfter := memReleaseMinPeak.Swap(int64(minPeak)), memReleaseAfter.Swap(int64(after))
	return func() { memReleaseMinPeak.Store(oldPeak); memReleaseAfter.Store(oldAfter) }
}

// MemoryReleases is how many times the server returned idle memory.
func (s *Server) MemoryReleases() int64 { return s.ops.caps.released.Load() }

// ParkedSessions is how many idle sessions wait in the epoll set.
func (s *Server) ParkedSessions() int { return s.parker.count() }
