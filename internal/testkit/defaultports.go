package testkit

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// LockDefaultPorts holds, until the test ends, a lock that every test taking
// the built-in default's fixed ports (127.0.0.1:5222 and :5280) takes first,
// whatever its package: test binaries run side by side, and two of them
// finding a port free at once would both try to serve on it.
func LockDefaultPorts(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "xtokend-test-default-ports.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}
