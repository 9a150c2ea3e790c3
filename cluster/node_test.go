package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStartRefuses(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("c2hvcnQ=\n"), 0o600)
	secret := writeSecret(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name  string
		opts  Options
		hooks Hooks
		want  string
	}{
		{"no secret file", Options{NodeName: "a", Bind: "127.0.0.1:0"}, Hooks{}, "secret_file is required"},
		{"missing secret", Options{NodeName: "a", Bind: "127.0.0.1:0", SecretFile: filepath.Join(dir, "nope")}, Hooks{}, "no such file"},
		{"short secret", Options{NodeName: "a", Bind: "127.0.0.1:0", SecretFile: bad}, Hooks{}, "decodes to 5 bytes"},
		{"link port taken", Options{NodeName: "a", Bind: "127.0.0.1:0", LinkListen: busy.Addr().String(), SecretFile: secret}, Hooks{}, "link_listen"},
		{"zero key size", Options{NodeName: "a", Bind: "127.0.0.1:0", SecretFile: secret}, Hooks{RAMKeys: []RAMKeySpec{{"h", "k", 0}}}, "size 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Start(context.Background(), tc.opts, nil, tc.hooks)
			if err == nil {
				n.Stop(context.Background())
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cluster: ") {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// A node with another secret can neither join (gossip does not decrypt)
// nor open a link: it ends up alone with keys of its own.
func TestOtherSecretIsKeptOut(t *testing.T) {
	n1 := startNode(t, "n1", writeSecret(t), nil, deadline)
	stranger := startNode(t, "x", writeSecret(t), []string{n1.addr()}, 500*time.Millisecond)
	if got := stranger.Members(); len(got) != 1 {
		t.Fatalf("stranger sees members %v", got)
	}
	if got := n1.Members(); len(got) != 1 {
		t.Fatalf("n1 sees members %v", got)
	}
	k1, _ := n1.RAMKey("a.test", "access_secret")
	kx, _ := stranger.RAMKey("a.test", "access_secret")
	if bytes.Equal(k1, kx) {
		t.Fatal("stranger has the cluster's key")
	}
	// The stranger's TLS identity is refused by n1's link listener.
	conn, err := tls.Dial("tcp", n1.ln.Addr().String(), stranger.clientTLS)
	if err == nil {
		// TLS 1.3 reports a refused client certificate on the first read.
		conn.SetDeadline(time.Now().Add(deadline))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("n1 accepted a link from a node without the secret")
	}
	// Bytes that are not TLS at all get the connection closed.
	raw, err := net.Dial("tcp", n1.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	raw.SetDeadline(time.Now().Add(deadline))
	buf := make([]byte, 512)
	for {
		if _, err := raw.Read(buf); err != nil {
			break
		}
	}
	raw.Close()
}

// Two clusters that started apart meet (a cold start race, a partition
// older than memberlist's memory): every node ends on the older keys, and
// the side that lost is told.
func TestSeparateClustersMerge(t *testing.T) {
	secret := writeSecret(t)
	a := startNode(t, "a", secret, nil, deadline)
	var mu sync.Mutex
	var replaced []string
	in := &stanzas{}
	opts := Options{NodeName: "b", Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", SecretFile: secret, tune: fastTimers}
	b, err := Start(context.Background(), opts, testLogger(t), Hooks{RAMKeys: testKeys, Stanza: in.hook, KeyReplaced: func(host, name string) {
		mu.Lock()
		replaced = append(replaced, host+"/"+name)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop(context.Background())
	if err := b.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	older := ramKeys(t, a) // a generated first
	if sameKeys(older, ramKeys(t, testNode{Node: b, in: in})) {
		t.Fatal("two separate clusters share keys")
	}
	if _, err := b.ml.Join([]string{a.addr()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both hold the older keys", func() bool {
		return sameKeys(older, ramKeys(t, a)) && sameKeys(older, ramKeys(t, testNode{Node: b, in: in}))
	})
	mu.Lock()
	defer mu.Unlock()
	if len(replaced) != len(testKeys) {
		t.Fatalf("KeyReplaced told of %v", replaced)
	}
}

// An owner that refuses because its store is full fails the login rather
// than forget; so does a stopped node.
func TestReplayFullAndStopped(t *testing.T) {
	secret := writeSecret(t)
	opts := Options{NodeName: "full", Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", SecretFile: secret, ReplayMax: 1, tune: fastTimers}
	full, err := Start(context.Background(), opts, testLogger(t), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Stop(context.Background())
	other := startNode(t, "other", secret, []string{full.GossipAddr()}, deadline)
	eventually(t, "two members", sameMembers(testNode{Node: full}, other))
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	// With two members both own every user.
	if fresh, err := other.CheckAndRemember(ctx, "a.test", "alice", tokenID(1), exp); err != nil || !fresh {
		t.Fatalf("first token: %v %v", fresh, err)
	}
	if _, err := other.CheckAndRemember(ctx, "a.test", "alice", tokenID(2), exp); !errors.Is(err, ErrReplayFull) {
		t.Fatalf("second token on a full owner: %v", err)
	}
	if err := full.Stop(ctx); err != nil {
		t.Log(err)
	}
	if _, err := full.CheckAndRemember(ctx, "a.test", "alice", tokenID(3), exp); !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped node: %v", err)
	}
	if _, ok := full.RAMKey("a.test", "access_secret"); ok {
		t.Fatal("a stopped node still hands out RAM keys")
	}
}

// A node whose seeds never answer is not ready until join_timeout, then
// starts alone; Stop before that ends WaitReady.
func TestNotReadyUntilJoinedOrAlone(t *testing.T) {
	secret := writeSecret(t)
	opts := Options{NodeName: "w", Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", SecretFile: secret,
		Join: []string{"127.0.0.1:1"}, JoinTimeout: Duration{time.Hour}, tune: fastTimers}
	n, err := Start(context.Background(), opts, testLogger(t), Hooks{RAMKeys: testKeys})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.Ready():
		t.Fatal("ready without a seed")
	default:
	}
	if _, ok := n.RAMKey("a.test", "access_secret"); ok {
		t.Fatal("a key before ready")
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := n.CheckAndRemember(short, "a.test", "u", tokenID(1), time.Now().Add(time.Minute)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("replay check before ready: %v", err)
	}
	done := make(chan error)
	go func() { done <- n.WaitReady(context.Background()) }()
	n.Stop(context.Background())
	if err := <-done; !errors.Is(err, ErrStopped) {
		t.Fatalf("WaitReady after Stop: %v", err)
	}

	opts.NodeName, opts.JoinTimeout = "w2", Duration{100 * time.Millisecond}
	alone := startNode(t, "w2", secret, []string{"127.0.0.1:1"}, 100*time.Millisecond)
	ramKeys(t, alone)
}

func TestRouteToSelf(t *testing.T) {
	n := startNode(t, "solo", writeSecret(t), nil, deadline)
	if err := n.Route("solo", []byte("<presence/>")); err != nil {
		t.Fatal(err)
	}
	if !n.in.has("solo: <presence/>") {
		t.Fatal("stanza to self not delivered")
	}
	if err := n.Route("solo", nil); err == nil {
		t.Fatal("empty stanza routed")
	}
	n.Bind("a@x/1")
	if node, ok := n.Lookup("a@x/1"); !ok || node != "solo" {
		t.Fatal("local binding not found")
	}
	if got := n.Bindings("a@x"); len(got) != 1 || got[0].Node != "solo" {
		t.Fatalf("bindings %v", got)
	}
}

// A node that could not reach its seed at start runs alone, then finds the
// seed when it comes up, and the two merge on the older keys.
func TestSeedThatComesLater(t *testing.T) {
	secret := writeSecret(t)
	var seed testNode
	for attempt := 0; ; attempt++ {
		// Reserve a port, free it, and name it as the seed: nothing answers
		// there until the seed starts on it.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		opts := Options{NodeName: "early", Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", Join: []string{addr},
			SecretFile: secret, JoinTimeout: Duration{100 * time.Millisecond}, tune: fastTimers, seekEvery: 100 * time.Millisecond}
		early, err := Start(context.Background(), opts, testLogger(t), Hooks{RAMKeys: testKeys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { early.Stop(context.Background()) })
		if err := early.WaitReady(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(early.Members()) != 1 {
			t.Fatalf("early node has company: %v", early.Members())
		}
		earlyKeys := ramKeys(t, testNode{Node: early})

		sopts := Options{NodeName: "seed", Bind: addr, LinkListen: "127.0.0.1:0", SecretFile: secret, tune: fastTimers}
		s, err := Start(context.Background(), sopts, testLogger(t), Hooks{RAMKeys: testKeys})
		if err != nil {
			if attempt < 5 && strings.Contains(err.Error(), "bind") {
				early.Stop(context.Background())
				continue // someone took the port meanwhile
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Stop(context.Background()) })
		seed = testNode{Node: s}
		eventually(t, "the early node finds the seed", sameMembers(testNode{Node: early}, seed))
		eventually(t, "both hold the early node's (older) keys", func() bool {
			return sameKeys(earlyKeys, ramKeys(t, seed)) && sameKeys(earlyKeys, ramKeys(t, testNode{Node: early}))
		})
		return
	}
}

// A node that dies without leaving is found out by memberlist's probes: its
// sessions go, and the others keep checking tokens without it.
func TestCrashedNode(t *testing.T) {
	secret := writeSecret(t)
	n1 := startNode(t, "n1", secret, nil, deadline)
	n2 := startNode(t, "n2", secret, []string{n1.GossipAddr()}, deadline)
	n3 := startNode(t, "n3", secret, []string{n1.GossipAddr()}, deadline)
	eventually(t, "three members", sameMembers(n1, n2, n3))
	n3.Bind("dave@a.test/x")
	eventually(t, "n1 sees dave on n3", func() bool { _, ok := n1.Lookup("dave@a.test/x"); return ok })
	for i := range 10 {
		checkFresh(t, n1, "dave"+string(rune('0'+i)), tokenID(i), true)
	}

	n3.shutdown(context.Background(), false)
	eventually(t, "n1 and n2 declare n3 dead", sameMembers(n1, n2))
	eventually(t, "dave went with n3", func() bool {
		_, ok1 := n1.Lookup("dave@a.test/x")
		_, ok2 := n2.Lookup("dave@a.test/x")
		return !ok1 && !ok2
	})
	for i := range 10 {
		user := "dave" + string(rune('0'+i))
		checkFresh(t, n2, user, tokenID(i), false) // one of its two owners lives
		checkFresh(t, n2, user, tokenID(100+i), true)
		checkFresh(t, n1, user, tokenID(100+i), false)
	}
}

// One full JID bound on two nodes is a conflict: the node with the older
// session is told to close it, and every node routes to the newer.
func TestResourceConflictAcrossNodes(t *testing.T) {
	secret := writeSecret(t)
	var mu sync.Mutex
	var conflicts []string
	start := func(name string, join []string) testNode {
		opts := Options{NodeName: name, Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", Join: join, SecretFile: secret, tune: fastTimers}
		n, err := Start(context.Background(), opts, testLogger(t), Hooks{Conflict: func(full string) {
			mu.Lock()
			conflicts = append(conflicts, name+" "+full)
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Stop(context.Background()) })
		if err := n.WaitReady(context.Background()); err != nil {
			t.Fatal(err)
		}
		return testNode{Node: n}
	}
	n1 := start("n1", nil)
	n2 := start("n2", []string{n1.GossipAddr()})
	n3 := start("n3", []string{n1.GossipAddr()})
	eventually(t, "three members", sameMembers(n1, n2, n3))
	eventually(t, "all links up", func() bool {
		return n1.Stats().Links == 2 && n2.Stats().Links == 2 && n3.Stats().Links == 2
	})
	const jid = "eve@a.test/r"
	n1.Bind(jid)
	eventually(t, "n3 sees eve on n1", func() bool { node, _ := n3.Lookup(jid); return node == "n1" })
	n2.Bind(jid)
	eventually(t, "n1 is told its session is displaced", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(conflicts, "n1 "+jid)
	})
	for _, n := range []testNode{n1, n2, n3} {
		eventually(t, n.name+" routes eve to n2", func() bool { node, _ := n.Lookup(jid); return node == "n2" })
	}
	n1.Unbind(jid) // what the server does on closing the old session
	eventually(t, "n3 still routes eve to n2", func() bool {
		b := n3.Bindings("eve@a.test")
		return len(b) == 1 && b[0].Node == "n2"
	})
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(conflicts, "n2 "+jid) || slices.Contains(conflicts, "n3 "+jid) {
		t.Fatalf("the newer session was told off: %v", conflicts)
	}
}
