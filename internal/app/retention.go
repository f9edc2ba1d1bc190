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

// auditPruner is how retention removes audit events: through
// Service.PruneAudit, the audit log's one way past its append-only rule,
// so that each removal is recorded as an audit.pruned event in its own
// transaction, as `usersvc audit prune` is.
type auditPruner struct{ svc *user.Service }

// retentionVia names retention in the audit.pruned events it records.
const retentionVia = "usersvc retention"

func (p auditPruner) CountBefore(ctx context.Context, before time.Time) (int64, error) {
	return p.svc.PruneAudit(ctx, user.AuditPrune{Before: before, DryRun: true})
}

// PruneBefore removes the events older than before, recording the removal;
// when there are none it records nothing (retention walks its window in
// steps, most of them empty).
func (p auditPruner) PruneBefore(ctx context.Context, before time.Time) (int64, error) {
	if n, err := p.CountBefore(ctx, before); err != nil || n == 0 {
		return 0, err
	}
	return p.svc.PruneAudit(ctx, user.AuditPrune{Before: before, Operator: "retention", Via: retentionVia})
}

// RetentionPolicy is the retention.Policy cfg sets.
func RetentionPolicy(cfg config.Config) retention.Policy {
	return retention.Policy{Sessions: cfg.SessionRetention, Audit: cfg.AuditRetention, Deliveries: cfg.WebhookDeliveryRetention}
}

// Retention returns the retention runner of db as cfg sets it, and its
// lock; false when db has no retention store.
func Retention(cfg config.Config, db Store, now func() time.Time, obs retention.Observer, log *slog.Logger) (*retention.Runner, retention.Locker, bool) {
	p, ok := purgeOf(db)
	if !ok {
		return nil, nil, false
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	svc := user.NewService(user.Deps{Stores: db.Stores(), Log: log, Now: now}, Policy(cfg))
	d := retention.Deps{Store: p, Audit: auditPruner{svc}, Observer: obs, Now: now, Log: log}
	if ws, ok := db.(webhookStore); ok && ws.Webhooks().Deliveries != nil {
		d.Deliveries = ws.Webhooks().Deliveries
	}
	if st, ok := db.(oidcStore); ok && st.OIDC().Retention != nil {
		d.OIDC = st.OIDC().Retention
	}
	r := retention.New(d, RetentionPolicy(cfg))
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
