// Package oauthclienttest is the conformance suite every implementation
// of oauthclient.Store must pass, plus Memory, an in-memory store that
// passes it.
package oauthclienttest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/internal/oauthclient"
)

// base is the time the suite's rows are made at: microseconds, as the
// stores keep them.
var base = time.Date(2026, 12, 5, 10, 0, 0, 123456000, time.UTC)

// NewClient returns a valid confidential client numbered n, not yet
// stored, created n seconds after base.
func NewClient(n int) oauthclient.Client {
	at := base.Add(time.Duration(n) * time.Second)
	hash := sha256.Sum256(fmt.Appendf(nil, "secret-%d", n))
	return oauthclient.Client{
		ID: fmt.Sprintf("client-%02d", n), Name: fmt.Sprintf("Client %d", n), AuthMethod: oauthclient.AuthSecretBasic,
		SecretHash:             hash[:],
		RedirectURIs:           []string{fmt.Sprintf("https://app%d.example.com/callback", n), "http://127.0.0.1:8080/cb"},
		PostLogoutRedirectURIs: []string{fmt.Sprintf("https://app%d.example.com/", n)},
		Grants:                 []string{oauthclient.GrantAuthorizationCode, oauthclient.GrantRefreshToken},
		Scopes:                 []string{oauthclient.ScopeOpenID, oauthclient.ScopeEmail},
		CreatedAt:              at, UpdatedAt: at,
	}
}

// Run checks that the store open returns follows every rule of the port
// (the group "Clients"). open must return the store of a fresh, empty,
// migrated database each time, released in t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) oauthclient.Store) {
	t.Run("Clients", func(t *testing.T) {
		for name, test := range clientTests {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				test(t, open(t))
			})
		}
	})
}

func mustCreate(t *testing.T, s oauthclient.Store, c oauthclient.Client) {
	t.Helper()
	if err := s.Create(context.Background(), c); err != nil {
		t.Fatalf("Create(%s) = %v", c.ID, err)
	}
}

func mustGet(t *testing.T, s oauthclient.Store, id string) oauthclient.Client {
	t.Helper()
	c, err := s.Client(context.Background(), id)
	if err != nil {
		t.Fatalf("Client(%s) = %v", id, err)
	}
	return c
}

var clientTests = map[string]func(*testing.T, oauthclient.Store){
	"CreateThenRead": func(t *testing.T, s oauthclient.Store) {
		want := NewClient(1)
		mustCreate(t, s, want)
		if diff := cmp.Diff(want, mustGet(t, s, want.ID)); diff != "" {
			t.Errorf("Client read back differs (-want +got):\n%s", diff)
		}
	},
	"PublicClientHasNoSecret": func(t *testing.T, s oauthclient.Store) {
		want := NewClient(1)
		want.AuthMethod, want.SecretHash, want.FirstParty = oauthclient.AuthNone, nil, true
		want.PostLogoutRedirectURIs, want.Scopes = []string{}, []string{}
		mustCreate(t, s, want)
		if diff := cmp.Diff(want, mustGet(t, s, want.ID)); diff != "" {
			t.Errorf("Client read back differs (-want +got):\n%s", diff)
		}
	},
	"UnknownIsNotFound": func(t *testing.T, s oauthclient.Store) {
		ctx := context.Background()
		if _, err := s.Client(ctx, "nope"); !errors.Is(err, oauthclient.ErrNotFound) {
			t.Errorf("Client(unknown) = %v, want ErrNotFound", err)
		}
		if err := s.Save(ctx, NewClient(1)); !errors.Is(err, oauthclient.ErrNotFound) {
			t.Errorf("Save(unknown) = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "nope", base); !errors.Is(err, oauthclient.ErrNotFound) {
			t.Errorf("Delete(unknown) = %v, want ErrNotFound", err)
		}
	},
	"TakenIDIsErrExists": func(t *testing.T, s oauthclient.Store) {
		mustCreate(t, s, NewClient(1))
		again := NewClient(2)
		again.ID = NewClient(1).ID
		if err := s.Create(context.Background(), again); !errors.Is(err, oauthclient.ErrExists) {
			t.Errorf("Create(taken id) = %v, want ErrExists", err)
		}
	},
	"ListOldestFirstWithoutDeleted": func(t *testing.T, s oauthclient.Store) {
		ctx := context.Background()
		for _, n := range []int{3, 1, 2} {
			mustCreate(t, s, NewClient(n))
		}
		if err := s.Delete(ctx, NewClient(2).ID, base.Add(time.Hour)); err != nil {
			t.Fatalf("Delete = %v", err)
		}
		got, err := s.List(ctx)
		if err != nil {
			t.Fatalf("List = %v", err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		if want := []string{NewClient(1).ID, NewClient(3).ID}; !cmp.Equal(ids, want) {
			t.Errorf("List ids = %v, want %v", ids, want)
		}
	},
	"EmptyListIsEmpty": func(t *testing.T, s oauthclient.Store) {
		got, err := s.List(context.Background())
		if err != nil || len(got) != 0 {
			t.Errorf("List = %v, %v; want nothing", got, err)
		}
	},
	"SaveReplacesAllButCreation": func(t *testing.T, s oauthclient.Store) {
		c := NewClient(1)
		mustCreate(t, s, c)
		c.Name, c.AuthMethod = "Renamed", oauthclient.AuthSecretPost
		hash := sha256.Sum256([]byte("rotated"))
		c.SecretHash = hash[:]
		c.RedirectURIs, c.PostLogoutRedirectURIs = []string{"https://new.example.com/cb"}, []string{}
		c.Grants = []string{oauthclient.GrantClientCredentials}
		c.Scopes = []string{oauthclient.ScopeUsersRead, oauthclient.ScopeAuditRead}
		c.FirstParty, c.UpdatedAt, c.SecretRotatedAt = true, base.Add(time.Hour), base.Add(time.Hour)
		saved := c
		saved.CreatedAt = base.Add(-time.Hour) // ignored
		if err := s.Save(context.Background(), saved); err != nil {
			t.Fatalf("Save = %v", err)
		}
		if diff := cmp.Diff(c, mustGet(t, s, c.ID)); diff != "" {
			t.Errorf("Client after Save differs (-want +got):\n%s", diff)
		}
	},
	"DeletedIsGoneButKeepsItsID": func(t *testing.T, s oauthclient.Store) {
		ctx := context.Background()
		c := NewClient(1)
		mustCreate(t, s, c)
		if err := s.Delete(ctx, c.ID, base.Add(time.Hour)); err != nil {
			t.Fatalf("Delete = %v", err)
		}
		if _, err := s.Client(ctx, c.ID); !errors.Is(err, oauthclient.ErrNotFound) {
			t.Errorf("Client(deleted) = %v, want ErrNotFound", err)
		}
		if err := s.Save(ctx, c); !errors.Is(err, oauthclient.ErrNotFound) {
			t.Errorf("Save(deleted) = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, c.ID, base.Add(2*time.Hour)); !errors.Is(err, oauthclient.ErrNotFound) {
			t.Errorf("Delete(deleted) = %v, want ErrNotFound", err)
		}
		if err := s.Create(ctx, c); !errors.Is(err, oauthclient.ErrExists) {
			t.Errorf("Create(deleted client's id) = %v, want ErrExists: ids are never reused", err)
		}
	},
	"ReturnedValuesAreCopies": func(t *testing.T, s oauthclient.Store) {
		c := NewClient(1)
		mustCreate(t, s, c)
		got := mustGet(t, s, c.ID)
		got.RedirectURIs[0] = "https://evil.example.com/"
		if again := mustGet(t, s, c.ID); again.RedirectURIs[0] != c.RedirectURIs[0] {
			t.Errorf("changing a returned client changed the store: %q", again.RedirectURIs[0])
		}
	},
}
