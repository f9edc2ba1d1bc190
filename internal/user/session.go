package user

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

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
	UserAgent string    // as the client sent it, truncated to MaxUserAgent bytes
	IP        string    // the client address at login
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

// SessionRepository stores sessions and their refresh tokens. Times are
// those the service passes in (UTC, microsecond precision); stores keep
// them as given. A session that is missing or not the user's is
// ErrSessionNotFound. Deleting a user deletes its sessions and tokens.
type SessionRepository interface {
	// CreateSession stores s and its first refresh token t together.
	CreateSession(ctx context.Context, s Session, t RefreshToken) error
	// Session returns the session id of user userID.
	Session(ctx context.Context, userID, id uuid.UUID) (Session, error)
	// ActiveSessions returns userID's sessions that are not revoked and
	// expire after now, oldest first.
	ActiveSessions(ctx context.Context, userID uuid.UUID, now time.Time) ([]Session, error)
	// RevokeSession marks the session id of userID revoked at at. A session
	// already revoked is ErrSessionNotFound.
	RevokeSession(ctx context.Context, userID, id uuid.UUID, at time.Time) error
	// RevokeSessions marks every session of userID not yet revoked, except
	// the session except (uuid.Nil for none), revoked at at.
	RevokeSessions(ctx context.Context, userID, except uuid.UUID, at time.Time) error
	// RefreshToken returns the token whose hash is hash, and its session.
	// An unknown hash is ErrSessionNotFound.
	RefreshToken(ctx context.Context, hash []byte) (RefreshToken, Session, error)
	// AddRefreshToken stores t and moves its session's LastUsedAt to
	// t.CreatedAt. With replaces set, it first marks the token of that hash
	// used at t.CreatedAt, and stores nothing but returns
	// ErrRefreshTokenUsed when that token is already used: two refreshes
	// with one token cannot both rotate it.
	AddRefreshToken(ctx context.Context, t RefreshToken, replaces []byte) error
	// Deactivate marks the user id inactive (ErrNotFound when missing).
	Deactivate(ctx context.Context, id uuid.UUID) error
	// UserSession returns in one round trip what authenticating a request
	// needs: the user userID, without its password hash, and of its session
	// sessionID the ID, UserID, ExpiresAt and RevokedAt (the other fields
	// are left zero). A missing user, or a session that is missing or not
	// that user's, is ErrNotFound.
	UserSession(ctx context.Context, userID, sessionID uuid.UUID) (User, Session, error)
}

// Session errors.
var (
	// ErrSessionNotFound is a session that does not exist, is not the
	// caller's or is already revoked.
	ErrSessionNotFound = errors.New("session not found")
	// ErrInvalidGrant is a refresh token that is unknown, expired, already
	// used (reuse) or belongs to a revoked or expired session or an inactive
	// user. It is one error on purpose: the client can only log in again.
	ErrInvalidGrant = errors.New("the refresh token is invalid, expired or revoked")
	// ErrRefreshTokenUsed is a store's answer to rotating a token that
	// another request has rotated first.
	ErrRefreshTokenUsed = errors.New("refresh token already used")
)

// MaxUserAgent is the longest user agent kept with a session, in bytes.
const MaxUserAgent = 255

// refreshTokenBytes is the randomness of a refresh token: 256 bits.
const refreshTokenBytes = 32

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

// DefaultSessionPolicy is used when WithSessionPolicy is not given.
var DefaultSessionPolicy = SessionPolicy{RefreshTTL: 30 * 24 * time.Hour, MaxAge: 90 * 24 * time.Hour, ReuseGrace: 10 * time.Second}

// WithSessionPolicy sets the lifetimes of refresh tokens and sessions.
func WithSessionPolicy(p SessionPolicy) Option { return func(s *Service) { s.sessions = p } }

// WithClock makes the service read the time from now (tests).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.clock = now } }

// WithReuseDetected hands f every detected reuse of a rotated refresh
// token (the session was revoked), e.g. to log it.
func WithReuseDetected(f func(ctx context.Context, s Session)) Option {
	return func(s *Service) { s.reused = f }
}

// Client describes who is calling: kept with the session a login opens
// and with every audit event.
type Client struct {
	UserAgent string
	IP        string
	RequestID string
}

// Client returns c: a Client is its own ClientSource.
func (c Client) Client() Client { return c }

// ClientSource says who is calling when asked. The service asks only when
// it keeps the caller (a login's new session, an audit event), which most
// requests never do, so a source can leave the work until then.
type ClientSource interface {
	Client() Client
}

type clientKey struct{}

// WithClient returns ctx saying who is calling; Login stores it with the
// session.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, ClientSource(c))
}

// WithClientSource returns ctx whose caller src describes when asked. src
// is asked only on the goroutine of the call ctx is passed to (background
// work takes a copy of its answer first).
func WithClientSource(ctx context.Context, src ClientSource) context.Context {
	return context.WithValue(ctx, clientKey{}, src)
}

// clientOf returns who is calling, as WithClient or WithClientSource said;
// the zero Client when neither did.
func clientOf(ctx context.Context) Client {
	if src, ok := ctx.Value(clientKey{}).(ClientSource); ok {
		return src.Client()
	}
	return Client{}
}

// now is the service's clock, UTC at the precision every store keeps.
func (s *Service) now() time.Time {
	return s.clock().UTC().Truncate(time.Microsecond)
}

// newRefreshToken returns a random token and its record in session sess.
func (s *Service) newRefreshToken(sess Session, now time.Time) (string, RefreshToken, error) {
	b := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", RefreshToken{}, fmt.Errorf("refresh token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	exp := now.Add(s.sessions.RefreshTTL)
	if exp.After(sess.ExpiresAt) {
		exp = sess.ExpiresAt
	}
	return token, RefreshToken{Hash: hashToken(token), SessionID: sess.ID, CreatedAt: now, ExpiresAt: exp}, nil
}

// hashToken is what the stores keep of a refresh token.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// startSession opens a session for u and issues its first token pair.
func (s *Service) startSession(ctx context.Context, u User) (AccessToken, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return AccessToken{}, fmt.Errorf("new session id: %w", err)
	}
	c := clientOf(ctx)
	now := s.now()
	sess := Session{
		ID: id, UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.sessions.MaxAge),
		UserAgent: truncate(c.UserAgent, MaxUserAgent), IP: c.IP,
	}
	refresh, rt, err := s.newRefreshToken(sess, now)
	if err != nil {
		return AccessToken{}, err
	}
	if err := s.repo.CreateSession(ctx, sess, rt); err != nil {
		return AccessToken{}, err
	}
	return s.issue(u, sess, refresh)
}

// issue signs an access token for u in sess and pairs it with refresh.
func (s *Service) issue(u User, sess Session, refresh string) (AccessToken, error) {
	token, ttl, err := s.tokens.Issue(security.Claims{UserID: u.ID, Version: u.TokenVersion, SessionID: sess.ID, Role: string(u.Role)})
	if err != nil {
		return AccessToken{}, err
	}
	return AccessToken{Token: token, ExpiresIn: ttl, RefreshToken: refresh, SessionID: sess.ID}, nil
}

// Refresh exchanges a refresh token for a new pair in the same session and
// rotates it: the token presented is marked used. A token used again
// within the reuse grace gets a fresh pair too (concurrent refreshes); used
// again later, it revokes its whole session (the token was stolen, or the
// thief's copy was used first). Every refusal is ErrInvalidGrant.
func (s *Service) Refresh(ctx context.Context, token string) (AccessToken, error) {
	if len(token) != base64.RawURLEncoding.EncodedLen(refreshTokenBytes) {
		return AccessToken{}, ErrInvalidGrant
	}
	repo := s.repo
	hash := hashToken(token)
	rt, sess, err := repo.RefreshToken(ctx, hash)
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
	replaces := hash
	if !rt.UsedAt.IsZero() {
		if now.Sub(rt.UsedAt) > s.sessions.ReuseGrace {
			return AccessToken{}, s.reuseDetected(ctx, sess, now)
		}
		replaces = nil // within the grace: a sibling, the used token stays used
	} else if !now.Before(rt.ExpiresAt) {
		return AccessToken{}, ErrInvalidGrant
	}
	u, err := s.repo.ByID(ctx, sess.UserID)
	if errors.Is(err, ErrNotFound) {
		return AccessToken{}, ErrInvalidGrant
	}
	if err != nil {
		return AccessToken{}, err
	}
	if !u.IsActive {
		if err := repo.RevokeSessions(ctx, u.ID, uuid.Nil, now); err != nil {
			return AccessToken{}, err
		}
		return AccessToken{}, ErrInvalidGrant
	}
	if s.lifecycle.rules().RequireVerified && !u.EmailVerified { // lifecycle.go
		return AccessToken{}, ErrEmailNotVerified
	}
	refresh, next, err := s.newRefreshToken(sess, now)
	if err != nil {
		return AccessToken{}, err
	}
	err = repo.AddRefreshToken(ctx, next, replaces)
	if errors.Is(err, ErrRefreshTokenUsed) {
		// Another refresh with the same token won the race a moment ago:
		// that is the grace case.
		err = repo.AddRefreshToken(ctx, next, nil)
	}
	if err != nil {
		return AccessToken{}, err
	}
	return s.issue(u, sess, refresh)
}

// reuseDetected revokes sess, whose used refresh token came back too late.
func (s *Service) reuseDetected(ctx context.Context, sess Session, now time.Time) error {
	err := s.repo.RevokeSession(ctx, sess.UserID, sess.ID, now)
	if err != nil && !errors.Is(err, ErrSessionNotFound) {
		return err
	}
	s.record(ctx, AuditRefreshReused, uuid.Nil, sess.UserID, map[string]string{"session_id": sess.ID.String()})
	if s.reused != nil {
		s.reused(ctx, sess)
	}
	return ErrInvalidGrant
}

// Logout revokes the session id of user userID: its access tokens are
// refused from now on and its refresh tokens no longer refresh.
func (s *Service) Logout(ctx context.Context, userID, id uuid.UUID) error {
	err := s.repo.RevokeSession(ctx, userID, id, s.now())
	if errors.Is(err, ErrSessionNotFound) {
		return nil // revoked meanwhile: the outcome is the same
	}
	if err == nil {
		s.record(ctx, AuditLoggedOut, userID, userID, map[string]string{"session_id": id.String()})
	}
	return err
}

// LogoutAll revokes every session of user userID.
func (s *Service) LogoutAll(ctx context.Context, userID uuid.UUID) error {
	if err := s.repo.RevokeSessions(ctx, userID, uuid.Nil, s.now()); err != nil {
		return err
	}
	s.record(ctx, AuditLoggedOut, userID, userID, map[string]string{"scope": "all"})
	return nil
}

// Sessions lists the active sessions of user userID, oldest first.
func (s *Service) Sessions(ctx context.Context, userID uuid.UUID) ([]Session, error) {
	return s.repo.ActiveSessions(ctx, userID, s.now())
}

// RevokeSession revokes one session of user userID; ErrSessionNotFound
// when it is not one of theirs or already revoked.
func (s *Service) RevokeSession(ctx context.Context, userID, id uuid.UUID) error {
	if err := s.repo.RevokeSession(ctx, userID, id, s.now()); err != nil {
		return err
	}
	s.record(ctx, AuditSessionRevoked, userID, userID, map[string]string{"session_id": id.String()})
	return nil
}

// Deactivate marks the account inactive and revokes all its sessions.
// The last active administrator cannot be deactivated (ErrLastAdmin).
func (s *Service) Deactivate(ctx context.Context, id uuid.UUID) error {
	repo, off := s.repo, false
	if _, err := repo.UpdateKeepingAdmin(ctx, id, Patch{IsActive: &off}); err != nil {
		return err
	}
	// No signed-in actor: Deactivate is the operator's (uuid.Nil).
	s.record(ctx, AuditDeactivated, uuid.Nil, id, nil)
	return repo.RevokeSessions(ctx, id, uuid.Nil, s.now())
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
