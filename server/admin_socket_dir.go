package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// checkAdminSocketDir refuses a folder for the admin socket in which another
// user could replace the socket: one that group or others may write without
// the sticky bit (anyone could rename ours aside and bind their own in its
// place), or one owned by a user that is neither root nor the server's (its
// owner can do that whatever the mode). A folder that does not exist yet is
// left to the bind, which names it.
func checkAdminSocketDir(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("server: admin socket %s: %w", path, err)
	}
	mode := fi.Mode()
	if mode.Perm()&0o022 != 0 && mode&os.ModeSticky == 0 {
		return fmt.Errorf("server: admin socket %s: the folder %s (mode %04o) is writable by group or others without the sticky bit, so another user could replace the socket: use a folder only the server's user can write (chmod go-w %s), or set general.admin_socket elsewhere", path, dir, mode.Perm(), dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if uid := int(st.Uid); uid != 0 && uid != os.Geteuid() {
			return fmt.Errorf("server: admin socket %s: the folder %s is owned by uid %d, neither root nor the server's user (uid %d), so its owner could replace the socket: use a folder of the server's user, or set general.admin_socket elsewhere", path, dir, uid, os.Geteuid())
		}
	}
	return nil
}
