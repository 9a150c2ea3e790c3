package main

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/xtokend/xtokend/sasl"
	"mellium.im/xmpp/jid"
)

// Config is what the application needs to mint tokens for one xtokend host and to point the
// browser at it.
type Config struct {
	Host         string       // the virtual host the users belong to
	Keys         sasl.Keys    // the host's access_secret and otp_seed, the server's own bytes
	Options      sasl.Options // the host's mod_auth_token options (digits, period)
	WebSocketURL string       // ws:// or wss:// URL of xtokend's WebSocket listener
	DistDir      string       // Converse.js's dist folder, served at /dist
	Logger       *slog.Logger
	// SessionTTL is how long a sign-in lasts; zero means defaultSessionTTL.
	SessionTTL time.Duration
}

// defaultSessionTTL is how long a toy sign-in lasts.
const defaultSessionTTL = 12 * time.Hour

//go:embed web
var webFS embed.FS

var templates = template.Must(template.ParseFS(webFS, "web/*.html"))

// App is the web application: a toy sign-in, the token endpoint and the chat page.
type App struct {
	cfg      Config
	minter   *sasl.Verifier
	sessions *sessions
	handler  http.Handler
	csp      string
}

// New checks cfg (the keys must be usable for cfg.Host with cfg.Options) and returns the
// application's handler.
func New(cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = defaultSessionTTL
	}
	if _, err := jid.New("", cfg.Host, ""); err != nil {
		return nil, fmt.Errorf("webapp: host %q: %w", cfg.Host, err)
	}
	ws, err := url.Parse(cfg.WebSocketURL)
	if err != nil || (ws.Scheme != "ws" && ws.Scheme != "wss") || ws.Host == "" {
		return nil, fmt.Errorf("webapp: websocket URL %q: want ws://HOST[:PORT]/PATH or wss://...", cfg.WebSocketURL)
	}
	// No replay cache: the application only mints; xtokend refuses a token used twice.
	minter, err := sasl.NewVerifier(cfg.Host, cfg.Keys, cfg.Options, nil)
	if err != nil {
		return nil, fmt.Errorf("webapp: %w", err)
	}
	a := &App{
		cfg:      cfg,
		minter:   minter,
		sessions: newSessions(cfg.SessionTTL),
		// The page loads everything from here and talks only to xtokend: nothing from the
		// internet, whatever Converse's templates link to.
		csp: "default-src 'self'; connect-src 'self' " + ws.Scheme + "://" + ws.Host +
			"; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /signin", a.signIn)
	mux.HandleFunc("POST /signout", a.signOut)
	mux.HandleFunc("GET /credentials", a.credentials)
	static, _ := fs.Sub(webFS, "web") // cannot fail: "web" is a valid path
	mux.Handle("GET /chat.js", http.FileServerFS(static))
	mux.Handle("GET /dist/", http.StripPrefix("/dist/", http.FileServer(http.Dir(cfg.DistDir))))
	// A form posted from another site must not sign anyone in or out.
	a.handler = http.NewCrossOriginProtection().Handler(mux)
	return a, nil
}

func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", a.csp)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	a.handler.ServeHTTP(w, r)
}

// pageConfig is what the chat page's script reads to start Converse.
type pageConfig struct {
	JID            string `json:"jid"`
	WebSocketURL   string `json:"websocket_url"`
	CredentialsURL string `json:"credentials_url"`
}

// home is the chat page for a signed-in user, the sign-in form for anyone else.
func (a *App) home(w http.ResponseWriter, r *http.Request) {
	user, ok := a.user(r)
	if !ok {
		a.render(w, http.StatusOK, "signin.html", signInPage{Host: a.cfg.Host})
		return
	}
	a.render(w, http.StatusOK, "chat.html", pageConfig{
		JID:            user + "@" + a.cfg.Host,
		WebSocketURL:   a.cfg.WebSocketURL,
		CredentialsURL: "/credentials",
	})
}

type signInPage struct {
	Host, Username, Error string
}

// signIn is the toy sign-in: any valid username is let in. A real application checks a
// password, a single sign-on assertion, or whatever it already uses.
func (a *App) signIn(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("username")
	j, err := jid.New(name, a.cfg.Host, "")
	if name == "" || err != nil {
		a.render(w, http.StatusBadRequest, "signin.html", signInPage{
			Host: a.cfg.Host, Username: name,
			Error: fmt.Sprintf("%q cannot be the user part of an XMPP address: letters, digits and most punctuation, but no @, /, :, quotes, <, > or spaces.", name),
		})
		return
	}
	user := j.Localpart() // normalized: "Alice" signs in as alice, as the server will see her
	id := a.sessions.create(user)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/",
		MaxAge: int(a.cfg.SessionTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	a.cfg.Logger.Info("signed in", "user", user)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *App) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.sessions.delete(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// credentials is Converse's credentials_url: a fresh token for the signed-in user on every call,
// as {jid, password}. Converse calls it before each connect and after a failed login.
func (a *App) credentials(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store") // a token is good once: never from a cache
	user, ok := a.user(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not signed in"})
		return
	}
	token, expires, err := a.minter.Mint(user, time.Now())
	if err != nil {
		a.serverError(w, "minting a token", err)
		return
	}
	// The token itself is never logged.
	a.cfg.Logger.Debug("minted a token", "user", user, "expires_at", expires)
	writeJSON(w, http.StatusOK, map[string]string{"jid": user + "@" + a.cfg.Host, "password": token})
}

// user returns the signed-in user of r's session cookie.
func (a *App) user(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	return a.sessions.lookup(c.Value)
}

func (a *App) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := templates.ExecuteTemplate(w, name, data); err != nil {
		a.cfg.Logger.Error("rendering a page", "page", name, "err", err)
	}
}

// serverError logs err (sasl and keystore errors never hold a key or a token) and answers 500.
func (a *App) serverError(w http.ResponseWriter, doing string, err error) {
	a.cfg.Logger.Error(doing, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
