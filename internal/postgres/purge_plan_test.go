package postgres_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/storetest"
)

// TestPurgeLooksUpWhatItRemoves: with tens of thousands of live rows
// beside a few thousand that ended before the cutoff, a retention batch
// finds the ended rows through an index of migration 00012 or 00018 and
// removes them by key, reading no table whole. The deletions once took
// their keys as `IN (SELECT ...)`, which the planner joined by hashing the
// whole table (sessions, refresh tokens, account tokens, webhook
// deliveries and attempts) in every batch of 1,000, until a table grew to
// some hundreds of thousands of rows; the keys now reach them as an array
// (= ANY(ARRAY(...))), as in oidcPurgeSteps, which the planner looks up by
// index. Email changes and mfa challenges are kept days and minutes, so
// their tables stay small: the pick may read them (no index on used_at
// slows their writes), the deletion looks up its keys.
func TestPurgeLooksUpWhatItRemoves(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := t.Context()
	cutoff := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	// 2,000 accounts, each with 10 live and 2 ended sessions (a refresh
	// token each), 10 account tokens (2 expired), 10 email changes and 10
	// mfa challenges (2 of each used); 20,000 webhook deliveries after
	// the cutoff and 2,000 finished before it, an attempt each.
	const load = `
		INSERT INTO users (id, email, username, hashed_password)
		SELECT gen_random_uuid(), 'u' || i || '@example.com', 'u' || i, 'x' FROM generate_series(1, 2000) AS i;
		INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at)
		SELECT gen_random_uuid(), u.id, $1::timestamptz, $1, $1::timestamptz + interval '1 day' + i * interval '1 second'
		FROM users u, generate_series(1, 10) AS i;
		INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at)
		SELECT gen_random_uuid(), u.id, $1::timestamptz - interval '40 days', $1, $1::timestamptz - i * interval '1 second'
		FROM users u, generate_series(1, 2) AS i;
		INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
		SELECT sha256(s.id::text::bytea), s.id, s.created_at, s.expires_at FROM sessions s;
		INSERT INTO account_tokens (hash, user_id, purpose, email, created_at, expires_at)
		SELECT sha256(('a' || u.id::text || i)::bytea), u.id, 'verify_email', u.email, $1, $1::timestamptz + (i - 3) * interval '1 hour'
		FROM users u, generate_series(1, 10) AS i;
		INSERT INTO email_changes (hash, user_id, old_email, new_email, created_at, expires_at, used_at)
		SELECT sha256(('e' || u.id::text || i)::bytea), u.id, u.email, 'new' || u.email, $1, $1::timestamptz + interval '1 day',
		       CASE WHEN i <= 2 THEN $1::timestamptz - interval '1 hour' END
		FROM users u, generate_series(1, 10) AS i;
		INSERT INTO mfa_challenges (hash, user_id, created_at, expires_at, used_at)
		SELECT sha256(('m' || u.id::text || i)::bytea), u.id, $1, $1::timestamptz + interval '5 minutes',
		       CASE WHEN i <= 2 THEN $1::timestamptz - interval '1 minute' END
		FROM users u, generate_series(1, 10) AS i;
		INSERT INTO webhook_endpoints (id, url, event_types, secret, created_at, updated_at)
		VALUES (gen_random_uuid(), 'https://hooks.example.com/', '*', '\x00', $1, $1);
		INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, state, created_at, updated_at)
		SELECT gen_random_uuid(), e.id, 'ev' || i, 'user.created', '{}', CASE WHEN i % 2 = 0 THEN 'succeeded' ELSE 'pending' END,
		       $1, $1::timestamptz + i * interval '1 second'
		FROM webhook_endpoints e, generate_series(1, 20000) AS i;
		INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, state, created_at, updated_at)
		SELECT gen_random_uuid(), e.id, 'old ev' || i, 'user.created', '{}', 'succeeded',
		       $1::timestamptz - interval '30 days', $1::timestamptz - i * interval '1 second'
		FROM webhook_endpoints e, generate_series(1, 2000) AS i;
		INSERT INTO webhook_attempts (delivery_id, n, at) SELECT id, 1, updated_at FROM webhook_deliveries`
	for _, q := range strings.Split(load, ";\n") {
		var args []any
		if strings.Contains(q, "$1") {
			args = []any{cutoff}
		}
		if _, err := db.Pool().Exec(ctx, q, args...); err != nil {
			t.Fatalf("load: %v\n%s", err, q)
		}
	}
	if _, err := db.Pool().Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	// The indexes each batch must use, and whether the pick may read its
	// (small) table.
	want := map[string]struct {
		indexes []string
		mayRead string
	}{
		"sessions":           {indexes: []string{"sessions_expires_at", "refresh_tokens_session_id", "sessions_pkey"}},
		"account_tokens":     {indexes: []string{"account_tokens_expires_at", "account_tokens_pkey"}},
		"email_changes":      {indexes: []string{"email_changes_pkey"}, mayRead: "email_changes_1"},
		"mfa_challenges":     {indexes: []string{"mfa_challenges_pkey"}, mayRead: "mfa_challenges_1"},
		"webhook_deliveries": {indexes: []string{"webhook_deliveries_finished", "webhook_attempts_pkey", "webhook_deliveries_pkey"}},
	}
	if len(postgres.PurgeQueries) != len(want) {
		t.Fatalf("%d retention statements, want %d: a new one needs its indexes checked here", len(postgres.PurgeQueries), len(want))
	}
	seqScan := regexp.MustCompile(`Seq Scan on (\w+)( \w+)?`)
	for table, q := range postgres.PurgeQueries {
		t.Run(table, func(t *testing.T) {
			w, ok := want[table]
			if !ok {
				t.Fatalf("no expectation for %s", table)
			}
			plan := analyzedPlanOf(t, db, q, []any{cutoff, 1000})
			for _, index := range w.indexes {
				if !strings.Contains(plan, " "+index+" ") {
					t.Errorf("the batch does not use %s:\n%s", index, plan)
				}
			}
			for _, m := range seqScan.FindAllStringSubmatch(plan, -1) {
				if strings.TrimSpace(m[2]) != w.mayRead || w.mayRead == "" {
					t.Errorf("the batch reads %s whole:\n%s", strings.TrimSpace(m[1]+m[2]), plan)
				}
			}
		})
	}
}

// BenchmarkPurgeSessionsBatch times one retention batch of 1,000 ended
// sessions and their refresh tokens among 20,000 or 200,000 live ones
// (each batch rolled back, so that every iteration finds the same rows),
// in the statement's shape of today (array) and before (in: the keys as
// IN (SELECT ...)):
//
//	go test -run '^$' -bench PurgeSessionsBatch ./internal/postgres
func BenchmarkPurgeSessionsBatch(b *testing.B) {
	cutoff := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	array := postgres.PurgeQueries["sessions"]
	in := strings.ReplaceAll(array, "= ANY(ARRAY(SELECT id FROM doomed))", "IN (SELECT id FROM doomed)")
	if in == array {
		b.Fatal("the statement no longer has the array shape this benchmark compares")
	}
	for _, users := range []int{2000, 20000} {
		db := storetest.Postgres(b)
		loadEndedSessions(b, db, users, cutoff)
		for _, shape := range []struct{ name, q string }{{"array", array}, {"in", in}} {
			b.Run(fmt.Sprintf("live=%d/%s", users*10, shape.name), func(b *testing.B) {
				for b.Loop() {
					purgeRolledBack(b, db, shape.q, cutoff)
				}
			})
		}
	}
}

// loadEndedSessions gives each of users new accounts 10 live sessions
// and, after them, 1 that ended 40 days before cutoff, a refresh token
// each, and analyzes the tables.
func loadEndedSessions(b *testing.B, db *postgres.DB, users int, cutoff time.Time) {
	const load = `
		INSERT INTO users (id, email, username, hashed_password)
		SELECT gen_random_uuid(), 'u' || i || '@example.com', 'u' || i, 'x' FROM generate_series(1, $1) AS i;
		INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at)
		SELECT gen_random_uuid(), u.id, $1::timestamptz, $1, $1::timestamptz + interval '1 day' + i * interval '1 second'
		FROM users u, generate_series(1, 10) AS i;
		INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at)
		SELECT gen_random_uuid(), u.id, $1::timestamptz - interval '40 days', $1, $1::timestamptz - interval '1 second'
		FROM users u;
		INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
		SELECT sha256(s.id::text::bytea), s.id, s.created_at, s.expires_at FROM sessions s;
		VACUUM ANALYZE sessions;
		VACUUM ANALYZE refresh_tokens`
	for _, q := range strings.Split(load, ";\n") {
		var args []any
		switch {
		case strings.HasPrefix(strings.TrimSpace(q), "INSERT INTO users"):
			args = []any{users}
		case strings.Contains(q, "$1"):
			args = []any{cutoff}
		}
		if _, err := db.Pool().Exec(b.Context(), q, args...); err != nil {
			b.Fatalf("load: %v\n%s", err, q)
		}
	}
}

// purgeRolledBack runs the sessions' retention batch q in a transaction
// it rolls back.
func purgeRolledBack(b *testing.B, db *postgres.DB, q string, cutoff time.Time) {
	ctx := b.Context()
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var sessions, tokens int64
	if err := tx.QueryRow(ctx, q, cutoff, 1000).Scan(&sessions, &tokens); err != nil || sessions != 1000 || tokens != 1000 {
		b.Fatalf("batch: %d sessions, %d tokens, %v; want 1000 of each", sessions, tokens, err)
	}
}
