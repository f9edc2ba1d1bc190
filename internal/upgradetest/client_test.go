package upgradetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// requestTimeout bounds one request of the tests.
const requestTimeout = 15 * time.Second

// account is a user the tests register.
type account struct {
	email, username, password string
}

// admin is the bootstrap administrator every process is configured with.
var admin = account{email: "root@upgrade.example.com", username: "upgrade_root", password: "bootstrap admin password"}

// newAccount returns an account no earlier test has used.
func newAccount(prefix string) account {
	name := prefix + "_" + strings.ToLower(rand.Text()[:10])
	return account{email: name + "@upgrade.example.com", username: name, password: "first password " + name}
}

// client calls one server's API.
type client struct {
	srv  *server
	http *http.Client
}

func newClient(s *server) *client {
	return &client{srv: s, http: &http.Client{Timeout: requestTimeout}}
}

// pair is what /token returns.
type pair struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

// userRead is what the tests read of a UserRead.
type userRead struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Username      string `json:"username"`
	FullName      string `json:"full_name"`
	Role          string `json:"role"`
	EmailVerified bool   `json:"email_verified"`
}

// call sends a request with a JSON body (nil: none) or a form, checks the
// status and decodes the answer into out (nil: ignore it).
func (c *client) call(ctx context.Context, method, path, token string, body any, want int, out any) error {
	var r io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		r, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		r, contentType = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.srv.base+"/api/v1"+path, r)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s on %s: %w", method, path, c.srv.name, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s on %s: read the answer: %w", method, path, c.srv.name, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s on %s: status %d, want %d; body %.300s", method, path, c.srv.name, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s on %s: %w; body %.300s", method, path, c.srv.name, err, raw)
		}
	}
	return nil
}

func (c *client) register(ctx context.Context, a account) (userRead, error) {
	var u userRead
	err := c.call(ctx, http.MethodPost, "/register", "",
		map[string]string{"email": a.email, "username": a.username, "password": a.password}, http.StatusCreated, &u)
	return u, err
}

// login logs in with login (username or email) and password.
func (c *client) login(ctx context.Context, login, password string) (pair, error) {
	var p pair
	err := c.call(ctx, http.MethodPost, "/token", "", url.Values{"username": {login}, "password": {password}}, http.StatusOK, &p)
	return p, err
}

// loginRefused checks that login with password is refused.
func (c *client) loginRefused(ctx context.Context, login, password string) error {
	return c.call(ctx, http.MethodPost, "/token", "", url.Values{"username": {login}, "password": {password}}, http.StatusUnauthorized, nil)
}

// refresh exchanges a refresh token for a new pair (want 200) or checks
// that it is refused (want 400).
func (c *client) refresh(ctx context.Context, refresh string, want int) (pair, error) {
	var p pair
	var out any = &p
	if want != http.StatusOK {
		out = nil
	}
	err := c.call(ctx, http.MethodPost, "/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, want, out)
	return p, err
}

// me reads the caller's account (want 200) or checks the token is refused
// (want 401).
func (c *client) me(ctx context.Context, token string, want int) (userRead, error) {
	var u userRead
	var out any = &u
	if want != http.StatusOK {
		out = nil
	}
	return u, c.call(ctx, http.MethodGet, "/users/me", token, nil, want, out)
}

// waitMail returns the token of the mail with subject (a word of it) that
// the server logged for to.
func (c *client) waitMail(ctx context.Context, to, subject string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	line, err := c.srv.waitLine(ctx, "mail to "+to+" about "+subject, func(s string) bool {
		l, ok := parseLog(s)
		return ok && l.To == to && strings.Contains(strings.ToLower(l.Subject), subject)
	})
	if err != nil {
		return "", err
	}
	l, _ := parseLog(line)
	m := mailToken.FindStringSubmatch(l.Text)
	if m == nil {
		return "", fmt.Errorf("no token in the mail to %s: %.300s", to, l.Text)
	}
	return m[1], nil
}

// mailToken finds the token in a mail's text ("Token: ..." or the link's
// token= parameter).
var mailToken = regexp.MustCompile(`(?:Token: |token=)([A-Za-z0-9_-]{20,})`)
