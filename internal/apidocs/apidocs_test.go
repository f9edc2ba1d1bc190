package apidocs_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/apidocs"
)

func TestHandlerServesEmbeddedPage(t *testing.T) {
	srv := httptest.NewServer(apidocs.Handler("/docs/"))
	defer srv.Close()
	for _, tt := range []struct{ path, contentType, contains string }{
		{"/docs/", "text/html", `<div id="swagger-ui">`},
		{"/docs/init.js", "javascript", "../openapi.json"},
		{"/docs/swagger-ui-bundle.js", "javascript", "SwaggerUIBundle"},
		{"/docs/swagger-ui.css", "text/css", ".swagger-ui"},
	} {
		res, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", tt.path, res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, tt.contentType) {
			t.Errorf("GET %s: Content-Type %q, want %s", tt.path, ct, tt.contentType)
		}
		if !strings.Contains(string(body), tt.contains) {
			t.Errorf("GET %s: body lacks %q", tt.path, tt.contains)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q, want scripts limited to self", tt.path, csp)
		}
	}
}

func TestPageLoadsNothingFromOutside(t *testing.T) {
	srv := httptest.NewServer(apidocs.Handler("/docs/"))
	defer srv.Close()
	for _, p := range []string{"/docs/", "/docs/init.js"} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") {
			t.Errorf("%s refers to an absolute URL; the page must work offline", p)
		}
	}
}
