package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/xtokend/xtokend/server/adminclient"
)

// The rosters the roster phase logs in with, the same on every server: -users login users
// (r0, r1...) each with -contacts items, the first -online of them the keepers (k0, k1...),
// which stay online during the run, the others offline users (o0, o1...). Every item is a
// mutual subscription ("both"), so the keepers' and the offline users' rosters hold every
// login user too. The offline phase's senders (s0...) and receivers (d0...) need accounts
// only.

// rosterPlan is the shape of the rosters.
type rosterPlan struct {
	users, online, contacts int
	pairs                   int // the offline phase's sender and receiver pairs (accounts only)
}

func (p *rosterPlan) register(fs *flag.FlagSet) {
	fs.IntVar(&p.users, "users", 100, "login users r0 .. rN-1, each with a roster")
	fs.IntVar(&p.online, "online", 20, "the contacts kept online (k0 ..), whose presence each login waits for")
	fs.IntVar(&p.contacts, "contacts", 100, "items per login user's roster: the online contacts and offline ones (o0 ..)")
}

func (p *rosterPlan) check() error {
	if p.users <= 0 || p.online < 0 || p.contacts < p.online {
		return usageError("-users must be positive and -contacts at least -online")
	}
	return nil
}

// contactsOf lists the localparts in a login user's roster.
func (p *rosterPlan) contactsOf() []string {
	out := make([]string, 0, p.contacts)
	for i := range p.online {
		out = append(out, "k"+strconv.Itoa(i))
	}
	for i := range p.contacts - p.online {
		out = append(out, "o"+strconv.Itoa(i))
	}
	return out
}

// rosters maps every user with a roster to its items' localparts.
func (p *rosterPlan) rosters() map[string][]string {
	m := map[string][]string{}
	contacts := p.contactsOf()
	for i := range p.users {
		r := "r" + strconv.Itoa(i)
		m[r] = contacts
		for _, c := range contacts {
			m[c] = append(m[c], r)
		}
	}
	return m
}

// accounts lists every user the phases log in as (for servers with accounts).
func (p *rosterPlan) accounts() []string {
	var out []string
	for u := range p.rosters() {
		out = append(out, u)
	}
	for i := range p.pairs {
		out = append(out, "s"+strconv.Itoa(i), "d"+strconv.Itoa(i))
	}
	return out
}

// runSeed writes the rosters into a server: xtokend through its admin socket, Prosody as
// the files of its internal storage, ejabberd as a XEP-0227 file for ejabberdctl
// import_piefxis.
func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var p rosterPlan
	p.register(fs)
	fs.IntVar(&p.pairs, "pairs", 8, "offline phase: accounts s0 .. and d0 .. (ejabberd)")
	format := fs.String("format", "", "xtokend, prosody or ejabberd")
	host := fs.String("host", "localhost", "virtual host")
	socket := fs.String("admin-socket", "", "xtokend: the admin socket")
	dir := fs.String("dir", "", "prosody: the host's data folder (DATA/localhost), roster/ is written in it")
	out := fs.String("o", "", "ejabberd: the XEP-0227 file to write")
	password := fs.String("password", "bench", "ejabberd: the accounts' password")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := p.check(); err != nil {
		return err
	}
	switch *format {
	case "xtokend":
		if *socket == "" {
			return usageError("seed -format xtokend needs -admin-socket")
		}
		return seedXtokend(ctx, &p, *host, *socket)
	case "prosody":
		if *dir == "" {
			return usageError("seed -format prosody needs -dir")
		}
		return seedProsody(&p, *host, *dir)
	case "ejabberd":
		if *out == "" {
			return usageError("seed -format ejabberd needs -o")
		}
		return seedEjabberd(&p, *host, *password, *out)
	}
	return usageError("seed: -format must be xtokend, prosody or ejabberd")
}

// seedXtokend PUTs each login user's items with subscription both, which sets the contact's
// side too.
func seedXtokend(ctx context.Context, p *rosterPlan, host, socket string) error {
	c := adminclient.New(socket)
	defer c.Close()
	type put struct{ user, contact string }
	work := make(chan put)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range work {
				_, err := c.PutRosterItem(ctx, w.user+"@"+host, w.contact+"@"+host,
					adminclient.RosterItem{Name: w.contact, Groups: []string{"Bench"}, Subscription: "both"})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("seed: %s's item %s: %w", w.user, w.contact, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	contacts := p.contactsOf()
	for i := range p.users {
		for _, ct := range contacts {
			work <- put{"r" + strconv.Itoa(i), ct}
		}
	}
	close(work)
	wg.Wait()
	return firstErr
}

// seedProsody writes DIR/roster/USER.dat, the Lua tables of Prosody's internal storage
// (its rostermanager's layout: the [false] entry holds the version and pending requests).
func seedProsody(p *rosterPlan, host, dir string) error {
	rdir := filepath.Join(dir, "roster")
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return err
	}
	for user, items := range p.rosters() {
		f, err := os.Create(filepath.Join(rdir, user+".dat"))
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		w.WriteString("return {\n\t[false] = {\n\t\t[\"version\"] = 1;\n\t\t[\"pending\"] = {};\n\t};\n")
		for _, c := range items {
			fmt.Fprintf(w, "\t[%q] = {\n\t\t[\"subscription\"] = \"both\";\n\t\t[\"name\"] = %q;\n\t\t[\"groups\"] = {\n\t\t\t[\"Bench\"] = true;\n\t\t};\n\t};\n", c+"@"+host, c)
		}
		w.WriteString("};\n")
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// seedEjabberd writes a XEP-0227 (PIEFXIS) file of every account with its roster.
func seedEjabberd(p *rosterPlan, host, password, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='urn:xmpp:pie:0'>\n<host jid='" + host + "'>\n")
	rosters := p.rosters()
	for _, user := range p.accounts() {
		fmt.Fprintf(w, "<user name='%s' password='%s'>", user, password)
		if items := rosters[user]; len(items) > 0 {
			w.WriteString("<query xmlns='jabber:iq:roster'>")
			for _, c := range items {
				fmt.Fprintf(w, "<item jid='%s@%s' name='%s' subscription='both'><group>Bench</group></item>", c, host, c)
			}
			w.WriteString("</query>")
		}
		w.WriteString("</user>\n")
	}
	w.WriteString("</host>\n</server-data>\n")
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
