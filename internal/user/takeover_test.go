package user_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// loggedIn logs ada in and returns her as the caller of that session.
func (f *lifecycleFixture) loggedIn(t *testing.T, password string) (user.Caller, user.AccessToken) {
	t.Helper()
	tok, err := f.svc.Login(t.Context(), ada.Username, password, "")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	u, sess, err := f.svc.Authenticate(t.Context(), tok.Token)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return user.Caller{User: u, Session: sess}, tok
}

// TestSensitiveChangesNeedARecentLogin: within the window an email change
// and a delete are allowed; after it they need the password, which a
// wrong guess does not give, and Reauthenticate renews the window.
func TestSensitiveChangesNeedARecentLogin(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{})
	f.register(t, ada)
	c, _ := f.loggedIn(t, ada.Password)
	f.clock.Advance(user.DefaultReauthWindow + time.Second)
	moved := "ada@moved.example"
	if _, err := f.svc.Update(t.Context(), c, user.Patch{Email: &moved}, ""); !errors.Is(err, user.ErrReauthenticationRequired) {
		t.Fatalf("email change after the window = %v, want ErrReauthenticationRequired", err)
	}
	if err := f.svc.Delete(t.Context(), c); !errors.Is(err, user.ErrReauthenticationRequired) {
		t.Fatalf("delete after the window = %v, want ErrReauthenticationRequired", err)
	}
	if _, err := f.svc.Update(t.Context(), c, user.Patch{Email: &moved}, "not it at all"); !errors.Is(err, user.ErrWrongPassword) {
		t.Fatalf("email change with a wrong current password = %v, want ErrWrongPassword", err)
	}
	if _, err := f.svc.Update(t.Context(), c, user.Patch{Email: &moved}, ada.Password); err != nil {
		t.Fatalf("email change with the current password = %v", err)
	}
	if err := f.svc.Reauthenticate(t.Context(), c, "wrong again"); !errors.Is(err, user.ErrWrongPassword) {
		t.Fatalf("Reauthenticate(wrong) = %v", err)
	}
	if err := f.svc.Reauthenticate(t.Context(), c, ada.Password); err != nil {
		t.Fatalf("Reauthenticate = %v", err)
	}
	// The caller's session as Authenticate now reads it: renewed.
	_, sess, err := f.svc.Authenticate(t.Context(), mustLogin(t, f).Token)
	if err != nil || sess.AuthenticatedAt.IsZero() {
		t.Fatalf("Authenticate: %v", err)
	}
	c.Session.AuthenticatedAt = f.clock.Now()
	if err := f.svc.Delete(t.Context(), c); err != nil {
		t.Errorf("delete right after re-authenticating: %v", err)
	}
}

func mustLogin(t *testing.T, f *lifecycleFixture) user.AccessToken {
	t.Helper()
	tok, err := f.svc.Login(t.Context(), "ada@moved.example", ada.Password, "")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return tok
}

// TestEmailChangeNoticeAndUndo: the previous address is told, with a link
// that restores it verified, ends every session and uses up every link.
func TestEmailChangeNoticeAndUndo(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{})
	u := f.register(t, ada)
	verify := f.next(t, usertest.MailVerify, ada.Email)
	if _, err := f.svc.VerifyEmail(t.Context(), verify.Token); err != nil {
		t.Fatal(err)
	}
	c, tok := f.loggedIn(t, ada.Password)
	attacker := "mallory@evil.example"
	if _, err := f.svc.Update(t.Context(), c, user.Patch{Email: &attacker}, ""); err != nil {
		t.Fatal(err)
	}
	undo := f.next(t, usertest.MailEmailChanged, ada.Email)
	if undo.TTL != user.DefaultLifecyclePolicy.UndoTTL {
		t.Errorf("undo link valid %s, want %s", undo.TTL, user.DefaultLifecyclePolicy.UndoTTL)
	}
	f.next(t, usertest.MailVerify, attacker)
	// A reset asked now goes to the trusted (previous, verified) address.
	if err := f.svc.RequestPasswordReset(t.Context(), attacker); err != nil {
		t.Fatal(err)
	}
	reset := f.next(t, usertest.MailReset, ada.Email)
	if err := f.svc.UndoEmailChange(t.Context(), "short"); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("UndoEmailChange(garbage) = %v", err)
	}
	if err := f.svc.UndoEmailChange(t.Context(), undo.Token); err != nil {
		t.Fatalf("UndoEmailChange = %v", err)
	}
	got, err := f.stores.Users.ByID(t.Context(), u.ID)
	if err != nil || got.Email != ada.Email || !got.EmailVerified || got.TrustedEmail != ada.Email {
		t.Errorf("after the undo: %+v, %v; want %s back, verified and trusted", got, err, ada.Email)
	}
	if _, _, err := f.svc.Authenticate(t.Context(), tok.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("a session after the undo: %v, want ended", err)
	}
	if _, err := f.svc.ResetPassword(t.Context(), reset.Token, "a takeover password"); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("reset link after the undo = %v, want ErrInvalidToken", err)
	}
	if err := f.svc.UndoEmailChange(t.Context(), undo.Token); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("the undo link twice = %v, want ErrInvalidToken", err)
	}
	kinds := f.kinds(t, u.ID)
	if !slices.Contains(kinds, string(user.AuditEmailChangeUndone)) {
		t.Errorf("audit %v lacks %s", kinds, user.AuditEmailChangeUndone)
	}
}

// TestPasswordChangeNotifiesTheTrustedAddress: the notice goes to the
// trusted address, not to an unverified email.
func TestPasswordChangeNotifiesTheTrustedAddress(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{})
	f.register(t, ada)
	f.next(t, usertest.MailVerify, ada.Email)
	c, _ := f.loggedIn(t, ada.Password)
	unverified := "ada@unverified.example"
	if _, err := f.svc.Update(t.Context(), c, user.Patch{Email: &unverified}, ""); err != nil {
		t.Fatal(err)
	}
	f.next(t, usertest.MailEmailChanged, ada.Email)
	f.next(t, usertest.MailVerify, unverified)
	if err := f.svc.ChangePassword(t.Context(), c, ada.Password, "a completely new one"); err != nil {
		t.Fatal(err)
	}
	if m := nextMail(t, f.mail); m.Kind != usertest.MailPasswordChanged || !strings.EqualFold(m.To, ada.Email) || m.Token != "" {
		t.Errorf("notice = %+v, want %s to the trusted %s without a token", m, usertest.MailPasswordChanged, ada.Email)
	}
}

// TestSecurityEventThatCannotBeStoredUndoesItsChange: a password change
// whose audit event cannot be stored does not happen (ErrUnavailable),
// while an ordinary event is retried without its client text and counted.
func TestSecurityEventThatCannotBeStoredUndoesItsChange(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	obs := &observer{}
	d := f.deps()
	d.Observer = obs
	d.Stores = usertest.Wrap(d.Stores, func(s user.Stores) user.Stores { s.Audit = pickyLog{s.Audit}; return s })
	svc := user.NewService(d, user.Policy{})
	ctx := user.WithClient(context.Background(), user.Client{UserAgent: "refused-by-the-log"})
	err := svc.ChangePassword(ctx, signedIn(u.ID, uuid.Nil), ada.Password, "a new long passphrase")
	if err != nil {
		t.Fatalf("ChangePassword whose event is stored on the retry = %v", err)
	}
	if obs.retried != 1 || obs.lost != 0 {
		t.Errorf("observer: retried %d, lost %d; want 1, 0", obs.retried, obs.lost)
	}
	d.Stores = usertest.Wrap(f.stores, func(s user.Stores) user.Stores { s.Audit = failingLog{s.Audit}; return s })
	svc = user.NewService(d, user.Policy{})
	err = svc.ChangePassword(context.Background(), signedIn(u.ID, uuid.Nil), "a new long passphrase", "yet another passphrase")
	if !errors.Is(err, user.ErrUnavailable) || obs.lost != 1 {
		t.Fatalf("ChangePassword whose event cannot be stored = %v (lost %d), want ErrUnavailable and one lost", err, obs.lost)
	}
	if _, err := f.svc.Login(t.Context(), ada.Username, "a new long passphrase", ""); err != nil {
		t.Errorf("the password after the refused change: %v, want the one before it", err)
	}
}

// pickyLog refuses events with a user agent, as a database refuses text
// it cannot store.
type pickyLog struct{ user.AuditLog }

func (p pickyLog) Append(ctx context.Context, e user.AuditEvent) error {
	if e.UserAgent != "" {
		return errors.New("invalid byte sequence")
	}
	return p.AuditLog.Append(ctx, e)
}

type observer struct{ retried, lost int }

func (o *observer) AuditRetried(user.AuditKind) { o.retried++ }
func (o *observer) AuditLost(user.AuditKind)    { o.lost++ }

// TestClientTextIsCleaned: what a client sends is kept as valid UTF-8
// without control or format characters, at most MaxUserAgent bytes.
func TestClientTextIsCleaned(t *testing.T) {
	f := newFixture(t)
	f.register(t, ada)
	ua := "bad\xff\x00tool\u202e\r\n" + strings.Repeat("é", 300)
	ctx := user.WithClient(t.Context(), user.Client{UserAgent: ua, IP: "192.0.2.1", RequestID: "r\x00"})
	tok, err := f.svc.Login(ctx, ada.Username, ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	u, _, _ := f.svc.Authenticate(t.Context(), tok.Token)
	sessions, _, _ := f.svc.Sessions(t.Context(), u.ID, nil, 0)
	got := sessions[0].UserAgent
	if len(got) > user.MaxUserAgent || strings.ContainsAny(got, "\x00\r\n\u202e") || !strings.HasPrefix(got, "bad\ufffdtool") {
		t.Errorf("stored user agent %q, want it cleaned and cut", got)
	}
	for _, e := range f.events(t) {
		if strings.ContainsRune(e.RequestID, 0) || strings.ContainsRune(e.UserAgent, 0) {
			t.Errorf("event %s keeps a control character: %+v", e.Kind, e)
		}
	}
}
