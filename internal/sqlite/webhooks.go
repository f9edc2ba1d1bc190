package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/webhook"
)

// Webhooks returns the stores of webhook endpoints and deliveries
// (migrations/00013_webhooks.sql).
func (s *DB) Webhooks() webhook.Stores {
	c := conn{db: s}
	return webhook.Stores{Endpoints: &WebhookEndpoints{c}, Deliveries: &WebhookDeliveries{s}, Tx: &webhookTx{c}}
}

// WebhookEndpoints is the SQLite webhook.Endpoints, on the database or,
// inside webhookTx.Atomic, on its transaction.
type WebhookEndpoints struct{ c conn }

// WebhookDeliveries is the SQLite webhook.Deliveries.
type WebhookDeliveries struct{ db *DB }

var (
	_ webhook.Endpoints  = (*WebhookEndpoints)(nil)
	_ webhook.Deliveries = (*WebhookDeliveries)(nil)
)

// hookTime is t as the webhook tables keep it (keyTime: text order is
// time order).
func hookTime(t time.Time) string { return t.UTC().Format(keyTime) }

// nullHookTime is t for a nullable column: NULL when zero.
func nullHookTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: hookTime(t), Valid: true}
}

// hookTimeField is a time column as scanned and where it goes.
type hookTimeField struct {
	text sql.NullString // NULL: the zero time
	dst  *time.Time
}

// hookText and hookNullable make hookTimeFields of a NOT NULL and a nullable column.
func hookText(s string, dst *time.Time) hookTimeField {
	return hookTimeField{sql.NullString{String: s, Valid: true}, dst}
}
func hookNullable(s sql.NullString, dst *time.Time) hookTimeField { return hookTimeField{s, dst} }

// parseHookTimes parses each field's text into its destination.
func parseHookTimes(fields ...hookTimeField) error {
	for _, f := range fields {
		if !f.text.Valid {
			*f.dst = time.Time{}
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.text.String)
		if err != nil {
			return fmt.Errorf("webhook time %q: %w", f.text.String, err)
		}
		*f.dst = t.UTC()
	}
	return nil
}

const hookEndpointColumns = `id, url, description, event_types, secret, previous_secret, previous_until,
	enabled, failing_since, created_at, updated_at`

func scanHookEndpoint(row interface{ Scan(...any) error }) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var types, created, updated string
	var prevUntil, failing sql.NullString
	err := row.Scan(&e.ID, &e.URL, &e.Description, &types, &e.Secret, &e.PreviousSecret, &prevUntil,
		&e.Enabled, &failing, &created, &updated)
	if err != nil {
		return webhook.Endpoint{}, err
	}
	e.Types = strings.Fields(types)
	err = parseHookTimes(hookNullable(prevUntil, &e.PreviousUntil), hookNullable(failing, &e.FailingSince),
		hookText(created, &e.CreatedAt), hookText(updated, &e.UpdatedAt))
	return e, err
}

// translateHook maps no row to notFound and wraps the rest.
func translateHook(err error, notFound error, op string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	return translate(err, op)
}

// CreateEndpoint stores e.
func (s *WebhookEndpoints) CreateEndpoint(ctx context.Context, e webhook.Endpoint) error {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	const q = `INSERT INTO webhook_endpoints (` + hookEndpointColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := s.c.exec(ctx, q, e.ID.String(), e.URL, e.Description, strings.Join(e.Types, " "), e.Secret,
		e.PreviousSecret, nullHookTime(e.PreviousUntil), e.Enabled, nullHookTime(e.FailingSince),
		hookTime(e.CreatedAt), hookTime(e.UpdatedAt))
	return translateHook(err, webhook.ErrEndpointNotFound, "create webhook endpoint")
}

// Endpoint returns the endpoint id.
func (s *WebhookEndpoints) Endpoint(ctx context.Context, id uuid.UUID) (webhook.Endpoint, error) {
	const q = `SELECT ` + hookEndpointColumns + ` FROM webhook_endpoints WHERE id = ?`
	e, err := scanHookEndpoint(s.c.readRow(ctx, q, id.String()))
	if err != nil {
		return webhook.Endpoint{}, translateHook(err, webhook.ErrEndpointNotFound, "read webhook endpoint")
	}
	return e, nil
}

// ListEndpoints returns every endpoint, oldest first.
func (s *WebhookEndpoints) ListEndpoints(ctx context.Context) ([]webhook.Endpoint, error) {
	const q = `SELECT ` + hookEndpointColumns + ` FROM webhook_endpoints ORDER BY created_at, id`
	rows, err := s.c.readRows(ctx, q)
	if err != nil {
		return nil, translate(err, "list webhook endpoints")
	}
	defer rows.Close()
	var out []webhook.Endpoint
	for rows.Next() {
		e, err := scanHookEndpoint(rows)
		if err != nil {
			return nil, translate(err, "list webhook endpoints")
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list webhook endpoints")
	}
	return out, nil
}

// SaveEndpoint replaces the endpoint e.ID by e, all but its creation
// time, while its updated_at is still was.
func (s *WebhookEndpoints) SaveEndpoint(ctx context.Context, e webhook.Endpoint, was time.Time) error {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	const q = `
		UPDATE webhook_endpoints SET url = ?, description = ?, event_types = ?, secret = ?,
			previous_secret = ?, previous_until = ?, enabled = ?, failing_since = ?, updated_at = ?
		WHERE id = ? AND updated_at = ?`
	res, err := s.c.exec(ctx, q, e.URL, e.Description, strings.Join(e.Types, " "), e.Secret,
		e.PreviousSecret, nullHookTime(e.PreviousUntil), e.Enabled, nullHookTime(e.FailingSince),
		hookTime(e.UpdatedAt), e.ID.String(), hookTime(was))
	err = oneRow(res, err, webhook.ErrEndpointChanged, "save webhook endpoint")
	if errors.Is(err, webhook.ErrEndpointChanged) {
		if _, gone := s.Endpoint(ctx, e.ID); errors.Is(gone, webhook.ErrEndpointNotFound) {
			return gone
		}
	}
	return err
}

// oneRow is nil when res changed a row, notFound when it changed none.
func oneRow(res sql.Result, err error, notFound error, op string) error {
	if err != nil {
		return translate(err, op)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err, op)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// DeleteEndpoint removes the endpoint id; its deliveries and their
// attempts go with it (ON DELETE CASCADE, foreign keys being on).
func (s *WebhookEndpoints) DeleteEndpoint(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	res, err := s.c.exec(ctx, `DELETE FROM webhook_endpoints WHERE id = ?`, id.String())
	return oneRow(res, err, webhook.ErrEndpointNotFound, "delete webhook endpoint")
}

// SetFailing records the first failure since the last success (since),
// or a success (zero since), in one statement.
func (s *WebhookEndpoints) SetFailing(ctx context.Context, id uuid.UUID, since time.Time) (webhook.Endpoint, error) {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	const q = `
		UPDATE webhook_endpoints
		SET failing_since = CASE WHEN ?1 IS NULL THEN NULL ELSE COALESCE(failing_since, ?1) END
		WHERE id = ?2
		RETURNING ` + hookEndpointColumns
	e, err := scanHookEndpoint(s.c.writeRow(ctx, q, nullHookTime(since), id.String()))
	if err != nil {
		return webhook.Endpoint{}, translateHook(err, webhook.ErrEndpointNotFound, "mark webhook endpoint")
	}
	return e, nil
}

// Disable turns the endpoint off in one conditional statement, so that an
// administrator's change committed since the endpoint was read is kept.
func (s *WebhookEndpoints) Disable(ctx context.Context, id uuid.UUID, failingSince, at time.Time) (bool, error) {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	const q = `UPDATE webhook_endpoints SET enabled = 0, updated_at = ?3
		WHERE id = ?1 AND enabled AND failing_since = ?2`
	res, err := s.c.exec(ctx, q, id.String(), hookTime(failingSince), hookTime(at))
	if err != nil {
		return false, translate(err, "disable webhook endpoint")
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClearFailing forgets the endpoint's failures. Read first, on a reading
// connection: the usual case (no failures) then takes no write lock.
func (s *WebhookEndpoints) ClearFailing(ctx context.Context, id uuid.UUID) error {
	var failing sql.NullString
	err := s.c.readRow(ctx, `SELECT failing_since FROM webhook_endpoints WHERE id = ?`, id.String()).Scan(&failing)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !failing.Valid) {
		return nil
	}
	if err != nil {
		return translate(err, "clear webhook endpoint failures")
	}
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	const q = `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL`
	if _, err := s.c.exec(ctx, q, id.String()); err != nil {
		return translate(err, "clear webhook endpoint failures")
	}
	return nil
}

const hookDeliveryColumns = `id, endpoint_id, event_id, event_type, subject, seq, payload, state, attempts,
	next_attempt_at, held, created_at, updated_at`

func scanHookDelivery(row interface{ Scan(...any) error }) (webhook.Delivery, error) {
	var d webhook.Delivery
	var next, subject sql.NullString
	var created, updated string
	err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &subject, &d.Seq, &d.Payload, &d.State, &d.Attempts,
		&next, &d.Held, &created, &updated)
	if err != nil {
		return webhook.Delivery{}, err
	}
	if subject.Valid {
		if d.Subject, err = uuid.Parse(subject.String); err != nil {
			return webhook.Delivery{}, fmt.Errorf("webhook delivery %s: subject: %w", d.ID, err)
		}
	}
	err = parseHookTimes(hookNullable(next, &d.NextAt), hookText(created, &d.CreatedAt), hookText(updated, &d.UpdatedAt))
	return d, err
}

// CreateDeliveries stores ds in one transaction, skipping an event an
// endpoint already has a delivery of.
func (s *WebhookDeliveries) CreateDeliveries(ctx context.Context, ds []webhook.Delivery) ([]webhook.Delivery, error) {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `
		INSERT INTO webhook_deliveries (` + hookDeliveryColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (endpoint_id, event_id) DO NOTHING`
	var stored []webhook.Delivery
	err := conn{db: s.db}.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			res, err := tx.ExecContext(ctx, q, d.ID.String(), d.EndpointID.String(), d.EventID, d.EventType,
				nullSubject(d.Subject), d.Seq, d.Payload, d.State, d.Attempts, nullHookTime(d.NextAt), d.Held,
				hookTime(d.CreatedAt), hookTime(d.UpdatedAt))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				stored = append(stored, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, "create webhook deliveries")
	}
	return stored, nil
}

// Delivery returns the delivery id.
func (s *WebhookDeliveries) Delivery(ctx context.Context, id uuid.UUID) (webhook.Delivery, error) {
	const q = `SELECT ` + hookDeliveryColumns + ` FROM webhook_deliveries WHERE id = ?`
	d, err := scanHookDelivery(s.db.read.QueryRowContext(ctx, q, id.String()))
	if err != nil {
		return webhook.Delivery{}, translateHook(err, webhook.ErrDeliveryNotFound, "read webhook delivery")
	}
	return d, nil
}

// ListDeliveries returns endpoint's newest deliveries.
func (s *WebhookDeliveries) ListDeliveries(ctx context.Context, endpoint uuid.UUID, limit int) ([]webhook.Delivery, error) {
	const q = `SELECT ` + hookDeliveryColumns + ` FROM webhook_deliveries
		WHERE endpoint_id = ? ORDER BY id DESC LIMIT ?`
	rows, err := s.db.read.QueryContext(ctx, q, endpoint.String(), limit)
	return collectHookDeliveries(rows, err, "list webhook deliveries")
}

func collectHookDeliveries(rows *sql.Rows, err error, op string) ([]webhook.Delivery, error) {
	if err != nil {
		return nil, translate(err, op)
	}
	defer rows.Close()
	var out []webhook.Delivery
	for rows.Next() {
		d, err := scanHookDelivery(rows)
		if err != nil {
			return nil, translate(err, op)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, op)
	}
	return out, nil
}

// Attempts returns the attempts of delivery id, first first.
func (s *WebhookDeliveries) Attempts(ctx context.Context, id uuid.UUID) ([]webhook.Attempt, error) {
	if _, err := s.Delivery(ctx, id); err != nil {
		return nil, err
	}
	const q = `SELECT delivery_id, n, at, status_code, error, duration_us FROM webhook_attempts
		WHERE delivery_id = ? ORDER BY n`
	rows, err := s.db.read.QueryContext(ctx, q, id.String())
	if err != nil {
		return nil, translate(err, "list webhook attempts")
	}
	defer rows.Close()
	var out []webhook.Attempt
	for rows.Next() {
		var a webhook.Attempt
		var at string
		var us int64
		if err := rows.Scan(&a.DeliveryID, &a.N, &at, &a.Status, &a.Error, &us); err != nil {
			return nil, translate(err, "list webhook attempts")
		}
		if err := parseHookTimes(hookText(at, &a.At)); err != nil {
			return nil, err
		}
		a.Duration = time.Duration(us) * time.Microsecond
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list webhook attempts")
	}
	return out, nil
}

// SaveDelivery updates the delivery, if it is as f says (no State: whatever
// it is), and inserts a, in one transaction. No row changed is
// ErrDeliveryNotFound, or ErrClaimLost when the delivery is there.
func (s *WebhookDeliveries) SaveDelivery(ctx context.Context, d webhook.Delivery, f webhook.Fence, a *webhook.Attempt) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	next, held := d.NextAt, d.Held
	if d.State != webhook.Pending {
		next, held = time.Time{}, false
	}
	const update = `UPDATE webhook_deliveries SET state = ?1, attempts = ?2, next_attempt_at = ?3, held = ?4,
		updated_at = ?5 WHERE id = ?6 AND (?7 IS NULL OR (state = ?7 AND next_attempt_at IS ?8))`
	const insert = `INSERT INTO webhook_attempts (delivery_id, n, at, status_code, error, duration_us)
		VALUES (?, ?, ?, ?, ?, ?)`
	err := conn{db: s.db}.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, update, d.State, d.Attempts, nullHookTime(next), held, hookTime(d.UpdatedAt),
			d.ID.String(), sql.NullString{String: f.State, Valid: f.State != ""}, nullHookTime(f.NextAt))
		if err := oneRow(res, err, webhook.ErrDeliveryNotFound, "save webhook delivery"); err != nil {
			return fenceLost(ctx, tx, d.ID, err)
		}
		if a == nil {
			return nil
		}
		_, err = tx.ExecContext(ctx, insert, a.DeliveryID.String(), a.N, hookTime(a.At), a.Status, a.Error, a.Duration.Microseconds())
		return err
	})
	if err == nil || errors.Is(err, webhook.ErrDeliveryNotFound) || errors.Is(err, webhook.ErrClaimLost) {
		return err
	}
	return translate(err, "save webhook delivery")
}

// fenceLost turns err, a save that changed no row, into ErrClaimLost when
// the delivery id is stored (so its fence did not match).
func fenceLost(ctx context.Context, tx *sql.Tx, id uuid.UUID, err error) error {
	if !errors.Is(err, webhook.ErrDeliveryNotFound) {
		return err
	}
	var one int
	switch e := tx.QueryRowContext(ctx, `SELECT 1 FROM webhook_deliveries WHERE id = ?`, id.String()).Scan(&one); {
	case errors.Is(e, sql.ErrNoRows):
		return err
	case e != nil:
		return e
	}
	return webhook.ErrClaimLost
}

// nullSubject is id for a nullable column: NULL when uuid.Nil.
func nullSubject(id uuid.UUID) sql.NullString {
	return sql.NullString{String: id.String(), Valid: id != uuid.Nil}
}

// PendingBefore returns the latest next attempt of subject's pending
// deliveries to endpoint before seq.
func (s *WebhookDeliveries) PendingBefore(ctx context.Context, endpoint, subject uuid.UUID, seq int64) (time.Time, error) {
	const q = `SELECT max(next_attempt_at) FROM webhook_deliveries
		WHERE endpoint_id = ? AND subject = ? AND seq < ? AND state = 'pending'`
	var latest sql.NullString
	if err := s.db.read.QueryRowContext(ctx, q, endpoint.String(), subject.String(), seq).Scan(&latest); err != nil {
		return time.Time{}, translate(err, "read earlier webhook deliveries")
	}
	var t time.Time
	return t, parseHookTimes(hookNullable(latest, &t))
}

// Wake makes subject's held deliveries to endpoint after seq due now.
// It looks on a reading connection first: usually none is held, and then
// it takes no write lock.
func (s *WebhookDeliveries) Wake(ctx context.Context, endpoint, subject uuid.UUID, seq int64, now time.Time) error {
	const countHeld = `SELECT count(*) FROM webhook_deliveries
		WHERE endpoint_id = ? AND subject = ? AND seq > ? AND state = 'pending' AND held = 1`
	var held int
	if err := s.db.read.QueryRowContext(ctx, countHeld, endpoint.String(), subject.String(), seq).Scan(&held); err != nil {
		return translate(err, "wake webhook deliveries")
	}
	if held == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `UPDATE webhook_deliveries SET next_attempt_at = min(next_attempt_at, ?4), held = 0
		WHERE endpoint_id = ?1 AND subject = ?2 AND seq > ?3 AND state = 'pending' AND held = 1`
	if _, err := s.db.write.ExecContext(ctx, q, endpoint.String(), subject.String(), seq, hookTime(now)); err != nil {
		return translate(err, "wake webhook deliveries")
	}
	return nil
}

// ClaimDue claims due deliveries in one transaction: SQLite has one
// writer at a time, so two claimers never take the same row.
func (s *WebhookDeliveries) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limits webhook.ClaimLimits) ([]webhook.Delivery, error) {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	except := []uuid.UUID{}
	if limits.Except != nil {
		except = limits.Except
	}
	exceptJSON, err := json.Marshal(except)
	if err != nil {
		return nil, err
	}
	var out []webhook.Delivery
	err = conn{db: s.db}.inTx(ctx, func(tx *sql.Tx) error {
		const pick = `SELECT ` + hookDeliveryColumns + ` FROM webhook_deliveries
			WHERE state = 'pending' AND next_attempt_at <= ?
				AND endpoint_id NOT IN (SELECT value FROM json_each(?))
			ORDER BY next_attempt_at, id LIMIT ?`
		rows, err := tx.QueryContext(ctx, pick, hookTime(now), string(exceptJSON), limits.Max)
		ds, err := collectHookDeliveries(rows, err, "claim due webhook deliveries")
		if err != nil {
			return err
		}
		until := now.Add(lease)
		for _, d := range ds {
			const claim = `UPDATE webhook_deliveries SET next_attempt_at = ?, held = 0, updated_at = ? WHERE id = ?`
			if _, err := tx.ExecContext(ctx, claim, hookTime(until), hookTime(now), d.ID.String()); err != nil {
				return err
			}
			d.NextAt, d.Held, d.UpdatedAt = until.UTC(), false, now.UTC()
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, "claim due webhook deliveries")
	}
	return out, nil
}

// PurgeFinished implements webhook.Deliveries: it picks up to limit
// finished deliveries from the partial index of migration 00018, then
// deletes their attempts and them, in one transaction.
func (s *WebhookDeliveries) PurgeFinished(ctx context.Context, before time.Time, limit int) (deliveries, attempts int64, err error) {
	c := conn{db: s.db}
	ctx, cancel := c.wait(ctx)
	defer cancel()
	const (
		pick = `
			SELECT json_group_array(id) FROM (
				SELECT id FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < ?1 LIMIT ?2)`
		dropAttempts   = `DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT value FROM json_each(?))`
		dropDeliveries = `DELETE FROM webhook_deliveries WHERE id IN (SELECT value FROM json_each(?))`
	)
	err = c.inTx(ctx, func(tx *sql.Tx) error {
		var ids string
		if err := tx.QueryRowContext(ctx, pick, hookTime(before), limit).Scan(&ids); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, dropAttempts, ids)
		if err != nil {
			return err
		}
		if attempts, err = res.RowsAffected(); err != nil {
			return err
		}
		if res, err = tx.ExecContext(ctx, dropDeliveries, ids); err != nil {
			return err
		}
		deliveries, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, 0, translate(err, "purge webhook deliveries")
	}
	return deliveries, attempts, nil
}

// CountFinished implements webhook.Deliveries.
func (s *WebhookDeliveries) CountFinished(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	const q = `SELECT count(*) FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < ?`
	if err := (conn{db: s.db}).readRow(ctx, q, hookTime(before)).Scan(&n); err != nil {
		return 0, translate(err, "count finished webhook deliveries")
	}
	return n, nil
}

// webhookTx is the webhook.Transactor: the endpoints and the audit log on
// one transaction, Transactor.Atomic's, so that an administrator's change
// and its audit event are committed together or not at all.
type webhookTx struct{ c conn }

var _ webhook.Transactor = (*webhookTx)(nil)

// Atomic implements webhook.Transactor.
func (t *webhookTx) Atomic(ctx context.Context, fn func(webhook.Endpoints, user.AuditLog) error) error {
	return (&Transactor{t.c}).atomic(ctx, func(c conn) error { return fn(&WebhookEndpoints{c}, &Audit{c}) })
}
