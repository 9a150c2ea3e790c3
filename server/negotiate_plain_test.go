package server_test

import (
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtokend/xtokend/server/servertest"
)

// SASL PLAIN beside X-TOKEN (mod_auth_token's plain = true): a token as the
// password, for clients without X-TOKEN. Offered and accepted only where
// the host enables it, after X-TOKEN, and only where SASL is offered at all.
const (
	wPlainAuth  = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{TOKEN}</auth>"
	aMechsPlain = "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>X-TOKEN</mechanism><mechanism>PLAIN</mechanism></mechanisms>"
	aNoMech     = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-mechanism></invalid-mechanism>"
)

// plainWire sends send (with {TOKEN} replaced by token's initial response)
// to ts on plaintext and returns the whole answer.
func plainWire(t *testing.T, ts *servertest.Server, send, token string) string {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitLimit))
	ir := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + token))
	if _, err := conn.Write([]byte(strings.ReplaceAll(send, "{TOKEN}", ir))); err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(readAll(t, conn), `"`, "'")
}

// wantInOrder checks that got has each of want, in this order, and returns
// what follows the last.
func wantInOrder(t *testing.T, got string, want ...string) (rest string) {
	t.Helper()
	rest = got
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("no %q (in this order) in the answer %q", w, got)
		}
		rest = rest[i+len(w):]
	}
	return rest
}

func TestNegotiationWirePlain(t *testing.T) {
	plain := servertest.Start(t, servertest.Options{Plain: true})
	xtoken := servertest.Start(t, servertest.Options{})
	plainTLS := servertest.Start(t, servertest.Options{Plain: true, RequireStartTLS: true})

	t.Run("offered after X-TOKEN", func(t *testing.T) {
		got := plainWire(t, plain, wHeader+wEnd, "")
		wantInOrder(t, got, aMechsPlain)
	})
	t.Run("not offered without plain", func(t *testing.T) {
		got := plainWire(t, xtoken, wHeader+wEnd, "")
		wantInOrder(t, got, aMechs)
		if strings.Contains(got, "PLAIN") {
			t.Fatalf("PLAIN offered: %q", got)
		}
	})
	t.Run("refused without plain", func(t *testing.T) {
		got := plainWire(t, xtoken, wHeader+wPlainAuth+wEnd, xtoken.Mint(t, "alice@localhost"))
		wantInOrder(t, got, aMechs, aNoMech)
		if strings.Contains(got, aSuccess) {
			t.Fatalf("PLAIN login succeeded on a host without plain: %q", got)
		}
	})
	t.Run("not before STARTTLS", func(t *testing.T) {
		got := plainWire(t, plainTLS, wHeader+wPlainAuth, plainTLS.Mint(t, "alice@localhost"))
		if strings.Contains(got, "<mechanism>") || strings.Contains(got, aSuccess) {
			t.Fatalf("SASL offered or run before STARTTLS: %q", got)
		}
		wantInOrder(t, got, "<starttls", "policy-violation")
	})
	t.Run("login with a token as the password", func(t *testing.T) {
		got := plainWire(t, plain, wHeader+wPlainAuth+wHeader+wBindR+wEnd, plain.Mint(t, "alice@localhost"))
		wantInOrder(t, got, aMechsPlain, aSuccess, aBindFeat, aBound)
	})
	t.Run("PLAIN then X-TOKEN replay refused", func(t *testing.T) {
		token := plain.Mint(t, "alice@localhost")
		got := plainWire(t, plain, wHeader+wPlainAuth+wHeader+wBindR+wEnd, token)
		wantInOrder(t, got, aSuccess, aBound)
		got = plainWire(t, plain, wHeader+wAuth+wEnd, token)
		wantInOrder(t, got, aMechsPlain, wFailed)
		if strings.Contains(got, aSuccess) {
			t.Fatalf("a token used with PLAIN logged in again with X-TOKEN: %q", got)
		}
	})
	t.Run("X-TOKEN then PLAIN replay refused", func(t *testing.T) {
		token := plain.Mint(t, "alice@localhost")
		wantInOrder(t, plainWire(t, plain, wHeader+wAuth+wEnd, token), aSuccess)
		got := plainWire(t, plain, wHeader+wPlainAuth+wEnd, token)
		wantInOrder(t, got, wFailed)
		if strings.Contains(got, aSuccess) {
			t.Fatalf("a token used with X-TOKEN logged in again with PLAIN: %q", got)
		}
	})
}
