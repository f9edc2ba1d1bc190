package retention_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

const day = 24 * time.Hour

// events is an AuditPruner over a list of event times, recording the
// size of each batch.
type events struct {
	at      []time.Time
	batches []int64
}

func (e *events) CountBefore(_ context.Context, before time.Time) (int64, error) {
	var n int64
	for _, t := range e.at {
		if t.Before(before) {
			n++
		}
	}
	return n, nil
}

func (e *events) PruneBefore(ctx context.Context, before time.Time) (int64, error) {
	n, _ := e.CountBefore(ctx, before)
	e.at = slices.DeleteFunc(e.at, func(t time.Time) bool { return t.Before(before) })
	e.batches = append(e.batches, n)
	return n, nil
}

// store is the fake's retention store with the audit events of ev, so
// that Oldest sees them.
type store struct {
	retention.Store
	ev *events
}

func (s store) Oldest(ctx context.Context) (map[string]time.Time, error) {
	out, err := s.Store.Oldest(ctx)
	if len(s.ev.at) > 0 {
		out[retention.AuditEvents] = slices.MinFunc(s.ev.at, func(a, b time.Time) int { return a.Compare(b) })
	}
	return out, err
}

// observed records what a Runner reports.
type observed struct {
	removed map[string]int64
	oldest  map[string]time.Duration
}

func (o *observed) RetentionRemoved(table string, n int64)          { o.removed[table] += n }
func (o *observed) RetentionOldest(table string, age time.Duration) { o.oldest[table] = age }

// TestRunRemovesWhatThePolicySays: a run at t0 with 30 days for sessions
// and 400 for audit events removes the session ended 31 days ago and the
// events older than 400 days, in batches near the batch size, and keeps
// the live session, an unexpired reset link and recent events; metrics
// see every removed row and the oldest rows' ages.
func TestRunRemovesWhatThePolicySays(t *testing.T) {
	ctx := t.Context()
	mem := usertest.NewMemory()
	st := mem.Stores()
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ada, err := st.Users.Create(ctx, usertest.NewUser(1))
	if err != nil {
		t.Fatal(err)
	}
	live, lrt := usertest.NewSession(ada.ID, t0.Add(-time.Hour))
	old, ort := usertest.NewSession(ada.ID, t0.Add(-32*day)) // expired 31 days ago
	for _, s := range []struct {
		s  user.Session
		rt user.RefreshToken
	}{{live, lrt}, {old, ort}} {
		if err := st.Sessions.Create(ctx, s.s, s.rt); err != nil {
			t.Fatal(err)
		}
	}
	reset := usertest.NewAccountToken(ada, user.PurposeResetPassword, t0.Add(-time.Minute))
	if err := st.AccountTokens.Create(ctx, reset); err != nil {
		t.Fatal(err)
	}
	// An mfa_token that expired a minute ago goes; one still live stays
	// (made first: Create drops the account's challenges expired by then).
	for i, created := range []time.Time{t0.Add(-time.Minute), t0.Add(-6 * time.Minute)} {
		c := user.MFAChallenge{Hash: []byte{byte(i + 1)}, UserID: ada.ID, CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute)}
		if err := st.MFAChallenges.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	ev := &events{}
	for i := range 5000 { // one event an hour back from t0, over 208 days past 400
		ev.at = append(ev.at, t0.Add(-400*day-time.Duration(i)*time.Hour-time.Minute))
	}
	recent := t0.Add(-399 * day)
	ev.at = append(ev.at, recent, t0.Add(-time.Hour))
	obs := &observed{removed: map[string]int64{}, oldest: map[string]time.Duration{}}
	r := retention.New(retention.Deps{Store: store{mem.Purge(), ev}, Audit: ev, Observer: obs, Now: func() time.Time { return t0 }},
		retention.Policy{Sessions: 30 * day, Audit: 400 * day, Batch: 100})

	dry, err := r.DryRun(ctx)
	if err != nil {
		t.Fatalf("DryRun: %v", err)
	}
	if dry[retention.Sessions] != 1 || dry[retention.RefreshTokens] != 1 || dry[retention.AccountTokens] != 0 {
		t.Errorf("DryRun = %v, want 1 session, 1 refresh token, no account token", dry)
	}
	removed, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string]int64{retention.Sessions: 1, retention.RefreshTokens: 1, retention.AuditEvents: 5000, retention.AccountTokens: 0, retention.EmailChanges: 0, retention.MFAChallenges: 1}
	if diff := cmp.Diff(want, removed); diff != "" {
		t.Errorf("Run removed (-want +got):\n%s", diff)
	}
	delete(want, retention.AccountTokens)
	delete(want, retention.EmailChanges)
	if _, err := st.MFAChallenges.ByHash(ctx, []byte{1}); err != nil {
		t.Errorf("the live mfa challenge: %v, want it kept", err)
	}
	if diff := cmp.Diff(want, obs.removed); diff != "" {
		t.Errorf("observed removals (-want +got):\n%s", diff)
	}
	if got := []time.Time{recent, t0.Add(-time.Hour)}; !slices.Equal(ev.at, got) {
		t.Errorf("audit events left: %v, want the two recent ones %v", ev.at, got)
	}
	for i, n := range ev.batches[:len(ev.batches)-1] {
		if n > 4*100 {
			t.Errorf("audit batch %d removed %d events, want about the batch size (100)", i, n)
		}
	}
	all, _ := st.Sessions.All(ctx, ada.ID, user.SessionPage{})
	if len(all) != 1 || all[0].ID != live.ID {
		t.Errorf("sessions left: %v, want only the live one", all)
	}
	if _, err := st.AccountTokens.ByHash(ctx, reset.Hash); err != nil {
		t.Errorf("the unexpired reset link: %v, want it kept", err)
	}
	if got := obs.oldest[retention.Sessions]; got != time.Hour {
		t.Errorf("oldest session's age: %s, want 1h", got)
	}
	if got := obs.oldest[retention.AuditEvents]; got != 399*day {
		t.Errorf("oldest audit event's age: %s, want %s", got, 399*day)
	}
}

// TestAuditBurstPrunedInBatches: a burst of events after a quiet stretch
// (a credential-stuffing night a year ago, after weeks of a few events a
// day) goes in batches near the batch size too. The step that quiet
// stretch widened to days used to reach over the whole burst, and one
// transaction removed it all: on SQLite every write of the service waits
// for that one.
func TestAuditBurstPrunedInBatches(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	quiet := t0.Add(-500 * day)
	ev := &events{}
	for i := range 60 { // one event every 12 hours for a month
		ev.at = append(ev.at, quiet.Add(time.Duration(i)*12*time.Hour))
	}
	burst := quiet.Add(31 * day)
	for i := range 5000 { // then 5000 within 5 seconds
		ev.at = append(ev.at, burst.Add(time.Duration(i)*time.Millisecond))
	}
	r := retention.New(retention.Deps{Store: store{usertest.NewMemory().Purge(), ev}, Audit: ev, Now: func() time.Time { return t0 }},
		retention.Policy{Sessions: 30 * day, Audit: 400 * day, Batch: 100})
	removed, err := r.Run(t.Context())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if removed[retention.AuditEvents] != 5060 || len(ev.at) != 0 {
		t.Fatalf("Run removed %d audit events, %d left; want all 5060", removed[retention.AuditEvents], len(ev.at))
	}
	for i, n := range ev.batches {
		if n > 2*100 {
			t.Errorf("audit batch %d of %d removed %d events, want at most twice the batch size (100)", i, len(ev.batches), n)
		}
	}
}

// TestAuditKeptWithoutPolicyOrPruner: an audit retention of zero, or no
// pruner, removes no event and a dry run counts none.
func TestAuditKeptWithoutPolicyOrPruner(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		audit  time.Duration
		pruner bool
	}{{"retention 0", 0, true}, {"no pruner", 400 * day, false}} {
		t.Run(tt.name, func(t *testing.T) {
			mem := usertest.NewMemory()
			ev := &events{at: []time.Time{t0.Add(-1000 * day)}}
			d := retention.Deps{Store: store{mem.Purge(), ev}, Now: func() time.Time { return t0 }}
			if tt.pruner {
				d.Audit = ev
			}
			r := retention.New(d, retention.Policy{Sessions: 30 * day, Audit: tt.audit})
			if _, err := r.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
			if len(ev.at) != 1 || len(ev.batches) != 0 {
				t.Errorf("events left %v after %d prunes, want the one kept, no prune", ev.at, len(ev.batches))
			}
			if dry, err := r.DryRun(t.Context()); err != nil || dry[retention.AuditEvents] != 0 {
				t.Errorf("DryRun = %v, %v; want no audit event", dry, err)
			}
		})
	}
}

// held is a Locker another replica holds.
type held struct{ tries int }

func (h *held) TryLock(context.Context) (func(), bool, error) { h.tries++; return nil, false, nil }

// TestOnceSkipsWhenLocked: while another replica holds the lock, Once
// removes nothing.
func TestOnceSkipsWhenLocked(t *testing.T) {
	ctx := t.Context()
	mem := usertest.NewMemory()
	st := mem.Stores()
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	ada, _ := st.Users.Create(ctx, usertest.NewUser(1))
	old, ort := usertest.NewSession(ada.ID, t0.Add(-40*day))
	if err := st.Sessions.Create(ctx, old, ort); err != nil {
		t.Fatal(err)
	}
	r := retention.New(retention.Deps{Store: mem.Purge(), Now: func() time.Time { return t0 }}, retention.Policy{Sessions: 30 * day})
	lock := &held{}
	r.Once(ctx, lock)
	if all, _ := st.Sessions.All(ctx, ada.ID, user.SessionPage{}); lock.tries != 1 || len(all) != 1 {
		t.Errorf("with the lock held elsewhere: %d tries, %d sessions left; want 1 try, the session kept", lock.tries, len(all))
	}
}

// stopping is a free Locker that ends the run's context once taken, so
// that Every returns after its first run.
type stopping struct {
	cancel   context.CancelFunc
	released int
}

func (s *stopping) TryLock(context.Context) (func(), bool, error) {
	s.cancel()
	return func() { s.released++ }, true, nil
}

// TestEveryRunsUnderTheLock: at its interval Every takes the lock, runs
// (here on a cancelled context, so the run stops at once and is logged as
// failed) and releases the lock; it returns when its context ends.
func TestEveryRunsUnderTheLock(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	lock := &stopping{cancel: cancel}
	r := retention.New(retention.Deps{Store: usertest.NewMemory().Purge()}, retention.Policy{Sessions: 30 * day})
	r.Every(ctx, time.Millisecond, lock)
	if lock.released != 1 {
		t.Errorf("lock released %d times, want once", lock.released)
	}
}

// TestSessionRetentionZeroKeepsEverySession: USERSVC_SESSION_RETENTION=0
// keeps ended sessions and their refresh tokens, as 0 keeps audit events
// and webhook deliveries; the dry run says nothing would go.
func TestSessionRetentionZeroKeepsEverySession(t *testing.T) {
	ctx := t.Context()
	mem := usertest.NewMemory()
	st := mem.Stores()
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	ada, _ := st.Users.Create(ctx, usertest.NewUser(1))
	old, ort := usertest.NewSession(ada.ID, t0.Add(-1000*day))
	if err := st.Sessions.Create(ctx, old, ort); err != nil {
		t.Fatal(err)
	}
	r := retention.New(retention.Deps{Store: mem.Purge(), Now: func() time.Time { return t0 }}, retention.Policy{})
	if dry, err := r.DryRun(ctx); err != nil || dry[retention.Sessions] != 0 || dry[retention.RefreshTokens] != 0 {
		t.Errorf("DryRun = %v, %v; want no session and no refresh token", dry, err)
	}
	removed, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := st.Sessions.All(ctx, ada.ID, user.SessionPage{}); len(all) != 1 || removed[retention.Sessions] != 0 {
		t.Errorf("retention 0 removed %v and left %d sessions; want the session ended 1,000 days ago kept", removed, len(all))
	}
}
