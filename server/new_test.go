package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/cluster"
	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/server"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// ramConfig is the built-in default in a folder of the test's: host
// localhost, RAM keys, no admin socket.
func ramConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.Dir = t.TempDir()
	cfg.General.AdminSocket = ""
	cfg.General.Listen = "127.0.0.1:0"
	cfg.WebSocket.Listen = "127.0.0.1:0"
	return cfg
}

// TestNewFailsWithOneLine: a start-up that cannot run fails in New with the
// one-line error that names the file, the host and the key file, and no
// server is returned.
func TestNewFailsWithOneLine(t *testing.T) {
	cfg := ramConfig(t)
	cfg.Path = filepath.Join(cfg.Dir, "config.toml")
	ks := keystore.DefaultOptions()
	ks.Keys = []keystore.KeySpec{
		{Name: "access_secret", Type: "file", Path: "missing_secret"},
		{Name: "otp_seed", Type: "ram"},
	}
	cfg.Modules.Keystore = &ks
	srv, err := server.New(context.Background(), server.Config{File: cfg, Logger: quietLogger()})
	if err == nil || srv != nil {
		t.Fatalf("New = %v, %v; want an error", srv, err)
	}
	msg := err.Error()
	for _, want := range []string{`config: "` + cfg.Path + `"`, `host "localhost"`, "missing_secret"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one line: %q", msg)
	}
}

// TestNewThenNothingStarts: once New returns, the calls that only read or
// stop start nothing: Sessions lists the hosts, Mint uses the keys New
// opened, Shutdown of a server that never served returns at once, and Serve
// after it refuses.
func TestNewThenNothingStarts(t *testing.T) {
	srv, err := server.New(context.Background(), server.Config{File: ramConfig(t), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Sessions(); len(got) != 1 || got["localhost"] == nil || len(got["localhost"]) != 0 {
		t.Errorf("Sessions = %v, want localhost with none", got)
	}
	if _, _, err := srv.Mint("alice@localhost"); err != nil {
		t.Errorf("Mint: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(l); !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
}

// TestNewClusterJoinUnderContext: the cluster join is bounded by New's
// context, not only by join_timeout.
func TestNewClusterJoinUnderContext(t *testing.T) {
	cfg := ramConfig(t)
	secret := writeClusterSecret(t)
	nobody, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody.Close() // a seed that is not there: every join attempt fails
	cfg.Cluster = &cluster.Options{
		NodeName:    "lonely",
		Bind:        "127.0.0.1:0",
		LinkListen:  "127.0.0.1:0",
		Join:        []string{nobody.Addr().String()},
		SecretFile:  secret,
		JoinTimeout: cluster.Duration{Duration: time.Hour},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	srv, err := server.New(ctx, server.Config{File: cfg, Logger: quietLogger()})
	if err == nil {
		srv.Shutdown(context.Background())
		t.Fatal("New joined a cluster whose only seed never answers")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("New = %v, want the context's deadline", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("New returned after %s, long after its context ended", took)
	}
}
