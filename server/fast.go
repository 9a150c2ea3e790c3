package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// FAST (XEP-0484): a client that logged in by token may ask for a FAST
// token, bound to the user and to its user agent id, and log in with it
// next time by HT-SHA-256-NONE: it sends HMAC-SHA-256(token, "Initiator"),
// the server answers HMAC-SHA-256(token, "Responder"), and no new X-TOKEN
// is needed. Tokens live in RAM only, as RAM keys do: a restart forgets
// them and the client falls back to X-TOKEN.
//
// Replay: each use of a token carries a count (0 when the client sends
// none) that must be higher than any accepted before for that token, so
// a count-less token logs in once. Every such use, and a use of a token
// past half its life, rotates: the success carries a new token, and the
// one used stays acceptable (for a higher count) until the new one is
// used, so a client that lost the success still gets in.

// fastMechanism is the FAST mechanism offered: no channel binding.
const fastMechanism = "HT-SHA-256-NONE"

// fastSecret is a FAST token: its bytes are never printed.
type fastSecret string

func (fastSecret) String() string               { return "[redacted]" }
func (fastSecret) GoString() string             { return "[redacted]" }
func (fastSecret) Format(f fmt.State, _ rune)   { io.WriteString(f, "[redacted]") }
func (fastSecret) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (fastSecret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// fastUser names whose token it is: a user on a host, with a user agent.
type fastUser struct{ host, node, agent string }

// fastInfo is what the admin API shows of a token: never the secret.
type fastInfo struct {
	Agent    string    `json:"user_agent"`
	Software string    `json:"software,omitempty"`
	Device   string    `json:"device,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
}

// fastUse is one login attempt with a FAST token.
type fastUse struct {
	mechanism  string
	initiator  []byte // the client's HMAC
	cb         []byte // channel binding data ("" for -NONE)
	count      uint64
	hasCount   bool
	invalidate bool
}

// fastStore keeps FAST tokens, in RAM: they are gone when the server
// stops. fastRAM is the one implementation; in a cluster it shares what it
// changes with the other nodes and applies what they share.
type fastStore interface {
	// issue makes a new token for u; the previous current one is kept as
	// the previous token until the new one is used.
	issue(u fastUser, mechanism, software, device string, lifetime time.Duration, now time.Time) (fastSecret, time.Time)
	// use checks an attempt; ok with the responder's HMAC, and rotate when
	// the client should be given a new token.
	use(u fastUser, a fastUse, now time.Time) (responder []byte, rotate, ok bool)
	// list is the tokens of host's user node; revoke drops them (all for
	// agent "") and reports how many, once every other node has dropped
	// them too or ctx ended (unreached names the nodes not told).
	list(host, node string, now time.Time) []fastInfo
	revoke(ctx context.Context, host, node, agent string) (n int, unreached []string)
	// apply makes a change another node shared, or a local one that every
	// node makes itself (a revocation), without sharing it.
	apply(e fastEvent)
}

// fastToken is one issued token and its replay state.
type fastToken struct {
	secret    fastSecret
	mechanism string
	created   time.Time
	expires   time.Time
	used      bool
	lastCount uint64
}

// fastEntry is a user agent's tokens: the current one and, during a
// rotation, the one before it.
type fastEntry struct {
	cur, prev        *fastToken
	software, device string
}

// fastRAM is the fastStore.
type fastRAM struct {
	mu    sync.Mutex
	users map[[2]string]map[string]*fastEntry // host, node → agent → tokens
	// sharer tells the other nodes of a change made here, in order.
	sharer fastSharer
}

// newFASTRAM makes a store that shares its changes with sh (nil: with no
// one).
func newFASTRAM(sh fastSharer) *fastRAM {
	if sh == nil {
		sh = noFASTSharer{}
	}
	return &fastRAM{users: make(map[[2]string]map[string]*fastEntry), sharer: sh}
}

func newFASTSecret() fastSecret {
	var b [32]byte
	rand.Read(b[:])
	return fastSecret(base64.RawURLEncoding.EncodeToString(b[:]))
}

func (r *fastRAM) issue(u fastUser, mechanism, software, device string, lifetime time.Duration, now time.Time) (fastSecret, time.Time) {
	t := &fastToken{secret: newFASTSecret(), mechanism: mechanism, created: now, expires: now.Add(lifetime)}
	r.mu.Lock()
	r.putLocked(u, t, software, device, now)
	r.mu.Unlock()
	r.sharer.share(fastEvent{kind: fastEventIssue, user: u, token: *t, software: software, device: device})
	return t.secret, t.expires
}

// putLocked makes t u's current token.
func (r *fastRAM) putLocked(u fastUser, t *fastToken, software, device string, now time.Time) {
	k := [2]string{u.host, u.node}
	agents := r.users[k]
	if agents == nil {
		agents = make(map[string]*fastEntry)
		r.users[k] = agents
	}
	e := agents[u.agent]
	if e == nil {
		pruneFASTAgents(agents, now)
		e = &fastEntry{}
		agents[u.agent] = e
	}
	if e.cur != nil && e.cur.used {
		e.prev = e.cur // the client holds it until it has the new one
	}
	e.cur = t
	if software != "" || device != "" {
		e.software, e.device = software, device
	}
}

// maxFASTAgents bounds the user agents one user holds tokens for: each
// costs a login, but nothing else would bound them.
const maxFASTAgents = 64

// pruneFASTAgents makes room for one more user agent: it drops those whose
// tokens all expired and, at the bound, the one issued a token longest ago.
func pruneFASTAgents(agents map[string]*fastEntry, now time.Time) {
	oldest := ""
	for a, e := range agents {
		if !now.Before(e.cur.expires) && (e.prev == nil || !now.Before(e.prev.expires)) {
			delete(agents, a)
			continue
		}
		if oldest == "" || e.cur.created.Before(agents[oldest].cur.created) {
			oldest = a
		}
	}
	if len(agents) >= maxFASTAgents {
		delete(agents, oldest)
	}
}

func (r *fastRAM) use(u fastUser, a fastUse, now time.Time) ([]byte, bool, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.users[[2]string{u.host, u.node}][u.agent]
	if e == nil {
		return nil, false, false
	}
	// Both are checked, whichever matches, so the time taken does not
	// tell which one the client holds.
	curOK := fastMatches(e.cur, a, now)
	prevOK := fastMatches(e.prev, a, now)
	var t *fastToken
	switch {
	case curOK:
		t = e.cur
	case prevOK:
		t = e.prev
	default:
		return nil, false, false
	}
	count := uint64(0)
	if a.hasCount {
		count = a.count
	}
	if t.used && count <= t.lastCount {
		return nil, false, false // a count already accepted: a replay
	}
	rotate := !a.hasCount || now.After(t.created.Add(t.expires.Sub(t.created)/2)) || t == e.prev
	r.markLocked(u, e, t, count, a.invalidate)
	r.sharer.share(fastEvent{kind: fastEventUse, user: u, digest: fastDigest(t.secret), count: count, invalidate: a.invalidate})
	if a.invalidate {
		rotate = false
	}
	return fastHMAC(t.secret, "Responder", a.cb), rotate, true
}

// markLocked records an accepted use of t, a token of u's entry e.
func (r *fastRAM) markLocked(u fastUser, e *fastEntry, t *fastToken, count uint64, invalidate bool) {
	t.used, t.lastCount = true, count
	if t == e.cur {
		e.prev = nil // the client has the current token: the rotation is over
	}
	if invalidate {
		r.dropLocked(u.host, u.node, u.agent)
	}
}

// apply makes a change shared by another node, or one every node makes on
// its own (a revocation's), here only.
func (r *fastRAM) apply(ev fastEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := ev.user
	switch ev.kind {
	case fastEventIssue:
		t := ev.token
		r.putLocked(u, &t, ev.software, ev.device, time.Now())
	case fastEventUse:
		e := r.users[[2]string{u.host, u.node}][u.agent]
		if e == nil {
			return
		}
		for _, t := range []*fastToken{e.cur, e.prev} {
			if t != nil && fastDigest(t.secret) == ev.digest && (!t.used || ev.count > t.lastCount) {
				r.markLocked(u, e, t, ev.count, ev.invalidate)
				return
			}
		}
	case fastEventRevoke:
		r.dropLocked(u.host, u.node, u.agent)
	}
}

// fastMatches reports whether a's HMAC is t's, t is unexpired and of a's
// mechanism. The HMACs are compared in constant time.
func fastMatches(t *fastToken, a fastUse, now time.Time) bool {
	if t == nil {
		return false
	}
	want := fastHMAC(t.secret, "Initiator", a.cb)
	return hmac.Equal(want, a.initiator) && t.mechanism == a.mechanism && now.Before(t.expires)
}

// fastHMAC is HMAC-SHA-256 keyed with the token of label and the channel
// binding data (draft-schmaus-kitten-sasl-ht).
func fastHMAC(secret fastSecret, label string, cb []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	io.WriteString(m, label)
	m.Write(cb)
	return m.Sum(nil)
}

func (r *fastRAM) list(host, node string, now time.Time) []fastInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []fastInfo
	for agent, e := range r.users[[2]string{host, node}] {
		for _, t := range []*fastToken{e.cur, e.prev} {
			if t != nil && now.Before(t.expires) {
				out = append(out, fastInfo{Agent: agent, Software: e.software, Device: e.device, Created: t.created, Expires: t.expires})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Agent != out[j].Agent {
			return out[i].Agent < out[j].Agent
		}
		return out[i].Created.Before(out[j].Created)
	})
	return out
}

func (r *fastRAM) revoke(ctx context.Context, host, node, agent string) (int, []string) {
	r.mu.Lock()
	n := r.dropLocked(host, node, agent)
	r.mu.Unlock()
	unreached := r.sharer.shareWait(ctx, fastEvent{kind: fastEventRevoke, user: fastUser{host, node, agent}})
	return n, unreached
}

func (r *fastRAM) dropLocked(host, node, agent string) int {
	k := [2]string{host, node}
	agents := r.users[k]
	n := 0
	for a, e := range agents {
		if agent != "" && a != agent {
			continue
		}
		if e.cur != nil {
			n++
		}
		if e.prev != nil {
			n++
		}
		delete(agents, a)
	}
	if len(agents) == 0 {
		delete(r.users, k)
	}
	return n
}
