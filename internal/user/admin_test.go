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

// adminFixture is a fixture with an administrator.
type adminFixture struct {
	fixture
	admin user.User
}

func newAdminFixture(t *testing.T) adminFixture {
	t.Helper()
	f := adminFixture{fixture: newFixture(t)}
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
		update := func(p user.Patch) func() error {
			return func() error { _, err := f.svc.AdminUpdate(ctx, recently(actor), plain.ID, p); return err }
		}
		for name, call := range map[string]func() error{
			"ListUsers":              func() error { _, err := f.svc.ListUsers(ctx, actor, user.Filter{}, user.Page{}); return err },
			"AdminUpdate (read)":     update(user.Patch{}),
			"AdminUpdate (name)":     update(user.Patch{FullName: new("Mallory")}),
			"AdminUpdate deactivate": update(user.Patch{IsActive: new(false)}),
			"AdminUpdate reactivate": update(user.Patch{IsActive: new(true)}),
			"AdminUpdate promote":    update(user.Patch{Role: new(user.RoleAdmin)}),
			"AdminDelete":            func() error { return f.svc.AdminDelete(ctx, recently(actor), plain.ID) },
			"AuditEvents":            func() error { _, err := f.svc.AuditEvents(ctx, actor, user.AuditFilter{}); return err },
		} {
			if err := call(); !errors.Is(err, user.ErrForbidden) {
				t.Errorf("%s by %q (role %q, active %v) = %v, want ErrForbidden", name, actor.Username, actor.Role, actor.IsActive, err)
			}
		}
	}
	if got, err := f.stores.Users.ByID(ctx, plain.ID); err != nil || !got.IsActive || got.IsAdmin() || got.FullName != "" {
		t.Errorf("the user after refused calls: %+v, %v", got, err)
	}
}

func TestAdminUpdateRecordsWhatChanged(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	u := f.register(t, ada)
	email, name, admin, plain := "ada.new@example.com", "Ada", user.RoleAdmin, user.RoleUser
	got, err := f.svc.AdminUpdate(ctx, recently(f.admin), u.ID, user.Patch{Email: &email, FullName: &name, Role: &admin})
	if err != nil || got.Email != email || got.FullName != name || got.Role != admin {
		t.Fatalf("AdminUpdate = %+v, %v", got, err)
	}
	if _, err := f.svc.AdminUpdate(ctx, recently(f.admin), u.ID, user.Patch{IsActive: new(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AdminUpdate(ctx, recently(f.admin), u.ID, user.Patch{IsActive: new(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AdminUpdate(ctx, recently(f.admin), u.ID, user.Patch{Role: &plain}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AdminDelete(ctx, recently(f.admin), u.ID); err != nil {
		t.Fatal(err)
	}
	want := "user.registered user.updated user.role_changed user.deactivated user.reactivated user.role_changed user.deleted"
	if got := strings.Join(f.kinds(t, u.ID), " "); got != want {
		t.Errorf("audit events = %q, want %q", got, want)
	}
	events := f.events(t)
	for _, e := range events {
		if e.SubjectID == u.ID && e.Kind != user.AuditRegistered && e.ActorID != f.admin.ID {
			t.Errorf("%s: actor %s, want the admin", e.Kind, e.ActorID)
		}
		for k, v := range e.Detail {
			if strings.Contains(v, "@") || strings.Contains(v, "password") || v == name {
				t.Errorf("%s detail %s=%q holds a value", e.Kind, k, v)
			}
		}
	}
	if d := events[len(events)-2].Detail; d["from"] != "admin" || d["to"] != "user" {
		t.Errorf("role change detail = %v, want from admin to user", d)
	}
	// A deleted user is not found, whether read, changed or deleted again.
	for name, call := range map[string]func() error{
		"read": func() error { _, err := f.svc.AdminUpdate(ctx, recently(f.admin), u.ID, user.Patch{}); return err },
		"deactivate": func() error {
			_, err := f.svc.AdminUpdate(ctx, recently(f.admin), u.ID, user.Patch{IsActive: new(false)})
			return err
		},
		"delete": func() error { return f.svc.AdminDelete(ctx, recently(f.admin), u.ID) },
	} {
		if err := call(); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s a deleted user = %v, want ErrNotFound", name, err)
		}
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
		_, err := f.svc.AdminUpdate(t.Context(), recently(f.admin), u.ID, tt.p)
		if v, ok := errors.AsType[*user.ValidationError](err); !ok || v.Field != tt.field {
			t.Errorf("AdminUpdate(%+v) = %v, want a ValidationError on %s", tt.p, err, tt.field)
		}
	}
	if got, err := f.svc.AdminUpdate(t.Context(), recently(f.admin), u.ID, user.Patch{}); err != nil || got.ID != u.ID {
		t.Errorf("AdminUpdate(empty) = %+v, %v; want the user unchanged", got, err)
	}
}

func TestLastAdminCannotLeave(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	plain := user.RoleUser
	for name, call := range map[string]func() error{
		"demote self": func() error {
			_, err := f.svc.AdminUpdate(ctx, recently(f.admin), f.admin.ID, user.Patch{Role: &plain})
			return err
		},
		"deactivate self": func() error {
			_, err := f.svc.AdminUpdate(ctx, recently(f.admin), f.admin.ID, user.Patch{IsActive: new(false)})
			return err
		},
		"delete self":    func() error { return f.svc.AdminDelete(ctx, recently(f.admin), f.admin.ID) },
		"delete account": func() error { return f.svc.Delete(ctx, signedIn(f.admin.ID, uuid.Nil)) },
	} {
		if err := call(); !errors.Is(err, user.ErrLastAdmin) {
			t.Errorf("%s as the last admin = %v, want ErrLastAdmin", name, err)
		}
	}
	if got, _ := f.stores.Users.ByID(ctx, f.admin.ID); !got.IsAdmin() || !got.IsActive {
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
	f.mem.SetFail(errDown)
	if _, err := f.svc.ListUsers(ctx, f.admin, user.Filter{}, user.Page{}); !errors.Is(err, errDown) {
		t.Errorf("ListUsers on a failing store = %v, want its error", err)
	}
}

func TestPromoteAdmin(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	u := f.register(t, ada)
	if _, err := f.svc.AdminUpdate(ctx, recently(f.admin), u.ID, user.Patch{IsActive: new(false)}); err != nil {
		t.Fatal(err)
	}
	// Nothing shows that the unverified address is the operator's.
	if _, err := f.svc.PromoteAdmin(ctx, "ADA@example.com", "Ada", ""); !errors.Is(err, user.ErrUnprovenAccount) {
		t.Fatalf("PromoteAdmin(unverified, no password) = %v, want ErrUnprovenAccount", err)
	}
	f.mem.SetVerified(u.ID, true)
	got, err := f.svc.PromoteAdmin(ctx, "ADA@example.com", "Ada", "")
	if err != nil || !got.IsAdmin() || !got.IsActive || got.PasswordHash != u.PasswordHash {
		t.Fatalf("PromoteAdmin(verified) = %+v, %v; want an active admin with the same password", got, err)
	}
	if want := "user.registered user.deactivated user.role_changed admin.created"; strings.Join(f.kinds(t, u.ID), " ") != want {
		t.Errorf("audit = %v, want %q", f.kinds(t, u.ID), want)
	}
	if _, err := f.svc.PromoteAdmin(ctx, "nobody@example.com", "nobody", ""); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("PromoteAdmin(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := f.svc.PromoteAdmin(ctx, "ada@example.com", "root", ""); err == nil {
		t.Error("PromoteAdmin(ada's email, root's username) succeeded")
	}
	if _, err := f.svc.PromoteAdmin(ctx, "other@example.com", "ada", ""); err == nil {
		t.Error("PromoteAdmin(new email, ada's username) succeeded")
	}
	if _, err := f.svc.CreateAdmin(ctx, user.Registration{Email: "x@example.com", Username: "xx_x", Password: "long enough pw"}, "a\x00"); err == nil {
		t.Error("CreateAdmin with a control character in the name succeeded")
	}
}

// TestPromoteAdminWithANewPassword: an unverified account is promoted only
// with a new password of the operator's, which replaces the registrant's
// and ends their sessions.
func TestPromoteAdminWithANewPassword(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	u := f.register(t, ada)
	tok, err := f.svc.Login(ctx, ada.Username, ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PromoteAdmin(ctx, ada.Email, ada.Username, "short"); err == nil {
		t.Error("PromoteAdmin with a password under the policy succeeded")
	}
	got, err := f.svc.PromoteAdmin(ctx, ada.Email, ada.Username, "the operator's own password")
	if err != nil || !got.IsAdmin() {
		t.Fatalf("PromoteAdmin(new password) = %+v, %v; want an admin", got, err)
	}
	if _, err := f.svc.Login(ctx, ada.Username, ada.Password, ""); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Errorf("login with the registrant's password after the promotion = %v, want refused", err)
	}
	if _, err := f.svc.Login(ctx, ada.Username, "the operator's own password", ""); err != nil {
		t.Errorf("login with the operator's password = %v", err)
	}
	if _, _, err := f.svc.Authenticate(ctx, tok.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("the registrant's session after the promotion = %v, want ended", err)
	}
	if want := "password.changed"; !slices.Contains(f.kinds(t, u.ID), want) {
		t.Errorf("audit = %v, want %s among them", f.kinds(t, u.ID), want)
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
	if u, _ := f.stores.Users.ByEmail(ctx, boot.Email); !u.IsAdmin() {
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
	f.mem.SetFail(errDown)
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
	d := f.deps()
	d.Notifier = box
	f.svc = user.NewService(d, user.Policy{})
	ctx := t.Context()
	u := f.register(t, ada)
	if _, err := f.svc.VerifyEmail(ctx, nextMail(t, box).Token); err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	email := "ada.new@example.com"
	got, err := f.svc.AdminUpdate(ctx, recently(f.admin), u.ID, user.Patch{Email: &email})
	if err != nil || got.EmailVerified {
		t.Fatalf("AdminUpdate(email) = verified %v, %v; want unverified", got.EmailVerified, err)
	}
	if m := nextMail(t, box); m.Kind != usertest.MailEmailChanged || !strings.EqualFold(m.To, ada.Email) || m.Token == "" {
		t.Fatalf("first mail after the change: %s to %s, want %s (with its undo link) to the previous address %s", m.Kind, m.To, usertest.MailEmailChanged, ada.Email)
	}
	m := nextMail(t, box)
	if m.Kind != usertest.MailVerify || m.To != email {
		t.Fatalf("mail after the change: %s to %s, want %s to %s", m.Kind, m.To, usertest.MailVerify, email)
	}
	if v, err := f.svc.VerifyEmail(ctx, m.Token); err != nil || !v.EmailVerified {
		t.Errorf("VerifyEmail(new link) = verified %v, %v; want verified", v.EmailVerified, err)
	}
	// An account never verified: the new address gets its link too (it
	// used to get none, only a verified account's did).
	bob := f.register(t, user.Registration{Email: "bob@example.com", Username: "bob", Password: ada.Password})
	nextMail(t, box) // bob's own verification link, to the old address
	email = "bob.new@example.com"
	if _, err := f.svc.AdminUpdate(ctx, recently(f.admin), bob.ID, user.Patch{Email: &email}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the notice to the old address, and the link
		if m = nextMail(t, box); m.Kind == usertest.MailVerify {
			break
		}
	}
	if m.Kind != usertest.MailVerify || m.To != email {
		t.Errorf("an unverified account's new address got no verification link: last mail %s to %s", m.Kind, m.To)
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

// recently is u signed in a moment ago: the caller of a session whose
// password login is within the re-authentication window, as the
// administrator's changes of who controls an account need (signedIn).
func recently(u user.User) user.Caller {
	return user.Caller{User: u, Session: user.Session{ID: uuid.Must(uuid.NewV7()), AuthenticatedAt: justNow}}
}

// TestAdminChangesOfWhoControlsAnAccountNeedARecentSignIn: an
// administrator whose session's password login is older than the
// re-authentication window (a stolen access token) may still rename,
// deactivate and reactivate accounts, but may not change the email or the
// role of any account, its own or another administrator's, reset its
// second factors or delete it; once signed in recently it may.
func TestAdminChangesOfWhoControlsAnAccountNeedARecentSignIn(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	other, err := f.svc.CreateAdmin(ctx, user.Registration{Email: "other@example.com", Username: "other", Password: "other password"}, "")
	if err != nil {
		t.Fatal(err)
	}
	plain := f.register(t, ada)
	stale := user.Caller{User: f.admin, Session: user.Session{ID: uuid.Must(uuid.NewV7()), AuthenticatedAt: time.Now().Add(-user.DefaultReauthWindow - time.Minute)}}
	for _, target := range []user.User{f.admin, other, plain} {
		moved, flip := "moved."+target.Username+"@example.com", user.RoleAdmin
		if target.IsAdmin() {
			flip = user.RoleUser
		}
		for name, call := range map[string]func() error{
			"email": func() error {
				_, err := f.svc.AdminUpdate(ctx, stale, target.ID, user.Patch{Email: &moved})
				return err
			},
			"role":      func() error { _, err := f.svc.AdminUpdate(ctx, stale, target.ID, user.Patch{Role: &flip}); return err },
			"mfa reset": func() error { return f.svc.AdminResetMFA(ctx, stale, target.ID) },
			"delete":    func() error { return f.svc.AdminDelete(ctx, stale, target.ID) },
		} {
			if err := call(); !errors.Is(err, user.ErrReauthenticationRequired) {
				t.Errorf("%s of %s by a stale session = %v, want ErrReauthenticationRequired", name, target.Username, err)
			}
		}
		if got, err := f.stores.Users.ByID(ctx, target.ID); err != nil || got.Email != target.Email || got.Role != target.Role {
			t.Errorf("%s after the refusals: %+v, %v; want unchanged", target.Username, got, err)
		}
	}
	for _, p := range []user.Patch{{FullName: new("Renamed")}, {IsActive: new(false)}, {IsActive: new(true)}, {Email: &plain.Email}, {Role: &plain.Role}} {
		if _, err := f.svc.AdminUpdate(ctx, stale, plain.ID, p); err != nil {
			t.Errorf("AdminUpdate(%+v) by a stale session = %v, want allowed (no change of who controls it)", p, err)
		}
	}
	moved := "moved.ada@example.com"
	if _, err := f.svc.AdminUpdate(ctx, recently(f.admin), plain.ID, user.Patch{Email: &moved, Role: new(user.RoleAdmin)}); err != nil {
		t.Errorf("email and role by a recent session = %v", err)
	}
	if err := f.svc.AdminResetMFA(ctx, recently(f.admin), other.ID); err != nil {
		t.Errorf("AdminResetMFA by a recent session = %v", err)
	}
	if err := f.svc.AdminDelete(ctx, recently(f.admin), other.ID); err != nil {
		t.Errorf("AdminDelete by a recent session = %v", err)
	}
}

// TestServiceAccountsChangeNoRoleNorAdministrator: a service account
// (no account, no session) keeps its users:write operations on users,
// but may change no role, and neither the email, the second factors nor
// the existence of an administrator's account.
func TestServiceAccountsChangeNoRoleNorAdministrator(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	plain := f.register(t, ada)
	sa := user.ServiceAccount("provisioning")
	moved := "moved@example.com"
	for name, call := range map[string]func() error{
		"promote a user": func() error {
			_, err := f.svc.AdminUpdate(ctx, sa, plain.ID, user.Patch{Role: new(user.RoleAdmin)})
			return err
		},
		"demote an admin": func() error {
			_, err := f.svc.AdminUpdate(ctx, sa, f.admin.ID, user.Patch{Role: new(user.RoleUser)})
			return err
		},
		"move an admin's email": func() error {
			_, err := f.svc.AdminUpdate(ctx, sa, f.admin.ID, user.Patch{Email: &moved})
			return err
		},
		"reset an admin's factors": func() error { return f.svc.AdminResetMFA(ctx, sa, f.admin.ID) },
		"delete an admin":          func() error { return f.svc.AdminDelete(ctx, sa, f.admin.ID) },
	} {
		if err := call(); !errors.Is(err, user.ErrServiceAccountLimit) {
			t.Errorf("%s by a service account = %v, want ErrServiceAccountLimit", name, err)
		}
	}
	if got, _ := f.stores.Users.ByID(ctx, plain.ID); got.IsAdmin() {
		t.Errorf("the user became an administrator")
	}
	for _, p := range []user.Patch{{Email: &moved}, {FullName: new("Ada")}, {IsActive: new(false)}, {IsActive: new(true)}} {
		if _, err := f.svc.AdminUpdate(ctx, sa, plain.ID, p); err != nil {
			t.Errorf("AdminUpdate(%+v) of a user by a service account = %v, want allowed", p, err)
		}
	}
	if _, err := f.svc.AdminUpdate(ctx, sa, f.admin.ID, user.Patch{FullName: new("Root")}); err != nil {
		t.Errorf("renaming an administrator by a service account = %v, want allowed", err)
	}
	if err := f.svc.AdminDelete(ctx, sa, plain.ID); err != nil {
		t.Errorf("deleting a user by a service account = %v, want allowed", err)
	}
}
