package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The account's connected apps (issue 23): the third-party clients of the
// OpenID provider a user consented to, each with the scopes allowed and a
// button that takes the consent back, which also ends what the app holds
// (its grants and refresh tokens): the next sign-in through it asks
// again.

// Apps is what the apps page needs of the OpenID provider (wired by
// internal/app over oidcop.ConsentService and the client registry).
type Apps interface {
	// AppsOf lists the apps userID consented to, by client id.
	AppsOf(ctx context.Context, userID uuid.UUID) ([]App, error)
	// RevokeApp takes userID's consent to clientID back and ends the
	// app's grants of userID, recorded in the account's audit log with
	// the request's client (ctx); ErrNoApp when there was none.
	RevokeApp(ctx context.Context, userID uuid.UUID, clientID string) error
}

// ErrNoApp is RevokeApp's answer for an app the user gave no consent to.
var ErrNoApp = errors.New("web: no consent to this app")

// App is one consented app as the page shows it.
type App struct {
	ClientID, Name string
	Scopes         []string
	Since          time.Time
}

// appRoutes are the apps page's routes (in routes()).
func (p *Pages) appRoutes() []route {
	return []route{
		{"GET /account/apps", p.assured(p.appsPage)},
		{"POST /account/apps/{id}/revoke", p.assured(p.revokeApp)},
	}
}

func (p *Pages) appsView(w http.ResponseWriter, r *http.Request, c user.Caller, status int, notice string) {
	var list []App
	if p.opts.Apps != nil {
		var err error
		if list, err = p.opts.Apps.AppsOf(r.Context(), c.User.ID); err != nil {
			p.errorPage(w, r, http.StatusServiceUnavailable, "error.unavailable")
			return
		}
	}
	p.render(w, r, status, view{Page: "apps", Title: "apps.title", Intro: "apps.intro", Notice: notice, Apps: list, Me: &c.User})
}

func (p *Pages) appsPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	p.appsView(w, r, c, http.StatusOK, notice(r))
}

// revokeApp takes the consent to one app back.
func (p *Pages) revokeApp(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if p.opts.Apps == nil {
		p.appsView(w, r, c, http.StatusNotFound, "")
		return
	}
	if err := p.allowWrite(r, p.opts.Limits.Write, c, perAccount); err != nil {
		st, _, _ := p.explain(r, err)
		p.appsView(w, r, c, st, "")
		return
	}
	err := p.opts.Apps.RevokeApp(p.client(r), c.User.ID, r.PathValue("id"))
	if errors.Is(err, ErrNoApp) {
		p.appsView(w, r, c, http.StatusNotFound, "notice.app_not_found")
		return
	}
	if err != nil { // the consent stands: say so, never "not found"
		p.log.ErrorContext(r.Context(), "take a consent back", "error", err.Error())
		p.errorPage(w, r, http.StatusServiceUnavailable, "error.unavailable")
		return
	}
	redirect(w, withNotice("/account/apps", "app_revoked"))
}

// scopeKeys are the catalogue keys of the OpenID scopes.
var scopeKeys = map[string]string{
	"openid": "scope.openid", "profile": "scope.profile", "email": "scope.email", "offline_access": "scope.offline_access",
}

// scopeText says in words what a scope gives: its catalogue entry, or the
// scope itself for one the catalogue does not know (a client's own).
func (p *Pages) scopeText(scope string) string {
	if key, ok := scopeKeys[scope]; ok {
		if t, err := p.msg.text(key); err == nil {
			return t
		}
	}
	return scope
}
