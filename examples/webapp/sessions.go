package main

import (
	"crypto/rand"
	"sync"
	"time"
)

// sessionCookie names the cookie holding a session's id.
const sessionCookie = "webapp_session"

// sessions maps random session ids to signed-in users, in memory: a restart signs everyone out.
type sessions struct {
	ttl time.Duration
	now func() time.Time

	mu   sync.Mutex
	byID map[string]session
}

type session struct {
	user    string
	expires time.Time
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, now: time.Now, byID: make(map[string]session)}
}

// create signs user in and returns the new session's id: 256 bits from crypto/rand.
func (s *sessions) create(user string) string {
	id := rand.Text() + rand.Text() // 2 × 128 bits, base32
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.byID { // forget expired sessions as new ones come
		if now.After(v.expires) {
			delete(s.byID, k)
		}
	}
	s.byID[id] = session{user: user, expires: now.Add(s.ttl)}
	return id
}

func (s *sessions) lookup(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[id]
	if !ok || s.now().After(v.expires) {
		return "", false
	}
	return v.user, true
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}
