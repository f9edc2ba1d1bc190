package oidcop

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// ErrInvalidAuthorization is an authorization request that cannot be
// answered at its client: its client_id is unknown, or its redirect_uri
// is missing, malformed or not registered for the client. RFC 6749
// section 4.1.2.1: the server must not redirect, and should tell the
// person. Its text is the detail of the JSON answer.
var ErrInvalidAuthorization = errors.New("this sign-in link is not valid: the application that sent it is not registered here, " +
	"or asked to send the answer to an address it has not registered; nothing was sent back to it")

// invalidText is the answer to such a request when no pages are wired
// (USERSVC_UI=off) and JSON was not asked for.
const invalidText = "This sign-in link is not valid. Go back to the application you came from and sign in again from there."

// refusals answers in h's stead when h refuses an authorization request
// without sending it back to its client: op then writes a 400 without a
// Location, in plain text with its own words (http.Error). op alone
// decides whether a redirect is safe (the exact match, its rules for
// http and custom schemes, loopback ports); this only changes how the
// refusal looks, so the two never disagree. Redirects, errors included,
// pass untouched.
//
// op's log lines about the request wait for its answer (QuietRefusals):
// a refusal the caller caused is logged as one INFO line of the
// provider's, with op's error type and description and nothing of the
// request, instead of op's WARN.
func (p *Provider) refusals(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// op's refusal: a 400 that sends the browser nowhere (no Location).
		rw := &heldWriter{ResponseWriter: w, holds: func(code int) bool {
			return code == http.StatusBadRequest && w.Header().Get("Location") == ""
		}}
		held := &heldLines{}
		defer func() {
			if e := held.release(rw.held); e != nil {
				p.logRefusal(r, e)
			}
		}()
		h.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), heldKey{}, held)))
		if rw.held {
			p.invalid(w, r)
		}
	})
}

// logRefusal logs a refused authorization request in the line of op's it
// dropped: op's error type and description (fixed texts), never the
// request's parameters or op's underlying error.
func (p *Provider) logRefusal(r *http.Request, e *oidc.Error) {
	p.d.Logger.LogAttrs(r.Context(), slog.LevelInfo, "authorization request refused: it cannot go back to its client",
		slog.String("error", string(e.ErrorType)), slog.String("description", e.Description))
}

// invalid answers an authorization request that cannot go back to its
// client: the service's JSON problem to a client that asks for JSON
// only, else the hosted page (plain text without the pages). Nothing of
// the request is shown: its redirect_uri is the attacker's to choose.
func (p *Provider) invalid(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Del("Content-Type") // of op's plain-text answer, which is not sent
	h.Del("Content-Length")
	h.Add("Vary", "Accept")
	switch {
	case p.d.Problem != nil && wantsJSON(r.Header.Values("Accept")):
		p.d.Problem(w, r, ErrInvalidAuthorization)
	case p.d.Pages != nil:
		p.d.Pages.InvalidAuthorization(w, r)
	default:
		h.Set("Cache-Control", "no-store")
		http.Error(w, invalidText, http.StatusBadRequest) // nosniff too
	}
}

// wantsJSON reports whether the Accept header values accept JSON
// (application/json or a +json type) and not HTML: a program, not a
// browser. No Accept, */* or anything else is a person's browser.
func wantsJSON(accept []string) bool {
	json, html := false, false
	for _, v := range accept {
		for item := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(item))
			if err != nil {
				continue
			}
			if q, err := strconv.ParseFloat(params["q"], 64); err == nil && q <= 0 {
				continue // q=0: not acceptable
			}
			switch {
			case mt == "text/html" || mt == "application/xhtml+xml":
				html = true
			case mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
				json = true
			}
		}
	}
	return json && !html
}
