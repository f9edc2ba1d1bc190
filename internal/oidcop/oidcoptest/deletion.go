package oidcoptest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/user"
)

// RunUserDeletion checks, on one database, that deleting an account
// removes what it gave the provider: its consents, and its grants with
// their refresh tokens. Nothing else removes them: no foreign key ties
// them to the account and retention keeps a consent for ever. Another
// account's stay. users and st must be over the same database.
func RunUserDeletion(t *testing.T, st oidcop.Stores, users user.Users) {
	ctx := t.Context()
	mk := func(email, name string) uuid.UUID {
		id := uuid.Must(uuid.NewV7())
		if _, err := users.Create(ctx, user.User{ID: id, Email: email, Username: name, PasswordHash: "x"}); err != nil {
			t.Fatalf("create user: %v", err)
		}
		g := NewGrant(1)
		g.ID, g.UserID = "grant-"+name, id
		if err := st.Grants.SaveGrant(ctx, g); err != nil {
			t.Fatalf("SaveGrant: %v", err)
		}
		if err := st.Grants.AddRefreshToken(ctx, oidcop.RefreshToken{Hash: hash("rt " + name), GrantID: g.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}, nil); err != nil {
			t.Fatalf("AddRefreshToken: %v", err)
		}
		if err := st.Consents.SaveConsent(ctx, oidcop.Consent{UserID: id, ClientID: "client-1", Scopes: []string{"openid"}, UpdatedAt: base}); err != nil {
			t.Fatalf("SaveConsent: %v", err)
		}
		return id
	}
	gone, kept := mk("gone@example.com", "gone"), mk("kept@example.com", "kept")
	if err := users.Delete(ctx, gone); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, c := range []struct {
		id   uuid.UUID
		name string
		want int
	}{{gone, "gone", 0}, {kept, "kept", 1}} {
		consents, err := st.Consents.ConsentsOf(ctx, c.id)
		if err != nil || len(consents) != c.want {
			t.Errorf("ConsentsOf(%s account) = %v, %v; want %d", c.name, consents, err, c.want)
		}
		_, err = st.Grants.Grant(ctx, "grant-"+c.name)
		if found := err == nil; found != (c.want == 1) || (err != nil && !errors.Is(err, oidcop.ErrNotFound)) {
			t.Errorf("Grant(%s account's) after the deletion: %v, want found %v", c.name, err, c.want == 1)
		}
		_, err = st.Grants.RefreshToken(ctx, hash("rt "+c.name))
		if found := err == nil; found != (c.want == 1) {
			t.Errorf("RefreshToken(%s account's) after the deletion: %v, want found %v", c.name, err, c.want == 1)
		}
	}
}
