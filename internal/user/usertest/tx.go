package usertest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The Tx group: Transactor.Atomic. Inside a transaction every port reads
// what the transaction wrote; outside, callers see all of a transaction's
// changes or none; a failure or panic of fn undoes them all; a nested
// Atomic is a part of the enclosing transaction that its own failure
// undoes alone; a business error (ErrEmailTaken, ErrLastAdmin, ...) comes
// back as outside a transaction and leaves the transaction usable.

// errAbort is what fn returns to have its transaction rolled back.
var errAbort = errors.New("usertest: abort the transaction")

// txChanges are the changes of one transaction: a new user (ada), a
// session of a user stored before (bob), a new name for bob and an audit
// event.
type txChanges struct {
	bob, ada user.User
	sess     user.Session
	rt       user.RefreshToken
	name     string
}

// newTxChanges stores bob and returns the changes.
func newTxChanges(t *testing.T, s user.Stores) txChanges {
	t.Helper()
	c := txChanges{bob: create(t, s.Users, NewUser(1)), ada: NewUser(2), name: "Renamed In Tx"}
	c.sess, c.rt = NewSession(c.bob.ID, now())
	return c
}

// apply makes the changes through tx.
func (c txChanges) apply(ctx context.Context, tx user.Stores) error {
	if _, err := tx.Users.Create(ctx, c.ada); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if err := tx.Sessions.Create(ctx, c.sess, c.rt); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if _, err := tx.Users.Update(ctx, c.bob.ID, user.Patch{FullName: &c.name}); err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	return tx.Audit.Append(ctx, NewAuditEvent(user.AuditRegistered, c.ada.ID, c.ada.ID, now()))
}

// check fails the test unless s shows all the changes (want true) or
// none of them.
func (c txChanges) check(t *testing.T, s user.Stores, want bool) {
	t.Helper()
	ctx := t.Context()
	if _, err := s.Users.ByID(ctx, c.ada.ID); (err == nil) != want || (err != nil && !errors.Is(err, user.ErrNotFound)) {
		t.Errorf("ByID(user created in the transaction): got error %v, want it there: %v", err, want)
	}
	if _, _, err := s.Sessions.UserSession(ctx, c.bob.ID, c.sess.ID); (err == nil) != want {
		t.Errorf("UserSession(session created in the transaction): got error %v, want it there: %v", err, want)
	}
	if got := byID(t, s.Users, c.bob.ID).FullName; (got == c.name) != want {
		t.Errorf("full name changed in the transaction: got %q, want the change there: %v", got, want)
	}
	if got := auditEvents(t, s.Audit, user.AuditFilter{SubjectID: c.ada.ID}); (len(got) == 1) != want || len(got) > 1 {
		t.Errorf("events appended in the transaction: got %d, want it there: %v", len(got), want)
	}
}

// catchPanic runs f and returns what it panicked with, or nil.
func catchPanic(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

// panickedWith reports whether p, what a function panicked with, is the
// error want.
func panickedWith(p any, want error) bool {
	err, ok := p.(error)
	return ok && errors.Is(err, want)
}

func testTxCommit(t *testing.T, open newStores) {
	s := open(t)
	c := newTxChanges(t, s)
	if err := s.Tx.Atomic(t.Context(), func(tx user.Stores) error { return c.apply(t.Context(), tx) }); err != nil {
		t.Fatalf("Atomic: got error %v, want nil", err)
	}
	c.check(t, s, true)
}

func testTxRollbackOnError(t *testing.T, open newStores) {
	s := open(t)
	c := newTxChanges(t, s)
	err := s.Tx.Atomic(t.Context(), func(tx user.Stores) error {
		if err := c.apply(t.Context(), tx); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Atomic of a failing fn: got error %v, want fn's %v", err, errAbort)
	}
	c.check(t, s, false)
	// The store goes on: the same changes commit now.
	if err := s.Tx.Atomic(t.Context(), func(tx user.Stores) error { return c.apply(t.Context(), tx) }); err != nil {
		t.Fatalf("Atomic after a rollback: got error %v, want nil", err)
	}
	c.check(t, s, true)
}

func testTxRollbackOnPanic(t *testing.T, open newStores) {
	s := open(t)
	c := newTxChanges(t, s)
	var err error
	p := catchPanic(func() {
		err = s.Tx.Atomic(t.Context(), func(tx user.Stores) error {
			if err := c.apply(t.Context(), tx); err != nil {
				return err
			}
			panic(errAbort)
		})
	})
	if !panickedWith(p, errAbort) {
		t.Fatalf("Atomic of a panicking fn: recovered %v (error %v), want the panic %v", p, err, errAbort)
	}
	c.check(t, s, false)
	// Nothing stays locked: the store goes on.
	create(t, s.Users, NewUser(3))
}

// testTxReadsOwnWrites: every read inside a transaction sees what the
// transaction wrote before it.
func testTxReadsOwnWrites(t *testing.T, open newStores) {
	s := open(t)
	ctx := t.Context()
	ada := NewUser(1)
	sess, rt := NewSession(ada.ID, now())
	tok := NewAccountToken(ada, user.PurposeVerifyEmail, now())
	err := s.Tx.Atomic(ctx, func(tx user.Stores) error {
		if _, err := tx.Users.Create(ctx, ada); err != nil {
			return err
		}
		if err := errors.Join(tx.Sessions.Create(ctx, sess, rt), tx.AccountTokens.Create(ctx, tok),
			tx.Audit.Append(ctx, NewAuditEvent(user.AuditRegistered, ada.ID, ada.ID, now()))); err != nil {
			return err
		}
		checkTxReads(t, tx, ada, sess, rt, tok)
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Atomic: got error %v, want %v", err, errAbort)
	}
	if _, err := s.Users.ByID(ctx, ada.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("ByID after the rollback: got error %v, want %v", err, user.ErrNotFound)
	}
}

// checkTxReads reads through tx what the transaction wrote.
func checkTxReads(t *testing.T, tx user.Stores, ada user.User, sess user.Session, rt user.RefreshToken, tok user.AccountToken) {
	t.Helper()
	ctx := t.Context()
	reads := []struct {
		name string
		err  error
	}{
		{"Users.ByID", second(tx.Users.ByID(ctx, ada.ID))},
		{"Users.ByEmail", second(tx.Users.ByEmail(ctx, ada.Email))},
		{"Users.ByUsername", second(tx.Users.ByUsername(ctx, ada.Username))},
		{"Sessions.UserSession", third(tx.Sessions.UserSession(ctx, ada.ID, sess.ID))},
		{"Sessions.RefreshToken", third(tx.Sessions.RefreshToken(ctx, rt.Hash))},
		{"AccountTokens.ByHash", second(tx.AccountTokens.ByHash(ctx, tok.Hash))},
		{"Users.List", one(tx.Users.List(ctx, user.ListQuery{Limit: 10}))},
		{"Sessions.Active", one(tx.Sessions.Active(ctx, ada.ID, now(), user.SessionPage{}))},
		{"Sessions.All", one(tx.Sessions.All(ctx, ada.ID, user.SessionPage{}))},
		{"Audit.Events", one(tx.Audit.Events(ctx, user.AuditFilter{SubjectID: ada.ID}))},
	}
	for _, r := range reads {
		if r.err != nil {
			t.Errorf("%s inside the transaction that wrote it: got error %v, want nil", r.name, r.err)
		}
	}
}

// second, third and one turn the results of a call into its error.
func second[A any](_ A, err error) error        { return err }
func third[A, B any](_ A, _ B, err error) error { return err }

// one is err, or an error when all is not one element.
func one[A any](all []A, err error) error {
	if err == nil && len(all) != 1 {
		err = fmt.Errorf("got %d, want 1", len(all))
	}
	return err
}

// testTxNested: Atomic on the Stores fn receives runs in the same
// transaction (it sees the enclosing one's writes), and what it commits
// is undone with the enclosing transaction.
func testTxNested(t *testing.T, open newStores) {
	s := open(t)
	ctx := t.Context()
	ada, bob := NewUser(1), NewUser(2)
	err := s.Tx.Atomic(ctx, func(tx user.Stores) error {
		if _, err := tx.Users.Create(ctx, ada); err != nil {
			return err
		}
		err := tx.Tx.Atomic(ctx, func(inner user.Stores) error {
			if _, err := inner.Users.ByID(ctx, ada.ID); err != nil {
				return fmt.Errorf("the enclosing transaction's user, from the nested one: %w", err)
			}
			_, err := inner.Users.Create(ctx, bob)
			return err
		})
		if err != nil {
			return fmt.Errorf("nested Atomic: %w", err)
		}
		if _, err := tx.Users.ByID(ctx, bob.ID); err != nil {
			return fmt.Errorf("the nested transaction's user, after it: %w", err)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Atomic: got error %v, want %v", err, errAbort)
	}
	for _, u := range []user.User{ada, bob} {
		if _, err := s.Users.ByID(ctx, u.ID); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("ByID(%s) after the enclosing transaction failed: got error %v, want %v", u.Username, err, user.ErrNotFound)
		}
	}
}

// testTxNestedFailure: a nested Atomic whose fn fails or panics undoes its
// own changes only; the enclosing transaction goes on and commits.
func testTxNestedFailure(t *testing.T, open newStores) {
	s := open(t)
	ctx := t.Context()
	ada, bob := NewUser(1), NewUser(2)
	fail := func(inner user.Stores) error {
		if _, err := inner.Users.Create(ctx, bob); err != nil {
			return err
		}
		if err := inner.Audit.Append(ctx, NewAuditEvent(user.AuditRegistered, bob.ID, bob.ID, now())); err != nil {
			return err
		}
		return errAbort
	}
	err := s.Tx.Atomic(ctx, func(tx user.Stores) error {
		if _, err := tx.Users.Create(ctx, ada); err != nil {
			return err
		}
		if err := tx.Tx.Atomic(ctx, fail); !errors.Is(err, errAbort) {
			return fmt.Errorf("nested Atomic of a failing fn: got error %w, want %w", err, errAbort)
		}
		p := catchPanic(func() { _ = tx.Tx.Atomic(ctx, func(inner user.Stores) error { panic(fail(inner)) }) })
		if !panickedWith(p, errAbort) {
			return fmt.Errorf("nested Atomic of a panicking fn: recovered %v, want %w", p, errAbort)
		}
		if _, err := tx.Users.ByID(ctx, bob.ID); !errors.Is(err, user.ErrNotFound) {
			return fmt.Errorf("the failed nested transaction's user: got error %w, want %w", err, user.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Atomic: got error %v, want nil", err)
	}
	byID(t, s.Users, ada.ID)
	if _, err := s.Users.ByID(ctx, bob.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("ByID(user of the failed nested transactions): got error %v, want %v", err, user.ErrNotFound)
	}
	if got := auditEvents(t, s.Audit, user.AuditFilter{}); len(got) != 0 {
		t.Errorf("events of the failed nested transactions: got %d, want none", len(got))
	}
}

// testTxOwnTransactions: the methods that are atomic on their own
// (deactivating an administrator, deleting a user, creating a session,
// rotating a refresh token, using account tokens) work inside a
// transaction, and are undone with it.
func testTxOwnTransactions(t *testing.T, open newStores) {
	s := open(t)
	ctx := t.Context()
	admins := [2]user.User{NewUser(1), NewUser(2)}
	for i := range admins {
		admins[i].Role = user.RoleAdmin
		admins[i] = create(t, s.Users, admins[i])
	}
	u := create(t, s.Users, NewUser(3))
	sess, first := startSession(t, s.Sessions, u, now())
	verify := storeToken(t, s.AccountTokens, u, user.PurposeVerifyEmail, now())
	reset := storeToken(t, s.AccountTokens, u, user.PurposeResetPassword, now())
	newSess, newRT := NewSession(admins[0].ID, now())
	off, at := false, now()
	changes := func(tx user.Stores) error {
		if _, err := tx.Users.Update(ctx, admins[1].ID, user.Patch{IsActive: &off}); err != nil {
			return fmt.Errorf("deactivate an administrator: %w", err)
		}
		return errors.Join(tx.Users.Delete(ctx, admins[1].ID),
			tx.Sessions.Create(ctx, newSess, newRT),
			tx.Sessions.AddRefreshToken(ctx, NewRefreshToken(sess.ID, at), first.Hash),
			second(tx.AccountTokens.UseVerifyEmail(ctx, verify.Hash, at)),
			second(tx.AccountTokens.UseResetPassword(ctx, reset.Hash, "fake-hash-reset", at)))
	}
	for _, commit := range []bool{false, true} {
		err := s.Tx.Atomic(ctx, func(tx user.Stores) error {
			if err := changes(tx); err != nil || commit {
				return err
			}
			return errAbort
		})
		if want := map[bool]error{false: errAbort, true: nil}[commit]; !errors.Is(err, want) {
			t.Fatalf("Atomic committing %v: got error %v, want %v", commit, err, want)
		}
		_, errAdmin := s.Users.ByID(ctx, admins[1].ID)
		_, _, errSess := s.Sessions.UserSession(ctx, admins[0].ID, newSess.ID)
		rt, _, errRT := s.Sessions.RefreshToken(ctx, first.Hash)
		got := byID(t, s.Users, u.ID)
		changed := []bool{errAdmin != nil, errSess == nil, errRT == nil && !rt.UsedAt.IsZero(), got.EmailVerified,
			got.PasswordHash == "fake-hash-reset"}
		for i, c := range changed {
			if c != commit {
				t.Errorf("committed %v: change #%d there: %v, want %v", commit, i, c, commit)
			}
		}
	}
}

// testTxIsolation: while a transaction runs, callers outside see none of
// its changes (the databases show them the state before it, Memory makes
// them wait until it ends); once it commits, all of them.
func testTxIsolation(t *testing.T, open newStores) {
	s := open(t)
	ctx := t.Context()
	bob, ada, name := create(t, s.Users, NewUser(1)), NewUser(2), "During"
	written, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.Tx.Atomic(ctx, func(tx user.Stores) error {
			if _, err := tx.Users.Update(ctx, bob.ID, user.Patch{FullName: &name}); err != nil {
				return err
			}
			if _, err := tx.Users.Create(ctx, ada); err != nil {
				return err
			}
			close(written)
			<-release
			return nil
		})
	}()
	select {
	case <-written:
	case err := <-done:
		t.Fatalf("Atomic ended before its changes: %v", err)
	}
	// outside is what a caller outside sees: bob's name, and whether ada is
	// there.
	outside := func() string {
		got, err := s.Users.ByID(ctx, bob.ID)
		_, errAda := s.Users.ByID(ctx, ada.ID)
		if err != nil || (errAda != nil && !errors.Is(errAda, user.ErrNotFound)) {
			return fmt.Sprintf("errors %v, %v", err, errAda)
		}
		return fmt.Sprintf("name %q, ada there: %v", got.FullName, errAda == nil)
	}
	before := fmt.Sprintf("name %q, ada there: false", bob.FullName)
	after := fmt.Sprintf("name %q, ada there: true", name)
	if _, waits := s.Tx.(interface{ blocksOthers() }); waits {
		seen := make(chan string, 1)
		go func() { seen <- outside() }()
		close(release)
		if got := <-seen; got != after {
			t.Errorf("outside, waiting for the transaction: got %s, want %s", got, after)
		}
	} else {
		if got := outside(); got != before {
			t.Errorf("outside, during the transaction: got %s, want %s", got, before)
		}
		close(release)
	}
	if err := <-done; err != nil {
		t.Fatalf("Atomic: got error %v, want nil", err)
	}
	if got := outside(); got != after {
		t.Errorf("outside, after the commit: got %s, want %s", got, after)
	}
}

// testTxConcurrentIncrements: transactions that each read a user's full
// name and write it back incremented take turns: none of the increments
// is lost, and none fails.
func testTxConcurrentIncrements(t *testing.T, open newStores) {
	s := open(t)
	ctx := t.Context()
	u := NewUser(1)
	u.FullName = "0"
	u = create(t, s.Users, u)
	increment := func(tx user.Stores) error {
		got, err := tx.Users.ByID(ctx, u.ID)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(got.FullName)
		if err != nil {
			return err
		}
		next := strconv.Itoa(n + 1)
		if _, err := tx.Users.Update(ctx, u.ID, user.Patch{FullName: &next}); err != nil {
			return err
		}
		return tx.Audit.Append(ctx, NewAuditEvent(user.AuditProfileUpdated, u.ID, u.ID, now()))
	}
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			errs[i] = s.Tx.Atomic(ctx, increment)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("increment #%d: got error %v, want nil", i, err)
		}
	}
	if got, want := byID(t, s.Users, u.ID).FullName, strconv.Itoa(racers); got != want {
		t.Errorf("after %d concurrent increments: got %s, want %s", racers, got, want)
	}
	if got := auditEvents(t, s.Audit, user.AuditFilter{SubjectID: u.ID}); len(got) != racers {
		t.Errorf("events of %d concurrent increments: got %d", racers, len(got))
	}
}

// testTxUniqueViolation: ErrEmailTaken and ErrUsernameTaken come back from
// inside a transaction as from outside; returned by fn, they roll it back
// cleanly and the store goes on.
func testTxUniqueViolation(t *testing.T, open newStores) {
	s := open(t)
	ctx := t.Context()
	bob, ada := create(t, s.Users, NewUser(1)), NewUser(2)
	sameEmail, sameName := NewUser(3), NewUser(4)
	sameEmail.Email, sameName.Username = strings.ToUpper(bob.Email), strings.ToUpper(bob.Username)
	for _, tt := range []struct {
		name   string
		change func(user.Users) error
		want   error
	}{
		{"Create with a taken email", func(tx user.Users) error { return second(tx.Create(ctx, sameEmail)) }, user.ErrEmailTaken},
		{"Create with a taken username", func(tx user.Users) error { return second(tx.Create(ctx, sameName)) }, user.ErrUsernameTaken},
		{"Update to a taken email", func(tx user.Users) error {
			return second(tx.Update(ctx, ada.ID, user.Patch{Email: &sameEmail.Email}))
		}, user.ErrEmailTaken},
	} {
		err := s.Tx.Atomic(ctx, func(tx user.Stores) error {
			if _, err := tx.Users.Create(ctx, ada); err != nil {
				return err
			}
			return tt.change(tx.Users)
		})
		if !errors.Is(err, tt.want) {
			t.Errorf("%s in a transaction: got error %v, want %v", tt.name, err, tt.want)
		}
		if _, err := s.Users.ByID(ctx, ada.ID); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s: the transaction's other user: got error %v, want %v", tt.name, err, user.ErrNotFound)
		}
	}
	create(t, s.Users, ada)
}

// testTxBusinessErrorKeepsTx: a call inside a transaction that fails with
// a business error changes nothing and leaves the transaction usable: fn
// may go on and commit.
func testTxBusinessErrorKeepsTx(t *testing.T, open newStores) {
	s := open(t)
	ctx := t.Context()
	admin := NewUser(1)
	admin.Role = user.RoleAdmin
	admin, ada := create(t, s.Users, admin), NewUser(2)
	sess, first := startSession(t, s.Sessions, admin, now())
	if err := s.Sessions.AddRefreshToken(ctx, NewRefreshToken(sess.ID, now()), first.Hash); err != nil {
		t.Fatal(err)
	}
	taken := NewUser(3)
	taken.Email = admin.Email
	bob := create(t, s.Users, NewUser(4))
	missing := uuid.Must(uuid.NewV7())
	name := "Renamed"
	err := s.Tx.Atomic(ctx, func(tx user.Stores) error {
		for _, c := range []struct {
			call      string
			err, want error
		}{
			{"Users.Create", second(tx.Users.Create(ctx, taken)), user.ErrEmailTaken},
			{"Users.Update to a taken email", second(tx.Users.Update(ctx, admin.ID, user.Patch{Email: &bob.Email})), user.ErrEmailTaken},
			{"Users.Update of a missing user", second(tx.Users.Update(ctx, missing, user.Patch{FullName: &name})), user.ErrNotFound},
			{"Users.Delete", tx.Users.Delete(ctx, admin.ID), user.ErrLastAdmin},
			{"Users.ByID", second(tx.Users.ByID(ctx, missing)), user.ErrNotFound},
			{"Sessions.Revoke", tx.Sessions.Revoke(ctx, admin.ID, missing, now()), user.ErrSessionNotFound},
			{"Sessions.AddRefreshToken", tx.Sessions.AddRefreshToken(ctx, NewRefreshToken(sess.ID, now()), first.Hash), user.ErrRefreshTokenUsed},
			{"AccountTokens.UseVerifyEmail", second(tx.AccountTokens.UseVerifyEmail(ctx, first.Hash, now())), user.ErrInvalidToken},
		} {
			if !errors.Is(c.err, c.want) {
				return fmt.Errorf("%s: got error %w, want %w", c.call, c.err, c.want)
			}
		}
		if _, err := tx.Users.Update(ctx, bob.ID, user.Patch{FullName: &name}); err != nil {
			return err
		}
		_, err := tx.Users.Create(ctx, ada)
		return err
	})
	if err != nil {
		t.Fatalf("Atomic going on after business errors: got error %v, want nil", err)
	}
	byID(t, s.Users, ada.ID)
	if got := byID(t, s.Users, bob.ID); got.FullName != name {
		t.Errorf("the update after the refused ones: full name %q, want %q", got.FullName, name)
	}
	if got := byID(t, s.Users, admin.ID); got.Email != admin.Email {
		t.Errorf("the administrator after the refused changes: %+v, want unchanged", got)
	}
}

// testTxRefusedSessionKeepsTx: a session the store refuses inside a
// transaction (its user is missing, or its first token's hash is taken)
// stores nothing of itself and leaves the transaction usable, as a
// business error does: fn may go on and commit. (The login's transaction
// relies on no such thing, but a store must not half-store a session.)
func testTxRefusedSessionKeepsTx(t *testing.T, open newStores) {
	s := open(t)
	ctx := t.Context()
	ada := create(t, s.Users, NewUser(1))
	_, first := startSession(t, s.Sessions, ada, now())
	ghost, ghostT := NewSession(uuid.Must(uuid.NewV7()), now())
	twin, twinT := NewSession(ada.ID, now())
	twinT.Hash = first.Hash
	kept, keptT := NewSession(ada.ID, now())
	err := s.Tx.Atomic(ctx, func(tx user.Stores) error {
		if err := tx.Sessions.Create(ctx, ghost, ghostT); err == nil {
			return errors.New("Create of a session of a missing user: got nil error, want one")
		}
		if err := tx.Sessions.Create(ctx, twin, twinT); err == nil {
			return errors.New("Create with a first token of another session's hash: got nil error, want one")
		}
		return tx.Sessions.Create(ctx, kept, keptT)
	})
	if err != nil {
		t.Fatalf("Atomic going on after refused sessions: got error %v, want nil", err)
	}
	sessionOf(t, s.Sessions, ada.ID, kept.ID)
	if _, _, err := s.Sessions.UserSession(ctx, ada.ID, twin.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("the refused session: UserSession error %v, want %v", err, user.ErrNotFound)
	}
	if _, _, err := s.Sessions.RefreshToken(ctx, ghostT.Hash); err == nil {
		t.Errorf("the refused session's token: RefreshToken found it, want it not stored")
	}
}

// testTxRefusedEventKeepsTx: an audit event whose text the store cannot
// hold (bytes that are not UTF-8, a NUL in its detail), appended inside a
// transaction, is stored or refused; refused, it changes nothing and
// leaves the transaction usable (AuditLog.Append), so that its caller can
// store it again without that text and commit.
func testTxRefusedEventKeepsTx(t *testing.T, open newStores) {
	s := open(t)
	ctx := t.Context()
	ada := NewUser(1)
	odd := NewAuditEvent(user.AuditLoginFailed, uuid.Nil, uuid.Must(uuid.NewV7()), now())
	odd.UserAgent, odd.Detail = "agent \xff\xfe", map[string]string{"note": "a\x00b"}
	var refused error
	err := s.Tx.Atomic(ctx, func(tx user.Stores) error {
		refused = tx.Audit.Append(ctx, odd)
		if _, err := tx.Users.Create(ctx, ada); err != nil {
			return err
		}
		return tx.Audit.Append(ctx, NewAuditEvent(user.AuditRegistered, ada.ID, ada.ID, now()))
	})
	if err != nil {
		t.Fatalf("Atomic going on after an event the store refused (%v): got error %v, want nil", refused, err)
	}
	byID(t, s.Users, ada.ID)
	got := auditEvents(t, s.Audit, user.AuditFilter{SubjectID: odd.SubjectID})
	if want := map[bool]int{true: 0, false: 1}[refused != nil]; len(got) != want {
		t.Errorf("events of the odd event's subject: got %d, want %d (Append error %v)", len(got), want, refused)
	}
}
