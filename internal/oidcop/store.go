package oidcop

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// AuthRequest is one /oauth/authorize request on its way through sign-in
// and consent to a code, and then the code until it is exchanged.
type AuthRequest struct {
	ID                  string    `json:"id"`
	ClientID            string    `json:"client_id"`
	RedirectURI         string    `json:"redirect_uri"`
	State               string    `json:"state,omitempty"`
	Nonce               string    `json:"nonce,omitempty"`
	Scopes              []string  `json:"scopes"`
	ResponseType        string    `json:"response_type"`
	ResponseMode        string    `json:"response_mode,omitempty"`
	CodeChallenge       string    `json:"code_challenge,omitempty"`
	CodeChallengeMethod string    `json:"code_challenge_method,omitempty"`
	Prompt              []string  `json:"prompt,omitempty"`
	MaxAge              *uint     `json:"max_age,omitempty"` // nil: none asked
	LoginHint           string    `json:"login_hint,omitempty"`
	CreatedAt           time.Time `json:"created_at"`
	ExpiresAt           time.Time `json:"expires_at"`
	// HintSubject is the sub of the request's id_token_hint: the user the
	// client expects, whom another signed-in user must not stand in for.
	HintSubject string `json:"hint_subject,omitempty"`
	// BrowserHash is the SHA-256 of the binding cookie's value of the
	// browser that sent the request: only that browser may finish it.
	BrowserHash []byte `json:"browser_hash,omitempty"`
	// SentToSignIn says the browser was sent to sign in once for this
	// request, so a second stale session ends it (no loop).
	SentToSignIn bool `json:"sent_to_sign_in,omitempty"`
	// ConsentShownTo is the page session the consent page was shown to:
	// only its answer to that page is taken (uuid.Nil: never shown).
	ConsentShownTo uuid.UUID `json:"consent_shown_to"`
	// Who signed in, set once the browser's page session is bound to it.
	UserID    uuid.UUID `json:"user_id"`
	SessionID uuid.UUID `json:"session_id"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr,omitempty"`
	ACR       string    `json:"acr,omitempty"`
	// Done says the user signed in (and consented where needed): the
	// request may get its code.
	Done bool `json:"done"`
	// CodeHash is the SHA-256 of the code issued for it (nil before);
	// GrantID names the grant its exchange made (Grants.UseCode, with the
	// code's use), which a replay revokes.
	CodeHash []byte `json:"-"`
	GrantID  string `json:"grant_id,omitempty"`
}

// Grant is what one exchanged code gave a client: the tokens it issued,
// then the tokens their refreshes issued, are all the grant's and end
// with it, with its page session, or with the account.
type Grant struct {
	ID        string    `json:"id"`
	ClientID  string    `json:"client_id"`
	UserID    uuid.UUID `json:"user_id"`
	SessionID uuid.UUID `json:"session_id"`
	Scopes    []string  `json:"scopes"`
	AMR       []string  `json:"amr,omitempty"`
	ACR       string    `json:"acr,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"-"` // zero while live
	// TokenVersion is the user's token version when the grant was made: a
	// password change moves it on and so ends the grant, as it ends the
	// service's own access tokens. It lives in the data blob, so no
	// migration; a grant stored before it was recorded reads 0, the
	// version of an account whose password never changed.
	TokenVersion int64 `json:"token_version"`
}

// RefreshToken is a stored OIDC refresh token: only its hash is kept. A
// token once used is kept, marked used, so that its reuse is seen.
type RefreshToken struct {
	Hash      []byte
	GrantID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
}

// Consent is what a user allowed a third-party client: the scopes
// remembered, so the consent page is not shown again for them.
type Consent struct {
	UserID    uuid.UUID
	ClientID  string
	Scopes    []string
	UpdatedAt time.Time
}

// The stores' errors.
var (
	// ErrNotFound is an auth request, code, grant, refresh token or
	// consent that is not stored.
	ErrNotFound = errors.New("oidc: not found")
	// ErrCodeUsed is a code presented a second time; the request is
	// returned beside it so that what the first use issued is revoked.
	ErrCodeUsed = errors.New("oidc: authorization code already used")
	// ErrCodeIssued is a second code for a request that has one: its
	// code hash, once stored, is kept.
	ErrCodeIssued = errors.New("oidc: the request's authorization code was already issued")
	// ErrRequestDone is a save without a code over a request that is done
	// (signed in and allowed, or denied): it takes its code and nothing else.
	ErrRequestDone = errors.New("oidc: the authorization request is already done")
	// ErrRefreshReused is a refresh token replaced after it was used, so
	// that its grant is revoked.
	ErrRefreshReused = errors.New("oidc: refresh token already used")
)

// RequestFence is what of a stored auth request decides whether a save
// over it is refused (WhySaveRefused).
type RequestFence struct {
	CodeHash []byte // the stored code hash; nil before a code is issued
	CodeUsed bool   // its code was used (Grants.UseCode)
	Done     bool   // the stored request is done (AuthRequest.Done)
}

// WhySaveRefused is the rule of Grants.SaveAuthRequest, in one place for
// every store: why a save bringing code hash next (nil: none) over the
// stored request must change nothing. Its code was used (ErrCodeUsed);
// it has another code, or the save none (ErrCodeIssued); it is done and
// the save brings no code (ErrRequestDone). Nil when the save may
// replace it.
func WhySaveRefused(stored RequestFence, next []byte) error {
	switch {
	case stored.CodeUsed:
		return ErrCodeUsed
	case stored.CodeHash != nil && !bytes.Equal(stored.CodeHash, next):
		return ErrCodeIssued
	case stored.Done && next == nil:
		return ErrRequestDone
	}
	return nil
}

// Grants stores the provider's state: auth requests with their codes,
// grants and their refresh tokens (migrations/00020_oidc.sql).
type Grants interface {
	// SaveAuthRequest stores r, replacing the stored request of r.ID.
	// A request's code hash, once stored, is kept: saving r with another
	// (or none) over it is ErrCodeIssued and changes nothing, so that a
	// request never gets a second, unused code beside a used one. A
	// request whose code was used (UseCode) is final: saving over it is
	// ErrCodeUsed and changes nothing, so that a save from a copy read
	// before the exchange never takes back the grant the exchange named.
	// A request that is done (Done) takes only its code: saving over it
	// without a code hash is ErrRequestDone and changes nothing, so that
	// a save from a copy read before it was done (an "allow" racing a
	// "deny") never undoes it.
	SaveAuthRequest(ctx context.Context, r AuthRequest) error
	// AuthRequest returns the request id; ErrNotFound when not stored.
	AuthRequest(ctx context.Context, id string) (AuthRequest, error)
	// UseCode marks the code that hashes to codeHash used at g.CreatedAt,
	// stores g, the grant of its exchange, and names it on the code's
	// request (GrantID), in one transaction, and returns the request: of
	// concurrent uses one wins, and every other finds the winner's grant
	// stored and named, to revoke it. A code already used is ErrCodeUsed
	// (with the request, naming the grant of its first use), an unknown
	// one ErrNotFound; neither stores g.
	UseCode(ctx context.Context, codeHash []byte, g Grant) (AuthRequest, error)
	// SaveGrant stores g, replacing the stored grant of g.ID.
	SaveGrant(ctx context.Context, g Grant) error
	// Grant returns the grant id; ErrNotFound when not stored.
	Grant(ctx context.Context, id string) (Grant, error)
	// RevokeGrant marks grant id revoked at at (a revoked one keeps its
	// first time). ErrNotFound when not stored.
	RevokeGrant(ctx context.Context, id string, at time.Time) error
	// RevokeGrantsOf marks every live grant userID gave clientID revoked
	// at at (its consent taken back).
	RevokeGrantsOf(ctx context.Context, userID uuid.UUID, clientID string, at time.Time) error
	// GrantsOf lists every grant userID gave, revoked ones included (until
	// retention removes them), oldest first: the account's export.
	GrantsOf(ctx context.Context, userID uuid.UUID) ([]Grant, error)
	// AddRefreshToken stores t and, when replaces is set, marks the
	// token whose hash it is used at t.CreatedAt, in one transaction: a
	// rotation, of which concurrent ones of one token one wins. A
	// replaced token already used is ErrRefreshReused, an unknown one
	// ErrNotFound, and then nothing changes.
	AddRefreshToken(ctx context.Context, t RefreshToken, replaces []byte) error
	// RefreshToken returns the token whose hash is hash, used or not,
	// and changes nothing (a token shown by another client than its
	// grant's must not be used up); ErrNotFound when not stored.
	RefreshToken(ctx context.Context, hash []byte) (RefreshToken, error)
}

// Consents stores what users allowed third-party clients.
type Consents interface {
	// Consent returns userID's consent to clientID; ErrNotFound if none.
	Consent(ctx context.Context, userID uuid.UUID, clientID string) (Consent, error)
	// SaveConsent stores c, replacing the consent of its user and client.
	SaveConsent(ctx context.Context, c Consent) error
	// DeleteConsent removes userID's consent to clientID; ErrNotFound if
	// none.
	DeleteConsent(ctx context.Context, userID uuid.UUID, clientID string) error
	// ConsentsOf lists userID's consents, by client id.
	ConsentsOf(ctx context.Context, userID uuid.UUID) ([]Consent, error)
}

// Retention removes the provider's state that can no longer be used and
// was kept only to recognise replays (internal/retention's OIDCPurger):
// auth requests (with their codes) that expired before a cutoff, refresh
// tokens that expired before it, the refresh tokens of grants revoked
// before it, and grants that ended before it (revoked before it, or made
// before it and left with no refresh token expiring at or after it: their
// access tokens expired long since when the cutoff is older than the
// access tokens' lifetime). Nothing else: a live grant, an unexpired
// request or code, a live refresh token of an unrevoked grant stay.
type Retention interface {
	// PurgeExpired removes up to limit of those rows (about: a grant goes
	// with the refresh tokens it still has, counted) in one short
	// transaction that never waits for a row another holds (PostgreSQL:
	// FOR UPDATE SKIP LOCKED), and says how many went: the caller
	// repeats it until fewer than limit go.
	PurgeExpired(ctx context.Context, before time.Time, limit int) (int64, error)
	// CountExpired is how many rows PurgeExpired would remove in all.
	CountExpired(ctx context.Context, before time.Time) (int64, error)
}

// Withdrawal is what taking a consent back changes (ConsentService.Revoke):
// the client's grants of the user, and the consent.
type Withdrawal interface {
	RevokeGrantsOf(ctx context.Context, userID uuid.UUID, clientID string, at time.Time) error
	DeleteConsent(ctx context.Context, userID uuid.UUID, clientID string) error
}

// Stores are the provider's store ports of one database.
type Stores struct {
	Grants   Grants
	Consents Consents
	// In returns the Withdrawal on the transaction of tx, Stores that the
	// database's user.Transactor gave: a consent taken back then commits
	// with its audit event and its event, or not at all. Nil when the
	// provider's stores are in no transaction of the accounts' (the fake):
	// Grants and Consents are used.
	In func(tx user.Stores) (Withdrawal, error)
	// Retention is what internal/retention removes of Grants' rows.
	Retention Retention
}
