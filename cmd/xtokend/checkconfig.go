package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/xtokend/xtokend/config"
)

// runCheckConfig is "xtokend check-config [-config F]": load the
// configuration as serve would, open every host's keystore, and print each
// host with its keys' names, types and sizes. Key values are never printed.
// Warnings go to stderr; an error is one line there, and exit code 2.
func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: xtokend check-config [-config F]")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	cfg, ok := findConfig(*configPath, stderr)
	if !ok {
		return exitUsage
	}
	stores, keyWarnings, err := cfg.OpenKeystoresWithWarnings()
	if err != nil {
		fmt.Fprintf(stderr, "xtokend: %v\n", err)
		return exitUsage
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "xtokend: warning: %s\n", w)
	}
	for _, w := range keyWarnings {
		fmt.Fprintf(stderr, "xtokend: warning: %s\n", w)
	}

	if cfg.Path == "" {
		fmt.Fprintf(stdout, "built-in default configuration (no ./%s here): ok\n", config.DefaultConfigFile)
	} else {
		fmt.Fprintf(stdout, "%s: ok\n", cfg.Path)
	}
	g := cfg.General
	fmt.Fprintf(stdout, "listen %s, require_starttls %t, admin_socket %s\n", g.Listen, cfg.TLS.RequireStartTLS, orNone(cfg.AdminSocketPath()))
	printCluster(stdout, cfg)
	for _, h := range g.Hosts {
		hs, _ := cfg.Host(h)
		at := hs.AuthToken
		fmt.Fprintf(stdout, "\nhost %s\n", h)
		fmt.Fprintf(stdout, "  mod_auth_token: otp_digits %d, otp_period %ds, otp_skew %d, nonce_digits %d, secret_key %s, seed_key %s, replay_protection %t\n",
			at.OTPDigits, at.OTPPeriod, at.OTPSkew, at.NonceDigits, at.SecretKey, at.SeedKey, at.ReplayProtection)
		fmt.Fprintln(stdout, "  mod_keystore:")
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, k := range stores[h].List() {
			from := ""
			switch {
			case k.File != "":
				from = fmt.Sprintf("%s\tfile %s", k.Encoding, k.File)
			case k.Var != "":
				from = fmt.Sprintf("%s\tenv %s", k.Encoding, k.Var)
			default:
				from = "\tmade at start, never written"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%d bytes\t%s\n", k.Name, k.Type, k.Size, from)
			for _, a := range k.Accept { // versions in rotation: verify, never sign
				if k.File != "" {
					fmt.Fprintf(tw, "    %s\taccepts\t\t%s\tfile %s\n", k.Name, k.Encoding, a)
				} else {
					fmt.Fprintf(tw, "    %s\taccepts\t\t%s\tenv %s\n", k.Name, k.Encoding, a)
				}
			}
		}
		tw.Flush()
	}
	return exitOK
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(none)"
	}
	return s
}
