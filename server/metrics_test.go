package server

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// scrape fetches url and returns the body, failing the test on a non-200.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// metricValue finds one sample of the text exposition format, by its name
// and labels exactly as printed (e.g. `xtokend_sessions{host="localhost"}`).
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("series %s not in the scrape:\n%s", series, body)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("series %s: %v", series, err)
	}
	return v
}

func TestMetricsEndpoint(t *testing.T) {
	replay := 0
	m := NewMetrics([]string{"localhost", "first.com"}, func() int { return replay })
	log, _ := testLogger()
	ms, err := startMetrics("127.0.0.1:0", m, log)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close(context.Background())
	base := "http://" + ms.Addr().String()

	if body := scrape(t, base+"/healthz"); strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz = %q", body)
	}
	body := scrape(t, base+"/metrics")
	if v := metricValue(t, body, `xtokend_logins_total{host="first.com",result="success"}`); v != 0 {
		t.Fatalf("logins before any login = %v", v)
	}
	if !strings.Contains(body, "go_goroutines ") || !strings.Contains(body, "process_") {
		t.Error("the Go runtime and process collectors are missing")
	}

	m.OnLogin("localhost", "", true)
	m.OnLogin("localhost", "not-authorized", false)
	m.OnLogin("localhost", "not-authorized", false)
	m.OnLogin("first.com", "malformed-request", false)
	// Values a client controls never become new label values.
	m.OnLogin("evil.example", "<script>", false)
	m.OnSessionStart("localhost", "tcp")
	m.OnSessionStart("localhost", "tcp")
	m.OnSessionEnd("localhost", "tcp")
	m.OnSessionStart("localhost", "websocket")
	m.OnSessionStart("localhost", "carrier-pigeon")
	m.OnStanza("message")
	m.OnStanza("iq")
	m.OnStanza("bogus")
	m.OnLimited("login")
	m.OnReload(false)
	replay = 42

	body = scrape(t, base+"/metrics")
	for series, want := range map[string]float64{
		`xtokend_logins_total{host="localhost",result="success"}`:                     1,
		`xtokend_logins_total{host="localhost",result="failure"}`:                     2,
		`xtokend_sasl_failures_total{condition="not-authorized",host="localhost"}`:    2,
		`xtokend_sasl_failures_total{condition="malformed-request",host="first.com"}`: 1,
		`xtokend_logins_total{host="other",result="failure"}`:                         1,
		`xtokend_sasl_failures_total{condition="other",host="other"}`:                 1,
		`xtokend_sessions{host="localhost",transport="tcp"}`:                          1,
		`xtokend_sessions{host="localhost",transport="websocket"}`:                    1,
		`xtokend_sessions{host="localhost",transport="other"}`:                        1,
		`xtokend_sessions{host="first.com",transport="websocket"}`:                    0,
		`xtokend_stanzas_routed_total{kind="message"}`:                                1,
		`xtokend_stanzas_routed_total{kind="iq"}`:                                     1,
		`xtokend_stanzas_routed_total{kind="other"}`:                                  1,
		`xtokend_rate_limited_total{what="login"}`:                                    1,
		`xtokend_reloads_total{result="failure"}`:                                     1,
		`xtokend_replay_cache_tokens`:                                                 42,
	} {
		if got := metricValue(t, body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if strings.Contains(body, "evil.example") || strings.Contains(body, "<script>") {
		t.Error("a client-chosen value became a label")
	}
}

func TestMetricsPrivateRegistry(t *testing.T) {
	// Two servers in one process must not share or clash.
	a := NewMetrics([]string{"localhost"}, nil)
	b := NewMetrics([]string{"localhost"}, nil)
	a.OnLogin("localhost", "", true)
	ra := httpBody(t, a)
	rb := httpBody(t, b)
	if metricValue(t, ra, `xtokend_logins_total{host="localhost",result="success"}`) != 1 ||
		metricValue(t, rb, `xtokend_logins_total{host="localhost",result="success"}`) != 0 {
		t.Fatal("the registries are shared")
	}
	var nilMetrics *Metrics
	nilMetrics.OnLogin("x", "", true) // a server without metrics passes nil
	nilMetrics.OnStanza("message")
}

func httpBody(t *testing.T, m *Metrics) string {
	t.Helper()
	log, _ := testLogger()
	ms, err := startMetrics("127.0.0.1:0", m, log)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close(context.Background())
	return scrape(t, "http://"+ms.Addr().String()+"/metrics")
}

// BenchmarkMetricsPerLogin is what a login and its session count: one
// login, a session's start and end, two routed stanzas.
func BenchmarkMetricsPerLogin(b *testing.B) {
	m := NewMetrics([]string{"localhost", "example.org"}, nil)
	b.ReportAllocs()
	for b.Loop() {
		m.OnLogin("example.org", "", true)
		m.OnSessionStart("example.org", "tcp")
		m.OnStanza("message")
		m.OnStanza("presence")
		m.OnSessionEnd("example.org", "tcp")
	}
}
