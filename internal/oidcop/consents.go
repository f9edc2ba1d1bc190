package oidcop

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// ConsentService is what a user sees and does with their consents on the
// account pages: list them, and take one back, which also revokes every
// grant the client holds of the user (its refresh tokens stop working and
// its access tokens are inactive at introspection and userinfo).
type ConsentService struct {
	grants   Grants
	consents Consents
	now      func() time.Time
}

// NewConsentService returns the consent service over st.
func NewConsentService(st Stores, now func() time.Time) *ConsentService {
	if now == nil {
		now = time.Now
	}
	return &ConsentService{grants: st.Grants, consents: st.Consents, now: now}
}

// Of lists userID's consents, by client id.
func (s *ConsentService) Of(ctx context.Context, userID uuid.UUID) ([]Consent, error) {
	return s.consents.ConsentsOf(ctx, userID)
}

// Revoke takes userID's consent to clientID back and ends the client's
// grants of userID; ErrNotFound when there was no consent (the grants end
// all the same).
func (s *ConsentService) Revoke(ctx context.Context, userID uuid.UUID, clientID string) error {
	if err := s.grants.RevokeGrantsOf(ctx, userID, clientID, s.now().UTC()); err != nil {
		return err
	}
	if err := s.consents.DeleteConsent(ctx, userID, clientID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	return nil
}
