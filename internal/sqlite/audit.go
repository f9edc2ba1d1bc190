package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Audit is the SQLite user.AuditLog.
type Audit struct{ conn }

var _ user.AuditLog = (*Audit)(nil)

// auditColumns lists, in scanAudit's order, the columns of a
// user.AuditEvent.
const auditColumns = `id, at, kind, actor_id, subject_id, ip, user_agent, request_id, detail`

// Append inserts e; the database assigns its id.
func (s *Audit) Append(ctx context.Context, e user.AuditEvent) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	detail, err := marshalDetail(e.Detail)
	if err != nil {
		return err
	}
	const q = `
		INSERT INTO audit_events (at, kind, actor_id, subject_id, ip, user_agent, request_id, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	_, err = s.exec(ctx, q, ts(e.At), string(e.Kind), nullID(e.ActorID), nullID(e.SubjectID),
		e.IP, e.UserAgent, e.RequestID, detail)
	if err != nil {
		return translate(err, "append audit event")
	}
	return nil
}

// Events returns the events f selects, newest first (auditOrder). The WHERE
// clause holds only the conditions f sets; every value is a parameter.
func (s *Audit) Events(ctx context.Context, f user.AuditFilter) ([]user.AuditEvent, error) {
	q, args := auditQuery(f)
	rows, err := s.readRows(ctx, q, args...)
	if err != nil {
		return nil, translate(err, "list audit events")
	}
	defer rows.Close()
	var all []user.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		all = append(all, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list audit events")
	}
	return all, nil
}

// auditQuery is Events' statement for f and its arguments. The WHERE
// clause holds only the conditions f sets, so that each can use its index;
// every value is a parameter. An actor's events in time order are the
// merge of two listings (actorByTime).
func auditQuery(f user.AuditFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg ...any) { where, args = append(where, cond), append(args, arg...) }
	if f.SubjectID != uuid.Nil {
		add("subject_id = ?", f.SubjectID.String())
	}
	if f.ActorID != uuid.Nil {
		add("actor_id = ?", f.ActorID.String())
	}
	if len(f.Kinds) > 0 {
		kinds := make([]any, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		add("kind IN (?"+strings.Repeat(", ?", len(kinds)-1)+")", kinds...)
	}
	if !f.Since.IsZero() {
		add("at >= ?", ts(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", ts(f.Until))
	}
	switch {
	case f.BeforeID > 0 && f.ByTime:
		add("(at, id) < (?, ?)", ts(f.BeforeAt), f.BeforeID)
	case f.BeforeID > 0:
		add("id < ?", f.BeforeID)
	}
	if f.ByTime && f.ActorID != uuid.Nil && f.SubjectID == uuid.Nil {
		return actorByTime(where, args, f.Limit)
	}
	q := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ") //nolint:gosec // joins the fixed conditions above; every value is a parameter
	}
	q += ` ORDER BY ` + auditOrder(f)
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args
}

// actorOthers is the condition of an event whose actor is not its subject,
// word for word the second term of the predicate of the partial index
// audit_events_actor_others (migration 00030): SQLite uses the index only
// for a query that holds the predicate's terms or conditions that imply
// them (actor_id = ? implies its first term, actor_id IS NOT NULL).
const actorOthers = `(actor_id <> subject_id OR subject_id IS NULL)`

// actorByTime is the listing of an actor's events by time and its
// arguments: where's conditions, the first of them actor_id = ?, with
// args, and at most limit events (none if 0). A login's event, whose actor
// is its subject, is in no index by actor (issue 25; migration 00030), so
// the listing is the newest-first merge of two listings, each ordered by
// (at, id) and limited to a page: the actor's events about others (or no
// one), from the partial index audit_events_actor_others, and its events
// about itself, from audit_events_subject_at (subject_id, at), whose
// entries end with the rowid, id. The two are disjoint, and together every
// event of the actor: its subject is another account, none, or the actor.
// SQLite takes no parenthesised SELECT in a compound, hence the
// subqueries; each condition's ? is repeated, so are its arguments.
func actorByTime(where []string, args []any, limit int) (string, []any) {
	page := ` ORDER BY at DESC, id DESC`
	if limit > 0 {
		page += ` LIMIT ?`
	}
	others := `SELECT ` + auditColumns + ` FROM audit_events WHERE ` +
		strings.Join(slices.Insert(slices.Clone(where), 1, actorOthers), " AND ") + page
	own := `SELECT ` + auditColumns + ` FROM audit_events WHERE subject_id = ? AND ` +
		strings.Join(where, " AND ") + page
	q := `SELECT * FROM (` + others + `) UNION ALL SELECT * FROM (` + own + `)` + page //nolint:gosec // joins the fixed conditions above; every value is a parameter
	all := slices.Clone(args)
	if limit > 0 {
		all = append(all, limit)
	}
	all = append(all, args[0])
	all = append(all, args...)
	if limit > 0 {
		all = append(all, limit, limit)
	}
	return q, all
}

// auditOrder is the ORDER BY of Events. ByTime: (at, id) descending,
// the order of the indexes on at ((at), (subject_id, at), ... which hold
// the rowid, id, after their columns), so that any window's page is read
// as a page of index entries. Otherwise id descending. A window closed on
// both sides (Since and Until: an administrator looking at a stretch of
// the past) sorts by +id, which keeps SQLite from walking the rowid down
// from the newest event (reading every event newer than the window first)
// and makes it read the window through an index on at ((at), (subject_id,
// at), (kind, at)...): the cost is that of the events inside the window.
// An open window keeps the rowid's order, as the PostgreSQL store does.
func auditOrder(f user.AuditFilter) string {
	if f.ByTime {
		return `at DESC, id DESC`
	}
	if !f.Since.IsZero() && !f.Until.IsZero() {
		return `+id DESC`
	}
	return `id DESC`
}

// scanAudit reads one row of auditColumns.
func scanAudit(rows *sql.Rows) (user.AuditEvent, error) {
	var (
		e              user.AuditEvent
		at             string
		actor, subject sql.NullString
		detail         sql.NullString
	)
	err := rows.Scan(&e.ID, &at, &e.Kind, &actor, &subject, &e.IP, &e.UserAgent, &e.RequestID, &detail)
	if err != nil {
		return user.AuditEvent{}, err
	}
	if err := parseTS(at, &e.At); err != nil {
		return user.AuditEvent{}, fmt.Errorf("at: %w", err)
	}
	if e.ActorID, err = parseNullID(actor); err != nil {
		return user.AuditEvent{}, fmt.Errorf("actor_id: %w", err)
	}
	if e.SubjectID, err = parseNullID(subject); err != nil {
		return user.AuditEvent{}, fmt.Errorf("subject_id: %w", err)
	}
	if detail.Valid {
		if err := json.Unmarshal([]byte(detail.String), &e.Detail); err != nil {
			return user.AuditEvent{}, fmt.Errorf("detail: %w", err)
		}
		if len(e.Detail) == 0 {
			e.Detail = nil
		}
	}
	return e, nil
}

// marshalDetail is the JSON text of d, NULL when d is empty.
func marshalDetail(d map[string]string) (sql.NullString, error) {
	if len(d) == 0 {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("audit detail: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// nullID is id as text, nil (NULL) for uuid.Nil.
func nullID(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id.String()
}

// parseNullID reads a nullable id column; NULL is uuid.Nil.
func parseNullID(s sql.NullString) (uuid.UUID, error) {
	if !s.Valid {
		return uuid.Nil, nil
	}
	return uuid.Parse(s.String)
}

// Retention is the SQLite user.AuditRetention. The delete trigger on
// audit_events lets through only the events older than a row of
// audit_prune_permits (migration 00011), which PruneBefore writes, uses and
// deletes in one transaction.
type Retention struct{ conn }

var _ user.AuditRetention = (*Retention)(nil)

// CountBefore implements user.AuditRetention.
func (s *Retention) CountBefore(ctx context.Context, before time.Time) (int64, error) {
	const q = `SELECT count(*) FROM audit_events WHERE at < ?`
	var n int64
	if err := s.readRow(ctx, q, ts(before)).Scan(&n); err != nil {
		return 0, translate(err, "count audit events")
	}
	return n, nil
}

// PruneBefore implements user.AuditRetention.
func (s *Retention) PruneBefore(ctx context.Context, before time.Time) (int64, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_prune_permits (before) VALUES (?)`, ts(before)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE at < ?`, ts(before))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM audit_prune_permits`)
		return err
	})
	if err != nil {
		return 0, translate(err, "prune audit events")
	}
	return n, nil
}
