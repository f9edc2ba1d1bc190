package user

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
)

// LoginWithFactor opens a session for the account id once another part of
// the service (the passkey relying party) has proved its holder without a
// password, and issues the same token pair as a password login. method
// names the proof in the login event ("passkey"), a the assurance it
// gives the session (amr and acr in its tokens). A missing or
// inactive account is ErrInvalidCredentials (recorded as a failed login);
// an unverified one, when verification is required, ErrEmailNotVerified.
func (s *Service) LoginWithFactor(ctx context.Context, id uuid.UUID, method string, a Assurance) (AccessToken, error) {
	u, err := s.users.ByID(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return AccessToken{}, err
	}
	if err != nil || !u.IsActive {
		reason := "unknown_account"
		if err == nil {
			reason = "inactive"
		}
		e := s.event(ctx, AuditLoginFailed, uuid.Nil, u.ID, map[string]string{"reason": reason, "method": method})
		if err := s.appendEvent(ctx, s.stores, false, e); err != nil {
			return AccessToken{}, err
		}
		return AccessToken{}, ErrInvalidCredentials
	}
	if err := s.checkVerified(ctx, u); err != nil {
		return AccessToken{}, err
	}
	return s.startSessionWith(ctx, u, a, map[string]string{"method": method, "amr": strings.Join(a.AMR, " ")})
}

// RequireRecentAuthentication allows a sensitive change by c, as the
// profile's own sensitive changes do (reauth.go): c's session proved the
// password within the re-authentication window, or currentPassword is c's
// password. ErrReauthenticationRequired or ErrWrongPassword otherwise.
func (s *Service) RequireRecentAuthentication(ctx context.Context, c Caller, currentPassword string) error {
	return s.recentlyAuthenticated(ctx, c, currentPassword)
}

// Account returns the account id as it is now: ErrNotFound when it is
// gone.
func (s *Service) Account(ctx context.Context, id uuid.UUID) (User, error) {
	return s.users.ByID(ctx, id)
}
