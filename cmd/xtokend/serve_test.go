package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"typo", []string{"-config", writeConfig(t, "[general]\nhostz = [\"localhost\"]\n")}},
		{"missing file", []string{"-config", filepath.Join(t.TempDir(), "nope.toml")}},
		{"extra argument", []string{"extra"}},
		{"unknown flag", []string{"-bogus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr testkit.LogBuffer
			code := serve(context.Background(), tc.args, &stderr, nil)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
			}
			if stderr.String() == "" {
				t.Errorf("no error message")
			}
		})
	}
}

func TestServeAndStop(t *testing.T) {
	path := writeConfig(t, `[general]
hosts = ["localhost"]
listen = "127.0.0.1:0"
log_level = "debug"

[tls]
require_starttls = true
`)
	var stderr testkit.LogBuffer
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() { done <- serve(ctx, []string{"-config", path}, &stderr, ready) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("exit %d before serving:\n%s", code, stderr.String())
	}
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='localhost'>"))
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	var got strings.Builder
	for !strings.Contains(got.String(), "</stream:features>") {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, got.String())
		}
		got.Write(buf[:n])
	}
	if !strings.Contains(got.String(), "starttls") || strings.Contains(got.String(), "X-TOKEN") {
		t.Errorf("features before TLS: %s", got.String())
	}

	cancel() // as SIGTERM does
	if code := <-done; code != exitOK {
		t.Errorf("exit %d, want 0:\n%s", code, stderr.String())
	}
	for _, want := range []string{"xtokend token -config " + path + " alice@localhost", "listening", "shut down"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr.String())
		}
	}
}
