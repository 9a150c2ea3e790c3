package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/xtokend/xtokend/config"
	"github.com/xtokend/xtokend/server/adminclient"
)

// remoteMintTimeout bounds the whole exchange with the running server.
const remoteMintTimeout = 10 * time.Second

// mintRemote asks the running server for a token over its admin socket: the
// way to mint for a host whose keys include a RAM key (ramKey names one).
func mintRemote(cfg *config.Config, bareJID, host, ramKey string, asJSON bool, stdout, stderr io.Writer) int {
	sock := cfg.AdminSocketPath()
	if sock == "" {
		fmt.Fprintf(stderr, "xtokend: token: the key %q of %s is of type \"ram\": it lives only in the running server, which is asked over its admin socket, but general.admin_socket is empty. Set it, or use file or env keys to mint here.\n", ramKey, host)
		return exitFailed
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteMintTimeout)
	defer cancel()
	c := adminclient.New(sock)
	defer c.Close()
	tok, err := c.Mint(ctx, bareJID)
	if err != nil {
		var apiErr *adminclient.APIError
		switch {
		case errors.Is(err, adminclient.ErrNotRunning):
			fmt.Fprintf(stderr, "xtokend: token: %s has RAM keys (type \"ram\"), which live only in the running server, and no server answers on %s: start xtokend with the same configuration first\n", host, sock)
		case errors.Is(err, adminclient.ErrPermission):
			fmt.Fprintf(stderr, "xtokend: token: cannot open the admin socket %s (mode 0600): run this as the user xtokend runs as\n", sock)
		case errors.As(err, &apiErr):
			fmt.Fprintf(stderr, "xtokend: token: the server refused: %s\n", apiErr.Message)
		default:
			fmt.Fprintf(stderr, "xtokend: token: %v\n", err)
		}
		return exitFailed
	}
	if !asJSON {
		fmt.Fprintln(stdout, tok.Token)
		return exitOK
	}
	out := tokenOutput{JID: tok.JID, Token: tok.Token, ExpiresAt: tok.ExpiresAt.UTC().Format(time.RFC3339)}
	if err := json.NewEncoder(stdout).Encode(out); err != nil {
		fmt.Fprintf(stderr, "xtokend: token: %v\n", err)
		return exitFailed
	}
	return exitOK
}
