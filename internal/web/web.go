// Package web serves the hosted pages: sign in, sign up, password
// recovery, email verification and the account pages, server-rendered
// from html/template files embedded in the binary, one stylesheet, no
// script. A page session is a usersvc session opened through the same
// login as /api/v1/token; the browser holds it in a cookie that names the
// session and is signed with the service's key (session.go). Every
// user-visible string is in the catalogue (catalogue.go).
package web

import (
	"context"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usersvc/usersvc/internal/clientip"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/user"
)

// Options configure the pages. Key is required.
type Options struct {
	// ProductName, LogoURL and AccentColor brand the pages
	// (USERSVC_UI_*); LogoOrigin is the origin the CSP must allow images
	// from for LogoURL, "" for a path on this service.
	ProductName, LogoURL, LogoOrigin, AccentColor string
	// PublicURL is the service's external base URL (may be empty): a
	// return_to on its origin is allowed, and a form posted from it is not
	// cross-site.
	PublicURL string
	// ReturnToOrigins are more origins a sign-in may send the browser back to.
	ReturnToOrigins []string
	// Secure makes the cookies Secure and __Host- prefixed (everywhere but
	// development on plain http).
	Secure bool
	// Key signs the session cookie and, through a key derived from it,
	// seals one-time secrets (onetime.go): at least 32 bytes, the same on
	// every replica and across restarts (derived from the service's secret).
	Key []byte
	// Limits are the per-address limits, shared with the API.
	Limits Limits
	// ClientIP finds the client address the limits count. Nil: the peer.
	ClientIP *clientip.Resolver
	// WriteExport writes the account's data export, the API's document.
	WriteExport func(io.Writer, user.Export) error
	// Passkeys is the WebAuthn relying party (passkey.Service); nil: the
	// passkey pages answer 503 and the sign-in page has no passkey button.
	Passkeys Passkeys
	// FlowTarget, when set, names the origin a sign-in's return_to leads
	// on to beyond this service ("" for none): the client redirect URI's
	// origin of an OpenID authorization request waiting for the sign-in
	// (oidcop.ReturnOrigin). The sign-in forms' CSP allows it.
	FlowTarget func(ctx context.Context, returnTo string) string
	// Apps are the OpenID provider's consents (consents.go); nil: the
	// apps page lists none.
	Apps Apps
	// Clients is the client registry the console lists; nil: none.
	Clients AdminClients
	// Catalogue replaces the default messages (Messages) when not nil.
	Catalogue Catalogue
	Log       *slog.Logger
	// Now is the clock (the expiry of a one-time secret's cookie); nil:
	// time.Now.
	Now func() time.Time
}

// Limits are the rate limits of the pages: the same rules, counted under
// the same keys, as the API's, so that a client's attempts on the pages
// and on the API share one count. Login to Export count per client
// address; WriteAccount per account or session, EmailChange per account
// and MailRecipient per recipient, as on the API's routes that do the
// same. A rule that is off (or a nil Limiter) limits nothing.
type Limits struct {
	Limiter                                *ratelimit.Limiter
	Login, Register, Password, Mail, Write ratelimit.Rule
	Export                                 ratelimit.Rule
	WriteAccount, EmailChange              ratelimit.Rule
	MailRecipient                          ratelimit.Rule
}

// Pages is the hosted pages' handler set; Mount registers them.
type Pages struct {
	users     *user.Service
	opts      Options
	msg       Catalogue
	views     map[string]*template.Template
	css       stylesheet
	csrf      *http.CrossOriginProtection
	csp       string
	origins   map[string]bool // where return_to may go, besides this service
	clientIP  *clientip.Resolver
	log       *slog.Logger
	cookieSes string // the session cookie's name
	cookieDev string // the device-token cookie's name
	// cookieSecret is the one-time secret cookie's name, secrets its
	// sealer (onetime.go).
	cookieSecret string
	secrets      *signing.Sealer
}

// New builds the pages over svc.
func New(svc *user.Service, opts Options) (*Pages, error) {
	if len(opts.Key) < 32 {
		return nil, errors.New("web: the cookie key must be at least 32 bytes")
	}
	p := &Pages{users: svc, opts: opts, msg: opts.Catalogue, clientIP: opts.ClientIP, log: opts.Log}
	if p.msg == nil {
		p.msg = Messages()
	}
	if p.clientIP == nil {
		p.clientIP = clientip.New(nil)
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.cookieSes, p.cookieDev, p.cookieSecret = "usersvc_session", "usersvc_device", "usersvc_secret"
	if opts.Secure {
		p.cookieSes, p.cookieDev = "__Host-"+p.cookieSes, "__Host-"+p.cookieDev
		p.cookieSecret = "__Secure-" + p.cookieSecret // path-scoped: __Host- requires Path=/
	}
	p.origins = map[string]bool{}
	for _, o := range append([]string{opts.PublicURL}, opts.ReturnToOrigins...) {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			p.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
		}
	}
	var err error
	if p.secrets, err = newSecretSealer(opts.Key); err != nil {
		return nil, err
	}
	if p.css, err = newStylesheet(opts.AccentColor); err != nil {
		return nil, err
	}
	if p.views, err = p.parseViews(); err != nil {
		return nil, err
	}
	if p.csrf, err = p.crossOrigin(); err != nil {
		return nil, err
	}
	p.csp = p.policy()
	return p, nil
}

// Mount registers every page route on mux, each behind the pages'
// security headers and the refusal of cross-site form posts.
func (p *Pages) Mount(mux *http.ServeMux) {
	for _, rt := range p.routes() {
		mux.Handle(rt.pattern, p.protect(rt.handler))
	}
}
