package postgres_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// planOf is the EXPLAIN of q with args on db, as text.
func planOf(t *testing.T, db *postgres.DB, q string, args []any) string {
	t.Helper()
	rows, err := db.Pool().Query(t.Context(), "EXPLAIN "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	return planText(t, rows)
}

// planText is the lines of an EXPLAIN's rows, one a line; it closes rows.
func planText(t testing.TB, rows pgx.Rows) string {
	t.Helper()
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestAdminQueriesUseIndexes: with history loaded (a year of audit events,
// thousands of users), the administrators' audit query for an old window
// and the search by prefix read an index of migration 00022 (audit) or 00012 (users), and the
// search by any part the trigram index of 00014, instead of the newer
// events or the whole users table (issues 21 and 25).
func TestAdminQueriesUseIndexes(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := t.Context()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	subject := uuid.Must(uuid.NewV7())
	const load = `
		INSERT INTO audit_events (at, kind, actor_id, subject_id)
		SELECT $1::timestamptz + (i * interval '10 minutes'),
		       (ARRAY['user.login_succeeded', 'user.login_failed', 'user.logged_out', 'user.registered'])[1 + i % 4],
		       CASE WHEN i % 50 = 0 THEN $2::uuid ELSE gen_random_uuid() END,
		       CASE WHEN i % 50 = 0 THEN $2::uuid ELSE gen_random_uuid() END
		FROM generate_series(1, 52560) AS i;
		`
	if _, err := db.Pool().Exec(ctx, load, start, subject); err != nil {
		t.Fatalf("load audit events: %v", err)
	}
	const users = `
		INSERT INTO users (email, username, hashed_password)
		SELECT 'user' || i || '@example.com', 'user' || i, 'x' FROM generate_series(1, 20000) AS i`
	if _, err := db.Pool().Exec(ctx, users); err != nil {
		t.Fatalf("load users: %v", err)
	}
	if _, err := db.Pool().Exec(ctx, `ANALYZE audit_events; ANALYZE users`); err != nil {
		t.Fatal(err)
	}
	day := start.AddDate(0, 2, 0)
	for _, tt := range []struct {
		name  string
		q     string
		args  []any
		index string
	}{
		{"audit: a day two months into a year", "", nil, "audit_events_at_id"},
		{"audit: a month two months into a year", "", nil, "audit_events_at_id"},
		// A small window may be read through (at) and filtered instead:
		// either way only the window is read.
		{"audit: one account's day", "", nil, "audit_events_subject_at_id"},
		{"audit: one kind's day", "", nil, "audit_events_kind_at_id"},
		{"users: email prefix", "", nil, "users_email_lower_pattern"},
		{"users: username prefix", "", nil, "users_username_lower_pattern"},
		{"users: search in the middle", "", nil, "users_search_trgm"},
		{"users: short search", "", nil, "users_search_trgm"},
	} {
		switch tt.index {
		case "audit_events_at_id":
			tt.q, tt.args = postgres.AuditQuery(user.AuditFilter{Since: day, Until: day.AddDate(0, 0, 1), Limit: 50})
			if strings.HasPrefix(tt.name, "audit: a month") {
				tt.q, tt.args = postgres.AuditQuery(user.AuditFilter{Since: day, Until: day.AddDate(0, 1, 0), Limit: 50})
			}
		case "audit_events_subject_at_id":
			tt.q, tt.args = postgres.AuditQuery(user.AuditFilter{SubjectID: subject, Since: day, Until: day.AddDate(0, 0, 1), Limit: 50})
		case "audit_events_kind_at_id":
			tt.q, tt.args = postgres.AuditQuery(user.AuditFilter{Kinds: []user.AuditKind{user.AuditLoggedOut}, Since: day, Until: day.AddDate(0, 0, 1), Limit: 50})
		case "users_email_lower_pattern":
			tt.q, tt.args = postgres.ListQuery(user.ListQuery{Filter: user.Filter{EmailPrefix: "User1234"}, Limit: 50})
		case "users_search_trgm":
			f := user.Filter{Search: "SER1234"}
			if strings.HasSuffix(tt.name, "short search") {
				f.Search = "u9"
			}
			tt.q, tt.args = postgres.ListQuery(user.ListQuery{Filter: f, Limit: 50})
		case "users_username_lower_pattern":
			tt.q, tt.args = postgres.ListQuery(user.ListQuery{Filter: user.Filter{UsernamePrefix: "user1234"}, Limit: 50})
		}
		t.Run(tt.name, func(t *testing.T) {
			plan := planOf(t, db, tt.q, tt.args)
			if usesIndex := strings.Contains(plan, tt.index) || (strings.HasPrefix(tt.index, "audit") && strings.Contains(plan, "audit_events_at")); !usesIndex {
				t.Errorf("the plan does not use %s:\n%s", tt.index, plan)
			}
			if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "audit_events_pkey") || strings.Contains(plan, "users_created_at_id_idx") {
				t.Errorf("the plan reads the whole table or walks the primary key:\n%s", plan)
			}
		})
	}
}

// TestAuditWindowsReadByTime: with a year of audit events loaded, the
// administrators' listing in time order (user.AuditFilter.ByTime) reads
// any window, of any width and age, first page or a later one, with or
// without a subject or kind, from an index of migration 00022 in its
// order: no sort, no walk down the primary key, no scan (issue 25).
func TestAuditWindowsReadByTime(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := t.Context()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	subject := uuid.Must(uuid.NewV7())
	const load = `
		INSERT INTO audit_events (at, kind, actor_id, subject_id)
		SELECT $1::timestamptz + (i / 2 * interval '10 minutes'),
		       (ARRAY['user.login_succeeded', 'user.login_failed', 'user.logged_out', 'user.registered'])[1 + i % 4],
		       CASE WHEN i % 50 = 0 THEN $2::uuid ELSE gen_random_uuid() END,
		       CASE WHEN i % 50 = 0 THEN $2::uuid ELSE gen_random_uuid() END
		FROM generate_series(1, 105120) AS i`
	if _, err := db.Pool().Exec(ctx, load, start, subject); err != nil {
		t.Fatalf("load audit events: %v", err)
	}
	if _, err := db.Pool().Exec(ctx, analyzeWhole); err != nil {
		t.Fatal(err)
	}
	end := start.AddDate(1, 0, 0)
	old := start.AddDate(0, 2, 0)
	for _, tt := range []struct {
		name  string
		f     user.AuditFilter
		index string
	}{
		{"a day two months into a year", user.AuditFilter{Since: old, Until: old.AddDate(0, 0, 1)}, "audit_events_at_id"},
		{"30 days two months into a year", user.AuditFilter{Since: old, Until: old.AddDate(0, 0, 30)}, "audit_events_at_id"},
		{"180 days", user.AuditFilter{Since: old, Until: old.AddDate(0, 0, 180)}, "audit_events_at_id"},
		{"the whole year", user.AuditFilter{Since: start, Until: end}, "audit_events_at_id"},
		{"no window", user.AuditFilter{}, "audit_events_at_id"},
		{"since only", user.AuditFilter{Since: old}, "audit_events_at_id"},
		{"a later page of 30 days", user.AuditFilter{Since: old, Until: old.AddDate(0, 0, 30), BeforeAt: old.AddDate(0, 0, 20), BeforeID: 40000}, "audit_events_at_id"},
		{"one account, 30 days", user.AuditFilter{SubjectID: subject, Since: old, Until: old.AddDate(0, 0, 30)}, "audit_events_subject_at_id"},
		{"one account, all time, a later page", user.AuditFilter{SubjectID: subject, BeforeAt: old, BeforeID: 20000}, "audit_events_subject_at_id"},
		// Two pages merged: the actor's events about others and about
		// itself (migration 00030; TestActorEventsReadByTime).
		{"one actor, 30 days", user.AuditFilter{ActorID: subject, Since: old, Until: old.AddDate(0, 0, 30)}, "audit_events_actor_others+audit_events_subject_at_id"},
		// A kind of a quarter of the events may as well be read through
		// (at, id) and filtered: a page is then about 4 pages of entries.
		{"one kind, 30 days", user.AuditFilter{Kinds: []user.AuditKind{"user.logged_out"}, Since: old, Until: old.AddDate(0, 0, 30)}, "audit_events_kind_at_id|audit_events_at_id"},
		{"two kinds, 30 days", user.AuditFilter{Kinds: []user.AuditKind{"user.logged_out", "user.registered"}, Since: old, Until: old.AddDate(0, 0, 30)}, "audit_events_kind_at_id|audit_events_at_id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.ByTime, tt.f.Limit = true, user.DefaultAuditPage+1
			q, args := postgres.AuditQuery(tt.f)
			plan := planOf(t, db, q, args)
			reads := func(index string) bool { return strings.Contains(plan, "Index Scan Backward using "+index+" ") }
			if !slices.ContainsFunc(strings.Split(tt.index, "|"), func(indexes string) bool {
				return !slices.ContainsFunc(strings.Split(indexes, "+"), func(index string) bool { return !reads(index) })
			}) {
				t.Errorf("the plan does not read %s backward:\n%s", tt.index, plan)
			}
			// "Sort  (": a sort node; the merge of an actor's two pages
			// (Merge Append) has a Sort Key and sorts nothing.
			for _, bad := range []string{"Sort  (", "Seq Scan", "audit_events_pkey", "Bitmap"} {
				if strings.Contains(plan, bad) {
					t.Errorf("the plan has a %s:\n%s", bad, plan)
				}
			}
		})
	}
}

// analyzeWhole analyzes audit_events from every row rather than a sample
// of 30,000 (statistics targets that make the sample the table): the plans
// asserted here are the ones the planner makes from the table as it is, not
// ones that flip with the sample drawn (an actor's own events in a window
// were read, one run in two, by a bitmap of all the actor's events through
// 00006's (actor_id, id), the sample having missed how often the actor is
// the subject).
const analyzeWhole = `
	ALTER TABLE audit_events ALTER COLUMN actor_id SET STATISTICS 10000, ALTER COLUMN subject_id SET STATISTICS 10000;
	ANALYZE audit_events`

// analyzedPlanOf is the EXPLAIN ANALYZE (with buffers) of q with args on
// db, as text, run in a transaction that is rolled back: the plan as
// executed, with what it read (Heap Fetches, Heap Blocks), and nothing of a
// statement that writes kept.
func analyzedPlanOf(t testing.TB, db *postgres.DB, q string, args []any) string {
	t.Helper()
	ctx := t.Context()
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN ANALYZE %s: %v", q, err)
	}
	return planText(t, rows)
}

// TestLoginsReadOnlyLiveSessions: with a year of sessions per account (50
// each, two thirds expired or revoked), the cap a login enforces
// (RevokeOldest) reads the account's live sessions from sessions_user_cover
// (migration 00029) alone: an index-only scan with no heap fetch on a
// vacuumed table, the expired and revoked sessions skipped by index
// conditions, where through sessions_user_id (00002) it fetched the heap
// row of every session the account ever had (issue 25). The sessions list
// (Active), which returns every column, reads the same index and the heap
// rows of the page's live sessions only, first page or a later one. And
// deleting a user's sessions (the ON DELETE CASCADE of users to sessions)
// finds them through the same index, which replaced sessions_user_id.
func TestLoginsReadOnlyLiveSessions(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := t.Context()
	now := time.Now().UTC()
	const users = `
		INSERT INTO users (id, email, username, hashed_password)
		SELECT gen_random_uuid(), 'user' || i || '@example.com', 'user' || i, 'x' FROM generate_series(1, 2000) AS i`
	if _, err := db.Pool().Exec(ctx, users); err != nil {
		t.Fatalf("load users: %v", err)
	}
	// In time order, as logins write them: an account's sessions lie on
	// different heap pages.
	const load = `
		INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at)
		SELECT gen_random_uuid(), u.id, c.t, c.t, c.t + interval '90 days', CASE WHEN i % 3 = 0 THEN c.t + interval '1 day' END
		FROM generate_series(1, 50) AS i, users AS u,
		     LATERAL (SELECT $1::timestamptz - interval '365 days' + i * interval '7 days' AS t) AS c
		ORDER BY c.t`
	if _, err := db.Pool().Exec(ctx, load, now); err != nil {
		t.Fatalf("load sessions: %v", err)
	}
	// VACUUM sets the visibility map, which an index-only scan consults
	// instead of the heap (autovacuum's work on a live database); it cannot
	// run in a transaction, so one statement per call.
	for _, stmt := range []string{`ANALYZE users`, `VACUUM (ANALYZE) sessions`} {
		if _, err := db.Pool().Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	var (
		someone uuid.UUID
		live    int
		middle  time.Time
	)
	const pick = `
		SELECT user_id, count(*), (array_agg(created_at ORDER BY created_at))[count(*) / 2 + 1] FROM sessions
		WHERE revoked_at IS NULL AND expires_at > $1 GROUP BY user_id LIMIT 1`
	if err := db.Pool().QueryRow(ctx, pick, now).Scan(&someone, &live, &middle); err != nil {
		t.Fatal(err)
	}
	if live < 4 {
		t.Fatalf("the account has %d live sessions: too few to page through", live)
	}

	t.Run("revoke oldest", func(t *testing.T) {
		plan := analyzedPlanOf(t, db, postgres.SessionQueries["revoke oldest"], []any{someone, now, 100})
		if !strings.Contains(plan, "Index Only Scan Backward using sessions_user_cover ") {
			t.Errorf("the cap does not read sessions_user_cover alone, newest first:\n%s", plan)
		}
		// Expired and revoked sessions are entries of the index, skipped
		// there: no heap row of any session is read.
		if !strings.Contains(plan, "Heap Fetches: 0\n") || strings.Contains(plan, "Heap Blocks") {
			t.Errorf("the cap reads sessions' heap rows:\n%s", plan)
		}
		notAll(t, plan)
	})
	for name, cursor := range map[string][]any{"first page": {nil, nil}, "a later page": {middle, uuid.Nil}} {
		t.Run("active: "+name, func(t *testing.T) {
			plan := analyzedPlanOf(t, db, postgres.SessionQueries["active"], append([]any{someone, now}, append(cursor, 50)...))
			if !strings.Contains(plan, "sessions_user_cover") {
				t.Errorf("the sessions list does not read sessions_user_cover:\n%s", plan)
			}
			want := live
			if cursor[0] != nil {
				want = live - live/2
			}
			liveOnly(t, plan, want)
		})
	}
	t.Run("cascade of a user's deletion", func(t *testing.T) {
		// What the foreign key's ON DELETE CASCADE runs for each deleted
		// user: explained only, nothing is deleted.
		plan := planOf(t, db, `DELETE FROM sessions WHERE user_id = $1`, []any{someone})
		// An index scan or a bitmap one, by the estimate of the rows.
		if !regexp.MustCompile(`Index Scan (using|on) sessions_user_cover[ \n]`).MatchString(plan) || !strings.Contains(plan, "Index Cond: (user_id = ") {
			t.Errorf("deleting a user's sessions does not find them through sessions_user_cover:\n%s", plan)
		}
		if strings.Contains(plan, "Seq Scan on sessions") {
			t.Errorf("deleting a user's sessions reads every session:\n%s", plan)
		}
	})
}

// liveOnly fails t unless the scan of sessions_user_cover in plan yields the
// entries of the n live sessions it returns and no other, so that it reads
// the heap rows of those alone: the account's revoked and expired sessions
// and those before the cursor are skipped by index conditions, not fetched
// and filtered out.
func liveOnly(t *testing.T, plan string, n int) {
	t.Helper()
	notAll(t, plan)
	if strings.Contains(plan, "Rows Removed by") {
		t.Errorf("the plan reads sessions it does not return:\n%s", plan)
	}
	m := regexp.MustCompile(`sessions_user_cover .*\(actual rows=(\d+) `).FindStringSubmatch(plan)
	if m == nil {
		t.Errorf("the plan does not read sessions_user_cover:\n%s", plan)
	} else if m[1] != strconv.Itoa(n) {
		t.Errorf("the plan reads %s entries of sessions_user_cover, want the %d live sessions it returns:\n%s", m[1], n, plan)
	}
	for _, cond := range []string{"(revoked_at IS NULL)", "(expires_at > "} {
		if !regexp.MustCompile(`Index Cond: .*` + regexp.QuoteMeta(cond)).MatchString(plan) {
			t.Errorf("the plan does not skip sessions by %s in the index:\n%s", cond, plan)
		}
	}
}

// notAll fails t if plan reads every session of the table, or every one of
// the account through sessions_user_id (user_id alone, which 00029 drops).
func notAll(t *testing.T, plan string) {
	t.Helper()
	if strings.Contains(plan, "Seq Scan on sessions") || strings.Contains(plan, "sessions_user_id") {
		t.Errorf("the plan reads every session of the account, or all of them:\n%s", plan)
	}
}

// TestServiceReadsNoIdOrderedAuditIndex: with a year of audit events
// loaded, the service's reads of the log, as it makes them (one's own
// listing, first page and a later one; the export, every page; the
// administrators' listing of an account, an actor, a kind or a window),
// read an index of migration 00022 in (at, id) order: one's own listing
// and each export page read audit_events_subject_at_id backward, and none
// reads audit_events_subject (subject_id, id) or audit_events_actor
// (actor_id, id) of 00006, except a listing that goes on from a cursor
// without a time, handed out before the time order. The next release may
// then drop those two, whose random inserts every login pays (issue 25).
func TestServiceReadsNoIdOrderedAuditIndex(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := t.Context()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	st := db.Stores()
	u := usertest.NewUser(1)
	if _, err := st.Users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	const load = `
		INSERT INTO audit_events (at, kind, actor_id, subject_id)
		SELECT $1::timestamptz + (i / 2 * interval '10 minutes'),
		       (ARRAY['login.succeeded', 'login.failed', 'session.logged_out', 'user.registered'])[1 + i % 4],
		       CASE WHEN i % 50 = 0 THEN $2::uuid ELSE gen_random_uuid() END,
		       CASE WHEN i % 50 = 0 THEN $2::uuid ELSE gen_random_uuid() END
		FROM generate_series(1, 105120) AS i`
	if _, err := db.Pool().Exec(ctx, load, start, u.ID); err != nil {
		t.Fatalf("load audit events: %v", err)
	}
	if _, err := db.Pool().Exec(ctx, analyzeWhole); err != nil {
		t.Fatal(err)
	}
	rec := &usertest.RecordedAudit{AuditLog: st.Audit}
	st.Audit = rec
	svc := user.NewService(user.Deps{Stores: st, Now: func() time.Time { return start.AddDate(1, 0, 0) }}, user.Policy{})
	admin := user.User{ID: uuid.Must(uuid.NewV7()), Role: user.RoleAdmin, IsActive: true}
	old := start.AddDate(0, 2, 0)

	// reads runs do and returns the filters of the reads it made.
	reads := func(do func() error) []user.AuditFilter {
		t.Helper()
		rec.Filters = nil
		if err := do(); err != nil {
			t.Fatal(err)
		}
		return rec.Filters
	}
	var next user.AuditCursor
	for _, tt := range []struct {
		name  string
		do    func() error
		index string // the index each read must read; "" any of 00022
		// sorts: the planner may read the events below the cursor through
		// the index as a bitmap and sort them, when it expects few more than
		// a page (an export's last pages of 500): a sort of one account's
		// last events, still through the index.
		sorts bool
	}{
		{"one's own events, first page", func() error {
			p, err := svc.MyAudit(ctx, u, user.AuditCursor{}, 20)
			next = p.Next
			return err
		}, "audit_events_subject_at_id", false},
		{"one's own events, a later page", func() error {
			if next.At.IsZero() {
				t.Fatalf("the first page's cursor %+v has no time", next)
			}
			_, err := svc.MyAudit(ctx, u, next, 20)
			return err
		}, "audit_events_subject_at_id", false},
		{"the export, every page", func() error {
			x, err := svc.Export(ctx, u)
			if err != nil {
				return err
			}
			n := 0
			for _, err := range x.Events {
				if err != nil {
					return err
				}
				n++
			}
			if n <= 2*user.ExportPage {
				t.Fatalf("the export has %d events, want more than two pages", n)
			}
			return nil
		}, "audit_events_subject_at_id", true},
		{"an account's events, 30 days", func() error {
			_, err := svc.AuditEvents(ctx, admin, user.AuditFilter{SubjectID: u.ID, Since: old, Until: old.AddDate(0, 0, 30)})
			return err
		}, "audit_events_subject_at_id", false},
		{"an actor's events", func() error {
			_, err := svc.AuditEvents(ctx, admin, user.AuditFilter{ActorID: u.ID})
			return err
		}, "audit_events_actor_others", false},
		{"a kind's events, a later page", func() error {
			_, err := svc.AuditEvents(ctx, admin, user.AuditFilter{Kinds: []user.AuditKind{user.AuditLoggedOut}, BeforeAt: old, BeforeID: 20000})
			return err
		}, "", false},
		{"a window", func() error {
			_, err := svc.AuditEvents(ctx, admin, user.AuditFilter{Since: old, Until: old.AddDate(0, 0, 30)})
			return err
		}, "audit_events_at_id", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			filters := reads(tt.do)
			if len(filters) == 0 {
				t.Fatal("no read of the audit log")
			}
			for _, f := range filters {
				q, args := postgres.AuditQuery(f)
				plan := planOf(t, db, q, args)
				backward := strings.Contains(plan, "Index Scan Backward using "+tt.index+" ")
				if tt.sorts && !backward {
					backward = strings.Contains(plan, "Bitmap Index Scan on "+tt.index+" ")
				}
				if tt.index != "" && !backward {
					t.Errorf("%+v: the plan does not read %s:\n%s", f, tt.index, plan)
				}
				if !strings.Contains(plan, "_at_id ") {
					t.Errorf("%+v: the plan reads no index of 00022:\n%s", f, plan)
				}
				for _, bad := range []string{"audit_events_subject ", "audit_events_actor ", "audit_events_pkey", "Sort  (", "Seq Scan"} {
					if bad == "Sort  (" && tt.sorts {
						continue
					}
					if strings.Contains(plan, bad) {
						t.Errorf("%+v: the plan has %q:\n%s", f, bad, plan)
					}
				}
			}
		})
	}

	// A cursor without a time, handed out before the time order, goes on
	// in id order: the one read that (subject_id, id) still serves.
	filters := reads(func() error {
		_, err := svc.MyAudit(ctx, u, user.AuditCursor{ID: 100000}, 20)
		return err
	})
	for _, f := range filters {
		if f.ByTime {
			t.Errorf("an id cursor read %+v in time order", f)
		}
		q, args := postgres.AuditQuery(f)
		t.Logf("the old cursor's page:\n%s", planOf(t, db, q, args))
	}
}

// TestActorEventsReadByTime: with a year of audit events loaded, among
// them an account's logins (its own events), its actions on others, and
// others' actions and failed logins about it, the listing of the
// account's events as actor in time order (first page, a later page, in a
// window) reads a page at most of audit_events_actor_others
// (its events about others: the partial index of migration 00030, which
// a login's event is not in) and of audit_events_subject_at_id (its events
// about itself), each backward, and merges the two: no scan, no bitmap
// read of all the account's events, no sort below the merge, and never
// the id-ordered audit_events_actor of 00006 (issue 25).
func TestActorEventsReadByTime(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := t.Context()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	someone := uuid.Must(uuid.NewV7())
	// One event in 50 is someone's login, one in 70 someone's action on
	// another account, one in 90 another's action about someone, one in 110
	// a failed login on someone's account; one in 13 a failed login on an
	// account that does not exist.
	const load = `
		INSERT INTO audit_events (at, kind, actor_id, subject_id)
		SELECT $1::timestamptz + (i / 2 * interval '10 minutes'),
		       CASE WHEN i % 70 = 0 THEN 'user.role_changed' WHEN i % 110 = 0 OR i % 13 = 0 THEN 'login.failed'
		            ELSE (ARRAY['login.succeeded', 'session.logged_out', 'user.updated'])[1 + i % 3] END,
		       CASE WHEN i % 50 = 0 OR i % 70 = 0 THEN $2::uuid WHEN i % 110 = 0 OR i % 13 = 0 THEN NULL ELSE gen_random_uuid() END,
		       CASE WHEN i % 50 = 0 OR i % 90 = 0 OR i % 110 = 0 THEN $2::uuid WHEN i % 13 = 0 THEN NULL ELSE gen_random_uuid() END
		FROM generate_series(1, 105120) AS i`
	if _, err := db.Pool().Exec(ctx, load, start, someone); err != nil {
		t.Fatalf("load audit events: %v", err)
	}
	if _, err := db.Pool().Exec(ctx, analyzeWhole); err != nil {
		t.Fatal(err)
	}
	old := start.AddDate(0, 2, 0)
	const limit = user.DefaultAuditPage + 1
	for _, tt := range []struct {
		name string
		f    user.AuditFilter
	}{
		{"first page", user.AuditFilter{}},
		{"a later page", user.AuditFilter{BeforeAt: old, BeforeID: 20000}},
		{"30 days", user.AuditFilter{Since: old, Until: old.AddDate(0, 0, 30)}},
		{"a later page of 30 days", user.AuditFilter{Since: old, Until: old.AddDate(0, 0, 30), BeforeAt: old.AddDate(0, 0, 20), BeforeID: 40000}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.ActorID, tt.f.ByTime, tt.f.Limit = someone, true, limit
			q, args := postgres.AuditQuery(tt.f)
			plan := analyzedPlanOf(t, db, q, args)
			for _, index := range []string{"audit_events_actor_others", "audit_events_subject_at_id"} {
				m := regexp.MustCompile(`Index Scan Backward using ` + index + ` .*\(actual rows=(\d+) `).FindStringSubmatch(plan)
				if m == nil {
					t.Errorf("the plan does not read %s backward:\n%s", index, plan)
					continue
				}
				if n, _ := strconv.Atoi(m[1]); n > limit {
					t.Errorf("the plan reads %d events from %s, want a page at most (%d):\n%s", n, index, limit, plan)
				}
			}
			for _, bad := range []string{"Seq Scan", "Bitmap", "audit_events_actor ", "audit_events_actor_at_id", "audit_events_pkey"} {
				if strings.Contains(plan, bad) {
					t.Errorf("the plan has %q:\n%s", bad, plan)
				}
			}
			// A sort, if any, is of the two pages (above the Append), not
			// of the events of a branch.
			merge := strings.Index(plan, "Append")
			if sort := strings.LastIndex(plan, "Sort  ("); merge < 0 || sort > merge {
				t.Errorf("the plan sorts below the merge of the two pages:\n%s", plan)
			}
			if testing.Verbose() {
				t.Logf("%+v:\n%s", tt.f, plan)
			}
		})
	}
}

// TestSessionCapReadsTheAccountOnce: the cap a login enforces
// (RevokeOldest) reads the account's live sessions once, whatever the
// planner believes of the table. Written as UPDATE ... WHERE id IN (the
// sessions beyond the cap), a table the statistics call tiny (a new
// deployment before autovacuum's first ANALYZE) got a nested loop that
// read them all again for each session of the table: with 1,000 sessions
// on one account, a million heap fetches and 166 ms a login, growing with
// the square of the account's sessions.
func TestSessionCapReadsTheAccountOnce(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := t.Context()
	now := time.Now().UTC()
	var ada uuid.UUID
	const one = `INSERT INTO users (id, email, username, hashed_password) VALUES (gen_random_uuid(), 'ada@example.com', 'ada', 'x') RETURNING id`
	if err := db.Pool().QueryRow(ctx, one).Scan(&ada); err != nil {
		t.Fatal(err)
	}
	const load = `
		INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at)
		SELECT gen_random_uuid(), $1, $2::timestamptz - i * interval '1 second', $2, $2::timestamptz + interval '1 day'
		FROM generate_series(1, 300) AS i`
	if _, err := db.Pool().Exec(ctx, load, ada, now); err != nil {
		t.Fatal(err)
	}
	// A scan of the account's sessions (the table, or its index by
	// account) runs once; looking up each session to end by its key
	// (sessions_pkey) may run once per session ended.
	scans := regexp.MustCompile(`(Seq Scan on sessions|sessions_user_cover) .*\(actual rows=\d+ loops=(\d+)\)`)
	for _, stats := range []string{"never analyzed", "analyzed"} {
		if stats == "analyzed" {
			if _, err := db.Pool().Exec(ctx, `ANALYZE sessions`); err != nil {
				t.Fatal(err)
			}
		}
		for _, keep := range []int{100, 1000} { // some sessions beyond the cap, or none
			plan := analyzedPlanOf(t, db, postgres.SessionQueries["revoke oldest"], []any{ada, now, keep})
			found := scans.FindAllStringSubmatch(plan, -1)
			if len(found) == 0 {
				t.Errorf("%s, keep %d: no scan of the account's sessions in the plan:\n%s", stats, keep, plan)
			}
			for _, m := range found {
				if m[2] != "1" {
					t.Errorf("%s, keep %d: the cap reads the account's sessions %s times (%s):\n%s", stats, keep, m[2], m[1], plan)
				}
			}
		}
	}
}

// TestHeldAddressReadsOneAddress: a registration asks whether an undo link
// holds its address (EmailChanges.Held). With a week of email changes whose
// undo links are open, the question reads the changes of that one address
// through email_changes_held (00033), not every open change through
// email_changes_expires_at: its cost no longer grows with the week's
// changes.
func TestHeldAddressReadsOneAddress(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := t.Context()
	now := time.Now().UTC()
	const load = `
		WITH u AS (
			INSERT INTO users (id, email, username, hashed_password)
			SELECT gen_random_uuid(), 'user' || i || '@example.com', 'user' || i, 'x' FROM generate_series(1, 20000) AS i
			RETURNING id, email)
		INSERT INTO email_changes (hash, user_id, old_email, new_email, created_at, expires_at, used_at)
		SELECT sha256(convert_to(u.id::text, 'UTF8')), u.id, 'Old.' || u.email, u.email,
		       $1::timestamptz - interval '3 days', $1::timestamptz + interval '4 days',
		       CASE WHEN random() < 0.1 THEN $1::timestamptz - interval '1 day' END
		FROM u`
	if _, err := db.Pool().Exec(ctx, load, now); err != nil {
		t.Fatalf("load email changes: %v", err)
	}
	if _, err := db.Pool().Exec(ctx, `ANALYZE users; ANALYZE email_changes`); err != nil {
		t.Fatal(err)
	}
	plan := analyzedPlanOf(t, db, postgres.HeldQuery, []any{"old.user77@example.com", uuid.Must(uuid.NewV7()), now})
	if !strings.Contains(plan, "email_changes_held") || strings.Contains(plan, "Seq Scan on email_changes") || strings.Contains(plan, "email_changes_expires_at") {
		t.Errorf("Held does not read the changes of one address through email_changes_held:\n%s", plan)
	}
}
