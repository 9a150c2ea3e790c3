package server

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// TestFASTQueueRevocationNotDropped: with the queue full behind a slow
// peer, a login's event is dropped, but an operator's revocation waits its
// turn, goes out after the events before it, and reports the peers the
// send did not reach.
func TestFASTQueueRevocationNotDropped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	sent := make(chan fastEvent, 16)
	send := func(_ context.Context, b []byte) []string {
		<-release
		e, err := decodeFASTEvent(b)
		if err != nil {
			t.Errorf("decode: %v", err)
		}
		sent <- e
		if e.kind == fastEventRevoke {
			return []string{"node3"}
		}
		return nil
	}
	fq := newFASTQueue(ctx, 2, send, slog.New(slog.NewTextHandler(io.Discard, nil)))
	issue := func(agent string) fastEvent {
		return fastEvent{kind: fastEventIssue, user: fastUser{"h", "alice", agent}, token: fastToken{secret: "s", mechanism: fastMechanism}}
	}
	// One event held by send, two queued, the fourth dropped.
	for _, a := range []string{"ua1", "ua2", "ua3", "ua4"} {
		fq.share(issue(a))
		time.Sleep(10 * time.Millisecond) // let the goroutine take ua1 first
	}

	got := make(chan []string, 1)
	go func() {
		got <- fq.shareWait(context.Background(), fastEvent{kind: fastEventRevoke, user: fastUser{"h", "alice", ""}})
	}()
	select {
	case u := <-got:
		t.Fatalf("shareWait returned %v before its turn", u)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	var unreached []string
	select {
	case unreached = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("shareWait did not return")
	}
	if !slices.Equal(unreached, []string{"node3"}) {
		t.Errorf("unreached = %v, want [node3]", unreached)
	}
	var order []string
	for len(sent) > 0 {
		e := <-sent
		order = append(order, e.user.agent)
	}
	if want := []string{"ua1", "ua2", "ua3", ""}; !slices.Equal(order, want) {
		t.Errorf("sent in the order %q, want %q (ua4 dropped, the revocation last)", order, want)
	}
}
