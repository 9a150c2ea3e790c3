//go:build !linux

package server

import "syscall"

// parker parks idle sessions on Linux's epoll; elsewhere a session waits in
// a goroutine of its own (see the Linux version).
type parker struct{}

type parkState struct {
	p       *parker
	fdKnown bool
}

func newParker(*negotiatorPool) (*parker, error) { return nil, nil }

func (st *parkState) learnFD(syscall.RawConn) bool { return false }
func (st *parkState) park(job) bool                { return false }
func (st *parkState) closing()                     {}
func (p *parker) close() error                     { return nil }
func (p *parker) count() int                       { return 0 }
