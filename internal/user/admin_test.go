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

// auditLog collects the events a service records.
type auditLog struct {
	mu     sync.Mutex
	events []user.AuditEvent
}

func (l *auditLog) AppendAudit(_ context.Context, e user.AuditEvent) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	return nil
}

// kinds lists the kinds recorded about subject, in order.
func (l *auditLog) kinds(subject uuid.UUID) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		if e.SubjectID == subject {
			out = append(out, string(e.Kind))
		}
	}
	return out
}

// ofKind lists the events of kind, in order.
func (l *auditLog) ofKind(kind user.AuditKind) []user.AuditEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []user.AuditEvent
	for _, e := range l.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// adminFixture is a service over Memory with an audit log and an
// administrator.
type adminFixture struct {
	fixture
	log   *auditLog
	admin user.User
}

func newAdminFixture(t *testing.T) adminFixture {
	t.Helper()
	f := adminFixture{fixture: newFixture(t), log: &auditLog{}}
	f.svc = user.NewService(f.repo, f.hasher, f.tokens, user.WithAuditLog(f.log, nil))
	u, err := f.svc.CreateAdmin(t.Context(), user.Registration{Email: "root@example.com", Username: "root", Password: "root password"}, "Root")
	if err != nil {
		t.Fatal(err)
	}
	f.admin = u
	return f
}

func TestAdminMethodsRefuseNonAdmins(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	plain := f.register(t, ada)
	inactiveAdmin := f.admin
	inactiveAdmin.IsActive = false
	for _, actor := range []user.User{plain, inactiveAdmin, {}} {
		for name, call := range map[string]func() error{
			"ListUsers":      func() error { _, err := f.svc.ListUsers(ctx, actor, user.Filter{}, user.Page{}); return err },
			"User":           func() error { _, err := f.svc.User(ctx, actor, plain.ID); return err },
			"AdminUpdate":    func() error { _, err := f.svc.AdminUpdate(ctx, actor, plain.ID, user.Patch{}); return err },
			"DeactivateUser": func() error { _, err := f.svc.DeactivateUser(ctx, actor, plain.ID); return err },
			"ReactivateUser": func() error { _, err := f.svc.ReactivateUser(ctx, actor, plain.ID); return err },
			"AdminDelete":    func() error { return f.svc.AdminDelete(ctx, actor, plain.ID) },
		} {
			if err := call(); !errors.Is(err, user.ErrForbidden) {
				t.Errorf("%s by %q (role %q, active %v) = %v, want ErrForbidden", name, actor.Username, actor.Role, actor.IsActive, err)
			}
		}
	}
	if got, err := f.repo.ByID(ctx, plain.ID); err != nil || !got.IsActive {
		t.Errorf("the user after refused calls: %+v, %v", got, err)
	}
}

func TestAdminUpdateRecordsWhatChanged(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	u := f.register(t, ada)
	email, name, admin, plain := "ada.new@example.com", "Ada", user.RoleAdmin, user.RoleUser
	got, err := f.svc.AdminUpdate(ctx, f.admin, u.ID, user.Patch{Email: &email, FullName: &name, Role: &admin})
	if err != nil || got.Email != email || got.FullName != name || got.Role != admin {
		t.Fatalf("AdminUpdate = %+v, %v", got, err)
	}
	if _, err := f.svc.DeactivateUser(ctx, f.admin, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ReactivateUser(ctx, f.admin, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AdminUpdate(ctx, f.admin, u.ID, user.Patch{Role: &plain}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AdminDelete(ctx, f.admin, u.ID); err != nil {
		t.Fatal(err)
	}
	want := "user.registered user.updated user.role_changed user.deactivated user.reactivated user.role_changed user.deleted"
	if got := strings.Join(f.log.kinds(u.ID), " "); got != want {
		t.Errorf("audit events = %q, want %q", got, want)
	}
	for _, e := range f.log.events {
		if e.SubjectID == u.ID && e.Kind != user.AuditRegistered && e.ActorID != f.admin.ID {
			t.Errorf("%s: actor %s, want the admin", e.Kind, e.ActorID)
		}
		for k, v := range e.Detail {
			if strings.Contains(v, "@") || strings.Contains(v, "password") || v == name {
				t.Errorf("%s detail %s=%q holds a value", e.Kind, k, v)
			}
		}
	}
	if d := f.log.events[len(f.log.events)-2].Detail; d["from"] != "admin" || d["to"] != "user" {
		t.Errorf("role change detail = %v, want from admin to user", d)
	}
	if _, err := f.svc.User(ctx, f.admin, u.ID); !errors.Is(err, user.ErrUserNotFound) {
		t.Errorf("User(deleted) = %v, want ErrUserNotFound", err)
	}
}

func TestAdminUpdateValidates(t *testing.T) {
	f := newAdminFixture(t)
	u := f.register(t, ada)
	bad, long, root := "Ada <ada@example.com>", strings.Repeat("x", 256), user.Role("root")
	for _, tt := range []struct {
		p     user.Patch
		field string
	}{
		{user.Patch{Email: &bad}, "email"},
		{user.Patch{FullName: &long}, "full_name"},
		{user.Patch{Role: &root}, "role"},
	} {
		_, err := f.svc.AdminUpdate(t.Context(), f.admin, u.ID, tt.p)
		if v, ok := errors.AsType[*user.ValidationError](err); !ok || v.Field != tt.field {
			t.Errorf("AdminUpdate(%+v) = %v, want a ValidationError on %s", tt.p, err, tt.field)
		}
	}
	if got, err := f.svc.AdminUpdate(t.Context(), f.admin, u.ID, user.Patch{}); err != nil || got.ID != u.ID {
		t.Errorf("AdminUpdate(empty) = %+v, %v; want the user unchanged", got, err)
	}
}

func TestLastAdminCannotLeave(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	plain := user.RoleUser
	for name, call := range map[string]func() error{
		"demote self": func() error {
			_, err := f.svc.AdminUpdate(ctx, f.admin, f.admin.ID, user.Patch{Role: &plain})
			return err
		},
		"deactivate self": func() error { _, err := f.svc.DeactivateUser(ctx, f.admin, f.admin.ID); return err },
		"delete self":     func() error { return f.svc.AdminDelete(ctx, f.admin, f.admin.ID) },
		"delete account":  func() error { return f.svc.Delete(ctx, f.admin.ID) },
		"deactivate":      func() error { return f.svc.Deactivate(ctx, f.admin.ID) },
	} {
		if err := call(); !errors.Is(err, user.ErrLastAdmin) {
			t.Errorf("%s as the last admin = %v, want ErrLastAdmin", name, err)
		}
	}
	if got, _ := f.repo.ByID(ctx, f.admin.ID); !got.IsAdmin() || !got.IsActive {
		t.Errorf("the last admin after refused calls: %+v", got)
	}
}

func TestListUsersPages(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	for i := range 4 {
		f.register(t, user.Registration{Email: "u" + string(rune('a'+i)) + "@example.com", Username: "user" + string(rune('a'+i)), Password: "long enough pw"})
	}
	var names []string
	p := user.Page{Limit: 2}
	for range 5 {
		page, err := f.svc.ListUsers(ctx, f.admin, user.Filter{}, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Users {
			names = append(names, u.Username)
		}
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	if got := strings.Join(names, " "); got != "root usera userb userc userd" {
		t.Errorf("pages = %q, want every user once, oldest first", got)
	}
	root := user.Role("root")
	for _, tt := range []struct {
		name  string
		f     user.Filter
		p     user.Page
		field string
	}{
		{"limit too big", user.Filter{}, user.Page{Limit: 101}, "limit"},
		{"negative limit", user.Filter{}, user.Page{Limit: -1}, "limit"},
		{"bad cursor", user.Filter{}, user.Page{Cursor: "!!"}, "cursor"},
		{"short cursor", user.Filter{}, user.Page{Cursor: "AAAA"}, "cursor"},
		{"bad role", user.Filter{Role: &root}, user.Page{}, "role"},
		{"control character", user.Filter{EmailPrefix: "a\x00"}, user.Page{}, "email_prefix"},
		{"long prefix", user.Filter{UsernamePrefix: strings.Repeat("a", 255)}, user.Page{}, "username_prefix"},
	} {
		_, err := f.svc.ListUsers(ctx, f.admin, tt.f, tt.p)
		if v, ok := errors.AsType[*user.ValidationError](err); !ok || v.Field != tt.field {
			t.Errorf("%s: ListUsers = %v, want a ValidationError on %s", tt.name, err, tt.field)
		}
	}
	f.repo.SetFail(errDown)
	if _, err := f.svc.ListUsers(ctx, f.admin, user.Filter{}, user.Page{}); !errors.Is(err, errDown) {
		t.Errorf("ListUsers on a failing store = %v, want its error", err)
	}
}

func TestPromoteAdmin(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	u := f.register(t, ada)
	if err := f.svc.Deactivate(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.PromoteAdmin(ctx, "ADA@example.com", "Ada")
	if err != nil || !got.IsAdmin() || !got.IsActive || got.PasswordHash != u.PasswordHash {
		t.Fatalf("PromoteAdmin = %+v, %v; want an active admin with the same password", got, err)
	}
	if want := "user.registered user.deactivated user.role_changed admin.created"; strings.Join(f.log.kinds(u.ID), " ") != want {
		t.Errorf("audit = %v, want %q", f.log.kinds(u.ID), want)
	}
	if _, err := f.svc.PromoteAdmin(ctx, "nobody@example.com", "nobody"); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("PromoteAdmin(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := f.svc.PromoteAdmin(ctx, "ada@example.com", "root"); err == nil {
		t.Error("PromoteAdmin(ada's email, root's username) succeeded")
	}
	if _, err := f.svc.PromoteAdmin(ctx, "other@example.com", "ada"); err == nil {
		t.Error("PromoteAdmin(new email, ada's username) succeeded")
	}
	if _, err := f.svc.CreateAdmin(ctx, user.Registration{Email: "x@example.com", Username: "xx_x", Password: "long enough pw"}, "a\x00"); err == nil {
		t.Error("CreateAdmin with a control character in the name succeeded")
	}
}

func TestBootstrapAdmin(t *testing.T) {
	ctx := context.Background()
	boot := user.Registration{Email: "boss@example.com", Username: "boss", Password: "boss password"}

	f := newFixture(t)
	if created, err := f.svc.BootstrapAdmin(ctx, boot); err != nil || !created {
		t.Fatalf("BootstrapAdmin on an empty store = %v, %v; want created", created, err)
	}
	if created, err := f.svc.BootstrapAdmin(ctx, boot); err != nil || created {
		t.Errorf("BootstrapAdmin again = %v, %v; want nothing done", created, err)
	}
	other := boot
	other.Email, other.Username = "other@example.com", "other"
	if created, err := f.svc.BootstrapAdmin(ctx, other); err != nil || created {
		t.Errorf("BootstrapAdmin of another account with an admin present = %v, %v; want nothing done", created, err)
	}

	// An account with that email exists: promoted only if the password opens it.
	f = newFixture(t)
	f.register(t, boot)
	wrong := boot
	wrong.Password = "not the password"
	if _, err := f.svc.BootstrapAdmin(ctx, wrong); !errors.Is(err, user.ErrBootstrapConflict) {
		t.Errorf("BootstrapAdmin over an account with another password = %v, want ErrBootstrapConflict", err)
	}
	if created, err := f.svc.BootstrapAdmin(ctx, boot); err != nil || !created {
		t.Errorf("BootstrapAdmin over an account it opens = %v, %v; want promoted", created, err)
	}
	if u, _ := f.repo.ByEmail(ctx, boot.Email); !u.IsAdmin() {
		t.Errorf("after bootstrap: role %q, want admin", u.Role)
	}

	// The username belongs to someone else.
	f = newFixture(t)
	f.register(t, user.Registration{Email: "someone@example.com", Username: "boss", Password: "boss password"})
	if _, err := f.svc.BootstrapAdmin(ctx, boot); !errors.Is(err, user.ErrBootstrapConflict) {
		t.Errorf("BootstrapAdmin with a taken username = %v, want ErrBootstrapConflict", err)
	}
	weak := boot
	weak.Password = "boss"
	if _, err := newFixture(t).svc.BootstrapAdmin(ctx, weak); err == nil {
		t.Error("BootstrapAdmin with a short password succeeded")
	}
	f = newFixture(t)
	f.repo.SetFail(errDown)
	if _, err := f.svc.BootstrapAdmin(ctx, boot); !errors.Is(err, errDown) {
		t.Errorf("BootstrapAdmin on a failing store = %v, want its error", err)
	}
}

// TestAdminEmailChangeMailsTheNewAddress: an administrator pointing a
// verified account at a new email leaves it unverified and mails the new
// address a link that verifies it, as a change by the user does.
func TestAdminEmailChangeMailsTheNewAddress(t *testing.T) {
	f := newAdminFixture(t)
	box := usertest.NewMailbox()
	f.svc = user.NewService(f.repo, f.hasher, f.tokens, user.WithAuditLog(f.log, nil), user.WithNotifier(box))
	ctx := t.Context()
	u := f.register(t, ada)
	if _, err := f.svc.VerifyEmail(ctx, nextMail(t, box).Token); err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	email := "ada.new@example.com"
	got, err := f.svc.AdminUpdate(ctx, f.admin, u.ID, user.Patch{Email: &email})
	if err != nil || got.EmailVerified {
		t.Fatalf("AdminUpdate(email) = verified %v, %v; want unverified", got.EmailVerified, err)
	}
	m := nextMail(t, box)
	if m.Kind != usertest.MailVerify || m.To != email {
		t.Fatalf("mail after the change: %s to %s, want %s to %s", m.Kind, m.To, usertest.MailVerify, email)
	}
	if v, err := f.svc.VerifyEmail(ctx, m.Token); err != nil || !v.EmailVerified {
		t.Errorf("VerifyEmail(new link) = verified %v, %v; want verified", v.EmailVerified, err)
	}
}

// nextMail waits (bounded) for the next mail box receives.
func nextMail(t *testing.T, box *usertest.Mailbox) usertest.Mail {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := box.Next(ctx)
	if err != nil {
		t.Fatalf("waiting for a mail: %v", err)
	}
	return m
}
