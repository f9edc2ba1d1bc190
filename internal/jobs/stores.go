package jobs

import (
	"context"
	"database/sql"

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
	return newQueue(riverpgxv5.New(pool), func(ctx context.Context, tx pgx.Tx, subject uuid.UUID) (int64, error) {
		var seq int64
		err := tx.QueryRow(ctx, nextSeqPostgres, subject).Scan(&seq)
		return seq, err
	}, c)
}

// NewSQLite returns the Queue on SQLite's writing connection
// (sqlite.DB.Writer: River's own writes take their turn with the
// stores'); its Outbox takes sqlite.DB.UseOutbox's transactions.
func NewSQLite(writer *sql.DB, c Config) (*Queue[*sql.Tx], error) {
	return newQueue(riversqlite.New(writer), func(ctx context.Context, tx *sql.Tx, subject uuid.UUID) (int64, error) {
		var seq int64
		err := tx.QueryRowContext(ctx, nextSeqSQLite, subject.String()).Scan(&seq)
		return seq, err
	}, c)
}
