package oidcop_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
)

// TestDiscoverySaysNoRequestURI: OpenID Connect Discovery 1.0 makes an
// absent request_uri_parameter_supported true, so a relying party reading
// the document was told it may pass its request by reference, which the
// provider ignores (op reads no request_uri). The document says false,
// and nothing else it omits defaults to something the provider lacks.
func TestDiscoverySaysNoRequestURI(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	var m map[string]any
	if err := f.provider.Claims(&m); err != nil {
		t.Fatal(err)
	}
	if v, ok := m["request_uri_parameter_supported"]; !ok || v != false {
		t.Errorf("request_uri_parameter_supported = %v (present: %v), want false: its default is true", v, ok)
	}
	for _, member := range []string{"request_parameter_supported", "claims_parameter_supported", "require_request_uri_registration"} {
		if v, ok := m[member]; ok && v != false {
			t.Errorf("%s = %v, want false or absent (its default, false)", member, v)
		}
	}
}
