package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xtokend/xtokend/server/adminclient"
)

// adminTimeout bounds a command's whole exchange with the running server.
const adminTimeout = 10 * time.Second

// runRevoke is "xtokend revoke [-config F] [-json] JID": revoke every token
// of a bare JID minted until now and end its sessions, on every node; with
// a full JID, end that session and bar that full JID for one token
// lifetime.
func runRevoke(args []string, stdout, stderr io.Writer) int {
	fs, configPath, asJSON := adminFlags("revoke", "JID", "revoke the tokens and end the sessions of a bare JID (or of one full JID)")
	fs.SetOutput(stderr)
	arg, code, ok := oneArg(fs, args, stderr)
	if !ok {
		return code
	}
	j, err := jid.Parse(arg)
	if err != nil || j.Localpart() == "" {
		fmt.Fprintf(stderr, "xtokend: revoke: %q is not a JID user@host[/resource]\n", arg)
		return exitUsage
	}
	return withAdmin(*configPath, "revoke", stderr, func(ctx context.Context, c *adminclient.Client) error {
		r, err := c.Revoke(ctx, j.Bare().String(), j.Resourcepart())
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(r)
		}
		who := r.JID
		if r.Resource != "" {
			who += "/" + r.Resource
		}
		fmt.Fprintf(stdout, "revoked %s at %s: %d session(s) ended here; tokens minted from %s log in; forgotten at %s\n",
			who, r.RevokedAt.Format(time.RFC3339), r.SessionsEnded, r.TokensValidFrom.Format(time.RFC3339), r.KeptUntil.Format(time.RFC3339))
		if len(r.UnreachedNodes) > 0 {
			fmt.Fprintf(stdout, "not reached: %s (their sessions and tokens are not revoked)\n", strings.Join(r.UnreachedNodes, ", "))
			return errPartial
		}
		return nil
	})
}

// runKick is "xtokend kick [-config F] FULLJID": end one session, wherever
// in the cluster it is bound, without revoking anything.
func runKick(args []string, stdout, stderr io.Writer) int {
	fs, configPath, _ := adminFlags("kick", "FULLJID", "end one session without revoking anything")
	fs.SetOutput(stderr)
	arg, code, ok := oneArg(fs, args, stderr)
	if !ok {
		return code
	}
	j, err := jid.Parse(arg)
	if err != nil || j.Localpart() == "" || j.Resourcepart() == "" {
		fmt.Fprintf(stderr, "xtokend: kick: %q is not a full JID user@host/resource\n", arg)
		return exitUsage
	}
	return withAdmin(*configPath, "kick", stderr, func(ctx context.Context, c *adminclient.Client) error {
		k, err := c.Kick(ctx, j.String())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ended the session of %s\n", k.JID)
		return nil
	})
}

// errPartial makes a command exit 1 after printing its own explanation.
var errPartial = errors.New("partial")

func adminFlags(name, arg, what string) (*flag.FlagSet, *string, *bool) {
	fs := flag.NewFlagSet("xtokend "+name, flag.ContinueOnError)
	configPath := configFlag(fs)
	asJSON := fs.Bool("json", false, "print the server's answer as JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: xtokend %s [-config F] %s\n%s, over the running server's admin socket.\n", name, arg, what)
		fs.PrintDefaults()
	}
	return fs, configPath, asJSON
}

// oneArg parses flags that may come before or after the one positional
// argument.
func oneArg(fs *flag.FlagSet, args []string, stderr io.Writer) (arg string, code int, ok bool) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", exitOK, false
			}
			return "", exitUsage, false
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fs.Usage()
		return "", exitUsage, false
	}
	return positional[0], 0, true
}

// withAdmin runs call against the admin socket of the configuration at
// configPath, and turns its error into a line on stderr and an exit code.
func withAdmin(configPath, name string, stderr io.Writer, call func(context.Context, *adminclient.Client) error) int {
	cfg, ok := findConfig(configPath, stderr)
	if !ok {
		return exitUsage
	}
	sock := cfg.AdminSocketPath()
	if sock == "" {
		fmt.Fprintf(stderr, "xtokend: %s: general.admin_socket is empty: the running server cannot be asked\n", name)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	c := adminclient.New(sock)
	defer c.Close()
	err := call(ctx, c)
	var apiErr *adminclient.APIError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errPartial):
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		fmt.Fprintf(stderr, "xtokend: %s: %s\n", name, apiErr.Message)
	case errors.As(err, &apiErr):
		fmt.Fprintf(stderr, "xtokend: %s: the server refused: %s\n", name, apiErr.Message)
	default:
		fmt.Fprintf(stderr, "xtokend: %s: %v\n", name, err)
	}
	return exitFailed
}
