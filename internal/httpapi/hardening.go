package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/rs/cors"

	"github.com/usersvc/usersvc/internal/apidocs"
)

// docsPrefix is where the interactive API documentation lives.
const docsPrefix = "/docs/"

// apiCSP forbids everything to a browser that renders an API response.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// securityHeaders sets the headers suited to a JSON API: no sniffing, no
// framing, nothing cached, and a CSP that lets a browser run nothing. The
// docs page sets its own CSP and may be cached.
//
// The values are slices made once and shared by every response, which
// saves an allocation per header and request. That is safe because nothing
// writes into a header's slice: Set replaces it, and Add appends to a full
// slice (length = capacity), which copies it.
func securityHeaders(next http.Handler) http.Handler {
	nosniff, deny, noReferrer := []string{"nosniff"}, []string{"DENY"}, []string{"no-referrer"}
	csp, noStore := []string{apiCSP}, []string{"no-store"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = nosniff
		h["X-Frame-Options"] = deny
		h["Referrer-Policy"] = noReferrer
		if !strings.HasPrefix(r.URL.Path, docsPrefix) {
			h["Content-Security-Policy"] = csp
			h["Cache-Control"] = noStore
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses a request whose declared length is over limit before
// reading any of it, and caps what any handler can read of the rest.
func limitBody(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				w.Header().Set("Connection", "close") // the unread body is not drained
				p := newProblem(http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("%s: the limit is %d bytes", errTooLarge, limit))
				if r.URL.Path == tokenPath {
					writeAnswer(w, &tokenProblem{problem: *p, OAuthError: oauthInvalidRequest, ErrorDescription: p.Detail})
					return
				}
				writeAnswer(w, p)
				return
			}
			if r.Body != http.NoBody { // what net/http gives a request without a body
				// One byte over the limit lets huma see, and report, the excess.
				r.Body = http.MaxBytesReader(w, r.Body, limit+1)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// withCORS lets only origins call the API from a browser, with the methods
// of the registered routes (methods) and the headers the API uses. Other
// origins get no CORS headers at all.
func withCORS(origins, methods []string) func(http.Handler) http.Handler {
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: methods,
		AllowedHeaders: []string{"Authorization", "Content-Type", requestIDHeader},
		ExposedHeaders: append([]string{requestIDHeader, "WWW-Authenticate"}, rateLimitHeaders()...),
		MaxAge:         600,
	})
	return c.Handler
}

// writeJSONProblem writes an RFC 9457 problem from outside huma.
func writeJSONProblem(w http.ResponseWriter, status int, code, detail string) {
	writeAnswer(w, newProblem(status, code, detail))
}

// writeAnswer writes p from outside huma.
func writeAnswer(w http.ResponseWriter, p answer) {
	w.Header().Set("Content-Type", p.ContentType("application/json"))
	w.WriteHeader(p.GetStatus())
	_ = json.NewEncoder(w).Encode(p)
}

// docs serves the embedded Swagger UI; /docs redirects to /docs/.
func docs(mux *http.ServeMux) {
	mux.Handle("GET "+docsPrefix, apidocs.Handler(docsPrefix))
	mux.Handle("GET /docs", http.RedirectHandler(docsPrefix, http.StatusMovedPermanently))
}
