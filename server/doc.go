// Package server is xtokend's client-to-server (c2s) XMPP listener.
//
// A Server accepts TCP connections and negotiates each stream with
// mellium.im/xmpp: the virtual host is the stream's 'to', STARTTLS comes first
// (unless tls.require_starttls is false), then SASL X-TOKEN verified against
// that host's keystore (package sasl), then resource binding. The identity of
// a session is the node the X-TOKEN verifier recorded plus the host, never the
// 'from' a client claims in its stream header.
//
// After binding, the server reads whole stanzas itself and routes them between
// local sessions (across every host it serves), stamping 'from' with the
// sender's full JID. Every session has one bounded outbound queue and one
// writer goroutine with write deadlines, so a client that stops reading is
// disconnected and never slows anyone else down.
//
// What is left out: rosters and subscriptions, offline storage and
// server-to-server federation. Presence goes to the user's own resources and
// to whoever got directed presence; a message to a user with no available
// resource is answered with service-unavailable.
//
// The zero Server is useful: it serves DefaultConfig().
//
//	srv := &server.Server{Config: cfg, Logger: logger}
//	go srv.ListenAndServe()
//	...
//	srv.Shutdown(ctx) // every session gets a system-shutdown stream error
package server
