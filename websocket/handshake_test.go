package websocket

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestHandshake pins who may open a WebSocket, and what the server believes
// of the client's address and encryption.
func TestHandshake(t *testing.T) {
	for _, tc := range []struct {
		name         string
		opts         Options
		hdr          map[string]string
		subprotocols []string
		status       int    // the refusal's HTTP status; 0: accepted
		ip           string // RemoteIP when accepted
		secure       bool
	}{
		{name: "no origin (not a browser)", ip: "127.0.0.1"},
		{name: "origin allowed", opts: Options{Origins: []string{"https://app.example"}}, hdr: map[string]string{"Origin": "https://APP.example"}, ip: "127.0.0.1"},
		{name: "origin refused", opts: Options{Origins: []string{"https://app.example"}}, hdr: map[string]string{"Origin": "https://evil.example"}, status: http.StatusForbidden},
		{name: "origin refused, scheme differs", opts: Options{Origins: []string{"https://app.example"}}, hdr: map[string]string{"Origin": "http://app.example"}, status: http.StatusForbidden},
		{name: "origin of the endpoint's own host", hdr: map[string]string{"Origin": "http://HOST"}, ip: "127.0.0.1"},
		{name: "origin refused, none listed", hdr: map[string]string{"Origin": "https://app.example"}, status: http.StatusForbidden},
		{name: "missing subprotocol", subprotocols: []string{}, status: http.StatusBadRequest},
		{name: "other subprotocol", subprotocols: []string{"mqtt"}, status: http.StatusBadRequest},
		{name: "xmpp among others", subprotocols: []string{"mqtt", "xmpp"}, ip: "127.0.0.1"},
		{name: "tls option", opts: Options{TLS: true}, ip: "127.0.0.1", secure: true},
		{name: "untrusted peer's proxy headers ignored", opts: Options{TrustedProxies: []string{"10.0.0.0/8"}},
			hdr: map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}, ip: "127.0.0.1"},
		{name: "trusted proxy", opts: Options{TrustedProxies: []string{"127.0.0.1/32"}},
			hdr: map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}, ip: "203.0.113.7", secure: true},
		{name: "trusted proxy, spoofed entries on the left", opts: Options{TrustedProxies: []string{"127.0.0.1", "10.0.0.0/8"}},
			hdr: map[string]string{"X-Forwarded-For": "1.2.3.4, 203.0.113.7, 10.1.2.3"}, ip: "203.0.113.7"},
		{name: "trusted proxy, http", opts: Options{TrustedProxies: []string{"127.0.0.0/8"}},
			hdr: map[string]string{"X-Forwarded-For": "[2001:db8::1]:4711", "X-Forwarded-Proto": "http"}, ip: "2001:db8::1"},
		{name: "trusted proxy, no header", opts: Options{TrustedProxies: []string{"127.0.0.0/8"}}, ip: "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts, 0)
			hdr := http.Header{}
			for k, v := range tc.hdr {
				hdr.Set(k, strings.ReplaceAll(v, "HOST", strings.TrimPrefix(f.srv.URL, "http://")))
			}
			client, resp, err := f.dial(t, hdr, tc.subprotocols...)
			if tc.status != 0 {
				if err == nil {
					client.CloseNow()
					t.Fatal("accepted")
				}
				if resp == nil || resp.StatusCode != tc.status {
					t.Fatalf("refused with %v; want HTTP %d", resp, tc.status)
				}
				body, _ := io.ReadAll(resp.Body)
				if !strings.HasPrefix(string(body), "websocket: ") {
					t.Fatalf("refusal body %q gives no reason", body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := <-f.conns
			defer c.Close()
			defer client.CloseNow() // first: Close then has no one to wait for
			if client.Subprotocol() != Subprotocol {
				t.Fatalf("subprotocol %q", client.Subprotocol())
			}
			if c.RemoteIP() != tc.ip || c.Secure() != tc.secure {
				t.Fatalf("RemoteIP %q, Secure %v; want %q, %v", c.RemoteIP(), c.Secure(), tc.ip, tc.secure)
			}
		})
	}
}

// TestNotAnUpgrade: a plain GET of the endpoint gets 426 and a reason.
func TestNotAnUpgrade(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	resp, err := http.Get(f.srv.URL + DefaultPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("%s, Upgrade %q; want 426 with Upgrade: websocket", resp.Status, resp.Header.Get("Upgrade"))
	}
}

func TestHostMeta(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		opts       Options
		hdr        map[string]string
		href       string // "" means the test server's own ws URL
	}{
		{name: "xml", path: HostMetaPath},
		{name: "json", path: HostMetaJSONPath},
		{name: "public_url", path: HostMetaPath, opts: Options{PublicURL: "wss://chat.example/ws"}, href: "wss://chat.example/ws"},
		{name: "tls", path: HostMetaJSONPath, opts: Options{TLS: true, Path: "/ws"}, href: "wss://HOST/ws"},
		{name: "trusted proxy", path: HostMetaPath, opts: Options{TrustedProxies: []string{"127.0.0.1"}},
			hdr: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example"}, href: "wss://chat.example/xmpp-websocket"},
		{name: "untrusted proxy", path: HostMetaPath,
			hdr: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}, href: "ws://HOST/xmpp-websocket"},
		{name: "host escaped", path: HostMetaPath, hdr: map[string]string{"Host": "a'b"}, href: "ws://a'b/xmpp-websocket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts, 0)
			host := strings.TrimPrefix(f.srv.URL, "http://")
			want := strings.ReplaceAll(tc.href, "HOST", host)
			if want == "" {
				want = f.wsURL()
			}
			req, _ := http.NewRequest(http.MethodGet, f.srv.URL+tc.path, nil)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			if h := tc.hdr["Host"]; h != "" {
				req.Host = h
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("%s, Access-Control-Allow-Origin %q", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			var got string
			if tc.path == HostMetaJSONPath {
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Fatalf("Content-Type %q", ct)
				}
				var jrd struct{ Links []struct{ Rel, Href string } }
				if err := json.NewDecoder(resp.Body).Decode(&jrd); err != nil {
					t.Fatal(err)
				}
				if len(jrd.Links) != 1 || jrd.Links[0].Rel != "urn:xmpp:alt-connections:websocket" {
					t.Fatalf("links %+v", jrd.Links)
				}
				got = jrd.Links[0].Href
			} else {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xrd+xml") {
					t.Fatalf("Content-Type %q", ct)
				}
				var xrd struct {
					XMLName xml.Name `xml:"http://docs.oasis-open.org/ns/xri/xrd-1.0 XRD"`
					Links   []struct {
						Rel  string `xml:"rel,attr"`
						Href string `xml:"href,attr"`
					} `xml:"Link"`
				}
				if err := xml.NewDecoder(resp.Body).Decode(&xrd); err != nil {
					t.Fatal(err)
				}
				if len(xrd.Links) != 1 || xrd.Links[0].Rel != "urn:xmpp:alt-connections:websocket" {
					t.Fatalf("links %+v", xrd.Links)
				}
				got = xrd.Links[0].Href
			}
			if got != want {
				t.Fatalf("href %q; want %q", got, want)
			}
		})
	}
}

// TestHostMetaCORS: the preflight a browser sends before a cross-origin
// fetch, and methods host-meta does not serve.
func TestHostMetaCORS(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	for _, path := range []string{HostMetaPath, HostMetaJSONPath} {
		req, _ := http.NewRequest(http.MethodOptions, f.srv.URL+path, nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") {
			t.Fatalf("%s preflight: %s %v", path, resp.Status, resp.Header)
		}
		resp, err = http.Post(f.srv.URL+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			t.Fatalf("%s POST: %s", path, resp.Status)
		}
	}
	resp, err := http.Get(f.srv.URL + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/other: %s", resp.Status)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	good := Options{Listen: "127.0.0.1:5280", Path: "/ws", Origins: []string{"https://app.example", "http://localhost:8080/"},
		PublicURL: "wss://chat.example/ws", TrustedProxies: []string{"10.0.0.0/8", "::1", "192.0.2.1"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Listen: "5280"}, "websocket: listen = \"5280\""},
		{Options{Path: "ws"}, "websocket: path = \"ws\""},
		{Options{Path: HostMetaPath}, "host-meta"},
		{Options{Origins: []string{"app.example"}}, "websocket: origins: \"app.example\""},
		{Options{Origins: []string{"https://app.example/chat"}}, "websocket: origins"},
		{Options{Origins: []string{"*"}}, "websocket: origins"},
		{Options{PublicURL: "https://chat.example/ws"}, "websocket: public_url"},
		{Options{TrustedProxies: []string{"10.0.0.0/33"}}, "websocket: trusted_proxies: \"10.0.0.0/33\""},
		{Options{TrustedProxies: []string{"proxy.example"}}, "websocket: trusted_proxies"},
	} {
		err := tc.opts.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v; want one line with %q", tc.opts, err, tc.want)
		}
	}
	if _, err := NewHandler(Config{Options: DefaultOptions()}); err == nil {
		t.Error("NewHandler without Serve succeeded")
	}
}

// TestUpgradeRefusals: requests that are upgrades but not RFC 6455's get
// the refusal that says what is wrong (the Go client here sends them as
// written).
func TestUpgradeRefusals(t *testing.T) {
	f := newFixture(t, Options{}, 0)
	for _, tc := range []struct {
		name    string
		method  string
		hdr     map[string]string
		status  int
		hdrWant string // a header the refusal carries, "Name: value"
	}{
		{"version 8", http.MethodGet, map[string]string{"Sec-WebSocket-Version": "8"}, http.StatusUpgradeRequired, "Sec-Websocket-Version: 13"},
		{"no key", http.MethodGet, map[string]string{"Sec-WebSocket-Key": ""}, http.StatusBadRequest, ""},
		{"short key", http.MethodGet, map[string]string{"Sec-WebSocket-Key": "c2hvcnQ="}, http.StatusBadRequest, ""},
		{"POST", http.MethodPost, nil, http.StatusMethodNotAllowed, "Allow: GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, f.srv.URL+DefaultPath, nil)
			for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
				"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "xmpp"} {
				req.Header.Set(k, v)
			}
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.HasPrefix(string(body), "websocket: ") {
				t.Fatalf("%s %q; want HTTP %d with a reason", resp.Status, body, tc.status)
			}
			if name, value, ok := strings.Cut(tc.hdrWant, ": "); ok && resp.Header.Get(name) != value {
				t.Fatalf("%s: %q; want %q", name, resp.Header.Get(name), value)
			}
		})
	}
}
