package retention_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/oidcop/oidcoptest"
	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// countingOIDC is an OIDCPurger that records each batch's size and can
// end the run's context after a number of batches.
type countingOIDC struct {
	retention.OIDCPurger
	batches []int64
	stopAt  int
	stop    context.CancelFunc
}

func (c *countingOIDC) PurgeExpired(ctx context.Context, before time.Time, limit int) (int64, error) {
	n, err := c.OIDCPurger.PurgeExpired(ctx, before, limit)
	c.batches = append(c.batches, n)
	if len(c.batches) == c.stopAt {
		c.stop()
	}
	return n, err
}

// TestOIDCStateRetention: a run removes the OpenID provider's
// authorization requests (codes) that expired and grants that were
// revoked more than TokenRetention ago, in batches of the policy's size,
// and keeps the live ones; the dry run counts the same and removes
// nothing; without the purger nothing goes; a run whose context ends
// stops between batches. The stores' own rules are oidcoptest's
// Retention group, run on SQLite and PostgreSQL.
func TestOIDCStateRetention(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	clock := func() time.Time { return now }
	const expired = 5
	setUp := func(t *testing.T) (oidcop.Stores, oidcop.AuthRequest, oidcop.Grant, oidcop.Grant) {
		t.Helper()
		st := oidcoptest.NewMemory().Stores()
		ctx := t.Context()
		for i := range expired - 1 {
			old := oidcoptest.NewAuthRequest(i)
			old.ExpiresAt = now.Add(-retention.TokenRetention - time.Minute)
			if err := st.Grants.SaveAuthRequest(ctx, old); err != nil {
				t.Fatal(err)
			}
		}
		live := oidcoptest.NewAuthRequest(100)
		live.ExpiresAt = now.Add(time.Minute)
		if err := st.Grants.SaveAuthRequest(ctx, live); err != nil {
			t.Fatal(err)
		}
		ended, kept := oidcoptest.NewGrant(1), oidcoptest.NewGrant(2)
		ended.CreatedAt, kept.CreatedAt = now.Add(-30*day), now.Add(-30*day)
		for _, g := range []oidcop.Grant{ended, kept} {
			if err := st.Grants.SaveGrant(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Grants.RevokeGrant(ctx, ended.ID, now.Add(-8*day)); err != nil {
			t.Fatal(err)
		}
		if err := st.Grants.AddRefreshToken(ctx, oidcop.RefreshToken{Hash: []byte("h"), GrantID: kept.ID, CreatedAt: now, ExpiresAt: now.Add(day)}, nil); err != nil {
			t.Fatal(err)
		}
		return st, live, ended, kept
	}

	t.Run("without the purger", func(t *testing.T) {
		st, _, ended, _ := setUp(t)
		r := retention.New(retention.Deps{Store: usertest.NewMemory().Purge(), Now: clock}, retention.Policy{})
		removed, err := r.Run(t.Context())
		if err != nil || removed[retention.OIDCState] != 0 {
			t.Fatalf("Run = %v, %v; want nothing of the provider's removed", removed, err)
		}
		if _, err := st.Grants.Grant(t.Context(), ended.ID); err != nil {
			t.Fatalf("without the purger the ended grant went: %v", err)
		}
	})

	t.Run("in batches", func(t *testing.T) {
		st, live, ended, kept := setUp(t)
		purger := &countingOIDC{OIDCPurger: st.Retention}
		r := retention.New(retention.Deps{Store: usertest.NewMemory().Purge(), OIDC: purger, Now: clock}, retention.Policy{Batch: 2})
		dry, err := r.DryRun(t.Context())
		if err != nil || dry[retention.OIDCState] != expired {
			t.Errorf("DryRun = %v, %v; want %d rows of oidc_state", dry, err, expired)
		}
		if purger.batches != nil {
			t.Errorf("the dry run purged: %v", purger.batches)
		}
		removed, err := r.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if removed[retention.OIDCState] != expired {
			t.Errorf("removed %d of the provider's rows, want %d (the expired requests, the ended grant)", removed[retention.OIDCState], expired)
		}
		if want := fmt.Sprint([]int64{2, 2, 1}); fmt.Sprint(purger.batches) != want {
			t.Errorf("batches %v, want %s", purger.batches, want)
		}
		if _, err := st.Grants.Grant(t.Context(), ended.ID); !errors.Is(err, oidcop.ErrNotFound) {
			t.Errorf("grant revoked 8 days ago: %v, want removed", err)
		}
		if _, err := st.Grants.AuthRequest(t.Context(), live.ID); err != nil {
			t.Errorf("live request: %v, want kept", err)
		}
		if _, err := st.Grants.Grant(t.Context(), kept.ID); err != nil {
			t.Errorf("grant with a live refresh token: %v, want kept", err)
		}
	})

	t.Run("stops when its context ends", func(t *testing.T) {
		st, _, _, _ := setUp(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		purger := &countingOIDC{OIDCPurger: st.Retention, stopAt: 1, stop: cancel}
		r := retention.New(retention.Deps{Store: usertest.NewMemory().Purge(), OIDC: purger, Now: clock}, retention.Policy{Batch: 2})
		removed, err := r.Run(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
		if len(purger.batches) != 1 || removed[retention.OIDCState] != 2 {
			t.Errorf("batches %v, removed %d; want one batch of 2 and no more", purger.batches, removed[retention.OIDCState])
		}
		if n, err := st.Retention.CountExpired(t.Context(), now.Add(-retention.TokenRetention)); err != nil || n != expired-2 {
			t.Errorf("left %d, %v; want %d", n, err, expired-2)
		}
	})
}
