package httpapi

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/user"
)

// Consents are the OpenID provider's consents as /users/me/consents
// serves them (wired by internal/app over oidcop: listed as the export
// lists them, taken back as the hosted apps page takes them back).
type Consents interface {
	// ConsentsOf returns userID's consents, by client id.
	ConsentsOf(ctx context.Context, userID uuid.UUID) ([]user.ConsentRecord, error)
	// RevokeApp takes userID's consent to clientID back and ends the
	// client's grants of userID (its refresh tokens stop working), with
	// its audit event and event in one transaction; oidcop.ErrNoConsent
	// when userID has no consent to clientID.
	RevokeApp(ctx context.Context, userID uuid.UUID, clientID string) error
}

// consentRead is one of the current user's consents.
type consentRead struct {
	ClientID   string    `json:"client_id" doc:"The relying party's client id"`
	ClientName string    `json:"client_name" doc:"The client's registered name; empty when it has none or is no longer registered"`
	Scopes     []string  `json:"scopes" doc:"The scopes allowed, remembered so that the consent page is not shown again for them"`
	GrantedAt  time.Time `json:"granted_at" doc:"When the account last allowed them"`
}

// consentsOutput lists every consent: a user has at most one per
// registered client, so the list is never long enough to page.
type consentsOutput struct {
	Body []consentRead
}

type consentClientInput struct {
	ClientID string `path:"client_id" minLength:"1" maxLength:"255" doc:"A client_id from GET /users/me/consents"`
}

// listConsents lists the current user's consents, by client id.
func (a *api) listConsents(ctx context.Context, _ *struct{}) (*consentsOutput, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	out := &consentsOutput{Body: []consentRead{}}
	if a.consents == nil { // a store that keeps no provider state: none given
		return out, nil
	}
	list, err := a.consents.ConsentsOf(ctx, me.ID)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	for _, c := range list {
		out.Body = append(out.Body, consentRead{
			ClientID: c.ClientID, ClientName: c.ClientName, Scopes: nonNil(c.Scopes), GrantedAt: c.UpdatedAt.UTC(),
		})
	}
	return out, nil
}

// revokeConsent takes the current user's consent to one client back, as
// the hosted apps page does.
func (a *api) revokeConsent(ctx context.Context, in *consentClientInput) (*struct{}, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	if a.consents == nil {
		return nil, a.problem(ctx, oidcop.ErrNoConsent)
	}
	if err := a.consents.RevokeApp(ctx, me.ID, in.ClientID); err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}
