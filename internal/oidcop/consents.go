package oidcop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// ConsentService is what a user sees and does with their consents on the
// account pages: list them, and take one back, which also revokes every
// grant the client holds of the user (its refresh tokens stop working and
// its access tokens are inactive at introspection and userinfo).
type ConsentService struct {
	grants   Grants
	consents Consents
	in       func(user.Stores) (Withdrawal, error) // Stores.In
	accounts ConsentAccounts
	now      func() time.Time
}

// ErrNoConsent is Revoke's answer for a client the user has no consent
// to (never had, took back already, or another account's): an
// ErrNotFound.
var ErrNoConsent = fmt.Errorf("no consent to this client: %w", ErrNotFound)

// ConsentAccounts records a consent taken back, as every change of an
// account is: its audit event and its event, in the change's transaction
// (user.Service.AppConsentRevoked).
type ConsentAccounts interface {
	AppConsentRevoked(ctx context.Context, userID uuid.UUID, clientID, name string, change func(tx user.Stores) error) error
}

// NewConsentService returns the consent service over st, recording
// through accounts (nil: nothing recorded).
func NewConsentService(st Stores, accounts ConsentAccounts, now func() time.Time) *ConsentService {
	if now == nil {
		now = time.Now
	}
	return &ConsentService{grants: st.Grants, consents: st.Consents, in: st.In, accounts: accounts, now: now}
}

// Of lists userID's consents, by client id.
func (s *ConsentService) Of(ctx context.Context, userID uuid.UUID) ([]Consent, error) {
	return s.consents.ConsentsOf(ctx, userID)
}

// Revoke takes userID's consent to clientID (named name, "" for none)
// back and ends the client's grants of userID, in one transaction with
// its record (ConsentAccounts); ErrNoConsent when there was no consent
// (the grants end all the same, and nothing is recorded).
func (s *ConsentService) Revoke(ctx context.Context, userID uuid.UUID, clientID, name string) error {
	if s.accounts == nil {
		return s.withdraw(ctx, s.plain(), userID, clientID)
	}
	err := s.accounts.AppConsentRevoked(ctx, userID, clientID, name, func(tx user.Stores) error {
		w, err := s.withdrawalIn(tx)
		if err != nil {
			return err
		}
		return s.withdraw(ctx, w, userID, clientID)
	})
	if errors.Is(err, ErrNotFound) { // rolled back: end the grants anyway
		if err := s.grants.RevokeGrantsOf(ctx, userID, clientID, s.now().UTC()); err != nil {
			return err
		}
		return ErrNoConsent
	}
	return err
}

// withdraw ends userID's grants of clientID and deletes the consent in w.
func (s *ConsentService) withdraw(ctx context.Context, w Withdrawal, userID uuid.UUID, clientID string) error {
	if err := w.RevokeGrantsOf(ctx, userID, clientID, s.now().UTC()); err != nil {
		return err
	}
	if err := w.DeleteConsent(ctx, userID, clientID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrNoConsent
		}
		return err
	}
	return nil
}

// withdrawalIn is the Withdrawal on the transaction tx (Stores.In), or,
// when the provider's stores are in none (the fake), the plain stores.
func (s *ConsentService) withdrawalIn(tx user.Stores) (Withdrawal, error) {
	if s.in == nil {
		return s.plain(), nil
	}
	return s.in(tx)
}

// plain is the Withdrawal outside any transaction.
func (s *ConsentService) plain() Withdrawal {
	return struct {
		Grants
		Consents
	}{s.grants, s.consents}
}
