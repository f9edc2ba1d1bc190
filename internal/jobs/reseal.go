package jobs

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usersvc/usersvc/internal/signing"
)

// The queued mail whose token is sealed, for `usersvc keys reseal`: jobs
// of kind mail not finished yet (list: id, kind, user id and sealed token
// in base64, as MailArgs is written in JSON), and the replacement of one
// job's sealed token if it is still the one read.
const (
	queuedMailPostgres = `
		SELECT id, args->>'kind', args->>'user_id', args->>'sealed_token' FROM river_job
		WHERE kind = 'mail' AND state NOT IN ('completed', 'cancelled', 'discarded')
		  AND args->>'sealed_token' IS NOT NULL AND id > $1
		ORDER BY id LIMIT $2`
	resealMailPostgres = `
		UPDATE river_job SET args = jsonb_set(args, '{sealed_token}', to_jsonb($3::text))
		WHERE id = $1 AND args->>'sealed_token' = $2`
	queuedMailSQLite = `
		SELECT id, json_extract(args, '$.kind'), json_extract(args, '$.user_id'), json_extract(args, '$.sealed_token')
		FROM river_job
		WHERE kind = 'mail' AND state NOT IN ('completed', 'cancelled', 'discarded')
		  AND json_extract(args, '$.sealed_token') IS NOT NULL AND id > ?1
		ORDER BY id LIMIT ?2`
	resealMailSQLite = `
		UPDATE river_job SET args = jsonb_set(args, '$.sealed_token', ?3)
		WHERE id = ?1 AND json_extract(args, '$.sealed_token') = ?2`
)

// MailTokensPostgres is the sealed tokens of queued mail in PostgreSQL's
// job table.
func MailTokensPostgres(pool *pgxpool.Pool) signing.SealedColumn {
	return &mailTokens{
		query: func(ctx context.Context, after int64, limit int) (mailTokenRows, error) {
			rows, err := pool.Query(ctx, queuedMailPostgres, after, limit)
			return pgxRows{rows}, err
		},
		exec: func(ctx context.Context, id int64, old, next string) (int64, error) {
			tag, err := pool.Exec(ctx, resealMailPostgres, id, old, next)
			return tag.RowsAffected(), err
		},
	}
}

// MailTokensSQLite is the sealed tokens of queued mail in SQLite's job
// table, on the writing connection.
func MailTokensSQLite(writer *sql.DB) signing.SealedColumn {
	return &mailTokens{
		query: func(ctx context.Context, after int64, limit int) (mailTokenRows, error) {
			return writer.QueryContext(ctx, queuedMailSQLite, after, limit) //nolint:rowserrcheck // read checks rows.Err
		},
		exec: func(ctx context.Context, id int64, old, next string) (int64, error) {
			res, err := writer.ExecContext(ctx, resealMailSQLite, id, old, next)
			if err != nil {
				return 0, err
			}
			return res.RowsAffected()
		},
	}
}

// mailTokenRows are pgx's or database/sql's rows.
type mailTokenRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

type pgxRows struct{ pgx.Rows }

func (r pgxRows) Close() error { r.Rows.Close(); return nil }

// mailTokens is a signing.SealedColumn over the job table of either
// database.
type mailTokens struct {
	query func(ctx context.Context, after int64, limit int) (mailTokenRows, error)
	exec  func(ctx context.Context, id int64, old, next string) (int64, error)
}

// SealedAfter reads up to limit queued mail after the job id after.
func (m *mailTokens) SealedAfter(ctx context.Context, after string, limit int) ([]signing.SealedRow, error) {
	var from int64
	if after != "" {
		var err error
		if from, err = strconv.ParseInt(after, 10, 64); err != nil {
			return nil, fmt.Errorf("queued mail after %q: %w", after, err)
		}
	}
	rows, err := m.query(ctx, from, limit)
	if err != nil {
		return nil, fmt.Errorf("read queued mail: %w", err)
	}
	defer func() { _ = rows.Close() }()
	return readMailTokens(rows)
}

// readMailTokens reads rows of (id, kind, user id, base64 sealed token).
func readMailTokens(rows mailTokenRows) ([]signing.SealedRow, error) {
	var out []signing.SealedRow
	for rows.Next() {
		var id int64
		var kind, user, token string
		if err := rows.Scan(&id, &kind, &user, &token); err != nil {
			return nil, fmt.Errorf("read queued mail: %w", err)
		}
		sealed, err := base64.StdEncoding.DecodeString(token)
		if err != nil {
			return nil, fmt.Errorf("queued mail %d: sealed token: %w", id, err)
		}
		uid, _ := uuid.Parse(user) // not a UUID: the token opens with nothing
		a := MailArgs{MailKind: kind, UserID: uid}
		out = append(out, signing.SealedRow{Key: strconv.FormatInt(id, 10), AD: signing.PurposeData(a.purpose()), Sealed: sealed})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read queued mail: %w", err)
	}
	return out, nil
}

// Reseal replaces the job's sealed token with next if it is still row's.
func (m *mailTokens) Reseal(ctx context.Context, row signing.SealedRow, next []byte) (bool, error) {
	id, err := strconv.ParseInt(row.Key, 10, 64)
	if err != nil {
		return false, fmt.Errorf("queued mail %q: %w", row.Key, err)
	}
	enc := base64.StdEncoding
	n, err := m.exec(ctx, id, enc.EncodeToString(row.Sealed), enc.EncodeToString(next))
	if err != nil {
		return false, fmt.Errorf("reseal queued mail %d: %w", id, err)
	}
	return n == 1, nil
}
