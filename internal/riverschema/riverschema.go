// Package riverschema brings the tables of the durable job queue (River,
// github.com/riverqueue/river) into each database as one of usersvc's own
// migrations (number Version), so that `usersvc migrate` and the
// migration on start apply them under the same lock as every other
// migration, and `migrate down` removes them.
//
// The migration runs River's own migrator, one River version per
// transaction as River does (a PostgreSQL enum value River adds must be
// committed before a later version uses it), up to SchemaVersion: never
// further, so that upgrading River never changes what this migration
// does. A River release with a newer schema needs a new migration of
// ours (TestSchemaVersionIsRiversLatest says so). River's versions are
// recorded in its river_migration table, so a migration interrupted
// half-way goes on where it stopped when run again.
//
// The tables are new: the release before this one never reads them, so
// it keeps working on this schema (docs/deploy.md).
package riverschema

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// Version is the number of the migration in both databases' sequences.
const Version = 10

// SchemaVersion is the River schema version (migration line main) the
// migration brings the database to.
const SchemaVersion = 8

// Postgres is the migration for PostgreSQL, run on goose's *sql.DB over
// pgx (stdlib).
func Postgres() *goose.Migration {
	migrator, err := rivermigrate.New(riverpgxv5.New(nil), &rivermigrate.Config{Logger: quiet()})
	return migration(func(ctx context.Context, db *sql.DB, dir rivermigrate.Direction) error {
		if err != nil {
			return err
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close() }()
		return conn.Raw(func(dc any) error {
			sc, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("river schema: a pgx connection is needed, not %T", dc)
			}
			return steps(dir, func(opts *rivermigrate.MigrateOpts) error {
				return pgx.BeginFunc(ctx, sc.Conn(), func(tx pgx.Tx) error {
					_, err := migrator.MigrateTx(ctx, tx, dir, opts)
					return err
				})
			})
		})
	})
}

// SQLite is the migration for SQLite (modernc.org/sqlite), in goose's
// transaction: SQLite has no enum values to commit first, and its
// migration connection is the only one (a second would wait for it).
func SQLite() *goose.Migration {
	migrator, err := rivermigrate.New(riversqlite.New(nil), &rivermigrate.Config{Logger: quiet()})
	run := func(dir rivermigrate.Direction, target int) *goose.GoFunc {
		return &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			if err != nil {
				return err
			}
			if _, err := migrator.MigrateTx(ctx, tx, dir, &rivermigrate.MigrateOpts{TargetVersion: target}); err != nil {
				return fmt.Errorf("river schema %s: %w", dir, err)
			}
			return nil
		}}
	}
	return goose.NewGoMigration(Version, run(rivermigrate.DirectionUp, SchemaVersion), run(rivermigrate.DirectionDown, -1))
}

// migration is the PostgreSQL goose migration Version running run up or
// down, outside goose's transaction (run makes one per River version).
func migration(run func(context.Context, *sql.DB, rivermigrate.Direction) error) *goose.Migration {
	wrap := func(dir rivermigrate.Direction) *goose.GoFunc {
		return &goose.GoFunc{RunDB: func(ctx context.Context, db *sql.DB) error {
			if err := run(ctx, db, dir); err != nil {
				return fmt.Errorf("river schema %s: %w", dir, err)
			}
			return nil
		}}
	}
	return goose.NewGoMigration(Version, wrap(rivermigrate.DirectionUp), wrap(rivermigrate.DirectionDown))
}

// steps calls step once per River version: up from 1 to SchemaVersion
// (a version applied already is skipped by River), down from the
// newest applied to none.
func steps(dir rivermigrate.Direction, step func(*rivermigrate.MigrateOpts) error) error {
	if dir == rivermigrate.DirectionUp {
		for v := 1; v <= SchemaVersion; v++ {
			if err := step(&rivermigrate.MigrateOpts{TargetVersion: v}); err != nil {
				return fmt.Errorf("version %d: %w", v, err)
			}
		}
		return nil
	}
	for v := SchemaVersion - 1; v >= -1; v-- {
		if v == 0 {
			continue
		}
		if err := step(&rivermigrate.MigrateOpts{TargetVersion: v}); err != nil {
			return fmt.Errorf("down to version %d: %w", max(v, 0), err)
		}
	}
	return nil
}

// quiet is River's migrator logger: goose reports the migration.
func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }
