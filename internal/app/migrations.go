package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/pressly/goose/v3"
)

// lossyDowns are the migrations, by version (the same in both stores),
// whose Down destroys what nothing can make again, with what it destroys.
// A Down that only removes what its Up added, and rows written there
// since, is not one of them (docs/deploy.md, "Rollback"); one listed here
// is undone only when the operator confirms (MigrateDown), and
// docs/deploy.md, "Irreversible migrations", says why for each.
func lossyDowns() map[int64]string {
	return map[int64]string{
		34: "the stored service key (recovery codes' hashes, device tokens, refresh tokens' successors, " +
			"OpenID codes and the pages' cookie are keyed by it): the release before derives the same key from " +
			"USERSVC_KEY_ENCRYPTION_KEY only while that key is unchanged, and once it has been rotated the " +
			"stored key cannot be recovered: every refresh token, device token and recovery code stops working",
	}
}

// LossyDownError refuses to undo a migration whose Down destroys what
// nothing can make again (lossyDowns) without the operator's
// confirmation. Nothing was changed.
type LossyDownError struct {
	Migration string // its file, 00034_service_key.sql
	Loses     string // what its Down destroys
}

func (e *LossyDownError) Error() string {
	return fmt.Sprintf("undoing %s destroys %s", e.Migration, e.Loses)
}

// MigrateDown undoes the latest migration applied to db, as goose's Down
// does. One whose Down destroys what nothing can make again (lossyDowns)
// is undone only when confirmed: otherwise it is a *LossyDownError and
// nothing changes.
func MigrateDown(ctx context.Context, db Store, confirmed bool) (*goose.MigrationResult, error) {
	p, err := db.Migrator()
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	defer p.Close()
	if !confirmed {
		if err := checkDown(ctx, p); err != nil {
			return nil, err
		}
	}
	r, err := p.Down(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate down: %w", err)
	}
	return r, nil
}

// checkDown is a *LossyDownError when the migration p's Down would undo
// (the latest applied: migrations are never applied out of order) is one
// of lossyDowns.
func checkDown(ctx context.Context, p *goose.Provider) error {
	latest, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	loses, ok := lossyDowns()[latest]
	if !ok {
		return nil
	}
	file := fmt.Sprintf("%05d", latest)
	for _, s := range p.ListSources() {
		if s.Version == latest {
			file = filepath.Base(s.Path)
		}
	}
	return &LossyDownError{Migration: file, Loses: loses}
}
