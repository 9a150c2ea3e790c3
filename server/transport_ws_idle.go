package server

// Park puts the idle session's socket in the server's epoll set, with wake
// (ReadWoken, then the read loop) to run on the pool once it is readable;
// false when the session must wait in a goroutine: no parker, bytes put
// back or read ahead, the stream over, or no TCP socket under the Conn
// (TLS on xtokend's own listener).
func (t *wsTransport) Park(wake job) bool {
	if t.park.p == nil || len(t.r.replay) > 0 {
		return false
	}
	rc := t.c.IdleSocket()
	if rc == nil {
		return false
	}
	if !t.park.fdKnown && !t.park.learnFD(rc) {
		return false
	}
	return t.park.park(wake)
}

// ReadWoken reads what came on the woken socket: ready is false when that
// was control frames alone (a keepalive's pong), and the session parks
// again.
func (t *wsTransport) ReadWoken() (ready bool, err error) {
	ready, err = t.c.ReadWoken()
	if err != nil {
		err = t.r.note(err)
	}
	return ready, err
}
