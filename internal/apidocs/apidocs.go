// Package apidocs serves the interactive API documentation page: Swagger UI
// (npm swagger-ui-dist 5.35.0, Apache-2.0) embedded in the binary, so the
// page works offline and loads nothing from a CDN. It renders the service's
// /openapi.json.
//
// To update Swagger UI: `npm pack swagger-ui-dist@VERSION`, copy
// swagger-ui-bundle.js, swagger-ui.css, LICENSE and NOTICE into assets/.
package apidocs

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// CSP is the Content-Security-Policy of the docs page: only its own
// scripts, styles (Swagger UI sets inline styles) and images.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the page under prefix (e.g. "/docs/"): prefix itself is
// the page, prefix+"name" its assets.
func Handler(prefix string) http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(prefix, http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", CSP)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
