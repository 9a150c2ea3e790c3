package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/keystore"
)

// tokenOutput is what "xtokend token -json" prints, and what the admin API's
// POST /v1/tokens answers.
type tokenOutput struct {
	JID       string `json:"jid"`
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"` // RFC 3339, UTC
}

// runToken mints a token for a bare JID from the host's file and env keys.
func runToken(args []string, stdout, stderr io.Writer) int {
	return mintToken(args, stdout, stderr, time.Now)
}

func mintToken(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	fs := flag.NewFlagSet("xtokend token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	asJSON := fs.Bool("json", false, `print {"jid","token","expires_at"}`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: xtokend token [-config F] [-json] JID")
		fs.PrintDefaults()
	}
	// Flags may come before or after the JID.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK // the usage was printed
			}
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fs.Usage()
		return exitUsage
	}

	user, err := jid.Parse(positional[0])
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "xtokend: token: %q is not a valid JID\n", positional[0])
		return exitUsage
	case user.Localpart() == "" || user.Resourcepart() != "":
		fmt.Fprintf(stderr, "xtokend: token: %q is not a bare JID (user@host)\n", positional[0])
		return exitUsage
	}

	cfg, ok := findConfig(*configPath, stderr)
	if !ok {
		return exitUsage
	}
	host, hs, ok := findHost(cfg, user.Domainpart())
	if !ok {
		fmt.Fprintf(stderr, "xtokend: token: %s is not a host of this server\n", user.Domainpart())
		return exitUsage
	}
	for _, name := range []string{hs.AuthToken.SecretKey, hs.AuthToken.SeedKey} {
		if spec, ok := keySpec(hs.Keystore, name); ok && spec.Type == keystore.TypeRAM {
			// RAM keys live only in the running server: ask it (token_remote.go).
			return mintRemote(cfg, user.Localpart()+"@"+host, host, name, *asJSON, stdout, stderr)
		}
	}
	keys, warns, err := cfg.OpenHostKeys(host, config.KeySource{})
	if err != nil {
		fmt.Fprintf(stderr, "xtokend: %v\n", err)
		return exitUsage
	}
	for _, w := range warns {
		fmt.Fprintf(stderr, "xtokend: warning: %s\n", w)
	}
	token, expires, err := keys.Verifier.Mint(user.Localpart(), now())
	if err != nil {
		fmt.Fprintf(stderr, "xtokend: token: %v\n", err)
		return exitFailed
	}
	if !*asJSON {
		fmt.Fprintln(stdout, token)
		return exitOK
	}
	out := tokenOutput{
		JID:       user.Localpart() + "@" + host,
		Token:     token,
		ExpiresAt: expires.UTC().Format(time.RFC3339),
	}
	if err := json.NewEncoder(stdout).Encode(out); err != nil {
		fmt.Fprintf(stderr, "xtokend: token: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// findHost finds the served host that domain names: as configured, or equal
// once both are normalized ("LocalHost" is "localhost").
func findHost(cfg *config.Config, domain string) (string, config.HostSettings, bool) {
	if hs, ok := cfg.Host(domain); ok {
		return domain, hs, true
	}
	for _, h := range cfg.General.Hosts {
		j, err := jid.New("", h, "")
		if err == nil && j.Domainpart() == domain {
			hs, ok := cfg.Host(h)
			return h, hs, ok
		}
	}
	return "", config.HostSettings{}, false
}

func keySpec(opts keystore.Options, name string) (keystore.KeySpec, bool) {
	for _, k := range opts.Keys {
		if k.Name == name {
			return k, true
		}
	}
	return keystore.KeySpec{}, false
}
