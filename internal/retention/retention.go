// Package retention removes what the database no longer needs to keep:
// sessions (with their refresh tokens) some time after they ended, used
// and expired one-time tokens, and old audit events. It deletes in small
// batches, each its own short transaction, so that it never holds long
// locks, and runs on one replica at a time (Every with a Locker). It knows
// its stores only through the small interfaces below; internal/app wires
// them (and may later hand the periodic run to a job queue: Runner.Run is
// the job).
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The tables retention removes rows from, as metrics and reports name them.
const (
	Sessions      = "sessions"
	RefreshTokens = "refresh_tokens"
	AccountTokens = "account_tokens"
	EmailChanges  = "email_changes"
	AuditEvents   = "audit_events"
	// WebhookDeliveries and WebhookAttempts are the finished webhook
	// deliveries and their attempts (DeliveryPurger).
	WebhookDeliveries = "webhook_deliveries"
	WebhookAttempts   = "webhook_attempts"
	// OIDCState is the OpenID provider's: expired authorization requests
	// and codes, expired refresh tokens, ended grants (OIDCPurger).
	OIDCState = "oidc_state"
	// MFAChallenges are the pending second steps of password logins
	// (mfa_tokens), which go as soon as they expired or were used.
	MFAChallenges = "mfa_challenges"
)

// Tables lists the tables of Store and the audit log, in the order a run
// goes through them; Store.Oldest reports their ages.
var Tables = []string{Sessions, RefreshTokens, AccountTokens, EmailChanges, AuditEvents}

// Reported lists every table a run reports on: Tables, then the webhook
// deliveries', the mfa challenges and the OpenID provider's state.
var Reported = append(append([]string(nil), Tables...), WebhookDeliveries, WebhookAttempts, MFAChallenges, OIDCState)

// TokenRetention is how long a used or expired verification, reset or
// email-change token is kept after its use or expiry.
const TokenRetention = 7 * 24 * time.Hour

// DefaultBatch is how many rows one transaction removes at most.
const DefaultBatch = 1000

// Cutoffs are the times before which ended rows go: a zero time removes
// nothing of that kind.
type Cutoffs struct {
	Sessions time.Time // sessions that expired or were revoked before it
	Tokens   time.Time // account tokens and email changes used or expired before it
	Audit    time.Time // audit events that happened before it
	// Deliveries: finished webhook deliveries last changed before it.
	Deliveries time.Time
	// OIDC: the OpenID provider's state that expired or ended before it.
	OIDC time.Time
	// Challenges: mfa challenges expired or used before it (now: an
	// expired mfa_token is of no use, and its login is audited apart).
	Challenges time.Time
}

// Store is what retention needs of a database besides the audit log. Each
// Purge call is one short transaction that removes at most limit rows,
// skipping rows other transactions hold locked (PostgreSQL), and says how
// many it removed: the caller repeats it until fewer than limit go.
type Store interface {
	// PurgeSessions removes up to limit sessions that expired or were
	// revoked before before, with their refresh tokens, and returns how
	// many of each went.
	PurgeSessions(ctx context.Context, before time.Time, limit int) (sessions, tokens int64, err error)
	// PurgeAccountTokens removes up to limit account tokens used or
	// expired before before.
	PurgeAccountTokens(ctx context.Context, before time.Time, limit int) (int64, error)
	// PurgeEmailChanges removes up to limit email changes used or expired
	// before before.
	PurgeEmailChanges(ctx context.Context, before time.Time, limit int) (int64, error)
	// PurgeMFAChallenges removes up to limit mfa challenges expired or
	// used before before.
	PurgeMFAChallenges(ctx context.Context, before time.Time, limit int) (int64, error)
	// Pending counts, per table, the rows c would remove (the audit events
	// included): what a dry run prints.
	Pending(ctx context.Context, c Cutoffs) (map[string]int64, error)
	// Oldest returns, per table, when its oldest row was created (audit
	// events: happened); a table without rows is missing from the map.
	Oldest(ctx context.Context) (map[string]time.Time, error)
}

// AuditPruner removes old audit events through the one path the
// append-only log allows (migration 00011's, user.AuditRetention): its
// method set is that port's, so the store's implementation fits as is.
type AuditPruner interface {
	// CountBefore is how many events are older than before.
	CountBefore(ctx context.Context, before time.Time) (int64, error)
	// PruneBefore deletes the events older than before and says how many.
	PruneBefore(ctx context.Context, before time.Time) (int64, error)
}

// DeliveryPurger removes finished webhook deliveries: the method set of
// those of webhook.Deliveries, so that the stores' implementation fits as
// is. Pending deliveries are never removed, however old.
type DeliveryPurger interface {
	// PurgeFinished removes up to limit deliveries, no longer pending and
	// last changed before before, with their attempts, in one short
	// transaction.
	PurgeFinished(ctx context.Context, before time.Time, limit int) (deliveries, attempts int64, err error)
	// CountFinished is how many PurgeFinished would remove in all.
	CountFinished(ctx context.Context, before time.Time) (int64, error)
}

// OIDCPurger removes the OpenID provider's state that expired or ended
// before a time: the method set of oidcop.Retention, so that the stores'
// implementation fits as is. Live grants, unexpired requests and codes,
// and the live refresh tokens of unrevoked grants are never removed.
type OIDCPurger interface {
	// PurgeExpired removes up to limit rows (requests, refresh tokens,
	// grants) that expired or ended before before, in one short
	// transaction, and says how many went.
	PurgeExpired(ctx context.Context, before time.Time, limit int) (int64, error)
	// CountExpired is how many PurgeExpired would remove in all.
	CountExpired(ctx context.Context, before time.Time) (int64, error)
}

// Observer receives what a run did, for metrics.
type Observer interface {
	// RetentionRemoved counts n rows removed from table.
	RetentionRemoved(table string, n int64)
	// RetentionOldest sets the age of table's oldest row (zero: empty).
	RetentionOldest(table string, age time.Duration)
}

// Policy is how long ended rows stay.
type Policy struct {
	// Sessions is how long after it expired or was revoked a session (and
	// its refresh tokens) stays; zero keeps every one.
	Sessions time.Duration
	// Audit is how long an audit event stays; zero keeps every one.
	Audit time.Duration
	// Deliveries is how long a finished webhook delivery (and its
	// attempts) stays after its last change; zero keeps every one.
	Deliveries time.Duration
	// Batch is the most rows one transaction removes; zero: DefaultBatch.
	Batch int
}

// Runner applies a Policy. Build it with New.
type Runner struct {
	store  Store
	audit  AuditPruner    // nil: audit events are not removed
	hooks  DeliveryPurger // nil: webhook deliveries are not removed
	oidc   OIDCPurger     // nil: the OpenID provider's state is not removed
	policy Policy
	now    func() time.Time
	obs    Observer // nil: not counted
	log    *slog.Logger
}

// Deps are a Runner's collaborators. Store is required; a nil Audit
// leaves the audit log alone, a nil Deliveries the webhook deliveries, a
// nil Observer counts nothing, a nil Now is time.Now and a nil Log
// discards.
type Deps struct {
	Store      Store
	Audit      AuditPruner
	Deliveries DeliveryPurger
	OIDC       OIDCPurger
	Observer   Observer
	Now        func() time.Time
	Log        *slog.Logger
}

// New returns the Runner of p over d.
func New(d Deps, p Policy) *Runner {
	if p.Batch <= 0 {
		p.Batch = DefaultBatch
	}
	r := &Runner{store: d.Store, audit: d.Audit, hooks: d.Deliveries, oidc: d.OIDC, policy: p, now: d.Now, obs: d.Observer, log: d.Log}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Cutoffs are the times before which the policy lets rows go, now.
func (r *Runner) Cutoffs() Cutoffs {
	now := r.now().UTC()
	c := Cutoffs{Tokens: now.Add(-TokenRetention), Challenges: now}
	if r.policy.Sessions > 0 {
		c.Sessions = now.Add(-r.policy.Sessions)
	}
	if r.policy.Audit > 0 && r.audit != nil {
		c.Audit = now.Add(-r.policy.Audit)
	}
	if r.policy.Deliveries > 0 && r.hooks != nil {
		c.Deliveries = now.Add(-r.policy.Deliveries)
	}
	if r.oidc != nil {
		c.OIDC = now.Add(-TokenRetention) // past any code's, refresh token's or access token's life
	}
	return c
}

// DryRun counts, per table, what Run would remove now, removing nothing;
// webhook_attempts is not counted (missing from the map).
func (r *Runner) DryRun(ctx context.Context) (map[string]int64, error) {
	c := r.Cutoffs()
	counts, err := r.store.Pending(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("retention dry run: %w", err)
	}
	if c.Sessions.IsZero() {
		counts[Sessions], counts[RefreshTokens] = 0, 0
	}
	if c.Audit.IsZero() {
		counts[AuditEvents] = 0
	}
	// The attempts of the deliveries that would go are not counted: the
	// report leaves them out.
	counts[WebhookDeliveries] = 0
	if !c.Deliveries.IsZero() {
		if counts[WebhookDeliveries], err = r.hooks.CountFinished(ctx, c.Deliveries); err != nil {
			return nil, fmt.Errorf("retention dry run: %w", err)
		}
	}
	counts[OIDCState] = 0
	if !c.OIDC.IsZero() {
		if counts[OIDCState], err = r.oidc.CountExpired(ctx, c.OIDC); err != nil {
			return nil, fmt.Errorf("retention dry run: %w", err)
		}
	}
	return counts, nil
}

// Run removes, batch by batch, every row the policy lets go now, and
// returns how many went per table. It stops at the first error (what went
// before it stays gone) or when ctx ends.
func (r *Runner) Run(ctx context.Context) (map[string]int64, error) {
	c := r.Cutoffs()
	removed := map[string]int64{}
	count := func(table string, n int64) {
		removed[table] += n
		if r.obs != nil && n > 0 {
			r.obs.RetentionRemoved(table, n)
		}
	}
	var err error
	if !c.Sessions.IsZero() {
		err = r.batches(ctx, func() (int64, error) {
			s, t, err := r.store.PurgeSessions(ctx, c.Sessions, r.policy.Batch)
			count(Sessions, s)
			count(RefreshTokens, t)
			return s, err
		})
	}
	for _, step := range []struct {
		table  string
		before time.Time
		purge  func(context.Context, time.Time, int) (int64, error)
	}{
		{AccountTokens, c.Tokens, r.store.PurgeAccountTokens},
		{EmailChanges, c.Tokens, r.store.PurgeEmailChanges},
		{MFAChallenges, c.Challenges, r.store.PurgeMFAChallenges},
	} {
		if err != nil {
			break
		}
		err = r.batches(ctx, func() (int64, error) {
			n, err := step.purge(ctx, step.before, r.policy.Batch)
			count(step.table, n)
			return n, err
		})
	}
	if err == nil && !c.Audit.IsZero() {
		err = r.pruneAudit(ctx, c.Audit, func(n int64) { count(AuditEvents, n) })
	}
	if err == nil && !c.Deliveries.IsZero() {
		err = r.batches(ctx, func() (int64, error) {
			d, a, err := r.hooks.PurgeFinished(ctx, c.Deliveries, r.policy.Batch)
			count(WebhookDeliveries, d)
			count(WebhookAttempts, a)
			return d, err
		})
	}
	if err == nil && !c.OIDC.IsZero() {
		err = r.batches(ctx, func() (int64, error) {
			n, err := r.oidc.PurgeExpired(ctx, c.OIDC, r.policy.Batch)
			count(OIDCState, n)
			return n, err
		})
	}
	if err != nil {
		return removed, fmt.Errorf("retention: %w", err)
	}
	r.observeOldest(ctx)
	return removed, nil
}

// batches calls purge until it removes fewer than a batch.
func (r *Runner) batches(ctx context.Context, purge func() (int64, error)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := purge()
		if err != nil {
			return err
		}
		if n < int64(r.policy.Batch) {
			return nil
		}
	}
}

// firstAuditStep is the span of the first audit batch: pruneAudit widens
// or narrows it to the events' density.
const firstAuditStep = time.Minute

// pruneAudit removes the audit events before cutoff in batches of about
// the policy's size. The pruner removes everything before a date, so each
// batch is the events between the oldest one left and a date a step
// later: the step doubles while batches come out small, and before each
// batch it is narrowed (auditWindow) until the batch holds at most twice
// the policy's size, so that a burst of events after a quiet stretch,
// which widened the step, never goes in one long transaction.
func (r *Runner) pruneAudit(ctx context.Context, cutoff time.Time, count func(int64)) error {
	oldest, err := r.store.Oldest(ctx)
	if err != nil {
		return err
	}
	from, ok := oldest[AuditEvents]
	if !ok || !from.Before(cutoff) {
		return nil
	}
	step, batch := firstAuditStep, int64(r.policy.Batch)
	for from.Before(cutoff) {
		if err := ctx.Err(); err != nil {
			return err
		}
		to, n, err := r.auditWindow(ctx, from, cutoff, &step)
		if err != nil {
			return err
		}
		if n > 0 {
			if n, err = r.audit.PruneBefore(ctx, to); err != nil {
				return err
			}
			count(n)
		}
		if n < batch/2 {
			step *= 2
		}
		from = to
	}
	return nil
}

// auditWindow returns the end of the next audit batch from from (at most
// cutoff) and how many events are before it, narrowing *step until they
// are at most twice the policy's batch (or the step is a microsecond, the
// databases' resolution: events of one instant go together).
func (r *Runner) auditWindow(ctx context.Context, from, cutoff time.Time, step *time.Duration) (time.Time, int64, error) {
	batch := int64(r.policy.Batch)
	for {
		to := from.Add(*step)
		if to.After(cutoff) {
			to = cutoff
		}
		n, err := r.audit.CountBefore(ctx, to)
		if err != nil || n <= 2*batch || *step <= time.Microsecond {
			return to, n, err
		}
		// As many as the batch, were the events spread evenly.
		*step = max(time.Duration(float64(to.Sub(from))*float64(batch)/float64(n)), time.Microsecond)
	}
}

// observeOldest reports each table's oldest row's age.
func (r *Runner) observeOldest(ctx context.Context) {
	if r.obs == nil {
		return
	}
	oldest, err := r.store.Oldest(ctx)
	if err != nil {
		r.log.WarnContext(ctx, "retention: oldest rows", "error", err.Error())
		return
	}
	now := r.now()
	for _, t := range Tables {
		var age time.Duration
		if at, ok := oldest[t]; ok {
			age = max(now.Sub(at), 0)
		}
		r.obs.RetentionOldest(t, age)
	}
}

// Locker lets one replica at a time run retention.
type Locker interface {
	// TryLock takes the lock without waiting: ok is false when another
	// process holds it. release frees it (when ok).
	TryLock(ctx context.Context) (release func(), ok bool, err error)
}

// Every runs r every interval until ctx ends, each time only when lock is
// free, so that of several replicas one runs it. The first run comes one
// interval after the start. What fails is logged; the next interval tries
// again.
func (r *Runner) Every(ctx context.Context, interval time.Duration, lock Locker) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if ctx.Err() != nil {
			return // both were ready and select took the tick: no pass once stopping
		}
		r.Once(ctx, lock)
	}
}

// Once runs r when lock is free, logging the outcome: what Every does at
// each interval.
func (r *Runner) Once(ctx context.Context, lock Locker) {
	release, ok, err := lock.TryLock(ctx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			r.log.WarnContext(ctx, "retention: cannot take its lock", "error", err.Error())
		}
		return
	}
	if !ok {
		r.log.DebugContext(ctx, "retention: another replica is running it")
		return
	}
	defer release()
	start := time.Now()
	removed, err := r.Run(ctx)
	args := []any{"duration", time.Since(start).String()}
	for _, t := range Reported {
		args = append(args, t, removed[t])
	}
	if err != nil {
		r.log.WarnContext(ctx, "retention failed", append(args, "error", err.Error())...)
		return
	}
	r.log.InfoContext(ctx, "retention", args...)
}
