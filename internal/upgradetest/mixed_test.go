package upgradetest

import (
	"context"
	"fmt"
	"net/http"
)

// interleave alternates one account's requests between prev and cur,
// two versions serving one database: each must accept what the other
// wrote.
func interleave(ctx context.Context, prev, cur *client) error {
	m := &mixed{ctx: ctx, prev: prev, cur: cur, a: newAccount("mixed")}
	for _, phase := range []struct {
		name string
		run  func() error
	}{
		{"registered on one, logged in and updated on the other", m.accounts},
		{"refresh rotated on one, reuse detected on the other", m.rotation},
		{"password changed on one, checked on the other", m.password},
		{"reset asked on one, confirmed on the other", m.reset},
		{"admin listing on both", m.admin},
		{"logout on one, token refused on the other", m.logout},
	} {
		if err := phase.run(); err != nil {
			return fmt.Errorf("%s: %w", phase.name, err)
		}
	}
	return nil
}

// mixed is the state an interleaving carries from phase to phase.
type mixed struct {
	ctx       context.Context
	prev, cur *client
	a         account
	tokens    pair
}

func (m *mixed) accounts() (err error) {
	if _, err := m.prev.register(m.ctx, m.a); err != nil {
		return err
	}
	if m.tokens, err = m.cur.login(m.ctx, m.a.username, m.a.password); err != nil {
		return err
	}
	const name = "Mixed Versions"
	if err := m.cur.call(m.ctx, http.MethodPut, "/users/me", m.tokens.Access, map[string]string{"full_name": name}, http.StatusOK, nil); err != nil {
		return err
	}
	u, err := m.prev.me(m.ctx, m.tokens.Access, http.StatusOK)
	if err != nil {
		return err
	}
	if u.FullName != name {
		return fmt.Errorf("the previous release reads full_name %q, want %q", u.FullName, name)
	}
	b := newAccount("mixed")
	if _, err := m.cur.register(m.ctx, b); err != nil {
		return err
	}
	_, err = m.prev.login(m.ctx, b.email, b.password)
	return err
}

func (m *mixed) rotation() error {
	next, err := m.prev.refresh(m.ctx, m.tokens.Refresh, http.StatusOK)
	if err != nil {
		return err
	}
	if _, err := m.cur.me(m.ctx, next.Access, http.StatusOK); err != nil {
		return err
	}
	if _, err := m.cur.refresh(m.ctx, m.tokens.Refresh, http.StatusBadRequest); err != nil {
		return fmt.Errorf("reuse of a token rotated by the other version: %w", err)
	}
	if _, err := m.prev.me(m.ctx, next.Access, http.StatusUnauthorized); err != nil {
		return fmt.Errorf("the session's access token after a reuse: %w", err)
	}
	m.tokens, err = m.prev.login(m.ctx, m.a.email, m.a.password)
	return err
}

func (m *mixed) password() error {
	next := "second password " + m.a.username
	body := map[string]string{"current_password": m.a.password, "new_password": next}
	if err := m.cur.call(m.ctx, http.MethodPut, "/users/me/password", m.tokens.Access, body, http.StatusNoContent, nil); err != nil {
		return err
	}
	if _, err := m.prev.me(m.ctx, m.tokens.Access, http.StatusUnauthorized); err != nil {
		return fmt.Errorf("the access token of the old password: %w", err)
	}
	if err := m.prev.loginRefused(m.ctx, m.a.username, m.a.password); err != nil {
		return fmt.Errorf("the old password: %w", err)
	}
	p, err := m.prev.refresh(m.ctx, m.tokens.Refresh, http.StatusOK)
	if err != nil {
		return fmt.Errorf("the changing session's refresh: %w", err)
	}
	m.a.password, m.tokens = next, p
	return nil
}

func (m *mixed) reset() (err error) {
	if err := m.cur.call(m.ctx, http.MethodPost, "/password-reset", "", map[string]string{"email": m.a.email}, http.StatusAccepted, nil); err != nil {
		return err
	}
	token, err := m.cur.waitMail(m.ctx, m.a.email, "reset")
	if err != nil {
		return err
	}
	next := "reset password " + m.a.username
	if err := m.prev.call(m.ctx, http.MethodPost, "/password-reset/confirm", "",
		map[string]string{"token": token, "new_password": next}, http.StatusNoContent, nil); err != nil {
		return err
	}
	if _, err := m.cur.me(m.ctx, m.tokens.Access, http.StatusUnauthorized); err != nil {
		return fmt.Errorf("a session from before the reset: %w", err)
	}
	m.a.password = next
	m.tokens, err = m.cur.login(m.ctx, m.a.username, next)
	return err
}

func (m *mixed) admin() error {
	if err := adminLists(m.ctx, m.prev, m.cur, m.a); err != nil {
		return fmt.Errorf("listed by the previous release: %w", err)
	}
	if err := adminLists(m.ctx, m.cur, m.prev, m.a); err != nil {
		return fmt.Errorf("listed by the current code: %w", err)
	}
	return nil
}

func (m *mixed) logout() error {
	if err := m.prev.call(m.ctx, http.MethodPost, "/logout", m.tokens.Access, nil, http.StatusNoContent, nil); err != nil {
		return err
	}
	if _, err := m.cur.me(m.ctx, m.tokens.Access, http.StatusUnauthorized); err != nil {
		return fmt.Errorf("the access token after logout: %w", err)
	}
	return nil
}
