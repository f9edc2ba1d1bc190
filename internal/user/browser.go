package user

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// Resume returns the user and the session a browser holds by their ids
// (the hosted pages keep them, signed, in a cookie), checked as a bearer
// token is: ErrUnauthenticated when the session is revoked, expired or not
// the user's, or the account is gone or inactive. Every page request calls
// it, so that ending a session or deactivating its account ends the page
// session at its next request. One lookup by both primary keys.
func (s *Service) Resume(ctx context.Context, userID, sessionID uuid.UUID) (User, Session, error) {
	u, sess, err := s.sessions.UserSession(ctx, userID, sessionID)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrSessionNotFound) {
		return User{}, Session{}, ErrUnauthenticated
	}
	if err != nil {
		return User{}, Session{}, err
	}
	if !u.IsActive || !sess.Active(s.now()) {
		return User{}, Session{}, ErrUnauthenticated
	}
	return u, sess, nil
}

// LogoutOthers revokes every session of c's user but c's own, and ends
// its logins waiting for a second step: "sign out all other sessions".
func (s *Service) LogoutOthers(ctx context.Context, c Caller) error {
	return s.revoke(ctx, AuditLoggedOut, c.User.ID, map[string]string{"scope": "others", "session_id": c.Session.ID.String()}, func(tx Stores) error {
		return s.endOthers(ctx, tx, c.User.ID, c.Session.ID, s.now())
	})
}
