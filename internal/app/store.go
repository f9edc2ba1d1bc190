package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/metrics"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
)

// Store is what the composition root needs of a database: the service's
// ports, the signing keys, its migrations, a readiness check.
type Store interface {
	Stores() user.Stores
	SigningKeys() signing.Repository
	Migrator() (*goose.Provider, error)
	// HasMigrationTable reports, without writing, whether the database
	// has the migrations' version table (none: never migrated).
	HasMigrationTable(ctx context.Context) (bool, error)
	// AppliedMigrations returns, without writing, the versions the
	// version table records as applied and when, this binary's or not;
	// only for a database that has the table.
	AppliedMigrations(ctx context.Context) (map[int64]time.Time, error)
	Ping(ctx context.Context) error
	Close() error
}

// SQLiteFile is the embedded database's file name in the data directory.
const SQLiteFile = "usersvc.db"

// OpenStore opens PostgreSQL when DATABASE_URL is set, else the embedded
// SQLite file in the data directory, and says which ("postgres",
// "sqlite"). It does not migrate.
func OpenStore(ctx context.Context, cfg config.Config) (Store, string, error) {
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, "", fmt.Errorf("DATABASE_URL=%s: %w", config.Redact(cfg.DatabaseURL), err)
		}
		return db, "postgres", nil
	}
	path := filepath.Join(cfg.DataDir, SQLiteFile)
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, "", fmt.Errorf("USERSVC_DATA_DIR=%s: %w", cfg.DataDir, err)
	}
	return db, "sqlite", nil
}

// migrateFirst is what to do about a database that is missing or not
// migrated, for a command that does not make or migrate one.
const migrateFirst = "run `usersvc migrate up` first (`usersvc serve` migrates too, unless USERSVC_MIGRATE_ON_START=false)"

// ErrNoDatabase is a command that works on the service's data run where
// there is no database: the SQLite file is missing.
var ErrNoDatabase = errors.New("no database")

// openExisting opens the configured store as OpenStore does, but never
// makes one: a missing SQLite file is ErrNoDatabase, before any file or
// directory is created, so that a mistyped USERSVC_DATA_DIR (or a
// forgotten DATABASE_URL) cannot leave a fresh, empty database behind
// that looks like one whose users are all gone. (PostgreSQL refuses a
// database that does not exist by itself.) Only migrate and serve make a
// database.
func openExisting(ctx context.Context, cfg config.Config) (Store, string, error) {
	if cfg.DatabaseURL == "" {
		path := filepath.Join(cfg.DataDir, SQLiteFile)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%w at %s: %s, or set DATABASE_URL or USERSVC_DATA_DIR to the service's database", ErrNoDatabase, path, migrateFirst)
		}
	}
	return OpenStore(ctx, cfg)
}

// OpenMigrated opens the configured store for a command that reads or
// changes the service's data: it must exist (openExisting) and have every
// migration of this release applied (RequireMigrated).
func OpenMigrated(ctx context.Context, cfg config.Config) (Store, error) {
	db, _, err := openMigrated(ctx, cfg)
	return db, err
}

// openMigrated is OpenMigrated, saying which store it opened.
func openMigrated(ctx context.Context, cfg config.Config) (Store, string, error) {
	db, kind, err := openExisting(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	if err := RequireMigrated(ctx, db); err != nil {
		_ = db.Close()
		return nil, "", err
	}
	return db, kind, nil
}

// openServed opens the store serve runs on: with cfg.MigrateOnStart any,
// made when missing (openStore migrates it); without, only an existing,
// migrated one (openMigrated), since nothing would make its tables: an
// empty file or schema is refused before anything else is made, rather
// than failing later on a missing table or serving on it.
func openServed(ctx context.Context, cfg config.Config) (Store, string, error) {
	if cfg.MigrateOnStart {
		return OpenStore(ctx, cfg)
	}
	db, kind, err := openMigrated(ctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("USERSVC_MIGRATE_ON_START=false, so serve does not migrate: %w", err)
	}
	return db, kind, nil
}

// Migrate applies every pending migration of db and returns what it
// applied, as goose describes each.
func Migrate(ctx context.Context, db Store) ([]*goose.MigrationResult, error) {
	p, err := db.Migrator()
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	defer p.Close()
	results, err := p.Up(ctx)
	if err != nil {
		return results, fmt.Errorf("migrate up: %w", err)
	}
	return results, nil
}

// openStore opens the configured store (or uses db when not nil) into a,
// migrating it when cfg.MigrateOnStart, and publishes its pool
// statistics.
func (a *App) openStore(ctx context.Context, db Store) error {
	kind := "given"
	if db == nil {
		var err error
		if db, kind, err = openServed(ctx, a.cfg); err != nil {
			return err
		}
	}
	a.db, a.kind = db, kind
	a.onClose(func() {
		if err := db.Close(); err != nil {
			a.log.Error("close database", "error", err)
			return
		}
		a.log.Info("database closed")
	})
	if a.cfg.MigrateOnStart {
		results, err := Migrate(ctx, db)
		for _, r := range results {
			a.log.Info("migration applied", "version", r.Source.Version, "file", filepath.Base(r.Source.Path))
		}
		if err != nil {
			return err
		}
	}
	watchPool(a.metrics, db)
	return nil
}

// watchPool publishes the store's connection pool statistics.
func watchPool(m *metrics.Metrics, db Store) {
	switch s := db.(type) {
	case *postgres.DB:
		m.WatchPool("postgres", func() metrics.PoolStats {
			p := s.Pool().Stat()
			return metrics.PoolStats{
				InUse: int(p.AcquiredConns()), Idle: int(p.IdleConns()), Max: int(p.MaxConns()),
				WaitCount: p.EmptyAcquireCount(), WaitDuration: p.EmptyAcquireWaitTime(),
			}
		})
	case *sqlite.DB:
		m.WatchPool("sqlite", func() metrics.PoolStats {
			w, r := s.Stats()
			return metrics.PoolStats{
				InUse: w.InUse + r.InUse, Idle: w.Idle + r.Idle, Max: w.MaxOpenConnections + r.MaxOpenConnections,
				WaitCount: w.WaitCount + r.WaitCount, WaitDuration: w.WaitDuration + r.WaitDuration,
			}
		})
	}
}

// errNotMigrated is a database without every migration of this release.
var errNotMigrated = errors.New("the database has migrations to apply: " + migrateFirst)

// RequireMigrated fails, saying how to fix it, when db has migrations
// still to apply: a command that does not migrate (audit prune) needs the
// schema of this release. It only reads: a database never migrated (no
// version table) is refused before goose is asked, since goose's version
// queries create the version table they do not find.
func RequireMigrated(ctx context.Context, db Store) error {
	versioned, err := db.HasMigrationTable(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if !versioned {
		return errNotMigrated
	}
	p, err := db.Migrator()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer p.Close()
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if pending {
		return errNotMigrated
	}
	return nil
}
