package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
)

// purgeStore is what retention needs of a database: its deletions and the
// lock that lets one replica at a time run them.
type purgeStore interface {
	retention.Store
	retention.Locker
}

// purgeOf returns db's retention store; false for a store without one
// (the tests' fake).
func purgeOf(db Store) (purgeStore, bool) {
	switch s := db.(type) {
	case *postgres.DB:
		return s.Purge(), true
	case *sqlite.DB:
		return s.Purge(), true
	}
	return nil, false
}

// auditPruner is the audit log's one way past its append-only rule
// (user.AuditRetention, migration 00011 of the audit-prune work), or nil
// while the stores have none: retention then leaves audit events alone.
// At the merge with that work this returns st.Retention (checked on a
// trial merge: audit retention then works on both databases), or better an
// adapter whose PruneBefore calls Service.PruneAudit, so that each batch
// is recorded as an audit.pruned event in its own transaction, as that
// work promises for every removal.
func auditPruner(user.Stores) retention.AuditPruner { return nil }

// RetentionPolicy is the retention.Policy cfg sets.
func RetentionPolicy(cfg config.Config) retention.Policy {
	return retention.Policy{Sessions: cfg.SessionRetention, Audit: cfg.AuditRetention}
}

// Retention returns the retention runner of db as cfg sets it, and its
// lock; false when db has no retention store.
func Retention(cfg config.Config, db Store, now func() time.Time, obs retention.Observer, log *slog.Logger) (*retention.Runner, retention.Locker, bool) {
	p, ok := purgeOf(db)
	if !ok {
		return nil, nil, false
	}
	r := retention.New(retention.Deps{
		Store: p, Audit: auditPruner(db.Stores()), Observer: obs, Now: now, Log: log,
	}, RetentionPolicy(cfg))
	return r, p, true
}

// startRetention runs retention every cfg.RetentionInterval in the
// background until ctx ends (one replica at a time: the database's lock);
// Close waits for a run under way to stop.
func (a *App) startRetention(ctx context.Context, now func() time.Time) {
	r, lock, ok := Retention(a.cfg, a.db, now, a.metrics, a.log)
	if !ok {
		return
	}
	if a.cfg.AuditRetention > 0 && auditPruner(a.db.Stores()) == nil {
		a.log.Info("audit retention: this build cannot remove audit events yet, they are kept")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Every(ctx, a.cfg.RetentionInterval, lock)
	}()
	a.onClose(func() { <-done })
}

// RunRetention runs retention once on db now (or, with dryRun, only
// counts), taking the same lock as the service's periodic run, and
// returns what went (would go) per table.
func RunRetention(ctx context.Context, cfg config.Config, db Store, dryRun bool) (map[string]int64, error) {
	r, lock, ok := Retention(cfg, db, time.Now, nil, nil)
	if !ok {
		return nil, fmt.Errorf("retention: this store has none")
	}
	if dryRun {
		return r.DryRun(ctx)
	}
	release, held, err := lock.TryLock(ctx)
	if err != nil {
		return nil, err
	}
	if !held {
		return nil, fmt.Errorf("retention: another process is running it now; try again later")
	}
	defer release()
	return r.Run(ctx)
}
