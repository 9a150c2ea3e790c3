// Package server is xtokend's client-to-server (c2s) XMPP listener.
//
// A Server accepts TCP connections and negotiates each stream itself
// (negotiate.go, with mellium.im/xmpp's JIDs and errors): the virtual host is the stream's 'to' (anything else gets
// host-unknown), STARTTLS comes first (unless tls.require_starttls is false),
// then SASL X-TOKEN verified against that host's keystore (package sasl),
// then resource binding. The identity of a session is the node the X-TOKEN
// verifier accepted plus the host, never the 'from' a client claims in its
// stream header. A new session for a bound full JID replaces the old one,
// which gets a conflict stream error.
//
// After binding, the server reads whole stanzas itself and routes them between
// local sessions, across every host it serves, stamping 'from' with the
// sender's full JID; a 'from' that names another account ends the stream
// with invalid-from. Every session has one bounded outbound
// queue and one writer goroutine with write deadlines, so a client that stops
// reading is disconnected and never slows anyone else down. Each stanza is
// counted as it is decoded and one over general.max_stanza_size ends the
// stream with policy-violation before it is buffered whole.
//
// What is left out: rosters and subscriptions (subscription requests pass
// through to online resources, probes are not answered), offline storage (a
// message for a user with no available resource is answered with
// service-unavailable), server-to-server federation (remote-server-not-found),
// and stream management (XEP-0198).
//
// New does all of the start-up (keystores, certificates, the cluster join)
// under its ctx; a Server it returns serves at once. A nil File serves
// config.Default().
//
//	srv, err := server.New(ctx, server.Config{File: cfg, Logger: logger})
//	go srv.ListenAndServe()
//	...
//	srv.Shutdown(ctx) // every session gets a system-shutdown stream error
//
// Package servertest starts one on 127.0.0.1:0 for tests.
package server
