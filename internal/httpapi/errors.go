package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/webhook"
)

// problem is the body of every error answer: an RFC 9457 problem with the
// design's detail, plus a stable, machine-readable code.
type problem struct {
	Title  string              `json:"title" doc:"The status's reason phrase"`
	Status int                 `json:"status" doc:"The HTTP status"`
	Detail string              `json:"detail" doc:"What went wrong, for people"`
	Code   string              `json:"code" doc:"What went wrong, for programs: stable across releases (see the README's error table)"`
	Errors []*huma.ErrorDetail `json:"errors,omitempty" doc:"The fields that are wrong, for a 422"`

	headers http.Header
	// oauth is the RFC 6749 error code of the answer on /token, "" when
	// the row of errorTable has none (tokenerror.go picks one by status).
	oauth string
}

func (p *problem) Error() string           { return p.Detail }
func (p *problem) GetStatus() int          { return p.Status }
func (p *problem) GetHeaders() http.Header { return p.headers }

// ContentType makes huma send a problem as application/problem+json.
func (p *problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

func newProblem(status int, code, detail string) *problem {
	return &problem{Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

// The codes of answers that come from the request itself rather than from
// a business error.
const (
	codeValidation   = "validation_failed"
	codeMalformed    = "malformed_request"
	codeTooLarge     = "body_too_large"
	codeMediaType    = "unsupported_media_type"
	codeNotFound     = "not_found"
	codeMethod       = "method_not_allowed"
	codeInternal     = "internal_error"
	codeUnavailable  = "unavailable"
	codeRateLimited  = "rate_limited"
	codeUnauthorized = "unauthenticated"
	// codeInsufficientScope is RFC 6750's error of a token whose scopes
	// do not reach the resource (a service account's).
	codeInsufficientScope = "insufficient_scope"
)

// errorTable is the one place that maps an error to its status and code;
// the detail is the error's own text unless the row says otherwise.
// Handlers return domain errors and never choose a status.
//
// oauth is the RFC 6749 section 5.2 error code the row has on /token;
// rows without one get one by status there (oauthCodeFor).
var errorTable = []struct {
	err    error
	status int
	code   string
	detail string // "" means err.Error()
	oauth  string
}{
	{user.ErrEmailTaken, http.StatusBadRequest, "email_taken", "", ""},
	{user.ErrUsernameTaken, http.StatusBadRequest, "username_taken", "", ""},
	{user.ErrWrongPassword, http.StatusBadRequest, "wrong_password", "", ""},
	{user.ErrInvalidGrant, http.StatusBadRequest, "invalid_grant", "", oauthInvalidGrant},
	{user.ErrInvalidToken, http.StatusBadRequest, "invalid_token", "", ""},
	{user.ErrInvalidMFAToken, http.StatusBadRequest, "invalid_mfa_token", "", oauthInvalidGrant},
	{user.ErrInvalidCode, http.StatusBadRequest, "invalid_code", "", oauthInvalidGrant},
	{errMalformedForm, http.StatusBadRequest, codeMalformed, "", ""},
	{errMalformedJSON, http.StatusBadRequest, codeMalformed, "", ""},
	{errInvalidUTF8, http.StatusBadRequest, codeMalformed, "", ""},
	{errLoneSurrogate, http.StatusBadRequest, codeMalformed, "", ""},
	{errEmptyBody, http.StatusBadRequest, codeMalformed, "", ""},
	{errRevokeRequest, http.StatusBadRequest, "invalid_request", "", oauthInvalidRequest},
	{oidcop.ErrInvalidAuthorization, http.StatusBadRequest, "invalid_request", "", oauthInvalidRequest},
	{user.ErrInvalidCredentials, http.StatusUnauthorized, "invalid_credentials", "", oauthInvalidGrant},
	{errInvalidClient, http.StatusUnauthorized, oauthInvalidClient, "", oauthInvalidClient},
	{oauthclient.ErrInvalidClient, http.StatusUnauthorized, oauthInvalidClient, "", oauthInvalidClient},
	{user.ErrRevokerNotTokensClient, http.StatusUnauthorized, oauthInvalidClient, "", oauthInvalidClient},
	{oauthclient.ErrUnauthorizedClient, http.StatusBadRequest, oauthUnauthorizedClient, "", oauthUnauthorizedClient},
	{oauthclient.ErrInsufficientScope, http.StatusForbidden, codeInsufficientScope, "", ""},
	{user.ErrUnauthenticated, http.StatusUnauthorized, codeUnauthorized, "", ""},
	{user.ErrForbidden, http.StatusForbidden, "forbidden", "", ""},
	{user.ErrServiceAccountLimit, http.StatusForbidden, "forbidden", "", ""},
	{user.ErrEmailNotVerified, http.StatusForbidden, "email_not_verified", "", oauthInvalidGrant},
	{user.ErrReauthenticationRequired, http.StatusForbidden, "reauthentication_required", "", ""},
	{user.ErrMFARequired, http.StatusForbidden, "mfa_required", "", oauthMFARequired},
	{user.ErrMFAEnrolmentRequired, http.StatusForbidden, "mfa_enrolment_required", "", ""},
	{user.ErrMFALoginRequired, http.StatusForbidden, "mfa_login_required", "", ""},
	{user.ErrNotFound, http.StatusNotFound, "user_not_found", "no user with this id", ""},
	{user.ErrSessionNotFound, http.StatusNotFound, "session_not_found", "", ""},
	{user.ErrFactorNotFound, http.StatusNotFound, "factor_not_found", "", ""},
	{user.ErrJobNotFound, http.StatusNotFound, "job_not_found", "", ""},
	{user.ErrJobCompleted, http.StatusConflict, "job_completed", "", ""},
	{passkey.ErrNotFound, http.StatusNotFound, "passkey_not_found", "", ""},
	{passkey.ErrTaken, http.StatusConflict, "passkey_taken", "", ""},
	{passkey.ErrTooMany, http.StatusConflict, "too_many_passkeys", "", ""},
	{passkey.ErrCeremony, http.StatusBadRequest, "invalid_ceremony", "", ""},
	{passkey.ErrVerification, http.StatusBadRequest, "passkey_not_verified", "", ""},
	{passkey.ErrInvalidName, http.StatusUnprocessableEntity, "invalid_passkey_name", "", ""},
	{webhook.ErrEndpointNotFound, http.StatusNotFound, "webhook_not_found", "", ""},
	{webhook.ErrDeliveryNotFound, http.StatusNotFound, "delivery_not_found", "", ""},
	{oauthclient.ErrNotFound, http.StatusNotFound, "client_not_found", "", ""},
	{oidcop.ErrNoConsent, http.StatusNotFound, "consent_not_found", "no consent to this client", ""},
	{oauthclient.ErrPublicClient, http.StatusConflict, "public_client", "", ""},
	{webhook.ErrEndpointDisabled, http.StatusConflict, "webhook_disabled", "", ""},
	{webhook.ErrDeliveryInProgress, http.StatusConflict, "delivery_in_progress", "", ""},
	{webhook.ErrAccountDeleted, http.StatusConflict, "account_deleted", "", ""},
	{errNoPublicURL, http.StatusNotFound, "discovery_off", "", ""},
	{user.ErrLastAdmin, http.StatusConflict, "last_admin", "", ""},
	{user.ErrAlreadyVerified, http.StatusConflict, "already_verified", "", ""},
	{user.ErrFactorExists, http.StatusConflict, "factor_exists", "", ""},
	{user.ErrTOTPSetupReplaced, http.StatusConflict, "totp_setup_replaced", "", ""},
	{errNotForm, http.StatusUnsupportedMediaType, codeMediaType, "", ""},
	{errTooLarge, http.StatusRequestEntityTooLarge, codeTooLarge, "", ""},
	{user.ErrLocked, http.StatusTooManyRequests, "account_locked", "", ""},
	{oauthclient.ErrClientLocked, http.StatusTooManyRequests, "client_locked", "", ""},
	{user.ErrRateLimited, http.StatusTooManyRequests, codeRateLimited, "", ""},
	{user.ErrBusy, http.StatusServiceUnavailable, "busy", "", ""},
	{user.ErrUnavailable, http.StatusServiceUnavailable, codeUnavailable, "", ""},
	{user.ErrMFAUnavailable, http.StatusServiceUnavailable, "mfa_unavailable", "", ""},
	{webhook.ErrUnavailable, http.StatusServiceUnavailable, "webhooks_unavailable", "", ""},
	{errClientsUnavailable, http.StatusServiceUnavailable, "clients_unavailable", "", ""},
}

// retryAfterUnavailable is the Retry-After of a 503 while the database is
// unavailable; retryAfterBusy of one while hashing is saturated.
const (
	retryAfterUnavailable = "2"
	retryAfterBusy        = "1"
)

// internalError is the whole detail of every 500: the cause goes to the log.
const internalError = "internal server error"

// maxFieldErrors is the most field errors an answer lists; the rest are
// counted, so that a body of thousands of bad fields gets a small answer.
const maxFieldErrors = 10

// problem turns an error met while serving a request into its answer,
// with field errors located in the request body.
func (a *api) problem(ctx context.Context, err error) error { return a.problemIn(ctx, "body", err) }

// queryProblem is problem for an operation whose fields are query
// parameters.
func (a *api) queryProblem(ctx context.Context, err error) error {
	return a.problemIn(ctx, "query", err)
}

// problemIn answers err by errorTable; field errors are located in where
// ("body", "query"); anything unknown is a logged 500 whose body says
// nothing about the cause.
func (a *api) problemIn(ctx context.Context, where string, err error) error {
	if fields := fieldErrors(err); len(fields) > 0 {
		return invalidFields(where, fields)
	}
	if p := tableProblem(err); p != nil {
		a.decorate(ctx, p, err)
		return p
	}
	logger(ctx).LogAttrs(ctx, slog.LevelError, "request failed", slog.String("error", err.Error()))
	return newProblem(http.StatusInternalServerError, codeInternal, internalError)
}

// tableProblem is errorTable's answer to err, nil when no row has it.
func tableProblem(err error) *problem {
	for _, row := range errorTable {
		if !errors.Is(err, row.err) {
			continue
		}
		detail := row.detail
		if detail == "" {
			detail = row.err.Error()
		}
		p := newProblem(row.status, row.code, detail)
		p.oauth = row.oauth
		if ex, ok := errors.AsType[*ratelimit.ExceededError](err); ok {
			p.Detail, p.headers = ex.Detail, rateHeaders(ex.Result)
		}
		return p
	}
	return nil
}

// WriteError answers r with err as the API answers its errors, by
// errorTable (anything else a logged 500), for a handler mounted beside
// the API that refuses a request a program made: the OpenID provider's
// authorization endpoint (oidcop.Deps.Problem). Its refusals are 4xx rows
// without the headers decorate adds to a 401, 413 or 503.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	p := tableProblem(err)
	if p == nil {
		ctx := r.Context()
		logger(ctx).LogAttrs(ctx, slog.LevelError, "request failed", slog.String("error", err.Error()))
		p = newProblem(http.StatusInternalServerError, codeInternal, internalError)
	}
	writeRefusal(w, p)
}

// writeRefusal writes p from outside huma with its headers, never to be
// cached.
func writeRefusal(w http.ResponseWriter, p answer) {
	for name, values := range p.GetHeaders() {
		for _, v := range values {
			w.Header().Add(name, v)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeAnswer(w, p)
}

// decorate adds the headers a status asks for: the Bearer challenge of a
// 401 (RFC 6750) and when to retry a 503 (whose cause is logged); a 413
// names the limit.
func (a *api) decorate(ctx context.Context, p *problem, err error) {
	switch p.Status {
	case http.StatusRequestEntityTooLarge:
		p.Detail = a.tooLarge()
	case http.StatusUnauthorized:
		p.headers = http.Header{"WWW-Authenticate": {"Bearer"}}
	case http.StatusForbidden:
		if p.Code == codeInsufficientScope {
			if se, ok := errors.AsType[*oauthclient.ScopeError](err); ok {
				p.Detail = se.Error()
			}
			p.headers = http.Header{"WWW-Authenticate": {scopeChallenge(err)}}
		}
	case http.StatusServiceUnavailable:
		retry := retryAfterBusy
		if p.Code == codeUnavailable {
			// The cause (driver text) goes to the log, never to the client.
			logger(ctx).LogAttrs(ctx, slog.LevelWarn, "database unavailable", slog.String("error", err.Error()))
			retry = retryAfterUnavailable
		}
		p.headers = http.Header{"Retry-After": {retry}}
	}
}

// scopeChallenge is the Bearer challenge of a service account's token
// used beyond its scopes (RFC 6750 section 3), naming the scope that
// would do when there is one.
func scopeChallenge(err error) string {
	c := `Bearer error="insufficient_scope", error_description="` + oauthText(err.Error()) + `"`
	if se, ok := errors.AsType[*oauthclient.ScopeError](err); ok && se.Required != "" {
		c += `, scope="` + se.Required + `"`
	}
	return c
}

// invalidFields is a 422 naming the wrong fields (at most maxFieldErrors),
// each located in where ("body.email", "query.cursor"). The detail words
// them as the design does: a body field by its name ("email: ..."), a
// parameter with its place ("query.cursor: ...").
func invalidFields(where string, fields []*user.ValidationError) error {
	p := newProblem(http.StatusUnprocessableEntity, codeValidation, "")
	msgs := make([]string, 0, min(len(fields), maxFieldErrors))
	for _, f := range fields[:min(len(fields), maxFieldErrors)] {
		p.Errors = append(p.Errors, &huma.ErrorDetail{Message: f.Message, Location: where + "." + f.Field})
		name := f.Field
		if where != "body" {
			name = where + "." + f.Field
		}
		msgs = append(msgs, name+": "+f.Message)
	}
	p.Detail = strings.Join(msgs, "; ")
	if more := len(fields) - maxFieldErrors; more > 0 {
		p.Detail += fmt.Sprintf("; and %d more", more)
	}
	return p
}

// fieldErrors returns every *user.ValidationError in err's tree.
func fieldErrors(err error) []*user.ValidationError {
	switch e := err.(type) {
	case *user.ValidationError:
		return []*user.ValidationError{e}
	case interface{ Unwrap() []error }:
		var all []*user.ValidationError
		for _, err := range e.Unwrap() {
			all = append(all, fieldErrors(err)...)
		}
		return all
	case interface{ Unwrap() error }:
		return fieldErrors(e.Unwrap())
	}
	return nil
}

// bound keeps at most maxFieldErrors of p's field errors and words the
// detail of a validation failure from them: "validation failed: loc:
// message; ... and N more".
func bound(p *problem) {
	more := len(p.Errors) - maxFieldErrors
	if more > 0 {
		p.Errors = p.Errors[:maxFieldErrors]
	}
	if p.Detail != "validation failed" || len(p.Errors) == 0 {
		return
	}
	msgs := make([]string, len(p.Errors))
	for i, d := range p.Errors {
		msgs[i] = d.Message
		if d.Location != "" {
			msgs[i] = d.Location + ": " + d.Message
		}
	}
	p.Detail += ": " + strings.Join(msgs, "; ")
	if more > 0 {
		p.Detail += fmt.Sprintf("; and %d more", more)
	}
}

// tooLarge is the detail of a 413.
func (a *api) tooLarge() string {
	return fmt.Sprintf("%s: the limit is %d bytes", errTooLarge, a.maxBodyBytes)
}

// answer is what writeProblem writes: a *problem or a *tokenProblem.
type answer interface {
	error
	huma.StatusError
	huma.HeadersError
	huma.ContentTypeFilter
}

// writeProblem answers from an operation middleware with err, a result of
// problem or tokenError.
func (a *api) writeProblem(ctx huma.Context, err error) {
	var p answer
	if !errors.As(err, &p) {
		p = newProblem(http.StatusInternalServerError, codeInternal, internalError)
	}
	for name, values := range p.GetHeaders() {
		for _, v := range values {
			ctx.AppendHeader(name, v)
		}
	}
	ctx.SetHeader("Content-Type", p.ContentType("application/json"))
	ctx.SetStatus(p.GetStatus())
	_ = a.huma.Marshal(ctx.BodyWriter(), "application/json", p)
}

// codeForStatus is the code of an answer huma makes on its own (a body it
// cannot read, a schema violation), by status.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return codeMalformed
	case http.StatusNotFound:
		return codeNotFound
	case http.StatusMethodNotAllowed:
		return codeMethod
	case http.StatusRequestEntityTooLarge:
		return codeTooLarge
	case http.StatusUnsupportedMediaType:
		return codeMediaType
	case http.StatusUnprocessableEntity:
		return codeValidation
	case http.StatusTooManyRequests:
		return codeRateLimited
	case http.StatusServiceUnavailable:
		return codeUnavailable
	case http.StatusUnauthorized:
		return codeUnauthorized
	}
	return codeInternal
}

// explainErrors is a huma transformer for the error bodies huma writes on
// its own (a *huma.ErrorModel): it turns them into problems with a code. A
// "validation failed" detail gets the list of what failed (bounded), a 413
// names our limit, no value is echoed that could hold a password or the
// whole body, and a 5xx says nothing but internalError, its cause logged.
func (a *api) explainErrors(ctx huma.Context, _ string, v any) (any, error) {
	m, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	p := newProblem(m.Status, codeForStatus(m.Status), m.Detail)
	for _, d := range m.Errors {
		if d == nil {
			continue
		}
		if !safeToEcho(d) {
			d.Value = nil
		}
		p.Errors = append(p.Errors, d)
	}
	if m.Status >= http.StatusInternalServerError {
		cause := m.Detail
		for _, d := range p.Errors {
			cause += "; " + d.Message
		}
		c := ctx.Context()
		logger(c).LogAttrs(c, slog.LevelError, "request failed", slog.String("error", cause))
		return newProblem(http.StatusInternalServerError, codeInternal, internalError), nil
	}
	if m.Status == http.StatusRequestEntityTooLarge {
		// huma's detail names its own limit, one more than ours (see op).
		p.Detail = a.tooLarge()
	}
	bound(p)
	return p, nil
}

// safeToEcho reports whether d's value may go back to the client: a single
// scalar that is not a password. Objects (huma echoes the whole body for a
// missing or unexpected property) may contain one.
func safeToEcho(d *huma.ErrorDetail) bool {
	if d.Location == "body" || strings.HasSuffix(d.Location, "password") || strings.HasSuffix(d.Location, "token") {
		return false
	}
	switch d.Value.(type) {
	case nil, string, bool, float64, int, int64:
		return true
	}
	return false
}
