package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// crash plays a SIGKILL: the node's links and listeners close without a
// bye and without leaving, so the others find out by failure detection.
func crash(t *testing.T, n testNode) {
	t.Helper()
	if err := n.shutdown(context.Background(), false); err != nil {
		t.Logf("crash %s: %v", n.name, err)
	}
}

// usersOwnedBy returns count user names whose two replay owners, among
// members, include owner.
func usersOwnedBy(members []string, owner string, count int) []string {
	var users []string
	for i := 0; len(users) < count; i++ {
		u := fmt.Sprintf("user%d", i)
		if slices.Contains(rendezvous(members, "a.test", u), owner) {
			users = append(users, u)
		}
	}
	return users
}

// TestCrashedOwnerKeepsLoginsGoing: after one node of three dies without a
// word, replay checks on the survivors for users it owned keep succeeding
// while memberlist has not yet declared it dead, and still refuse every
// token used before or during the outage. Before the fallback owner, each
// of these checks failed until the membership converged (5-6 s with
// memberlist's LAN timers, about 4 s with the tests' faster ones).
func TestCrashedOwnerKeepsLoginsGoing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	secret := writeSecret(t)
	n1 := startNode(t, "n1", secret, nil, deadline)
	n2 := startNode(t, "n2", secret, []string{n1.addr()}, deadline)
	n3 := startNode(t, "n3", secret, []string{n1.addr()}, deadline)
	eventually(t, "three members", sameMembers(n1, n2, n3))
	eventually(t, "all links up", func() bool {
		return n1.Stats().Links == 2 && n2.Stats().Links == 2 && n3.Stats().Links == 2
	})
	users := usersOwnedBy([]string{"n1", "n2", "n3"}, "n3", 12)
	exp := time.Now().Add(90 * time.Second)
	ctx := context.Background()
	// Tokens used before the crash, some of them on the node that dies.
	for i, u := range users {
		via := []testNode{n1, n2, n3}[i%3]
		checkFresh(t, via, u, tokenID(i), true)
	}

	crash(t, n3)
	killed := time.Now()
	survivors := []testNode{n1, n2}
	var failures int
	var firstFail, lastFail time.Duration
	var during [][2]string // user, token id used while n3 was a member
	converged := time.Time{}
	for round := 0; ; round++ {
		if converged.IsZero() && sameMembers(n1, n2)() {
			converged = time.Now()
		}
		// Go on for a second after the survivors dropped n3.
		if !converged.IsZero() && time.Since(converged) > time.Second {
			break
		}
		if time.Since(killed) > deadline {
			t.Fatal("the survivors never declared the crashed node dead")
		}
		for i, u := range users {
			first, second := survivors[(round+i)%2], survivors[(round+i+1)%2]
			id := tokenID(1000*(round+1) + i)
			fresh, err := first.CheckAndRemember(ctx, "a.test", u, id, exp)
			if err != nil {
				failures++
				if firstFail == 0 {
					firstFail = time.Since(killed)
				}
				lastFail = time.Since(killed)
				continue
			}
			if !fresh {
				t.Fatalf("%s: a new token of %s is seen as used", first.name, u)
			}
			if converged.IsZero() {
				during = append(during, [2]string{u, string(id)})
			}
			// Replayed at once on the other survivor: refused.
			if fresh, err := second.CheckAndRemember(ctx, "a.test", u, id, exp); err == nil && fresh {
				t.Fatalf("round %d: a token of %s used on %s is fresh again on %s", round, u, first.name, second.name)
			}
			// A token used before the crash stays used.
			if fresh, err := second.CheckAndRemember(ctx, "a.test", u, tokenID(i), exp); err == nil && fresh {
				t.Fatalf("round %d: a token of %s used before the crash is fresh again on %s", round, u, second.name)
			}
		}
	}
	t.Logf("crash to convergence %v; failed checks %d (first %v, last %v after the kill); %d checks made while the dead node was a member",
		converged.Sub(killed).Round(time.Millisecond), failures, firstFail.Round(time.Millisecond), lastFail.Round(time.Millisecond), len(during))
	if failures != 0 {
		t.Fatalf("%d replay checks failed after the crash, from %v to %v", failures, firstFail, lastFail)
	}
	if len(during) == 0 {
		t.Fatal("no check ran while the dead node was still a member: the test measured nothing")
	}
	// Once the membership converged (new owners), what was used during the
	// outage and before it is still refused everywhere.
	for _, d := range during {
		for _, n := range survivors {
			checkFresh(t, n, d[0], []byte(d[1]), false)
		}
	}
	for i, u := range users {
		for _, n := range survivors {
			checkFresh(t, n, u, tokenID(i), false)
		}
	}
}

// TestNoOwnerReachableFailsClosed: when both owners of a user are dead and
// still members, the check fails (temporary-auth-failure) rather than ask
// only members that never saw the user's tokens.
func TestNoOwnerReachableFailsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	secret := writeSecret(t)
	n1 := startNode(t, "n1", secret, nil, deadline)
	n2 := startNode(t, "n2", secret, []string{n1.addr()}, deadline)
	n3 := startNode(t, "n3", secret, []string{n1.addr()}, deadline)
	eventually(t, "three members", sameMembers(n1, n2, n3))
	var user string
	for i := 0; ; i++ {
		u := fmt.Sprintf("user%d", i)
		if !slices.Contains(rendezvous([]string{"n1", "n2", "n3"}, "a.test", u), "n1") {
			user = u
			break
		}
	}
	checkFresh(t, n1, user, tokenID(1), true)
	crash(t, n2)
	crash(t, n3)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	fresh, err := n1.CheckAndRemember(ctx, "a.test", user, tokenID(1), time.Now().Add(time.Minute))
	if len(n1.Members()) != 3 {
		t.Skip("the machine was too slow: the dead owners were dropped before the check")
	}
	if err == nil {
		t.Fatalf("a replayed token was checked with no owner reachable: fresh = %v", fresh)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the check waited for the caller's deadline: %v", err)
	}
}

// TestCrashHandsBackUndelivered: stanzas routed to a node that crashes
// before handling them come back through Hooks.Undelivered (with the sole
// flag they were routed with) instead of vanishing: those the link had
// written and the peer never acked, those still in the link's queue, and
// those waiting in the outbox when the peer was declared dead. Every
// stanza routed reaches the peer's hook or comes back.
func TestCrashHandsBackUndelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	secret := writeSecret(t)
	// The receiver handles one stanza, then its hook blocks until the
	// crash: what follows piles up unacked, in its socket and in the
	// sender's queues.
	release := make(chan struct{})
	var releaseOnce sync.Once
	arrived := &stanzas{}
	rcv := startNodeWith(t, "rcv", secret, nil, func(from string, b []byte) {
		arrived.hook(from, b)
		<-release
	})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	var mu sync.Mutex
	back := make(map[string]bool) // stanza -> sole
	opts := Options{NodeName: "snd", Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", Join: []string{rcv.GossipAddr()},
		SecretFile: secret, JoinTimeout: Duration{deadline}, tune: fastTimers}
	snd, err := Start(context.Background(), opts, testLogger(t), Hooks{RAMKeys: testKeys, Undelivered: func(to string, b []byte, sole bool) {
		if to != "rcv" {
			t.Errorf("undelivered stanza for %q", to)
		}
		mu.Lock()
		back[string(b)] = sole
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snd.Stop(context.Background()) })
	if err := snd.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A third node keeps the membership at two when rcv dies.
	third := startNodeWith(t, "third", secret, []string{rcv.GossipAddr()}, nil)
	eventually(t, "three members", func() bool {
		return len(rcv.Members()) == 3 && len(snd.Members()) == 3 && len(third.Members()) == 3
	})

	pad := strings.Repeat(" ", 512)
	var routed []string
	sole := make(map[string]bool)
	// Until the outbox is full too: the link's queue, the socket buffers and
	// the outbox all hold stanzas when the receiver dies.
	for i := 0; ; i++ {
		msg := fmt.Sprintf("<message id='%d'%s/>", i, pad)
		route := snd.Route
		if i%2 == 1 {
			route = snd.RouteSole
		}
		if err := route("rcv", []byte(msg)); err != nil {
			if errors.Is(err, ErrQueueFull) {
				if st := snd.Stats(); st.StanzasDropped != 1 {
					t.Fatalf("the refusal is not counted once: %+v", st)
				}
				break
			}
			t.Fatalf("route %d: %v", i, err)
		}
		routed = append(routed, msg)
		sole[msg] = i%2 == 1
	}
	eventually(t, "the receiver got the first stanza", func() bool { return arrived.has("snd: " + routed[0]) })

	done := make(chan struct{})
	go func() {
		crash(t, testNode{Node: rcv})
		close(done)
	}()
	releaseOnce.Do(func() { close(release) })
	<-done
	eventually(t, "every stanza routed arrived or came back", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range routed {
			if _, ok := back[m]; !ok && !arrived.has("snd: "+m) {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	if len(back) == 0 {
		t.Fatal("nothing came back: the crash caught no stanza on its way")
	}
	for m, s := range back {
		if s != sole[m] {
			t.Fatalf("a stanza came back with sole = %v, routed with %v", s, sole[m])
		}
	}
	if st := snd.Stats(); st.StanzasDropped != uint64(len(back))+1 {
		t.Fatalf("%d stanzas came back, %d counted as dropped", len(back), st.StanzasDropped)
	}
	t.Logf("%d stanzas routed, %d came back", len(routed), len(back))
}

// TestCrashedNodesSessionsAreReported: when memberlist declares a crashed
// node dead, the others are told which of its sessions went with it (with
// their availability), so that the server can send their unavailable
// presence; a session bound anew elsewhere is not among them, and a node
// that stops after unbinding its sessions reports none.
func TestCrashedNodesSessionsAreReported(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	secret := writeSecret(t)
	var mu sync.Mutex
	lost := make(map[string][]Binding)
	opts := Options{NodeName: "n1", Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", SecretFile: secret, tune: fastTimers}
	node, err := Start(context.Background(), opts, testLogger(t), Hooks{RAMKeys: testKeys, SessionsLost: func(from string, b []Binding) {
		mu.Lock()
		lost[from] = append(lost[from], b...)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Stop(context.Background()) })
	if err := node.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	n1 := testNode{Node: node}
	n2 := startNode(t, "n2", secret, []string{n1.addr()}, deadline)
	n3 := startNode(t, "n3", secret, []string{n1.addr()}, deadline)
	eventually(t, "three members", sameMembers(n1, n2, n3))

	n2.Bind("bob@a.test/1")
	n2.SetAvailability("bob@a.test/1", true, 0)
	n3.Bind("alice@a.test/phone")
	n3.SetAvailability("alice@a.test/phone", true, 5)
	n3.Bind("alice@a.test/tablet")
	n3.Bind("carol@a.test/x")
	eventually(t, "n1 sees the sessions of n2 and n3", func() bool { return len(n1.AllBindings()) == 4 })
	n1.Bind("carol@a.test/x") // newer than n3's
	eventually(t, "n3 sees carol bound anew on n1", func() bool { node, _ := n3.Lookup("carol@a.test/x"); return node == "n1" })

	n2.Unbind("bob@a.test/1") // what the server does before Stop
	stop(t, n2)
	crash(t, n3)
	eventually(t, "n1 is told of n3's sessions", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(lost["n3"]) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	want := []Binding{
		{JID: "alice@a.test/phone", Node: "n3", Available: true, Priority: 5},
		{JID: "alice@a.test/tablet", Node: "n3"},
	}
	if !slices.Equal(lost["n3"], want) {
		t.Fatalf("sessions lost with n3: %v, want %v", lost["n3"], want)
	}
	if len(lost["n2"]) != 0 {
		t.Fatalf("a node that stopped after unbinding reported sessions lost: %v", lost["n2"])
	}
	if _, ok := n1.Lookup("alice@a.test/phone"); ok {
		t.Fatal("a session of the crashed node is still routed to")
	}
}

// TestSilentOwnerIsReplacedAfterTimeout: an owner that is a live member
// with its link up but does not answer (a host gone without a reset, a
// stuck process) costs a check replayAskTimeout, then the fallback stands
// in; the token is still refused everywhere afterwards.
func TestSilentOwnerIsReplacedAfterTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	secret := writeSecret(t)
	release := make(chan struct{})
	var releaseOnce sync.Once
	// Its hook blocks the reader of the link it came on: requests on that
	// link go unanswered.
	stuck := startNodeWith(t, "stuck", secret, nil, func(string, []byte) { <-release })
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	sender := testNode{Node: startNodeWith(t, "sender", secret, []string{stuck.GossipAddr()}, nil)}
	other := testNode{Node: startNodeWith(t, "other", secret, []string{stuck.GossipAddr()}, nil)}
	eventually(t, "three members", sameMembers(testNode{Node: stuck}, sender, other))
	if err := sender.Route("stuck", []byte("<message/>")); err != nil {
		t.Fatal(err)
	}
	users := usersOwnedBy([]string{"stuck", "sender", "other"}, "stuck", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, u := range users {
		fresh, err := sender.CheckAndRemember(ctx, "a.test", u, tokenID(i), time.Now().Add(time.Minute))
		if err != nil || !fresh {
			t.Fatalf("check of %s with a silent owner: fresh %v, err %v", u, fresh, err)
		}
		checkFresh(t, other, u, tokenID(i), false)
	}
	if st := sender.Stats(); st.ReplayFallbacks == 0 {
		t.Fatalf("no fallback counted: %+v", st)
	}
}

// TestTwoNodesOneCrashed: in a cluster of two, both nodes own every user
// and there is no fallback; when one crashes (its links refused), the other
// owner's answer suffices, and a token it saw stays used.
func TestTwoNodesOneCrashed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes")
	}
	secret := writeSecret(t)
	n1 := startNode(t, "n1", secret, nil, deadline)
	n2 := startNode(t, "n2", secret, []string{n1.addr()}, deadline)
	eventually(t, "two members", sameMembers(n1, n2))
	checkFresh(t, n2, "alice", tokenID(1), true)
	crash(t, n2)
	checkFresh(t, n1, "alice", tokenID(1), false)
	checkFresh(t, n1, "alice", tokenID(2), true)
	checkFresh(t, n1, "alice", tokenID(2), false)
	if len(n1.Members()) != 2 {
		t.Log("the crashed node was declared dead before the checks: they did not test the fallback")
	}
}
