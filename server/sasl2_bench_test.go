package server_test

import (
	"bufio"
	"encoding/base64"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// BenchmarkLogin{XToken,SASL2,FAST}: one login per iteration over loopback
// TCP, by a raw client that sends each step only once the answer it waits
// for arrived (a round trip), then ends its stream:
//
//   - XToken: RFC 6120's SASL with X-TOKEN, the stream restart, a bind
//     iq: 4 round trips.
//   - SASL2: SASL2 with X-TOKEN and Bind2: 2 round trips.
//   - FAST: SASL2 with a FAST token (HT-SHA-256-NONE) and Bind2: 2 round
//     trips, no X-TOKEN; each login's success carries the next token.
//
// Tokens are minted before the timer starts. cpu-µs/login is the process's
// CPU time (server and the raw client together) per login.
func BenchmarkLoginXToken(b *testing.B) {
	benchLogin(b, 4, func(ts *servertest.Server, token string) []string {
		resp := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + token))
		return []string{wHeader, "</stream:features>", strings.Replace(wAuth, "{TOKEN}", resp, 1), "<success", wHeader, "</stream:features>", wBindOpen + "</bind></iq>", "</iq>"}
	})
}

func BenchmarkLoginSASL2(b *testing.B) {
	benchLogin(b, 2, func(ts *servertest.Server, token string) []string {
		resp := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + token))
		return []string{wHeader, "</stream:features>", strings.Replace(wAuth2Bind, "{TOKEN}", resp, 1), "</success>"}
	})
}

func BenchmarkLoginFAST(b *testing.B) {
	const ua = "d4565fa7-4d72-4749-b3d3-740edbf87770"
	benchLogin(b, 2, nil, ua)
}

// benchLogin runs the logins; steps gives a login's script for an X-TOKEN
// (what to send, then what to wait for, in turns). With steps nil the
// logins are FAST ones for user agent ua[0], the first token asked for
// by an X-TOKEN login before the timer.
func benchLogin(b *testing.B, roundTrips int, steps func(*servertest.Server, string) []string, ua ...string) {
	ts := servertest.Start(b, servertest.Options{})
	var fast string
	if steps == nil {
		resp := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + ts.Mint(b, "alice@localhost")))
		got := runScript(b, ts, []string{wHeader, "</stream:features>",
			strings.Replace(wAuth2Open+wInitial+"<user-agent id='"+ua[0]+"'/>"+"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/></authenticate>", "{TOKEN}", resp, 1), "</success>"})
		fast = wireFASTToken.FindStringSubmatch(strings.ReplaceAll(got, `"`, "'"))[1]
	}
	tokens := make([]string, b.N)
	if steps != nil {
		for i := range tokens {
			tokens[i] = ts.Mint(b, "alice@localhost")
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		if steps != nil {
			runScript(b, ts, steps(ts, tokens[i]))
			continue
		}
		got := runScript(b, ts, []string{wHeader, "</stream:features>", fastAuth(fast, ua[0], ""), "</success>"})
		m := wireFASTToken.FindStringSubmatch(strings.ReplaceAll(got, `"`, "'"))
		if m == nil {
			b.Fatalf("no new FAST token: %q", got)
		}
		fast = m[1]
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/login")
	b.ReportMetric(float64(roundTrips), "round-trips/login")
}

// runScript dials ts and plays script: what to send, then the marker of
// the answer to wait for, in turns; it ends the stream and returns what the
// last answer held.
func runScript(b *testing.B, ts *servertest.Server, script []string) string {
	conn := rawDial(b, ts, "")
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitLimit))
	r := bufio.NewReader(conn)
	var got strings.Builder
	for i := 0; i < len(script); i += 2 {
		if _, err := conn.Write([]byte(script[i])); err != nil {
			b.Fatal(err)
		}
		got.Reset()
		for !strings.Contains(got.String(), script[i+1]) {
			s, err := r.ReadString('>')
			if err != nil {
				b.Fatalf("waiting for %q: %v (got %q)", script[i+1], err, got.String())
			}
			got.WriteString(s)
		}
	}
	conn.Write([]byte(wEnd))
	return got.String()
}

// processCPU is the process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
