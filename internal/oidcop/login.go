package oidcop

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/usersvc/usersvc/internal/user"
)

// login is where op sends a browser once its authorization request is
// stored, and where sign-in sends it back: it binds the browser's signed-in
// user to the request, asks for consent where needed and answers the
// client with a code; it sends the browser to sign in (prompt=login,
// max_age, another user than the id_token_hint's) or answers
// login_required (prompt=none) as the request says.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	req, ok := p.pending(r, r.URL.Query().Get("id"))
	if !ok {
		p.dead(w, r)
		return
	}
	u, sess, ok := p.signedIn(w, r, req)
	if !ok {
		return
	}
	c, err := p.d.Clients.Client(r.Context(), req.ClientID)
	if err != nil {
		p.dead(w, r)
		return
	}
	need, err := p.needsConsent(r.Context(), req, c, u.ID)
	switch {
	case err != nil:
		p.fail(w, r, req, oidc.ErrServerError().WithParent(err))
	case need && (slices.Contains(req.Prompt, oidc.PromptNone) || p.d.Pages == nil): // no page to ask on: as prompt=none
		p.fail(w, r, req, &oidc.Error{ErrorType: "consent_required", Description: "the user has not consented to this client"})
	case need:
		p.askConsent(w, r, req, c, u, sess)
	default:
		p.finish(w, r, req, sess)
	}
}

// pending returns the request id while this browser may still act on
// it: not expired, sent by this browser (its binding cookie), and not
// done (its code was handed out).
func (p *Provider) pending(r *http.Request, id string) (AuthRequest, bool) {
	req, err := p.st.request(r.Context(), id)
	if err != nil || req.Done || !boundHere(r, req) {
		return AuthRequest{}, false
	}
	return req, true
}

// signedIn returns the browser's user and session when they may answer
// req. Otherwise it has answered: to sign in, once, when there is no
// session, it is too old (prompt=login, max_age), of another user than
// the id_token_hint's, or opened without the account's second factor
// where the MFA policy asks for it; login_required with prompt=none or the
// second time; access_denied to an account the policy asks to enrol one.
func (p *Provider) signedIn(w http.ResponseWriter, r *http.Request, req AuthRequest) (user.User, user.Session, bool) {
	none := slices.Contains(req.Prompt, oidc.PromptNone)
	u, sess, ok := p.d.Browser.Current(r)
	weak := false
	if ok {
		var refusal *oidc.Error
		if weak, refusal = p.assurance(r.Context(), u, sess); refusal != nil {
			p.fail(w, r, req, refusal)
			return user.User{}, user.Session{}, false
		}
	}
	again := ok && (weak || p.stale(req, sess) || (req.HintSubject != "" && req.HintSubject != u.ID.String()))
	switch {
	case !ok && none, again && (none || req.SentToSignIn):
		p.fail(w, r, req, oidc.ErrLoginRequired())
	case !ok:
		p.toSignIn(w, r, req, false)
	case again:
		p.toSignIn(w, r, req, true)
	default:
		return u, sess, true
	}
	return user.User{}, user.Session{}, false
}

// assurance applies the MFA policy (Deps.Assurance) to the browser's
// session, as the API and the account pages do: again when the account
// has a second factor the session was opened without (signing in again
// asks for it); a refusal to answer the client with when the policy asks
// the account to enrol one first (access_denied) or cannot be applied;
// neither when the session may answer.
func (p *Provider) assurance(ctx context.Context, u user.User, sess user.Session) (again bool, refusal *oidc.Error) {
	if p.d.Assurance == nil {
		return false, nil
	}
	switch err := p.d.Assurance.RequireAssurance(ctx, user.Caller{User: u, Session: sess}, false); {
	case err == nil:
		return false, nil
	case errors.Is(err, user.ErrMFALoginRequired):
		return true, nil
	case errors.Is(err, user.ErrMFAEnrolmentRequired):
		return false, oidc.ErrAccessDenied().WithDescription("this service requires a second factor: add one to the account first")
	default:
		return false, oidc.ErrServerError().WithParent(err)
	}
}

// askConsent shows the consent page, noting on req the session it is
// shown to: the form's answer is taken from that session only.
func (p *Provider) askConsent(w http.ResponseWriter, r *http.Request, req AuthRequest, c Client, u user.User, sess user.Session) {
	req.ConsentShownTo = sess.ID
	if !p.save(w, r, req) {
		return
	}
	p.d.Pages.Consent(w, r, ConsentPage{
		Client: cmp.Or(c.Name, c.ID), FirstParty: c.FirstParty, Host: hostOf(req.RedirectURI), User: u.Username,
		Scopes: slices.Clone(req.Scopes), Action: consentPath, Hidden: []Field{{Name: "id", Value: req.ID}},
		FormTarget: formTarget(req.RedirectURI),
	})
}

// stale reports whether sess signed in too long ago for req: before the
// request with prompt=login (op makes it max_age 0), or more than max_age
// seconds ago.
func (p *Provider) stale(req AuthRequest, sess user.Session) bool {
	if req.MaxAge == nil {
		return false
	}
	if *req.MaxAge == 0 { // to the second, as auth_time; stores keep microseconds
		return sess.AuthenticatedAt.Before(req.CreatedAt.Truncate(time.Second))
	}
	return p.d.Now().Sub(sess.AuthenticatedAt).Seconds() > float64(*req.MaxAge)
}

// toSignIn sends the browser to the hosted sign-in page, to come back
// here; again says a fresh sign-in is needed although a session exists.
func (p *Provider) toSignIn(w http.ResponseWriter, r *http.Request, req AuthRequest, again bool) {
	req.SentToSignIn = true
	if !p.save(w, r, req) {
		return
	}
	q := url.Values{"return_to": {loginPath + "?id=" + url.QueryEscape(req.ID)}}
	if again {
		q.Set("prompt", oidc.PromptLogin)
	}
	if req.LoginHint != "" {
		q.Set("login_hint", req.LoginHint)
	}
	http.Redirect(w, r, p.cfg.SignInPath+"?"+q.Encode(), http.StatusFound)
}

// needsConsent reports whether userID must consent to req: a third-party
// client, asking for a scope not consented before (or prompt=consent).
func (p *Provider) needsConsent(ctx context.Context, req AuthRequest, c Client, userID uuid.UUID) (bool, error) {
	if c.FirstParty {
		return false, nil
	}
	if slices.Contains(req.Prompt, oidc.PromptConsent) {
		return true, nil
	}
	given, err := p.d.Stores.Consents.Consent(ctx, userID, c.ID)
	if errors.Is(err, ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, s := range req.Scopes {
		if !slices.Contains(given.Scopes, s) {
			return true, nil
		}
	}
	return false, nil
}

// consent takes the consent form's answer: allow remembers the scopes for
// the client and answers it with a code, anything else access_denied. It
// holds the request to login's rules (a post is no way around a fresh
// sign-in) and takes only an answer to the page shown to this session.
func (p *Provider) consent(w http.ResponseWriter, r *http.Request) {
	req, ok := p.pending(r, r.PostFormValue("id"))
	if !ok {
		p.dead(w, r)
		return
	}
	u, sess, ok := p.signedIn(w, r, req)
	if !ok {
		return
	}
	if req.ConsentShownTo != sess.ID {
		p.dead(w, r)
		return
	}
	if r.PostFormValue("decision") != "allow" {
		// The client is told access_denied: the request is over, so that
		// an "allow" posted after it (another tab, the back button) gives
		// no code the client no longer expects.
		req.Done = true
		if !p.save(w, r, req) {
			return
		}
		p.fail(w, r, req, oidc.ErrAccessDenied().WithDescription("the user did not allow the request"))
		return
	}
	scopes := req.Scopes
	if given, err := p.d.Stores.Consents.Consent(r.Context(), u.ID, req.ClientID); err == nil {
		for _, s := range given.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(slices.Clone(scopes), s)
			}
		}
	}
	c := Consent{UserID: u.ID, ClientID: req.ClientID, Scopes: scopes, UpdatedAt: p.d.Now().UTC()}
	// Remembered only once this answer is the request's: an allow that
	// lost to a deny (another tab) leaves no consent that would let the
	// client in without asking next time.
	p.finishThen(w, r, req, sess, func() error { return p.d.Stores.Consents.SaveConsent(r.Context(), c) })
}

// finish binds the session to req and answers the client with a code (op
// makes and stores it).
func (p *Provider) finish(w http.ResponseWriter, r *http.Request, req AuthRequest, sess user.Session) {
	p.finishThen(w, r, req, sess, nil)
}

// finishThen is finish that, once req is saved as done by this answer
// (no other step ended it first), runs then (nil: nothing) before the
// client is answered; its error is a server_error to the client.
func (p *Provider) finishThen(w http.ResponseWriter, r *http.Request, req AuthRequest, sess user.Session, then func() error) {
	req.UserID, req.SessionID, req.AuthTime = sess.UserID, sess.ID, sess.AuthenticatedAt.UTC()
	a := sess.Assurance() // how the page session's sign-in proved its holder
	req.AMR, req.ACR, req.Done = a.AMR, a.ACR, true
	if !p.save(w, r, req) {
		return
	}
	if then != nil {
		if err := then(); err != nil {
			p.fail(w, r, req, oidc.ErrServerError().WithParent(err))
			return
		}
	}
	op.AuthResponse(&authRequest{req}, p.op, &issWriter{ResponseWriter: w, iss: p.cfg.Issuer}, r)
}

// save stores req as a step of the browser's answered it. When it cannot,
// it has answered the browser and returns false: the dead request page
// when another step (another tab) ended the request since this one read
// it, and the store kept that end; a server_error to the client
// otherwise.
func (p *Provider) save(w http.ResponseWriter, r *http.Request, req AuthRequest) bool {
	err := p.d.Stores.Grants.SaveAuthRequest(r.Context(), req)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrRequestDone), errors.Is(err, ErrCodeIssued), errors.Is(err, ErrCodeUsed):
		p.dead(w, r)
	default:
		p.fail(w, r, req, oidc.ErrServerError().WithParent(err))
	}
	return false
}

// browserKey carries the browser's session to TerminateSessionFromRequest.
type browserKey struct{}

type browserSession struct{ userID, sessionID uuid.UUID }

// endSession is RP-initiated logout. Only the browser's own session ever
// ends (TerminateSessionFromRequest): with an id_token_hint, when the hint
// names it (the relying party sends the browser here, cross-site); without
// one, only when the request comes from this origin (Sec-Fetch-Site), so
// that another site cannot sign a user out by linking here. A hint alone,
// without that browser, ends nothing: an ID token is no credential.
//
// A client_id that is not registered, or an id_token_hint whose client
// (azp) is not (deleted since), is the caller's error (invalid_request),
// sending the browser nowhere: op takes any failure to find the client
// for its own (server_error), and without the client no
// post_logout_redirect_uri can be verified.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err == nil {
		if id := r.Form.Get("client_id"); id != "" {
			if _, err := p.d.Clients.Client(ctx, id); errors.Is(err, ErrUnknownClient) {
				op.RequestError(w, r, oidc.ErrInvalidRequest().WithDescription("client_id is not a registered client"), nil)
				return
			}
		}
		if id := p.hintClient(ctx, r.Form.Get("id_token_hint")); id != "" {
			if _, err := p.d.Clients.Client(ctx, id); errors.Is(err, ErrUnknownClient) {
				op.RequestError(w, r, oidc.ErrInvalidRequest().WithDescription("the id_token_hint's client is not a registered client"), nil)
				return
			}
		}
		site := r.Header.Get("Sec-Fetch-Site")
		hinted := r.Form.Get("id_token_hint") != ""
		if u, sess, ok := p.d.Browser.Current(r); ok && (hinted || site == "same-origin" || site == "none") {
			ctx = context.WithValue(ctx, browserKey{}, browserSession{userID: u.ID, sessionID: sess.ID})
		}
	}
	op.EndSession(w, r.WithContext(ctx), p.op)
}

// hintClient is the client (azp) of hint, an ID token the provider
// signed, expired or not, as op verifies it at end_session; "" for no
// hint, or one op refuses (its own invalid_request).
func (p *Provider) hintClient(ctx context.Context, hint string) string {
	if hint == "" {
		return ""
	}
	claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.op.IDTokenHintVerifier(ctx))
	if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) {
		return ""
	}
	return claims.GetAuthorizedParty()
}

// RequestReader reads stored authorization requests (Grants' read half).
type RequestReader interface {
	AuthRequest(ctx context.Context, id string) (AuthRequest, error)
}

// ReturnOrigin is the origin where a sign-in whose return_to is
// returnTo ends up: the redirect URI's origin of the authorization
// request returnTo hands back to (loginPath?id=...), while it has not
// expired at now; "" for any other return_to. The hosted sign-in page
// allows it as a form target: its form's answer redirects there.
func ReturnOrigin(ctx context.Context, reqs RequestReader, returnTo string, now time.Time) string {
	u, err := url.Parse(returnTo)
	if err != nil || u.Path != loginPath || u.Host != "" || u.Scheme != "" {
		return ""
	}
	req, err := reqs.AuthRequest(ctx, u.Query().Get("id"))
	if err != nil || !now.Before(req.ExpiresAt) {
		return ""
	}
	ru, err := url.Parse(req.RedirectURI)
	if err != nil || ru.Scheme == "" || ru.Host == "" {
		return ""
	}
	return ru.Scheme + "://" + ru.Host
}
