package app

import (
	"log/slog"
	"time"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/security"
)

// clientStore is a Store that keeps the OAuth client registry: both
// databases and the tests' fake do.
type clientStore interface {
	OAuthClients() oauthclient.Store
}

// clientTx is a Store that changes a client and appends its audit event
// in one transaction: both databases do, the tests' fake does not.
type clientTx interface {
	OAuthClientTx() oauthclient.Transactor
}

// ClientService is the oauthclient.Service over db's registry, honouring
// the service accounts' tokens that tokens verifies (nil: none, as the
// CLI needs) and locking clients out by guard (nil: none); nil when db
// keeps no registry.
func ClientService(db Store, tokens *security.JWT, guard oauthclient.SecretGuard, log *slog.Logger, now func() time.Time) *oauthclient.Service {
	cs, ok := db.(clientStore)
	if !ok || cs.OAuthClients() == nil {
		return nil
	}
	d := oauthclient.Deps{Store: cs.OAuthClients(), Audit: db.Stores().Audit, Guard: guard, Log: log, Now: now}
	if tx, ok := db.(clientTx); ok {
		d.Tx = tx.OAuthClientTx()
	}
	if tokens != nil { // a nil *security.JWT must not become a non-nil Verifier
		d.Tokens = tokens
	}
	return oauthclient.NewService(d)
}

// Clients is the OAuth client registry, nil when the store keeps none.
func (a *App) Clients() *oauthclient.Service { return a.clients }

// Tokens issues and verifies the service's access tokens (with its key
// ring, or HS256): the OpenID provider signs with it, so that its tokens
// are verified as every other.
func (a *App) Tokens() *security.JWT { return a.tokens }
