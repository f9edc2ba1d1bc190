package oidcop

import (
	"net/http"
	"net/url"
)

// Pages renders the provider's pages for a person: the consent page and
// the pages of a request that cannot go back to its client. They are
// hosted pages like the others (layout, stylesheet, words from one
// catalogue): internal/web renders them, internal/app wires it here, and
// this package hands over plain data only. Each method writes the whole
// answer: status, security headers and body.
type Pages interface {
	// Consent asks the signed-in user to allow a client the scopes of a
	// request; its Content-Security-Policy lets the form's answer
	// redirect to c.FormTarget (form-action).
	Consent(w http.ResponseWriter, r *http.Request, c ConsentPage)
	// DeadRequest answers 400: the request is unknown or expired, or its
	// client is gone, so nothing can be sent back to the client.
	DeadRequest(w http.ResponseWriter, r *http.Request)
	// InvalidAuthorization answers 400: an authorization request whose
	// client is unknown or whose redirect URI is missing, malformed or
	// not registered (ErrInvalidAuthorization), so that it must not be
	// sent back anywhere. The page shows nothing of the request.
	InvalidAuthorization(w http.ResponseWriter, r *http.Request)
}

// ConsentPage is what the consent page shows and what its form posts.
type ConsentPage struct {
	// Client is the client's name (its id when it has none); FirstParty
	// whether it is one of the service's own applications.
	Client     string
	FirstParty bool
	// Host is the host of the redirect URI the answer goes to.
	Host string
	// User is the signed-in user's username.
	User string
	// Scopes are the request's scopes, as it names them.
	Scopes []string
	// Action is where the form posts (the decision is its submit button,
	// allow or deny), with Hidden as its hidden fields.
	Action string
	Hidden []Field
	// FormTarget is the origin of the redirect URI, where the form's
	// answer redirects: the page's form-action must allow it ("" when the
	// URI has none).
	FormTarget string
}

// Field is a hidden field of a form.
type Field struct{ Name, Value string }

// formTarget is the origin of redirectURI (scheme://host), "" when it
// has none: the consent form's answer redirects there, and browsers hold
// that redirect to the form's form-action.
func formTarget(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func hostOf(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return u.Host
}

// deadText is the dead request's answer when no pages are wired
// (USERSVC_UI=off): plain text, as nothing else can be shown.
const deadText = "This sign-in request is unknown or has expired. Go back to the application you came from and sign in again."

// dead answers a request that cannot be sent back to a client.
func (p *Provider) dead(w http.ResponseWriter, r *http.Request) {
	if p.d.Pages == nil {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, deadText, http.StatusBadRequest)
		return
	}
	p.d.Pages.DeadRequest(w, r)
}
