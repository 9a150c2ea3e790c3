// Package servertest starts a real xtokend server for tests, in the manner of
// net/http/httptest: a listener on 127.0.0.1:0, a temporary configuration
// with file keys, a TLS certificate the test's clients can trust, and a
// clean-up registered with t.Cleanup that shuts the server down and checks
// that Serve returned ErrServerClosed.
//
//	ts := servertest.Start(t, servertest.Options{})
//	token := ts.Mint(t, "alice@localhost")
//	conn, _ := net.Dial("tcp", ts.Addr)
package servertest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/internal/testkit"
	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/sasl"
	"github.com/xtokend/xtokend/server"
	"github.com/xtokend/xtokend/storage"
)

// Options tune the server under test; the zero value is one host,
// "localhost", with STARTTLS optional (SASL offered on plaintext).
type Options struct {
	// Hosts served; nil means []string{"localhost"}.
	Hosts []string
	// RequireStartTLS is tls.require_starttls.
	RequireStartTLS bool
	// MaxStanzaSize is general.max_stanza_size; 0 means the default.
	MaxStanzaSize int
	// Server tuning, passed through (0 means the server's default).
	NegotiationTimeout time.Duration
	WriteTimeout       time.Duration
	QueueSize          int
	Hooks              server.Hooks
	// Cluster, when set, is the [cluster] section: the server is a node of
	// that cluster, and its hosts have the default RAM keys (the cluster's,
	// shared by every node) rather than file keys of their own.
	Cluster *cluster.Options
	// Configure, when set, changes the configuration before the server
	// starts ([limits], general.metrics_listen, ...).
	Configure func(*config.Config)
	// Plain is mod_auth_token's plain: SASL PLAIN offered beside X-TOKEN.
	Plain bool
	// Storage, when set, is the [storage] section: rosters, blocking and
	// offline messages. A relative SQLite path is in the server's temporary
	// folder; nil is no storage, as a configuration built in code has.
	Storage *storage.Options
}

// Server is a running server under test.
type Server struct {
	*server.Server
	// Addr is the host:port clients dial.
	Addr string
	// Config is the configuration it runs with.
	Config *config.Config

	roots *x509.CertPool
	logs  *testkit.LogBuffer
}

// Start starts a server and registers its shutdown with t.Cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	hosts := opts.Hosts
	if hosts == nil {
		hosts = []string{"localhost"}
	}
	dir := t.TempDir()
	cfg := &config.Config{
		General: config.General{
			Hosts:         hosts,
			Listen:        "127.0.0.1:0",
			LogLevel:      "debug",
			MaxStanzaSize: opts.MaxStanzaSize,
		},
		TLS:     config.TLSOptions{RequireStartTLS: opts.RequireStartTLS},
		Dir:     dir,
		Path:    filepath.Join(dir, "config.toml"),
		Cluster: opts.Cluster,
		Storage: opts.Storage,
	}
	auth := sasl.DefaultOptions()
	auth.Plain = opts.Plain
	cfg.Modules.AuthToken = &auth
	for _, h := range hosts {
		if opts.Cluster != nil {
			ks := keystore.DefaultOptions() // RAM keys: the cluster's
			cfg.HostConfig = append(cfg.HostConfig, config.HostConfig{Host: h, Modules: config.Modules{Keystore: &ks}})
			continue
		}
		// One file pair per host: hosts never share keys.
		secret, seed := randomBytes(t, 32), randomBytes(t, 20)
		// Encoded: raw bytes would lose any whitespace at either end (keys
		// are trimmed).
		writeKey(t, filepath.Join(dir, h+"_access_secret"), []byte(base64.StdEncoding.EncodeToString(secret)))
		writeKey(t, filepath.Join(dir, h+"_otp_seed"), []byte(base32.StdEncoding.EncodeToString(seed)))
		ks := keystore.Options{Keys: []keystore.KeySpec{
			{Name: "access_secret", Type: "file", Path: h + "_access_secret", Encoding: "base64"},
			{Name: "otp_seed", Type: "file", Path: h + "_otp_seed", Encoding: "base32"},
		}}
		cfg.HostConfig = append(cfg.HostConfig, config.HostConfig{Host: h, Modules: config.Modules{Keystore: &ks}})
	}

	if opts.Configure != nil {
		opts.Configure(cfg)
	}

	cert, err := testkit.SelfSigned(1, hosts...)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	roots := cert.Pool()
	logs := &testkit.LogBuffer{}
	srv, err := server.New(context.Background(), server.Config{
		File:               cfg,
		Logger:             slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TLSConfig:          &tls.Config{Certificates: []tls.Certificate{cert.TLS}},
		Hooks:              opts.Hooks,
		NegotiationTimeout: opts.NegotiationTimeout,
		WriteTimeout:       opts.WriteTimeout,
		QueueSize:          opts.QueueSize,
	})
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	ts := &Server{Server: srv, Addr: l.Addr().String(), Config: cfg, roots: roots, logs: logs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("servertest: shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("servertest: Serve returned %v, want ErrServerClosed", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	// Mint once so a broken configuration fails here, not in the test.
	if _, _, err := srv.Mint("servertest@" + hosts[0]); err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return ts
}

// Mint returns a fresh token for bareJID or fails the test.
func (s *Server) Mint(t testing.TB, bareJID string) string {
	t.Helper()
	token, _, err := s.Server.Mint(bareJID)
	if err != nil {
		t.Fatalf("servertest: mint %s: %v", bareJID, err)
	}
	return token
}

// ClientTLS is a client configuration that trusts the server's certificate.
func (s *Server) ClientTLS(host string) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: s.roots, MinVersion: tls.VersionTLS12}
}

// Logs returns what the server has logged so far.
func (s *Server) Logs() string { return s.logs.String() }

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return b
}

func writeKey(t testing.TB, path string, b []byte) {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("servertest: %v", err)
	}
}
