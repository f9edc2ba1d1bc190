package usertest

import (
	"testing"

	"github.com/usersvc/usersvc/internal/user"
)

func testRoleAndVerificationOnCreate(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	in := NewUser(1)
	in.Role = ""
	plain := create(t, repo, in)
	if plain.Role != user.RoleUser || plain.EmailVerified {
		t.Errorf("Create with no role: role %q, email_verified %v; want %q, false", plain.Role, plain.EmailVerified, user.RoleUser)
	}
	admin := NewUser(2)
	admin.Role, admin.EmailVerified = user.RoleAdmin, true
	create(t, repo, admin)
	got := byID(t, repo, admin.ID)
	if got.Role != user.RoleAdmin || !got.EmailVerified {
		t.Errorf("ByID after Create(admin, verified): role %q, email_verified %v; want %q, true", got.Role, got.EmailVerified, user.RoleAdmin)
	}
	bogus := NewUser(3)
	bogus.Role = "root"
	if _, err := repo.Create(t.Context(), bogus); err == nil {
		t.Error(`Create with role "root" succeeded, want an error`)
	}
}

func testUpdateAdminFields(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	u := create(t, repo, NewUser(1))
	off, admin := false, user.RoleAdmin
	got, err := repo.Update(t.Context(), u.ID, user.Patch{IsActive: &off, Role: &admin})
	if err != nil {
		t.Fatalf("Update(is_active=false, role=admin): %v", err)
	}
	if got.IsActive || got.Role != user.RoleAdmin || got.Email != u.Email || got.FullName != u.FullName {
		t.Errorf("Update(is_active=false, role=admin) = %+v; want inactive admin with the same email and name", got)
	}
	on := true
	if got, err = repo.Update(t.Context(), u.ID, user.Patch{IsActive: &on}); err != nil || !got.IsActive || got.Role != user.RoleAdmin {
		t.Errorf("Update(is_active=true) = %+v, %v; want an active admin", got, err)
	}
	bogus := user.Role("root")
	if _, err := repo.Update(t.Context(), u.ID, user.Patch{Role: &bogus}); err == nil {
		t.Error(`Update(role="root") succeeded, want an error`)
	}
	if got := byID(t, repo, u.ID); got.Role != user.RoleAdmin {
		t.Errorf("after a refused role: role %q, want %q", got.Role, user.RoleAdmin)
	}
}

func testEmailChangeClearsVerification(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	in := NewUser(1)
	in.EmailVerified = true
	u := create(t, repo, in)
	name := "New Name"
	if got, err := repo.Update(t.Context(), u.ID, user.Patch{FullName: &name}); err != nil || !got.EmailVerified {
		t.Errorf("Update(full_name) = verified %v, %v; want still verified", got.EmailVerified, err)
	}
	upper := "USER1@EXAMPLE.COM"
	if got, err := repo.Update(t.Context(), u.ID, user.Patch{Email: &upper}); err != nil || !got.EmailVerified || got.Email != upper {
		t.Errorf("Update(email differing in case only) = %q verified %v, %v; want %q still verified", got.Email, got.EmailVerified, err, upper)
	}
	other := "someone.else@example.com"
	if got, err := repo.Update(t.Context(), u.ID, user.Patch{Email: &other}); err != nil || got.EmailVerified {
		t.Errorf("Update(new email) = verified %v, %v; want not verified", got.EmailVerified, err)
	}
	if got := byID(t, repo, u.ID); got.EmailVerified {
		t.Error("ByID after an email change: still verified")
	}
}
