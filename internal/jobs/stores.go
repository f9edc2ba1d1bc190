package jobs

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// nextSeq gives an account's next event sequence number (the table comes
// with migration 00010).
const (
	nextSeqPostgres = `
		INSERT INTO event_sequences (user_id, seq) VALUES ($1, 1)
		ON CONFLICT (user_id) DO UPDATE SET seq = event_sequences.seq + 1
		RETURNING seq`
	nextSeqSQLite = `
		INSERT INTO event_sequences (user_id, seq) VALUES (?, 1)
		ON CONFLICT (user_id) DO UPDATE SET seq = event_sequences.seq + 1
		RETURNING seq`
)

// NewPostgres returns the Queue on a PostgreSQL pool (postgres.DB.Pool);
// its Outbox takes postgres.DB.UseOutbox's transactions.
func NewPostgres(pool *pgxpool.Pool, c Config) (*Queue[pgx.Tx], error) {
	q, err := newQueue(riverpgxv5.New(pool), func(ctx context.Context, tx pgx.Tx, subject uuid.UUID) (int64, error) {
		var seq int64
		err := tx.QueryRow(ctx, nextSeqPostgres, subject).Scan(&seq)
		return seq, err
	}, c)
	if err != nil {
		return nil, err
	}
	q.backlog = func(ctx context.Context) ([]Backlog, error) {
		rows, err := pool.Query(ctx, statsPostgres)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return backlogs(rows)
	}
	return q, nil
}

// NewSQLite returns the Queue on SQLite's writing connection
// (sqlite.DB.Writer: River's own writes take their turn with the
// stores'); its Outbox takes sqlite.DB.UseOutbox's transactions.
func NewSQLite(writer *sql.DB, c Config) (*Queue[*sql.Tx], error) {
	q, err := newQueue(riversqlite.New(writer), func(ctx context.Context, tx *sql.Tx, subject uuid.UUID) (int64, error) {
		var seq int64
		err := tx.QueryRowContext(ctx, nextSeqSQLite, subject.String()).Scan(&seq)
		return seq, err
	}, c)
	if err != nil {
		return nil, err
	}
	q.backlog = func(ctx context.Context) ([]Backlog, error) {
		rows, err := writer.QueryContext(ctx, statsSQLite) //nolint:rowserrcheck // backlogs checks rows.Err
		if err != nil {
			return nil, err
		}
		defer func() { _ = rows.Close() }()
		return backlogs(rows)
	}
	return q, nil
}

// The backlog of each queue: jobs waiting to run and the age of the
// oldest, for metrics.
const (
	statsPostgres = `
		SELECT queue, count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
		FROM river_job WHERE state IN ('available', 'scheduled', 'retryable')
		GROUP BY queue`
	statsSQLite = `
		SELECT queue, count(*), COALESCE((julianday('now') - julianday(min(created_at))) * 86400.0, 0.0)
		FROM river_job WHERE state IN ('available', 'scheduled', 'retryable')
		GROUP BY queue`
)

// Backlog is one queue's waiting jobs.
type Backlog struct {
	Queue     string
	Depth     int
	OldestAge time.Duration
}

// backlogRows are rows of (queue, count, age in seconds): pgx's and
// database/sql's both are.
type backlogRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// backlogs fills in every queue (zero when nothing waits) from rows.
func backlogs(rows backlogRows) ([]Backlog, error) {
	byQueue := map[string]Backlog{}
	for _, q := range Queues {
		byQueue[q] = Backlog{Queue: q}
	}
	var err error
	for rows.Next() {
		var queue string
		var depth int
		var age float64
		if err = rows.Scan(&queue, &depth, &age); err != nil {
			break
		}
		byQueue[queue] = Backlog{Queue: queue, Depth: depth, OldestAge: time.Duration(age * float64(time.Second))}
	}
	if err == nil {
		err = rows.Err()
	}
	out := make([]Backlog, 0, len(byQueue))
	for _, q := range Queues {
		out = append(out, byQueue[q])
		delete(byQueue, q)
	}
	for _, b := range byQueue {
		out = append(out, b)
	}
	return out, err
}
