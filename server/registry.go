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
