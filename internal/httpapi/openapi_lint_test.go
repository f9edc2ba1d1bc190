package httpapi_test

import (
	"flag"
	"net/http"
	"os"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/usersvc/usersvc/internal/app/apptest"
)

// openAPIOut, when set, is where TestOpenAPILoadsInKinOpenAPI writes the
// served document, for the linters of scripts/openapi-lint.
var openAPIOut = flag.String("openapi-out", "", "write the served OpenAPI document to this file")

// TestOpenAPILoadsInKinOpenAPI: the document as served loads and validates
// in github.com/getkin/kin-openapi, the OpenAPI library Go tools (client
// generators, validating proxies) are built on.
func TestOpenAPILoadsInKinOpenAPI(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.Memory)
	res := s.do(req{method: "GET", path: "/openapi.json"})
	if res.Status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %v", res)
	}
	if *openAPIOut != "" {
		if err := os.WriteFile(*openAPIOut, res.Body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	doc := loadOpenAPI(t, res.Body)
	if len(doc.Servers) == 0 {
		t.Error("the document names no servers")
	}
}

// loadOpenAPI loads and validates a document with kin-openapi.
func loadOpenAPI(t *testing.T, b []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("kin-openapi cannot load the document: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("kin-openapi finds the document invalid: %v", err)
	}
	return doc
}
