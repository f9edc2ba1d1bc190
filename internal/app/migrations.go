package app

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/pressly/goose/v3"
)

// lossyDowns are the migrations, by version (the same in both stores),
// whose Down destroys what was written since the upgrade and nothing can
// make again, with what it destroys: what people set up or the service
// recorded (accounts, credentials, clients, endpoints, keys, the audit
// log). A Down that drops only what is rebuilt or expires on its own
// (indexes, the search index, sessions, mailed links, ceremonies and
// challenges, a timestamp) is not one of them. One listed here is undone
// only when the operator confirms (MigrateDown), and docs/deploy.md,
// "Irreversible migrations", says why for each.
func lossyDowns() map[int64]string {
	return map[int64]string{
		1:  "every account (table users, and with it everything of every account)",
		3:  "the signing keys (table signing_keys): every token they signed stops verifying",
		4:  "the accounts' roles and verified emails (columns users.role, users.email_verified): every administrator becomes a plain user",
		6:  "the audit log (table audit_events)",
		8:  "the accounts' recovery emails (column users.recovery_email) and pending email changes",
		10: "the job queue (River's tables, event_sequences): mail and events not yet delivered, and the accounts' event sequence numbers",
		13: "the webhook endpoints, their secrets and their deliveries (tables webhook_endpoints, webhook_deliveries, webhook_attempts)",
		15: "the TOTP secrets and recovery codes (tables mfa_totp, mfa_recovery_codes): every account loses its authenticator app and recovery codes",
		16: "the passkeys (table passkeys): every account loses its passkeys",
		17: "the OAuth clients and service accounts (table oauth_clients), with their secrets",
		20: "the OpenID provider's consents, grants and refresh tokens (tables oidc_consents, oidc_grants, oidc_refresh_tokens): " +
			"every connected app is signed out and every user must consent again",
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

// MigrationState is a migration as `usersvc migrate status` shows it.
type MigrationState struct {
	Version int64
	// File is its file in this binary; "" when this binary has none: a
	// newer release applied it (docs/deploy.md: the previous release runs
	// on the newer one's schema during a deployment and after a rollback).
	File      string
	Applied   bool
	AppliedAt time.Time // when it was applied, if the database recorded it
}

// Unknown reports whether this binary has no file of the migration.
func (m MigrationState) Unknown() bool { return m.File == "" }

// MigrationStatus lists db's migrations by version: this binary's, applied
// or pending, and those applied to db that this binary does not know. It
// only reads: a database never migrated has every migration pending, and
// goose, whose status query creates the version table it does not find
// and takes the migration lock, is not asked.
func MigrationStatus(ctx context.Context, db Store) ([]MigrationState, error) {
	versioned, err := db.HasMigrationTable(ctx)
	if err != nil {
		return nil, err
	}
	applied := map[int64]time.Time{}
	if versioned {
		if applied, err = db.AppliedMigrations(ctx); err != nil {
			return nil, err
		}
	}
	p, err := db.Migrator()
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	defer p.Close()
	var states []MigrationState
	for _, src := range p.ListSources() {
		at, ok := applied[src.Version]
		states = append(states, MigrationState{Version: src.Version, File: filepath.Base(src.Path), Applied: ok, AppliedAt: at})
		delete(applied, src.Version)
	}
	for v, at := range applied {
		states = append(states, MigrationState{Version: v, Applied: true, AppliedAt: at})
	}
	slices.SortFunc(states, func(a, b MigrationState) int { return cmp.Compare(a.Version, b.Version) })
	return states, nil
}
