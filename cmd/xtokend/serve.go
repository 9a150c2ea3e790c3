package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server"
)

// shutdownGrace is how long SIGTERM waits for sessions to take their
// system-shutdown stream error before connections are cut.
const shutdownGrace = 5 * time.Second

// runServe is "xtokend [serve] [-config F]": serve until SIGINT or SIGTERM.
func runServe(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stderr, nil)
}

// serve runs the server until ctx ends. ready, if not nil, gets the listen
// address once the server accepts connections (tests).
func serve(ctx context.Context, args []string, stderr io.Writer, ready chan<- net.Addr) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: xtokend [serve] [-config FILE]")
		fmt.Fprintln(fs.Output(), "Serves XMPP with SASL X-TOKEN logins until SIGTERM or SIGINT; SIGHUP re-reads keys and certificates.")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	cfg, ok := findConfig(*configPath, stderr)
	if !ok {
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.General.SlogLevel()}))
	if usesSelfSigned(cfg) {
		// Kept in files so that a client told to trust it keeps trusting it.
		if kept, err := keepSelfSigned(cfg); err != nil {
			log.Warn("tls: cannot keep the self-signed certificate in files; one is made in memory for this run", "err", err)
		} else {
			log.Warn("tls: cert is empty: showing a self-signed certificate; clients trust it by its SHA-256 fingerprint or take the file as their CA",
				"file", kept.CertFile, "sha256", server.Fingerprint(kept.Leaf), "hosts", strings.Join(hostsWithoutOwnCert(cfg), ","))
		}
	}
	// Start-up (the cluster join, keystores, certificates) ends with SIGINT
	// too.
	srv, err := server.New(ctx, server.Config{File: cfg, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "xtokend: %v\n", err)
		return exitUsage
	}
	// SIGHUP reloads keys and certificates (its default would end the process).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	l, err := server.Listen(context.Background(), cfg.General.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "xtokend: %v\n", err)
		return exitFailed
	}
	if cfg.Path == "" {
		log.Info("no config.toml here: running the built-in default configuration")
	} else {
		log.Info("configuration", "file", cfg.Path)
	}
	log.Info("get a token", "command", tokenCommand(*configPath, cfg),
		"note", "hosts with RAM keys are asked over the running server's admin socket "+cfg.AdminSocketPath())
	if hosts := plainHosts(cfg); len(hosts) > 0 {
		log.Info("stock clients log in with SASL PLAIN, a token as the password", "hosts", strings.Join(hosts, ","))
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	if ready != nil {
		ready <- l.Addr()
	}
wait:
	for {
		select {
		case err := <-served:
			log.Error("server stopped", "err", err)
			return exitFailed
		case <-hup:
			log.Info("SIGHUP: reloading keys and certificate")
			srv.Reload() // logs the outcome; a refused reload keeps what is in force
		case <-ctx.Done():
			break wait
		}
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown cut connections", "err", err)
	}
	if err := <-served; err != nil && !errors.Is(err, server.ErrServerClosed) {
		log.Error("server stopped", "err", err)
		return exitFailed
	}
	return exitOK
}

// plainHosts are the hosts whose mod_auth_token offers PLAIN.
func plainHosts(cfg *config.Config) []string {
	var out []string
	for _, h := range cfg.General.Hosts {
		if hs, _ := cfg.Host(h); hs.AuthToken.Plain {
			out = append(out, h)
		}
	}
	return out
}

// exampleJID is alice@ the first host.
func exampleJID(cfg *config.Config) string {
	if len(cfg.General.Hosts) == 0 {
		return "alice@localhost"
	}
	return "alice@" + cfg.General.Hosts[0]
}

// tokenCommand is the command that mints a token for this server: with
// -config when the server was started with one, so that it is copied as is.
func tokenCommand(configFlag string, cfg *config.Config) string {
	cmd := "xtokend token"
	if configFlag != "" {
		cmd += " -config " + shellQuote(cfg.Path)
	}
	return cmd + " " + exampleJID(cfg)
}

// shellQuote quotes s for a POSIX shell when it holds anything but plain
// path characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,@:") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
