package user

import (
	"context"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// PasskeyRecord is one of an account's passkeys as its export shows it:
// what its owner can recognise it by. Never its public key, credential id
// or signature counter: they tell a person nothing, and the public key is
// of use only to a relying party checking a signature.
type PasskeyRecord struct {
	ID   uuid.UUID
	Name string
	// Kind is the amr of a sign-in with it: AMRHardwareKey for a key bound
	// to its authenticator, AMRSoftwareKey for a synced passkey.
	Kind string
	// AAGUID names the authenticator's model, as it said at registration;
	// "" when it gave none (an all-zero AAGUID says nothing).
	AAGUID string
	// Transports are how the authenticator said it can be reached (usb,
	// nfc, ble, internal, hybrid).
	Transports []string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used to sign in
}

// ConsentRecord is what the account allowed a relying party of the
// OpenID provider: the scopes remembered, so that it is not asked again.
type ConsentRecord struct {
	ClientID   string
	ClientName string // "": the client is not (or no longer) registered
	Scopes     []string
	UpdatedAt  time.Time
}

// GrantRecord is what one sign-in at the OpenID provider gave a relying
// party: the scopes its tokens carry. Never a token or its hash.
type GrantRecord struct {
	ID         string
	ClientID   string
	ClientName string // "": the client is not (or no longer) registered
	Scopes     []string
	AuthTime   time.Time // the sign-in the grant stands on
	CreatedAt  time.Time
	RevokedAt  time.Time // zero while live
}

// PasskeyRecords lists an account's passkeys for its export; package
// passkey keeps them.
type PasskeyRecords interface {
	// PasskeysOf returns userID's passkeys, oldest first.
	PasskeysOf(ctx context.Context, userID uuid.UUID) ([]PasskeyRecord, error)
}

// AppRecords lists what an account allowed the OpenID provider's relying
// parties, for its export; package oidcop keeps it.
type AppRecords interface {
	// ConsentsOf returns userID's consents, by client id.
	ConsentsOf(ctx context.Context, userID uuid.UUID) ([]ConsentRecord, error)
	// GrantsOf returns userID's grants, revoked ones included, oldest
	// first.
	GrantsOf(ctx context.Context, userID uuid.UUID) ([]GrantRecord, error)
}

// Records are the other packages that keep data about an account, which
// its export must include (Deps.Records); a nil one keeps none.
type Records struct {
	Passkeys PasskeyRecords
	Apps     AppRecords
}

// The states of an email change in an export (EmailChange.State).
const (
	// EmailChangeUndoable: the undo link mailed to the old address still
	// works.
	EmailChangeUndoable = "undoable"
	// EmailChangeUsed: the undo link was used, or used up when the
	// account was restored by another undo.
	EmailChangeUsed = "used"
	// EmailChangeExpired: the undo link expired unused.
	EmailChangeExpired = "expired"
)

// State says what became of c's undo link, at now.
func (c EmailChange) State(now time.Time) string {
	switch {
	case !c.UsedAt.IsZero():
		return EmailChangeUsed
	case now.Before(c.ExpiresAt):
		return EmailChangeUndoable
	default:
		return EmailChangeExpired
	}
}

// holdings are the parts of an account's export beside its profile, its
// sessions and its events: every one read whole (each is small: a few
// passkeys and apps, live mailed links, and changes and grants that
// retention removes once ended). Sessions are not: every login beyond the session limit leaves
// one for USERSVC_SESSION_RETENTION, hundreds of thousands at the login
// rate limit, so the export reads them a page at a time (sessionPages).
type holdings struct {
	passkeys     []PasskeyRecord
	emailChanges []EmailChange
	links        []AccountToken
	consents     []ConsentRecord
	grants       []GrantRecord
}

// holdingsOf reads u's holdings.
func (s *Service) holdingsOf(ctx context.Context, u User) (holdings, error) {
	var (
		h   holdings
		err error
	)
	id := u.ID
	if h.emailChanges, err = s.stores.EmailChanges.Of(ctx, id); err != nil {
		return holdings{}, err
	}
	if h.links, err = s.pendingLinks(ctx, u); err != nil {
		return holdings{}, err
	}
	if r := s.records.Passkeys; r != nil {
		if h.passkeys, err = r.PasskeysOf(ctx, id); err != nil {
			return holdings{}, err
		}
	}
	if r := s.records.Apps; r != nil {
		if h.consents, err = r.ConsentsOf(ctx, id); err != nil {
			return holdings{}, err
		}
		if h.grants, err = r.GrantsOf(ctx, id); err != nil {
			return holdings{}, err
		}
	}
	return h, nil
}

// pendingLinks are u's mailed links that still work now: unused and
// unexpired, a verification link sent to u's address as it is now, a
// reset link bound to u's password as it is now (what UseVerifyEmail and
// UseResetPassword would take). A pending mail is at most one per request
// the mail limits let through in a link's lifetime: read whole.
func (s *Service) pendingLinks(ctx context.Context, u User) ([]AccountToken, error) {
	all, err := s.tokens.Pending(ctx, u.ID, s.now())
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(t AccountToken) bool {
		switch t.Purpose {
		case PurposeVerifyEmail:
			return !strings.EqualFold(t.Email, u.Email)
		case PurposeResetPassword:
			return t.TokenVersion != Unbound && t.TokenVersion != u.TokenVersion
		}
		return false
	}), nil
}

// sessionPages yields the sessions of page, then of the pages of userID's
// sessions that follow it, ExportPage at a time, until the last or the
// first error, which it yields and stops after.
func (s *Service) sessionPages(ctx context.Context, userID uuid.UUID, page []Session) iter.Seq2[Session, error] {
	return func(yield func(Session, error) bool) {
		for {
			for _, sess := range page {
				if !yield(sess, nil) {
					return
				}
			}
			if len(page) < ExportPage {
				return
			}
			last := page[len(page)-1]
			next := SessionPage{After: &SessionKey{CreatedAt: last.CreatedAt, ID: last.ID}, Limit: ExportPage}
			var err error
			if page, err = s.sessions.All(ctx, userID, next); err != nil {
				yield(Session{}, err)
				return
			}
		}
	}
}
