package oidcop

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// invalidToken is the error of a token userinfo does not take: not one
// of the provider's user tokens, or its grant, session or account has
// ended (RFC 6750 section 3.1).
func invalidToken() *oidc.Error {
	return &oidc.Error{ErrorType: "invalid_token", Description: "the access token is not valid here: expired, revoked or not this provider's"}
}

// insufficientScope is the error of a live token whose grant is not an
// OpenID request's: its scopes lack openid, which userinfo needs (OpenID
// Connect Core 5.3; RFC 6750 section 3.1).
func insufficientScope() *oidc.Error {
	return &oidc.Error{ErrorType: errInsufficientScope, Description: "the access token's grant did not ask for the openid scope"}
}

// errInsufficientScope is RFC 6750's error code for a token that lacks a
// scope the resource needs.
const errInsufficientScope = "insufficient_scope"

// maxHeld bounds the refusal bodies of op's that bearerErrors reads: op's
// are a line of JSON or text.
const maxHeld = 4 << 10

// bearerErrors answers userinfo's refusals as RFC 6750 section 3 asks
// (OpenID Connect Core 5.3.3): 401 with WWW-Authenticate: Bearer, with
// error="invalid_token" when a token was sent, so that a relying party
// knows to get a new one. op answers 401 in plain text without the
// header, and 403 ("forbidden") for a token it verified but the storage
// does not take; a store fault (server_error) stays a server error.
func bearerErrors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Whether a token was sent, asked before op reads the body: op
		// parses the form of a copy of r, so r's own body is gone after.
		sent := r.Header.Get("Authorization") != "" || r.FormValue("access_token") != ""
		held := &heldWriter{ResponseWriter: w, holds: func(code int) bool {
			return code == http.StatusUnauthorized || code == http.StatusForbidden
		}}
		h.ServeHTTP(held, r)
		if !held.held {
			return
		}
		hd := w.Header()
		hd.Del("Content-Length")
		hd.Set("Cache-Control", "no-store")
		var answer struct {
			Error string `json:"error"`
		}
		switch {
		case json.Unmarshal(held.body.Bytes(), &answer) == nil && answer.Error == string(oidc.ServerError):
			hd.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":"server_error"}`))
		case answer.Error == errInsufficientScope:
			hd.Set("Content-Type", "application/json")
			hd.Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="openid"`)
			w.WriteHeader(http.StatusForbidden)
			b, _ := json.Marshal(insufficientScope())
			_, _ = w.Write(b)
		case !sent:
			hd.Del("Content-Type")
			hd.Set("WWW-Authenticate", "Bearer")
			w.WriteHeader(http.StatusUnauthorized)
		default:
			hd.Set("Content-Type", "application/json")
			hd.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			b, _ := json.Marshal(invalidToken())
			_, _ = w.Write(b)
		}
	})
}

// heldWriter holds back an answer whose status holds says, keeping the
// start of its body, for its handler's caller to answer instead.
type heldWriter struct {
	http.ResponseWriter
	holds       func(code int) bool
	wrote, held bool
	body        bytes.Buffer
}

func (w *heldWriter) WriteHeader(code int) {
	if !w.wrote && w.holds(code) {
		w.held = true
	}
	w.wrote = true
	if !w.held {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *heldWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.held {
		if room := maxHeld - w.body.Len(); room > 0 {
			w.body.Write(b[:min(len(b), room)])
		}
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *heldWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
