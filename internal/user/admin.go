package user

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
)

// requireAdmin refuses an actor who is not an active administrator.
func requireAdmin(actor User) error {
	if !actor.IsAdmin() || !actor.IsActive {
		return ErrForbidden
	}
	return nil
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
	users, err := s.users.List(ctx, q)
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

// mayControl allows the administrator c a change of who controls target:
// its email, its role, its second factors, its existence. c's session
// must have proved the password within the re-authentication window
// (ErrReauthenticationRequired otherwise), as for the same change of c's
// own account through its own routes, whoever target is: a stolen access
// token alone must take over neither its own administrator nor another.
// A service account has no session: it may never change a role
// (roleChange), nor make any such change to an administrator's account
// (ErrServiceAccountLimit), since its scope never reaches past itself.
func (s *Service) mayControl(ctx context.Context, c Caller, target User, roleChange bool) error {
	if c.isServiceAccount() {
		if roleChange || target.IsAdmin() {
			return ErrServiceAccountLimit
		}
		return nil
	}
	return s.recentlyAuthenticated(ctx, c, "")
}

// controlled returns the user id once the administrator c may change who
// controls it (mayControl): the check of a deletion and a factor reset.
func (s *Service) controlled(ctx context.Context, c Caller, id uuid.UUID) (User, error) {
	if err := requireAdmin(c.User); err != nil {
		return User{}, err
	}
	u, err := s.users.ByID(ctx, id)
	if err != nil {
		return User{}, err
	}
	return u, s.mayControl(ctx, c, u, false)
}

// controls reports whether p changes who controls before's account (its
// email or its role), and whether it makes or unmakes an administrator:
// a role change, or the reactivation of an administrator's account
// (RevivesAdmin).
func controls(before User, p Patch) (changes, role bool) {
	role = (p.Role != nil && *p.Role != before.Role) || RevivesAdmin(before, p)
	return role || (p.Email != nil && *p.Email != before.Email), role
}

// RevivesAdmin reports whether p reactivates before, an administrator's
// account: it makes an active administrator again, as a promotion does,
// so it is held to the role change's rules (mayControl), and the console
// asks the password for it as for the role.
func RevivesAdmin(before User, p Patch) bool {
	return p.IsActive != nil && *p.IsActive && !before.IsActive && before.IsAdmin()
}

// AdminUpdate changes what p sets of the user id, for the administrator
// c: full name and email (checked as Update checks them), whether the
// account is active (deactivating revokes every session, and ends the
// logins waiting for a second step) and its role.
// Changing the email or the role, or reactivating an administrator,
// needs c's recent authentication (mayControl); the name and the other
// activations do not, so that deactivating an account stays the quick
// answer to an incident. A change that would
// leave no active administrator is ErrLastAdmin. It is the one way to
// deactivate or reactivate an account; an empty p reads the user.
func (s *Service) AdminUpdate(ctx context.Context, c Caller, id uuid.UUID, p Patch) (User, error) {
	if err := requireAdmin(c.User); err != nil {
		return User{}, err
	}
	if err := validatePatch(p); err != nil {
		return User{}, err
	}
	before, err := s.users.ByID(ctx, id)
	if err != nil || p == (Patch{}) {
		return before, err
	}
	if changes, role := controls(before, p); changes {
		if err := s.mayControl(ctx, c, before, role); err != nil {
			return User{}, err
		}
	}
	actor := c.User
	var after User
	mailed := false
	err = s.atomic(ctx, func(tx Stores) error {
		var err error
		if after, err = tx.Users.Update(ctx, id, p); err != nil {
			return err
		}
		if before.IsActive && !after.IsActive {
			if err := s.deactivated(ctx, tx, id); err != nil {
				return err
			}
		}
		if !strings.EqualFold(before.Email, after.Email) {
			if err := s.emailChanged(ctx, tx, before, after); err != nil {
				return err
			}
			// Its owner must prove the new address, as after PUT /users/me,
			// whether the old one was verified or not.
			if mailed, err = s.queueVerification(ctx, tx, after); err != nil {
				return err
			}
		}
		return s.appendChanges(ctx, tx, actor.ID, before, after, p)
	})
	if err != nil {
		return User{}, err
	}
	if mailed {
		s.record(ctx, AuditVerificationSent, actor.ID, id, nil)
	}
	return after, nil
}

// deactivated ends, within tx, what an account deactivated just now
// could still use: every session (and says so: session.revoked), and
// every reset link, which would otherwise set a password chosen by
// whoever holds one once the account is reactivated.
func (s *Service) deactivated(ctx context.Context, tx Stores, id uuid.UUID) error {
	now := s.now()
	if err := s.endSessions(ctx, tx, id, uuid.Nil, now); err != nil {
		return err
	}
	if err := s.allEnded(ctx, tx, id); err != nil {
		return err
	}
	return tx.AccountTokens.UseAll(ctx, id, PurposeResetPassword, now)
}

// appendChanges audits, within tx, what an administrator changed: which
// profile fields (never their values), the activation and the role.
func (s *Service) appendChanges(ctx context.Context, tx Stores, actor uuid.UUID, before, after User, p Patch) error {
	var events []AuditEvent
	if fields := patchedFields(Patch{Email: p.Email, FullName: p.FullName}); fields != "" {
		events = append(events, s.event(ctx, AuditProfileUpdated, actor, after.ID, map[string]string{"fields": fields}))
	}
	switch {
	case before.IsActive && !after.IsActive:
		events = append(events, s.event(ctx, AuditDeactivated, actor, after.ID, nil))
	case !before.IsActive && after.IsActive:
		events = append(events, s.event(ctx, AuditReactivated, actor, after.ID, nil))
	}
	if before.Role != after.Role {
		events = append(events, s.event(ctx, AuditRoleChanged, actor, after.ID, map[string]string{"from": string(before.Role), "to": string(after.Role)}))
	}
	for _, e := range events {
		if err := s.appendEvent(ctx, tx, true, e); err != nil {
			return err
		}
	}
	return nil
}

// AdminDelete deletes the user id with their sessions (a session.revoked
// for each that was live), for the administrator c, who may be that
// user; it needs c's recent authentication (mayControl). ErrLastAdmin
// when id is the last active administrator.
func (s *Service) AdminDelete(ctx context.Context, c Caller, id uuid.UUID) error {
	if _, err := s.controlled(ctx, c, id); err != nil {
		return err
	}
	return s.atomically(ctx, s.event(ctx, AuditDeleted, c.User.ID, id, nil), func(tx Stores) error {
		return s.deleteAccount(ctx, tx, id)
	})
}

// PromoteAdmin makes the existing account with this email and username an
// active administrator (reactivating it if needed), for the operator's
// create-admin command. Whoever registered that address first may not be
// the operator, so it needs proof: the account's email verified, or
// newPassword, which replaces the account's password (ending every session
// of it) before the promotion. An empty newPassword keeps the password,
// and is refused with ErrUnprovenAccount when the email is not verified.
// ErrNotFound when neither names an account; a *ValidationError when they
// name different accounts. Both steps are audited as the operator's.
func (s *Service) PromoteAdmin(ctx context.Context, email, username, newPassword string) (User, error) {
	u, err := s.users.ByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		if _, err := s.users.ByUsername(ctx, username); err == nil {
			return User{}, invalid("email", CodeOtherEmail, username)
		} else if !errors.Is(err, ErrNotFound) {
			return User{}, err
		}
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	if !strings.EqualFold(u.Username, username) {
		return User{}, invalid("username", CodeOtherUsername, u.Username)
	}
	if newPassword == "" && !u.EmailVerified {
		return User{}, ErrUnprovenAccount
	}
	if newPassword != "" {
		if err := s.operatorSetsPassword(ctx, u, newPassword); err != nil {
			return User{}, err
		}
	}
	return s.promote(ctx, u, "promoted")
}

// operatorSetsPassword replaces u's password by password, which meets the
// policy, ends every session of u (session.revoked), and tells its
// trusted address.
func (s *Service) operatorSetsPassword(ctx context.Context, u User, password string) error {
	hash, err := s.newPassword(ctx, "password", password, u)
	if err != nil {
		return err
	}
	e := s.event(ctx, AuditPasswordChanged, uuid.Nil, u.ID, map[string]string{"by": "operator"})
	return s.atomically(ctx, e, func(tx Stores) error {
		if err := tx.Users.SetPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		if err := s.endSessions(ctx, tx, u.ID, uuid.Nil, s.now()); err != nil {
			return err
		}
		if err := s.allEnded(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.notifyPasswordChanged(ctx, tx, u)
	})
}

// promote makes u an active administrator and audits it as the
// operator's (who acts from a shell, not from an account: no actor id),
// in one transaction.
func (s *Service) promote(ctx context.Context, u User, how string) (User, error) {
	admin, on := RoleAdmin, true
	var after User
	err := s.atomic(ctx, func(tx Stores) error {
		var err error
		if after, err = tx.Users.Update(ctx, u.ID, Patch{Role: &admin, IsActive: &on}); err != nil {
			return err
		}
		if u.Role != after.Role {
			e := s.event(ctx, AuditRoleChanged, uuid.Nil, u.ID, map[string]string{"from": string(u.Role), "to": string(after.Role), "by": "operator"})
			if err := s.appendEvent(ctx, tx, true, e); err != nil {
				return err
			}
		}
		return s.appendEvent(ctx, tx, true, s.event(ctx, AuditAdminCreated, uuid.Nil, u.ID, map[string]string{"how": how, "by": "operator"}))
	})
	return after, err
}

// CreateAdmin registers a new account exactly as Register does (the same
// checks, password policy and hashing), with fullName, and makes it an
// administrator.
func (s *Service) CreateAdmin(ctx context.Context, r Registration, fullName string) (User, error) {
	if err := errors.Join(
		ValidateEmail(r.Email),
		ValidateUsername(r.Username),
		ValidatePassword("password", r.Password),
		ValidateFullName(fullName),
	); err != nil {
		return User{}, firstValidation(err)
	}
	u, err := s.create(ctx, r, fullName)
	if err != nil {
		return User{}, err
	}
	return s.promote(ctx, u, "created")
}

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
	u, err := s.users.ByEmail(ctx, r.Email)
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
	found, err := s.users.List(ctx, ListQuery{Filter: Filter{Role: &admin, IsActive: &on}, Limit: 1})
	return len(found) > 0, err
}
