package user

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/security"
)

// Session is one login of a user: every access and refresh token issued
// from that login (and from refreshing it) belongs to it, and revoking it
// ends them all at once.
type Session struct {
	ID         uuid.UUID
	UserID     uuid.UUID
	CreatedAt  time.Time
	LastUsedAt time.Time // the login or the last refresh
	// ExpiresAt is the absolute end of the session: refreshing never takes
	// it further.
	ExpiresAt time.Time
	RevokedAt time.Time // zero while not revoked
	// AuthenticatedAt is when its holder last proved the password: the
	// login, or a re-authentication. Sensitive changes need it recent.
	AuthenticatedAt time.Time
	UserAgent       string // as the client sent it, cleaned, at most MaxUserAgent bytes
	IP              string // the client address at login
	// AMR and ACR are how the login proved its holder (Assurance): the
	// tokens of the session carry them, refreshed ones too. Empty for a
	// session stored before sessions kept them: a password login.
	AMR []string
	ACR string
	// ClientID is the client_id the login named ("" when it named none:
	// the first-party frontend). Only that client redeems the session's
	// refresh tokens (RFC 6749 section 6), as the mfa_token of a login
	// is only its client's.
	ClientID string
	// AnyClient marks a session stored before sessions kept their client
	// (migration 00032), or by a release before it: its ClientID is
	// unknown, and any client redeems its refresh tokens, as before.
	AnyClient bool
}

// RedeemableBy reports whether clientID ("" for none) may redeem the
// session's refresh tokens: its own client, or any for a session that
// does not know its client.
func (s Session) RedeemableBy(clientID string) bool {
	return s.AnyClient || s.ClientID == clientID
}

// Assurance is how the session's login proved its holder.
func (s Session) Assurance() Assurance {
	if s.ACR == "" {
		return passwordOnly()
	}
	return Assurance{AMR: s.AMR, ACR: s.ACR}
}

// Active reports whether the session is neither revoked nor expired at now.
func (s Session) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// RefreshToken is a stored refresh token: only its SHA-256 hash is kept.
// The tokens of one session form its family; a token once used to refresh
// is kept, marked used, so that its reuse can be detected.
type RefreshToken struct {
	Hash      []byte // SHA-256 of the token
	SessionID uuid.UUID
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
}

// SessionPolicy says how long refresh tokens and sessions live.
type SessionPolicy struct {
	// RefreshTTL is how long a refresh token stays usable.
	RefreshTTL time.Duration
	// MaxAge is a session's absolute lifetime from its login.
	MaxAge time.Duration
	// ReuseGrace is how long after a refresh token was used it may be used
	// again and get a fresh pair for the same session (two tabs refreshing
	// at once); later reuse revokes the session.
	ReuseGrace time.Duration
}

// DefaultSessionPolicy is the policy's zero fields' values.
var DefaultSessionPolicy = SessionPolicy{RefreshTTL: 30 * 24 * time.Hour, MaxAge: 90 * 24 * time.Hour, ReuseGrace: 10 * time.Second}

// secretBytes is the randomness of a refresh token or a mailed account
// token: 256 bits.
const secretBytes = 32

// secretLen is the length of such a token as handed out (unpadded
// base64url).
var secretLen = base64.RawURLEncoding.EncodedLen(secretBytes)

// newSecret returns a random token and what the stores keep of it.
func newSecret() (token string, hash []byte, err error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("random token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashSecret(token), nil
}

// hashSecret is what the stores keep of a token: its SHA-256.
func hashSecret(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// secretHash is hashSecret of token, false when token cannot be one of
// newSecret's.
func secretHash(token string) ([]byte, bool) {
	if len(token) != secretLen {
		return nil, false
	}
	return hashSecret(token), true
}

// newRefreshToken returns a random token and its record in session sess:
// the first of a session.
func (s *Service) newRefreshToken(sess Session, now time.Time) (string, RefreshToken, error) {
	token, hash, err := newSecret()
	if err != nil {
		return "", RefreshToken{}, err
	}
	return token, s.refreshRecord(sess, hash, now), nil
}

// successor returns the token that replaces token in a rotation, and its
// record: derived from token under the service's secret, so that every
// refresh with one token (two tabs racing, a retry within the grace) gets
// the same successor and the session keeps one chain. Without the secret
// nobody can compute it from a stolen used token.
func (s *Service) successor(token string, sess Session, now time.Time) (string, RefreshToken) {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("usersvc refresh successor\x00"))
	m.Write([]byte(token))
	next := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	return next, s.refreshRecord(sess, hashSecret(next), now)
}

// refreshRecord is the stored record of a refresh token of sess made now.
func (s *Service) refreshRecord(sess Session, hash []byte, now time.Time) RefreshToken {
	exp := now.Add(s.policy.Sessions.RefreshTTL)
	if exp.After(sess.ExpiresAt) {
		exp = sess.ExpiresAt
	}
	return RefreshToken{Hash: hash, SessionID: sess.ID, CreatedAt: now, ExpiresAt: exp}
}

// startSessionWith opens a session for u, proved as a says, records the
// login in the same transaction with detail in its event (how the login
// was proved, when not by the password), and issues the session's first
// token pair.
func (s *Service) startSessionWith(ctx context.Context, u User, a Assurance, more map[string]string) (AccessToken, error) {
	return s.openSession(ctx, u, more, func(Stores) (Assurance, error) { return a, nil })
}

// openSession opens a session for u, records the login (more added to
// its detail) and issues the session's first token pair. Its one
// transaction runs prove first, which returns how the login proved its
// holder: what prove uses up through tx (a second step's mfa_token and
// code) is used up only if the session opens, and prove's error ends the
// login with nothing changed.
func (s *Service) openSession(ctx context.Context, u User, more map[string]string, prove func(tx Stores) (Assurance, error)) (AccessToken, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return AccessToken{}, fmt.Errorf("new session id: %w", err)
	}
	c := clientOf(ctx)
	now := s.now()
	var (
		sess    Session
		refresh string
	)
	err = s.atomic(ctx, func(tx Stores) error {
		if err := s.stillAsRead(ctx, tx, u); err != nil {
			return err
		}
		a, err := prove(tx)
		if err != nil {
			return err
		}
		sess = Session{
			ID: id, UserID: u.ID, CreatedAt: now, LastUsedAt: now, AuthenticatedAt: now,
			ExpiresAt: now.Add(s.policy.Sessions.MaxAge), UserAgent: c.UserAgent, IP: c.IP,
			AMR: a.AMR, ACR: a.ACR, ClientID: c.ClientID,
		}
		var rt RefreshToken
		if refresh, rt, err = s.newRefreshToken(sess, now); err != nil {
			return err
		}
		if err := s.endOldest(ctx, tx, u.ID, now); err != nil {
			return err
		}
		if err := tx.Sessions.Create(ctx, sess, rt); err != nil {
			return err
		}
		detail := map[string]string{"session_id": id.String()}
		if a.MultiFactor() {
			detail["amr"] = strings.Join(a.AMR, " ")
		}
		maps.Copy(detail, more)
		return s.appendEvent(ctx, tx, true, s.event(ctx, AuditLoginSucceeded, u.ID, u.ID, detail))
	})
	if err != nil {
		return AccessToken{}, err
	}
	return s.issue(u, sess, refresh)
}

// issue signs an access token for u in sess and pairs it with refresh.
func (s *Service) issue(u User, sess Session, refresh string) (AccessToken, error) {
	a := sess.Assurance()
	token, ttl, err := s.access.Issue(security.Claims{
		UserID: u.ID, Version: u.TokenVersion, SessionID: sess.ID, Role: string(u.Role), AMR: a.AMR, ACR: a.ACR,
	})
	if err != nil {
		return AccessToken{}, err
	}
	return AccessToken{Token: token, ExpiresIn: ttl, RefreshToken: refresh, SessionID: sess.ID, UserID: u.ID}, nil
}

// Refresh exchanges a refresh token for a new pair in the same session and
// rotates it: the token presented is marked used. A token used again
// within the reuse grace (concurrent refreshes, a retry) gets the same
// successor it got the first time, with a fresh access token: one chain,
// never a second one. Used again later, it revokes its whole session (the
// token was stolen, or the thief's copy was used first). Every refusal is
// ErrInvalidGrant, and so is a token presented by another client than the
// one its session's login named (WithClientID): that refusal changes
// nothing, the token stays its own client's.
func (s *Service) Refresh(ctx context.Context, token string) (AccessToken, error) {
	hash, ok := secretHash(token)
	if !ok {
		return AccessToken{}, ErrInvalidGrant
	}
	rt, sess, err := s.sessions.RefreshToken(ctx, hash)
	if errors.Is(err, ErrSessionNotFound) {
		return AccessToken{}, ErrInvalidGrant
	}
	if err != nil {
		return AccessToken{}, err
	}
	now := s.now()
	if !sess.Active(now) {
		return AccessToken{}, ErrInvalidGrant
	}
	if !sess.RedeemableBy(clientOf(ctx).ClientID) {
		s.log.WarnContext(ctx, "refresh token presented by another client than its login's: refused",
			"user_id", sess.UserID.String(), "session_id", sess.ID.String())
		return AccessToken{}, ErrInvalidGrant
	}
	replaces := hash
	if !rt.UsedAt.IsZero() {
		if now.Sub(rt.UsedAt) > s.policy.Sessions.ReuseGrace {
			return AccessToken{}, s.reuseDetected(ctx, sess, now)
		}
		replaces = nil // within the grace: a sibling, the used token stays used
	} else if !now.Before(rt.ExpiresAt) {
		return AccessToken{}, ErrInvalidGrant
	}
	u, err := s.refreshable(ctx, sess.UserID, now)
	if err != nil {
		return AccessToken{}, err
	}
	refresh, next := s.successor(token, sess, now)
	err = s.sessions.AddRefreshToken(ctx, next, replaces)
	if errors.Is(err, ErrRefreshTokenUsed) {
		// Another refresh with the same token won the race a moment ago:
		// that is the grace case, and it stored the same successor.
		err = s.sessions.AddRefreshToken(ctx, next, nil)
	}
	if err != nil {
		return AccessToken{}, err
	}
	return s.issue(u, sess, refresh)
}

// refreshable returns the user id, whose session is being refreshed, when
// it may still be: ErrInvalidGrant when it is gone or inactive (then all
// its sessions end: endInactive), ErrEmailNotVerified when verification
// is required and missing.
func (s *Service) refreshable(ctx context.Context, id uuid.UUID, now time.Time) (User, error) {
	u, err := s.users.ByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrInvalidGrant
	}
	if err != nil {
		return User{}, err
	}
	if !u.IsActive {
		if err := s.endInactive(ctx, u.ID, now); err != nil {
			return User{}, err
		}
		return User{}, ErrInvalidGrant
	}
	if s.policy.Lifecycle.RequireVerified && !u.EmailVerified {
		return User{}, ErrEmailNotVerified
	}
	return u, nil
}

// endInactive ends every session of the account id, found inactive (an
// account deactivated behind the service's back) by a refresh of one of
// them, with its logins waiting for a second step, and in the same
// transaction records it and emits session.revoked (all), as any other
// end of an account's sessions does.
func (s *Service) endInactive(ctx context.Context, id uuid.UUID, now time.Time) error {
	e := s.event(ctx, AuditSessionRevoked, uuid.Nil, id, map[string]string{"scope": "all", "reason": "account_inactive"})
	return s.atomic(ctx, func(tx Stores) error {
		if err := s.endSessions(ctx, tx, id, uuid.Nil, now); err != nil {
			return err
		}
		return s.recordIn(ctx, tx, e)
	})
}

// reuseDetected revokes sess, whose used refresh token came back too late,
// and in the same transaction records it and emits its session.revoked,
// so that consumers stop trusting the session too (the token may be
// stolen). A session revoked meanwhile had its event then: the reuse is
// only recorded.
func (s *Service) reuseDetected(ctx context.Context, sess Session, now time.Time) error {
	e := s.event(ctx, AuditRefreshReused, uuid.Nil, sess.UserID, map[string]string{"session_id": sess.ID.String()})
	revoked := true
	err := s.atomic(ctx, func(tx Stores) error {
		err := tx.Sessions.Revoke(ctx, sess.UserID, sess.ID, now)
		if errors.Is(err, ErrSessionNotFound) {
			revoked = false
			return nil
		}
		if err != nil {
			return err
		}
		return s.recordIn(ctx, tx, e)
	})
	if err != nil {
		return err
	}
	if !revoked {
		_ = s.appendEvent(ctx, s.stores, false, e)
	}
	s.log.WarnContext(ctx, "refresh token reused after rotation: session revoked",
		"user_id", sess.UserID.String(), "session_id", sess.ID.String())
	return ErrInvalidGrant
}

// Authenticate returns the active user an access token was issued to and
// the token's session. A token of a deleted or inactive user, one issued
// before the user's last password change, and one whose session is revoked
// or expired (or that names no session) give ErrUnauthenticated. It costs
// one lookup by both primary keys: the user and the session together.
func (s *Service) Authenticate(ctx context.Context, token string) (User, Session, error) {
	c, err := s.access.Verify(token)
	if err != nil || c.SessionID == uuid.Nil {
		return User{}, Session{}, ErrUnauthenticated
	}
	u, sess, err := s.sessions.UserSession(ctx, c.UserID, c.SessionID)
	if errors.Is(err, ErrNotFound) {
		return User{}, Session{}, ErrUnauthenticated
	}
	if err != nil {
		return User{}, Session{}, err
	}
	if !u.IsActive || u.TokenVersion != c.Version || !sess.Active(s.now()) {
		return User{}, Session{}, ErrUnauthenticated
	}
	// The session's assurance, as its signed tokens carry it: the lookup
	// of every request does not read it.
	sess.AMR, sess.ACR = c.AMR, c.ACR
	return u, sess, nil
}

// Logout revokes the session id of user userID: its access tokens are
// refused from now on and its refresh tokens no longer refresh.
func (s *Service) Logout(ctx context.Context, userID, id uuid.UUID) error {
	err := s.revoke(ctx, AuditLoggedOut, userID, map[string]string{"session_id": id.String()}, func(tx Stores) error {
		return tx.Sessions.Revoke(ctx, userID, id, s.now())
	})
	if errors.Is(err, ErrSessionNotFound) {
		return nil // revoked meanwhile: the outcome is the same
	}
	return err
}

// revoke ends sessions of userID with end and, in the same transaction,
// records it (audit kind, detail) and emits session.revoked. The audit
// event is not a security one: when it cannot be stored, it is logged and
// the sessions end anyway.
func (s *Service) revoke(ctx context.Context, kind AuditKind, userID uuid.UUID, detail map[string]string, end func(tx Stores) error) error {
	e := s.event(ctx, kind, userID, userID, detail)
	return s.atomic(ctx, func(tx Stores) error {
		if err := end(tx); err != nil {
			return err
		}
		return s.recordIn(ctx, tx, e)
	})
}

// LogoutAll revokes every session of user userID, and ends its logins
// waiting for a second step.
func (s *Service) LogoutAll(ctx context.Context, userID uuid.UUID) error {
	return s.revoke(ctx, AuditLoggedOut, userID, map[string]string{"scope": "all"}, func(tx Stores) error {
		return s.endSessions(ctx, tx, userID, uuid.Nil, s.now())
	})
}

// endSessions revokes, within tx, every session of userID but except
// (uuid.Nil for none), after ending its logins waiting for their second
// step (endPendingLogins): whatever ends an account's sessions ends those
// too.
func (s *Service) endSessions(ctx context.Context, tx Stores, userID, except uuid.UUID, now time.Time) error {
	if err := holdAccount(ctx, tx, userID); err != nil {
		return err
	}
	return s.endHeldSessions(ctx, tx, userID, except, now)
}

// endHeldSessions is endSessions once tx holds the account.
func (s *Service) endHeldSessions(ctx context.Context, tx Stores, userID, except uuid.UUID, now time.Time) error {
	if err := s.endPendingLogins(ctx, tx, userID, now); err != nil {
		return err
	}
	return tx.Sessions.RevokeAll(ctx, userID, except, now)
}

// holdAccount reads the account id in tx, which holds it until tx ends
// (a read in a transaction locks its row; on SQLite transactions never
// overlap): what ends an account's sessions holds it first, as a login
// opening a session does (stillAsRead), so that either the login's
// session is committed first and ended with the others, or the login
// sees the change. An account gone has no sessions left to end.
func holdAccount(ctx context.Context, tx Stores, id uuid.UUID) error {
	if _, err := tx.Users.ByID(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// stillAsRead holds the account of u, read before tx, and refuses the
// login (ErrInvalidCredentials) if it changed meanwhile in a way that
// ends sessions: its password was set (the token version moves) or it
// was deactivated or deleted. The change ended the sessions it saw, and
// the one this login is about to open is not among them.
func (s *Service) stillAsRead(ctx context.Context, tx Stores, u User) error {
	now, err := tx.Users.ByID(ctx, u.ID)
	if errors.Is(err, ErrNotFound) {
		return ErrInvalidCredentials
	}
	if err != nil {
		return err
	}
	if now.TokenVersion != u.TokenVersion || !now.IsActive {
		return ErrInvalidCredentials
	}
	return nil
}

// SessionPage selects a page of a user's sessions in (CreatedAt, ID)
// order.
type SessionPage struct {
	After *SessionKey // nil: from the oldest
	Limit int         // zero or less: every one
}

// SessionKey is the position of a session in a user's list: the keyset
// cursor of SessionPage.
type SessionKey struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// Cursor is the opaque cursor that continues a listing of sessions after
// k (the API's Next-Cursor, the sessions page's links): its creation time
// in microseconds and its id, base64url.
func (k SessionKey) Cursor() string {
	b := binary.BigEndian.AppendUint64(nil, uint64(k.CreatedAt.UnixMicro())) //nolint:gosec // times after 1970
	return base64.RawURLEncoding.EncodeToString(append(b, k.ID[:]...))
}

// ParseSessionCursor returns the key of a cursor Cursor made, nil for "";
// false for a string that is no such cursor.
func ParseSessionCursor(c string) (*SessionKey, bool) {
	if c == "" {
		return nil, true
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 8+16 {
		return nil, false
	}
	micros := int64(binary.BigEndian.Uint64(b)) //nolint:gosec // checked just below
	id, err := uuid.FromBytes(b[8:])
	if micros <= 0 || err != nil {
		return nil, false
	}
	return &SessionKey{CreatedAt: time.UnixMicro(micros).UTC(), ID: id}, true
}

// Session list page sizes.
const (
	// DefaultSessionPage is the page of GET /users/me/sessions when none
	// is asked for: DefaultMaxSessions, so that a client that knows no
	// paging sees every session of an account within the default cap.
	DefaultSessionPage = 100
	MaxSessionPage     = 500 // the largest page a caller may ask for
)

// DefaultMaxSessions is Policy.MaxSessions' default.
const DefaultMaxSessions = 100

// Sessions lists a page of the active sessions of user userID, oldest
// first, and the key to pass as After for the next page (nil on the last).
// A limit out of 1..MaxSessionPage is DefaultSessionPage.
func (s *Service) Sessions(ctx context.Context, userID uuid.UUID, after *SessionKey, limit int) ([]Session, *SessionKey, error) {
	if limit <= 0 || limit > MaxSessionPage {
		limit = DefaultSessionPage
	}
	page, err := s.sessions.Active(ctx, userID, s.now(), SessionPage{After: after, Limit: limit + 1})
	if err != nil || len(page) <= limit {
		return page, nil, err
	}
	page = page[:limit]
	last := page[limit-1]
	return page, &SessionKey{CreatedAt: last.CreatedAt, ID: last.ID}, nil
}

// endOldest ends, in tx, before a login opens its session, the sessions
// of u beyond the newest policy.MaxSessions-1, each recorded as a
// revocation for the session limit: the login's own session, opened
// next, is never one of them, even when another login's session (of a
// replica whose clock is ahead) is newer.
func (s *Service) endOldest(ctx context.Context, tx Stores, userID uuid.UUID, now time.Time) error {
	ended, err := tx.Sessions.RevokeOldest(ctx, userID, s.policy.MaxSessions-1, now)
	if err != nil {
		return err
	}
	for _, id := range ended {
		e := s.event(ctx, AuditSessionRevoked, userID, userID, map[string]string{"session_id": id.String(), "reason": "session_limit"})
		if err := s.appendEvent(ctx, tx, true, e); err != nil {
			return err
		}
	}
	return nil
}

// RevokeSession revokes one session of user userID; ErrSessionNotFound
// when it is not one of theirs or already revoked.
func (s *Service) RevokeSession(ctx context.Context, userID, id uuid.UUID) error {
	return s.revoke(ctx, AuditSessionRevoked, userID, map[string]string{"session_id": id.String()}, func(tx Stores) error {
		return tx.Sessions.Revoke(ctx, userID, id, s.now())
	})
}
