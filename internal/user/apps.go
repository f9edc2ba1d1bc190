package user

import (
	"context"

	"github.com/google/uuid"
)

// AppConsentRevoked makes change, the OpenID provider's withdrawal of
// userID's consent to its client clientID (named name in the client
// registry, "" when it has none), in one transaction with its audit event
// (AuditAppConsentRevoked, by userID) and its event: all are stored, or
// none. change gets the transaction's Stores (the provider's stores join
// it where they can).
func (s *Service) AppConsentRevoked(ctx context.Context, userID uuid.UUID, clientID, name string, change func(tx Stores) error) error {
	detail := map[string]string{"app_client_id": clientID}
	if name != "" {
		detail["app_name"] = name
	}
	return s.atomically(ctx, s.event(ctx, AuditAppConsentRevoked, userID, userID, detail), change)
}
