package user_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// errDown is what a failing database returns in these tests.
var errDown = errors.New("database is down")

// countingHasher wraps bcrypt at its minimum cost and counts verifications,
// so tests can see that every login path does one.
type countingHasher struct {
	*security.Bcrypt
	verifies int
}

func (h *countingHasher) Verify(hash, password string) bool {
	h.verifies++
	return h.Bcrypt.Verify(hash, password)
}

// What the service logs when it cannot tell its caller (the messages of
// the records these tests look for).
const (
	logAuditLost   = "audit event lost: could not append it"
	logMailFailed  = "account mail failed"
	logRehashFail  = "re-hash of a password on login failed; the old hash stays"
	logReuseRevoke = "refresh token reused after rotation: session revoked"
)

// logs captures what a service logs, one JSON object a record. It is safe
// for the service's background work to write to.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// logger is a logger writing every level to l.
func (l *logs) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// String is everything logged so far.
func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// records returns the records logged with message msg, oldest first, each
// as its fields ("level", "msg" and the attributes).
func (l *logs) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(l.String()))
	var out []map[string]any
	for {
		var r map[string]any
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("reading the log: %v", err)
		}
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
}

type fixture struct {
	svc    *user.Service
	mem    *usertest.Memory // the store's test hooks
	stores user.Stores      // the same store, as the service sees it
	hasher *countingHasher
	tokens *security.JWT
	log    *logs
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	b, err := security.NewBcrypt(4)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := security.NewHS256([]byte(strings.Repeat("k", 32)), "test", time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	mem := usertest.NewMemory()
	f := fixture{mem: mem, stores: mem.Stores(), hasher: &countingHasher{Bcrypt: b}, tokens: tokens, log: &logs{}}
	f.svc = user.NewService(f.deps(), user.Policy{})
	return f
}

// deps are the fixture's store, hasher, tokens and logger, for a test to
// add to before building its own service.
func (f fixture) deps() user.Deps {
	return user.Deps{Stores: f.stores, Hasher: f.hasher, Tokens: f.tokens, Log: f.log.logger()}
}

// events returns every stored audit event, oldest first.
func (f fixture) events(t *testing.T) []user.AuditEvent {
	t.Helper()
	all, err := f.stores.Audit.Events(t.Context(), user.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all
}

// kinds lists the kinds of the events about subject, oldest first.
func (f fixture) kinds(t *testing.T, subject uuid.UUID) []string {
	t.Helper()
	var out []string
	for _, e := range f.events(t) {
		if e.SubjectID == subject {
			out = append(out, string(e.Kind))
		}
	}
	return out
}

// ofKind lists the events of kind, oldest first.
func (f fixture) ofKind(t *testing.T, kind user.AuditKind) []user.AuditEvent {
	t.Helper()
	var out []user.AuditEvent
	for _, e := range f.events(t) {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// actingAdmin is an active administrator as Authenticate would hand it to
// an admin method; the service trusts the actor it is given, so it need
// not be stored.
var actingAdmin = user.User{ID: uuid.MustParse("0190b5a0-0000-7000-8000-00000000ad01"), Username: "root", Role: user.RoleAdmin, IsActive: true}

var ada = user.Registration{Email: "Ada@Example.com", Username: "ada", Password: "correct horse"}

var bob = user.Registration{Email: "bob@example.com", Username: "bob", Password: "bob's horse staple"}

func (f fixture) register(t *testing.T, r user.Registration) user.User {
	t.Helper()
	u, err := f.svc.Register(context.Background(), r)
	if err != nil {
		t.Fatalf("Register(%+v) error = %v", r, err)
	}
	return u
}

func TestRegister(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	if u.Email != ada.Email || u.Username != ada.Username || !u.IsActive {
		t.Errorf("Register() = %+v, want email %q, username %q, active", u, ada.Email, ada.Username)
	}
	if u.PasswordHash == ada.Password || !f.hasher.Bcrypt.Verify(u.PasswordHash, ada.Password) {
		t.Error("stored hash does not verify the password, or is the password itself")
	}
	if u.ID.Version() != 7 {
		t.Errorf("user id version = %d, want 7 (time-ordered)", u.ID.Version())
	}
}

func TestRegisterRejectsInvalidInput(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    user.Registration
		field string
	}{
		{"missing email", user.Registration{Username: "ada", Password: "long enough"}, "email"},
		{"display name email", user.Registration{Email: "Ada <ada@example.com>", Username: "ada", Password: "long enough"}, "email"},
		{"email without dot in domain", user.Registration{Email: "ada@localhost", Username: "ada", Password: "long enough"}, "email"},
		{"email with space", user.Registration{Email: "a da@example.com", Username: "ada", Password: "long enough"}, "email"},
		{"non-ASCII email", user.Registration{Email: "adä@example.com", Username: "ada", Password: "long enough"}, "email"},
		{"email domain literal", user.Registration{Email: "ada@[127.0.0.1]", Username: "ada", Password: "long enough"}, "email"},
		{"email domain dots", user.Registration{Email: "ada@example..com", Username: "ada", Password: "long enough"}, "email"},
		{"email too long", user.Registration{Email: strings.Repeat("a", 250) + "@example.com", Username: "ada", Password: "long enough"}, "email"},
		{"short username", user.Registration{Email: "ada@example.com", Username: "ad", Password: "long enough"}, "username"},
		{"long username", user.Registration{Email: "ada@example.com", Username: strings.Repeat("a", 33), Password: "long enough"}, "username"},
		{"username with @", user.Registration{Email: "ada@example.com", Username: "ada@home", Password: "long enough"}, "username"},
		{"short password", user.Registration{Email: "ada@example.com", Username: "ada", Password: "short"}, "password"},
		{"seven runes in more bytes", user.Registration{Email: "ada@example.com", Username: "ada", Password: "ééééééé"}, "password"},
		{"73-byte password", user.Registration{Email: "ada@example.com", Username: "ada", Password: strings.Repeat("p", 73)}, "password"},
		{"invalid UTF-8 password", user.Registration{Email: "ada@example.com", Username: "ada", Password: "long enough\xff"}, "password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.svc.Register(context.Background(), tt.in)
			var v *user.ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("Register() error = %v, want a *user.ValidationError", err)
			}
			if v.Field != tt.field {
				t.Errorf("invalid field = %q (%v), want %q", v.Field, v, tt.field)
			}
			if f.mem.Len() != 0 {
				t.Errorf("%d users stored, want none", f.mem.Len())
			}
		})
	}
}

func TestRegisterAcceptsBoundaries(t *testing.T) {
	f := newFixture(t)
	f.register(t, user.Registration{Email: "a.b+tag@sub.example.org", Username: "a_b.c-d", Password: strings.Repeat("p", 72)})
	f.register(t, user.Registration{Email: "x@y.io", Username: "xyz", Password: "éééééééé"})
}

func TestRegisterDuplicates(t *testing.T) {
	f := newFixture(t)
	f.register(t, ada)
	for _, tt := range []struct {
		name string
		in   user.Registration
		want error
	}{
		{"same email other case", user.Registration{Email: "ADA@example.COM", Username: "other", Password: "long enough"}, user.ErrEmailTaken},
		{"same username other case", user.Registration{Email: "other@example.com", Username: "ADA", Password: "long enough"}, user.ErrUsernameTaken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.svc.Register(context.Background(), tt.in); !errors.Is(err, tt.want) {
				t.Errorf("Register() error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	for _, login := range []string{"ada", "ADA", "ada@example.com", "Ada@Example.com"} {
		t.Run(login, func(t *testing.T) {
			tok, err := f.svc.Login(context.Background(), login, ada.Password, "")
			if err != nil {
				t.Fatalf("Login(%q) error = %v", login, err)
			}
			if tok.ExpiresIn != time.Hour {
				t.Errorf("ExpiresIn = %v, want 1h", tok.ExpiresIn)
			}
			got, sess, err := f.svc.Authenticate(context.Background(), tok.Token)
			if err != nil || got.ID != u.ID || sess.ID != tok.SessionID {
				t.Errorf("Authenticate(token) = %v, %v, %v; want user %v and session %v", got.ID, sess.ID, err, u.ID, tok.SessionID)
			}
		})
	}
}

func TestLoginFailuresAreAlikeAndCostOneVerify(t *testing.T) {
	f := newFixture(t)
	f.register(t, ada)
	inactive := f.register(t, user.Registration{Email: "bob@example.com", Username: "bob", Password: "bob's password"})
	f.mem.SetActive(inactive.ID, false)
	for _, tt := range []struct{ name, login, password string }{
		{"wrong password", "ada", "wrong password"},
		{"unknown username", "nobody", ada.Password},
		{"unknown email", "nobody@example.com", ada.Password},
		{"empty login", "", ada.Password},
		{"inactive with right password", "bob", "bob's password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := f.hasher.verifies
			_, err := f.svc.Login(context.Background(), tt.login, tt.password, "")
			if !errors.Is(err, user.ErrInvalidCredentials) {
				t.Errorf("Login() error = %v, want ErrInvalidCredentials", err)
			}
			if n := f.hasher.verifies - before; n != 1 {
				t.Errorf("password verifications = %d, want exactly 1 so timing reveals nothing", n)
			}
		})
	}
}

func TestLoginStoreFailure(t *testing.T) {
	f := newFixture(t)
	f.mem.SetFail(errDown)
	if _, err := f.svc.Login(context.Background(), "ada", "whatever1", ""); !errors.Is(err, errDown) {
		t.Errorf("Login() error = %v, want the store's error", err)
	}
}

func TestAuthenticateRejects(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	tok, err := f.svc.Login(context.Background(), "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := security.NewHS256([]byte(strings.Repeat("o", 32)), "test", time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := other.Issue(security.Claims{UserID: u.ID, Version: 0, SessionID: tok.SessionID})
	if err != nil {
		t.Fatal(err)
	}
	// A user who does not exist, named with a real session id.
	ghost, _, err := f.tokens.Issue(security.Claims{UserID: uuid.Must(uuid.NewV7()), SessionID: tok.SessionID})
	if err != nil {
		t.Fatal(err)
	}
	sessionless, _, err := f.tokens.Issue(security.Claims{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		token string
		setup func()
	}{
		{"garbage", "not a token", func() {}},
		{"other key", forged, func() {}},
		{"unknown user", ghost, func() {}},
		{"no session", sessionless, func() {}},
		{"inactive user", tok.Token, func() { f.mem.SetActive(u.ID, false) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			if _, _, err := f.svc.Authenticate(context.Background(), tt.token); !errors.Is(err, user.ErrUnauthenticated) {
				t.Errorf("Authenticate() error = %v, want ErrUnauthenticated", err)
			}
		})
	}
}

func TestAuthenticateStoreFailure(t *testing.T) {
	f := newFixture(t)
	f.register(t, ada)
	tok, err := f.svc.Login(context.Background(), "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	f.mem.SetFail(errDown)
	if _, _, err := f.svc.Authenticate(context.Background(), tok.Token); !errors.Is(err, errDown) {
		t.Errorf("Authenticate() error = %v, want the store's error (a 500, not a 401)", err)
	}
}

func ptr(s string) *string { return &s }

func TestUpdate(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	f.register(t, user.Registration{Email: "bob@example.com", Username: "bob", Password: "long enough"})
	ctx := context.Background()

	got, err := f.svc.Update(ctx, signedIn(u.ID, uuid.Nil), user.Patch{FullName: ptr("Ada Lovelace")}, "")
	if err != nil || got.FullName != "Ada Lovelace" || got.Email != ada.Email {
		t.Fatalf("Update(full_name) = %+v, %v; want name set and email kept", got, err)
	}
	got, err = f.svc.Update(ctx, signedIn(u.ID, uuid.Nil), user.Patch{Email: ptr("ada@lovelace.dev")}, "")
	if err != nil || got.Email != "ada@lovelace.dev" || got.FullName != "Ada Lovelace" {
		t.Fatalf("Update(email) = %+v, %v; want email set and name kept", got, err)
	}
	got, err = f.svc.Update(ctx, signedIn(u.ID, uuid.Nil), user.Patch{}, "")
	if err != nil || got.Email != "ada@lovelace.dev" {
		t.Fatalf("Update(empty) = %+v, %v; want the user unchanged", got, err)
	}
	got, err = f.svc.Update(ctx, signedIn(u.ID, uuid.Nil), user.Patch{FullName: ptr("")}, "")
	if err != nil || got.FullName != "" {
		t.Fatalf("Update(full_name \"\") = %+v, %v; want the name cleared", got, err)
	}
	if _, err := f.svc.Update(ctx, signedIn(u.ID, uuid.Nil), user.Patch{Email: ptr("BOB@example.com")}, ""); !errors.Is(err, user.ErrEmailTaken) {
		t.Errorf("Update(taken email) error = %v, want ErrEmailTaken", err)
	}
	for _, p := range []user.Patch{
		{Email: ptr("not an email")},
		{FullName: ptr(strings.Repeat("x", 256))},
		{FullName: ptr("bell\a")},
		{FullName: ptr("bad\xffutf8")},
	} {
		var v *user.ValidationError
		if _, err := f.svc.Update(ctx, signedIn(u.ID, uuid.Nil), p, ""); !errors.As(err, &v) {
			t.Errorf("Update(%+v) error = %v, want a ValidationError", p, err)
		}
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	ctx := context.Background()
	old, err := f.svc.Login(ctx, "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}

	if err := f.svc.ChangePassword(ctx, signedIn(u.ID, uuid.Nil), "wrong password", "brand new pass"); !errors.Is(err, user.ErrWrongPassword) {
		t.Errorf("ChangePassword(wrong current) error = %v, want ErrWrongPassword", err)
	}
	var v *user.ValidationError
	if err := f.svc.ChangePassword(ctx, signedIn(u.ID, uuid.Nil), ada.Password, "short"); !errors.As(err, &v) || v.Field != "new_password" {
		t.Errorf("ChangePassword(short) error = %v, want a ValidationError on new_password", err)
	}
	if err := f.svc.ChangePassword(ctx, signedIn(u.ID, uuid.Nil), ada.Password, ada.Password); !errors.As(err, &v) || v.Field != "new_password" {
		t.Errorf("ChangePassword(same) error = %v, want a ValidationError on new_password", err)
	}
	// The caller's own account, deleted while the request ran: the
	// credentials that named it are no longer good.
	if err := f.svc.ChangePassword(ctx, signedIn(uuid.Must(uuid.NewV7()), uuid.Nil), ada.Password, "brand new pass"); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("ChangePassword(unknown user) error = %v, want ErrUnauthenticated", err)
	}

	if err := f.svc.ChangePassword(ctx, signedIn(u.ID, uuid.Nil), ada.Password, "brand new pass"); err != nil {
		t.Fatalf("ChangePassword() error = %v", err)
	}
	if _, _, err := f.svc.Authenticate(ctx, old.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("token from before the change: Authenticate() error = %v, want ErrUnauthenticated", err)
	}
	if _, err := f.svc.Login(ctx, "ada", ada.Password, ""); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Errorf("Login(old password) error = %v, want ErrInvalidCredentials", err)
	}
	fresh, err := f.svc.Login(ctx, "ada", "brand new pass", "")
	if err != nil {
		t.Fatalf("Login(new password) error = %v", err)
	}
	if _, _, err := f.svc.Authenticate(ctx, fresh.Token); err != nil {
		t.Errorf("fresh token: Authenticate() error = %v", err)
	}
}

func TestDelete(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	ctx := context.Background()
	tok, err := f.svc.Login(ctx, "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(ctx, signedIn(u.ID, uuid.Nil)); err != nil {
		t.Fatalf("Delete() error = %v", err)
	}
	if _, _, err := f.svc.Authenticate(ctx, tok.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("deleted user's token: Authenticate() error = %v, want ErrUnauthenticated", err)
	}
	if err := f.svc.Delete(ctx, signedIn(u.ID, uuid.Nil)); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("second Delete() error = %v, want ErrUnauthenticated (the caller's account is gone)", err)
	}
	f.register(t, ada) // the email and username are free again
}

func TestValidationErrorMessage(t *testing.T) {
	err := user.ValidateUsername("a")
	if got, want := err.Error(), "username: must be 3 to 32 characters"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// justNow is the authentication time of signedIn's sessions: later than
// any fixture's clock, so their password login always counts as recent.
var justNow = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// signedIn is the caller of the user id in its session sessionID, which
// has just logged in with the password.
func signedIn(id, sessionID uuid.UUID) user.Caller {
	return user.Caller{User: user.User{ID: id}, Session: user.Session{ID: sessionID, AuthenticatedAt: justNow}}
}
