package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRefreshGrantLetsOnlyPlainRefreshGrantsPast: what passes a full login
// room is a body with one grant_type, spelt refresh_token; every other
// body counts as a login, and the body is left for the handler to read.
func TestRefreshGrantLetsOnlyPlainRefreshGrantsPast(t *testing.T) {
	for _, tt := range []struct {
		body string
		want bool
	}{
		{"grant_type=refresh_token&refresh_token=abc", true},
		{"refresh_token=abc&grant_type=refresh_token", true},
		{"grant_type=password&username=a&password=b", false},
		{"username=a&password=b", false}, // a password grant by default
		{"grant_type=refresh_token&grant_type=password&username=a&password=b", false},
		{"grant_type=refresh%5Ftoken&refresh_token=abc", false}, // spelt otherwise: a login
		{"grant%5Ftype=refresh_token&refresh_token=abc", false},
		{"grant_type=refresh_tokens&refresh_token=abc", false},
		{"", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/token", strings.NewReader(tt.body))
		if got := refreshGrant(r); got != tt.want {
			t.Errorf("refreshGrant(%q) = %v, want %v", tt.body, got, tt.want)
		}
		if rest, _ := io.ReadAll(r.Body); string(rest) != tt.body && tt.want {
			t.Errorf("refreshGrant(%q) left %q for the handler, want the whole body", tt.body, rest)
		}
	}
}
