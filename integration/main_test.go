package integration

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xtokend/xtokend/internal/testkit"
)

// The two virtual hosts every test server serves: one whose keys are files in Prosody's format,
// one whose keys live only in the server's memory.
const (
	fileHost = "file.test"
	ramHost  = "ram.test"
)

// Built once for the whole test binary by TestMain.
var (
	binPath  string // the xtokend binary
	certPath string // PEM certificate for fileHost and ramHost, the clients' only trust anchor
	keyPath  string // its private key
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	raiseParallel()
	if testing.Short() {
		return m.Run() // the client tests skip themselves: no binary, no certificate
	}
	dir, err := os.MkdirTemp("", "xtokend-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	if binPath = os.Getenv("XTOKEND_BIN"); binPath == "" {
		binPath = filepath.Join(dir, "xtokend")
		if err := build(binPath); err != nil {
			fmt.Fprintln(os.Stderr, "integration: building xtokend:", err)
			return 1
		}
	}

	certPath = filepath.Join(dir, "cert.pem")
	keyPath = filepath.Join(dir, "key.pem")
	if err := writeSelfSigned(certPath, keyPath, fileHost, ramHost); err != nil {
		fmt.Fprintln(os.Stderr, "integration: certificate:", err)
		return 1
	}
	return m.Run()
}

// raiseParallel lets more than GOMAXPROCS tests run at once, unless -parallel was given: these
// tests spend their time waiting for client processes and a server, not on the CPU, and with the
// default (2 on two cores) the suite would take minutes.
func raiseParallel() {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "8")
	}
}

// build compiles cmd/xtokend to path. When the tests run with -race, so does the server, and a
// race it hits fails the test that drove it.
func build(path string) error {
	args := []string{"build", "-o", path}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "github.com/xtokend/xtokend/cmd/xtokend")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// writeSelfSigned writes a self-signed certificate valid for names, and its key.
// It is its own CA, so a client that trusts the file trusts the server and nothing else.
func writeSelfSigned(certFile, keyFile string, names ...string) error {
	c, err := testkit.SelfSigned(0, names...)
	if err != nil {
		return err
	}
	return c.WriteFiles(certFile, keyFile)
}
