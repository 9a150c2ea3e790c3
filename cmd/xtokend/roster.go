package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/xtokend/xtokend/server/adminclient"
)

const rosterUsage = `usage:
  xtokend roster [-config F] list JID
  xtokend roster [-config F] set [-name N] [-group G]... [-subscription none|to|from|both] JID CONTACT
  xtokend roster [-config F] remove JID CONTACT

Reads and changes a user's roster in the running server, over its admin
socket; online resources get roster pushes at once. A subscription of
"both" makes it mutual on both rosters. Answers are printed as JSON.
`

// groupFlags collects repeated -group flags.
type groupFlags []string

func (g *groupFlags) String() string     { return strings.Join(*g, ",") }
func (g *groupFlags) Set(v string) error { *g = append(*g, v); return nil }

// runRoster is "xtokend roster": the admin API's /v1/roster endpoints.
func runRoster(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xtokend roster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	name := fs.String("name", "", "set: the contact's name in the roster")
	sub := fs.String("subscription", "", "set: none, to, from or both (empty: keep the item's)")
	var groups groupFlags
	fs.Var(&groups, "group", "set: a group of the contact (repeat for more)")
	fs.Usage = func() {
		io.WriteString(stderr, rosterUsage)
		fs.PrintDefaults()
	}
	// Flags may come before or after the operands.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	want := map[string]int{"list": 2, "set": 3, "remove": 3}
	if len(positional) == 0 || want[positional[0]] != len(positional) {
		fs.Usage()
		return exitUsage
	}
	op := positional[0]
	if op != "set" && (*name != "" || *sub != "" || len(groups) > 0) {
		fmt.Fprintf(stderr, "xtokend: roster %s takes no -name, -group or -subscription\n", op)
		return exitUsage
	}
	return withAdmin(*configPath, "roster", stderr, func(ctx context.Context, c *adminclient.Client) error {
		var (
			out any
			err error
		)
		switch op {
		case "list":
			out, err = c.Roster(ctx, positional[1])
		case "set":
			g := []string(groups)
			if g == nil {
				g = []string{}
			}
			out, err = c.PutRosterItem(ctx, positional[1], positional[2], adminclient.RosterItem{Name: *name, Groups: g, Subscription: *sub})
		case "remove":
			err = c.DeleteRosterItem(ctx, positional[1], positional[2])
			out = map[string]string{"removed": positional[2]}
		}
		if err != nil {
			return err
		}
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		return e.Encode(out)
	})
}
