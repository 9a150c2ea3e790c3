package cluster_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/xtokend/xtokend/cluster"
)

// The server's side of a cluster, in outline. The example is compiled, not
// run: it needs a secret file and free ports.
func ExampleStart() {
	ctx := context.Background()
	opts := cluster.Options{
		NodeName:   "xmpp1",
		Bind:       "10.0.0.1:7946",
		Join:       []string{"10.0.0.2:7946", "10.0.0.3:7946"},
		SecretFile: "/etc/xtokend/priv/cluster_secret",
	}.WithDefaults().WithDir("/etc/xtokend")

	node, err := cluster.Start(ctx, opts, slog.Default(), cluster.Hooks{
		// Every "ram" key of every host, with its ram_key_size.
		RAMKeys: []cluster.RAMKeySpec{
			{Host: "example.com", Name: "access_secret", Size: 2048},
			{Host: "example.com", Name: "otp_seed", Size: 2048},
		},
		Stanza:      func(from string, stanza []byte) { /* queue to the local session; service-unavailable back if none */ },
		Conflict:    func(full string) { /* close the local session: <conflict/> */ },
		KeyReplaced: func(host, name string) { /* rebuild host's keystore RAM key and verifier */ },
	})
	if err != nil {
		panic(err) // a start-up error: exit 2
	}
	defer node.Stop(ctx)

	// Nothing verifies or mints before the node has joined or started alone.
	if err := node.WaitReady(ctx); err != nil {
		panic(err)
	}
	accessSecret, _ := node.RAMKey("example.com", "access_secret")
	_ = accessSecret // the keystore's RAM key for example.com

	// At login, once the token's HMAC verified:
	loginCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	fresh, err := node.CheckAndRemember(loginCtx, "example.com", "alice", []byte("16-byte-sig-pref"), time.Now().Add(90*time.Second))
	switch {
	case err != nil: // temporary-auth-failure
	case !fresh: // not-authorized: already used
	}

	// Sessions and routing.
	node.Bind("alice@example.com/phone")
	if where, ok := node.Lookup("bob@example.com/desk"); ok && where != node.Name() {
		node.Route(where, []byte("<message to='bob@example.com/desk'>...</message>"))
	}
	node.Unbind("alice@example.com/phone")
}
