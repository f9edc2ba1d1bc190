package user

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Errors of the administration API.
var (
	// ErrUserNotFound is an administrator naming a user who does not exist.
	// It differs from ErrNotFound, which on the /users/me routes means the
	// caller's own account is gone.
	ErrUserNotFound = errors.New("no user with this id")
	// ErrLastAdmin is a change that would leave the service without an
	// active administrator: demoting, deactivating or deleting the last one.
	ErrLastAdmin = errors.New("this would leave no active administrator: make another user an administrator first")
)

// AdminRepository is what the administration API needs of a store. The
// guarded methods hold the last-administrator rule atomically: of two
// concurrent calls that would each remove one of the last two active
// administrators, one fails.
type AdminRepository interface {
	// ListUsers returns up to q.Limit users matching q's filter, after
	// q.After when set, in (CreatedAt, ID) order.
	ListUsers(ctx context.Context, q ListQuery) ([]User, error)
	// UpdateKeepingAdmin is Update, except that it changes nothing and
	// returns ErrLastAdmin when the user is an active administrator, p
	// removes that (p.RemovesAdmin) and no other active administrator
	// exists.
	UpdateKeepingAdmin(ctx context.Context, id uuid.UUID, p Patch) (User, error)
	// DeleteKeepingAdmin is Delete, except that it deletes nothing and
	// returns ErrLastAdmin when the user is the only active administrator.
	DeleteKeepingAdmin(ctx context.Context, id uuid.UUID) error
}

// RemovesAdmin reports whether p would make an active administrator stop
// being one: it sets another role or deactivates.
func (p Patch) RemovesAdmin() bool {
	return (p.Role != nil && *p.Role != RoleAdmin) || (p.IsActive != nil && !*p.IsActive)
}

// Filter narrows a listing of users; its zero value matches everyone.
type Filter struct {
	// EmailPrefix and UsernamePrefix match the start of the email or
	// username, ignoring letter case; every character is literal.
	EmailPrefix, UsernamePrefix string
	IsActive                    *bool
	Role                        *Role
	// CreatedAfter and CreatedBefore bound CreatedAt, both exclusive; the
	// zero time is no bound.
	CreatedAfter, CreatedBefore time.Time
}

// ListKey is the position of a user in a listing.
type ListKey struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// Less reports whether k sorts before o.
func (k ListKey) Less(o ListKey) bool {
	if !k.CreatedAt.Equal(o.CreatedAt) {
		return k.CreatedAt.Before(o.CreatedAt)
	}
	return bytes.Compare(k.ID[:], o.ID[:]) < 0
}

// Key is u's position in a listing.
func (u User) Key() ListKey { return ListKey{CreatedAt: u.CreatedAt, ID: u.ID} }

// ListQuery asks a store for one page of users.
type ListQuery struct {
	Filter
	After *ListKey // nil: from the first user
	Limit int
}

// Page asks for a page of a listing: the cursor of the previous page's
// answer ("" for the first) and how many users at most.
type Page struct {
	Cursor string
	Limit  int
}

// ListPage is one page of a listing. Next is the cursor of the following
// page, "" when this is the last.
type ListPage struct {
	Users []User
	Next  string
}

// Listing limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// cursorBytes is a cursor decoded: CreatedAt in Unix nanoseconds, then the
// 16 bytes of the id.
const cursorBytes = 8 + 16

// encodeCursor makes the opaque cursor that resumes a listing after k.
func encodeCursor(k ListKey) string {
	b := make([]byte, 0, cursorBytes)
	b = binary.BigEndian.AppendUint64(b, uint64(k.CreatedAt.UnixNano())) // #nosec G115 -- a bit pattern, decoded back the same way
	b = append(b, k.ID[:]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor of encodeCursor.
func decodeCursor(s string) (ListKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != cursorBytes {
		return ListKey{}, invalid("cursor", "is not a cursor from a previous page")
	}
	var k ListKey
	k.CreatedAt = time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC() // #nosec G115 -- see encodeCursor
	copy(k.ID[:], b[8:])
	return k, nil
}

// requireAdmin refuses an actor who is not an active administrator.
func requireAdmin(actor User) error {
	if !actor.IsAdmin() || !actor.IsActive {
		return ErrForbidden
	}
	return nil
}

// notFound turns the store's ErrNotFound into ErrUserNotFound.
func notFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return ErrUserNotFound
	}
	return err
}

// ListUsers returns a page of the users matching f, oldest first (ties by
// id), for the administrator actor. Paging is by key, not offset: a user
// present for the whole walk appears exactly once however many users are
// added or removed meanwhile.
func (s *Service) ListUsers(ctx context.Context, actor User, f Filter, p Page) (ListPage, error) {
	if err := requireAdmin(actor); err != nil {
		return ListPage{}, err
	}
	q := ListQuery{Filter: f, Limit: p.Limit}
	if q.Limit == 0 {
		q.Limit = DefaultPageSize
	}
	if err := validateQuery(q); err != nil {
		return ListPage{}, err
	}
	if p.Cursor != "" {
		k, err := decodeCursor(p.Cursor)
		if err != nil {
			return ListPage{}, err
		}
		q.After = &k
	}
	limit := q.Limit
	q.Limit++ // one more tells whether another page follows
	users, err := s.repo.ListUsers(ctx, q)
	if err != nil {
		return ListPage{}, err
	}
	page := ListPage{Users: users}
	if len(users) > limit {
		page.Users = users[:limit]
		page.Next = encodeCursor(users[limit-1].Key())
	}
	return page, nil
}

// validateQuery checks a listing's limit and filter.
func validateQuery(q ListQuery) error {
	if q.Limit < 1 || q.Limit > MaxPageSize {
		return invalid("limit", "must be between 1 and %d", MaxPageSize)
	}
	for _, f := range []struct{ name, value string }{
		{"email_prefix", q.EmailPrefix}, {"username_prefix", q.UsernamePrefix},
	} {
		if len(f.value) > MaxEmail || !utf8.ValidString(f.value) || strings.IndexFunc(f.value, unicode.IsControl) >= 0 {
			return invalid(f.name, "must be at most %d bytes of text without control characters", MaxEmail)
		}
	}
	if q.Role != nil && !q.Role.Valid() {
		return invalid("role", "must be one of %s", roleList())
	}
	return nil
}

func roleList() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// User returns the user id, for the administrator actor.
func (s *Service) User(ctx context.Context, actor User, id uuid.UUID) (User, error) {
	if err := requireAdmin(actor); err != nil {
		return User{}, err
	}
	u, err := s.repo.ByID(ctx, id)
	return u, notFound(err)
}

// AdminUpdate changes what p sets of the user id, for the administrator
// actor: full name and email (checked as Update checks them), whether the
// account is active (deactivating revokes every session) and its role. A
// change that would leave no active administrator is ErrLastAdmin.
func (s *Service) AdminUpdate(ctx context.Context, actor User, id uuid.UUID, p Patch) (User, error) {
	if err := requireAdmin(actor); err != nil {
		return User{}, err
	}
	if err := validatePatch(p); err != nil {
		return User{}, err
	}
	before, err := s.repo.ByID(ctx, id)
	if err != nil {
		return User{}, notFound(err)
	}
	if p == (Patch{}) {
		return before, nil
	}
	after, err := s.repo.UpdateKeepingAdmin(ctx, id, p)
	if err != nil {
		return User{}, notFound(err)
	}
	if before.IsActive && !after.IsActive {
		if err := s.repo.RevokeSessions(ctx, id, uuid.Nil, s.now()); err != nil {
			return User{}, err
		}
	}
	s.recordChanges(ctx, actor.ID, before, after, p)
	if before.EmailVerified && !after.EmailVerified {
		// The address changed: its owner must prove it, as after PUT /users/me.
		s.mailFailed(ctx, s.sendVerification(ctx, after, actor.ID))
	}
	return after, nil
}

// validatePatch checks the fields p sets.
func validatePatch(p Patch) error {
	if p.Email != nil {
		if err := ValidateEmail(*p.Email); err != nil {
			return err
		}
	}
	if p.FullName != nil {
		if err := ValidateFullName(*p.FullName); err != nil {
			return err
		}
	}
	if p.Role != nil && !p.Role.Valid() {
		return invalid("role", "must be one of %s", roleList())
	}
	return nil
}

// recordChanges audits what an administrator changed: which profile
// fields (never their values), the activation and the role.
func (s *Service) recordChanges(ctx context.Context, actor uuid.UUID, before, after User, p Patch) {
	var fields []string
	if p.Email != nil {
		fields = append(fields, "email")
	}
	if p.FullName != nil {
		fields = append(fields, "full_name")
	}
	if len(fields) > 0 {
		s.record(ctx, AuditProfileUpdated, actor, after.ID, map[string]string{"fields": strings.Join(fields, ",")})
	}
	switch {
	case before.IsActive && !after.IsActive:
		s.record(ctx, AuditDeactivated, actor, after.ID, nil)
	case !before.IsActive && after.IsActive:
		s.record(ctx, AuditReactivated, actor, after.ID, nil)
	}
	if before.Role != after.Role {
		s.record(ctx, AuditRoleChanged, actor, after.ID, map[string]string{"from": string(before.Role), "to": string(after.Role)})
	}
}

// DeactivateUser marks the user id inactive and revokes every session
// (their access and refresh tokens stop working), for the administrator
// actor. ErrLastAdmin when id is the last active administrator.
func (s *Service) DeactivateUser(ctx context.Context, actor User, id uuid.UUID) (User, error) {
	off := false
	return s.AdminUpdate(ctx, actor, id, Patch{IsActive: &off})
}

// ReactivateUser marks the user id active again, for the administrator
// actor; the user logs in anew (deactivation ended their sessions).
func (s *Service) ReactivateUser(ctx context.Context, actor User, id uuid.UUID) (User, error) {
	on := true
	return s.AdminUpdate(ctx, actor, id, Patch{IsActive: &on})
}

// AdminDelete deletes the user id with their sessions, for the
// administrator actor, who may be that user. ErrLastAdmin when id is the
// last active administrator.
func (s *Service) AdminDelete(ctx context.Context, actor User, id uuid.UUID) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	if err := s.repo.DeleteKeepingAdmin(ctx, id); err != nil {
		return notFound(err)
	}
	s.record(ctx, AuditDeleted, actor.ID, id, nil)
	return nil
}

// PromoteAdmin makes the existing account with this email and username an
// active administrator (reactivating it if needed), for the operator's
// create-admin command. Its password is kept. ErrNotFound when neither
// names an account; a *ValidationError when they name different accounts.
func (s *Service) PromoteAdmin(ctx context.Context, email, username string) (User, error) {
	u, err := s.repo.ByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		if _, err := s.repo.ByUsername(ctx, username); err == nil {
			return User{}, invalid("email", "the user %q has another email", username)
		} else if !errors.Is(err, ErrNotFound) {
			return User{}, err
		}
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	if !strings.EqualFold(u.Username, username) {
		return User{}, invalid("username", "the user with this email is %q", u.Username)
	}
	return s.promote(ctx, u, "promoted")
}

// promote makes u an active administrator and audits it.
func (s *Service) promote(ctx context.Context, u User, how string) (User, error) {
	admin, on := RoleAdmin, true
	after, err := s.repo.Update(ctx, u.ID, Patch{Role: &admin, IsActive: &on})
	if err != nil {
		return User{}, err
	}
	if u.Role != after.Role {
		s.record(ctx, AuditRoleChanged, uuid.Nil, u.ID, map[string]string{"from": string(u.Role), "to": string(after.Role)})
	}
	s.record(ctx, AuditAdminCreated, uuid.Nil, u.ID, map[string]string{"how": how})
	return after, nil
}

// CreateAdmin registers a new account exactly as Register does (the same
// checks, password policy and hashing), with fullName, and makes it an
// administrator.
func (s *Service) CreateAdmin(ctx context.Context, r Registration, fullName string) (User, error) {
	if err := ValidateFullName(fullName); err != nil {
		return User{}, err
	}
	u, err := s.Register(ctx, r)
	if err != nil {
		return User{}, err
	}
	if fullName != "" {
		if u, err = s.repo.Update(ctx, u.ID, Patch{FullName: &fullName}); err != nil {
			return User{}, err
		}
	}
	return s.promote(ctx, u, "created")
}

// ErrBootstrapConflict is a configured first administrator whose email or
// username belongs to an account that the configured password does not
// open: promoting it could hand the service to whoever registered it.
var ErrBootstrapConflict = errors.New("an account with the bootstrap administrator's email or username exists and the bootstrap password does not match it")

// BootstrapAdmin makes r an administrator when the service has no active
// administrator: it creates the account (as CreateAdmin does) or, when an
// account with that email and username exists and r.Password opens it,
// promotes it. It does nothing when an active administrator exists, so it
// is safe at every start of every replica: when another replica creates
// the account first, this one finds it. created reports whether this call
// made or promoted the administrator.
func (s *Service) BootstrapAdmin(ctx context.Context, r Registration) (created bool, err error) {
	if exists, err := s.activeAdminExists(ctx); err != nil || exists {
		return false, err
	}
	_, err = s.CreateAdmin(ctx, r, "")
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, ErrEmailTaken) && !errors.Is(err, ErrUsernameTaken) {
		return false, err
	}
	u, err := s.repo.ByEmail(ctx, r.Email)
	if errors.Is(err, ErrNotFound) || (err == nil && !strings.EqualFold(u.Username, r.Username)) {
		return false, ErrBootstrapConflict
	}
	if err != nil {
		return false, err
	}
	if u.IsAdmin() && u.IsActive {
		return false, nil // another replica made it a moment ago
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return false, err
	}
	ok := s.hasher.Verify(u.PasswordHash, r.Password)
	release()
	if !ok {
		return false, ErrBootstrapConflict
	}
	_, err = s.promote(ctx, u, "bootstrap")
	return err == nil, err
}

// activeAdminExists reports whether any active administrator exists.
func (s *Service) activeAdminExists(ctx context.Context) (bool, error) {
	admin, on := RoleAdmin, true
	found, err := s.repo.ListUsers(ctx, ListQuery{Filter: Filter{Role: &admin, IsActive: &on}, Limit: 1})
	return len(found) > 0, err
}
