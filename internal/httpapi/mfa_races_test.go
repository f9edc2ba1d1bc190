package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// The second step of a password login (the mfa_required exchange) against
// what happens to the account while an mfa_token is out: the owner ends
// the account's sessions or changes its factors.

// owned is an account with a TOTP authenticator, as its owner holds it.
type owned struct {
	account
	id     uuid.UUID
	token  string // a session of the password, opened just now
	secret string // the authenticator whose codes a login asks for
}

// TestPendingSecondStepsEndWithTheSessions: whatever ends an account's
// sessions, or changes its second factors, ends the logins of the
// account half done too. Before, an attacker who knew the old password
// logged in, kept the mfa_token through the owner's password change or
// reset (or a log-out everywhere, a deactivation and reactivation, a
// factor reset) and finished the login with a phished code for the
// token's five minutes.
func TestPendingSecondStepsEndWithTheSessions(t *testing.T) {
	for _, tt := range []struct {
		name string
		// meanwhile is what happens while the attacker holds the mfa_token,
		// done by o's owner or by the administrator of admin; it may give
		// the account another authenticator (o.secret).
		meanwhile func(s *server, o *owned, admin string)
		ends      bool
	}{
		{"nothing", func(*server, *owned, string) {}, false},
		{"password change", func(s *server, o *owned, _ string) {
			body := jsonBody(map[string]string{"current_password": o.Password, "new_password": "a brand new passphrase"})
			s.want204(req{method: "PUT", path: "/api/v1/users/me/password", token: o.token, body: body})
		}, true},
		{"password reset", func(s *server, o *owned, _ string) {
			s.requestReset(o.Email, nil)
			if res := s.confirmReset(s.nextMail(usertest.MailReset, o.Email).Token, "a brand new passphrase"); res.Status != http.StatusNoContent {
				s.t.Fatalf("confirm the reset: got %v, want 204", res)
			}
		}, true},
		{"log out everywhere", func(s *server, o *owned, _ string) {
			s.want204(req{method: "POST", path: "/api/v1/logout?scope=all", token: o.token})
		}, true},
		{"deactivation and reactivation", func(s *server, o *owned, admin string) {
			for _, verb := range []string{"deactivate", "reactivate"} {
				if res := s.do(req{method: "POST", path: "/api/v1/admin/users/" + o.id.String() + "/" + verb, token: admin}); res.Status != http.StatusOK {
					s.t.Fatalf("%s: got %v, want 200", verb, res)
				}
			}
		}, true},
		{"email change undone", func(s *server, o *owned, _ string) {
			if res := s.updateMe(o.token, `{"email":"someone.else@example.com"}`); res.Status != http.StatusOK {
				s.t.Fatalf("email change: got %v, want 200", res)
			}
			undo := s.nextMail(usertest.MailEmailChanged, o.Email)
			s.want204(req{method: "POST", path: "/api/v1/email-change/undo", body: jsonBody(map[string]string{"token": undo.Token})})
		}, true},
		{"factors reset by an administrator, then a new authenticator", func(s *server, o *owned, admin string) {
			s.want204(req{method: "DELETE", path: "/api/v1/admin/users/" + o.id.String() + "/mfa", token: admin})
			o.secret, _ = s.enrolTOTP(o.token)
		}, true},
		{"authenticator removed, then a new one", func(s *server, o *owned, _ string) {
			s.want204(req{method: "DELETE", path: "/api/v1/users/me/mfa/totp", token: o.token})
			o.secret, _ = s.enrolTOTP(o.token)
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, kind string) {
				s := newServer(t, kind)
				adm, admID := s.signUp()
				s.setRole(admID, user.RoleAdmin)
				admin := s.token(adm.Username, adm.Password)
				var o owned
				o.account, o.token = s.signedUp()
				o.id = uuid.MustParse(s.do(req{method: "GET", path: "/api/v1/users/me", token: o.token}).object(t)["id"].(string))
				o.secret, _ = s.enrolTOTP(o.token)

				mfaToken := s.mfaToken(o.Username, o.Password) // the attacker's, with the old password
				tt.meanwhile(s, &o, admin)
				s.Clock.Advance(30 * time.Second) // a code of a step not used yet (a phished one)
				res := s.secondStep("mfa-otp", mfaToken, "otp", otpCode(t, o.secret, s.Clock.Now()))
				if !tt.ends {
					if res.Status != http.StatusOK {
						t.Fatalf("second step: got %v, want 200", res)
					}
					return
				}
				if b := wantOAuthError(t, res, http.StatusBadRequest, "invalid_grant", ""); b["code"] != "invalid_mfa_token" {
					t.Errorf("second step of an mfa_token from before: got %v, want invalid_mfa_token", res)
				}
			})
		})
	}
}

// want204 sends r and stops the test unless it answers 204.
func (s *server) want204(r req) {
	s.t.Helper()
	if res := s.do(r); res.Status != http.StatusNoContent {
		s.t.Fatalf("%s %s: got %v, want 204", r.method, r.path, res)
	}
}

// hooks are what a test runs, when it sets them, after the service's
// lookups of an mfa_token's challenge (the first thing a second step
// does, where two second steps of one token both still see it unused),
// its claims of one (use: inside the second step's transaction) and its
// lookups of a TOTP factor.
type hooks struct{ byHash, use, totp atomic.Pointer[func()] }

// run runs the hook h holds, if any.
func run(h *atomic.Pointer[func()]) {
	if f := h.Load(); f != nil {
		(*f)()
	}
}

type hookedChallenges struct {
	user.MFAChallenges
	hooks *hooks
}

func (h hookedChallenges) ByHash(ctx context.Context, hash []byte) (user.MFAChallenge, error) {
	c, err := h.MFAChallenges.ByHash(ctx, hash)
	run(&h.hooks.byHash)
	return c, err
}

func (h hookedChallenges) Use(ctx context.Context, hash []byte, now time.Time) error {
	err := h.MFAChallenges.Use(ctx, hash, now)
	if err == nil {
		run(&h.hooks.use)
	}
	return err
}

type hookedFactors struct {
	user.Factors
	hooks *hooks
}

func (h hookedFactors) TOTP(ctx context.Context, userID uuid.UUID) (user.TOTPFactor, error) {
	f, err := h.Factors.TOTP(ctx, userID)
	run(&h.hooks.totp)
	return f, err
}

// newHookedServer is newServer whose service reaches the challenges and
// the factors through the hooks the test sets.
func newHookedServer(t *testing.T, kind string, opts ...apptest.Option) (*server, *hooks) {
	t.Helper()
	h := new(hooks)
	s := newServer(t, kind, append(opts, apptest.WrapStores(func(st user.Stores) user.Stores {
		st.MFAChallenges = hookedChallenges{MFAChallenges: st.MFAChallenges, hooks: h}
		st.Factors = hookedFactors{Factors: st.Factors, hooks: h}
		return st
	}))...)
	return s, h
}

// rendezvous returns a hook that holds its first n callers until all n
// have come (for ten seconds at most) and lets later ones through, and
// met, which reports whether they all came.
func rendezvous(n int) (hook func(), met func() bool) {
	var mu sync.Mutex
	came := 0
	all := make(chan struct{})
	hook = func() {
		mu.Lock()
		came++
		k := came
		if k == n {
			close(all)
		}
		mu.Unlock()
		if k <= n {
			select {
			case <-all:
			case <-time.After(10 * time.Second):
			}
		}
	}
	met = func() bool {
		select {
		case <-all:
			return true
		default:
			return false
		}
	}
	return hook, met
}

// TestPasswordChangeEndsASecondStepFinishingMeanwhile: on PostgreSQL,
// where transactions overlap, a password change made while a second step
// has claimed its mfa_token but not yet committed its session waits for
// that step and then revokes the session it opened. The second step is
// held, in its transaction, until the change is seen waiting for a lock.
// Were the change to revoke the sessions before ending the pending
// logins, it would miss the session about to be committed, and the
// attacker's refresh token would outlive the new password.
func TestPasswordChangeEndsASecondStepFinishingMeanwhile(t *testing.T) {
	s, hooks, watch := newWatchedServer(t)
	a, token, secret := s.withTOTP()
	mfaToken := s.mfaToken(a.Username, a.Password)

	changed := make(chan response, 1)
	var fired atomic.Bool
	meanwhile := func() {
		if !fired.CompareAndSwap(false, true) {
			return
		}
		body := jsonBody(map[string]string{"current_password": a.Password, "new_password": "a brand new passphrase"})
		go func() {
			changed <- s.do(req{method: "PUT", path: "/api/v1/users/me/password", token: token, body: body})
		}()
		waitForLockWait(t, watch, "the password change")
	}
	hooks.use.Store(&meanwhile)
	res := s.secondStep("mfa-otp", mfaToken, "otp", otpCode(t, secret, s.Clock.Now()))
	hooks.use.Store(nil)
	if res.Status != http.StatusOK {
		t.Fatalf("the second step, committed before the change: got %v, want 200", res)
	}
	if c := <-changed; c.Status != http.StatusNoContent {
		t.Fatalf("password change: got %v, want 204", c)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {res.object(t)["refresh_token"].(string)}}
	refreshed := s.do(req{method: "POST", path: "/api/v1/token", body: form.Encode(), contentType: formType})
	wantOAuthError(t, refreshed, http.StatusBadRequest, "invalid_grant", "")
}

// newWatchedServer is newHookedServer on PostgreSQL, with a connection
// to its database that watches its locks.
func newWatchedServer(t *testing.T) (*server, *hooks, *pgx.Conn) {
	t.Helper()
	dbURL := storetest.PostgresURL(t)
	s, hooks := newHookedServer(t, apptest.Postgres, apptest.Env("DATABASE_URL", dbURL))
	watch, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = watch.Close(context.Background()) })
	return s, hooks, watch
}

// waitForLockWait waits (ten seconds at most) until a session of the
// database watch is connected to waits for a lock, as the request who
// does (named in the failure) should.
func waitForLockWait(t *testing.T, watch *pgx.Conn, who string) {
	t.Helper()
	waitForLockWaitOr(t, watch, who, nil)
}

// waitForLockWaitOr is waitForLockWait that also stops once who says on
// done (nil: never) that it ended, putting what it said back.
func waitForLockWaitOr(t *testing.T, watch *pgx.Conn, who string, done chan error) {
	t.Helper()
	const q = `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		select {
		case err := <-done:
			done <- err
			return
		default:
		}
		var n int
		if err := watch.QueryRow(t.Context(), q).Scan(&n); err != nil {
			t.Errorf("watch the locks: %v", err)
			return
		}
		if n > 0 {
			return
		}
	}
	t.Errorf("%s neither ended nor waited for a lock", who)
}

// TestOneMFATokenFinishesOneLogin: two second steps of one mfa_token at
// once, each with a recovery code of its own, both held after looking
// the token up (unused) until the other has too. Before, both codes were
// used up: the check used its code in a transaction of its own, and only
// then was the token marked used, so the step that lost it (answered
// invalid_mfa_token) had burnt a code for nothing. Now one login opens,
// and the other step's code stays unused.
func TestOneMFATokenFinishesOneLogin(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, hooks := newHookedServer(t, kind)
		a, token := s.signedUp()
		_, codes := s.enrolTOTP(token)
		mfaToken := s.mfaToken(a.Username, a.Password)
		meet, met := rendezvous(2)
		hooks.byHash.Store(&meet)
		var res [2]response
		var wg sync.WaitGroup
		for i := range res {
			wg.Go(func() { res[i] = s.secondStep("mfa-recovery-code", mfaToken, "recovery_code", codes[i]) })
		}
		wg.Wait()
		hooks.byHash.Store(nil)
		if !met() {
			t.Fatal("the two second steps did not both look the mfa_token up before going on")
		}
		won := -1
		for i, r := range res {
			if r.Status == http.StatusOK && won < 0 {
				won = i
				continue
			}
			if b := wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant", ""); b["code"] != "invalid_mfa_token" {
				t.Errorf("the second step that lost the mfa_token: got %v, want invalid_mfa_token", r)
			}
		}
		if won < 0 {
			t.Fatalf("no second step finished the login: %v", res)
		}
		if st := s.do(req{method: "GET", path: "/api/v1/users/me/mfa", token: token}).object(t); st["recovery_codes_left"] != float64(user.RecoveryCodeCount-1) {
			t.Errorf("recovery codes left: %v, want %d (one used by the one login)", st["recovery_codes_left"], user.RecoveryCodeCount-1)
		}
		var sessions []map[string]any
		if err := jsonDecode(s.do(req{method: "GET", path: "/api/v1/users/me/sessions", token: token}), &sessions); err != nil || len(sessions) != 2 {
			t.Errorf("sessions: got %d (%v), want 2 (the owner's and the one login's)", len(sessions), err)
		}
		lost := codes[1-won]
		if res := s.secondStep("mfa-recovery-code", s.mfaToken(a.Username, a.Password), "recovery_code", lost); res.Status != http.StatusOK {
			t.Errorf("the losing step's recovery code in a login of its own: got %v, want 200", res)
		}
	})
}

// TestTheSecondStepThatLosesItsMFATokenUsesNoCode: two second steps of
// one mfa_token with TOTP codes of two time steps (the previous step's
// code is still accepted), the one with the current code held after
// looking the token up (unused) while the other finishes the login.
// Before, the held step then used up the current step for nothing (its
// answer invalid_mfa_token), so the owner's own login with that code was
// refused as a replay; now it uses nothing.
func TestTheSecondStepThatLosesItsMFATokenUsesNoCode(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, hooks := newHookedServer(t, kind)
		a, _, secret := s.withTOTP()
		current := otpCode(t, secret, s.Clock.Now())
		previous := otpCode(t, secret, s.Clock.Now().Add(-30*time.Second))
		mfaToken := s.mfaToken(a.Username, a.Password)
		var first response
		var fired atomic.Bool
		other := func() {
			if fired.CompareAndSwap(false, true) {
				first = s.secondStep("mfa-otp", mfaToken, "otp", previous)
			}
		}
		hooks.byHash.Store(&other)
		held := s.secondStep("mfa-otp", mfaToken, "otp", current)
		hooks.byHash.Store(nil)
		if first.Status != http.StatusOK {
			t.Fatalf("the second step that went first: got %v, want 200", first)
		}
		if b := wantOAuthError(t, held, http.StatusBadRequest, "invalid_grant", ""); b["code"] != "invalid_mfa_token" {
			t.Errorf("the held second step: got %v, want invalid_mfa_token", held)
		}
		if res := s.secondStep("mfa-otp", s.mfaToken(a.Username, a.Password), "otp", current); res.Status != http.StatusOK {
			t.Errorf("the held step's code in a login of its own: got %v, want 200 (its time step unused)", res)
		}
	})
}

// TestConfirmTOTPConfirmsTheSecretItChecked: a confirmation's code is
// checked against the authenticator being set up while another set-up
// of the account (its other session: another tab, or a thief's) replaces
// it. Before, the confirmation then turned on the newer secret, which the
// confirming client had never seen: the account asked at login for the
// codes of an app its owner did not have, or of the thief's. Now it is
// refused as a wrong code, the newer set-up stays pending, and only its
// own code turns it on.
func TestConfirmTOTPConfirmsTheSecretItChecked(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, hooks := newHookedServer(t, kind)
		a, token := s.signedUp()
		other := s.token(a.Username, a.Password)
		enrol := func(token string) string {
			res := s.do(req{method: "POST", path: "/api/v1/users/me/mfa/totp", token: token})
			if res.Status != http.StatusCreated {
				t.Fatalf("enrol TOTP: got %v, want 201", res)
			}
			return res.object(t)["secret"].(string)
		}
		confirm := func(token, secret string) response {
			return s.do(req{method: "POST", path: "/api/v1/users/me/mfa/totp/confirm", token: token,
				body: `{"code":"` + otpCode(t, secret, s.Clock.Now()) + `"}`})
		}
		mine := enrol(token)
		var theirs string
		meanwhile := func() {
			if theirs == "" {
				theirs = enrol(other)
			}
		}
		hooks.totp.Store(&meanwhile)
		res := confirm(token, mine)
		hooks.totp.Store(nil)
		if theirs == "" {
			t.Fatal("no other set-up while the confirmation ran")
		}
		if b := wantProblem(t, res, http.StatusBadRequest, ""); b["code"] != "invalid_code" {
			t.Errorf("confirmation of a replaced set-up: got %v, want invalid_code", res)
		}
		if st := s.do(req{method: "GET", path: "/api/v1/users/me/mfa", token: token}).object(t); st["totp"] != "pending" {
			t.Errorf("status after the refused confirmation: %v, want totp pending", st)
		}
		if res := confirm(other, theirs); res.Status != http.StatusOK {
			t.Errorf("the newer set-up's own code: got %v, want 200", res)
		}
	})
}
