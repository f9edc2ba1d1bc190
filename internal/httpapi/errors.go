package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/user"
)

// internalError is the whole detail of every 500: the cause goes to the log.
const internalError = "internal server error"

// retryAfterSeconds is the Retry-After of a 503: how long a client should
// wait before retrying when the database is unavailable.
const retryAfterSeconds = "2"

// problem turns an error met while serving a request into the response the
// design promises. It is the only place that picks a status code for an
// error of ours; huma picks the status of the request errors it finds itself
// (malformed or oversized bodies, schema violations), and explainErrors
// words those.
func (a *api) problem(ctx context.Context, err error) error {
	if fields := fieldErrors(err); len(fields) > 0 {
		return invalidFields(fields)
	}
	if ex, ok := errors.AsType[*ratelimit.ExceededError](err); ok {
		return tooManyRequests(ex)
	}
	switch {
	case errors.Is(err, user.ErrEmailTaken):
		return newProblem(http.StatusBadRequest, user.ErrEmailTaken.Error())
	case errors.Is(err, user.ErrUsernameTaken):
		return newProblem(http.StatusBadRequest, user.ErrUsernameTaken.Error())
	case errors.Is(err, user.ErrWrongPassword):
		return newProblem(http.StatusBadRequest, user.ErrWrongPassword.Error())
	case errors.Is(err, user.ErrInvalidGrant):
		return newProblem(http.StatusBadRequest, user.ErrInvalidGrant.Error())
	case errors.Is(err, user.ErrSessionNotFound):
		return newProblem(http.StatusNotFound, user.ErrSessionNotFound.Error())
	case errors.Is(err, user.ErrInvalidCredentials):
		return unauthorized(user.ErrInvalidCredentials.Error())
	case errors.Is(err, user.ErrUnauthenticated), errors.Is(err, user.ErrNotFound):
		// Only the /users/me routes meet ErrNotFound: the caller's account
		// was deleted while the request ran, so its token is no longer good.
		return unauthorized(user.ErrUnauthenticated.Error())
	case errors.Is(err, user.ErrUserNotFound):
		return newProblem(http.StatusNotFound, user.ErrUserNotFound.Error())
	case errors.Is(err, user.ErrLastAdmin):
		return newProblem(http.StatusConflict, user.ErrLastAdmin.Error())
	case errors.Is(err, user.ErrForbidden):
		return newProblem(http.StatusForbidden, user.ErrForbidden.Error())
	case errors.Is(err, user.ErrInvalidToken):
		return newProblem(http.StatusBadRequest, user.ErrInvalidToken.Error())
	case errors.Is(err, user.ErrAlreadyVerified):
		return newProblem(http.StatusConflict, user.ErrAlreadyVerified.Error())
	case errors.Is(err, user.ErrEmailNotVerified):
		return newProblem(http.StatusForbidden, user.ErrEmailNotVerified.Error())
	case errors.Is(err, user.ErrUnavailable):
		// The cause (driver text) goes to the log, never to the client.
		logger(ctx).LogAttrs(ctx, slog.LevelWarn, "database unavailable", slog.String("error", err.Error()))
		return huma.ErrorWithHeaders(newProblem(http.StatusServiceUnavailable, user.ErrUnavailable.Error()),
			http.Header{"Retry-After": {retryAfterSeconds}})
	case errors.Is(err, user.ErrBusy):
		return busy()
	case errors.Is(err, errNotForm):
		return newProblem(http.StatusUnsupportedMediaType, errNotForm.Error())
	case errors.Is(err, errMalformedForm):
		return newProblem(http.StatusBadRequest, errMalformedForm.Error())
	default:
		logger(ctx).LogAttrs(ctx, slog.LevelError, "request failed", slog.String("error", err.Error()))
		return newProblem(http.StatusInternalServerError, internalError)
	}
}

func newProblem(status int, detail string, errs ...*huma.ErrorDetail) *huma.ErrorModel {
	return &huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: detail, Errors: errs}
}

// unauthorized is a 401 with the challenge RFC 6750 asks for.
func unauthorized(detail string) error {
	return huma.ErrorWithHeaders(newProblem(http.StatusUnauthorized, detail),
		http.Header{"WWW-Authenticate": {"Bearer"}})
}

// invalidFields is a 422 naming every wrong field, worded like huma's own
// validation errors.
func invalidFields(fields []*user.ValidationError) error {
	details := make([]*huma.ErrorDetail, len(fields))
	msgs := make([]string, len(fields))
	for i, f := range fields {
		loc := f.Field // a body field, or a parameter named with its place ("query.kind")
		if !strings.Contains(loc, ".") {
			loc = "body." + loc
		}
		details[i] = &huma.ErrorDetail{Message: f.Message, Location: loc}
		msgs[i] = f.Error()
	}
	return newProblem(http.StatusUnprocessableEntity, strings.Join(msgs, "; "), details...)
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

// writeProblem answers from a middleware with err, a result of problem.
func (a *api) writeProblem(ctx huma.Context, err error) {
	var withHeaders huma.HeadersError
	if errors.As(err, &withHeaders) {
		for name, values := range withHeaders.GetHeaders() {
			for _, v := range values {
				ctx.AppendHeader(name, v)
			}
		}
	}
	var m *huma.ErrorModel
	if !errors.As(err, &m) {
		m = newProblem(http.StatusInternalServerError, internalError)
	}
	details := make([]error, len(m.Errors))
	for i, d := range m.Errors {
		details[i] = d
	}
	_ = huma.WriteErr(a.huma, ctx, m.Status, m.Detail, details...)
}

// explainErrors is a huma transformer for the error bodies huma writes on
// its own. A "validation failed" detail gets the list of what failed, a 413
// names our limit, no value is echoed that could hold a password or the
// whole body, and a 5xx says nothing but internalError (a 503 only that
// the database is unavailable), its cause logged.
func (a *api) explainErrors(ctx huma.Context, _ string, v any) (any, error) {
	m, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	m.Errors = slices.DeleteFunc(m.Errors, func(d *huma.ErrorDetail) bool { return d == nil })
	if m.Status == http.StatusServiceUnavailable && m.Detail == user.ErrBusy.Error() {
		return m, nil // saturated hashing (busy): the detail is ours and meant for the client
	}
	if m.Status >= http.StatusInternalServerError && m.Detail != internalError && m.Detail != user.ErrUnavailable.Error() {
		cause := m.Detail
		for _, d := range m.Errors {
			cause += "; " + d.Message
		}
		c := ctx.Context()
		logger(c).LogAttrs(c, slog.LevelError, "request failed", slog.String("error", cause))
		m.Detail, m.Errors = internalError, nil
		return m, nil
	}
	if m.Status == http.StatusRequestEntityTooLarge {
		// huma's detail names its own limit, one more than ours (see op).
		m.Detail = fmt.Sprintf("request body is too large: the limit is %d bytes", a.maxBodyBytes)
	}
	var msgs []string
	for _, d := range m.Errors {
		if !safeToEcho(d) {
			d.Value = nil
		}
		if d.Location != "" {
			msgs = append(msgs, d.Location+": "+d.Message)
		} else {
			msgs = append(msgs, d.Message)
		}
	}
	if m.Detail == "validation failed" && len(msgs) > 0 {
		m.Detail += ": " + strings.Join(msgs, "; ")
	}
	return m, nil
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
