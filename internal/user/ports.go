package user

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/security"
)

// The ports: what the service needs of the world, one small interface per
// aggregate or collaborator. Stores implement the four store ports on one
// database handle (postgres.DB, sqlite.DB, usertest.Memory) and hand them
// over together as Stores. Implementations translate their driver's
// errors into this package's sentinels (errors.go); a database that cannot
// answer now wraps ErrUnavailable. Times are those the service passes in
// (UTC, microsecond precision); stores keep them as given.

// Users stores accounts. A missing row is ErrNotFound; a duplicate email
// or username (compared without regard to letter case) is ErrEmailTaken or
// ErrUsernameTaken.
type Users interface {
	// Create inserts u (ID, Email, Username, PasswordHash, FullName, Role,
	// EmailVerified; an empty Role is RoleUser) and returns it with the
	// columns the database fills in. Its trusted address (TrustedEmail) is
	// the email it registers with.
	Create(ctx context.Context, u User) (User, error)
	// ByID returns the user with that id.
	ByID(ctx context.Context, id uuid.UUID) (User, error)
	// ByEmail returns the user whose email matches, ignoring letter case.
	ByEmail(ctx context.Context, email string) (User, error)
	// ByUsername returns the user whose username matches, ignoring letter
	// case.
	ByUsername(ctx context.Context, username string) (User, error)
	// Update applies p to the user and returns the result. A new Email
	// that differs from the old one other than in letter case clears
	// EmailVerified, in the same statement, unless p.EmailVerified is set
	// (an address proven already); the trusted address stays what it was
	// (the last verified email, or the registration address). When
	// p.EmailVerified is true the email (new or not) becomes verified and
	// the trusted address. When p removes an active
	// administrator (p.RemovesAdmin) and no other active administrator
	// exists it changes nothing and returns ErrLastAdmin, atomically: of
	// two concurrent updates that would each remove one of the last two
	// active administrators, one fails.
	Update(ctx context.Context, id uuid.UUID, p Patch) (User, error)
	// Delete removes the user, its sessions, refresh tokens and account
	// tokens; it deletes nothing and returns ErrLastAdmin when the user is
	// the only active administrator (atomically, as Update).
	Delete(ctx context.Context, id uuid.UUID) error
	// SetPassword stores a new hash and increments the token version, in
	// one statement, so no token issued before it stays valid.
	SetPassword(ctx context.Context, id uuid.UUID, hash string) error
	// RehashPassword replaces the hash old with hash, the same password
	// hashed with new settings, and keeps the token version. It does
	// nothing when the stored hash is no longer old (the password changed
	// meanwhile) or the user is gone.
	RehashPassword(ctx context.Context, id uuid.UUID, old, hash string) error
	// List returns up to q.Limit users matching q's filter, after q.After
	// when set, in (CreatedAt, ID) order.
	List(ctx context.Context, q ListQuery) ([]User, error)
}

// Sessions stores sessions and their refresh tokens. A session that is
// missing or not the user's is ErrSessionNotFound. Deleting a user deletes
// its sessions and tokens.
type Sessions interface {
	// Create stores s (AuthenticatedAt included) and its first refresh
	// token t together.
	Create(ctx context.Context, s Session, t RefreshToken) error
	// UserSession returns in one round trip what authenticating a request
	// needs: the user userID, without its password hash and trusted
	// address (TrustedEmail), and of its session sessionID the ID, UserID,
	// ExpiresAt, RevokedAt, AuthenticatedAt, AMR and ACR (the other fields
	// are left zero). A missing user, or a session that
	// is missing or not that user's, is ErrNotFound.
	UserSession(ctx context.Context, userID, sessionID uuid.UUID) (User, Session, error)
	// Active returns userID's sessions that are not revoked and expire
	// after now, oldest first ((CreatedAt, ID) order): those after
	// page.After when it is set, at most page.Limit of them when it is
	// positive.
	Active(ctx context.Context, userID uuid.UUID, now time.Time, page SessionPage) ([]Session, error)
	// All returns the sessions of userID, revoked and expired ones
	// included, oldest first ((CreatedAt, ID) order): those after
	// page.After when it is set, at most page.Limit of them when it is
	// positive (for the user's data export, a page at a time).
	All(ctx context.Context, userID uuid.UUID, page SessionPage) ([]Session, error)
	// Revoke marks the session id of userID revoked at at. A session
	// already revoked is ErrSessionNotFound.
	Revoke(ctx context.Context, userID, id uuid.UUID, at time.Time) error
	// RevokeAll marks every session of userID not yet revoked, except the
	// session except (uuid.Nil for none), revoked at at.
	RevokeAll(ctx context.Context, userID, except uuid.UUID, at time.Time) error
	// RevokeOldest marks the sessions of userID active at now, except the
	// keep newest ((CreatedAt, ID) order), revoked at now, at once, and
	// returns their ids, oldest first. Inside transactions, calls for one
	// userID run one after the other: each sees the sessions the
	// transactions before it stored (the session limit holds for logins
	// at once).
	RevokeOldest(ctx context.Context, userID uuid.UUID, keep int, now time.Time) ([]uuid.UUID, error)
	// RefreshToken returns the token whose hash is hash, and its session.
	// An unknown hash is ErrSessionNotFound.
	RefreshToken(ctx context.Context, hash []byte) (RefreshToken, Session, error)
	// AddRefreshToken stores t and moves its session's LastUsedAt to
	// t.CreatedAt. With replaces set, it first marks the token of that hash
	// used at t.CreatedAt, and stores nothing but returns
	// ErrRefreshTokenUsed when that token is already used: two refreshes
	// with one token cannot both rotate it. A t whose hash is stored
	// already (in t's session: the same successor computed again) changes
	// nothing and is no error.
	AddRefreshToken(ctx context.Context, t RefreshToken, replaces []byte) error
	// Reauthenticated moves the session id of userID's AuthenticatedAt to
	// at: its holder has just proved the password again. A session that is
	// missing, not the user's or revoked is ErrSessionNotFound.
	Reauthenticated(ctx context.Context, userID, id uuid.UUID, at time.Time) error
}

// AccountTokens stores one-time account tokens. Using a token is atomic:
// of any number of concurrent uses of one token, exactly one succeeds.
// Deleting a user deletes its tokens.
type AccountTokens interface {
	// Create stores t (a token of a missing user is an error), with its
	// TokenVersion.
	Create(ctx context.Context, t AccountToken) error
	// ByHash returns the token whose hash is hash, used or not;
	// ErrInvalidToken when there is none.
	ByHash(ctx context.Context, hash []byte) (AccountToken, error)
	// UseVerifyEmail marks the verification token hash used at now and, in
	// the same transaction, marks its user's email verified when the
	// user's email still equals (ignoring letter case) the one the token
	// was sent to. It returns the user as it is afterwards.
	// ErrInvalidToken: no usable verification token of that hash (unknown,
	// another purpose, used, or expired at now); ErrEmailChanged: the token
	// was used up but the address is no longer the user's.
	UseVerifyEmail(ctx context.Context, hash []byte, now time.Time) (User, error)
	// UseResetPassword marks the reset token hash used at now and, in the
	// same transaction, stores passwordHash (incrementing the token
	// version, as Users.SetPassword), marks every other unused reset token
	// of the user used, and revokes every session of the user at now.
	// ErrInvalidToken: no usable reset token of that hash, or one whose
	// TokenVersion (unless Unbound) is no longer the user's: the password
	// changed since it was mailed.
	UseResetPassword(ctx context.Context, hash []byte, passwordHash string, now time.Time) (User, error)
	// UseAll marks every unused token of userID of purpose (every purpose
	// when empty) used at now.
	UseAll(ctx context.Context, userID uuid.UUID, purpose TokenPurpose, now time.Time) error
	// Pending returns userID's tokens unused and unexpired at now
	// (Usable), oldest first ((CreatedAt, Hash)), with their
	// TokenVersion, for the account's export.
	Pending(ctx context.Context, userID uuid.UUID, now time.Time) ([]AccountToken, error)
}

// EmailChanges stores the email changes an account's previous address may
// undo: only the SHA-256 of the undo link's token is kept. Deleting a user
// deletes its changes.
type EmailChanges interface {
	// Create stores c.
	Create(ctx context.Context, c EmailChange) error
	// Use marks the change whose token hash is hash used at now and returns
	// it; ErrInvalidToken when there is no such change, or it is used or
	// expired at now. Of concurrent uses of one token, exactly one
	// succeeds.
	Use(ctx context.Context, hash []byte, now time.Time) (EmailChange, error)
	// UseAfter marks every unused change of userID made after after
	// (CreatedAt) used at now; the changes made before keep their links.
	UseAfter(ctx context.Context, userID uuid.UUID, after, now time.Time) error
	// Undoable returns the address that the earliest change of userID
	// unused and not expired at now moved away from, "" when there is none.
	Undoable(ctx context.Context, userID uuid.UUID, now time.Time) (string, error)
	// Held reports whether an account other than except has a change away
	// from email (in any letter case), unused and not expired at now: its
	// undo link would give the address back to that account.
	Held(ctx context.Context, email string, except uuid.UUID, now time.Time) (bool, error)
	// Of returns userID's changes, used and expired ones included (until
	// retention removes them), oldest first: the account's export.
	Of(ctx context.Context, userID uuid.UUID) ([]EmailChange, error)
}

// AuditLog is the append-only log of security events. Appending and
// reading are all a service may do: the stores refuse to change or delete
// an event, in the database itself. Events are never tied to the users
// table, so that deleting an account keeps its history.
type AuditLog interface {
	// Append stores e and gives it the next ID. Inside a transaction, an
	// event the store refuses (text the database cannot hold) changes
	// nothing and leaves the transaction usable, as a business error does:
	// the caller stores it again without its client text.
	Append(ctx context.Context, e AuditEvent) error
	// Events returns the events f selects, newest first: ID descending,
	// or (At, ID) descending with f.ByTime. A uuid.Nil actor
	// or subject comes back as uuid.Nil, an empty detail as nil.
	Events(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}

// Stores are the store ports of one database, handed to NewService
// together.
type Stores struct {
	Users         Users
	Sessions      Sessions
	AccountTokens AccountTokens
	EmailChanges  EmailChanges
	Audit         AuditLog
	// Factors and MFAChallenges keep second factors and the pending
	// second steps of logins (mfa.go); nil: the store keeps none.
	Factors       Factors
	MFAChallenges MFAChallenges
	// Retention removes old audit events: only PruneAudit uses it.
	Retention AuditRetention
	// Tx runs several changes as one.
	Tx Transactor
	// Outbox queues the mail and the events a change causes, in the
	// change's transaction; nil when the store has no queue (the
	// in-memory fake): mail then goes to the Notifier once the change
	// commits, and events nowhere.
	Outbox Outbox
}

// Outbox is the durable queue of the work a change causes: account mail
// and events. What it takes inside Transactor.Atomic is stored in the
// same transaction, so a committed change always has its mail and its
// events and a rolled-back one has neither; it is then delivered at least
// once, retried with backoff, across restarts.
type Outbox interface {
	// Mail queues m. Mail that protects an account (a reset link, the
	// notice of an email change) is not delayed by other queued mail.
	Mail(ctx context.Context, m Mail) error
	// Emit queues e for every consumer of events. e comes with its ID;
	// the outbox gives it Seq, its subject's next sequence number.
	Emit(ctx context.Context, e event.Event) error
}

// Transactor makes several store calls one change.
type Transactor interface {
	// Atomic runs fn with Stores bound to one transaction: what fn changes
	// through them is committed together when fn returns nil, and none of
	// it when fn returns an error (which Atomic returns) or panics. Reads
	// through them see fn's own writes. Atomic called on the Stores fn
	// receives runs inside the same transaction (as a savepoint: a failing
	// nested fn undoes only its own changes). Other callers see either all
	// of fn's changes or none.
	//
	// fn uses only the Stores it receives and stays short: on SQLite every
	// other write waits for it, and on PostgreSQL single-row reads inside
	// it lock their rows (no lost updates). A business error (ErrEmailTaken,
	// ErrNotFound...) leaves the transaction usable; after any other error
	// fn must return it, since the database may have aborted the
	// transaction already.
	Atomic(ctx context.Context, fn func(Stores) error) error
}

// Hasher turns passwords into stored hashes and checks them.
type Hasher interface {
	Hash(password string) (string, error)
	// Verify reports whether password matches hash. It takes the same time
	// for a wrong password as for a right one.
	Verify(hash, password string) bool
	// NeedsRehash reports whether hash was made with other settings than
	// Hash uses now (another algorithm or cost): a login with the right
	// password then stores a new hash.
	NeedsRehash(hash string) bool
}

// Tokens issues and checks access tokens. The token format is its business.
type Tokens interface {
	Issue(c security.Claims) (token string, expiresIn time.Duration, err error)
	// Verify returns what the token asserts, or an error when it is
	// malformed, forged, expired or foreign.
	Verify(token string) (security.Claims, error)
}

// HashGate bounds how many password hashes and verifications run at once,
// so that a flood of logins cannot take every CPU from cheaper requests.
type HashGate interface {
	// Acquire waits for a hashing slot and returns the function that frees
	// it. It returns an error wrapping ErrBusy when no slot frees up in
	// time.
	Acquire(ctx context.Context) (release func(), err error)
	// Saturated reports whether Acquire would turn a caller away at once,
	// so that a flood is refused before its database lookups.
	Saturated() bool
}

// LoginGuard is everything about login attempts on one account: the
// per-account rate, the slowdown after failures and the lockout. Login
// calls it with the attempt's account key (LoginAttempt.Key): the user's
// id when the login names an account, the normalised login otherwise, so
// that username and email of one account share one count and unknown and
// known accounts are treated alike.
type LoginGuard interface {
	// Admit returns nil when the attempt may be checked now, after waiting
	// when the account is slowed down; otherwise an error wrapping
	// ErrRateLimited or ErrLocked (the caller learns when to come back
	// from the error's RetryAfter, see Throttled).
	Admit(ctx context.Context, a LoginAttempt) error
	// Failed counts a failed attempt (a wrong password).
	Failed(ctx context.Context, a LoginAttempt)
	// Succeeded clears the account's failures.
	Succeeded(ctx context.Context, a LoginAttempt)
}

// Notifier tells users about their account by mail. Implementations
// render and deliver the message; they may queue it and return before it
// is sent, so a slow mail server never holds up a request.
type Notifier interface {
	// Send sends m.
	Send(ctx context.Context, m Mail) error
}

// Observer counts what the service cannot report to its caller, for
// metrics.
type Observer interface {
	// AuditRetried counts an audit event that could not be stored as it
	// was and was stored again without its client text and detail.
	AuditRetried(kind AuditKind)
	// AuditLost counts an audit event that could not be stored at all.
	AuditLost(kind AuditKind)
}
