package user

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// The kinds of token RevokeToken may be told to try first (RFC 7009's
// token_type_hint).
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// RevokeToken ends the session of token, a refresh token or an access
// token (RFC 7009): its refresh tokens stop refreshing and its access
// tokens stop authenticating. A token that is unknown, malformed, expired,
// or whose session has ended already is no error: what the caller asked
// for holds. hint (HintAccessToken, HintRefreshToken or anything else)
// says which kind to try first; the other is tried too.
func (s *Service) RevokeToken(ctx context.Context, token, hint string) error {
	tries := []func(context.Context, string) (bool, error){s.revokeRefreshToken, s.revokeAccessToken}
	if hint == HintAccessToken {
		tries[0], tries[1] = tries[1], tries[0]
	}
	for _, try := range tries {
		if found, err := try(ctx, token); found || err != nil {
			return err
		}
	}
	return nil
}

// revokeRefreshToken ends the session of a stored refresh token, used or
// not (one who holds a used token could end the session by reusing it
// anyway), and reports whether token is one.
func (s *Service) revokeRefreshToken(ctx context.Context, token string) (bool, error) {
	hash, ok := secretHash(token)
	if !ok {
		return false, nil
	}
	_, sess, err := s.sessions.RefreshToken(ctx, hash)
	if errors.Is(err, ErrSessionNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, s.endSession(ctx, sess.UserID, sess.ID)
}

// revokeAccessToken ends the session of an access token that verifies
// (signature, issuer, audience, expiry), and reports whether token is one.
func (s *Service) revokeAccessToken(ctx context.Context, token string) (bool, error) {
	c, err := s.access.Verify(token)
	if err != nil || c.SessionID == uuid.Nil {
		return false, nil
	}
	return true, s.endSession(ctx, c.UserID, c.SessionID)
}

// endSession revokes the session id of userID, if it is still live, and
// in the same transaction records it as a logout by revocation and emits
// its session.revoked, as Logout does.
func (s *Service) endSession(ctx context.Context, userID, id uuid.UUID) error {
	err := s.revoke(ctx, AuditLoggedOut, userID, map[string]string{"session_id": id.String(), "via": "revocation"}, func(tx Stores) error {
		return tx.Sessions.Revoke(ctx, userID, id, s.now())
	})
	if errors.Is(err, ErrSessionNotFound) {
		return nil // revoked meanwhile: the outcome is the same
	}
	return err
}
