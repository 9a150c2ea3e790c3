package server_test

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server"
)

// Serve the configuration in config.toml until SIGINT, then shut down: every
// session gets a system-shutdown stream error.
func ExampleServer() {
	cfg, err := config.Load("config.toml")
	if err != nil {
		log.Fatal(err) // one line naming the file, host, module and key
	}
	// New opens the keystores, loads the certificates and, with [cluster],
	// joins the cluster, all within ctx.
	srv, err := server.New(context.Background(), server.Config{File: cfg})
	if err != nil {
		log.Fatal(err) // one line, as for the file
	}
	go func() {
		if err := srv.ListenAndServe(); !errors.Is(err, server.ErrServerClosed) {
			log.Fatal(err)
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
}

// Mint a token for a user with the running server's keys (what the admin
// API does).
func ExampleServer_Mint() {
	// The built-in default: host localhost, RAM keys.
	srv, err := server.New(context.Background(), server.Config{})
	if err != nil {
		log.Fatal(err)
	}
	token, expires, err := srv.Mint("alice@localhost")
	switch {
	case errors.Is(err, server.ErrBadJID), errors.Is(err, server.ErrUnknownHost):
		log.Printf("no token: %v", err)
	case err != nil:
		log.Fatal(err)
	default:
		_ = token // hand it to alice's client; never log it
		log.Printf("token valid until %s", expires)
	}
}
