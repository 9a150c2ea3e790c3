package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/xtokend/xtokend/config"
)

func TestLimitKey(t *testing.T) {
	l, _ := NewLimiter(config.LimitOptions{})
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"192.0.2.7:5222", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
		{"[2001:db8:1:2::9]:443", "2001:db8:1:2::"},
		{"fe80::1%eth0", "fe80::"},
		{"@", ""},
		{"", ""},
	} {
		got := ""
		if k, ok := l.key(tc.in); ok {
			got = k.String()
		}
		if got != tc.want {
			t.Errorf("key(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLimitOptionsValidate(t *testing.T) {
	if err := config.DefaultLimitOptions().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if err := (config.LimitOptions{}).Validate(); err != nil {
		t.Fatalf("the zero value: %v", err)
	}
	for name, mutate := range map[string]func(*config.LimitOptions){
		"connections_per_second":   func(o *config.LimitOptions) { o.ConnectionsPerSecond = -1 },
		"connection_burst":         func(o *config.LimitOptions) { o.ConnectionBurst = 0 },
		"failed_logins_per_minute": func(o *config.LimitOptions) { o.FailedLoginsPerMinute = -0.5 },
		"failed_login_burst":       func(o *config.LimitOptions) { o.FailedLoginBurst = -3 },
		"max_tracked_addresses":    func(o *config.LimitOptions) { o.MaxTrackedAddresses = -1 },
		"exempt":                   func(o *config.LimitOptions) { o.Exempt = []string{"10.0.0.0/8", "localhost"} },
	} {
		o := config.DefaultLimitOptions()
		mutate(&o)
		err := o.Validate()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if want := "limits." + name; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
			t.Errorf("%s: error %q does not name the option", name, err)
		}
		if _, err := NewLimiter(o); err == nil {
			t.Errorf("%s: NewLimiter accepted it", name)
		}
	}
}

// fakeClock lets the bucket tests move time by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLimiter(t *testing.T, opts config.LimitOptions) (*Limiter, *fakeClock) {
	t.Helper()
	l, err := NewLimiter(opts)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l.now = clock.now
	return l, clock
}

func TestConnectionLimit(t *testing.T) {
	l, clock := newTestLimiter(t, config.LimitOptions{ConnectionsPerSecond: 2, ConnectionBurst: 5, MaxTrackedAddresses: 10})
	for i := range 5 {
		if !l.AllowConnection("192.0.2.1") {
			t.Fatalf("connection %d of the burst refused", i)
		}
	}
	if l.AllowConnection("192.0.2.1") {
		t.Fatal("connection past the burst allowed")
	}
	if !l.AllowConnection("192.0.2.2") {
		t.Fatal("another address was limited too")
	}
	clock.advance(500 * time.Millisecond) // one token at 2/s
	if !l.AllowConnection("192.0.2.1") {
		t.Fatal("refilled token refused")
	}
	if l.AllowConnection("192.0.2.1") {
		t.Fatal("more than the refill allowed")
	}
	// The login limiter is off: it never refuses.
	for range 100 {
		if over := l.LoginFailed("192.0.2.1", "localhost", "alice"); over != notLimited {
			t.Fatalf("failure over the %s limit with the login limit off", over)
		}
	}
}

// Failed logins are limited per address (an IPv6 /64) and per user (a
// username on a host); a bucket refills at its rate and never holds more
// than its burst.
func TestFailedLoginLimit(t *testing.T) {
	l, clock := newTestLimiter(t, config.LimitOptions{FailedLoginsPerMinute: 6, FailedLoginBurst: 3, MaxTrackedAddresses: 10})
	ip := "2001:db8::1"
	for i := range 3 {
		if over := l.LoginFailed(ip, "localhost", fmt.Sprintf("user%d", i)); over != notLimited {
			t.Fatalf("failure %d of the burst over the %s limit", i, over)
		}
	}
	if over := l.LoginFailed(ip, "localhost", "user9"); over != limitedByAddr {
		t.Fatalf("failure past the address's burst: %q, want %q", over, limitedByAddr)
	}
	if over := l.LoginFailed("2001:db8::2", "localhost", ""); over != limitedByAddr { // same /64
		t.Fatal("the same /64 was not limited")
	}
	if over := l.LoginFailed("2001:db8:0:1::2", "localhost", ""); over != notLimited {
		t.Fatal("another /64 was limited")
	}
	clock.advance(10 * time.Second) // 6/min: one token
	if over := l.LoginFailed(ip, "localhost", ""); over != notLimited {
		t.Fatal("refilled failure over the limit")
	}

	// Per user: failures for bob from many addresses empty bob's bucket,
	// not alice's, nor bob's on another host.
	for i := range 3 {
		if over := l.LoginFailed(fmt.Sprintf("192.0.2.%d", i), "localhost", "bob"); over != notLimited {
			t.Fatalf("failure %d for bob over the %s limit", i, over)
		}
	}
	if over := l.LoginFailed("192.0.2.10", "localhost", "bob"); over != limitedByUser {
		t.Fatalf("failure for bob past his burst: %q, want %q", over, limitedByUser)
	}
	if over := l.LoginFailed("192.0.2.11", "localhost", "alice"); over != notLimited {
		t.Fatalf("alice limited by bob's failures (%s)", over)
	}
	if over := l.LoginFailed("192.0.2.12", "other.example", "bob"); over != notLimited {
		t.Fatalf("bob on another host limited (%s)", over)
	}

	// A bucket never holds more than its burst, however long it rests.
	clock.advance(time.Hour)
	passed := 0
	for range 10 {
		if l.LoginFailed(ip, "localhost", "") == notLimited {
			passed++
		}
	}
	if passed != 3 {
		t.Fatalf("after an hour %d failures passed, want the burst of 3", passed)
	}
}

func TestLimiterBounded(t *testing.T) {
	l, clock := newTestLimiter(t, config.LimitOptions{ConnectionsPerSecond: 1, ConnectionBurst: 1, MaxTrackedAddresses: 100})
	for i := range 1000 {
		ip := fmt.Sprintf("10.0.%d.%d", i/256, i%256)
		if !l.AllowConnection(ip) {
			t.Fatalf("first connection of %s refused", ip)
		}
		if n := l.conns.len(); n > 100 {
			t.Fatalf("%d addresses tracked, bound is 100", n)
		}
	}
	// Once every bucket is full again, a sweep drops them all.
	clock.advance(2 * sweepEvery)
	l.AllowConnection("10.9.9.9")
	if n := l.conns.len(); n != 1 {
		t.Fatalf("%d addresses tracked after the sweep, want 1", n)
	}
}

func TestLimiterExempt(t *testing.T) {
	opts := config.LimitOptions{ConnectionsPerSecond: 1, ConnectionBurst: 1, FailedLoginsPerMinute: 1, FailedLoginBurst: 1,
		Exempt: []string{"127.0.0.0/8", "::1", "2001:db8:aa::/48"}}
	l, _ := newTestLimiter(t, opts)
	for _, ip := range []string{"127.0.0.1", "127.9.9.9:1234", "::1", "[::1]:5222", "::ffff:127.0.0.1", "2001:db8:aa:1::1"} {
		for i := range 5 {
			if !l.AllowConnection(ip) || l.LoginFailed(ip, "localhost", "alice") != notLimited {
				t.Fatalf("exempt %s limited at try %d", ip, i)
			}
		}
	}
	if l.conns.len() != 0 || l.logins.len() != 0 || l.users.len() != 0 {
		t.Error("exempt addresses were tracked")
	}
	if !l.AllowConnection("192.0.2.1") || l.AllowConnection("192.0.2.1") {
		t.Error("a non-exempt address was not limited")
	}
	// The zero options limit nothing.
	zero, _ := newTestLimiter(t, config.LimitOptions{})
	for range 1000 {
		if !zero.AllowConnection("192.0.2.1") || zero.LoginFailed("192.0.2.1", "localhost", "alice") != notLimited {
			t.Fatal("the zero config.LimitOptions limited")
		}
	}
}

func TestNilLimiterAllows(t *testing.T) {
	var l *Limiter
	if !l.AllowConnection("x") || l.LoginFailed("x", "localhost", "alice") != notLimited {
		t.Fatal("nil limiter refused")
	}
}

func BenchmarkAllowConnection(b *testing.B) {
	l, _ := NewLimiter(config.DefaultLimitOptions())
	ips := make([]string, 1024)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.1.%d.%d:40000", i/256, i%256)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		l.AllowConnection(ips[i%len(ips)])
	}
}

// BenchmarkLoginFailed is the cost the failed-login limits add to a failed
// attempt (both buckets charged), beside BenchmarkAllowConnection.
func BenchmarkLoginFailed(b *testing.B) {
	opts := config.DefaultLimitOptions()
	opts.Exempt = nil
	l, _ := NewLimiter(opts)
	ips := make([]string, 1024)
	users := make([]string, 1024)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.1.%d.%d:40000", i/256, i%256)
		users[i] = fmt.Sprintf("user%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		l.LoginFailed(ips[i%len(ips)], "example.com", users[(i*7)%len(users)])
	}
}
