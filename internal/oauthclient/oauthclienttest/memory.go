package oauthclienttest

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/usersvc/usersvc/internal/oauthclient"
)

// Memory is an in-memory oauthclient.Store that passes the suite.
type Memory struct {
	mu      sync.Mutex
	clients map[string]oauthclient.Client
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{clients: map[string]oauthclient.Client{}} }

var _ oauthclient.Store = (*Memory)(nil)

// clone copies c's slices, so that callers never share them with the store.
func clone(c oauthclient.Client) oauthclient.Client {
	c.SecretHash = slices.Clone(c.SecretHash)
	for _, s := range []*[]string{&c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.Grants, &c.Scopes} {
		*s = append([]string{}, *s...)
	}
	return c
}

// Create stores c.
func (m *Memory) Create(_ context.Context, c oauthclient.Client) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.clients[c.ID]; ok {
		return oauthclient.ErrExists
	}
	m.clients[c.ID] = clone(c)
	return nil
}

// Client returns the client id, unless it is deleted.
func (m *Memory) Client(_ context.Context, id string) (oauthclient.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clients[id]
	if !ok || !c.DeletedAt.IsZero() {
		return oauthclient.Client{}, oauthclient.ErrNotFound
	}
	return clone(c), nil
}

// List returns the clients not deleted, oldest first.
func (m *Memory) List(context.Context) ([]oauthclient.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []oauthclient.Client{}
	for _, c := range m.clients {
		if c.DeletedAt.IsZero() {
			out = append(out, clone(c))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Save replaces the client c.ID by c, all but its creation and deletion.
func (m *Memory) Save(_ context.Context, c oauthclient.Client) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.clients[c.ID]
	if !ok || !old.DeletedAt.IsZero() {
		return oauthclient.ErrNotFound
	}
	c = clone(c)
	c.CreatedAt, c.DeletedAt = old.CreatedAt, old.DeletedAt
	m.clients[c.ID] = c
	return nil
}

// Delete marks the client id deleted at at.
func (m *Memory) Delete(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clients[id]
	if !ok || !c.DeletedAt.IsZero() {
		return oauthclient.ErrNotFound
	}
	c.DeletedAt, c.UpdatedAt = at, at
	m.clients[id] = c
	return nil
}
