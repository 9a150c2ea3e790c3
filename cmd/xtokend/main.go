// Command xtokend is an XMPP server whose way in is the SASL mechanism X-TOKEN.
//
// Usage:
//
//	xtokend [serve] [-config F]     serve (./config.toml if present, else the built-in default)
//	xtokend check-config [-config F]
//	xtokend token [-config F] [-json] JID
//	xtokend revoke [-config F] [-json] JID
//	xtokend kick [-config F] FULLJID
//	xtokend genkey [-bytes N] [-encoding E]
//	xtokend cert [-config F]
//	xtokend version                 (or xtokend -version)
//
// Exit codes: 0 done, 1 failed while running, 2 bad usage or configuration.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/xtokend/xtokend/config"
)

// Exit codes of SPEC.md section 4.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// A command runs with its arguments (after the subcommand's name) and returns an exit code.
type command func(args []string, stdout, stderr io.Writer) int

var commands = map[string]command{
	"serve":        runServe,
	"check-config": runCheckConfig,
	"token":        runToken,
	"genkey":       runGenkey,
	"cert":         runCert,
	"roster":       runRoster,
	"version":      runVersion,
	"help":         runHelp,
	"revoke":       runRevoke,
	"kick":         runKick,
}

const usage = `xtokend is an XMPP server whose way in is the SASL mechanism X-TOKEN.

Usage:
  xtokend [serve] [-config F]        serve (./config.toml if present, else the built-in default)
  xtokend check-config [-config F]   validate a configuration; show each host's keys (never values)
  xtokend token [-config F] [-json] JID
                                     print a fresh token for a bare JID
  xtokend roster [-config F] list|set|remove JID [CONTACT]
                                     read or change a user's roster in the running server
  xtokend revoke [-config F] [-json] JID
                                     refuse every token of JID minted until now and end its
                                     sessions, on every node (a full JID: that session only)
  xtokend kick [-config F] FULLJID   end one session without revoking anything
  xtokend genkey [-bytes N] [-encoding raw|base32|base64|hex]
                                     print a random key for a key file
  xtokend cert [-config F]           print each certificate STARTTLS shows: file, fingerprints
  xtokend version                    print the version, the VCS revision and the modules linked
                                     (also: xtokend -version)
  xtokend help                       print this

Exit codes: 0 done, 1 failed while running, 2 bad usage or configuration.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			return runHelp(nil, stdout, stderr)
		case "-version", "--version":
			return runVersion(args[1:], stdout, stderr)
		}
	}
	if len(args) == 0 || (len(args[0]) > 0 && args[0][0] == '-') {
		return runServe(args, stdout, stderr)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "xtokend: unknown command %q (serve, check-config, token, roster, genkey, cert, version, help)\n", args[0])
		fmt.Fprintf(stderr, "xtokend: unknown command %q (serve, check-config, token, revoke, kick, genkey, version, help)\n", args[0])
		return exitUsage
	}
	return cmd(args[1:], stdout, stderr)
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "xtokend: help takes no arguments\n")
		return exitUsage
	}
	io.WriteString(stdout, usage)
	return exitOK
}

// configFlag is the -config flag of every command that reads the
// configuration.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "configuration file (default: ./config.toml if present, else the built-in default)")
}

// findConfig reads the configuration path names (config.Find's rule); on an
// error it says why on stderr and reports false.
func findConfig(path string, stderr io.Writer) (*config.Config, bool) {
	cfg, err := config.Find(path)
	if err != nil {
		fmt.Fprintf(stderr, "xtokend: %v\n", err)
		return nil, false
	}
	return cfg, true
}

// parseFlags parses a subcommand's flags, which take no positional
// argument. done is false when the command must return code at once: 0
// after -h (the usage was printed), 2 for a bad flag or an argument left over.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "xtokend: %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return exitOK, true
}
