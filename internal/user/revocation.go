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

// Revoker is the client asking RevokeToken (RFC 7009 section 2.1), as
// the HTTP layer found it: ClientID is the client_id the request named
// ("" for none); Authenticated says it proved to be that client (a
// registered confidential client's secret). The HTTP layer refuses a
// request naming a registered confidential client that does not
// authenticate, so a confidential client's id arrives only authenticated.
type Revoker struct {
	ClientID      string
	Authenticated bool
}

// RevokeToken ends the session of token, a refresh token or an access
// token (RFC 7009): its refresh tokens stop refreshing and its access
// tokens stop authenticating. A token that is unknown, malformed, expired,
// or whose session has ended already is no error: what the caller asked
// for holds. hint (HintAccessToken, HintRefreshToken or anything else)
// says which kind to try first; the other is tried too.
//
// A refresh token is revoked only for the client its session's login
// named (Session.RedeemableBy, as Refresh): by a request that does not
// authenticate a client, any other is ErrRevokerNotTokensClient (the
// token's client must make the request); by another client that did
// authenticate, nothing happens and nil is returned, as for a token that
// is not its own (RFC 7009 section 2.2). A first-party token (a login
// that named no client) is revoked by anyone holding it, who could
// refresh it anyway. An access token ends its session whoever sends it:
// its holder could end the session with Logout as well.
func (s *Service) RevokeToken(ctx context.Context, token, hint string, by Revoker) error {
	refresh := func(ctx context.Context, token string) (bool, error) { return s.revokeRefreshToken(ctx, token, by) }
	tries := []func(context.Context, string) (bool, error){refresh, s.revokeAccessToken}
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
// anyway), when by may (RevokeToken), and reports whether token is one.
func (s *Service) revokeRefreshToken(ctx context.Context, token string, by Revoker) (bool, error) {
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
	if sess.ClientID != "" && !sess.RedeemableBy(by.ClientID) {
		return true, s.refuseRevocation(ctx, sess, by)
	}
	return true, s.endSession(ctx, sess.UserID, sess.ID)
}

// refuseRevocation answers a revocation of sess's refresh token by
// another client than its login's: ErrRevokerNotTokensClient when by did
// not authenticate and the session is live, nil otherwise (nothing to do).
func (s *Service) refuseRevocation(ctx context.Context, sess Session, by Revoker) error {
	if !sess.Active(s.now()) {
		return nil
	}
	s.log.WarnContext(ctx, "refresh token revocation by another client than its login's: refused",
		"user_id", sess.UserID.String(), "session_id", sess.ID.String())
	if by.Authenticated {
		return nil
	}
	return ErrRevokerNotTokensClient
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
