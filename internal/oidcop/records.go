package oidcop

import (
	"context"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Records lists what an account allowed the provider's relying parties,
// for its export (user.AppRecords): its consents and its grants, each
// with its client's name, never a token or a token's hash.
type Records struct {
	grants   Grants
	consents Consents
	clients  Clients // nil: no registry, names are ""
}

// NewRecords returns the records of st, named by clients (may be nil).
func NewRecords(st Stores, clients Clients) Records {
	return Records{grants: st.Grants, consents: st.Consents, clients: clients}
}

// ConsentsOf returns userID's consents, by client id.
func (r Records) ConsentsOf(ctx context.Context, userID uuid.UUID) ([]user.ConsentRecord, error) {
	list, err := r.consents.ConsentsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	names := r.namer()
	out := make([]user.ConsentRecord, len(list))
	for i, c := range list {
		out[i] = user.ConsentRecord{ClientID: c.ClientID, ClientName: names(ctx, c.ClientID), Scopes: c.Scopes, UpdatedAt: c.UpdatedAt}
	}
	return out, nil
}

// GrantsOf returns userID's grants, revoked ones included, oldest first.
func (r Records) GrantsOf(ctx context.Context, userID uuid.UUID) ([]user.GrantRecord, error) {
	list, err := r.grants.GrantsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	names := r.namer()
	out := make([]user.GrantRecord, len(list))
	for i, g := range list {
		out[i] = user.GrantRecord{
			ID: g.ID, ClientID: g.ClientID, ClientName: names(ctx, g.ClientID), Scopes: g.Scopes,
			AuthTime: g.AuthTime, CreatedAt: g.CreatedAt, RevokedAt: g.RevokedAt,
		}
	}
	return out, nil
}

// namer returns a function that names a client id, asking the registry
// once per id: "" for an id it does not know (a client deleted since).
func (r Records) namer() func(context.Context, string) string {
	seen := map[string]string{}
	return func(ctx context.Context, id string) string {
		if name, ok := seen[id]; ok || r.clients == nil {
			return name
		}
		c, err := r.clients.Client(ctx, id)
		if err != nil {
			c.Name = "" // unknown (deleted) or unreadable: the export still goes, unnamed
		}
		seen[id] = c.Name
		return c.Name
	}
}
