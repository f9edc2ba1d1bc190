package oidcoptest

import (
	"context"
	"crypto/subtle"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/oidcop"
)

// Memory is an in-memory database of the provider's stores, for tests; it
// passes Run.
type Memory struct {
	mu       sync.Mutex
	requests map[string]oidcop.AuthRequest
	used     map[string]bool // auth request id: its code was used
	grants   map[string]oidcop.Grant
	refresh  map[string]oidcop.RefreshToken
	consents map[string]oidcop.Consent
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{requests: map[string]oidcop.AuthRequest{}, used: map[string]bool{}, grants: map[string]oidcop.Grant{},
		refresh: map[string]oidcop.RefreshToken{}, consents: map[string]oidcop.Consent{}}
}

// Stores returns m's stores.
func (m *Memory) Stores() oidcop.Stores {
	return oidcop.Stores{Grants: (*memGrants)(m), Consents: (*memConsents)(m), Retention: (*memGrants)(m)}
}

type (
	memGrants   Memory
	memConsents Memory
)

func (m *memGrants) SaveAuthRequest(_ context.Context, r oidcop.AuthRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.requests[r.ID]; ok {
		f := oidcop.RequestFence{CodeHash: old.CodeHash, CodeUsed: m.used[r.ID], Done: old.Done}
		if err := oidcop.WhySaveRefused(f, r.CodeHash); err != nil {
			return err
		}
	}
	r.CodeHash = slices.Clone(r.CodeHash)
	m.requests[r.ID] = r
	return nil
}

func (m *memGrants) AuthRequest(_ context.Context, id string) (oidcop.AuthRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.requests[id]
	if !ok {
		return oidcop.AuthRequest{}, oidcop.ErrNotFound
	}
	return r, nil
}

func (m *memGrants) UseCode(_ context.Context, codeHash []byte, g oidcop.Grant) (oidcop.AuthRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, r := range m.requests {
		if r.CodeHash != nil && string(r.CodeHash) == string(codeHash) {
			if m.used[id] {
				return r, oidcop.ErrCodeUsed
			}
			m.used[id] = true
			r.GrantID = g.ID
			m.requests[id], m.grants[g.ID] = r, g
			return r, nil
		}
	}
	return oidcop.AuthRequest{}, oidcop.ErrNotFound
}

func (m *memGrants) SaveGrant(_ context.Context, g oidcop.Grant) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.grants[g.ID] = g
	return nil
}

func (m *memGrants) Grant(_ context.Context, id string) (oidcop.Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.grants[id]
	if !ok {
		return oidcop.Grant{}, oidcop.ErrNotFound
	}
	return g, nil
}

func (m *memGrants) RevokeGrant(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.grants[id]
	if !ok {
		return oidcop.ErrNotFound
	}
	if g.RevokedAt.IsZero() {
		g.RevokedAt = at
		m.grants[id] = g
	}
	return nil
}

func (m *memGrants) RevokeGrantsOf(_ context.Context, userID uuid.UUID, clientID string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, g := range m.grants {
		if g.UserID == userID && g.ClientID == clientID && g.RevokedAt.IsZero() {
			g.RevokedAt = at
			m.grants[id] = g
		}
	}
	return nil
}

func (m *memGrants) GrantsOf(_ context.Context, userID uuid.UUID) ([]oidcop.Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []oidcop.Grant{}
	for _, g := range m.grants {
		if g.UserID == userID {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b oidcop.Grant) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// PurgeExpired removes, as the stores do, up to limit rows in the order of
// their steps: expired requests, expired refresh tokens, refresh tokens of
// grants revoked before before, then ended grants with any tokens left.
func (m *memGrants) PurgeExpired(ctx context.Context, before time.Time, limit int) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	left := int64(limit)
	for _, id := range slices.Sorted(maps.Keys(m.requests)) {
		if left > 0 && m.requests[id].ExpiresAt.Before(before) {
			delete(m.requests, id)
			delete(m.used, id)
			left--
		}
	}
	for _, gone := range []func(oidcop.RefreshToken) bool{
		func(t oidcop.RefreshToken) bool { return t.ExpiresAt.Before(before) },
		func(t oidcop.RefreshToken) bool { return m.revokedBefore(m.grants[t.GrantID], before) },
	} {
		for _, h := range slices.Sorted(maps.Keys(m.refresh)) {
			if left > 0 && gone(m.refresh[h]) {
				delete(m.refresh, h)
				left--
			}
		}
	}
	for _, ended := range []func(oidcop.Grant) bool{
		func(g oidcop.Grant) bool { return m.revokedBefore(g, before) },
		func(g oidcop.Grant) bool { return g.CreatedAt.Before(before) && !m.liveToken(g.ID, before) },
	} {
		for _, id := range slices.Sorted(maps.Keys(m.grants)) {
			if left > 0 && ended(m.grants[id]) {
				delete(m.grants, id)
				left--
				for h, t := range m.refresh {
					if t.GrantID == id {
						delete(m.refresh, h)
						left--
					}
				}
			}
		}
	}
	return int64(limit) - left, nil
}

func (m *memGrants) revokedBefore(g oidcop.Grant, before time.Time) bool {
	return !g.RevokedAt.IsZero() && g.RevokedAt.Before(before)
}

// liveToken says whether grant id has a refresh token expiring at or
// after before.
func (m *memGrants) liveToken(id string, before time.Time) bool {
	for _, t := range m.refresh {
		if t.GrantID == id && !t.ExpiresAt.Before(before) {
			return true
		}
	}
	return false
}

// CountExpired is how many rows PurgeExpired would remove in all.
func (m *memGrants) CountExpired(ctx context.Context, before time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, r := range m.requests {
		if r.ExpiresAt.Before(before) {
			n++
		}
	}
	for _, t := range m.refresh {
		if t.ExpiresAt.Before(before) || m.revokedBefore(m.grants[t.GrantID], before) {
			n++
		}
	}
	for id, g := range m.grants {
		if m.revokedBefore(g, before) || (g.CreatedAt.Before(before) && !m.liveToken(id, before)) {
			n++
		}
	}
	return n, nil
}

func (m *memGrants) AddRefreshToken(_ context.Context, t oidcop.RefreshToken, replaces []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if replaces != nil {
		old, ok := m.refresh[string(replaces)]
		if !ok {
			return oidcop.ErrNotFound
		}
		if !old.UsedAt.IsZero() {
			return oidcop.ErrRefreshReused
		}
		old.UsedAt = t.CreatedAt
		m.refresh[string(replaces)] = old
	}
	m.refresh[string(t.Hash)] = t
	return nil
}

func (m *memGrants) RefreshToken(_ context.Context, hash []byte) (oidcop.RefreshToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.refresh[string(hash)]
	if !ok {
		return oidcop.RefreshToken{}, oidcop.ErrNotFound
	}
	return t, nil
}

func consentKey(userID uuid.UUID, clientID string) string { return userID.String() + " " + clientID }

func (m *memConsents) Consent(_ context.Context, userID uuid.UUID, clientID string) (oidcop.Consent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.consents[consentKey(userID, clientID)]
	if !ok {
		return oidcop.Consent{}, oidcop.ErrNotFound
	}
	return c, nil
}

func (m *memConsents) SaveConsent(_ context.Context, c oidcop.Consent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.Scopes = slices.Clone(c.Scopes)
	m.consents[consentKey(c.UserID, c.ClientID)] = c
	return nil
}

func (m *memConsents) DeleteConsent(_ context.Context, userID uuid.UUID, clientID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := consentKey(userID, clientID)
	if _, ok := m.consents[k]; !ok {
		return oidcop.ErrNotFound
	}
	delete(m.consents, k)
	return nil
}

func (m *memConsents) ConsentsOf(_ context.Context, userID uuid.UUID) ([]oidcop.Consent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []oidcop.Consent{}
	for _, c := range m.consents {
		if c.UserID == userID {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b oidcop.Consent) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out, nil
}

// Clients is a fixed client registry for tests.
type Clients struct {
	mu      sync.Mutex
	clients map[string]oidcop.Client
	secrets map[string]string
}

// NewClients returns an empty registry.
func NewClients() *Clients {
	return &Clients{clients: map[string]oidcop.Client{}, secrets: map[string]string{}}
}

// Add registers c with secret ("" for a public client).
func (r *Clients) Add(c oidcop.Client, secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clients[c.ID], r.secrets[c.ID] = c, secret
}

// Remove deletes client id.
func (r *Clients) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.clients, id)
}

// Client returns client id, or oidcop.ErrUnknownClient.
func (r *Clients) Client(_ context.Context, id string) (oidcop.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clients[id]
	if !ok {
		return oidcop.Client{}, oidcop.ErrUnknownClient
	}
	return c, nil
}

// Authenticate returns client id if secret is its secret, presented by
// its registered method; oidcop.ErrWrongMethod when it came by another.
func (r *Clients) Authenticate(ctx context.Context, id, secret, method string) (oidcop.Client, error) {
	c, err := r.Client(ctx, id)
	r.mu.Lock()
	want := r.secrets[id]
	r.mu.Unlock()
	switch {
	case err != nil || c.Public():
		return oidcop.Client{}, oidcop.ErrUnknownClient
	case c.OtherMethod(secret, method):
		return oidcop.Client{}, oidcop.ErrWrongMethod
	case method != c.AuthMethod || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1:
		return oidcop.Client{}, oidcop.ErrUnknownClient
	}
	return c, nil
}
