package retention_test

import (
	"errors"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/oidcop/oidcoptest"
	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestOIDCStateRetention: a run removes the OpenID provider's
// authorization requests (codes) that expired and grants that were
// revoked more than TokenRetention ago, and keeps the live ones; without
// the purger nothing goes. The stores' own rules are oidcoptest's Purge,
// run on SQLite and PostgreSQL.
func TestOIDCStateRetention(t *testing.T) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	mem := oidcoptest.NewMemory()
	st := mem.Stores().Grants
	old, live := oidcoptest.NewAuthRequest(1), oidcoptest.NewAuthRequest(2)
	old.ExpiresAt, live.ExpiresAt = now.Add(-retention.TokenRetention-time.Minute), now.Add(time.Minute)
	ended, kept := oidcoptest.NewGrant(1), oidcoptest.NewGrant(2)
	ended.CreatedAt, kept.CreatedAt = now.Add(-30*day), now.Add(-30*day)
	for _, r := range []oidcop.AuthRequest{old, live} {
		if err := st.SaveAuthRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []oidcop.Grant{ended, kept} {
		if err := st.SaveGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RevokeGrant(ctx, ended.ID, now.Add(-8*day)); err != nil {
		t.Fatal(err)
	}
	if err := st.AddRefreshToken(ctx, oidcop.RefreshToken{Hash: []byte("h"), GrantID: kept.ID, CreatedAt: now, ExpiresAt: now.Add(day)}); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }

	// Without the purger: nothing of the provider's goes.
	if _, err := retention.New(retention.Deps{Store: usertest.NewMemory().Purge(), Now: clock}, retention.Policy{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AuthRequest(ctx, old.ID); err != nil {
		t.Fatalf("without the purger the expired request went: %v", err)
	}

	removed, err := retention.New(retention.Deps{Store: usertest.NewMemory().Purge(), OIDC: st, Now: clock}, retention.Policy{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if removed[retention.OIDCState] != 2 {
		t.Errorf("removed %d of the provider's rows, want 2 (the expired request, the ended grant)", removed[retention.OIDCState])
	}
	if _, err := st.AuthRequest(ctx, old.ID); !errors.Is(err, oidcop.ErrNotFound) {
		t.Errorf("expired request: %v, want removed", err)
	}
	if _, err := st.Grant(ctx, ended.ID); !errors.Is(err, oidcop.ErrNotFound) {
		t.Errorf("grant revoked 8 days ago: %v, want removed", err)
	}
	if _, err := st.AuthRequest(ctx, live.ID); err != nil {
		t.Errorf("live request: %v, want kept", err)
	}
	if _, err := st.Grant(ctx, kept.ID); err != nil {
		t.Errorf("grant with a live refresh token: %v, want kept", err)
	}
}
