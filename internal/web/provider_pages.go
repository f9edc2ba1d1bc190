package web

import "net/http"

// The OpenID provider's pages (issue 23): the consent page and the pages
// of an authorization request that cannot go back to its client. The
// provider (internal/oidcop) serves their routes and decides everything;
// these methods only show its plain data in the pages' layout, in the
// catalogue's words, with the pages' security headers. internal/app
// hands them to the provider (its oidcop.Pages port).

// Consent is the consent page's data.
type Consent struct {
	// Client is the client's name (or id); FirstParty whether it is one
	// of the service's own applications.
	Client     string
	FirstParty bool
	// Host is the host the answer goes to; User the signed-in username.
	Host, User string
	// Scopes are the requested scopes, each shown as its catalogue text
	// (scope.<name>).
	Scopes []string
	// Action is where the form posts, with Hidden as its hidden fields;
	// the decision is the button pressed (decision=allow or deny).
	Action string
	Hidden []HiddenField
	// FormTarget is the origin the form's answer redirects to, which the
	// page's form-action allows ("" for none).
	FormTarget string
}

// HiddenField is a hidden field of a form.
type HiddenField struct{ Name, Value string }

// ConsentPage writes the consent page of c.
func (p *Pages) ConsentPage(w http.ResponseWriter, r *http.Request, c Consent) {
	setHeaders(w, p.policy(c.FormTarget))
	p.render(w, r, http.StatusOK, view{Page: "consent", Title: "consent.title", TitleArg: c.Client, Consent: &c})
}

// DeadRequestPage answers 400 with the page of an authorization request
// that is unknown or expired, or whose client is gone.
func (p *Pages) DeadRequestPage(w http.ResponseWriter, r *http.Request) {
	setHeaders(w, p.csp)
	p.render(w, r, http.StatusBadRequest, view{Page: "message", Title: "oidc.dead.title", Intro: "oidc.dead.body"})
}

// InvalidAuthorizationPage answers 400 with the page of an authorization
// request that must not go back to its client: the client is unknown, or
// the redirect URI is missing, malformed or not registered. It names
// nothing of the request (the redirect URI is whoever made the link's to
// choose) and sends the person back to the application they came from.
func (p *Pages) InvalidAuthorizationPage(w http.ResponseWriter, r *http.Request) {
	setHeaders(w, p.csp)
	p.render(w, r, http.StatusBadRequest, view{Page: "message", Title: "oidc.invalid.title", Intro: "oidc.invalid.body"})
}
