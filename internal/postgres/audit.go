package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/user"
)

// Audit is the PostgreSQL user.AuditLog.
type Audit struct{ conn }

var _ user.AuditLog = (*Audit)(nil)

// auditColumns lists, in scanAudit's order, the columns of a
// user.AuditEvent.
const auditColumns = `id, at, kind, actor_id, subject_id, ip, user_agent, request_id, detail`

// Append inserts e; the database assigns its id.
func (s *Audit) Append(ctx context.Context, e user.AuditEvent) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	var detail *string
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return fmt.Errorf("audit detail: %w", err)
		}
		detail = new(string(b))
	}
	const q = `
		INSERT INTO audit_events (at, kind, actor_id, subject_id, ip, user_agent, request_id, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`
	_, err := s.execUndoable(ctx, q, e.At, string(e.Kind), nullID(e.ActorID), nullID(e.SubjectID),
		e.IP, e.UserAgent, e.RequestID, detail)
	if err != nil {
		return translate(err, "append audit event")
	}
	return nil
}

// Events returns the events f selects, newest first (auditOrder). The WHERE
// clause holds only the conditions f sets, so that each can use its index;
// every value is a parameter.
func (s *Audit) Events(ctx context.Context, f user.AuditFilter) ([]user.AuditEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	q, args := auditQuery(f)
	rows, err := s.q.Query(ctx, q, args...)
	if err != nil {
		return nil, translate(err, "list audit events")
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.AuditEvent, error) { return scanAudit(r) })
	if err != nil {
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
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.SubjectID != uuid.Nil {
		add("subject_id = $?", f.SubjectID)
	}
	if f.ActorID != uuid.Nil {
		add("actor_id = $?", f.ActorID)
	}
	if len(f.Kinds) > 0 {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		if len(kinds) == 1 {
			// = rather than = ANY of one: the planner then reads
			// (kind, at, id) in its order, a page at a time.
			add("kind = $?", kinds[0])
		} else {
			add("kind = ANY($?::text[])", kinds)
		}
	}
	if !f.Since.IsZero() {
		add("at >= $?", f.Since)
	}
	if !f.Until.IsZero() {
		add("at < $?", f.Until)
	}
	switch {
	case f.BeforeID > 0 && f.ByTime:
		args = append(args, f.BeforeAt)
		add("(at, id) < ($"+strconv.Itoa(len(args))+", $?)", f.BeforeID)
	case f.BeforeID > 0:
		add("id < $?", f.BeforeID)
	}
	limit := ""
	if f.Limit > 0 {
		args = append(args, f.Limit)
		limit = ` LIMIT $` + strconv.Itoa(len(args))
	}
	if f.ByTime && f.ActorID != uuid.Nil && f.SubjectID == uuid.Nil {
		return actorByTime(where, limit), args
	}
	q := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	return q + ` ORDER BY ` + auditOrder(f) + limit, args
}

// actorOthers is the condition of an event whose actor is not its subject,
// word for word the second term of the predicate of the partial index
// audit_events_actor_others (migration 00030): the planner uses the index
// only for a query that holds the predicate's terms or conditions that
// imply them (actor_id = $1 implies its first term, actor_id IS NOT NULL).
const actorOthers = `(actor_id <> subject_id OR subject_id IS NULL)`

// actorByTime is the listing of an actor's events by time: where's
// conditions, the first of them actor_id = $1, and limit (empty or
// " LIMIT $n"). A login's event, whose actor is its subject, is in no
// index by actor (issue 25: one random insert fewer per login; migration
// 00030), so the listing is the newest-first merge of two listings, each
// ordered by (at, id) and limited to a page: the actor's events about
// others (or no one), from the partial index audit_events_actor_others,
// and its events about itself, from (subject_id, at, id), skipping
// there the events others made about the actor. Each reads its index
// backward until its page is full, whatever the window, and at most two
// pages are merged on top; the statistics of 00030 (how often the actor
// is the subject) keep the planner from reading all of the actor's own
// events by bitmap and sorting them instead (TestActorEventsReadByTime).
// The two are disjoint, and together every event of the actor: its
// subject is another account, none, or the actor.
func actorByTime(where []string, limit string) string {
	page := ` ORDER BY at DESC, id DESC` + limit
	others := `SELECT ` + auditColumns + ` FROM audit_events WHERE ` +
		strings.Join(slices.Insert(slices.Clone(where), 1, actorOthers), " AND ") + page
	own := `SELECT ` + auditColumns + ` FROM audit_events WHERE subject_id = $1 AND ` +
		strings.Join(where, " AND ") + page
	return `SELECT ` + auditColumns + ` FROM ((` + others + `) UNION ALL (` + own + `)) AS e` + page
}

// auditOrder is the ORDER BY of Events. ByTime: (at, id) descending, which
// the indexes of migration 00022 ((at, id), (subject_id, at, id), ...)
// hold, so that any window's page is read as a page of index entries,
// whatever the window's age and width (issue 25: a 30-day window 180 days
// back at 1M events took 74 ms in id order, reading and sorting the whole
// window). Otherwise id descending. A window closed on
// both sides (Since and Until: an administrator looking at a stretch of
// the past) sorts by id + 0, an expression no index has, so that the
// planner reads the window through an index on at ((at), (subject_id, at),
// (kind, at)...) and keeps the newest Limit rows, instead of walking the
// primary key down from the newest event and reading every event newer
// than the window first, which it may pick believing matching rows are
// spread evenly over the ids (issue 25: 0.8-1.1 s for one day six months
// back at 5M events). The cost is then that of the events inside the
// window, whatever their age. An open window (Since only: the newest
// events; Until only) keeps the primary key's order.
func auditOrder(f user.AuditFilter) string {
	if f.ByTime {
		return `at DESC, id DESC`
	}
	if !f.Since.IsZero() && !f.Until.IsZero() {
		return `id + 0 DESC`
	}
	return `id DESC`
}

// scanAudit reads one row of auditColumns; NULL ids are uuid.Nil, a NULL
// detail is nil.
func scanAudit(row pgx.Row) (user.AuditEvent, error) {
	var (
		e              user.AuditEvent
		actor, subject *uuid.UUID
	)
	err := row.Scan(&e.ID, &e.At, &e.Kind, &actor, &subject, &e.IP, &e.UserAgent, &e.RequestID, &e.Detail)
	if err != nil {
		return user.AuditEvent{}, err
	}
	e.At = e.At.UTC()
	if actor != nil {
		e.ActorID = *actor
	}
	if subject != nil {
		e.SubjectID = *subject
	}
	if len(e.Detail) == 0 {
		e.Detail = nil
	}
	return e, nil
}

// nullID is id, or NULL for uuid.Nil.
func nullID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// Retention is the PostgreSQL user.AuditRetention. The append-only trigger
// lets a DELETE through only inside audit_events_prune (migration 00011),
// which allows it, for the events older than its cutoff, through a
// transaction-local setting.
type Retention struct{ conn }

var _ user.AuditRetention = (*Retention)(nil)

// CountBefore implements user.AuditRetention.
func (s *Retention) CountBefore(ctx context.Context, before time.Time) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	var n int64
	if err := s.q.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE at < $1`, before).Scan(&n); err != nil {
		return 0, translate(err, "count audit events")
	}
	return n, nil
}

// PruneBefore implements user.AuditRetention. It is not bounded by
// queryWait: removing years of events may take longer, and only an
// operator's command runs it.
func (s *Retention) PruneBefore(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	if err := s.q.QueryRow(ctx, `SELECT audit_events_prune($1)`, before).Scan(&n); err != nil {
		return 0, translate(err, "prune audit events")
	}
	return n, nil
}
