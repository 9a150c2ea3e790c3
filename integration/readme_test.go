package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xtokend/xtokend/internal/testkit"
)

// TestReadmeQuickStart follows the README from the top, as a new user would,
// in a copy of the repository (a fresh clone) with a HOME and GOPATH of its
// own: it runs the ```sh blocks marked <!-- readme-test: NAME --> exactly as
// written: go install, the server in the background, tokens, the
// certificate, and the stock-client login with sendxmpp. Then stock slixmpp
// logs in with PLAIN, a token printed by the README's command as its
// password, trusting the certificate file the server kept.
//
// The one thing added is the pause a person makes after starting the server:
// the script waits for its admin socket. When 127.0.0.1:5222 or :5280 is
// taken on this machine, a config.toml that is the built-in default but for
// the ports is written first, and the login command's port is changed to match.
func TestReadmeQuickStart(t *testing.T) {
	skipShort(t)
	slixmpp.require(t)
	sendxmpp.require(t)
	t.Parallel()

	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	quick := markedBlock(t, string(readme), "quick-start")
	login := markedBlock(t, string(readme), "stock-login")

	home := t.TempDir()
	clone := filepath.Join(home, "xtokend")
	copyTree(t, root, clone)

	testkit.LockDefaultPorts(t)
	c2s := "127.0.0.1:5222"
	if !portFree(c2s) || !portFree("127.0.0.1:5280") {
		ws := "127.0.0.1:" + freePort(t)
		c2s = "127.0.0.1:" + freePort(t)
		t.Logf("127.0.0.1:5222 or :5280 is taken: a config.toml that is the built-in default but for listen = %q", c2s)
		cfg := fmt.Sprintf("[general]\nhosts = [\"localhost\"]\nlisten = %q\n\n[websocket]\nlisten = %q\n\n[modules.mod_auth_token]\nplain = true\n", c2s, ws)
		writeFile(t, filepath.Join(clone, "config.toml"), cfg)
		login = strings.ReplaceAll(login, "127.0.0.1:5222", c2s)
	}

	var script strings.Builder
	script.WriteString("set -e\n")
	for _, cmd := range shellCommands(quick) {
		script.WriteString(cmd + "\n")
		if background.MatchString(cmd) {
			// The pause a person makes: until the server's admin socket is there.
			script.WriteString("echo $! > .readme-server.pid\n" +
				"for i in $(seq 600); do [ -S xtokend.sock ] && break; sleep 0.1; done\n")
		}
	}
	script.WriteString("echo '--- stock-login'\n")
	for _, cmd := range shellCommands(login) {
		script.WriteString(cmd + "\n")
	}

	env := readmeEnv(t, home)
	t.Cleanup(func() { stopReadmeServer(t, clone) }) // also when the script fails
	out := runScript(t, clone, env, script.String())

	quickOut, loginOut, _ := strings.Cut(out, "--- stock-login\n")
	tokenLine := regexp.MustCompile(`(?m)^[0-9]{40} [A-Za-z0-9+/]+=*$`)
	if !tokenLine.MatchString(quickOut) {
		t.Errorf("xtokend token alice@localhost printed no token:\n%s", quickOut)
	}
	var js struct{ JID, Token string }
	for _, line := range strings.Split(quickOut, "\n") {
		if strings.HasPrefix(line, "{") {
			json.Unmarshal([]byte(line), &js)
		}
	}
	if js.JID != "alice@localhost" || !tokenLine.MatchString(js.Token) {
		t.Errorf("xtokend token -json alice@localhost: want jid and token:\n%s", quickOut)
	}
	certFile := filepath.Join(clone, "xtokend-cert.pem")
	if !strings.Contains(quickOut, certFile) || !regexp.MustCompile(`(?m)^sha256 +([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(quickOut) {
		t.Errorf("xtokend cert: want the file %s and a SHA-256 fingerprint:\n%s", certFile, quickOut)
	}
	t.Logf("the sendxmpp login (exit 0) printed %q", loginOut)

	// A stock client, PLAIN, with the README's minting command and the kept certificate.
	// go install put it in $(go env GOPATH)/bin, GOPATH being ~/go for this new user.
	tokenCmd := exec.Command(filepath.Join(home, "go", "bin", "xtokend"), "token", "alice@localhost")
	tokenCmd.Dir, tokenCmd.Env = clone, env
	tok, err := tokenCmd.Output()
	if err != nil {
		t.Fatalf("xtokend token alice@localhost: %v", err)
	}
	cmd := exec.Command(debianPython, "clients/slixmpp_client.py", c2s, "localhost", "alice",
		strings.TrimSpace(string(tok)), "--plain", "--ca", certFile, "--timeout", fmt.Sprint(clientTimeout.Seconds()))
	stdout, err := cmd.Output()
	var bound bool
	sc := bufio.NewScanner(strings.NewReader(string(stdout)))
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Event == "bound" && e.Secure && strings.HasPrefix(e.JID, "alice@localhost/") {
			bound = true
		}
	}
	if err != nil || !bound {
		t.Fatalf("stock slixmpp with a token from the README's command: %v\n%s", err, stdout)
	}
}

// background is a shell command that ends with "&" (before any comment).
var background = regexp.MustCompile(`&\s*(#.*)?$`)

// markedBlock returns the ```sh block right after <!-- readme-test: name -->.
func markedBlock(t *testing.T, md, name string) string {
	t.Helper()
	marker := "<!-- readme-test: " + name + " -->\n```sh\n"
	_, rest, ok := strings.Cut(md, marker)
	if !ok {
		t.Fatalf("README.md has no ```sh block marked %q", name)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("README.md: the block marked %q is not closed", name)
	}
	return block
}

// shellCommands splits a block into commands: continuation lines joined,
// lines that are only comments (sample output) left out.
func shellCommands(block string) []string {
	var cmds []string
	var cur strings.Builder
	for _, line := range strings.Split(block, "\n") {
		if cur.Len() == 0 && (strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#")) {
			continue
		}
		cur.WriteString(line + "\n")
		if !strings.HasSuffix(line, "\\") {
			cmds = append(cmds, strings.TrimSuffix(cur.String(), "\n"))
			cur.Reset()
		}
	}
	return cmds
}

// readmeEnv is a new user's environment: HOME (and so GOPATH) of the test's
// own, and a PATH with no xtokend on it yet. The Go build and module caches
// stay the machine's, so that nothing is fetched again.
func readmeEnv(t *testing.T, home string) []string {
	t.Helper()
	goenv := map[string]string{}
	for _, name := range []string{"GOCACHE", "GOMODCACHE"} {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		goenv[name] = strings.TrimSpace(string(out))
	}
	var path []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(dir, "xtokend")); err == nil {
			continue // an xtokend installed before: the README's must be the one found
		}
		path = append(path, dir)
	}
	var env []string
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "HOME", "PATH", "GOPATH", "GOBIN", "GOCACHE", "GOMODCACHE", "XDG_CACHE_HOME", "XDG_CONFIG_HOME":
		default:
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+home, "PATH="+strings.Join(path, string(os.PathListSeparator)),
		"GOCACHE="+goenv["GOCACHE"], "GOMODCACHE="+goenv["GOMODCACHE"], "GOPROXY=off")
}

// runScript runs a bash script in dir and returns its stdout. Its output
// goes to files, not pipes: the server it leaves running in the background
// keeps them open.
func runScript(t *testing.T, dir string, env []string, script string) string {
	t.Helper()
	stdout, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, stdout, stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		err = <-done
	}
	out, _ := os.ReadFile(stdout.Name())
	if err != nil {
		errOut, _ := os.ReadFile(stderr.Name())
		t.Fatalf("the README's commands failed: %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", err, script, out, errOut)
	}
	return string(out)
}

// stopReadmeServer ends the server the README started in the background
// (SIGTERM, as a person would) and waits until it is gone.
func stopReadmeServer(t *testing.T, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, ".readme-server.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the README's server did not exit on SIGTERM")
	}
}

// copyTree copies the repository's regular files (not .git, node_modules or
// sockets) from src to dst: what a clone holds.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() || d.Name() == ".git" || leftBehind[rel] {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// leftBehind are files a quick start run in the repository itself leaves
// there; a clone has none of them.
var leftBehind = map[string]bool{"config.toml": true, "xtokend-cert.pem": true, "xtokend-key.pem": true, ".readme-server.pid": true}

func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}
