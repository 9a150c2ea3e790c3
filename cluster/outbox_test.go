package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// startNodeWith starts a node whose Stanza hook is hook.
func startNodeWith(t *testing.T, name, secret string, join []string, hook func(string, []byte)) *Node {
	t.Helper()
	opts := Options{NodeName: name, Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", Join: join,
		SecretFile: secret, JoinTimeout: Duration{deadline}, tune: fastTimers}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	n, err := Start(ctx, opts, testLogger(t), Hooks{RAMKeys: testKeys, Stanza: hook})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("%s not ready: %v", name, err)
	}
	return n
}

// TestStuckPeerDoesNotBlockRoute: a peer that stops reading its link (its
// Stanza hook blocks, so its link reader does) must not make Route wait.
// Its queue fills, Route refuses with ErrQueueFull (counted), stanzas for
// another peer still go, and once the peer reads again what was queued
// arrives in the order it was routed.
func TestStuckPeerDoesNotBlockRoute(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	secret := writeSecret(t)
	release := make(chan struct{})
	var releaseOnce sync.Once
	var mu sync.Mutex
	var seen []int
	stuckHook := func(_ string, b []byte) {
		<-release
		var i int
		fmt.Sscanf(string(b), "<message id='%d'", &i)
		mu.Lock()
		seen = append(seen, i)
		mu.Unlock()
	}
	free := &stanzas{}
	stuck := startNodeWith(t, "stuck", secret, nil, stuckHook)
	other := startNodeWith(t, "other", secret, []string{stuck.GossipAddr()}, free.hook)
	sender := startNodeWith(t, "sender", secret, []string{stuck.GossipAddr()}, nil)
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before the nodes stop
	eventually(t, "three members", func() bool {
		return len(stuck.Members()) == 3 && len(other.Members()) == 3 && len(sender.Members()) == 3
	})

	// Fill what stands between the sender and the stuck node: kernel
	// buffers, the link's queue, the outbox. Every Route returns at once;
	// the first refusal ends the loop. Before Route had a queue per peer,
	// it waited here until the link's write timeout closed the link.
	pad := strings.Repeat(" ", 1024)
	msg := func(i int) []byte { return []byte(fmt.Sprintf("<message id='%d'%s/>", i, pad)) }
	routed := 0
	for ; ; routed++ {
		err := sender.Route("stuck", msg(routed))
		if errors.Is(err, ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatalf("route %d to the stuck node: %v, want nil or ErrQueueFull", routed, err)
		}
	}
	if st := sender.Stats(); st.StanzasDropped == 0 {
		t.Fatalf("a refused stanza is not counted: %+v", st)
	}
	if err := sender.Route("other", []byte("<message id='x'/>")); err != nil {
		t.Fatalf("route to a node that reads: %v", err)
	}
	eventually(t, "the other node got its stanza while one peer is stuck", func() bool { return free.has("sender: <message id='x'/>") })

	// The stuck node reads again: the queue drains, in order.
	releaseOnce.Do(func() { close(release) })
	eventually(t, "the stuck node's queue took a stanza again", func() bool {
		return sender.Route("stuck", msg(routed)) == nil
	})
	eventually(t, "the last stanza arrived", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1] == routed
	})
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("stanza %d arrived after %d: order lost", seen[i], seen[i-1])
		}
	}
	t.Logf("%d stanzas queued before the refusal, %d arrived", routed, len(seen))
}

// TestRouteSole: a stanza routed with RouteSole reaches the receiver's
// SoleStanza hook (on a peer and on the node itself), one routed with Route
// its Stanza hook; without a SoleStanza hook, Stanza takes both.
func TestRouteSole(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes")
	}
	secret := writeSecret(t)
	got := &stanzas{}
	opts := Options{NodeName: "rcv", Bind: "127.0.0.1:0", LinkListen: "127.0.0.1:0", SecretFile: secret, tune: fastTimers}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	rcv, err := Start(ctx, opts, testLogger(t), Hooks{
		RAMKeys:    testKeys,
		Stanza:     func(from string, b []byte) { got.hook("plain "+from, b) },
		SoleStanza: func(from string, b []byte) { got.hook("sole "+from, b) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rcv.Stop(context.Background()) })
	if err := rcv.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	plainOnly := &stanzas{}
	snd := startNodeWith(t, "snd", secret, []string{rcv.GossipAddr()}, plainOnly.hook)
	eventually(t, "two members", func() bool { return len(rcv.Members()) == 2 && len(snd.Members()) == 2 })

	for _, step := range []struct {
		route func(string, []byte) error
		to    string
		msg   string
		want  func() bool
	}{
		{snd.RouteSole, "rcv", "<message id='1'/>", func() bool { return got.has("sole snd: <message id='1'/>") }},
		{snd.Route, "rcv", "<message id='2'/>", func() bool { return got.has("plain snd: <message id='2'/>") }},
		{rcv.RouteSole, "rcv", "<message id='3'/>", func() bool { return got.has("sole rcv: <message id='3'/>") }},
		{rcv.RouteSole, "snd", "<message id='4'/>", func() bool { return plainOnly.has("rcv: <message id='4'/>") }},
	} {
		if err := step.route(step.to, []byte(step.msg)); err != nil {
			t.Fatalf("%s: %v", step.msg, err)
		}
		eventually(t, step.msg+" through the right hook", step.want)
	}
}

// TestStopDeliversWhatWasRouted: a stanza routed just before Stop reaches
// the peer: Stop says bye on each link and waits for the peer's answer,
// which comes once the peer handled everything before it.
func TestStopDeliversWhatWasRouted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes")
	}
	secret := writeSecret(t)
	got := &stanzas{}
	rcv := startNodeWith(t, "rcv", secret, nil, got.hook)
	snd := startNodeWith(t, "snd", secret, []string{rcv.GossipAddr()}, nil)
	eventually(t, "two members", func() bool { return len(rcv.Members()) == 2 && len(snd.Members()) == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for i := range 100 {
		if err := snd.Route("rcv", []byte(fmt.Sprintf("<message id='%d'/>", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := snd.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if !got.has(fmt.Sprintf("snd: <message id='%d'/>", i)) {
			t.Fatalf("stanza %d routed before Stop never arrived", i)
		}
	}
}
