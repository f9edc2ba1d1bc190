package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/webhook"
)

// Webhooks returns the stores of webhook endpoints and deliveries
// (migrations/00013_webhooks.sql).
func (s *DB) Webhooks() webhook.Stores {
	c := conn{db: s, q: s.pool}
	return webhook.Stores{Endpoints: &WebhookEndpoints{c}, Deliveries: &WebhookDeliveries{s}, Tx: &webhookTx{c}}
}

// WebhookEndpoints is the PostgreSQL webhook.Endpoints, on the pool or,
// inside webhookTx.Atomic, on its transaction.
type WebhookEndpoints struct{ c conn }

// WebhookDeliveries is the PostgreSQL webhook.Deliveries.
type WebhookDeliveries struct{ db *DB }

var (
	_ webhook.Endpoints  = (*WebhookEndpoints)(nil)
	_ webhook.Deliveries = (*WebhookDeliveries)(nil)
)

// fromNull is a nullable column's time, zero for NULL, in UTC.
func fromNull(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

const endpointColumns = `id, url, description, event_types, secret, previous_secret, previous_until,
	enabled, failing_since, created_at, updated_at`

func scanEndpoint(row pgx.Row) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var types string
	var prevUntil, failing pgtype.Timestamptz
	err := row.Scan(&e.ID, &e.URL, &e.Description, &types, &e.Secret, &e.PreviousSecret, &prevUntil,
		&e.Enabled, &failing, &e.CreatedAt, &e.UpdatedAt)
	if err != nil {
		return webhook.Endpoint{}, err
	}
	e.Types = strings.Fields(types)
	e.PreviousUntil, e.FailingSince = fromNull(prevUntil), fromNull(failing)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return e, nil
}

// translateWebhook maps no row to notFound and wraps the rest.
func translateWebhook(err error, notFound error, op string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound
	}
	return translate(err, op)
}

// CreateEndpoint stores e.
func (s *WebhookEndpoints) CreateEndpoint(ctx context.Context, e webhook.Endpoint) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `INSERT INTO webhook_endpoints (` + endpointColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	_, err := s.c.q.Exec(ctx, q, e.ID, e.URL, e.Description, strings.Join(e.Types, " "), e.Secret,
		e.PreviousSecret, nullTime(e.PreviousUntil), e.Enabled, nullTime(e.FailingSince), e.CreatedAt, e.UpdatedAt)
	return translateWebhook(err, webhook.ErrEndpointNotFound, "create webhook endpoint")
}

// Endpoint returns the endpoint id.
func (s *WebhookEndpoints) Endpoint(ctx context.Context, id uuid.UUID) (webhook.Endpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + endpointColumns + ` FROM webhook_endpoints WHERE id = $1`
	e, err := scanEndpoint(s.c.q.QueryRow(ctx, q, id))
	if err != nil {
		return webhook.Endpoint{}, translateWebhook(err, webhook.ErrEndpointNotFound, "read webhook endpoint")
	}
	return e, nil
}

// ListEndpoints returns every endpoint, oldest first.
func (s *WebhookEndpoints) ListEndpoints(ctx context.Context) ([]webhook.Endpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + endpointColumns + ` FROM webhook_endpoints ORDER BY created_at, id`
	rows, err := s.c.q.Query(ctx, q)
	if err != nil {
		return nil, translate(err, "list webhook endpoints")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhook.Endpoint, error) { return scanEndpoint(r) })
	if err != nil {
		return nil, translate(err, "list webhook endpoints")
	}
	return out, nil
}

// SaveEndpoint replaces the endpoint e.ID by e, all but its creation
// time, while its updated_at is still was.
func (s *WebhookEndpoints) SaveEndpoint(ctx context.Context, e webhook.Endpoint, was time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, secret = $5,
			previous_secret = $6, previous_until = $7, enabled = $8, failing_since = $9, updated_at = $10
		WHERE id = $1 AND updated_at = $11`
	tag, err := s.c.q.Exec(ctx, q, e.ID, e.URL, e.Description, strings.Join(e.Types, " "), e.Secret,
		e.PreviousSecret, nullTime(e.PreviousUntil), e.Enabled, nullTime(e.FailingSince), e.UpdatedAt, was)
	if err != nil {
		return translate(err, "save webhook endpoint")
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.Endpoint(ctx, e.ID); err != nil {
			return err // ErrEndpointNotFound: deleted
		}
		return webhook.ErrEndpointChanged
	}
	return nil
}

// DeleteEndpoint removes the endpoint id; its deliveries and their
// attempts go with it (ON DELETE CASCADE).
func (s *WebhookEndpoints) DeleteEndpoint(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	tag, err := s.c.q.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id)
	if err != nil {
		return translate(err, "delete webhook endpoint")
	}
	if tag.RowsAffected() == 0 {
		return webhook.ErrEndpointNotFound
	}
	return nil
}

// SetFailing records the first failure since the last success (since),
// or a success (zero since), in one statement.
func (s *WebhookEndpoints) SetFailing(ctx context.Context, id uuid.UUID, since time.Time) (webhook.Endpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		UPDATE webhook_endpoints
		SET failing_since = CASE WHEN $2::timestamptz IS NULL THEN NULL ELSE COALESCE(failing_since, $2) END
		WHERE id = $1
		RETURNING ` + endpointColumns
	e, err := scanEndpoint(s.c.q.QueryRow(ctx, q, id, nullTime(since)))
	if err != nil {
		return webhook.Endpoint{}, translateWebhook(err, webhook.ErrEndpointNotFound, "mark webhook endpoint")
	}
	return e, nil
}

// Disable turns the endpoint off in one conditional statement, so that an
// administrator's change committed since the endpoint was read is kept.
func (s *WebhookEndpoints) Disable(ctx context.Context, id uuid.UUID, failingSince, at time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE webhook_endpoints SET enabled = FALSE, updated_at = $3
		WHERE id = $1 AND enabled AND failing_since = $2`
	tag, err := s.c.q.Exec(ctx, q, id, failingSince, at)
	if err != nil {
		return false, translate(err, "disable webhook endpoint")
	}
	return tag.RowsAffected() == 1, nil
}

// ClearFailing forgets the endpoint's failures; a no-op when there are
// none (the WHERE leaves the row unwritten).
func (s *WebhookEndpoints) ClearFailing(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`
	if _, err := s.c.q.Exec(ctx, q, id); err != nil {
		return translate(err, "clear webhook endpoint failures")
	}
	return nil
}

const deliveryColumns = `id, endpoint_id, event_id, event_type, subject, seq, payload, state, attempts,
	next_attempt_at, held, created_at, updated_at`

func scanDelivery(row pgx.Row) (webhook.Delivery, error) {
	var d webhook.Delivery
	var next pgtype.Timestamptz
	var subject pgtype.UUID
	err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &subject, &d.Seq, &d.Payload, &d.State, &d.Attempts,
		&next, &d.Held, &d.CreatedAt, &d.UpdatedAt)
	if subject.Valid {
		d.Subject = subject.Bytes
	}
	d.NextAt, d.CreatedAt, d.UpdatedAt = fromNull(next), d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d, err
}

// CreateDeliveries stores ds in one transaction, skipping an event an
// endpoint already has a delivery of.
func (s *WebhookDeliveries) CreateDeliveries(ctx context.Context, ds []webhook.Delivery) ([]webhook.Delivery, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		INSERT INTO webhook_deliveries (` + deliveryColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (endpoint_id, event_id) DO NOTHING`
	var stored []webhook.Delivery
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		for _, d := range ds {
			tag, err := tx.Exec(ctx, q, d.ID, d.EndpointID, d.EventID, d.EventType, nullUUID(d.Subject), d.Seq, d.Payload,
				d.State, d.Attempts, nullTime(d.NextAt), d.Held, d.CreatedAt, d.UpdatedAt)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
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
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE id = $1`
	d, err := scanDelivery(s.db.pool.QueryRow(ctx, q, id))
	if err != nil {
		return webhook.Delivery{}, translateWebhook(err, webhook.ErrDeliveryNotFound, "read webhook delivery")
	}
	return d, nil
}

// ListDeliveries returns endpoint's newest deliveries.
func (s *WebhookDeliveries) ListDeliveries(ctx context.Context, endpoint uuid.UUID, limit int) ([]webhook.Delivery, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries
		WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2`
	return s.collect(ctx, "list webhook deliveries", q, endpoint, limit)
}

func (s *WebhookDeliveries) collect(ctx context.Context, op, q string, args ...any) ([]webhook.Delivery, error) {
	rows, err := s.db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate(err, op)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhook.Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, translate(err, op)
	}
	return out, nil
}

// Attempts returns the attempts of delivery id, first first.
func (s *WebhookDeliveries) Attempts(ctx context.Context, id uuid.UUID) ([]webhook.Attempt, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	if _, err := s.Delivery(ctx, id); err != nil {
		return nil, err
	}
	const q = `SELECT delivery_id, n, at, status_code, error, duration_us FROM webhook_attempts
		WHERE delivery_id = $1 ORDER BY n`
	rows, err := s.db.pool.Query(ctx, q, id)
	if err != nil {
		return nil, translate(err, "list webhook attempts")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhook.Attempt, error) {
		var a webhook.Attempt
		var us int64
		err := r.Scan(&a.DeliveryID, &a.N, &a.At, &a.Status, &a.Error, &us)
		a.At, a.Duration = a.At.UTC(), time.Duration(us)*time.Microsecond
		return a, err
	})
	if err != nil {
		return nil, translate(err, "list webhook attempts")
	}
	return out, nil
}

// SaveDelivery updates the delivery, if it is as f says (no State: whatever
// it is), and inserts a, in one transaction. No row changed is
// ErrDeliveryNotFound, or ErrClaimLost when the delivery is there.
func (s *WebhookDeliveries) SaveDelivery(ctx context.Context, d webhook.Delivery, f webhook.Fence, a *webhook.Attempt) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	next, held := d.NextAt, d.Held
	if d.State != webhook.Pending {
		next, held = time.Time{}, false
	}
	const update = `UPDATE webhook_deliveries SET state = $2, attempts = $3, next_attempt_at = $4, held = $5,
		updated_at = $6 WHERE id = $1
		AND ($7::text IS NULL OR (state = $7 AND next_attempt_at IS NOT DISTINCT FROM $8::timestamptz))`
	const insert = `INSERT INTO webhook_attempts (delivery_id, n, at, status_code, error, duration_us)
		VALUES ($1, $2, $3, $4, $5, $6)`
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, update, d.ID, d.State, d.Attempts, nullTime(next), held, d.UpdatedAt,
			pgtype.Text{String: f.State, Valid: f.State != ""}, nullTime(f.NextAt))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fenceLost(ctx, tx, d.ID)
		}
		if a == nil {
			return nil
		}
		_, err = tx.Exec(ctx, insert, a.DeliveryID, a.N, a.At, a.Status, a.Error, a.Duration.Microseconds())
		return err
	})
	if errors.Is(err, webhook.ErrDeliveryNotFound) || errors.Is(err, webhook.ErrClaimLost) {
		return err
	}
	if err != nil {
		return translate(err, "save webhook delivery")
	}
	return nil
}

// fenceLost is why a save changed no row: ErrClaimLost when the delivery
// id is stored (its fence did not match), else ErrDeliveryNotFound.
func fenceLost(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	var there bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1)`, id).Scan(&there); err != nil {
		return err
	}
	if there {
		return webhook.ErrClaimLost
	}
	return webhook.ErrDeliveryNotFound
}

// nullUUID is id for a nullable column: NULL when uuid.Nil.
func nullUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: id != uuid.Nil} }

// PendingBefore returns the latest next attempt of subject's pending
// deliveries to endpoint before seq.
func (s *WebhookDeliveries) PendingBefore(ctx context.Context, endpoint, subject uuid.UUID, seq int64) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT max(next_attempt_at) FROM webhook_deliveries
		WHERE endpoint_id = $1 AND subject = $2 AND seq < $3 AND state = 'pending'`
	var latest pgtype.Timestamptz
	if err := s.db.pool.QueryRow(ctx, q, endpoint, subject, seq).Scan(&latest); err != nil {
		return time.Time{}, translate(err, "read earlier webhook deliveries")
	}
	return fromNull(latest), nil
}

// Wake makes subject's held deliveries to endpoint after seq due now.
func (s *WebhookDeliveries) Wake(ctx context.Context, endpoint, subject uuid.UUID, seq int64, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE webhook_deliveries SET next_attempt_at = LEAST(next_attempt_at, $4), held = FALSE
		WHERE endpoint_id = $1 AND subject = $2 AND seq > $3 AND state = 'pending' AND held`
	if _, err := s.db.pool.Exec(ctx, q, endpoint, subject, seq, now); err != nil {
		return translate(err, "wake webhook deliveries")
	}
	return nil
}

// ClaimDue claims due deliveries with FOR UPDATE SKIP LOCKED: replicas
// claiming at once each get other rows, none waits for another.
func (s *WebhookDeliveries) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limits webhook.ClaimLimits) ([]webhook.Delivery, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		WITH due AS (
			SELECT id, next_attempt_at AS was FROM webhook_deliveries
			WHERE state = 'pending' AND next_attempt_at <= $1 AND endpoint_id <> ALL($4::uuid[])
			ORDER BY next_attempt_at, id
			LIMIT $3
			FOR UPDATE SKIP LOCKED
		), claimed AS (
			UPDATE webhook_deliveries w SET next_attempt_at = $2, held = FALSE, updated_at = $1
			FROM due WHERE w.id = due.id
			RETURNING w.id, w.endpoint_id, w.event_id, w.event_type, w.subject, w.seq, w.payload, w.state,
				w.attempts, w.next_attempt_at, w.held, w.created_at, w.updated_at, due.was
		)
		SELECT ` + deliveryColumns + ` FROM claimed ORDER BY was, id`
	except := limits.Except
	if except == nil {
		except = []uuid.UUID{}
	}
	return s.collect(ctx, "claim due webhook deliveries", q, now, now.Add(lease), limits.Max, except)
}

// purgeFinishedQuery is PurgeFinished's statement: $1 the cutoff, $2 the
// batch's size.
const purgeFinishedQuery = `
		WITH doomed AS (
			SELECT id FROM webhook_deliveries
			WHERE state <> 'pending' AND updated_at < $1
			LIMIT $2
			FOR UPDATE SKIP LOCKED),
		tried AS (DELETE FROM webhook_attempts WHERE delivery_id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1),
		gone AS (DELETE FROM webhook_deliveries WHERE id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1)
		SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM tried)`

// PurgeFinished implements webhook.Deliveries in one statement, picking
// its rows FOR UPDATE SKIP LOCKED (never waiting for a delivery being
// attempted) from the partial index of migration 00018; the attempts go in
// the same statement (the cascade would remove them too, uncounted).
func (s *WebhookDeliveries) PurgeFinished(ctx context.Context, before time.Time, limit int) (deliveries, attempts int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, purgeWait)
	defer cancel()
	if err := s.db.pool.QueryRow(ctx, purgeFinishedQuery, before, limit).Scan(&deliveries, &attempts); err != nil {
		return 0, 0, translate(err, "purge webhook deliveries")
	}
	return deliveries, attempts, nil
}

// CountFinished implements webhook.Deliveries.
func (s *WebhookDeliveries) CountFinished(ctx context.Context, before time.Time) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	var n int64
	const q = `SELECT count(*) FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < $1`
	if err := s.db.pool.QueryRow(ctx, q, before).Scan(&n); err != nil {
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
