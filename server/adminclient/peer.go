package adminclient

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNotOurServer is returned (wrapped) when the process answering on the
// socket is not the server this user may trust: it runs as another user
// (neither ours nor root), or it answered for another JID than the one asked
// for. Either means the socket may have been replaced by someone else's.
var ErrNotOurServer = errors.New("adminclient: the admin socket is not answered by a server of this user")

// peerUID reads the uid of the process at the other end of a unix socket
// (SO_PEERCRED: the credentials it had when it called listen). A variable so
// that tests running as root, where every real server is acceptable, can
// pretend to meet another user's.
var peerUID = func(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, credErr
	}
	return int(cred.Uid), nil
}

// checkPeer refuses a server that runs as neither this user nor root: the
// admin socket hands out tokens, and one that another user bound (after
// moving the real one aside) would hand out its own.
func checkPeer(c net.Conn, socket string) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("adminclient: admin socket %s: not a unix socket connection", socket)
	}
	uid, err := peerUID(uc)
	if err != nil {
		return fmt.Errorf("adminclient: admin socket %s: reading the server's credentials: %w", socket, err)
	}
	if me := os.Getuid(); uid != me && uid != 0 {
		return fmt.Errorf("%w: the process on %s runs as uid %d, not as this user (uid %d) or root: refusing to trust it", ErrNotOurServer, socket, uid, me)
	}
	return nil
}
