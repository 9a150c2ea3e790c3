package server

import "sync"

// registry holds the bound sessions by full JID and by bare JID, for every
// host (the JIDs carry the host, so one map serves them all).
type registry struct {
	mu   sync.RWMutex
	full map[string]*session
	bare map[string][]*session // in binding order
}

func (r *registry) init() {
	r.full = make(map[string]*session)
	r.bare = make(map[string][]*session)
}

// bind registers s and returns the session it replaces (same full JID), if any.
func (r *registry) bind(s *session) (old *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old = r.full[s.full]
	if old != nil {
		r.removeLocked(old)
	}
	r.full[s.full] = s
	r.bare[s.bare] = append(r.bare[s.bare], s)
	return old
}

// unbind removes s if it is still registered (a replaced session is not).
func (r *registry) unbind(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full[s.full] == s {
		r.removeLocked(s)
	}
}

func (r *registry) removeLocked(s *session) {
	delete(r.full, s.full)
	list := r.bare[s.bare]
	for i, x := range list {
		if x == s {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.bare, s.bare)
	} else {
		r.bare[s.bare] = list
	}
}

// lookup returns the session bound to a full JID.
func (r *registry) lookup(full string) *session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.full[full]
}

// anyResource returns one of a bare JID's sessions, nil when it has none.
func (r *registry) anyResource(bare string) *session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if list := r.bare[bare]; len(list) > 0 {
		return list[0]
	}
	return nil
}

// resources returns a copy of a bare JID's sessions.
func (r *registry) resources(bare string) []*session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*session(nil), r.bare[bare]...)
}

// list returns every bound full JID per host.
func (r *registry) list() map[string][]string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string][]string)
	for full, s := range r.full {
		out[s.host] = append(out[s.host], full)
	}
	return out
}

// bindSession registers sess and tells the router; it returns the local
// session it replaces, if any.
func (s *Server) bindSession(sess *session) *session {
	s.bindMu.Lock()
	defer s.bindMu.Unlock()
	old := s.reg.bind(sess)
	s.router.bind(sess.full, old != nil)
	return old
}

// unbindSession removes sess, and tells the router when no local session
// of its full JID is left.
func (s *Server) unbindSession(sess *session) {
	s.bindMu.Lock()
	defer s.bindMu.Unlock()
	s.reg.unbind(sess)
	if s.reg.lookup(sess.full) == nil {
		s.router.unbind(sess.full)
	}
}

// publishAvailability tells the router the availability and priority s
// took with its broadcast presence, unless s was replaced meanwhile (its
// full JID is now another session's).
func (s *session) publishAvailability(available bool, priority int32) {
	srv := s.srv
	srv.bindMu.Lock()
	defer srv.bindMu.Unlock()
	if srv.reg.lookup(s.full) != s {
		return
	}
	srv.router.setAvailability(s.full, available, int8(priority))
}
