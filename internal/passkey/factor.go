package passkey

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Method is the name of passkeys among the second factors of an
// mfa_required answer, and of the grant that proves one
// (urn:usersvc:params:oauth:grant-type:mfa-webauthn).
const Method = user.MethodWebAuthn

// Factor is the relying party as a kind of second factor of the account
// service (user.ChallengedFactor): an account with a passkey is asked for
// a second factor after its password, and may prove it with a passkey's
// assertion. Without a relying party (rp nil: no public URL in
// production) no account counts as having one, since none could prove it.
type Factor struct{ rp *Service }

// NewFactor returns rp as a second factor; rp may be nil.
func NewFactor(rp *Service) Factor { return Factor{rp: rp} }

// Method is Method.
func (Factor) Method() string { return Method }

// Enrolled reports whether userID has a passkey.
func (f Factor) Enrolled(ctx context.Context, userID uuid.UUID) (bool, error) {
	if f.rp == nil {
		return false, nil
	}
	keys, err := f.rp.passkeys.ByUser(ctx, userID)
	return len(keys) > 0, err
}

// EnrolledIn reports whether userID has a passkey, read in tx, the
// transaction of a change of its factors.
func (f Factor) EnrolledIn(ctx context.Context, tx user.Stores, userID uuid.UUID) (bool, error) {
	if f.rp == nil {
		return false, nil
	}
	store, err := f.rp.keysIn(tx)
	if err != nil {
		return false, err
	}
	keys, err := store.ByUser(ctx, userID)
	return len(keys) > 0, err
}

// Reset removes every passkey of userID in tx, the transaction of an
// administrator's reset of the account's factors, each audited there.
func (f Factor) Reset(ctx context.Context, tx user.Stores, userID uuid.UUID) error {
	if f.rp == nil {
		return nil
	}
	store, err := f.rp.keysIn(tx)
	if err != nil {
		return err
	}
	keys, err := store.ByUser(ctx, userID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := store.Delete(ctx, userID, k.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := f.rp.recordIn(ctx, tx, AuditRemoved, uuid.Nil, userID, k, map[string]string{"reason": "mfa_reset"}); err != nil {
			return err
		}
	}
	return nil
}

// Challenge begins the assertion of one of userID's passkeys
// (BeginSecondFactor): the ceremony handle and the publicKey options.
func (f Factor) Challenge(ctx context.Context, userID uuid.UUID) (user.FactorChallenge, error) {
	if f.rp == nil {
		return user.FactorChallenge{}, user.ErrFactorNotFound
	}
	o, err := f.rp.BeginSecondFactor(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return user.FactorChallenge{}, user.ErrFactorNotFound
	}
	if err != nil {
		return user.FactorChallenge{}, err
	}
	return user.FactorChallenge{Handle: o.Ceremony, Options: o.PublicKey}, nil
}

// Prove verifies response, the assertion to the ceremony handle
// (VerifySecondFactor), and returns its amr (hwk or swk). A response that
// does not verify, or a ceremony unknown, used or expired, is
// user.ErrInvalidCode: a wrong second factor.
func (f Factor) Prove(ctx context.Context, userID uuid.UUID, handle string, response []byte) (string, error) {
	if f.rp == nil {
		return "", user.ErrInvalidCode
	}
	if len(response) > MaxResponse {
		return "", user.ErrInvalidCode
	}
	amr, err := f.rp.VerifySecondFactor(ctx, userID, handle, response)
	if errors.Is(err, ErrVerification) || errors.Is(err, ErrCeremony) || errors.Is(err, ErrNotFound) {
		return "", user.ErrInvalidCode
	}
	return amr, err
}
