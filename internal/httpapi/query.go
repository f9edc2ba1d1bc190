package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/usersvc/usersvc/internal/user"
)

// What the list routes read from a query string, and what huma does not
// check by itself there: unknown parameters (a mistyped filter would
// otherwise list everything) and RFC 3339 date-times in either letter
// case.

// strictQuery refuses, with 422 naming them, the query parameters op does
// not document: "?rol=admin" must not silently list every role.
func (a *api) strictQuery(op huma.Operation) huma.Operation {
	op.Middlewares = append(op.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
		r, _ := humago.Unwrap(ctx)
		known := map[string]bool{}
		for _, p := range ctx.Operation().Parameters {
			if p.In == "query" {
				known[p.Name] = true
			}
		}
		var errs []error
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range r.URL.Query() {
				if !yield(k) {
					return
				}
			}
		}) {
			if !known[name] {
				errs = append(errs, &user.ValidationError{Field: name, Message: "unknown parameter"})
			}
		}
		if len(errs) > 0 {
			a.writeProblem(ctx, a.queryProblem(ctx.Context(), errors.Join(errs...)))
			return
		}
		next(ctx)
	})
	return op
}

// instant is a date-time query parameter: any RFC 3339 date-time,
// including the lower-case "t" and "z" that RFC 3339 allows (section 5.6)
// and Go's time.Parse does not.
type instant struct{ t time.Time }

// UnmarshalText reads an RFC 3339 date-time.
func (i *instant) UnmarshalText(b []byte) error {
	t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(string(b)))
	if err != nil {
		return errors.New("must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z")
	}
	i.t = t
	return nil
}

// Time is the instant, the zero time when the parameter was absent.
func (i instant) Time() time.Time { return i.t }

// documentDateTimes states in the document that the instant parameters
// of the operation at path are RFC 3339 date-times, with an example. The
// document gets its own copy of each schema: huma validates the request
// against the original, whose format check would refuse the lower-case
// letters RFC 3339 allows.
func documentDateTimes(doc *huma.OpenAPI, path string, names ...string) {
	for _, p := range doc.Paths[path].Get.Parameters {
		if !slices.Contains(names, p.Name) {
			continue
		}
		s := *p.Schema
		s.Format = "date-time"
		p.Schema = &s
		p.Example = "2026-01-02T15:04:05Z"
	}
}

// nulls finds the members of a JSON object body that are null, for bodies
// whose fields must not be (huma lets null through for any optional
// field).
func nulls(body []byte) []string {
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil {
		return nil // huma reports the body itself
	}
	var names []string
	for name, v := range raw {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// nullErrors are the errors of fields that must not be null, located in
// the body at prefix.
func nullErrors(prefix *huma.PathBuffer, names []string) []error {
	errs := make([]error, len(names))
	for i, name := range names {
		errs[i] = &huma.ErrorDetail{Location: prefix.With(name), Message: "must not be null: leave it out to keep the value"}
	}
	return errs
}
