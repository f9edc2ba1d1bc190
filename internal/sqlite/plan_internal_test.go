package sqlite

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// queryPlan is EXPLAIN QUERY PLAN of q with args on s's reader, as text:
// one line a node, unindented.
func queryPlan(t *testing.T, s *DB, q string, args []any) string {
	t.Helper()
	return explainQueryPlan(t, s, q, args, false)
}

// insertRows inserts n rows into table's columns on tx, row(i) giving the
// values of the i-th, in order, a few hundred rows a statement: under the
// race detector, one INSERT a row spent five times as long on the same
// rows, most of a plan test's time.
func insertRows(t *testing.T, tx *sql.Tx, table string, columns []string, n int, row func(i int) []any) {
	t.Helper()
	const perStatement = 500
	tuple := "(?" + strings.Repeat(", ?", len(columns)-1) + ")"
	for first := 0; first < n; first += perStatement {
		last := min(first+perStatement, n)
		tuples := make([]string, 0, last-first)
		args := make([]any, 0, (last-first)*len(columns))
		for i := first; i < last; i++ {
			values := row(i)
			if len(values) != len(columns) {
				t.Fatalf("insertRows: row %d has %d values for %d columns", i, len(values), len(columns))
			}
			tuples = append(tuples, tuple)
			args = append(args, values...)
		}
		q := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES " + strings.Join(tuples, ", ")
		if _, err := tx.ExecContext(t.Context(), q, args...); err != nil {
			t.Fatalf("insert into %s, rows %d to %d: %v", table, first, last-1, err)
		}
	}
}

// insertUsers inserts n users on tx, user0@example.com and on, and
// returns their ids in that order.
func insertUsers(t *testing.T, tx *sql.Tx, n int) []string {
	t.Helper()
	ids := make([]string, n)
	insertRows(t, tx, "users", []string{"id", "email", "username", "hashed_password"}, n, func(u int) []any {
		ids[u] = uuid.Must(uuid.NewV7()).String()
		return []any{ids[u], fmt.Sprintf("user%d@example.com", u), fmt.Sprintf("user%d", u), "x"}
	})
	return ids
}

// planAuditColumns are the columns the plan tests give their audit events.
var planAuditColumns = []string{"at", "kind", "actor_id", "subject_id"}

// TestAdminQueriesUseIndexes: the administrators' audit query for an old
// window and the search by prefix read an index instead of every newer
// event or the whole users table (issue 25). No ANALYZE: usersvc never
// runs one on SQLite.
func TestAdminQueriesUseIndexes(t *testing.T) {
	s := openMigrated(t)
	ctx := t.Context()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	subject := uuid.Must(uuid.NewV7())
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []user.AuditKind{user.AuditLoginSucceeded, user.AuditLoginFailed, user.AuditLoggedOut, user.AuditRegistered}
	insertRows(t, tx, "audit_events", planAuditColumns, 20000, func(i int) []any {
		who := uuid.Must(uuid.NewV7()).String()
		if i%50 == 0 {
			who = subject.String()
		}
		return []any{ts(start.Add(time.Duration(i) * 26 * time.Minute)), string(kinds[i%4]), who, who}
	})
	insertRows(t, tx, "users", []string{"id", "email", "username", "hashed_password"}, 20000, func(i int) []any {
		return []any{uuid.Must(uuid.NewV7()).String(), fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("user%d", i), "x"}
	})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	day := start.AddDate(0, 2, 0)
	window := func(f user.AuditFilter) user.AuditFilter {
		f.Since, f.Until, f.Limit = day, day.AddDate(0, 0, 1), 50
		return f
	}
	list := func(f user.Filter) (string, []any) { return listQuery(user.ListQuery{Filter: f, Limit: 50}, false) }
	for _, tt := range []struct {
		name    string
		q       string
		args    []any
		indexes []string // any of
	}{
		{"audit: a day two months into a year", "", nil, []string{"audit_events_at"}},
		{"audit: one account's day", "", nil, []string{"audit_events_subject_at", "audit_events_at"}},
		{"audit: one kind's day", "", nil, []string{"audit_events_kind_at", "audit_events_at"}},
		{"users: email prefix", "", nil, []string{"users_email_lower_key"}},
		{"users: username prefix", "", nil, []string{"users_username_lower_key"}},
		{"users: search in the middle", "", nil, []string{"VIRTUAL TABLE INDEX"}},
		{"users: two-character search", "", nil, []string{"VIRTUAL TABLE INDEX"}},
		{"users: a search matching many, walked in order", "", nil, []string{"users_created_at_id_idx"}},
	} {
		switch tt.name {
		case "audit: a day two months into a year":
			tt.q, tt.args = auditQuery(window(user.AuditFilter{}))
		case "audit: one account's day":
			tt.q, tt.args = auditQuery(window(user.AuditFilter{SubjectID: subject}))
		case "audit: one kind's day":
			tt.q, tt.args = auditQuery(window(user.AuditFilter{Kinds: []user.AuditKind{user.AuditLoggedOut}}))
		case "users: email prefix":
			tt.q, tt.args = list(user.Filter{EmailPrefix: "User1234"})
		case "users: search in the middle":
			tt.q, tt.args = list(user.Filter{Search: "SER1234"})
		case "users: a search matching many, walked in order":
			tt.q, tt.args = listQuery(user.ListQuery{Filter: user.Filter{Search: "example"}, Limit: 50}, true)
		case "users: two-character search":
			tt.q, tt.args = list(user.Filter{Search: "u9"})
		case "users: username prefix":
			tt.q, tt.args = list(user.Filter{UsernamePrefix: "user1234"})
		}
		t.Run(tt.name, func(t *testing.T) {
			plan := queryPlan(t, s, tt.q, tt.args)
			used := false
			for _, ix := range tt.indexes {
				used = used || strings.Contains(plan, "INDEX "+ix+" ") || strings.HasPrefix(ix, "VIRTUAL") && strings.Contains(plan, ix) ||
					strings.HasSuffix(plan, "SCAN users USING INDEX "+ix+"\n") // walked in order, to the page's end
			}
			if !used {
				t.Errorf("the plan uses none of %v:\n%s", tt.indexes, plan)
			}
			if strings.Contains(plan, "SCAN audit_events") || strings.Contains(plan, "SCAN users") && !strings.Contains(tt.name, "walked in order") {
				t.Errorf("the plan reads the whole table:\n%s", plan)
			}
		})
	}
}

// TestAuditWindowsReadByTime: the administrators' listing in time order
// (user.AuditFilter.ByTime) reads each window, first page or a later one,
// through an index on at, whose entries end with the rowid (id), in
// (at, id) order: no sort of the window, no walk of the table (issue 25).
func TestAuditWindowsReadByTime(t *testing.T) {
	s := openMigrated(t)
	ctx := t.Context()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	subject := uuid.Must(uuid.NewV7())
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []user.AuditKind{user.AuditLoginSucceeded, user.AuditLoginFailed, user.AuditLoggedOut, user.AuditRegistered}
	insertRows(t, tx, "audit_events", planAuditColumns, 20000, func(i int) []any {
		who := uuid.Must(uuid.NewV7()).String()
		if i%50 == 0 {
			who = subject.String()
		}
		return []any{ts(start.Add(time.Duration(i/2) * 26 * time.Minute)), string(kinds[i%4]), who, who}
	})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	old := start.AddDate(0, 2, 0)
	for _, tt := range []struct {
		name string
		f    user.AuditFilter
	}{
		{"a day", user.AuditFilter{Since: old, Until: old.AddDate(0, 0, 1)}},
		{"180 days", user.AuditFilter{Since: old, Until: old.AddDate(0, 0, 180)}},
		{"a later page of 30 days", user.AuditFilter{Since: old, Until: old.AddDate(0, 0, 30), BeforeAt: old.AddDate(0, 0, 20), BeforeID: 4000}},
		{"until only, a later page", user.AuditFilter{Until: old, BeforeAt: old.AddDate(0, 0, -1), BeforeID: 3000}},
		{"one account, 30 days", user.AuditFilter{SubjectID: subject, Since: old, Until: old.AddDate(0, 0, 30)}},
		{"one account, a later page", user.AuditFilter{SubjectID: subject, BeforeAt: old, BeforeID: 3000}},
		{"one kind, 30 days", user.AuditFilter{Kinds: []user.AuditKind{user.AuditLoggedOut}, Since: old, Until: old.AddDate(0, 0, 30)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.ByTime, tt.f.Limit = true, user.DefaultAuditPage+1
			q, args := auditQuery(tt.f)
			plan := queryPlan(t, s, q, args)
			if !strings.Contains(plan, "SEARCH audit_events USING INDEX audit_events_") {
				t.Errorf("the plan searches no index on at:\n%s", plan)
			}
			if strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("the plan sorts:\n%s", plan)
			}
		})
	}
}

// TestLoginsReadOnlyLiveSessions: with a year of sessions per account, the
// cap a login enforces (RevokeOldest) reads the account's live sessions
// from sessions_user_cover (migration 00029) alone, a covering index: no
// row of the table, where through sessions_user_id (00002) it read the row
// of every session the account ever had (issue 25). The sessions list
// (Active), which returns every column, reads the same index in its order
// (no sort) and a row of the table only for an entry that passed the
// conditions on the index's columns (revocation, expiry, cursor): a
// deferred seek. Deleting a user's sessions (the ON DELETE CASCADE of
// users to sessions) finds them through the same index, which replaced
// sessions_user_id.
func TestLoginsReadOnlyLiveSessions(t *testing.T) {
	s := openMigrated(t)
	ctx := t.Context()
	now := time.Now().UTC()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := insertUsers(t, tx, 200)
	someone := ids[len(ids)-1]
	// 50 sessions an account, a week apart over the year, one in three revoked.
	insertRows(t, tx, "sessions", []string{"id", "user_id", "created_at", "last_used_at", "expires_at", "revoked_at"}, len(ids)*50, func(n int) []any {
		id, i := ids[n/50], n%50
		at := now.AddDate(0, 0, 7*i-365)
		var revoked any
		if i%3 == 0 {
			revoked = ts(at.AddDate(0, 0, 1))
		}
		return []any{uuid.Must(uuid.NewV7()).String(), id, ts(at), ts(at), ts(at.AddDate(0, 0, 90)), revoked}
	})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]struct {
		q    string
		args []any
	}{
		"active":               {activeQuery, []any{someone, ts(now), nil, nil, 50}},
		"active, a later page": {activeQuery, []any{someone, ts(now), ts(now.AddDate(0, 0, -60)), uuid.Nil.String(), 50}},
		"revoke oldest":        {revokeOldestQuery, []any{someone, ts(now), 100}},
	} {
		t.Run(name, func(t *testing.T) {
			plan := queryPlan(t, s, q.q, q.args)
			if strings.Contains(plan, "sessions_user_id") || strings.Contains(plan, "SCAN sessions") {
				t.Errorf("the plan reads every session of the account, or all of them:\n%s", plan)
			}
			if strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("the plan sorts the account's sessions:\n%s", plan)
			}
			if name == "revoke oldest" {
				if !strings.Contains(plan, "SEARCH sessions USING COVERING INDEX sessions_user_cover (user_id=?)") {
					t.Errorf("the cap does not read sessions_user_cover alone:\n%s", plan)
				}
				return
			}
			if !strings.Contains(plan, "SEARCH sessions USING INDEX sessions_user_cover (user_id=?)") {
				t.Errorf("the sessions list does not read sessions_user_cover:\n%s", plan)
			}
			if ops := opcodes(t, s, q.q, q.args); !strings.Contains(ops, " DeferredSeek ") {
				t.Errorf("the sessions list reads a row of the table for each entry of the index:\n%s", ops)
			}
		})
	}
	t.Run("cascade of a user's deletion", func(t *testing.T) {
		// What the foreign key's ON DELETE CASCADE deletes for each
		// deleted user: explained only, nothing is deleted.
		plan := queryPlan(t, s, `DELETE FROM sessions WHERE user_id = ?`, []any{someone})
		if !strings.Contains(plan, "SEARCH sessions USING COVERING INDEX sessions_user_cover (user_id=?)") {
			t.Errorf("deleting a user's sessions does not find them through sessions_user_cover:\n%s", plan)
		}
	})
}

// opcodes is EXPLAIN of q with args on s's reader: its bytecode, one
// opcode a line.
func opcodes(t *testing.T, s *DB, q string, args []any) string {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), "EXPLAIN "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var (
			addr, p1, p2, p3 int
			op               string
			p4, p5, comment  any
		)
		if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d %s %d %d %d\n", addr, op, p1, p2, p3)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestOwnEventsReadByTime: one's own listing (first page and a later one)
// and every page of the export, as the service reads them in (at, id)
// order, search audit_events_subject_at (subject_id, at), whose entries
// end with the rowid, id: one account's events, in the listing's order,
// with no sort and no scan of the table (issue 25). A cursor without a
// time, handed out before the time order, goes on in id order.
func TestOwnEventsReadByTime(t *testing.T) {
	s := openMigrated(t)
	ctx := t.Context()
	st := s.Stores()
	u := usertest.NewUser(1)
	if _, err := st.Users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	insertRows(t, tx, "audit_events", planAuditColumns, 60000, func(i int) []any {
		who := uuid.Must(uuid.NewV7()).String()
		if i%50 == 0 {
			who = u.ID.String()
		}
		return []any{ts(start.Add(time.Duration(i/2) * 10 * time.Minute)), string(user.AuditLoginFailed), who, who}
	})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	rec := &usertest.RecordedAudit{AuditLog: st.Audit}
	st.Audit = rec
	svc := user.NewService(user.Deps{Stores: st, Now: func() time.Time { return start.AddDate(1, 0, 0) }}, user.Policy{})
	p, err := svc.MyAudit(ctx, u, user.AuditCursor{}, 20)
	if err != nil || p.Next.At.IsZero() {
		t.Fatalf("MyAudit: next %+v, %v; want a cursor with a time", p.Next, err)
	}
	if _, err := svc.MyAudit(ctx, u, p.Next, 20); err != nil {
		t.Fatal(err)
	}
	x, err := svc.Export(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range x.Events {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n <= user.ExportPage {
		t.Fatalf("the export has %d events, want more than a page", n)
	}
	if len(rec.Filters) < 4 {
		t.Fatalf("reads: %+v, want two pages of the listing and two or more of the export", rec.Filters)
	}
	for _, f := range rec.Filters {
		q, args := auditQuery(f)
		plan := queryPlan(t, s, q, args)
		if !f.ByTime || !strings.Contains(plan, "SEARCH audit_events USING INDEX audit_events_subject_at (subject_id=?") {
			t.Errorf("%+v: the plan does not search audit_events_subject_at in time order:\n%s", f, plan)
		}
		for _, bad := range []string{"TEMP B-TREE", "SCAN audit_events"} {
			if strings.Contains(plan, bad) {
				t.Errorf("%+v: the plan has %s:\n%s", f, bad, plan)
			}
		}
	}

	rec.Filters = nil
	if _, err := svc.MyAudit(ctx, u, user.AuditCursor{ID: 30000}, 20); err != nil {
		t.Fatal(err)
	}
	if len(rec.Filters) != 1 || rec.Filters[0].ByTime {
		t.Fatalf("reads from an id cursor: %+v, want one in id order", rec.Filters)
	}
	q, args := auditQuery(rec.Filters[0])
	t.Logf("the old cursor's page:\n%s", queryPlan(t, s, q, args))
}

// planTree is EXPLAIN QUERY PLAN of q with args on s's reader, one line a
// node, each indented two spaces per level below the top.
func planTree(t *testing.T, s *DB, q string, args []any) string {
	t.Helper()
	return explainQueryPlan(t, s, q, args, true)
}

// explainQueryPlan is EXPLAIN QUERY PLAN of q with args on s's reader, one
// line a node, indented two spaces per level below the top when tree.
func explainQueryPlan(t *testing.T, s *DB, q string, args []any, tree bool) string {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", q, err)
	}
	defer rows.Close()
	depth := map[int]int{0: -1}
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		depth[id] = depth[parent] + 1
		if tree {
			b.WriteString(strings.Repeat("  ", depth[id]))
		}
		b.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestActorEventsReadByTime: among a year of audit events, an account's
// logins (its own events), its actions on others, and others' actions and
// failed logins about it, the listing of the account's events as actor in
// time order (first page, a later page, in a window, with kinds) searches
// audit_events_actor_others (its events about others: the partial index
// of migration 00030, which a login's event is not in) and
// audit_events_subject_at (its own events), each in its order, and sorts
// only the two pages it merges: never the id-ordered audit_events_actor of
// 00006, no scan of the table (issue 25).
func TestActorEventsReadByTime(t *testing.T) {
	s := openMigrated(t)
	ctx := t.Context()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	someone := uuid.Must(uuid.NewV7()).String()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	insertRows(t, tx, "audit_events", planAuditColumns, 20000, func(i int) []any {
		kind, actor, subject := user.AuditLoginSucceeded, any(uuid.Must(uuid.NewV7()).String()), any(uuid.Must(uuid.NewV7()).String())
		switch {
		case i%50 == 0:
			actor, subject = someone, someone
		case i%70 == 0:
			kind, actor = user.AuditRoleChanged, someone
		case i%90 == 0:
			kind, subject = user.AuditProfileUpdated, someone
		case i%110 == 0:
			kind, actor, subject = user.AuditLoginFailed, nil, someone
		case i%13 == 0:
			kind, actor, subject = user.AuditLoginFailed, nil, nil
		}
		return []any{ts(start.Add(time.Duration(i/2) * 26 * time.Minute)), string(kind), actor, subject}
	})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	old := start.AddDate(0, 2, 0)
	for _, tt := range []struct {
		name string
		f    user.AuditFilter
	}{
		{"first page", user.AuditFilter{}},
		{"a later page", user.AuditFilter{BeforeAt: old, BeforeID: 4000}},
		{"30 days", user.AuditFilter{Since: old, Until: old.AddDate(0, 0, 30)}},
		{"two kinds, a later page of 180 days", user.AuditFilter{
			Kinds: []user.AuditKind{user.AuditLoginSucceeded, user.AuditRoleChanged},
			Since: old, Until: old.AddDate(0, 0, 180), BeforeAt: old.AddDate(0, 0, 90), BeforeID: 8000,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.ActorID, tt.f.ByTime, tt.f.Limit = uuid.MustParse(someone), true, user.DefaultAuditPage+1
			q, args := auditQuery(tt.f)
			plan := planTree(t, s, q, args)
			// Each branch is a co-routine whose one line is its search: a
			// search in the index's order, no sort of the branch's events.
			for _, search := range []string{
				"SEARCH audit_events USING INDEX audit_events_actor_others (actor_id=?",
				"SEARCH audit_events USING INDEX audit_events_subject_at (subject_id=?",
			} {
				if !strings.Contains(plan, "CO-ROUTINE (subquery-") || !strings.Contains(plan, search) {
					t.Errorf("the plan has no branch that reads %s...):\n%s", search, plan)
				}
			}
			// The sorts allowed: each of the two pages, the co-routine's
			// output (a sibling of its SCAN (subquery-N), two levels down).
			for _, line := range strings.Split(plan, "\n") {
				if strings.Contains(line, "TEMP B-TREE") && line != "    USE TEMP B-TREE FOR ORDER BY" {
					t.Errorf("the plan sorts below the merge of the two pages:\n%s", plan)
				}
			}
			for _, bad := range []string{"SCAN audit_events", "INDEX audit_events_actor ", "audit_events_actor_at "} {
				if strings.Contains(plan, bad) {
					t.Errorf("the plan has %q:\n%s", bad, plan)
				}
			}
			if testing.Verbose() {
				t.Logf("%+v:\n%s", tt.f, plan)
			}
		})
	}
}

// TestHeldAddressReadsOneAddress: a registration asks whether an undo link
// holds its address (EmailChanges.Held); the question searches the changes
// of that one address through email_changes_held (00033), not every change
// whose undo link is open.
func TestHeldAddressReadsOneAddress(t *testing.T) {
	s := openMigrated(t)
	ctx := t.Context()
	now := time.Now().UTC()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := insertUsers(t, tx, 2000)
	insertRows(t, tx, "email_changes", []string{"hash", "user_id", "old_email", "new_email", "created_at", "expires_at"}, len(ids), func(u int) []any {
		hash := uuid.Must(uuid.NewV7())
		return []any{append(hash[:], hash[:]...), ids[u], fmt.Sprintf("Old.user%d@example.com", u), fmt.Sprintf("user%d@example.com", u),
			ts(now.AddDate(0, 0, -3)), ts(now.AddDate(0, 0, 4))}
	})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	plan := queryPlan(t, s, heldQuery, []any{"old.user77@example.com", uuid.Must(uuid.NewV7()).String(), ts(now)})
	if !strings.Contains(plan, "USING INDEX email_changes_held") {
		t.Errorf("Held does not search the changes of one address through email_changes_held:\n%s", plan)
	}
}
