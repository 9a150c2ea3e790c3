// Command webapp is xtokend's example web application: the pattern X-TOKEN exists for, in its
// smallest form. A user signs in to the application (here: by typing a name, a stand-in for any
// real sign-in), the backend mints an X-TOKEN for that user with the keys it shares with xtokend,
// and the page runs Converse.js, which logs in to xtokend over WebSocket with the token. The
// browser never sees a key, and the XMPP server never calls the application.
//
// Converse fetches its credentials from /credentials on every connect and reconnect, so each
// login uses a fresh token (a token is good once and for about a minute).
//
// Usage (from this folder, after `npm ci`):
//
//	go run . -host example.org \
//	  -secret-file ../../priv/access_secret -seed-file ../../priv/otp_seed \
//	  -websocket-url ws://127.0.0.1:5280/xmpp-websocket
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/xtokend/xtokend/keystore"
	"github.com/xtokend/xtokend/sasl"
)

// Exit codes, as xtokend's own: 2 for a bad command line or configuration.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// shutdownTimeout bounds how long a stopping server waits for requests in flight.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run parses the command line, serves until ctx is done and returns the exit code. It prints
// "webapp: listening on http://ADDR" once it accepts, for scripts and tests to wait on.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the application on (port 0: any free port)")
	host := fs.String("host", "localhost", "the xtokend virtual host the users belong to")
	secretFile := fs.String("secret-file", "", "the host's access_secret key file, as xtokend's mod_keystore reads it")
	secretEnc := fs.String("secret-encoding", keystore.EncodingRaw, "that file's encoding: raw, base32, base64 or hex")
	seedFile := fs.String("seed-file", "", "the host's otp_seed key file")
	seedEnc := fs.String("seed-encoding", keystore.EncodingBase32, "that file's encoding: raw, base32, base64 or hex")
	opts := sasl.DefaultOptions()
	fs.IntVar(&opts.OTPDigits, "otp-digits", opts.OTPDigits, "the host's mod_auth_token otp_digits")
	fs.IntVar(&opts.OTPPeriod, "otp-period", opts.OTPPeriod, "the host's mod_auth_token otp_period, seconds")
	fs.IntVar(&opts.NonceDigits, "nonce-digits", opts.NonceDigits, "the host's mod_auth_token nonce_digits")
	wsURL := fs.String("websocket-url", "ws://127.0.0.1:5280/xmpp-websocket", "xtokend's WebSocket URL, as the browser reaches it")
	dist := fs.String("dist", "node_modules/converse.js/dist", "Converse.js's dist folder (npm ci installs it)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "webapp: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "webapp: -log-level %q: %v\n", *logLevel, err)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if *secretFile == "" || *seedFile == "" {
		fmt.Fprintln(stderr, "webapp: -secret-file and -seed-file are required: the host's key files, shared with xtokend")
		return exitUsage
	}
	keys, err := loadKeys(*host, *secretFile, *secretEnc, *seedFile, *seedEnc, logger)
	if err != nil {
		fmt.Fprintf(stderr, "webapp: %v\n", err)
		return exitUsage
	}
	if st, err := os.Stat(filepath.Join(*dist, "converse.min.js")); err != nil || st.IsDir() {
		fmt.Fprintf(stderr, "webapp: -dist %q: no converse.min.js there (run `npm ci` in examples/webapp)\n", *dist)
		return exitUsage
	}
	app, err := New(Config{
		Host:         *host,
		Keys:         keys,
		Options:      opts,
		WebSocketURL: *wsURL,
		DistDir:      *dist,
		Logger:       logger,
	})
	if err != nil {
		fmt.Fprintf(stderr, "webapp: %v\n", err)
		return exitUsage
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "webapp: %v\n", err)
		return exitFailed
	}
	srv := &http.Server{
		Handler:           app,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "webapp: listening on http://%s\n", ln.Addr())
	logger.Info("serving", "addr", ln.Addr().String(), "host", *host, "websocket_url", *wsURL)

	select {
	case err := <-served:
		fmt.Fprintf(stderr, "webapp: %v\n", err)
		return exitFailed
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "webapp: shutdown: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// loadKeys reads the host's two key files exactly as xtokend's mod_keystore does (trimmed, then
// decoded), so that a file the server accepts is one the application accepts, and vice versa.
func loadKeys(host, secretFile, secretEnc, seedFile, seedEnc string, logger *slog.Logger) (*keystore.Store, error) {
	opts := sasl.DefaultOptions()
	store, warnings, err := keystore.New(host, keystore.Options{Keys: []keystore.KeySpec{
		{Name: opts.SecretKey, Type: keystore.TypeFile, Path: secretFile, Encoding: secretEnc},
		{Name: opts.SeedKey, Type: keystore.TypeFile, Path: seedFile, Encoding: seedEnc},
	}}, ".", nil)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		logger.Warn(w.String())
	}
	return store, nil
}
