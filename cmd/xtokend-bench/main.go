// Command xtokend-bench is a load tool for XMPP servers over TCP, or over WebSocket (RFC 7395)
// with -ws: it measures logins per
// second, messages per second and the memory of idle sessions, the same way for xtokend
// (SASL X-TOKEN, with tokens it mints itself from the host's key files) and for a peer
// server such as Prosody (SASL PLAIN), so that both can be compared in one run.
//
// Usage:
//
//	xtokend-bench logins   [flags]   connect, log in, bind, close; at each -c concurrency
//	xtokend-bench messages [flags]   -pairs sessions pairs bounce -window messages each
//	xtokend-bench idle     [flags]   hold -n bound sessions; prints "READY n" on stdout
//	xtokend-bench soak     [flags]   hold -idle sessions under -rate logins/s for -duration,
//	                                 sample the server, ping the sessions; exit 3 on any loss
//	xtokend-bench rosters  [flags]   logins with a roster get, initial presence and the
//	                                 presence of -online contacts kept online
//	xtokend-bench offline  [flags]   -pairs senders store -messages each for offline
//	                                 receivers, who then log in and receive them
//	xtokend-bench fanout   [flags]   one user's presence changes to -subscribers contacts
//	                                 kept online; latency of every delivery
//	xtokend-bench resume   [flags]   drop the connection, reconnect, SASL and resume the
//	                                 stream-management session (XEP-0198), at each -c
//	xtokend-bench seed     [flags]   writes the rosters of the rosters mode into a server
//	xtokend-bench report   [flags] results.jsonl...   writes BENCHMARKS.md and its SVG plots
//	xtokend-bench floor    [flags]   a stand-in server answering logins from canned bytes:
//	                                 the floor of a login's cost under this tool
//
// It speaks the protocol with pre-built byte strings and a small scanner that only finds
// where each stanza ends, so that little of the tool's CPU is its own: most of it is the
// kernel's TCP (on loopback a sender's system calls run the receiver's side too), as much
// per login as a lean server's. Every result line says how much CPU the tool and the
// server used.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: xtokend-bench logins|messages|idle|soak|rosters|offline|fanout|resume|seed|report|floor [flags]  (-h for the flags of each)`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if path := os.Getenv("XTOKEND_BENCH_CPUPROFILE"); path != "" {
		// Profiles the tool itself, to keep it from being the bottleneck.
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "logins":
		err = runLogins(ctx, args[1:], stdout, stderr)
	case "messages":
		err = runMessages(ctx, args[1:], stdout, stderr)
	case "idle":
		err = runIdle(ctx, args[1:], stdout, stderr)
	case "soak":
		err = runSoak(ctx, args[1:], stdout, stderr)
	case "rosters":
		err = runRosters(ctx, args[1:], stdout, stderr)
	case "offline":
		err = runOffline(ctx, args[1:], stdout, stderr)
	case "fanout":
		err = runFanout(ctx, args[1:], stdout, stderr)
	case "resume":
		err = runResume(ctx, args[1:], stdout, stderr)
	case "seed":
		err = runSeed(ctx, args[1:], stdout, stderr)
	case "report":
		err = runReport(args[1:], stdout, stderr)
	case "floor":
		err = runFloor(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "xtokend-bench:", err)
		return 2
	}
	if errors.Is(err, errSoakFailed) {
		fmt.Fprintln(stderr, "xtokend-bench:", err)
		return 3
	}
	if err != nil {
		fmt.Fprintln(stderr, "xtokend-bench:", err)
		return 1
	}
	return 0
}

type usageError string

func (e usageError) Error() string { return string(e) }

// common are the flags every load mode takes.
type common struct {
	addr, host, server string
	mech               string
	password           string
	secretFile         string
	seedFile           string
	otpDigits          int
	otpPeriod          int
	nonceDigits        int
	useTLS             bool
	resume             bool
	timeout            time.Duration
	serverPID          int
	userPrefix         string
	jsonPath           string
	wsURL              string
	pipeline, sasl2    bool
	from               string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:5222", "server `host:port` (loopback only)")
	fs.StringVar(&c.host, "host", "localhost", "virtual host (the stream's to)")
	fs.StringVar(&c.server, "server", "server", "name of the server in the results")
	fs.StringVar(&c.mech, "mech", "X-TOKEN", "SASL mechanism: X-TOKEN or PLAIN")
	fs.StringVar(&c.password, "password", "bench", "password for PLAIN")
	fs.StringVar(&c.secretFile, "secret-file", "", "X-TOKEN: the host's access_secret file (raw)")
	fs.StringVar(&c.seedFile, "seed-file", "", "X-TOKEN: the host's otp_seed file (base32)")
	fs.IntVar(&c.otpDigits, "otp-digits", 8, "X-TOKEN: OTP digits")
	fs.IntVar(&c.otpPeriod, "otp-period", 30, "X-TOKEN: OTP period in seconds")
	fs.IntVar(&c.nonceDigits, "nonce-digits", 32, "X-TOKEN: nonce digits")
	fs.BoolVar(&c.useTLS, "tls", false, "STARTTLS before SASL (the certificate is not verified)")
	fs.BoolVar(&c.resume, "tls-resume", false, "resume TLS sessions from earlier logins (tickets) instead of full handshakes")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "limit for one login")
	fs.IntVar(&c.serverPID, "server-pid", 0, "the server's `pid`, to report its CPU per op and RSS")
	fs.StringVar(&c.userPrefix, "user-prefix", "u", "usernames are prefix + number")
	fs.StringVar(&c.jsonPath, "json", "", "append results as JSON lines to this `file`")
	fs.BoolVar(&c.pipeline, "pipeline", true, "send each stream's first element (<starttls/>, <auth/>, the bind iq) with its header, not after the features (TCP only)")
	fs.BoolVar(&c.sasl2, "sasl2", false, "log in with SASL2 (XEP-0388) and bind inline with Bind2 (XEP-0386): one stream, no restart")
	fs.StringVar(&c.from, "from", "", "connect from this loopback `address` (127.0.0.2, ...) instead of the system's choice: "+
		"a load beside many sessions held from 127.0.0.1 then finds free ports at once")
	fs.StringVar(&c.wsURL, "ws", "", "speak XMPP over WebSocket (RFC 7395, subprotocol xmpp) at this ws:// or wss:// `URL` instead of TCP at -addr")
}

// transport names how the tool connects, for the results: "tcp" or "websocket".
func (c *common) transport() string {
	if c.wsURL != "" {
		return "websocket"
	}
	return "tcp"
}

func (c *common) target() (*target, error) {
	if c.wsURL != "" {
		// The URL says where to connect: -addr follows it (loopback check, -sources).
		hp, err := wsHostPort(c.wsURL)
		if err != nil {
			return nil, err
		}
		c.addr = hp
	}
	if !isLoopback(c.addr) {
		return nil, usageError("-addr must be a loopback address: this tool only loads servers on this machine")
	}
	t := &target{addr: c.addr, host: c.host, mech: strings.ToUpper(c.mech), password: c.password, useTLS: c.useTLS, resume: c.resume, timeout: c.timeout, wsURL: c.wsURL,
		pipeline: c.pipeline, sasl2: c.sasl2}
	if c.from != "" {
		ip := net.ParseIP(c.from)
		if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
			return nil, usageError(fmt.Sprintf("-from %q: not an IPv4 loopback address", c.from))
		}
		t.sources = []net.IP{ip}
	}
	switch t.mech {
	case "PLAIN":
	case "X-TOKEN":
		if c.secretFile == "" || c.seedFile == "" {
			return nil, usageError("X-TOKEN needs -secret-file and -seed-file")
		}
		k, err := loadTokenKeys(c.secretFile, c.seedFile, c.otpDigits, c.otpPeriod, c.nonceDigits)
		if err != nil {
			return nil, err
		}
		t.keys = k
	default:
		return nil, usageError("-mech must be X-TOKEN or PLAIN")
	}
	if err := t.init(); err != nil {
		return nil, err
	}
	return t, nil
}

func (c *common) output(stdout io.Writer) (io.Writer, func(), error) {
	if c.jsonPath == "" {
		return nil, func() {}, nil
	}
	f, err := os.OpenFile(c.jsonPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// targetAndOutput is what a load mode starts with: c's target, and where its JSON lines go
// (closeOut closes that).
func (c *common) targetAndOutput(stdout io.Writer) (t *target, jsonOut io.Writer, closeOut func(), err error) {
	if t, err = c.target(); err != nil {
		return nil, nil, nil, err
	}
	if jsonOut, closeOut, err = c.output(stdout); err != nil {
		return nil, nil, nil, err
	}
	return t, jsonOut, closeOut, nil
}

// perLevel measures at each level in turn (concurrency, or pairs) against c's target, and
// prints each result, with its JSON line when -json is set.
func (c *common) perLevel(ctx context.Context, stdout io.Writer, levels []int, measure func(t *target, n int) (*result, error)) error {
	t, jsonOut, closeOut, err := c.targetAndOutput(stdout)
	if err != nil {
		return err
	}
	defer closeOut()
	for _, n := range levels {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := measure(t, n)
		if err != nil {
			return err
		}
		r.print(stdout, jsonOut)
	}
	return nil
}

func isLoopback(addr string) bool {
	h := addr
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		h = addr[:i]
	}
	h = strings.Trim(h, "[]")
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, usageError(fmt.Sprintf("bad number %q in %q", f, s))
		}
		out = append(out, n)
	}
	return out, nil
}
