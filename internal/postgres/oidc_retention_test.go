package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/oidcop/oidcoptest"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/storetest"
)

// TestOIDCPurgeUsesIndexes: with a week of the OpenID provider's state
// loaded as retention leaves it (tens of thousands of live requests,
// grants and refresh tokens beside an hour's worth that ended before the
// cutoff), every statement of a PurgeExpired batch finds its rows through
// an index of migration 00020 or 00026 instead of reading the table.
func TestOIDCPurgeUsesIndexes(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := t.Context()
	cutoff := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	const load = `
		-- a week of requests after the cutoff; an hour's worth before it
		INSERT INTO oidc_auth_requests (id, data, expires_at)
		SELECT 'r' || i, '{}', $1::timestamptz + i * interval '15 seconds' FROM generate_series(1, 40000) AS i;
		INSERT INTO oidc_auth_requests (id, data, expires_at)
		SELECT 'old r' || i, '{}', $1::timestamptz - i * interval '3 seconds' FROM generate_series(1, 1000) AS i;
		-- grants of the week, each with a live refresh token
		INSERT INTO oidc_grants (id, user_id, session_id, client_id, data, created_at)
		SELECT 'g' || i, gen_random_uuid(), gen_random_uuid(), 'c', '{}', $1::timestamptz + i * interval '15 seconds'
		FROM generate_series(1, 40000) AS i;
		INSERT INTO oidc_refresh_tokens (hash, grant_id, created_at, expires_at)
		SELECT ('g' || i)::bytea, 'g' || i, $1, $1::timestamptz + interval '30 days' FROM generate_series(1, 40000) AS i;
		-- older grants still refreshed: a live token and an expired one
		INSERT INTO oidc_grants (id, user_id, session_id, client_id, data, created_at)
		SELECT 'old g' || i, gen_random_uuid(), gen_random_uuid(), 'c', '{}', $1::timestamptz - i * interval '5 minutes'
		FROM generate_series(1, 4000) AS i;
		INSERT INTO oidc_refresh_tokens (hash, grant_id, created_at, expires_at)
		SELECT ('old g live' || i)::bytea, 'old g' || i, $1, $1::timestamptz + interval '20 days' FROM generate_series(1, 4000) AS i;
		INSERT INTO oidc_refresh_tokens (hash, grant_id, created_at, expires_at)
		SELECT ('old g expired' || i)::bytea, 'old g' || i, $1, $1::timestamptz - interval '1 minute' FROM generate_series(1, 4000) AS i;
		-- grants that ended before the cutoff: left bare, or revoked with a token
		INSERT INTO oidc_grants (id, user_id, session_id, client_id, data, created_at)
		SELECT 'bare g' || i, gen_random_uuid(), gen_random_uuid(), 'c', '{}', $1::timestamptz - interval '8 days'
		FROM generate_series(1, 500) AS i;
		INSERT INTO oidc_grants (id, user_id, session_id, client_id, data, created_at, revoked_at)
		SELECT 'revoked g' || i, gen_random_uuid(), gen_random_uuid(), 'c', '{}', $1::timestamptz - interval '9 days',
		       $1::timestamptz - interval '1 hour'
		FROM generate_series(1, 500) AS i;
		INSERT INTO oidc_refresh_tokens (hash, grant_id, created_at, expires_at)
		SELECT ('revoked g' || i)::bytea, 'revoked g' || i, $1, $1::timestamptz + interval '20 days' FROM generate_series(1, 500) AS i`
	for _, q := range strings.Split(load, ";\n") {
		if _, err := db.Pool().Exec(ctx, q, cutoff); err != nil {
			t.Fatalf("load the provider's state: %v\n%s", err, q)
		}
	}
	if _, err := db.Pool().Exec(ctx, `ANALYZE oidc_auth_requests; ANALYZE oidc_grants; ANALYZE oidc_refresh_tokens`); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"expired auth requests":               "oidc_auth_requests_expires_at",
		"expired refresh tokens":              "oidc_refresh_tokens_expires_at",
		"refresh tokens of revoked grants":    "oidc_grants_revoked_at",
		"revoked grants":                      "oidc_grants_revoked_at",
		"grants left without a refresh token": "oidc_grants_created_at",
	}
	steps := postgres.OIDCPurgeSteps()
	if len(steps) != len(want) {
		t.Fatalf("%d steps, want %d: a new one needs its index checked here", len(steps), len(want))
	}
	for _, step := range steps {
		t.Run(step.Name, func(t *testing.T) {
			plan := planOf(t, db, step.Query, []any{cutoff, 1000})
			if !strings.Contains(plan, want[step.Name]) {
				t.Errorf("the plan does not use %s:\n%s", want[step.Name], plan)
			}
			if strings.Contains(plan, "Seq Scan") {
				t.Errorf("the plan reads a whole table:\n%s", plan)
			}
		})
	}
	// And the batches remove exactly what ended: 1,000 requests, 4,000
	// expired tokens, 500 revoked grants and their tokens, 500 bare grants.
	const ended = 1000 + 4000 + 2*500 + 500
	r := db.OIDC().Retention
	if n, err := r.CountExpired(ctx, cutoff); err != nil || n != ended {
		t.Fatalf("CountExpired = %d, %v; want %d", n, err, ended)
	}
	var total int64
	for batches := 1; ; batches++ {
		n, err := r.PurgeExpired(ctx, cutoff, 1000)
		if err != nil || n > 1000 {
			t.Fatalf("batch %d: %d, %v; want at most 1000 rows", batches, n, err)
		}
		total += n
		if n < 1000 {
			if total != ended || batches != ended/1000+1 {
				t.Errorf("%d rows in %d batches, want %d in %d", total, batches, ended, ended/1000+1)
			}
			break
		}
	}
	var left [3]int64
	if err := db.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM oidc_auth_requests), (SELECT count(*) FROM oidc_grants),
		(SELECT count(*) FROM oidc_refresh_tokens)`).Scan(&left[0], &left[1], &left[2]); err != nil {
		t.Fatal(err)
	}
	if left != [3]int64{40000, 44000, 44000} {
		t.Errorf("left requests, grants, tokens = %v, want the live ones [40000 44000 44000]", left)
	}
}

// TestOIDCPurgeSkipsLockedRows: a PurgeExpired batch neither waits for
// nor removes a row a transaction holds locked (an expired request being
// read FOR UPDATE, a revoked grant being changed): it removes the others
// at once, and the held rows go in a later batch, once released.
func TestOIDCPurgeSkipsLockedRows(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := t.Context()
	st := db.OIDC()
	cutoff := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	var reqs []oidcop.AuthRequest
	for i := range 3 {
		r := oidcoptest.NewAuthRequest(i)
		r.ExpiresAt = cutoff.Add(-time.Hour)
		if err := st.Grants.SaveAuthRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	g := oidcoptest.NewGrant(1)
	if err := st.Grants.SaveGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := st.Grants.RevokeGrant(ctx, g.ID, cutoff.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM oidc_auth_requests WHERE id = $1 FOR UPDATE`, reqs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE oidc_grants SET client_id = client_id WHERE id = $1`, g.ID); err != nil {
		t.Fatal(err)
	}
	// A batch that waited for the lock would never end: bound it.
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if n, err := st.Retention.PurgeExpired(short, cutoff, 1000); err != nil || n != 2 {
		t.Fatalf("PurgeExpired beside the locks = %d, %v; want the 2 unlocked requests", n, err)
	}
	if _, err := st.Grants.AuthRequest(ctx, reqs[0].ID); err != nil {
		t.Errorf("the locked request: %v, want kept for now", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Retention.PurgeExpired(ctx, cutoff, 1000); err != nil || n != 2 {
		t.Errorf("PurgeExpired once released = %d, %v; want the request and the grant", n, err)
	}
}
