package user_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// testClock is a settable clock, safe for the background work to read.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lifecycleFixture is a fixture whose service mails through a Mailbox,
// reads a clock the test moves and follows a lifecycle policy.
type lifecycleFixture struct {
	fixture
	mail  *usertest.Mailbox
	clock *testClock
	start func() *user.Service // a new service over the same store, mailbox and clock
}

func newLifecycleFixture(t *testing.T, p user.LifecyclePolicy) *lifecycleFixture {
	t.Helper()
	f := &lifecycleFixture{fixture: newFixture(t), mail: usertest.NewMailbox(), clock: &testClock{now: time.Now()}}
	d := f.deps()
	d.Notifier, d.Now = f.mail, f.clock.Now
	policy := user.Policy{Lifecycle: p, Password: user.PasswordPolicy{MinChars: 10}}
	f.start = func() *user.Service { return user.NewService(d, policy) }
	f.svc = f.start()
	t.Cleanup(func() {
		if err := f.svc.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// mailFailures returns the account mail failures the service logged, each
// record's error.
func (f *lifecycleFixture) mailFailures(t *testing.T) []string {
	t.Helper()
	var errs []string
	for _, r := range f.log.records(t, logMailFailed) {
		if r["level"] != "ERROR" {
			t.Errorf("mail failure logged at %v, want ERROR", r["level"])
		}
		e, _ := r["error"].(string)
		errs = append(errs, e)
	}
	return errs
}

// next waits (bounded) for the next mail.
func (f *lifecycleFixture) next(t *testing.T, kind, to string) usertest.Mail {
	t.Helper()
	m := nextMail(t, f.mail)
	if m.Kind != kind || !strings.EqualFold(m.To, to) || len(m.Token) != 43 {
		t.Fatalf("mail = %+v; want %s to %s with a 43-character token", m, kind, to)
	}
	return m
}

// settle waits for the background work of the service by closing it
// (Close waits, bounded here), then starts a new one in its place, as a
// restarted process would.
func (f *lifecycleFixture) settle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := f.svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.svc = f.start()
}

func TestRegisterMailsVerification(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{})
	u := f.register(t, ada)
	if u.EmailVerified {
		t.Fatal("a new account is verified")
	}
	m := f.next(t, usertest.MailVerify, ada.Email)
	if m.UserID != u.ID || m.TTL != user.DefaultLifecyclePolicy.VerifyTTL {
		t.Errorf("mail = %+v; want user %s and the default lifetime %s", m, u.ID, user.DefaultLifecyclePolicy.VerifyTTL)
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 43), m.Token + "x"} {
		if _, err := f.svc.VerifyEmail(t.Context(), bad); !errors.Is(err, user.ErrInvalidToken) {
			t.Errorf("VerifyEmail(%q): got %v, want ErrInvalidToken", bad, err)
		}
	}
	got, err := f.svc.VerifyEmail(t.Context(), m.Token)
	if err != nil || !got.EmailVerified || got.ID != u.ID {
		t.Fatalf("VerifyEmail = %+v, %v; want user %s verified", got, err, u.ID)
	}
	if _, err := f.svc.VerifyEmail(t.Context(), m.Token); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("VerifyEmail a second time: got %v, want ErrInvalidToken", err)
	}
	if n := len(f.ofKind(t, user.AuditVerificationSent)); n != 1 {
		t.Errorf("%d verification_sent events, want 1", n)
	}
	if ev := f.ofKind(t, user.AuditEmailVerified); len(ev) != 1 || ev[0].SubjectID != u.ID {
		t.Errorf("email.verified events = %+v; want one about %s", ev, u.ID)
	}
	// Without a notifier nothing is mailed and registering still works.
	plain := newFixture(t)
	if u := plain.register(t, ada); u.EmailVerified {
		t.Error("registered verified without a notifier")
	}
}

func TestRegisterSurvivesMailFailure(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{})
	down := errors.New("smtp is down")
	f.mail.SetFail(down)
	f.register(t, ada)
	if errs := f.mailFailures(t); len(errs) != 1 || !strings.Contains(errs[0], down.Error()) {
		t.Errorf("logged mail errors = %q; want the notifier's", errs)
	}
	f.mem.SetFail(errDown)
	f.mail.SetFail(nil)
	if _, err := f.svc.Update(t.Context(), signedIn(uuid.Must(uuid.NewV7()), uuid.Nil), user.Patch{Email: new("x@example.com")}, ""); !errors.Is(err, errDown) {
		t.Errorf("Update on a failing store: got %v, want it", err)
	}
}

func TestVerificationExpires(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{VerifyTTL: time.Hour})
	f.register(t, ada)
	m := f.next(t, usertest.MailVerify, ada.Email)
	if m.TTL != time.Hour {
		t.Errorf("mail TTL = %s, want the configured 1h", m.TTL)
	}
	f.clock.Advance(time.Hour)
	if _, err := f.svc.VerifyEmail(t.Context(), m.Token); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("VerifyEmail after its lifetime: got %v, want ErrInvalidToken", err)
	}
}

func TestResendVerification(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{})
	u := f.register(t, ada)
	first := f.next(t, usertest.MailVerify, ada.Email)
	if err := f.svc.ResendVerification(t.Context(), u); err != nil {
		t.Fatalf("ResendVerification: %v", err)
	}
	second := f.next(t, usertest.MailVerify, ada.Email)
	if second.Token == first.Token {
		t.Error("resend mailed the same token")
	}
	got, err := f.svc.VerifyEmail(t.Context(), second.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ResendVerification(t.Context(), got); !errors.Is(err, user.ErrAlreadyVerified) {
		t.Errorf("ResendVerification when verified: got %v, want ErrAlreadyVerified", err)
	}
	f.mem.SetFail(errDown)
	if err := f.svc.ResendVerification(t.Context(), u); !errors.Is(err, errDown) {
		t.Errorf("ResendVerification on a failing store: got %v, want it", err)
	}
	// A failing mail server is the queue's to retry (internal/jobs): the
	// request has queued its mail and succeeds.
}

func TestEmailChangeNeedsVerification(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{})
	u := f.register(t, ada)
	unused := f.next(t, usertest.MailVerify, ada.Email)
	name := "Ada L."
	if _, err := f.svc.Update(t.Context(), signedIn(u.ID, uuid.Nil), user.Patch{FullName: &name}, ""); err != nil {
		t.Fatal(err)
	}
	newEmail := "ada@lovelace.example"
	got, err := f.svc.Update(t.Context(), signedIn(u.ID, uuid.Nil), user.Patch{Email: &newEmail}, "")
	if err != nil || got.EmailVerified {
		t.Fatalf("Update(email) = verified %v, %v; want unverified", got.EmailVerified, err)
	}
	f.next(t, usertest.MailEmailChanged, ada.Email) // the name change mailed nothing; the previous address is told
	fresh := f.next(t, usertest.MailVerify, newEmail)
	if _, err := f.svc.VerifyEmail(t.Context(), unused.Token); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("VerifyEmail with the old address's token: got %v, want ErrInvalidToken", err)
	}
	if got, err := f.svc.VerifyEmail(t.Context(), fresh.Token); err != nil || !got.EmailVerified || got.Email != newEmail {
		t.Errorf("VerifyEmail with the new address's token = %+v, %v; want %s verified", got, err, newEmail)
	}
}

func TestRequireVerifiedEmail(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{RequireVerified: true})
	f.register(t, ada)
	f.next(t, usertest.MailVerify, ada.Email)
	if _, err := f.svc.Login(t.Context(), "ada", "wrong password", ""); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Fatalf("Login with a wrong password: got %v, want ErrInvalidCredentials", err)
	}
	if _, err := f.svc.Login(t.Context(), "ada", ada.Password, ""); !errors.Is(err, user.ErrEmailNotVerified) {
		t.Fatalf("Login unverified: got %v, want ErrEmailNotVerified", err)
	}
	// The refused login mailed a new link; the wrong password mailed nothing.
	m := f.next(t, usertest.MailVerify, ada.Email)
	if n := len(f.mail.All()); n != 2 {
		t.Errorf("%d mails, want 2 (registration, refused login)", n)
	}
	if _, err := f.svc.VerifyEmail(t.Context(), m.Token); err != nil {
		t.Fatal(err)
	}
	tok, err := f.svc.Login(t.Context(), "ada", ada.Password, "")
	if err != nil {
		t.Fatalf("Login once verified: %v", err)
	}
	// An email change makes the account unverified again: its session can
	// no longer refresh.
	u, _, err := f.svc.Authenticate(t.Context(), tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	other := "ada2@example.com"
	if _, err := f.svc.Update(t.Context(), signedIn(u.ID, uuid.Nil), user.Patch{Email: &other}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, user.ErrEmailNotVerified) {
		t.Errorf("Refresh unverified: got %v, want ErrEmailNotVerified", err)
	}
}

func TestPasswordReset(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{})
	u := f.register(t, ada)
	f.next(t, usertest.MailVerify, ada.Email)
	before, err := f.svc.Login(t.Context(), "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RequestPasswordReset(t.Context(), "ADA@example.com"); err != nil {
		t.Fatalf("RequestPasswordReset: %v", err)
	}
	first := f.next(t, usertest.MailReset, ada.Email)
	if first.TTL != user.DefaultLifecyclePolicy.ResetTTL || first.UserID != u.ID {
		t.Errorf("reset mail = %+v; want user %s, lifetime %s", first, u.ID, user.DefaultLifecyclePolicy.ResetTTL)
	}
	if err := f.svc.RequestPasswordReset(t.Context(), ada.Email); err != nil {
		t.Fatal(err)
	}
	second := f.next(t, usertest.MailReset, ada.Email)

	for _, tt := range []struct{ name, password string }{
		{"too short for the policy", "nine char"},
		{"the username", "ada"},
		{"the email", ada.Email},
		{"over 72 bytes", strings.Repeat("p", 73)},
	} {
		var v *user.ValidationError
		if _, err := f.svc.ResetPassword(t.Context(), first.Token, tt.password); !errors.As(err, &v) || v.Field != "new_password" {
			t.Errorf("ResetPassword(%s): got %v, want a new_password validation error", tt.name, err)
		}
	}
	if _, err := f.svc.ResetPassword(t.Context(), second.Token, "the brand new password"); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if _, err := f.svc.ResetPassword(t.Context(), second.Token, "yet another password"); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("ResetPassword with a used token: got %v, want ErrInvalidToken", err)
	}
	if _, err := f.svc.ResetPassword(t.Context(), first.Token, "yet another password"); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("ResetPassword with an older token after a reset: got %v, want ErrInvalidToken", err)
	}
	if _, _, err := f.svc.Authenticate(t.Context(), before.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("old access token after a reset: got %v, want ErrUnauthenticated", err)
	}
	if _, err := f.svc.Refresh(t.Context(), before.RefreshToken); !errors.Is(err, user.ErrInvalidGrant) {
		t.Errorf("old refresh token after a reset: got %v, want ErrInvalidGrant", err)
	}
	if _, err := f.svc.Login(t.Context(), "ada", ada.Password, ""); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Errorf("Login with the old password: got %v, want ErrInvalidCredentials", err)
	}
	if _, err := f.svc.Login(t.Context(), "ada", "the brand new password", ""); err != nil {
		t.Errorf("Login with the new password: %v", err)
	}
	if ev := f.ofKind(t, user.AuditResetRequested); len(ev) != 2 || ev[0].SubjectID != u.ID {
		t.Errorf("reset_requested events = %+v; want two about %s", ev, u.ID)
	}
	if ev := f.ofKind(t, user.AuditResetCompleted); len(ev) != 1 || ev[0].SubjectID != u.ID {
		t.Errorf("reset_completed events = %+v; want one about %s", ev, u.ID)
	}
	for _, e := range f.events(t) {
		for k, v := range e.Detail {
			if strings.Contains(v, first.Token) || strings.Contains(v, "the brand new password") || strings.Contains(k, "token") {
				t.Errorf("audit event %s holds %s=%s", e.Kind, k, v)
			}
		}
	}
}

func TestPasswordResetTokenRules(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{ResetTTL: 10 * time.Minute})
	u := f.register(t, ada)
	verify := f.next(t, usertest.MailVerify, ada.Email)
	if _, err := f.svc.ResetPassword(t.Context(), verify.Token, "the brand new password"); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("ResetPassword with a verification token: got %v, want ErrInvalidToken", err)
	}
	for _, bad := range []string{"", strings.Repeat("A", 43)} {
		if _, err := f.svc.ResetPassword(t.Context(), bad, "the brand new password"); !errors.Is(err, user.ErrInvalidToken) {
			t.Errorf("ResetPassword(%q): got %v, want ErrInvalidToken", bad, err)
		}
	}
	if err := f.svc.RequestPasswordReset(t.Context(), ada.Email); err != nil {
		t.Fatal(err)
	}
	m := f.next(t, usertest.MailReset, ada.Email)
	if m.TTL != 10*time.Minute {
		t.Errorf("reset mail TTL = %s, want 10m", m.TTL)
	}
	f.clock.Advance(10 * time.Minute)
	if _, err := f.svc.ResetPassword(t.Context(), m.Token, "the brand new password"); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("ResetPassword after its lifetime: got %v, want ErrInvalidToken", err)
	}
	// A token of an account deactivated since is refused.
	if err := f.svc.RequestPasswordReset(t.Context(), ada.Email); err != nil {
		t.Fatal(err)
	}
	m = f.next(t, usertest.MailReset, ada.Email)
	f.mem.SetActive(u.ID, false)
	if _, err := f.svc.ResetPassword(t.Context(), m.Token, "the brand new password"); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("ResetPassword of an inactive account: got %v, want ErrInvalidToken", err)
	}
	f.mem.SetActive(u.ID, true)
	f.mem.SetFail(errDown)
	if _, err := f.svc.ResetPassword(t.Context(), m.Token, "the brand new password"); !errors.Is(err, errDown) {
		t.Errorf("ResetPassword on a failing store: got %v, want it", err)
	}
}

func TestPasswordResetNamesNoAccount(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{})
	f.register(t, ada)
	f.next(t, usertest.MailVerify, ada.Email)
	inactive := f.register(t, user.Registration{Email: "gone@example.com", Username: "gone", Password: "correct horse"})
	f.next(t, usertest.MailVerify, "gone@example.com")
	f.mem.SetActive(inactive.ID, false)

	var v *user.ValidationError
	if err := f.svc.RequestPasswordReset(t.Context(), "not an email"); !errors.As(err, &v) || v.Field != "email" {
		t.Errorf("RequestPasswordReset(not an email): got %v, want an email validation error", err)
	}
	for _, email := range []string{"nobody@example.com", "gone@example.com"} {
		if err := f.svc.RequestPasswordReset(t.Context(), email); err != nil {
			t.Errorf("RequestPasswordReset(%s): got %v, want nil, as for an account", email, err)
		}
		f.settle(t) // one at a time, so that the events come in order
	}
	if n := len(f.mail.All()); n != 2 {
		t.Errorf("%d mails, want only the 2 verifications: no reset mail for unknown or inactive accounts", n)
	}
	ev := f.ofKind(t, user.AuditResetRequested)
	if len(ev) != 2 || ev[0].SubjectID != uuid.Nil || ev[1].SubjectID != inactive.ID {
		t.Errorf("reset_requested events = %+v; want one naming no account, one naming %s", ev, inactive.ID)
	}
	// A failing store is reported, never answered.
	f.mem.SetFail(errDown)
	if err := f.svc.RequestPasswordReset(t.Context(), ada.Email); err != nil {
		t.Errorf("RequestPasswordReset on a failing store: got %v, want nil", err)
	}
	f.settle(t)
	if errs := f.mailFailures(t); len(errs) != 1 || !strings.Contains(errs[0], errDown.Error()) {
		t.Errorf("logged errors = %q; want the store's", errs)
	}
}

// TestPasswordResetAnswersBeforeMail shows the request returns while the
// mail is still stuck, and that the background work is bounded.
func TestPasswordResetAnswersBeforeMail(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{})
	f.register(t, ada)
	f.next(t, usertest.MailVerify, ada.Email)
	release := f.mail.Hold()
	defer release()
	if err := f.svc.RequestPasswordReset(t.Context(), ada.Email); err != nil {
		t.Fatalf("RequestPasswordReset with the mail held: %v", err)
	}
	busy := 0
	for range 100 {
		if err := f.svc.RequestPasswordReset(t.Context(), ada.Email); errors.Is(err, user.ErrBusy) {
			busy++
		}
	}
	if busy == 0 {
		t.Error("100 resets with every mail stuck: none refused, want the background work bounded (ErrBusy)")
	}
	release()
	f.next(t, usertest.MailReset, ada.Email)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := f.svc.Close(ctx); err != nil {
		t.Fatalf("Close, waiting for the released mail: %v", err)
	}
	// Close returned once every accepted reset had mailed its link.
	if got, want := len(f.mail.All()), 1+1+100-busy; got != want {
		t.Errorf("%d mails after Close, want %d (the verification and each accepted reset)", got, want)
	}
	if err := f.svc.RequestPasswordReset(t.Context(), ada.Email); !errors.Is(err, user.ErrBusy) {
		t.Errorf("RequestPasswordReset after Close: got %v, want ErrBusy", err)
	}
}

// TestConcurrentPasswordResets uses one token from several goroutines:
// exactly one sets its password.
func TestConcurrentPasswordResets(t *testing.T) {
	f := newLifecycleFixture(t, user.LifecyclePolicy{})
	f.register(t, ada)
	f.next(t, usertest.MailVerify, ada.Email)
	if err := f.svc.RequestPasswordReset(t.Context(), ada.Email); err != nil {
		t.Fatal(err)
	}
	m := f.next(t, usertest.MailReset, ada.Email)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = f.svc.ResetPassword(t.Context(), m.Token, "password number "+strings.Repeat("x", i+1))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, user.ErrInvalidToken):
			t.Errorf("ResetPassword: got %v, want nil or ErrInvalidToken", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent resets with one token succeeded, want 1", won, n)
	}
}
