package sasl

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeShared is a SharedReplay in memory, recording what it is asked.
type fakeShared struct {
	mu    sync.Mutex
	seen  map[string]bool
	calls []sharedCall
	err   error
}

type sharedCall struct {
	host, node string
	id         []byte
	expiry     time.Time
	ctxErr     error
}

func (f *fakeShared) CheckAndRemember(ctx context.Context, host, node string, id []byte, expiry time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, sharedCall{host, node, append([]byte(nil), id...), expiry, ctx.Err()})
	if f.err != nil {
		return false, f.err
	}
	k := host + "\x00" + node + "\x00" + string(id)
	if f.seen[k] {
		return false, nil
	}
	f.seen[k] = true
	return true, nil
}

func TestSharedReplay(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	shared := &fakeShared{seen: map[string]bool{}}
	v, err := NewSharedVerifier("localhost", testKeys["localhost"], DefaultOptions(), shared)
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, v, "alice", now)
	resp := []byte("\x00Alice\x00" + tok)
	ctx := context.Background()

	// Forged tokens never reach the shared check.
	if _, err := v.Verify(ctx, []byte("\x00alice\x00"+flipDigit(tok, 20)), now); cond(err) != NotAuthorized {
		t.Fatalf("forged: %v", err)
	}
	if len(shared.calls) != 0 {
		t.Fatal("a forged token was sent to the shared replay check")
	}
	if node, err := v.Verify(ctx, resp, now); err != nil || node != "alice" {
		t.Fatalf("first use: %q, %v", node, err)
	}
	c := shared.calls[0]
	if c.host != "localhost" || c.node != "alice" || len(c.id) != replayIDSize {
		t.Fatalf("asked %+v: want host localhost, the normalized node, a 16-byte id", c)
	}
	// The OTP is of now's step: it verifies until the end of step+skew.
	if want := now.Add(60 * time.Second); !c.expiry.Equal(want) {
		t.Fatalf("expiry %v, want %v", c.expiry, want)
	}
	if _, err := v.Verify(ctx, resp, now); cond(err) != NotAuthorized {
		t.Fatalf("second use: %v, want not-authorized", err)
	}

	// The check failing fails the login with temporary-auth-failure.
	shared.err = errors.New("cluster: no such live node")
	if _, err := v.Verify(ctx, []byte("\x00alice\x00"+mint(t, v, "alice", now)), now); cond(err) != TemporaryAuthFailure {
		t.Fatalf("check failed: %v, want temporary-auth-failure", err)
	}
	// The context reaches the check.
	shared.err = nil
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	v.Verify(cctx, []byte("\x00alice\x00"+mint(t, v, "alice", now)), now)
	if last := shared.calls[len(shared.calls)-1]; last.ctxErr == nil {
		t.Fatal("the check did not get the caller's context")
	}

	// replay_protection = false: no check at all.
	opts := DefaultOptions()
	opts.ReplayProtection = false
	off, err := NewSharedVerifier("localhost", testKeys["localhost"], opts, shared)
	if err != nil {
		t.Fatal(err)
	}
	n := len(shared.calls)
	for range 2 {
		if _, err := off.Verify(context.Background(), resp, now); err != nil {
			t.Fatal(err)
		}
	}
	if len(shared.calls) != n {
		t.Fatal("replay_protection = false still asked the shared check")
	}
}
