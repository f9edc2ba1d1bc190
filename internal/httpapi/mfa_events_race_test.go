package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
)

// Whether a change of an account's second factors adds its first factor
// (user.mfa_enabled) or removes its last (user.mfa_disabled) is decided
// in the change's transaction, under a lock of the account: of two
// changes at once, exactly one announces it.

// beginHook runs, when set, as the service begins a transaction (before
// Transactor.Atomic): where a request has decided all it decides before
// its transaction, and another request can run meanwhile.
type beginHook struct {
	user.Transactor
	hook *atomic.Pointer[func()]
}

func (b beginHook) Atomic(ctx context.Context, fn func(user.Stores) error) error {
	run(b.hook)
	return b.Transactor.Atomic(ctx, fn)
}

// Unwrap is the Transactor b wraps (the passkeys find their transaction
// through it).
func (b beginHook) Unwrap() user.Transactor { return b.Transactor }

// newBeginHookedServer is newServer with the events delivered to sink and
// the hook run as the service begins each transaction.
func newBeginHookedServer(t *testing.T, kind string, sink apptest.EventSink) (*server, *atomic.Pointer[func()]) {
	t.Helper()
	h := new(atomic.Pointer[func()])
	s := newServer(t, kind, apptest.With(app.WithEventSink("test", sink), app.WithServiceStores(func(st user.Stores) user.Stores {
		st.Tx = beginHook{Transactor: st.Tx, hook: h}
		return st
	})))
	return s, h
}

// once returns a hook that runs other at its first call only.
func once(other func()) *func() {
	var fired atomic.Bool
	f := func() {
		if fired.CompareAndSwap(false, true) {
			other()
		}
	}
	return &f
}

// passkeyVerify readies the registration of a new passkey to the account
// of token and returns the request that finishes it.
func (s *server) passkeyVerify(token, name string) req {
	s.t.Helper()
	ceremony, pk := s.passkeyOptions("/api/v1/users/me/passkeys/register/options", token, "")
	cred, err := passkeytest.NewAuthenticator(passkeyOrigin).Create(pk)
	if err != nil {
		s.t.Fatal(err)
	}
	return req{method: "POST", path: "/api/v1/users/me/passkeys/register/verify", token: token, body: verifyBody(s.t, ceremony, cred, "name", name)}
}

// mfaEvents counts the user.mfa_enabled and user.mfa_disabled events of
// the account id of token, after making a change (a profile update)
// before which every one of them has come.
func (s *server) mfaEvents(sink apptest.EventSink, id uuid.UUID, token string) (enabled, disabled int) {
	s.t.Helper()
	if res := s.updateMe(token, `{"full_name":"Ada"}`); res.Status != http.StatusOK {
		s.t.Fatalf("update: %v", res)
	}
	for _, e := range apptest.EventsAbout(s.t, sink, map[int64]event.Event{}, id, event.UserUpdated, 1) {
		switch e.Type {
		case event.UserMFAEnabled:
			enabled++
		case event.UserMFADisabled:
			disabled++
		}
	}
	return enabled, disabled
}

// meID is the id of the account of token.
func (s *server) meID(token string) uuid.UUID {
	s.t.Helper()
	return uuid.MustParse(s.do(req{method: "GET", path: "/api/v1/users/me", token: token}).object(s.t)["id"].(string))
}

// TestFirstFactorIsAnnouncedOnce: a first passkey added while another
// request adds another (or confirms an authenticator app) between the
// moment the first decided what it adds and its transaction. Before, each
// decided "first factor" from what it read before its transaction (and a
// confirmed authenticator app always announced itself), so the account's
// consumers got two user.mfa_enabled; now one. Likewise removing the
// authenticator app while the last passkey goes: each saw the other
// still there, and no user.mfa_disabled came at all; now one.
func TestFirstFactorIsAnnouncedOnce(t *testing.T) {
	for _, tt := range []struct {
		name string
		// ready gives the account of token what the race needs, and returns
		// the request held before its transaction and the one run meanwhile.
		ready             func(s *server, token string) (held, meanwhile req)
		enabled, disabled int
	}{
		{"two first passkeys", func(s *server, token string) (req, req) {
			return s.passkeyVerify(token, "One"), s.passkeyVerify(token, "Two")
		}, 1, 0},
		{"a first passkey and an authenticator app", func(s *server, token string) (req, req) {
			res := s.do(req{method: "POST", path: "/api/v1/users/me/mfa/totp", token: token})
			if res.Status != http.StatusCreated {
				s.t.Fatalf("enrol TOTP: %v", res)
			}
			code := otpCode(s.t, res.object(s.t)["secret"].(string), s.Clock.Now())
			confirm := req{method: "POST", path: "/api/v1/users/me/mfa/totp/confirm", token: token, body: `{"code":"` + code + `"}`}
			return confirm, s.passkeyVerify(token, "Key")
		}, 1, 0},
		{"the authenticator app and the last passkey removed", func(s *server, token string) (req, req) {
			s.enrolTOTP(token)
			key := s.addPasskey(token, passkeytest.NewAuthenticator(passkeyOrigin), "Key")["id"].(string)
			return req{method: "DELETE", path: "/api/v1/users/me/mfa/totp", token: token},
				req{method: "DELETE", path: "/api/v1/users/me/passkeys/" + key, token: token}
		}, 1, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, kind string) {
				sink := make(apptest.EventSink, 64)
				s, hook := newBeginHookedServer(t, kind, sink)
				_, token := s.signedUp()
				held, meanwhile := tt.ready(s, token)
				var other response
				hook.Store(once(func() { other = s.do(meanwhile) }))
				res := s.do(held)
				hook.Store(nil)
				if res.Status >= 300 || other.Status >= 300 {
					t.Fatalf("the held request: %v; the one meanwhile: %v; want both done", res, other)
				}
				enabled, disabled := s.mfaEvents(sink, s.meID(token), token)
				if enabled != tt.enabled || disabled != tt.disabled {
					t.Errorf("user.mfa_enabled %d, user.mfa_disabled %d; want %d and %d", enabled, disabled, tt.enabled, tt.disabled)
				}
			})
		})
	}
}

// auditHook runs, when set, as the service appends an audit event of its
// kind (inside the transaction of the change it records).
type auditHook struct {
	user.AuditLog
	kind user.AuditKind
	hook *atomic.Pointer[func()]
}

func (a auditHook) Append(ctx context.Context, e user.AuditEvent) error {
	if err := a.AuditLog.Append(ctx, e); err != nil {
		return err
	}
	if e.Kind == a.kind {
		run(a.hook)
	}
	return nil
}

// overlappingPasskeys is a server on PostgreSQL, where transactions
// overlap, whose two passkey registrations (register, with the account's
// token) run at once: the second's transaction begins while the first's is
// open, held after recording its passkey, and waits for it on the
// account's lock.
type overlappingPasskeys struct {
	*server
	token string
	h     *atomic.Pointer[func()]
	watch *pgx.Conn
}

func newOverlappingPasskeys(t *testing.T, opts ...apptest.Option) overlappingPasskeys {
	t.Helper()
	dbURL := storetest.PostgresURL(t)
	h := new(atomic.Pointer[func()])
	s := newServer(t, apptest.Postgres, append([]apptest.Option{apptest.Env("DATABASE_URL", dbURL),
		apptest.WrapStores(func(st user.Stores) user.Stores {
			st.Audit = auditHook{AuditLog: st.Audit, kind: passkey.AuditRegistered, hook: h}
			return st
		})}, opts...)...)
	watch, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = watch.Close(context.Background()) })
	_, token := s.signedUp()
	return overlappingPasskeys{server: s, token: token, h: h, watch: watch}
}

// register registers the passkeys first and second at once, second's
// transaction waiting for first's, and returns their answers.
func (o overlappingPasskeys) register(first, second string) (response, response) {
	a, b := o.passkeyVerify(o.token, first), o.passkeyVerify(o.token, second)
	done := make(chan response, 1)
	o.h.Store(once(func() {
		go func() { done <- o.do(b) }()
		waitForLockWait(o.t, o.watch, "the passkey "+second)
	}))
	res := o.do(a)
	o.h.Store(nil)
	return res, <-done
}

// TestFirstPasskeysAddedInOverlappingTransactionsAnnounceOnce: on
// PostgreSQL, where transactions overlap, a second first passkey whose
// transaction begins while the first's is open (held after recording
// the passkey) waits for it on the account's lock, then finds the first
// passkey and announces nothing: one user.mfa_enabled. Without the lock
// both transactions read no factor and both announced one.
func TestFirstPasskeysAddedInOverlappingTransactionsAnnounceOnce(t *testing.T) {
	sink := make(apptest.EventSink, 64)
	o := newOverlappingPasskeys(t, apptest.With(app.WithEventSink("test", sink)))
	if res, other := o.register("One", "Two"); res.Status != http.StatusCreated || other.Status != http.StatusCreated {
		t.Fatalf("the two passkeys: %v and %v, want 201 each", res, other)
	}
	if enabled, _ := o.mfaEvents(sink, o.meID(o.token), o.token); enabled != 1 {
		t.Errorf("user.mfa_enabled %d, want 1", enabled)
	}
}

// TestPasskeyCapHoldsForRegistrationsAtOnce: an account one passkey under
// passkey.MaxPerUser registering two at the same moment keeps the cap:
// the second, whose transaction waits for the first's, is refused 409
// too_many_passkeys. The cap was counted before the transaction only, so
// both were stored, one over it.
func TestPasskeyCapHoldsForRegistrationsAtOnce(t *testing.T) {
	o := newOverlappingPasskeys(t)
	for i := range passkey.MaxPerUser - 1 {
		if res := o.do(o.passkeyVerify(o.token, fmt.Sprintf("Key %d", i))); res.Status != http.StatusCreated {
			t.Fatalf("passkey %d: %v", i, res)
		}
	}
	res, other := o.register("Last", "One too many")
	if res.Status != http.StatusCreated || other.Status != http.StatusConflict || other.object(t)["code"] != "too_many_passkeys" {
		t.Errorf("the last passkey and one more at once: %v and %v, want 201 and 409 too_many_passkeys", res, other)
	}
	list := o.do(req{method: "GET", path: "/api/v1/users/me/passkeys", token: o.token})
	var keys []json.RawMessage
	if err := json.Unmarshal(list.Body, &keys); err != nil || len(keys) != passkey.MaxPerUser {
		t.Errorf("the account holds %d passkeys (%v), want the cap, %d", len(keys), err, passkey.MaxPerUser)
	}
}

// TestPendingAppRemovedAnnouncesNothing: an authenticator app set up but
// never confirmed, removed again, on an account with no other factor.
// Its password logins never asked for a second factor, and no
// user.mfa_enabled came; a user.mfa_disabled told the account's
// consumers that a second factor it never had was gone.
func TestPendingAppRemovedAnnouncesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(apptest.EventSink, 64)
		s := newServer(t, kind, apptest.With(app.WithEventSink("test", sink)))
		_, token := s.signedUp()
		if res := s.do(req{method: "POST", path: "/api/v1/users/me/mfa/totp", token: token}); res.Status != http.StatusCreated {
			t.Fatalf("enrol TOTP: %v", res)
		}
		s.want204(req{method: "DELETE", path: "/api/v1/users/me/mfa/totp", token: token})
		if enabled, disabled := s.mfaEvents(sink, s.meID(token), token); enabled != 0 || disabled != 0 {
			t.Errorf("user.mfa_enabled %d, user.mfa_disabled %d; want none of either", enabled, disabled)
		}
	})
}
