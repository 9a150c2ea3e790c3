package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/xtokend/xtokend/internal/testkit"
)

// The tests run real nodes on 127.0.0.1 with ports 0. Deadlines are
// generous (a loaded CI machine under -race is slow); nothing sleeps a fixed
// time: conditions are polled until they hold or the deadline passes.

const deadline = 60 * time.Second

var testKeys = []RAMKeySpec{
	{Host: "a.test", Name: "access_secret", Size: 64},
	{Host: "a.test", Name: "otp_seed", Size: 32},
	{Host: "b.test", Name: "access_secret", Size: 64},
}

// fastTimers shortens memberlist's timers for loopback, without making
// failure detection so eager that a slow machine flaps.
func fastTimers(c *memberlist.Config) {
	c.TCPTimeout = 5 * time.Second
	c.ProbeInterval = 500 * time.Millisecond
	c.ProbeTimeout = 400 * time.Millisecond
	c.SuspicionMult = 6
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = 2 * time.Second
	c.GossipToTheDeadTime = 5 * time.Second
}

func writeSecret(t *testing.T) string {
	t.Helper()
	return writeSecretIn(t, t.TempDir())
}

func writeSecretIn(t testing.TB, dir string) string {
	b := make([]byte, SecretSize)
	rand.Read(b)
	p := filepath.Join(dir, "cluster_secret")
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// stanzas collects what a node's Stanza hook receives.
type stanzas struct {
	mu  sync.Mutex
	got []string
}

func (s *stanzas) hook(from string, b []byte) {
	s.mu.Lock()
	s.got = append(s.got, from+": "+string(b))
	s.mu.Unlock()
}

func (s *stanzas) has(want string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.got, want)
}

type testNode struct {
	*Node
	in       *stanzas
	replaced *atomic.Int32 // KeyReplaced calls
}

func startNode(t *testing.T, name, secret string, join []string, joinTimeout time.Duration) testNode {
	t.Helper()
	in := &stanzas{}
	opts := Options{
		NodeName:    name,
		Bind:        "127.0.0.1:0",
		LinkListen:  "127.0.0.1:0",
		Join:        join,
		SecretFile:  secret,
		JoinTimeout: Duration{joinTimeout},
		tune:        fastTimers,
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	replaced := new(atomic.Int32)
	n, err := Start(ctx, opts, testLogger(t), Hooks{RAMKeys: testKeys, Stanza: in.hook, KeyReplaced: func(string, string) { replaced.Add(1) }})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("%s not ready: %v", name, err)
	}
	return testNode{n, in, replaced}
}

func (n testNode) addr() string { return n.GossipAddr() }

func stop(t *testing.T, n testNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Logf("stop %s: %v", n.name, err)
	}
}

// eventually polls cond until it holds, failing the test at the deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, deadline, what, cond)
}

func sameMembers(nodes ...testNode) func() bool {
	return func() bool {
		var want []string
		for _, n := range nodes {
			want = append(want, n.name)
		}
		slices.Sort(want)
		for _, n := range nodes {
			got := n.Members()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return false
			}
		}
		return true
	}
}

func ramKeys(t *testing.T, n testNode) map[keyID][]byte {
	t.Helper()
	out := make(map[keyID][]byte)
	for _, k := range testKeys {
		b, ok := n.RAMKey(k.Host, k.Name)
		if !ok {
			t.Fatalf("%s has no RAM key %s/%s", n.name, k.Host, k.Name)
		}
		if len(b) != k.Size {
			t.Fatalf("%s: RAM key %s/%s has %d bytes, want %d", n.name, k.Host, k.Name, len(b), k.Size)
		}
		out[keyID{k.Host, k.Name}] = b
	}
	return out
}

func sameKeys(a, b map[keyID][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for id, k := range a {
		if !bytes.Equal(k, b[id]) {
			return false
		}
	}
	return true
}

func checkFresh(t *testing.T, n testNode, user string, id []byte, want bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	fresh, err := n.CheckAndRemember(ctx, "a.test", user, id, time.Now().Add(90*time.Second))
	if err != nil {
		t.Fatalf("%s: CheckAndRemember(%s): %v", n.name, user, err)
	}
	if fresh != want {
		t.Fatalf("%s: CheckAndRemember(%s) = %v, want %v", n.name, user, fresh, want)
	}
}

func tokenID(i int) []byte { return []byte(fmt.Sprintf("%08d%032d", i, i)) }

func TestThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	secret := writeSecret(t)
	n1 := startNode(t, "n1", secret, nil, deadline)
	n2 := startNode(t, "n2", secret, []string{n1.addr()}, deadline)
	// A seed that does not answer does not stop a join through the others.
	n3 := startNode(t, "n3", secret, []string{n1.addr(), n2.addr(), "127.0.0.1:1"}, deadline)
	eventually(t, "three members everywhere", sameMembers(n1, n2, n3))

	keys := ramKeys(t, n1)
	if !sameKeys(keys, ramKeys(t, n2)) || !sameKeys(keys, ramKeys(t, n3)) {
		t.Fatal("joiners did not adopt n1's RAM keys")
	}
	// Adopted inside Join: no joiner had keys of its own to give up.
	for _, n := range []testNode{n1, n2, n3} {
		if r := n.replaced.Load(); r != 0 {
			t.Fatalf("%s replaced %d keys: it made its own before adopting", n.name, r)
		}
	}
	if bytes.Equal(keys[keyID{"a.test", "access_secret"}], keys[keyID{"b.test", "access_secret"}]) {
		t.Fatal("two hosts got the same RAM key")
	}

	// Replay: for many users (so that every node owns some), a token
	// remembered through n1 is refused through n3 and n2.
	const users = 30
	for i := range users {
		user := fmt.Sprintf("user%d", i)
		checkFresh(t, n1, user, tokenID(i), true)
		checkFresh(t, n3, user, tokenID(i), false)
		checkFresh(t, n2, user, tokenID(i), false)
	}

	// Routing: a session bound on n3 is seen from n1, and a stanza routed
	// from n1 reaches n3's hook.
	n3.Bind("alice@a.test/phone")
	n1.Bind("bob@a.test/desk")
	eventually(t, "n1 sees alice on n3", func() bool { node, ok := n1.Lookup("alice@a.test/phone"); return ok && node == "n3" })
	eventually(t, "n2 sees bob on n1", func() bool { node, ok := n2.Lookup("bob@a.test/desk"); return ok && node == "n1" })
	msg := "<message to='alice@a.test/phone'><body>hi</body></message>"
	if err := n1.Route("n3", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "n3 got the stanza from n1", func() bool { return n3.in.has("n1: " + msg) })
	if err := n1.Route("nobody", []byte(msg)); err == nil {
		t.Fatal("routed to a node that does not exist")
	}
	if got := n2.Bindings("alice@a.test"); len(got) != 1 || got[0] != (Binding{JID: "alice@a.test/phone", Node: "n3"}) {
		t.Fatalf("bindings seen from n2: %v", got)
	}
	// Availability follows the bind, in order, on every peer.
	n3.SetAvailability("alice@a.test/phone", true, -5)
	eventually(t, "n1 and n2 see alice available with priority -5", func() bool {
		want := Binding{JID: "alice@a.test/phone", Node: "n3", Available: true, Priority: -5}
		for _, n := range []testNode{n1, n2, n3} {
			if got := n.Bindings("alice@a.test"); len(got) != 1 || got[0] != want {
				return false
			}
		}
		return true
	})
	if got := n2.AllBindings(); len(got) != 2 || got[0] != (Binding{JID: "alice@a.test/phone", Node: "n3", Available: true, Priority: -5}) ||
		got[1] != (Binding{JID: "bob@a.test/desk", Node: "n1"}) {
		t.Fatalf("all bindings seen from n2: %v", got)
	}
	n1.SetAvailability("alice@a.test/phone", true, 1) // not bound on n1: nothing
	n3.SetAvailability("alice@a.test/phone", false, 0)
	eventually(t, "n1 sees alice unavailable", func() bool {
		got := n1.Bindings("alice@a.test")
		return len(got) == 1 && got[0] == Binding{JID: "alice@a.test/phone", Node: "n3"}
	})
	for _, n := range []testNode{n1, n2, n3} {
		st := n.Stats()
		if !st.Ready || st.Members != 3 || st.ReplayHeld == 0 {
			t.Fatalf("%s stats %+v", n.name, st)
		}
	}
	eventually(t, "n2 links to both peers and knows both sessions", func() bool {
		st := n2.Stats()
		return st.Links == 2 && st.RemoteSessions == 2
	})
	n3.Unbind("alice@a.test/phone")
	eventually(t, "n1 sees alice gone", func() bool { _, ok := n1.Lookup("alice@a.test/phone"); return !ok })

	// n1 stops: n2 and n3 carry on with the same keys and still refuse the
	// tokens used before (each user had two owners; at most one is gone).
	stop(t, n1)
	eventually(t, "n2 and n3 see n1 gone", sameMembers(n2, n3))
	eventually(t, "n1's sessions went with it", func() bool { _, ok := n2.Lookup("bob@a.test/desk"); return !ok })
	if !sameKeys(keys, ramKeys(t, n2)) || !sameKeys(keys, ramKeys(t, n3)) {
		t.Fatal("RAM keys changed when n1 left")
	}
	for i := range users {
		user := fmt.Sprintf("user%d", i)
		checkFresh(t, n2, user, tokenID(i), false)
		checkFresh(t, n3, user, tokenID(users+i), true)
		checkFresh(t, n2, user, tokenID(users+i), false)
	}
	if err := n2.Route("n1", []byte(msg)); err == nil {
		t.Fatal("routed to a node that left")
	}

	// n1 comes back under its name and adopts the keys the cluster kept.
	n1 = startNode(t, "n1", secret, []string{n2.addr()}, deadline)
	eventually(t, "n1 back everywhere", sameMembers(n1, n2, n3))
	if !sameKeys(keys, ramKeys(t, n1)) || n1.replaced.Load() != 0 {
		t.Fatal("rejoined n1 did not adopt the cluster's RAM keys inside Join")
	}
	n1.Bind("carol@a.test/web")
	eventually(t, "n3 sees carol on the new n1", func() bool { node, ok := n3.Lookup("carol@a.test/web"); return ok && node == "n1" })
	back := "<message to='carol@a.test/web'/>"
	if err := n3.Route("n1", []byte(back)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "new n1 got a stanza from n3", func() bool { return n1.in.has("n3: " + back) })

	// All stop; a node started afresh has keys of its own.
	stop(t, n1)
	stop(t, n2)
	stop(t, n3)
	fresh := startNode(t, "n1", secret, nil, deadline)
	for id, k := range ramKeys(t, fresh) {
		if bytes.Equal(k, keys[id]) {
			t.Fatalf("a fresh cluster has the old RAM key %v", id)
		}
	}
}

// TestSnapshotCarriesAvailability: a node that joins after a session went
// available learns it from the snapshot its link starts with.
func TestSnapshotCarriesAvailability(t *testing.T) {
	secret := writeSecret(t)
	n1 := startNode(t, "n1", secret, nil, deadline)
	n1.Bind("carol@a.test/phone")
	n1.SetAvailability("carol@a.test/phone", true, 7)
	n1.Bind("carol@a.test/tablet")
	n2 := startNode(t, "n2", secret, []string{n1.addr()}, deadline)
	want := []Binding{{JID: "carol@a.test/phone", Node: "n1", Available: true, Priority: 7}, {JID: "carol@a.test/tablet", Node: "n1"}}
	eventually(t, "n2 sees carol's resources as n1 has them", func() bool {
		return slices.Equal(n2.Bindings("carol@a.test"), want)
	})
}

// TestReadyWithPeersSessions: a node that joins is ready only once it holds
// its peers' sessions, so that a session bound on it the moment it is
// ready sees the user's resources elsewhere (their presence, and they its).
func TestReadyWithPeersSessions(t *testing.T) {
	secret := writeSecret(t)
	n1 := startNode(t, "n1", secret, nil, deadline)
	n1.Bind("dave@a.test/desk")
	n1.SetAvailability("dave@a.test/desk", true, 0)
	for i := range 3 {
		n := startNode(t, fmt.Sprintf("n%d", i+2), secret, []string{n1.addr()}, deadline)
		want := []Binding{{JID: "dave@a.test/desk", Node: "n1", Available: true}}
		if got := n.Bindings("dave@a.test"); !slices.Equal(got, want) {
			t.Fatalf("%s ready with dave's resources %v, want %v", n.name, got, want)
		}
	}
}
