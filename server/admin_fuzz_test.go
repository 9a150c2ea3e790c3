package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
)

// FuzzAdminMint feeds arbitrary bodies to POST /v1/tokens: every answer must
// be JSON with a known status, and a token only for a bare JID of a served host.
func FuzzAdminMint(f *testing.F) {
	for _, seed := range []string{
		`{"jid":"alice@localhost"}`, `{"jid":"Alice@LocalHost"}`, `{"jid":"alice@localhost/r"}`,
		`{"jid":"localhost"}`, `{"jid":""}`, `{}`, `[]`, `null`, `{"jid":1}`, `{"jid":"a@b@c"}`,
		`{"jid":"\u0000@localhost"}`, `{"jid":"alice@first.com"}{}`, `{"jid":"x@example.org"}`, ``,
	} {
		f.Add(seed)
	}
	h := newAdminHandler(&fakeAdmin{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/tokens", strings.NewReader(body)))
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("answer to %q is not a JSON object: %q", body, rec.Body)
		}
		switch rec.Code {
		case http.StatusOK:
			j, err := jid.Parse(answer["jid"].(string))
			if err != nil || j.Localpart() == "" || j.Resourcepart() != "" || answer["token"] == nil {
				t.Fatalf("200 for %q: %v", body, answer)
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusInternalServerError:
			if answer["error"] == nil || answer["token"] != nil {
				t.Fatalf("%d for %q: %v", rec.Code, body, answer)
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}
