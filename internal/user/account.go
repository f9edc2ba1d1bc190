package user

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Registration is what a new user supplies.
type Registration struct {
	Email    string
	Username string
	Password string
}

// PasswordPolicy is what a new password must satisfy beyond the fixed
// limits of ValidatePassword (NIST SP 800-63B: a minimum length, no
// composition rules, not a known breached password, not the account's own
// name).
type PasswordPolicy struct {
	// MinChars is the fewest characters accepted; below MinPasswordChars
	// counts as MinPasswordChars.
	MinChars int
	// Breached reports whether password is in a list of common breached
	// passwords. Nil means no list.
	Breached func(password string) bool
}

// check refuses password when it is too short, breached, or the same as
// one of identities (email, username), ignoring letter case.
func (p PasswordPolicy) check(field, password string, identities ...string) error {
	if n := max(p.MinChars, MinPasswordChars); utf8.RuneCountInString(password) < n {
		return invalid(field, CodePasswordTooShort, n)
	}
	for _, id := range identities {
		if id != "" && strings.EqualFold(password, id) {
			return invalid(field, CodePasswordIdentity)
		}
	}
	if p.Breached != nil && p.Breached(password) {
		return invalid(field, CodePasswordBreached)
	}
	return nil
}

// newPassword checks a new password of u against the fixed limits and the
// policy, and hashes it in a hashing slot.
func (s *Service) newPassword(ctx context.Context, field, password string, u User) (string, error) {
	if err := ValidatePassword(field, password); err != nil {
		return "", err
	}
	if err := s.policy.Password.check(field, password, u.Email, u.Username); err != nil {
		return "", err
	}
	hash, err := s.hash(ctx, password)
	if err != nil && !errors.Is(err, ErrBusy) {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, err
}

// Register creates an account after checking every field.
func (s *Service) Register(ctx context.Context, r Registration) (User, error) {
	if err := errors.Join(
		ValidateEmail(r.Email),
		ValidateUsername(r.Username),
		ValidatePassword("password", r.Password),
	); err != nil {
		return User{}, firstValidation(err)
	}
	return s.create(ctx, r, "")
}

// create hashes r's password (after the policy) and stores the account
// with fullName, in one transaction with its audit event, its
// user.created event and its verification mail (verification.go).
func (s *Service) create(ctx context.Context, r Registration, fullName string) (User, error) {
	hash, err := s.newPassword(ctx, "password", r.Password, User{Email: r.Email, Username: r.Username})
	if err != nil {
		return User{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return User{}, fmt.Errorf("new user id: %w", err)
	}
	var u User
	mailed := false
	err = s.atomic(ctx, func(tx Stores) error {
		var err error
		u, err = tx.Users.Create(ctx, User{ID: id, Email: r.Email, Username: r.Username, PasswordHash: hash, FullName: fullName})
		if err != nil {
			return err
		}
		if err := s.unheld(ctx, tx, u); err != nil {
			return err
		}
		if err := s.recordIn(ctx, tx, s.event(ctx, AuditRegistered, u.ID, u.ID, nil)); err != nil {
			return err
		}
		mailed, err = s.queueVerification(ctx, tx, u)
		return err
	})
	if err != nil {
		return User{}, err
	}
	if mailed {
		s.record(ctx, AuditVerificationSent, u.ID, u.ID, nil)
	}
	return u, nil
}

// Caller is who is signed in: the user and the session of the access
// token Authenticate accepted, or a service account (ServiceAccount).
type Caller struct {
	User    User
	Session Session
}

// ServiceAccount is the Caller of a client acting with its own
// client_credentials token on the admin routes its scopes open: an
// administrator with no account (no id) and no session, so never one
// that authenticated recently.
func ServiceAccount(clientID string) Caller {
	return Caller{User: User{Role: RoleAdmin, IsActive: true, Username: clientID}}
}

// isServiceAccount reports whether c is a ServiceAccount: no account.
func (c Caller) isServiceAccount() bool { return c.User.ID == uuid.Nil }

// Update changes the caller's own profile fields present in p (FullName
// and Email; the others are ignored). An empty full name clears it; the
// email must stay valid and unused by anyone else. Changing the email is
// sensitive: it needs a recent authentication of the session, or
// currentPassword (ErrReauthenticationRequired otherwise). It uses up
// every reset link, mails the previous address a notice with a link that
// undoes the change, and the new address a verification link.
func (s *Service) Update(ctx context.Context, c Caller, p Patch, currentPassword string) (User, error) {
	p = Patch{FullName: p.FullName, Email: p.Email}
	if err := validatePatch(p); err != nil {
		return User{}, err
	}
	id := c.User.ID
	if p == (Patch{}) {
		u, err := s.users.ByID(ctx, id)
		return u, self(err)
	}
	moves := p.Email != nil && !strings.EqualFold(*p.Email, c.User.Email)
	if moves {
		if err := s.recentlyAuthenticated(ctx, c, currentPassword); err != nil {
			return User{}, err
		}
	}
	var u User
	mailed := false
	e := s.event(ctx, AuditProfileUpdated, id, id, map[string]string{"fields": patchedFields(p)})
	err := s.atomically(ctx, e, func(tx Stores) error {
		before, err := tx.Users.ByID(ctx, id)
		if err != nil {
			return err
		}
		if u, err = tx.Users.Update(ctx, id, p); err != nil {
			return err
		}
		if !strings.EqualFold(before.Email, u.Email) {
			if err := s.emailChanged(ctx, tx, before, u); err != nil {
				return err
			}
		}
		if p.Email != nil { // a changed email is no longer verified
			mailed, err = s.queueVerification(ctx, tx, u)
		}
		return err
	})
	if err != nil {
		return User{}, self(err)
	}
	if mailed {
		s.record(ctx, AuditVerificationSent, id, id, nil)
	}
	return u, nil
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
		return invalid("role", CodeRoleUnknown, roleList())
	}
	return nil
}

// ChangePassword replaces the caller's password once current is
// verified, under the login guard counted for the caller's session (a
// wrong current password is a failed login: sessionGuarded). It makes every access token issued before the change invalid
// and revokes every other session of the user; the caller's own client
// gets an access token of the new token version by refreshing. A login
// waiting for its second step ends too. The trusted address gets a
// notice.
func (s *Service) ChangePassword(ctx context.Context, c Caller, current, next string) error {
	if err := ValidatePassword("new_password", next); err != nil {
		return err
	}
	if current == next {
		return invalid("new_password", CodePasswordUnchanged)
	}
	id := c.User.ID
	u, err := s.users.ByID(ctx, id)
	if err != nil {
		return self(err)
	}
	if err := s.policy.Password.check("new_password", next, u.Email, u.Username); err != nil {
		return err
	}
	var hash string
	err = s.sessionGuarded(ctx, c, u, current, func() (err error) {
		hash, err = s.replacePassword(ctx, u, current, next)
		return err
	})
	if err != nil {
		return err
	}
	err = s.atomically(ctx, s.event(ctx, AuditPasswordChanged, id, id, nil), func(tx Stores) error {
		if err := tx.Users.SetPassword(ctx, id, hash); err != nil {
			return err
		}
		if err := s.endOthers(ctx, tx, id, c.Session.ID, s.now()); err != nil {
			return err
		}
		return s.notifyPasswordChanged(ctx, tx, u)
	})
	return self(err)
}

// replacePassword verifies current against u's hash and hashes next, in
// one hashing slot held for the hashing only (not the writes after it).
func (s *Service) replacePassword(ctx context.Context, u User, current, next string) (string, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	if !s.hasher.Verify(u.PasswordHash, current) {
		return "", ErrWrongPassword
	}
	hash, err := s.hasher.Hash(next)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// Delete removes the caller's own account for good, with its sessions and
// refresh tokens (a session.revoked for each that was live): a sensitive
// change, which needs a recent authentication of the session
// (ErrReauthenticationRequired). The last active administrator cannot
// (ErrLastAdmin).
func (s *Service) Delete(ctx context.Context, c Caller) error {
	if err := s.recentlyAuthenticated(ctx, c, ""); err != nil {
		return err
	}
	id := c.User.ID
	err := s.atomically(ctx, s.event(ctx, AuditDeleted, id, id, nil), func(tx Stores) error {
		return s.deleteAccount(ctx, tx, id)
	})
	return self(err)
}

// deleteAccount deletes the account id in tx, its sessions with it, and
// emits one session.revoked of all of them (allEnded, as a password reset
// does): a consumer that mirrors sessions ends them as for every other
// end, before the account's user.deleted. The event comes after the
// delete, in the order of every change of an account (its row, then the
// events' counter), so that a deletion and a login of one account, which
// holds a share of the row until it commits, never each hold what the
// other waits for; and it names no session, so that one a login opened
// just before the delete is ended with the rest.
func (s *Service) deleteAccount(ctx context.Context, tx Stores, id uuid.UUID) error {
	if err := tx.Users.Delete(ctx, id); err != nil {
		return err
	}
	return s.allEnded(ctx, tx, id)
}
