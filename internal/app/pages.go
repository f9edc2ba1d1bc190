package app

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/web"
)

// pageKeyLabel derives the key that signs the pages' session cookie from
// the service key (tokenKeys.derived): the same on every replica and
// across restarts, as the key-encryption key (or HS256 secret) it comes
// from is.
const pageKeyLabel = "usersvc page session cookie v1"

// pages builds the hosted pages (internal/web) when USERSVC_UI is on: the
// function that mounts them beside the API, nil when they are off.
func (a *App) pages(keys tokenKeys, prot protections, now func() time.Time) (func(*http.ServeMux), error) {
	cfg := a.cfg
	if !cfg.UI {
		return nil, nil
	}
	key, err := hkdf.Key(sha256.New, keys.derived, nil, pageKeyLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("derive the page cookie key: %w", err)
	}
	logoOrigin, err := config.LogoOrigin(cfg.UILogoURL, cfg.Env)
	if cfg.UILogoURL == "" {
		logoOrigin, err = "", nil
	}
	if err != nil {
		return nil, fmt.Errorf("USERSVC_UI_LOGO_URL: %w", err)
	}
	opts := web.Options{
		ProductName: cfg.UIProductName, LogoURL: cfg.UILogoURL, LogoOrigin: logoOrigin, AccentColor: cfg.UIAccentColor,
		PublicURL: cfg.PublicURL, ReturnToOrigins: cfg.UIReturnToOrigins, Secure: cfg.CookieSecure(),
		Key: key, ClientIP: prot.clientIP, WriteExport: httpapi.WriteExport, Log: a.log, Now: now,
	}
	if a.passkeys != nil {
		opts.Passkeys = a.passkeys
	}
	if a.clients != nil {
		opts.Clients = a.clients
	}
	if a.consents != nil {
		opts.Apps = a.consents
	}
	if st, ok := a.db.(oidcStore); ok { // the OpenID provider's clients, as form targets of its sign-ins
		reqs := st.OIDC().Grants
		opts.FlowTarget = func(ctx context.Context, returnTo string) string {
			return oidcop.ReturnOrigin(ctx, reqs, returnTo, now())
		}
	}
	if l := prot.limits; l != nil {
		opts.Limits = web.Limits{
			Limiter: l.Limiter, Login: l.Login, Register: l.Register, Password: l.Password,
			Mail: l.Mail, Write: l.Write, Export: l.Export,
			WriteAccount: l.WriteAccount, EmailChange: l.EmailChange, MailRecipient: l.MailRecipient,
		}
	}
	p, err := web.New(a.svc, opts)
	if err != nil {
		return nil, err
	}
	a.web = p
	return p.Mount, nil
}

// Pages are the hosted pages, nil with USERSVC_UI=off (other handlers of
// the process ask it who is signed in: Pages.Current).
func (a *App) Pages() *web.Pages { return a.web }

// consentedApps are the OpenID provider's consents as the apps page and
// /api/v1/users/me/consents show them: the page's with the registered
// client's name where the registry has it, the API's as the export lists
// them (records); both take one back through the one ConsentService.
type consentedApps struct {
	consents *oidcop.ConsentService
	records  oidcop.Records
	clients  *oauthclient.Service // nil: no registry, names are ids
}

// openConsents builds the consents (a.consents) when the store keeps the
// OpenID provider's state, named for the API by clients (may be nil).
func (a *App) openConsents(clients oidcop.Clients, now func() time.Time) {
	if st, ok := a.db.(oidcStore); ok {
		a.consents = &consentedApps{
			consents: oidcop.NewConsentService(st.OIDC(), a.svc, now), records: oidcop.NewRecords(st.OIDC(), clients), clients: a.clients,
		}
	}
}

// ConsentsOf lists userID's consents as the export does (httpapi.Consents).
func (c *consentedApps) ConsentsOf(ctx context.Context, userID uuid.UUID) ([]user.ConsentRecord, error) {
	return c.records.ConsentsOf(ctx, userID)
}

func (c *consentedApps) AppsOf(ctx context.Context, userID uuid.UUID) ([]web.App, error) {
	list, err := c.consents.Of(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]web.App, 0, len(list))
	for _, k := range list {
		out = append(out, web.App{ClientID: k.ClientID, Name: c.name(ctx, k.ClientID), Scopes: k.Scopes, Since: k.UpdatedAt})
	}
	return out, nil
}

func (c *consentedApps) RevokeApp(ctx context.Context, userID uuid.UUID, clientID string) error {
	err := c.consents.Revoke(ctx, userID, clientID, c.name(ctx, clientID))
	if errors.Is(err, oidcop.ErrNoConsent) {
		return fmt.Errorf("%w: %w", web.ErrNoApp, err)
	}
	return err
}

// name is the registry's name of clientID, "" when it has none.
func (c *consentedApps) name(ctx context.Context, clientID string) string {
	if c.clients == nil {
		return ""
	}
	if cl, err := c.clients.Lookup(ctx, clientID); err == nil {
		return cl.Name
	}
	return ""
}
