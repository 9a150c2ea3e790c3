package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The admin socket is the server's most powerful door (it mints tokens for
// anyone), so it must never exist with a mode wider than 0600, not even for
// a moment. Setting the umask would do it but the umask is per process, and
// other goroutines creating files at that moment would get it too. Instead
// the socket is bound inside a fresh 0700 folder next to its final place,
// chmod-ed to 0600 there, and then hard-linked to its final name (link fails
// if the name was taken meanwhile, where rename would silently replace
// another server's socket). Until the link exists, only our user can reach
// the socket through the private folder.

// maxSocketPath is the longest path a unix socket can be bound to on Linux
// (sun_path is 108 bytes with the terminating NUL).
const maxSocketPath = 107

// adminServer serves the admin API on a unix socket.
type adminServer struct {
	path string
	info os.FileInfo // the socket we made, so Close removes only ours
	srv  *http.Server
}

// startAdmin listens on the unix socket at path, replacing a stale socket left
// by a crash, and serves h there until Close.
func startAdmin(path string, h http.Handler, log *slog.Logger) (*adminServer, error) {
	ln, info, err := listenAdminSocket(path, log)
	if err != nil {
		return nil, err
	}
	a := &adminServer{path: path, info: info, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin socket stopped", "path", path, "err", err)
		}
	}()
	log.Info("admin API listening", "socket", path, "mode", "0600")
	return a, nil
}

// Close stops serving (requests in flight may finish until ctx ends) and
// removes the socket, if it is still the one we made.
func (a *adminServer) Close(ctx context.Context) error {
	err := a.srv.Shutdown(ctx)
	if fi, statErr := os.Lstat(a.path); statErr == nil && os.SameFile(fi, a.info) {
		if rmErr := os.Remove(a.path); rmErr != nil && err == nil {
			err = fmt.Errorf("server: removing admin socket: %w", rmErr)
		}
	}
	return err
}

// listenAdminSocket binds a unix socket at path with mode 0600 (see above).
func listenAdminSocket(path string, log *slog.Logger) (net.Listener, os.FileInfo, error) {
	if path == "" {
		return nil, nil, errors.New("server: admin socket: empty path")
	}
	if len(path) > maxSocketPath {
		return nil, nil, fmt.Errorf("server: admin socket %s: path is %d bytes, the limit is %d (use a shorter general.admin_socket)", path, len(path), maxSocketPath)
	}
	if err := checkAdminSocketDir(path); err != nil {
		return nil, nil, err
	}
	if err := clearStaleSocket(path, log); err != nil {
		return nil, nil, err
	}
	// A short name: the temporary path must fit in sun_path too.
	dir, err := os.MkdirTemp(filepath.Dir(path), ".xa")
	if err != nil {
		return nil, nil, fmt.Errorf("server: admin socket %s: %w", path, err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	if len(tmp) > maxSocketPath {
		return nil, nil, fmt.Errorf("server: admin socket %s: the path is too long to bind safely (%d bytes with the temporary folder; the limit is %d): use a shorter general.admin_socket", path, len(tmp), maxSocketPath)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("server: admin socket %s: %w", path, err)
	}
	// We remove the final name ourselves; the temporary one goes with dir.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, os.FileInfo, error) {
		ln.Close()
		return nil, nil, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(fmt.Errorf("server: admin socket %s: %w", path, err))
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fail(fmt.Errorf("server: admin socket %s: created by someone else while starting (another xtokend?)", path))
		}
		// A file system without hard links: rename is atomic too, it only
		// loses the "someone else took the name meanwhile" check.
		if err := os.Rename(tmp, path); err != nil {
			return fail(fmt.Errorf("server: admin socket %s: %w", path, err))
		}
	}
	info, err := os.Lstat(path)
	if err != nil {
		return fail(fmt.Errorf("server: admin socket %s: %w", path, err))
	}
	return ln, info, nil
}

// clearStaleSocket makes sure nothing is at path: a socket nobody listens on
// (a crashed server's) is removed; a live socket, or anything that is not a
// socket, is an error and stays untouched.
func clearStaleSocket(path string, log *slog.Logger) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("server: admin socket %s: %w", path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("server: admin socket %s: the path exists and is not a socket; not replacing it", path)
	}
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("server: admin socket %s: another server is listening on it (stop it first, or set another general.admin_socket)", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("server: admin socket %s: cannot tell whether it is in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("server: admin socket %s: removing the stale socket: %w", path, err)
	}
	log.Warn("removed a stale admin socket (left by a server that did not shut down)", "socket", path)
	return nil
}
