package usertest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/user"
)

// newPurgeStores opens the stores and the retention store of a fresh,
// empty, migrated database.
type newPurgeStores func(t *testing.T) (user.Stores, retention.Store)

// RunRetention checks that a retention.Store removes exactly the rows its
// cutoffs let go, in batches, and counts them and the oldest rows as it
// should. open must return the ports and the retention store of one
// fresh, empty, migrated database each time it is called, and release it
// in t.Cleanup. Subtests run in parallel.
func RunRetention(t *testing.T, open func(t *testing.T) (user.Stores, retention.Store)) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, newPurgeStores)
	}{
		{"RemovesExactlyWhatEnded", testPurgeExactly},
		{"Batches", testPurgeBatches},
		{"Pending", testPurgePending},
		{"Oldest", testPurgeOldest},
		{"MFAChallenges", testPurgeMFAChallenges},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open)
		})
	}
}

// day is 24 hours; retention's periods are whole days.
const day = 24 * time.Hour

// retentionFixture is the history of one account: rows that retention
// with a 30-day session cutoff and a 7-day token cutoff at t0 removes
// (gone*) and rows it keeps (kept*).
type retentionFixture struct {
	st                                user.Stores
	ada                               user.User
	t0                                time.Time
	sessionCut, tokenCut              time.Time
	goneSessions, keptSessions        []uuid.UUID
	goneTokens, keptTokens            [][]byte
	goneChanges, keptChanges          [][]byte
	goneRefreshTokens, keptRefreshTok int
}

func newRetentionFixture(t *testing.T, st user.Stores) *retentionFixture {
	t.Helper()
	ctx := t.Context()
	f := &retentionFixture{st: st, ada: create(t, st.Users, NewUser(1)), t0: now()}
	f.sessionCut, f.tokenCut = f.t0.Add(-30*day), f.t0.Add(-retention.TokenRetention)
	session := func(created, expires, revoked time.Time, gone bool, refreshes int) {
		s, rt := NewSession(f.ada.ID, created)
		s.ExpiresAt = expires
		if err := st.Sessions.Create(ctx, s, rt); err != nil {
			t.Fatalf("Create session: %v", err)
		}
		for range refreshes {
			if err := st.Sessions.AddRefreshToken(ctx, NewRefreshToken(s.ID, created), nil); err != nil {
				t.Fatalf("AddRefreshToken: %v", err)
			}
		}
		if !revoked.IsZero() {
			if err := st.Sessions.Revoke(ctx, f.ada.ID, s.ID, revoked); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
		}
		if gone {
			f.goneSessions = append(f.goneSessions, s.ID)
			f.goneRefreshTokens += 1 + refreshes
		} else {
			f.keptSessions = append(f.keptSessions, s.ID)
			f.keptRefreshTok += 1 + refreshes
		}
	}
	t0 := f.t0
	session(t0.Add(-time.Hour), t0.Add(day), time.Time{}, false, 2)     // live
	session(t0.Add(-100*day), t0.Add(10*day), time.Time{}, false, 0)    // old but live (long max age)
	session(t0.Add(-40*day), t0.Add(-31*day), time.Time{}, true, 3)     // expired 31 days ago
	session(t0.Add(-40*day), t0.Add(-29*day), time.Time{}, false, 0)    // expired 29 days ago
	session(t0.Add(-60*day), t0.Add(30*day), t0.Add(-35*day), true, 1)  // revoked 35 days ago, would still be valid
	session(t0.Add(-60*day), t0.Add(30*day), t0.Add(-25*day), false, 0) // revoked 25 days ago
	session(t0.Add(-90*day), f.sessionCut, time.Time{}, false, 0)       // expires exactly at the cutoff
	token := func(created, expires, used time.Time, gone bool) {
		tok := NewAccountToken(f.ada, user.PurposeResetPassword, created)
		tok.ExpiresAt = expires
		if err := st.AccountTokens.Create(ctx, tok); err != nil {
			t.Fatalf("Create token: %v", err)
		}
		if !used.IsZero() {
			// Used: the store marks it through UseAll, at used.
			if err := st.AccountTokens.UseAll(ctx, f.ada.ID, user.PurposeResetPassword, used); err != nil {
				t.Fatalf("UseAll: %v", err)
			}
		}
		if gone {
			f.goneTokens = append(f.goneTokens, tok.Hash)
		} else {
			f.keptTokens = append(f.keptTokens, tok.Hash)
		}
	}
	token(t0.Add(-9*day), t0.Add(-9*day+time.Hour), t0.Add(-8*day), true) // used 8 days ago
	token(t0.Add(-10*day), t0.Add(-8*day), time.Time{}, true)             // expired 8 days ago
	token(t0.Add(-3*day), t0.Add(-2*day), time.Time{}, false)             // expired 2 days ago
	token(t0.Add(-time.Minute), t0.Add(time.Hour), time.Time{}, false)    // an unexpired reset link
	change := func(created, expires time.Time, gone bool) {
		c := NewEmailChange(f.ada, "new."+f.ada.Email, created)
		c.ExpiresAt = expires
		if err := st.EmailChanges.Create(ctx, c); err != nil {
			t.Fatalf("Create email change: %v", err)
		}
		if gone {
			f.goneChanges = append(f.goneChanges, c.Hash)
		} else {
			f.keptChanges = append(f.keptChanges, c.Hash)
		}
	}
	change(t0.Add(-20*day), t0.Add(-13*day), true)
	change(t0.Add(-time.Hour), t0.Add(7*day-time.Hour), false)
	return f
}

// allSessionIDs is the set of the ids of every session of userID.
func allSessionIDs(t *testing.T, sessions user.Sessions, userID uuid.UUID) map[uuid.UUID]bool {
	t.Helper()
	all, err := sessions.All(t.Context(), userID, user.SessionPage{})
	if err != nil {
		t.Fatalf("All: %v", err)
	}
	ids := map[uuid.UUID]bool{}
	for _, s := range all {
		ids[s.ID] = true
	}
	return ids
}

func testPurgeExactly(t *testing.T, open newPurgeStores) {
	st, purge := open(t)
	f := newRetentionFixture(t, st)
	ctx := t.Context()
	sessions, tokens, err := purge.PurgeSessions(ctx, f.sessionCut, 1000)
	if err != nil || sessions != int64(len(f.goneSessions)) || tokens != int64(f.goneRefreshTokens) {
		t.Errorf("PurgeSessions = %d sessions, %d tokens, %v; want %d, %d, nil", sessions, tokens, err, len(f.goneSessions), f.goneRefreshTokens)
	}
	left := allSessionIDs(t, st.Sessions, f.ada.ID)
	for _, id := range f.goneSessions {
		if left[id] {
			t.Errorf("session %s ended before the cutoff and is still there", id)
		}
	}
	for _, id := range f.keptSessions {
		if !left[id] {
			t.Errorf("session %s was removed, want it kept", id)
		}
	}
	if n, err := purge.PurgeAccountTokens(ctx, f.tokenCut, 1000); err != nil || n != int64(len(f.goneTokens)) {
		t.Errorf("PurgeAccountTokens = %d, %v; want %d, nil", n, err, len(f.goneTokens))
	}
	for _, h := range f.goneTokens {
		if _, err := st.AccountTokens.ByHash(ctx, h); !errors.Is(err, user.ErrInvalidToken) {
			t.Errorf("a token used or expired 8 days ago: ByHash error %v, want %v (removed)", err, user.ErrInvalidToken)
		}
	}
	for _, h := range f.keptTokens {
		if _, err := st.AccountTokens.ByHash(ctx, h); err != nil {
			t.Errorf("a token expired 2 days ago or unexpired: ByHash error %v, want it kept", err)
		}
	}
	if n, err := purge.PurgeEmailChanges(ctx, f.tokenCut, 1000); err != nil || n != int64(len(f.goneChanges)) {
		t.Errorf("PurgeEmailChanges = %d, %v; want %d, nil", n, err, len(f.goneChanges))
	}
	if _, err := st.EmailChanges.Use(ctx, f.keptChanges[0], f.t0); err != nil {
		t.Errorf("the undoable email change: Use error %v, want it kept", err)
	}
	// Nothing is left to remove: a second pass removes nothing.
	if s, tk, err := purge.PurgeSessions(ctx, f.sessionCut, 1000); s != 0 || tk != 0 || err != nil {
		t.Errorf("PurgeSessions again = %d, %d, %v; want 0, 0, nil", s, tk, err)
	}
	if got := len(left); got != len(f.keptSessions) {
		t.Errorf("sessions left: %d, want %d", got, len(f.keptSessions))
	}
}

func testPurgeBatches(t *testing.T, open newPurgeStores) {
	st, purge := open(t)
	ada := create(t, st.Users, NewUser(1))
	t0 := now()
	for range 5 {
		startSession(t, st.Sessions, ada, t0.Add(-40*day)) // each expired 39 days ago
	}
	live, _ := startSession(t, st.Sessions, ada, t0)
	var got []int64
	for range 5 {
		n, _, err := purge.PurgeSessions(t.Context(), t0.Add(-30*day), 2)
		if err != nil {
			t.Fatalf("PurgeSessions: %v", err)
		}
		got = append(got, n)
		if n < 2 {
			break
		}
	}
	if diff := cmp.Diff([]int64{2, 2, 1}, got); diff != "" {
		t.Errorf("batches of 2 of 5 ended sessions (-want +got):\n%s", diff)
	}
	if left := allSessionIDs(t, st.Sessions, ada.ID); len(left) != 1 || !left[live.ID] {
		t.Errorf("after the batches: sessions %v, want only the live one", left)
	}
}

func testPurgePending(t *testing.T, open newPurgeStores) {
	st, purge := open(t)
	f := newRetentionFixture(t, st)
	appendAudit(t, st.Audit, NewAuditEvent(user.AuditLoginSucceeded, f.ada.ID, f.ada.ID, f.t0.Add(-500*day)))
	appendAudit(t, st.Audit, NewAuditEvent(user.AuditLoginSucceeded, f.ada.ID, f.ada.ID, f.t0.Add(-time.Hour)))
	c := retention.Cutoffs{Sessions: f.sessionCut, Tokens: f.tokenCut, Audit: f.t0.Add(-400 * day)}
	got, err := purge.Pending(t.Context(), c)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	want := map[string]int64{
		retention.Sessions: int64(len(f.goneSessions)), retention.RefreshTokens: int64(f.goneRefreshTokens),
		retention.AccountTokens: int64(len(f.goneTokens)), retention.EmailChanges: int64(len(f.goneChanges)),
		retention.AuditEvents: 1, retention.MFAChallenges: 0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Pending (-want +got):\n%s", diff)
	}
	none, err := purge.Pending(t.Context(), retention.Cutoffs{})
	if err != nil {
		t.Fatalf("Pending(zero cutoffs): %v", err)
	}
	for table, n := range none {
		if n != 0 {
			t.Errorf("Pending(zero cutoffs)[%s] = %d, want 0", table, n)
		}
	}
}

func testPurgeOldest(t *testing.T, open newPurgeStores) {
	st, purge := open(t)
	empty, err := purge.Oldest(t.Context())
	if err != nil || len(empty) != 0 {
		t.Errorf("Oldest of an empty database = %v, %v; want none, nil", empty, err)
	}
	ada := create(t, st.Users, NewUser(1))
	t0 := now()
	first, _ := startSession(t, st.Sessions, ada, t0.Add(-3*day))
	startSession(t, st.Sessions, ada, t0.Add(-day))
	// A verification link of a week, then a reset link of an hour made
	// later but expiring first: the oldest is the verification link.
	tok := NewAccountToken(ada, user.PurposeVerifyEmail, t0.Add(-2*day))
	tok.ExpiresAt = tok.CreatedAt.Add(7 * day)
	if err := st.AccountTokens.Create(t.Context(), tok); err != nil {
		t.Fatalf("Create(verification token): %v", err)
	}
	storeToken(t, st.AccountTokens, ada, user.PurposeResetPassword, t0.Add(-day))
	c := storeChange(t, st.EmailChanges, ada, t0.Add(-4*day))
	appendAudit(t, st.Audit, NewAuditEvent(user.AuditRegistered, ada.ID, ada.ID, t0.Add(-5*day)))
	appendAudit(t, st.Audit, NewAuditEvent(user.AuditLoginSucceeded, ada.ID, ada.ID, t0))
	got, err := purge.Oldest(t.Context())
	if err != nil {
		t.Fatalf("Oldest: %v", err)
	}
	want := map[string]time.Time{
		retention.Sessions: first.CreatedAt, retention.RefreshTokens: first.CreatedAt,
		retention.AccountTokens: tok.CreatedAt, retention.EmailChanges: c.CreatedAt,
		retention.AuditEvents: t0.Add(-5 * day),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Oldest (-want +got):\n%s", diff)
	}
}

// testPurgeMFAChallenges: challenges (mfa_tokens) that expired or were
// used go; a live one stays, usable.
func testPurgeMFAChallenges(t *testing.T, open newPurgeStores) {
	st, purge := open(t)
	if st.MFAChallenges == nil {
		t.Skip("the store keeps no mfa challenges")
	}
	ctx := t.Context()
	ada := create(t, st.Users, NewUser(1))
	t0 := now()
	challenge := func(b byte, created time.Time) []byte {
		h := make([]byte, 32)
		h[0] = b
		c := user.MFAChallenge{Hash: h, UserID: ada.ID, CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute)}
		if err := st.MFAChallenges.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		return h
	}
	// Created in this order, each by t0 - 10 min: Create removes the
	// user's challenges expired by its own creation, so the expired one
	// is made last.
	used := challenge(1, t0.Add(-2*time.Minute))
	if err := st.MFAChallenges.Use(ctx, used, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	live := challenge(2, t0.Add(-time.Minute))
	other := create(t, st.Users, NewUser(2))
	expired := make([]byte, 32)
	expired[0] = 3
	if err := st.MFAChallenges.Create(ctx, user.MFAChallenge{Hash: expired, UserID: other.ID, CreatedAt: t0.Add(-10 * time.Minute), ExpiresAt: t0.Add(-5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// The dry run counts what the purge then removes.
	if pending, err := purge.Pending(ctx, retention.Cutoffs{Challenges: t0}); err != nil || pending[retention.MFAChallenges] != 2 {
		t.Errorf("Pending(challenges) = %v, %v; want %s: 2 (the used and the expired one)", pending, err, retention.MFAChallenges)
	}
	n, err := purge.PurgeMFAChallenges(ctx, t0, 1000)
	if err != nil || n != 2 {
		t.Errorf("PurgeMFAChallenges = %d, %v; want 2 (the used and the expired one), nil", n, err)
	}
	for _, h := range [][]byte{used, expired} {
		if _, err := st.MFAChallenges.ByHash(ctx, h); !errors.Is(err, user.ErrInvalidMFAToken) {
			t.Errorf("challenge %d: ByHash error %v, want ErrInvalidMFAToken (removed)", h[0], err)
		}
	}
	if err := st.MFAChallenges.Use(ctx, live, t0); err != nil {
		t.Errorf("the live challenge: Use error %v, want it kept and usable", err)
	}
}
