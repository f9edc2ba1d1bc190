package upgradetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// smoke runs the public API's happy paths and the token lifecycle on one
// server, as a new account: registration and email verification, logins
// by username and email, the profile, refresh rotation and reuse, sessions
// and audit, password change, password reset by mail, logout, and the
// admin listing. The error names the phase that failed.
func smoke(ctx context.Context, s *server) error {
	r := &smokeRun{ctx: ctx, c: newClient(s), a: newAccount("smoke")}
	for _, phase := range []struct {
		name string
		run  func() error
	}{
		{"register and verify the email", r.register},
		{"log in with username and with email", r.logins},
		{"read and update the profile", r.profile},
		{"refresh rotation and reuse", r.rotation},
		{"sessions and audit", r.sessions},
		{"password change", r.passwordChange},
		{"password reset by mail", r.passwordReset},
		{"logout", r.logout},
		{"admin listing", r.adminListing},
	} {
		if err := phase.run(); err != nil {
			return fmt.Errorf("%s: %w", phase.name, err)
		}
	}
	return nil
}

// smokeRun is the state one smoke carries from phase to phase.
type smokeRun struct {
	ctx    context.Context
	c      *client
	a      account
	tokens pair // the current session's
}

func (r *smokeRun) register() error {
	u, err := r.c.register(r.ctx, r.a)
	if err != nil {
		return err
	}
	if u.Username != r.a.username || u.EmailVerified || u.Role != "user" {
		return fmt.Errorf("registered %+v, want username %s, email not verified, role user", u, r.a.username)
	}
	token, err := r.c.waitMail(r.ctx, r.a.email, "confirm")
	if err != nil {
		return err
	}
	var v userRead
	if err := r.c.call(r.ctx, http.MethodPost, "/verify-email", "", map[string]string{"token": token}, http.StatusOK, &v); err != nil {
		return err
	}
	if !v.EmailVerified {
		return errors.New("verify-email answered email_verified false")
	}
	return nil
}

func (r *smokeRun) logins() (err error) {
	if _, err := r.c.login(r.ctx, r.a.email, r.a.password); err != nil {
		return err
	}
	r.tokens, err = r.c.login(r.ctx, r.a.username, r.a.password)
	return err
}

func (r *smokeRun) profile() error {
	const name = "Upgrade Smoke"
	var u userRead
	if err := r.c.call(r.ctx, http.MethodPut, "/users/me", r.tokens.Access, map[string]string{"full_name": name}, http.StatusOK, &u); err != nil {
		return err
	}
	got, err := r.c.me(r.ctx, r.tokens.Access, http.StatusOK)
	if err != nil {
		return err
	}
	if u.FullName != name || got.FullName != name || got.Email != r.a.email {
		return fmt.Errorf("after the update: answered %q, then read %+v; want full_name %q and email %s", u.FullName, got, name, r.a.email)
	}
	return nil
}

// rotation refreshes, then presents the used refresh token again: that
// revokes the session, so its tokens stop working; then logs in again.
func (r *smokeRun) rotation() (err error) {
	next, err := r.c.refresh(r.ctx, r.tokens.Refresh, http.StatusOK)
	if err != nil {
		return err
	}
	if _, err := r.c.me(r.ctx, next.Access, http.StatusOK); err != nil {
		return err
	}
	if _, err := r.c.refresh(r.ctx, r.tokens.Refresh, http.StatusBadRequest); err != nil {
		return fmt.Errorf("reuse of a rotated refresh token: %w", err)
	}
	if _, err := r.c.me(r.ctx, next.Access, http.StatusUnauthorized); err != nil {
		return fmt.Errorf("the session's access token after a reuse: %w", err)
	}
	if _, err := r.c.refresh(r.ctx, next.Refresh, http.StatusBadRequest); err != nil {
		return fmt.Errorf("the session's refresh token after a reuse: %w", err)
	}
	r.tokens, err = r.c.login(r.ctx, r.a.username, r.a.password)
	return err
}

func (r *smokeRun) sessions() error {
	var sessions []struct {
		Current bool `json:"current"`
	}
	if err := r.c.call(r.ctx, http.MethodGet, "/users/me/sessions", r.tokens.Access, nil, http.StatusOK, &sessions); err != nil {
		return err
	}
	current := 0
	for _, s := range sessions {
		if s.Current {
			current++
		}
	}
	if current != 1 {
		return fmt.Errorf("%d sessions listed, %d of them current; want exactly one current", len(sessions), current)
	}
	var audit struct {
		Items []struct {
			Kind string `json:"kind"`
		} `json:"items"`
	}
	if err := r.c.call(r.ctx, http.MethodGet, "/users/me/audit", r.tokens.Access, nil, http.StatusOK, &audit); err != nil {
		return err
	}
	if len(audit.Items) == 0 {
		return errors.New("the account's audit log is empty")
	}
	return nil
}

// passwordChange changes the password: the caller's access token stops
// working, its refresh token goes on, the old password stops opening it.
func (r *smokeRun) passwordChange() error {
	next := "second password " + r.a.username
	body := map[string]string{"current_password": r.a.password, "new_password": next}
	if err := r.c.call(r.ctx, http.MethodPut, "/users/me/password", r.tokens.Access, body, http.StatusNoContent, nil); err != nil {
		return err
	}
	if _, err := r.c.me(r.ctx, r.tokens.Access, http.StatusUnauthorized); err != nil {
		return fmt.Errorf("the access token of the old password: %w", err)
	}
	p, err := r.c.refresh(r.ctx, r.tokens.Refresh, http.StatusOK)
	if err != nil {
		return fmt.Errorf("the changing session's refresh: %w", err)
	}
	if err := r.c.loginRefused(r.ctx, r.a.username, r.a.password); err != nil {
		return fmt.Errorf("the old password: %w", err)
	}
	if _, err := r.c.login(r.ctx, r.a.email, next); err != nil {
		return err
	}
	r.a.password, r.tokens = next, p
	return nil
}

// passwordReset resets the password with the mailed token: every session
// ends, the new password opens the account.
func (r *smokeRun) passwordReset() (err error) {
	if err := r.c.call(r.ctx, http.MethodPost, "/password-reset", "", map[string]string{"email": r.a.email}, http.StatusAccepted, nil); err != nil {
		return err
	}
	token, err := r.c.waitMail(r.ctx, r.a.email, "reset")
	if err != nil {
		return err
	}
	next := "reset password " + r.a.username
	body := map[string]string{"token": token, "new_password": next}
	if err := r.c.call(r.ctx, http.MethodPost, "/password-reset/confirm", "", body, http.StatusNoContent, nil); err != nil {
		return err
	}
	if _, err := r.c.me(r.ctx, r.tokens.Access, http.StatusUnauthorized); err != nil {
		return fmt.Errorf("a session from before the reset: %w", err)
	}
	r.a.password = next
	r.tokens, err = r.c.login(r.ctx, r.a.email, next)
	return err
}

func (r *smokeRun) logout() error {
	if err := r.c.call(r.ctx, http.MethodPost, "/logout", r.tokens.Access, nil, http.StatusNoContent, nil); err != nil {
		return err
	}
	if _, err := r.c.me(r.ctx, r.tokens.Access, http.StatusUnauthorized); err != nil {
		return fmt.Errorf("the access token after logout: %w", err)
	}
	if _, err := r.c.refresh(r.ctx, r.tokens.Refresh, http.StatusBadRequest); err != nil {
		return fmt.Errorf("the refresh token after logout: %w", err)
	}
	return nil
}

// adminListing lists the account as the bootstrap administrator, and
// checks that the account itself may not.
func (r *smokeRun) adminListing() error {
	return adminLists(r.ctx, r.c, r.c, r.a)
}

// adminLists logs in as the administrator on as, finds a in the admin
// listing, and checks a's own token is refused there (on by).
func adminLists(ctx context.Context, as, by *client, a account) error {
	ad, err := as.login(ctx, admin.username, admin.password)
	if err != nil {
		return fmt.Errorf("the bootstrap administrator's login: %w", err)
	}
	var page struct {
		Items []userRead `json:"items"`
	}
	path := "/admin/users?" + url.Values{"username_prefix": {a.username}}.Encode()
	if err := as.call(ctx, http.MethodGet, path, ad.Access, nil, http.StatusOK, &page); err != nil {
		return err
	}
	if len(page.Items) != 1 || page.Items[0].Username != a.username {
		return fmt.Errorf("listing by username prefix %s: got %+v, want that one account", a.username, page.Items)
	}
	p, err := by.login(ctx, a.username, a.password)
	if err != nil {
		return err
	}
	return by.call(ctx, http.MethodGet, "/admin/users", p.Access, nil, http.StatusForbidden, nil)
}
